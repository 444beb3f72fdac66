//! Quarantine: entries a peer sent that this home refuses by a rule (a member it knows is
//! revoked, say) or that wait for something not here yet (a parent, an admission). They are
//! kept aside with their reason instead of refusing the peer's whole batch, so the rest of the
//! log keeps flowing and nobody honest is cut off; `verify` and `sync status` list them.
//! Waiting entries are tried again after every batch that stores something.

use countersign_ledger::Entry;
use countersign_store::Db;
use serde::Serialize;

use crate::bundle::causal_order;
use crate::error::{Rejection, Result};
use crate::home::{now_ms, Home};
use crate::state::{LedgerState, Verdict};

/// Quarantined entries a home keeps, at most: in all, from one peer, by one author.
pub use countersign_store::{MAX_QUARANTINE, MAX_QUARANTINE_PER_AUTHOR, MAX_QUARANTINE_PER_PEER};

/// Waiting entries tried again after a batch, at most.
const RETRY_AT_ONCE: usize = 4096;

/// A quarantined entry as `verify` and `sync status` show it (no payload, no text: ids,
/// the rule and its reason).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Quarantined {
    pub entry: String,
    pub log: String,
    pub author: String,
    pub seq: i64,
    pub kind: String,
    pub code: String,
    pub reason: String,
    /// It waits for something it depends on, and is tried again as entries arrive.
    pub waiting: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
    pub received_ms: i64,
}

/// Keeps `entry` in quarantine. A full quarantine keeps nothing more (logged): the peer offers
/// the entry again on a later reconcile.
pub(crate) fn keep(
    db: &Db<'_>,
    entry: &Entry,
    payload: Option<&[u8]>,
    why: &Rejection,
    waiting: bool,
    peer: &str,
) -> Result<()> {
    // Ids and the rule's code only: a rule's message can quote a field value.
    tracing::info!(entry = %entry.id(), rule = why.code(), waiting, "entry quarantined");
    let now = now_ms();
    let kept = db.quarantine(
        entry,
        payload,
        why.code(),
        &reason(why),
        waiting,
        Some(peer),
        now,
    )?;
    if let Some(bound) = kept.code() {
        // Debug per entry (a flood past a quota is thousands); `sync status` counts them.
        tracing::debug!(entry = %entry.id(), bound, "quarantine bound reached: entry not kept");
        if note_refused(db, peer, bound, now)? {
            tracing::warn!(
                peer,
                bound,
                "quarantine bound reached: entries from this peer are not kept (it offers them again later)"
            );
        }
    }
    Ok(())
}

/// The reason a quarantined entry is kept with, as `verify` and `sync status` show it: words
/// that name no value the entry holds. A report rule's message can quote one (a field's value,
/// a section or study, a payload's decoding error quoting its text), and the row outlives an
/// erasure of the report: those are kept as their code only, the form a log gives them
/// ([`crate::AppError::loggable`]; found by review, 2026-12-05). The ledger's structural and
/// authority rules name ids, numbers, roles and kinds only, and say what an entry waits for.
fn reason(why: &Rejection) -> String {
    use countersign_ledger::RuleError as R;
    match why {
        Rejection::Rule(
            R::PayloadLength { .. }
            | R::PayloadHash { .. }
            | R::WrongNetwork { .. }
            | R::GenesisWithLog
            | R::GenesisWithParents
            | R::GenesisSeq { .. }
            | R::GenesisWithNetwork
            | R::NoParents
            | R::UnknownParent { .. }
            | R::ParentInOtherLog { .. }
            | R::WrongLogFamily { .. }
            | R::ChainBroken { .. }
            | R::TooManyAuthors { .. }
            | R::TimestampBeforeParent { .. }
            | R::Authority(_),
        )
        | Rejection::Report(
            countersign_report::ReportRuleError::Authority(_)
            | countersign_report::ReportRuleError::AiModelMismatch { .. }
            | countersign_report::ReportRuleError::ReportErased { .. },
        )
        | Rejection::PayloadMissing
        | Rejection::UnknownLog { .. }
        | Rejection::NoNetwork => why.to_string(),
        _ => crate::AppError::from(why.clone()).loggable(),
    }
}

/// Where a home counts, per peer, the entries its quarantine did not keep for a bound (one
/// line a peer: peer, entries, the last bound's code, when): `sync status` shows them.
const REFUSED_META: &str = "sync.quarantine_refused";
/// Peers whose refused entries are counted, at most; past it the least recently refused is
/// forgotten.
pub const MAX_REFUSED_PEERS: usize = 256;

