//! Judging a peer's signed checkpoint ("log L has heads H") against what this home holds once
//! it has pulled everything the peer claimed: a claimed head the peer did not serve, or a later
//! claim that does not descend from an earlier one, is a **split view** — the peer showed
//! different histories to different homes. Pure: the caller answers [`History`] from its store.

use std::collections::{HashMap, HashSet, VecDeque};

use countersign_ledger::checkpoint::{Checkpoint, SignedCheckpoint};
use countersign_ledger::split_view::SplitViewEvidence;
use countersign_ledger::{header, EntryId, LogId, PublicKey};

/// What the judgement reads of the home's store.
pub trait History {
    type Error;
    /// Whether an entry is stored.
    fn holds(&self, id: &EntryId) -> Result<bool, Self::Error>;
    /// The header bytes of a stored entry, if stored.
    fn header(&self, id: &EntryId) -> Result<Option<Vec<u8>>, Self::Error>;
}

/// Fork evidence the home holds: logs with a fork, who forked where, and the second entries'
/// headers (by id).
#[derive(Debug, Default, Clone)]
pub struct Forks {
    pub logs: HashSet<LogId>,
    pub by: HashSet<(LogId, PublicKey)>,
    pub evidence: HashMap<EntryId, Vec<u8>>,
}

/// A split view found: the reason in words, and whether the signer's earlier checkpoint is
/// part of the evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitViewFound {
    pub reason: String,
    pub with_earlier: bool,
}

/// Judges the signer's checkpoint `c`, given its `earlier` one. `None`: it stands.
pub fn judge<H: History>(
    history: &H,
    forks: &Forks,
    earlier: Option<&SignedCheckpoint>,
    c: &Checkpoint,
) -> Result<Option<SplitViewFound>, H::Error> {
    // Who equivocated where: their views of that log diverge by definition, and the fork
    // evidence already proves it.
    if forks.by.contains(&(c.log, c.signer)) {
        return Ok(None);
    }
    if let Some(head) = withheld(history, c, forks)? {
        return Ok(Some(SplitViewFound {
            reason: format!(
                "it signed that log {} has head {head}, then did not serve it",
                c.log
            ),
            with_earlier: false,
        }));
    }
    let Some(e) = earlier else {
        return Ok(None);
    };
    diverged(history, forks, e.checkpoint(), c)
}

/// Judges split-view evidence another peer relayed, by the same rule a home applies to the
/// claims it is given itself ([`judge`]'s second half): `None` when the later claim descends
/// from the earlier one, or when the entries needed to tell are not all here (nothing is
/// concluded from what a home lacks; the evidence comes again with the next sync).
pub fn judge_pair<H: History>(
    history: &H,
    forks: &Forks,
    pair: &SplitViewEvidence,
) -> Result<Option<SplitViewFound>, H::Error> {
    let c = pair.later().checkpoint();
    if forks.by.contains(&(c.log, c.signer)) {
        return Ok(None);
    }
    diverged(history, forks, pair.earlier().checkpoint(), c)
}

/// Whether two claims of one signer diverge: the one it dated later does not hold a head of
/// the one it dated earlier in its history (by the signer's own timestamps, so the verdict
/// does not depend on which claim a home happened to receive first; claims dated the same
/// diverge only when neither holds the other's heads).
fn diverged<H: History>(
    history: &H,
    forks: &Forks,
    a: &Checkpoint,
    b: &Checkpoint,
) -> Result<Option<SplitViewFound>, H::Error> {
    let (before, after) = if a.timestamp_ms <= b.timestamp_ms {
        (a, b)
    } else {
        (b, a)
    };
    let Some(head) = strays(history, forks, before, after)? else {
        return Ok(None);
    };
    if before.timestamp_ms == after.timestamp_ms && strays(history, forks, after, before)?.is_none()
    {
        return Ok(None);
    }
    Ok(Some(SplitViewFound {
        reason: format!(
            "its checkpoint of log {} at {} ms does not descend from its checkpoint at {} ms: \
             head {head} is not in its history",
            after.log, after.timestamp_ms, before.timestamp_ms
        ),
        with_earlier: true,
    }))
}

