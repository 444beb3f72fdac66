//! What a peer is served from a home: batches cut by bytes so a large payload always fits a
//! message, and what it lacks of each author in arrival order.

use countersign_ledger::Role;

use super::founded;

#[test]
fn sync_batches_are_cut_by_bytes_so_large_payloads_always_fit_a_message() {
    use countersign_sync::Ledger;
    let dir = tempfile::tempdir().unwrap();
    let mut home = founded(dir.path());
    let report = home.report_new("1.2.3", "ct-chest", &[]).unwrap();
    // Sections carry at most 64 KiB of text: 80 versions of 60 KiB are more than one 4 MiB
    // batch holds.
    let big = "x".repeat(60 * 1024);
    let writes = 80u64;
    for i in 0..writes {
        let section = ["technique", "findings", "impression"][i as usize % 3];
        home.report_write(report, section, &format!("{i} {big}"))
            .unwrap();
    }
    drop(home);
    let mut ledger =
        crate::sync::HomeLedger::new(crate::tests::open_home(dir.path()).unwrap()).unwrap();
    let (bytes, more) = ledger.entries_after(&report, &vec![], 4000).unwrap();
    let first = countersign_ledger::bundle::decode(&bytes).unwrap().len() as u64;
    // Cut by bytes, well under the 4000 entries asked for.
    assert!(more);
    assert!(1 < first && first < 1 + writes, "{first}");
    assert!(bytes.len() <= countersign_sync::protocol::MAX_BATCH_BYTES);
    // Asking again from there yields the rest.
    let key = ledger.vector(&report).unwrap()[0].0;
    let (bytes, more) = ledger
        .entries_after(&report, &vec![(key, first)], 4000)
        .unwrap();
    let rest = countersign_ledger::bundle::decode(&bytes).unwrap().len() as u64;
    assert_eq!(first + rest, 1 + writes);
    assert!(!more);
}

#[test]
fn a_peer_is_sent_what_it_lacks_of_each_author_in_arrival_order() {
    use countersign_sync::Ledger;
    let dir = tempfile::tempdir().unwrap();
    let mut home = founded(dir.path());
    let bob = countersign_ledger::SecretKey::from_seed(&[9; 32]);
    home.roster_add(bob.public(), "Dr Bob", Role::Radiologist, false, None)
        .unwrap();
    let report = home.report_new("1.2.3", "ct-chest", &[]).unwrap();
    let ada = home.whoami().unwrap().key;
    // Ada: create (1) + 2 writes; Bob: 2 writes; interleaved.
    let mut order = vec![report];
    for i in 0..2 {
        order.push(
            home.report_write(report, "findings", &format!("ada {i}"))
                .unwrap(),
        );
        order.push(home.append_as(&bob, report, &format!("bob {i}")).unwrap());
    }
    drop(home);
    let mut ledger =
        crate::sync::HomeLedger::new(crate::tests::open_home(dir.path()).unwrap()).unwrap();
    let ids = |bytes: &[u8]| -> Vec<countersign_ledger::EntryId> {
        countersign_ledger::bundle::decode(bytes)
            .unwrap()
            .iter()
            .map(|r| countersign_ledger::Hash::of(&r.header))
            .collect()
    };
    // The peer has Ada's first two entries and none of Bob's: it lacks [bob 0, ada 1, bob 1].
    let have = vec![(ada, 2)];
    let (bytes, more) = ledger.entries_after(&report, &have, 2).unwrap();
    assert_eq!(ids(&bytes), vec![order[2], order[3]]);
    assert!(more, "one more entry remains");
    let have = vec![(ada, 3), (bob.public(), 1)];
    let (bytes, more) = ledger.entries_after(&report, &have, 2).unwrap();
    assert_eq!(ids(&bytes), vec![order[4]]);
    assert!(!more);
    // A peer that has everything is sent nothing.
    let have = vec![(ada, 3), (bob.public(), 2)];
    let (bytes, more) = ledger.entries_after(&report, &have, 2).unwrap();
    assert!(ids(&bytes).is_empty());
    assert!(!more);
}