/// Entries from one peer the quarantine did not keep because a bound was reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuarantineRefused {
    pub peer: String,
    /// Entries not kept, in all.
    pub entries: u64,
    /// The bound that refused the latest: `peer_quota`, `author_quota`, `quarantine_full` or
    /// `quarantine_payload_full`.
    pub bound: String,
    pub last_ms: u64,
}

fn refusals(db: &Db<'_>) -> Result<Vec<QuarantineRefused>> {
    Ok(db
        .meta(REFUSED_META)?
        .unwrap_or_default()
        .lines()
        .filter_map(|line| {
            let mut f = line.split('\t');
            Some(QuarantineRefused {
                peer: f.next()?.to_string(),
                entries: f.next()?.parse().ok()?,
                bound: f.next()?.to_string(),
                last_ms: f.next()?.parse().ok()?,
            })
        })
        .collect())
}

/// Counts one entry from `peer` not kept for `bound`; `true` when it is the first of a spell
/// (the first from that peer, or the first for another bound), which is logged.
fn note_refused(db: &Db<'_>, peer: &str, bound: &str, now: u64) -> Result<bool> {
    let mut all = refusals(db)?;
    let first = match all.iter_mut().find(|r| r.peer == peer) {
        Some(r) => {
            // Logged again for another bound, or after an hour without one.
            let first = r.bound != bound || now.saturating_sub(r.last_ms) > 3_600_000;
            r.entries += 1;
            r.bound = bound.to_string();
            r.last_ms = now;
            first
        }
        None => {
            if all.len() >= MAX_REFUSED_PEERS {
                if let Some(oldest) = (0..all.len()).min_by_key(|&i| all[i].last_ms) {
                    all.remove(oldest);
                }
            }
            all.push(QuarantineRefused {
                peer: peer.to_string(),
                entries: 1,
                bound: bound.to_string(),
                last_ms: now,
            });
            true
        }
    };
    // Peer ids and codes hold no tab or newline: one line each.
    let text: Vec<String> = all
        .iter()
        .map(|r| format!("{}\t{}\t{}\t{}", r.peer, r.entries, r.bound, r.last_ms))
        .collect();
    db.set_meta(REFUSED_META, &text.join("\n"))?;
    Ok(first)
}

/// Tries the waiting entries again, in causal order; those accepted now leave quarantine,
/// those a rule refuses now stay as refused. Returns how many were stored.
pub(crate) fn release_waiting(db: &Db<'_>, state: &mut LedgerState) -> Result<u64> {
    let rows = db.quarantine_rows(true, true, RETRY_AT_ONCE)?;
    if rows.is_empty() {
        return Ok(0);
    }
    let mut pending: Vec<Box<(Entry, Option<Vec<u8>>)>> = Vec::new();
    for row in rows {
        let signature: Option<[u8; 64]> = row.signature.as_slice().try_into().ok();
        match signature.map(|sig| Entry::from_parts(&row.header, &sig)) {
            Some(Ok(entry)) => pending.push(Box::new((entry, row.payload))),
            _ => db.unquarantine(&row.id)?,
        }
    }
    let now = now_ms();
    let mut released = 0;
    let mut pending = causal_order(pending);
    loop {
        let before = pending.len();
        let mut waiting = Vec::new();
        for item in pending {
            let (entry, payload) = &*item;
            let id = entry.id();
            if !entry.header().kind.is_genesis() {
                state.load_log(db, &entry.log_id())?;
            }
            match state.ledger.accept_unjudged(entry, payload.as_deref(), now) {
                Ok(Verdict::New(())) => {
                    db.insert_entry(entry, payload.as_deref())?;
                    if entry.header().kind == countersign_ledger::Kind::NetworkGenesis {
                        db.set_meta("network", &id.to_hex())?;
                    }
                    db.unquarantine(id.as_bytes())?;
                    released += 1;
                }
                Ok(Verdict::Fork { first }) => {
                    db.insert_fork(&first, entry, payload.as_deref())?;
                    db.unquarantine(id.as_bytes())?;
                }
                Ok(Verdict::Duplicate) => db.unquarantine(id.as_bytes())?,
                // Dated ahead after all: the held table takes it from here.
                Ok(Verdict::Held { until_ms }) => {
                    if db.insert_held(entry, payload.as_deref(), until_ms)? {
                        db.unquarantine(id.as_bytes())?;
                    }
                }
                Err(e) if e.waits_for_dependency() => waiting.push(item),
                Err(e) => {
                    db.quarantine(entry, None, e.code(), &reason(&e), false, None, now)?;
                }
            }
        }
        if waiting.is_empty() || waiting.len() == before {
            break;
        }
        pending = waiting;
    }
    if released > 0 {
        tracing::info!(
            released,
            "quarantined entries accepted now that what they waited for is here"
        );
    }
    Ok(released)
}

