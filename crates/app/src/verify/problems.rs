//! What `verify` finds beside the rule replay: fork evidence checked again, split views (two
//! signed claims of one peer that cannot both be true), heads peers vouched for that are no
//! longer here (a deletion or a rollback), and an invitation whose signer is not an admin.

use countersign_ledger::{Entry, ForkEvidence, Hash, LogId, PublicKey};
use countersign_store::{Db, ForkRow};

use super::hex_or_raw;
use crate::bundle::Problem;
use crate::error::{AppError, Result};
use crate::state::{decode_row, LedgerState};

/// Lists each piece of fork evidence in scope as a problem, the pair checked again (the second
/// entry against the first, stored): how many.
pub(super) fn fork_problems(
    db: &Db<'_>,
    only: Option<LogId>,
    forks: Vec<ForkRow>,
    problems: &mut Vec<Problem>,
) -> u64 {
    let mut fork_count = 0;
    for fork in forks {
        let in_scope = only.is_none_or(|l| fork.log == l.as_bytes());
        if !in_scope {
            continue;
        }
        fork_count += 1;
        let first = Hash::from_slice(&fork.first).and_then(|id| db.get(&id).ok().flatten());
        let evidence = first
            .ok_or_else(|| "first entry of the fork is missing".to_string())
            .and_then(|row| {
                let sig: [u8; 64] = fork
                    .second_signature
                    .as_slice()
                    .try_into()
                    .map_err(|_| "bad signature length".to_string())?;
                let second = Entry::decode_unverified(&fork.second_header, &sig)
                    .map_err(|e| e.to_string())?;
                let first = decode_row(&row)?;
                ForkEvidence::new(first, second).map_err(|e| e.to_string())
            });
        let problem = match evidence {
            // The pair in id order: which side a home happened to store first must not show.
            Ok(ev) => format!(
                "fork: author {} signed two different entries ({} and {}) at sequence {} of log {}",
                ev.first.header().author,
                ev.first.id().min(ev.second.id()),
                ev.first.id().max(ev.second.id()),
                ev.first.header().seq,
                ev.first.log_id()
            ),
            Err(reason) => format!("fork evidence does not check out: {reason}"),
        };
        let pair = [hex_or_raw(&fork.first), hex_or_raw(&fork.second)];
        problems.push(Problem {
            entry: pair.iter().max().cloned().unwrap_or_default(),
            code: Some("fork".into()),
            problem,
        });
    }
    fork_count
}

/// Holds the store to the checkpoints peers signed: a hash chain cannot see a missing tail,
/// but a head a peer vouched for (and this home held when it kept the claim) that is no
/// longer here is a deletion or a rollback. Claims that do not verify are skipped: only a
/// peer's signed word is evidence.
pub(super) fn rollback_problems(
    db: &Db<'_>,
    only: Option<LogId>,
    problems: &mut Vec<Problem>,
) -> Result<u64> {
    use countersign_ledger::checkpoint::SignedCheckpoint;
    let mut count = 0;
    db.for_each_checkpoint(only.as_ref(), |log, signer, bytes| {
        let Ok(signed) = SignedCheckpoint::decode(bytes) else {
            return Ok(());
        };
        let c = signed.checkpoint();
        if c.log.as_bytes() != log || c.signer.as_bytes() != signer {
            return Ok(());
        }
        for head in &c.heads {
            let here = db.contains(head)?
                || db.fork_evidence(head)?.is_some()
                || db.quarantined(&[*head])?.first().copied().unwrap_or(false);
            if !here {
                count += 1;
                problems.push(Problem {
                    entry: head.to_hex(),
                    code: Some("rolled_back".into()),
                    problem: format!(
                        "{} signed at {} ms that log {} had head {head}; it is not in this home \
                         (deleted, or the store was rolled back); its signed checkpoint is kept \
                         as evidence: {}",
                        c.signer,
                        c.timestamp_ms,
                        c.log,
                        hex::encode(bytes)
                    ),
                });
            }
        }
        Ok(())
    })?;
    Ok(count)
}

/// The invitation this home joined by, held to the roster that has arrived since: its signer
/// must be one of the network's admins ([`countersign_report::accept::trust::check_inviter`]).
/// Nothing to say before the roster is here, or for a home that founded its network.
pub(super) fn inviter_problem(db: &Db<'_>, state: &LedgerState) -> Result<Option<Problem>> {
    let Some(hex) = db.meta(crate::join::INVITED_BY)? else {
        return Ok(None);
    };
    let Ok(network) = state.network() else {
        return Ok(None);
    };
    let inviter: PublicKey = hex.parse().map_err(|_| {
        AppError::InvalidInput("the key of the invitation's signer is damaged".into())
    })?;
    Ok(
        countersign_report::accept::trust::check_inviter(state.roster(), &inviter)
            .err()
            .map(|e| Problem {
                entry: network.to_hex(),
                code: Some(e.code().to_string()),
                problem: e.to_string(),
            }),
    )
}

/// Lists split-view evidence as problems, each signed checkpoint checked again (the evidence
/// is only as good as its signatures).
pub(super) fn split_view_problems(
    db: &Db<'_>,
    only: Option<LogId>,
    problems: &mut Vec<Problem>,
) -> Result<u64> {
    use countersign_ledger::checkpoint::SignedCheckpoint;
    let mut count = 0;
    for v in db.split_views()? {
        if only.is_some_and(|l| v.log != l.as_bytes()) {
            continue;
        }
        count += 1;
        let signed = [Some(&v.later), v.earlier.as_ref()]
            .into_iter()
            .flatten()
            .map(|b| SignedCheckpoint::decode(b))
            .collect::<std::result::Result<Vec<_>, _>>();
        let problem = match signed {
            Ok(_) => format!("split view by {}: {}", hex_or_raw(&v.signer), v.reason),
            Err(e) => format!("split-view evidence does not check out: {e}"),
        };
        problems.push(Problem {
            entry: hex_or_raw(&v.log),
            code: Some("split_view".into()),
            problem,
        });
    }
    Ok(count)
}
