//! Sealed payloads in a home: a report's key is made with it and stored beside it, and a
//! peer's batch carrying a clear payload where a sealed one is due is quarantined with its code.

use countersign_ledger::{Entry, Header, Kind, Role, SecretKey};

use super::founded;

#[test]
fn a_peers_clear_payload_in_a_sealed_report_is_quarantined_with_its_code() {
    use countersign_sync::Ledger;
    let dir = tempfile::tempdir().unwrap();
    let mut home = founded(dir.path());
    let bob = SecretKey::from_seed(&[9; 32]);
    home.roster_add(bob.public(), "Dr Bob", Role::Radiologist, false, None)
        .unwrap();
    let report = home.report_new("1.2.3", "ct-chest", &[]).unwrap();
    let network = home.whoami().unwrap().network.unwrap();
    // The key was made with the report and stored beside it, never in the log.
    assert!(home.store().db().report_key(&report).unwrap().is_some());
    // Bob's own home would seal; a hostile one signs the text in clear.
    let clear = br#"{"section":"findings","text":"MARKER in clear"}"#;
    let h = Header::new(
        network,
        report,
        bob.public(),
        1,
        crate::home::now_ms(),
        Kind::SectionWrite,
        vec![report],
        clear,
    );
    let entry = Entry::sign(h, &bob).unwrap();
    drop(home);
    let mut ledger = crate::sync::HomeLedger::open(dir.path()).unwrap();
    let bytes = countersign_ledger::bundle::encode([(&entry, Some(&clear[..]))]);
    let batch = crate::sync::HomeLedger::check(&bytes).unwrap();
    let accepted = ledger.accept(batch, "peer").unwrap();
    assert_eq!((accepted.new, accepted.quarantined), (0, 1));
    let home = super::open_home(dir.path()).unwrap();
    let q = home.quarantine().unwrap();
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].code, "payload_not_sealed", "{q:?}");
    assert!(home.store().db().get(&entry.id()).unwrap().is_none());
    // Written through the app, the same text is sealed and taken.
    let mut home = home;
    home.append_as(&bob, report, "sealed this time").unwrap();
    let view = home.report_show(report).unwrap();
    assert_eq!(
        view.sections
            .iter()
            .find(|s| s.name == "findings")
            .unwrap()
            .text
            .as_deref(),
        Some("sealed this time")
    );
}

#[test]
fn a_batch_carries_the_key_of_each_report_whose_payloads_it_carries() {
    use countersign_sync::Ledger;
    let dir = tempfile::tempdir().unwrap();
    let mut home = founded(dir.path());
    let report = home.report_new("1.2.3", "ct-chest", &[]).unwrap();
    home.report_write(report, "findings", "x").unwrap();
    let key = home.store().db().report_key(&report).unwrap().unwrap();
    let network = home.whoami().unwrap().network.unwrap();
    drop(home);
    let mut ledger = crate::sync::HomeLedger::open(dir.path()).unwrap();
    let (bytes, _) = ledger.entries_after(&report, &vec![], 4000).unwrap();
    let (keys, records) = countersign_ledger::bundle::decode_keyed(&bytes).unwrap();
    assert_eq!(records.len(), 2);
    assert_eq!(keys, vec![(report, key)]);
    // The roster log's batch carries none.
    let (bytes, _) = ledger.entries_after(&network, &vec![], 4000).unwrap();
    let (keys, _) = countersign_ledger::bundle::decode_keyed(&bytes).unwrap();
    assert!(keys.is_empty());
}