/// A head the checkpoint claims that this home does not hold after pulling from its signer.
/// Logs with fork evidence are left to the fork: entries built on the other side of it are
/// set aside by design.
fn withheld<H: History>(
    history: &H,
    c: &Checkpoint,
    forks: &Forks,
) -> Result<Option<EntryId>, H::Error> {
    if forks.logs.contains(&c.log) {
        return Ok(None);
    }
    for head in &c.heads {
        if !history.holds(head)? && !forks.evidence.contains_key(head) {
            return Ok(Some(*head));
        }
    }
    Ok(None)
}

/// A head of `earlier` that is neither a head of `later` nor in its history: the signer's
/// view went back or sideways. Walks parents (through fork evidence too) from `later`'s heads
/// until every earlier head is found, so a log that only grew costs the entries added since.
/// An entry held neither way can only lie beyond a fork (set aside by design: `withheld`
/// vouches for every other head), and there the history cannot be judged.
fn strays<H: History>(
    history: &H,
    forks: &Forks,
    earlier: &Checkpoint,
    later: &Checkpoint,
) -> Result<Option<EntryId>, H::Error> {
    let mut missing: HashSet<EntryId> = earlier.heads.iter().copied().collect();
    let mut queue: VecDeque<EntryId> = later.heads.iter().copied().collect();
    let mut seen: HashSet<EntryId> = queue.iter().copied().collect();
    let mut keys: HashMap<[u8; 32], PublicKey> = HashMap::new();
    while let Some(id) = queue.pop_front() {
        missing.remove(&id);
        if missing.is_empty() {
            return Ok(None);
        }
        let Some(header_bytes) = history
            .header(&id)?
            .or_else(|| forks.evidence.get(&id).cloned())
        else {
            return Ok(None);
        };
        if let Some(a) = header::author_bytes(&header_bytes) {
            if let (std::collections::hash_map::Entry::Vacant(v), Ok(k)) =
                (keys.entry(a), PublicKey::from_bytes(&a))
            {
                v.insert(k);
            }
        }
        // A stored header decodes (it was checked when stored); one that does not ends the
        // walk here, and `verify` reports the damage.
        let Ok(h) = header::decode_with_keys(&header_bytes, |k| keys.get(k).copied()) else {
            return Ok(None);
        };
        for p in h.parents {
            if seen.insert(p) {
                queue.push_back(p);
            }
        }
    }
    Ok(missing.into_iter().min())
}

#[cfg(test)]
mod tests {
    use super::*;
    use countersign_ledger::{Entry, Hash, Header, Kind, SecretKey};

    struct Held(HashMap<EntryId, Vec<u8>>);

    impl History for Held {
        type Error = std::convert::Infallible;
        fn holds(&self, id: &EntryId) -> Result<bool, Self::Error> {
            Ok(self.0.contains_key(id))
        }
        fn header(&self, id: &EntryId) -> Result<Option<Vec<u8>>, Self::Error> {
            Ok(self.0.get(id).cloned())
        }
    }

    fn chain(n: u64) -> (Vec<Entry>, SecretKey) {
        let key = SecretKey::from_seed(&[5; 32]);
        let mut out: Vec<Entry> = Vec::new();
        for seq in 1..=n {
            let parents = out.last().map(|e| vec![e.id()]).unwrap_or_default();
            let (log, kind) = match out.first() {
                Some(g) => (g.id(), Kind::SectionWrite),
                None => (Hash::ZERO, Kind::ReportCreate),
            };
            let h = Header::new(
                Hash([1; 32]),
                log,
                key.public(),
                seq,
                seq,
                kind,
                parents,
                b"{}",
            );
            out.push(Entry::sign(h, &key).unwrap());
        }
        (out, key)
    }