impl Home {
    /// Per peer, the entries the quarantine did not keep because a bound was reached.
    pub fn quarantine_refused(&self) -> Result<Vec<QuarantineRefused>> {
        refusals(&self.store().db())
    }

    /// Every quarantined entry (at most the quarantine's bound), oldest first.
    pub fn quarantine(&self) -> Result<Vec<Quarantined>> {
        let rows = self.store().db().quarantine_rows(
            false,
            false,
            countersign_store::MAX_QUARANTINE as usize,
        )?;
        Ok(rows
            .into_iter()
            .map(|r| Quarantined {
                entry: hex(&r.id),
                log: hex(&r.log),
                author: hex(&r.author),
                seq: r.seq,
                kind: r.kind,
                code: r.code,
                reason: r.reason,
                waiting: r.waiting,
                peer: r.peer,
                received_ms: r.received_ms,
            })
            .collect())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use countersign_ledger::{Entry, Hash, Header, Kind, SecretKey};

    use super::*;
    use crate::error::AppError;

    /// An entry of one report by key `author`, at `seq`: what it says does not matter, only
    /// who signed it and where it came from.
    fn entry(author: u8, seq: u64) -> Entry {
        let key = SecretKey::from_seed(&[author; 32]);
        let h = Header::new(
            Hash::of(b"network"),
            Hash::of(b"a report not here"),
            key.public(),
            seq,
            1_000 + seq,
            Kind::SectionWrite,
            vec![Hash::of(&seq.to_be_bytes())],
            b"{}",
        );
        Entry::sign(h, &key).unwrap()
    }

    fn keep_all(home: &mut Home, entries: &[Entry], peer: &str) {
        let why = Rejection::UnknownLog {
            log: Hash::of(b"a report not here"),
        };
        home.store_mut()
            .write(|db| {
                for e in entries {
                    keep(db, e, None, &why, false, peer)?;
                }
                Ok::<_, AppError>(())
            })
            .unwrap();
    }

    fn kept_from(home: &Home, peer: &str) -> usize {
        home.quarantine()
            .unwrap()
            .iter()
            .filter(|q| q.peer.as_deref() == Some(peer))
            .count()
    }

    /// Issue 16, S1: what a peer sent for a sealed report and this home keeps aside — an
    /// entry waiting for a parent not here (quarantined with its payload), one dated ahead
    /// (held with its payload) — loses its payload when the report is erased: no row of the
    /// erased report's log keeps content, only the headers and signatures the evidence needs.
    #[test]
    fn erasing_a_report_drops_the_payloads_of_its_quarantined_and_held_entries() {
        let (_dir, mut home, report, payloads, take_in) = a_report_and_two_entries_kept_aside();
        take_in(&mut home);
        assert_eq!(payloads(&home), (1, 1), "kept aside with their payloads");
        home.erase(&crate::DataSubject::Report(report), "GDPR Art. 17(1)(a)")
            .unwrap();
        assert_eq!(payloads(&home), (0, 0), "the erasure left a payload aside");
        // The rows stay, as evidence: who sent what kind of entry when.
        assert_eq!(home.quarantine().unwrap().len(), 1);
        assert_eq!(home.store().db().held_due(u64::MAX, 16).unwrap().len(), 1);
    }

    /// Found by review (2026-12-05): the same two entries arriving from a peer *after* the
    /// erasure (its member wrote them before hearing of it) were kept aside with their
    /// payloads: the erasure's clean-up had run, and only the entries table refused an erased
    /// log's content. Fails if the held or the quarantine table keeps one.
    #[test]
    fn an_erased_reports_entries_arriving_later_are_kept_aside_without_content() {
        let (_dir, mut home, report, payloads, take_in) = a_report_and_two_entries_kept_aside();
        home.erase(&crate::DataSubject::Report(report), "GDPR Art. 17(1)(a)")
            .unwrap();
        take_in(&mut home);
        assert_eq!(
            payloads(&home),
            (0, 0),
            "content of an erased report kept aside"
        );
        assert_eq!(home.quarantine().unwrap().len(), 1);
        assert_eq!(home.store().db().held_due(u64::MAX, 16).unwrap().len(), 1);
    }

    /// Found by review (2026-12-05): a quarantined entry's reason was the rule's message, which
    /// quotes a field's value; the erasure of its report dropped the payload but kept the
    /// reason, and `verify` and `sync status` went on showing the value. Fails if the reason
    /// quotes it, or if any file of the home holds it once the report is erased.
    #[test]
    fn a_quarantined_entry_keeps_no_value_in_its_reason_before_or_after_an_erasure() {
        use countersign_ledger::Role;
        use countersign_report::payload::seal;
        const MARKER: &str = "QUARANTINE-MARKER-4e2a mm";
        let dir = tempfile::tempdir().unwrap();
        let mut home = crate::tests::founded(dir.path());
        let bob = SecretKey::from_seed(&[9; 32]);
        home.roster_add(bob.public(), "Dr Bob", Role::Attending, false, None)
            .unwrap();
        let network = home.whoami().unwrap().network.unwrap();
        let report = home.report_new("1.2.3", "ct-chest", &[]).unwrap();
        let key = home.store().db().report_key(&report).unwrap().unwrap();
        // Field values given as words where a map of them is expected: refused as malformed,
        // in the parser's words, which quote them.
        let plain = format!(r#"{{"section":"findings","text":"x","fields":"{MARKER}"}}"#);
        let bytes = seal::seal(
            &key,
            &[3; seal::NONCE_LEN],
            Kind::SectionWrite,
            Some(&report),
            plain.as_bytes(),
        );
        let h = Header::new(
            network,
            report,
            bob.public(),
            1,
            now_ms(),
            Kind::SectionWrite,
            vec![report],
            &bytes,
        );
        let write = Entry::sign(h, &bob).unwrap();
        let batch = countersign_ledger::bundle::encode([(&write, Some(&bytes[..]))]);
        let batch = crate::bundle::Authenticated::from_bundle(&batch).unwrap();
        let mut pending = crate::bundle::Pending::default();
        home.import_from_peer(batch, "peer", &mut pending).unwrap();
        let kept = home.quarantine().unwrap();
        assert_eq!(kept.len(), 1, "{kept:?}");
        assert_eq!(kept[0].code, "bad_payload");
        assert!(!kept[0].reason.contains(MARKER), "{}", kept[0].reason);
        let on_disk = |home: &Home| {
            crate::tests::every_file(home.dir()).into_iter().any(|f| {
                let bytes = std::fs::read(&f).unwrap_or_default();
                bytes.windows(MARKER.len()).any(|w| w == MARKER.as_bytes())
            })
        };
        assert!(!on_disk(&home), "the value is in a file of the home");
        home.erase(&crate::DataSubject::Report(report), "GDPR Art. 17(1)(a)")
            .unwrap();
        assert!(!on_disk(&home), "the erasure left the value in a file");
        let kept = home.quarantine().unwrap();
        assert_eq!(kept[0].reason, "refused by rule bad_payload");
    }

    /// Payloads kept aside in a home: (quarantined, held).
    type Aside = fn(&Home) -> (usize, usize);

    /// A home with a sealed report, and a peer's batch for it that this home keeps aside: one
    /// entry waiting for a parent that never comes (quarantined once the pull ends), one
    /// dated a day ahead (held). Returns the home's folder, the home, the report, a count of
    /// the payloads kept aside and what takes the batch in.
    fn a_report_and_two_entries_kept_aside() -> (
        tempfile::TempDir,
        Home,
        countersign_ledger::EntryId,
        Aside,
        impl FnOnce(&mut Home),
    ) {
        use countersign_ledger::Role;
        use countersign_report::payload::seal;
        let dir = tempfile::tempdir().unwrap();
        let mut home = crate::tests::open_home(dir.path()).unwrap();
        home.init("Dr Ada", Role::Attending, Some("Radiology"), None)
            .unwrap();
        let bob = SecretKey::from_seed(&[9; 32]);
        home.roster_add(bob.public(), "Dr Bob", Role::Attending, false, None)
            .unwrap();
        let network = home.whoami().unwrap().network.unwrap();
        let report = home.report_new("1.2.3", "ct-chest", &[]).unwrap();
        let key = home.store().db().report_key(&report).unwrap().unwrap();
        let plain = br#"{"section":"findings","text":"kept aside"}"#;
        let now = now_ms();
        let signed = |seq: u64, ts: u64, parent: Hash, nonce: u8| {
            let bytes = seal::seal(
                &key,
                &[nonce; seal::NONCE_LEN],
                Kind::SectionWrite,
                Some(&report),
                plain,
            );
            let h = Header::new(
                network,
                report,
                bob.public(),
                seq,
                ts,
                Kind::SectionWrite,
                vec![parent],
                &bytes,
            );
            (Entry::sign(h, &bob).unwrap(), bytes)
        };
        // Waiting for a parent that never comes; dated a day ahead.
        let (waiting, waiting_bytes) = signed(2, now, Hash([7; 32]), 1);
        let (ahead, ahead_bytes) = signed(1, now + 24 * 3600 * 1000, report, 2);
        let batch = countersign_ledger::bundle::encode([
            (&waiting, Some(&waiting_bytes[..])),
            (&ahead, Some(&ahead_bytes[..])),
        ]);
        let take_in = move |home: &mut Home| {
            let mut pending = crate::bundle::Pending::default();
            let batch = crate::bundle::Authenticated::from_bundle(&batch).unwrap();
            let got = home.import_from_peer(batch, "peer", &mut pending).unwrap();
            assert_eq!(got.held.len(), 1, "{got:?}");
            // The pull ends with the parent still missing: it waits in the quarantine.
            assert_eq!(home.quarantine_pending(&mut pending, "peer").unwrap(), 1);
        };
        let payloads: Aside = |home| {
            let db = home.store().db();
            let quarantined = db
                .quarantine_rows(false, true, 16)
                .unwrap()
                .into_iter()
                .filter_map(|r| r.payload)
                .count();
            let held = db
                .held_due(u64::MAX, 16)
                .unwrap()
                .into_iter()
                .filter_map(|r| r.payload)
                .count();
            (quarantined, held)
        };
        (dir, home, report, payloads, take_in)
    }

    #[test]
    fn one_peer_fills_only_its_quarantine_quota_and_another_peers_entry_is_still_kept() {
        let dir = tempfile::tempdir().unwrap();
        let mut home = crate::tests::open_home(dir.path()).unwrap();
        // Fifty more than its quota, by four authors (each well within an author's quota).
        let flood: Vec<Entry> = (0..MAX_QUARANTINE_PER_PEER + 50)
            .map(|i| entry(1 + (i % 4) as u8, i / 4 + 1))
            .collect();
        keep_all(&mut home, &flood, "mallory");
        assert_eq!(kept_from(&home, "mallory") as u64, MAX_QUARANTINE_PER_PEER);
        // Another peer's refused entry is kept beside them.
        let honest = entry(9, 1);
        keep_all(&mut home, std::slice::from_ref(&honest), "honest");
        assert_eq!(kept_from(&home, "honest"), 1);
        assert!(home
            .quarantine()
            .unwrap()
            .iter()
            .any(|q| q.entry == honest.id().to_hex() && q.code == "unknown_log"));
        // `sync status` counts what the quota refused, per peer.
        let status = home.sync_status().unwrap();
        assert_eq!(status.quarantine_refused.len(), 1, "{status:?}");
        let refused = &status.quarantine_refused[0];
        assert_eq!(
            (
                refused.peer.as_str(),
                refused.entries,
                refused.bound.as_str()
            ),
            ("mallory", 50, "peer_quota")
        );
        // An entry already kept is judged again in place, whatever the quota (it takes no
        // more room), and still counts as mallory's.
        keep_all(&mut home, &flood[..1], "mallory");
        assert_eq!(kept_from(&home, "mallory") as u64, MAX_QUARANTINE_PER_PEER);
        assert_eq!(home.quarantine_refused().unwrap()[0].entries, 50);
    }

    #[test]
    fn one_key_fills_only_its_quarantine_quota_whichever_peers_relay_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut home = crate::tests::open_home(dir.path()).unwrap();
        // One key's entries, relayed by three peers, 1 200 in all.
        let by_one_key: Vec<Entry> = (1..=1200).map(|seq| entry(7, seq)).collect();
        for (i, part) in by_one_key.chunks(400).enumerate() {
            keep_all(&mut home, part, &format!("relay {i}"));
        }
        let kept = home.quarantine().unwrap();
        assert_eq!(kept.len() as u64, MAX_QUARANTINE_PER_AUTHOR);
        // The relays are not held to it beyond that key: another author's entry from the
        // last relay is kept.
        keep_all(&mut home, &[entry(8, 1)], "relay 2");
        assert_eq!(
            home.quarantine().unwrap().len() as u64,
            MAX_QUARANTINE_PER_AUTHOR + 1
        );
        let refused = home.quarantine_refused().unwrap();
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert_eq!(
            (
                refused[0].peer.as_str(),
                refused[0].entries,
                refused[0].bound.as_str()
            ),
            ("relay 2", 200, "author_quota")
        );
    }
}