    fn claim(key: &SecretKey, log: LogId, at: u64, heads: Vec<EntryId>) -> SignedCheckpoint {
        Checkpoint::new(
            Hash([1; 32]),
            log,
            key.public(),
            at,
            heads.len() as u64,
            heads,
        )
        .unwrap()
        .sign(key)
    }

    #[test]
    fn a_claimed_head_not_served_and_a_claim_that_went_back_are_split_views() {
        let (entries, key) = chain(4);
        let log = entries[0].id();
        let held = Held(
            entries
                .iter()
                .map(|e| (e.id(), e.header_bytes().to_vec()))
                .collect(),
        );
        let forks = Forks::default();
        let grew = claim(&key, log, 2, vec![entries[3].id()]);
        let earlier = claim(&key, log, 1, vec![entries[1].id()]);
        assert_eq!(
            judge(&held, &forks, Some(&earlier), grew.checkpoint()),
            Ok(None)
        );
        let unserved = claim(&key, log, 3, vec![Hash([9; 32])]);
        let found = judge(&held, &forks, None, unserved.checkpoint())
            .unwrap()
            .unwrap();
        assert!(found.reason.contains("did not serve") && !found.with_earlier);
        let back = claim(&key, log, 4, vec![entries[1].id()]);
        let found = judge(&held, &forks, Some(&grew), back.checkpoint())
            .unwrap()
            .unwrap();
        assert!(found.reason.contains("does not descend") && found.with_earlier);
    }

    #[test]
    fn relayed_evidence_is_judged_by_the_signers_dates_not_by_arrival() {
        let (entries, key) = chain(4);
        let log = entries[0].id();
        let all = |n: usize| {
            Held(
                entries[..n]
                    .iter()
                    .map(|e| (e.id(), e.header_bytes().to_vec()))
                    .collect(),
            )
        };
        let forks = Forks::default();
        let grew = claim(&key, log, 2, vec![entries[3].id()]);
        let back = claim(&key, log, 4, vec![entries[1].id()]);
        // Either order of receipt makes the same pair, and a home holding the entries finds it.
        let pair = SplitViewEvidence::new(back.clone(), grew.clone()).unwrap();
        let found = judge_pair(&all(4), &forks, &pair).unwrap().unwrap();
        assert!(
            found.reason.contains("does not descend"),
            "{}",
            found.reason
        );
        // A home that receives the newer claim first judges the two claims the same way.
        let found = judge(&all(4), &forks, Some(&back), grew.checkpoint()).unwrap();
        assert!(found.is_some());
        // An honest log that grew is no evidence, whichever claim came first.
        let earlier = claim(&key, log, 1, vec![entries[1].id()]);
        let honest = SplitViewEvidence::new(grew.clone(), earlier.clone()).unwrap();
        assert_eq!(judge_pair(&all(4), &forks, &honest), Ok(None));
        assert_eq!(
            judge(&all(4), &forks, Some(&grew), earlier.checkpoint()),
            Ok(None)
        );
        // A home lacking the entries to tell concludes nothing.
        let lacking = Held(
            [&entries[3]]
                .iter()
                .map(|e| (e.id(), e.header_bytes().to_vec()))
                .collect(),
        );
        assert_eq!(judge_pair(&lacking, &forks, &pair), Ok(None));
        // The signer's fork already proves it: no second verdict.
        let mut forked = Forks::default();
        forked.by.insert((log, key.public()));
        assert_eq!(judge_pair(&all(4), &forked, &pair), Ok(None));
        // Two claims dated the same ms diverge only when neither holds the other's heads.
        let same = claim(&key, log, 9, vec![entries[1].id()]);
        let same_later = claim(&key, log, 9, vec![entries[3].id()]);
        let tie = SplitViewEvidence::new(same, same_later).unwrap();
        assert_eq!(judge_pair(&all(4), &forks, &tie), Ok(None));
    }
}
