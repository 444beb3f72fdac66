//! The home as a sync node's ledger: batch bounds, and data keys asked for and served.

use super::batch::fits;
use super::*;
use countersign_ledger::bundle::{self, BundleRecord};

/// Regression: roster fork evidence keeps its payload (up to 16 MiB); two pieces appended
/// after a full batch made an honest server's frame one its peer refuses, which cut the
/// honest server off. Evidence now counts inside the batch's bounds.
#[test]
fn evidence_with_large_payloads_stays_inside_the_batch_bounds() {
    let big = |n: u8| BundleRecord {
        header: vec![n; 200],
        signature: [n; 64],
        payload: Some(vec![n; 16 << 20]),
    };
    let mut records = vec![big(1)];
    assert!(
        !fits(&records, &big(2)),
        "a second 16 MiB record would pass 20 MiB"
    );
    records.clear();
    assert!(fits(&records, &big(3)), "one record always fits");
    let small = BundleRecord {
        header: vec![0; 200],
        signature: [0; 64],
        payload: Some(vec![0; 100]),
    };
    let full: Vec<BundleRecord> = (0..countersign_sync::protocol::MAX_BATCH)
        .map(|_| small.clone())
        .collect();
    assert!(!fits(&full, &small), "at most MAX_BATCH records");
}

use countersign_ledger::{DataKey, Role, SecretKey};
use countersign_sync::{AcceptError, Ledger};

use super::rotation::KeyMoved;

/// A founded home with a person and an AI model (granted nothing) on its roster, and one
/// sealed report.
fn home_with_report(dir: &Path) -> (Home, PublicKey, PublicKey, LogId) {
    let mut home = crate::tests::founded(dir);
    let bea = SecretKey::from_seed(&[0xbe; 32]).public();
    home.roster_add(bea, "Dr Bea", Role::Radiologist, false, None)
        .unwrap();
    let model = SecretKey::from_seed(&[0xa1; 32]).public();
    home.roster_add(
        model,
        "soft-tissue-stats",
        Role::AiModel,
        false,
        Some(countersign_ledger::roster::AiModelInfo {
            vendor: "Countersign examples".into(),
            model: "soft-tissue-stats".into(),
            version: "1.0".into(),
            regulatory_id: None,
        }),
    )
    .unwrap();
    let report = home.report_new("1.2.3", "ct-chest", &[]).unwrap();
    (home, bea, model, report)
}

#[test]
fn keys_go_only_to_members_who_may_read_the_report_and_never_for_an_erased_one() {
    let dir = tempfile::tempdir().unwrap();
    let (home, bea, model, report) = home_with_report(dir.path());
    let key = home.store().db().report_key(&report).unwrap().unwrap();
    let network = home.whoami().unwrap().network.unwrap();
    let mut ledger = HomeLedger::new(home).unwrap();
    // A person: the key, once however often it is named; the roster log has none.
    let served = ledger.keys_for(&bea, &[report, network, report]).unwrap();
    assert_eq!(served, vec![(report, key)]);
    // An AI model nobody granted the report, and a stranger: nothing.
    assert!(ledger.keys_for(&model, &[report]).unwrap().is_empty());
    let stranger = SecretKey::from_seed(&[0x55; 32]).public();
    assert!(ledger.keys_for(&stranger, &[report]).unwrap().is_empty());
    // Erased here: nothing, to anyone.
    ledger
        .home
        .erase(&crate::DataSubject::Report(report), "GDPR Art. 17")
        .unwrap();
    assert!(ledger.keys_for(&bea, &[report]).unwrap().is_empty());
    assert!(
        ledger.lacking_keys().unwrap().is_empty(),
        "an erased report lacks nothing"
    );
}

#[test]
fn a_home_lacking_a_key_asks_for_it_and_takes_only_the_key_that_opens_the_create() {
    let dir = tempfile::tempdir().unwrap();
    let (mut home, _, _, report) = home_with_report(dir.path());
    let key = home.store().db().report_key(&report).unwrap().unwrap();
    // The ciphertext without its key, as a `--no-keys` bundle leaves a home.
    home.store_mut()
        .write(|db| db.delete_report_key(&report).map(|_| ()))
        .unwrap();
    assert!(home.report_show(report).unwrap().unreadable);
    let mut ledger = HomeLedger::new(home).unwrap();
    assert_eq!(ledger.lacking_keys().unwrap(), vec![report]);
    // A key that does not open the create held here is proof against the sender.
    let wrong = DataKey::from_bytes([0x44; 32]);
    assert!(matches!(
        ledger.take_keys("peer", vec![(report, wrong)]),
        Err(AcceptError::Misbehaved(_))
    ));
    assert_eq!(ledger.home.store().db().report_key(&report).unwrap(), None);
    // The report's key is taken, and the report reads in full at once.
    assert_eq!(ledger.take_keys("peer", vec![(report, key.clone())]), Ok(1));
    assert_eq!(
        ledger.home.store().db().report_key(&report).unwrap(),
        Some(key.clone())
    );
    assert!(!ledger.home.report_show(report).unwrap().unreadable);
    assert!(ledger.lacking_keys().unwrap().is_empty());
    // The same key again is no news; another that opens nothing is still proof.
    assert_eq!(ledger.take_keys("peer", vec![(report, key)]), Ok(1));
    assert!(matches!(
        ledger.take_keys("peer", vec![(report, DataKey::from_bytes([0x45; 32]))]),
        Err(AcceptError::Misbehaved(_))
    ));
}

#[test]
fn a_home_lacking_more_keys_than_one_request_names_asks_for_all_of_them_in_turn() {
    let limit = countersign_sync::protocol::MAX_KEY_REQUEST;
    let dir = tempfile::tempdir().unwrap();
    let (mut home, _, _, first) = home_with_report(dir.path());
    let mut reports = vec![first];
    for _ in 0..limit + 3 {
        reports.push(home.report_new("1.2.3", "ct-chest", &[]).unwrap());
    }
    home.store_mut()
        .write(|db| {
            for r in &reports {
                db.delete_report_key(r)?;
            }
            Ok::<_, countersign_store::StoreError>(())
        })
        .unwrap();
    let mut ledger = HomeLedger::new(home).unwrap();
    let one = ledger.lacking_keys().unwrap();
    let two = ledger.lacking_keys().unwrap();
    assert_eq!((one.len(), two.len()), (limit, limit));
    let mut asked: Vec<LogId> = one.iter().chain(&two).copied().collect();
    asked.sort_unstable();
    asked.dedup();
    reports.sort_unstable();
    assert_eq!(asked, reports, "every report lacking its key is asked for");
}

/// S2: an envelope's length is the one thing a home without the key can judge of it, and
/// every home judges it alike — with the key or without, a sealed payload too short to be
/// an envelope around any payload is refused as `seal_malformed`; one of a possible length
/// is taken by its header when the key is lacking.
#[test]
fn a_sealed_payload_of_no_envelopes_length_is_refused_with_or_without_the_key() {
    use countersign_ledger::{Entry, Header, Kind};
    use countersign_report::payload::seal;
    let bea = SecretKey::from_seed(&[0xbe; 32]);
    for keyless in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let (mut home, _, _, report) = home_with_report(dir.path());
        if keyless {
            home.store_mut()
                .write(|db| db.delete_report_key(&report).map(|_| ()))
                .unwrap();
        }
        let network = home.whoami().unwrap().network.unwrap();
        drop(home);
        let write = |seq: u64, payload: &[u8]| {
            let h = Header::new(
                network,
                report,
                bea.public(),
                seq,
                crate::home::now_ms(),
                Kind::SectionWrite,
                vec![report],
                payload,
            );
            Entry::sign(h, &bea).unwrap()
        };
        let mut ledger = HomeLedger::open(dir.path()).unwrap();
        let mut send = |entry: &Entry, payload: &[u8]| {
            let bytes = bundle::encode([(entry, Some(payload))]);
            let batch = HomeLedger::check(&bytes).unwrap();
            ledger.accept(batch, "peer").unwrap()
        };
        // Magic, nonce, commitment and tag around nothing: no clear payload is empty.
        let mut short = seal::SEAL_MAGIC.to_vec();
        short.extend_from_slice(&[7; seal::SEAL_OVERHEAD - 4]);
        let refused = write(1, &short);
        let got = send(&refused, &short);
        assert_eq!((got.new, got.quarantined), (0, 1), "keyless: {keyless}");
        let q = crate::tests::open_home(dir.path())
            .unwrap()
            .quarantine()
            .unwrap();
        assert_eq!(q.len(), 1, "keyless: {keyless}");
        assert_eq!(q[0].code, "seal_malformed", "keyless: {keyless}: {q:?}");
        if keyless {
            // One byte more is an envelope's length: without the key, judged by its
            // header and stored.
            let mut fine = short.clone();
            fine.push(7);
            let taken = write(1, &fine);
            assert_eq!(send(&taken, &fine).new, 1);
        }
    }
}

/// Every row a store holds that a peer's entries decide, in a fixed order (arrival and local
/// log numbers left out: batches of different sizes take entries in different orders; each
/// entry's and each head's log number is compared as the log it stands for).
fn dump(home: &Home) -> Vec<String> {
    let conn = rusqlite::Connection::open_with_flags(
        home.store().path(),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let mut out = Vec::new();
    for sql in [
        "SELECT id, log, author, seq, kind, timestamp_ms, payload_hash, header, signature \
         FROM entries ORDER BY id",
        "SELECT e.id, p.bytes FROM payloads p JOIN entries e ON e.arrival = p.arrival \
         ORDER BY e.id",
        "SELECT COUNT(*) FROM payloads WHERE arrival NOT IN (SELECT arrival FROM entries)",
        "SELECT log, author, seq, bytes FROM fork_payloads ORDER BY log, author, seq",
        "SELECT e.id, l.log FROM entries e JOIN logs l ON l.log_no = e.log_no ORDER BY e.id",
        "SELECT log FROM logs ORDER BY log",
        "SELECT l.log, h.id FROM heads h JOIN logs l ON l.log_no = h.log_no ORDER BY l.log, h.id",
        "SELECT report, study, template, status, created_ms, last_ms, entries \
         FROM report_summaries ORDER BY report",
        "SELECT s.report, l.log FROM report_summaries s JOIN logs l ON l.log_no = s.log_no \
         ORDER BY s.report",
        "SELECT log, author, seq, first, second FROM forks ORDER BY log, author, seq",
        "SELECT id, code, waiting FROM quarantine ORDER BY id",
        "SELECT key, value FROM meta WHERE key = 'network'",
    ] {
        let mut stmt = conn.prepare(sql).unwrap();
        let columns = stmt.column_count();
        let rows = stmt
            .query_map([], |r| {
                (0..columns)
                    .map(|i| r.get::<_, rusqlite::types::Value>(i))
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .unwrap()
            .collect::<rusqlite::Result<Vec<_>>>()
            .unwrap();
        out.push(format!("{sql}: {rows:?}"));
    }
    out
}

/// Issue 13 (a first full sync at scale): a large pull is taken in with the store in its
/// intake settings. The settings change how SQLite caches and checkpoints, never what is
/// judged: the same entries taken in as a bulk intake (in reverse order, the store in its
/// intake settings from the first batch) and as a normal one (batches of three, never in
/// them) leave the same entries, payloads, heads, report rows, fork evidence and quarantine —
/// and the same entry (a revoked member's) refused by rule and quarantined in both.
#[test]
fn a_bulk_intake_and_a_normal_one_leave_the_same_store() {
    let dir = tempfile::tempdir().unwrap();
    let mut source = crate::tests::founded(&dir.path().join("source"));
    let network = source.whoami().unwrap().network.unwrap();
    let bea = SecretKey::from_seed(&[0xbe; 32]);
    source
        .roster_add(bea.public(), "Dr Bea", Role::Radiologist, false, None)
        .unwrap();
    let mut reports = Vec::new();
    for i in 0..6 {
        let r = source
            .report_new(&format!("1.2.3.{i}"), "ct-chest", &[])
            .unwrap();
        source
            .report_write(r, "findings", &format!("Finding {i}."))
            .unwrap();
        reports.push(r);
    }
    source
        .report_write(reports[0], "impression", "Nothing acute.")
        .unwrap();
    source.roster_revoke(bea.public(), "left").unwrap();
    // Ciphertext only: the receiving homes hold no member key to wrap data keys under.
    let exported = source.bundle_export_with(None, false).unwrap();
    let (_, mut records) = countersign_ledger::bundle::decode_keyed(&exported).unwrap();
    let held = records.len();
    // A section by the revoked member, signed after the revocation.
    let head = source.store().db().heads(&reports[1]).unwrap()[0];
    let payload = serde_json::to_vec(&countersign_report::payload::SectionWrite {
        section: "impression".into(),
        text: "Written after leaving.".into(),
        fields: Default::default(),
        macros: Vec::new(),
        links: Vec::new(),
    })
    .unwrap();
    let revoked = countersign_ledger::Entry::sign(
        countersign_ledger::Header::new(
            network,
            reports[1],
            bea.public(),
            1,
            crate::home::now_ms(),
            countersign_ledger::Kind::SectionWrite,
            vec![head],
            &payload,
        ),
        &bea,
    )
    .unwrap();
    records.push(
        batch::record(
            revoked.header_bytes().to_vec(),
            revoked.signature(),
            Some(payload),
        )
        .unwrap(),
    );
    let take = |name: &str, order: &[BundleRecord], per_batch: usize, intake_from: usize| {
        let at = dir.path().join(name);
        std::fs::create_dir_all(&at).unwrap();
        let mut home = Home::open(&at).unwrap();
        home.trust(crate::Anchor::Network {
            network,
            founder: None,
        })
        .unwrap();
        let mut ledger = HomeLedger::new(home).unwrap();
        ledger.intake_from = intake_from;
        for chunk in order.chunks(per_batch) {
            let checked = HomeLedger::check(&bundle::encode_records(chunk)).unwrap();
            ledger.accept(checked, "peer").unwrap();
            assert_eq!(ledger.intake, intake_from <= chunk.len());
        }
        ledger.pull_ended("peer");
        assert!(!ledger.intake, "the intake settings end with the pull");
        ledger.home
    };
    let mut reversed = records.clone();
    reversed.reverse();
    // Reversed, in batches of seven: entries wait across batches (for the genesis, last).
    let bulk = take("bulk", &reversed, 7, 1);
    let normal = take("normal", &records, 3, usize::MAX);
    assert_eq!(dump(&bulk), dump(&normal));
    // What both hold: every entry of the source, and the revoked member's in quarantine.
    assert_eq!(bulk.store().db().count_entries().unwrap(), held as u64);
    let quarantined = bulk.store().db().quarantine_rows(false, false, 10).unwrap();
    assert_eq!(quarantined.len(), 1, "{quarantined:?}");
    assert_eq!(quarantined[0].id, revoked.id().as_bytes().to_vec());
    assert_eq!(bulk.store().db().count_summaries().unwrap(), 6);
}

/// The node runs the set's first build apart from its runtime's other tasks (a build of
/// seconds at a million reports starved a connection's stream negotiation past libp2p's 10 s):
/// the set is cold until built, warm once built, and cold again only when far behind.
#[test]
fn the_set_is_cold_until_built_and_warm_after() {
    let dir = tempfile::tempdir().unwrap();
    let (home, bea, _, _) = home_with_report(dir.path());
    let mut ledger = HomeLedger::new(home).unwrap();
    assert!(ledger.set_is_cold(None), "never built");
    let held = ledger.reconcile_set(None).unwrap().len();
    assert!(held > 0);
    assert!(!ledger.set_is_cold(None), "just built");
    assert!(
        !ledger.set_is_cold(Some(&bea)),
        "a member is described the same set"
    );
    // Far behind what is stored: cold again (as if as many entries as `COLD_ITEMS` came).
    ledger.set_cursor -= set::COLD_ITEMS + 1;
    assert!(ledger.set_is_cold(None));
}

/// Review, 2026-12-04 (left open by session 51): a serving node whose home's key another
/// process rotated (an admin's `key rotate`, adopted at once) went on running as the old key,
/// which peers no longer serve, and said nothing. Its ledger now says so once it looks at what
/// was committed. Fails if `changed_logs` stops checking the home's key.
#[test]
fn a_node_running_as_a_key_another_process_rotated_is_told_to_stop() {
    let dir = tempfile::tempdir().unwrap();
    drop(crate::tests::founded(dir.path()));
    let mut node_home = crate::tests::open_home(dir.path()).unwrap();
    let old = node_home.signer().unwrap().public();
    let mut ledger = HomeLedger::new(node_home).unwrap();
    let rotated = ledger.watch_rotation(old);
    ledger.changed_logs().unwrap();
    assert_eq!(*rotated.borrow(), None, "nothing rotated yet");
    let mut cli = crate::tests::open_home(dir.path()).unwrap();
    let rotation = cli.key_rotate().unwrap();
    assert!(!rotation.pending, "an admin's rotation is applied at once");
    assert!(ledger.may_have_changed());
    ledger.changed_logs().unwrap();
    assert_eq!(
        *rotated.borrow(),
        Some(KeyMoved {
            new: rotation.new,
            switched: true
        })
    );
}

/// A member asked for a rotation, and an admin elsewhere applied it: the `roster.rotate`
/// reaches the member's serving node from a peer. Before, nothing adopted it while the node
/// ran (only the CLI's next command did), so the node went on as the old key. The node now
/// adopts it (the home signs with the new key) and is told to stop. Fails if the ledger stops
/// adopting a rotation it took in.
#[test]
fn a_rotation_of_the_nodes_key_taken_in_from_a_peer_is_adopted_and_the_node_told_to_stop() {
    let dir = tempfile::tempdir().unwrap();
    let (ada, bob_dir, old, asked, _) = crate::tests::rotation::rotation_applied(dir.path(), false);
    let moved = take_in_the_rotation(&ada, crate::tests::open_home(&bob_dir).unwrap(), old);
    assert_eq!(
        moved.0,
        Some(KeyMoved {
            new: asked.new,
            switched: true
        })
    );
    assert_eq!(moved.1.whoami().unwrap().key, asked.new);
}

/// What a node running as `old` on `bob` is told once it takes in everything `ada` holds (the
/// rotation of its key among it), and the home after.
fn take_in_the_rotation(ada: &Home, bob: Home, old: PublicKey) -> (Option<KeyMoved>, Home) {
    let mut ledger = HomeLedger::new(bob).unwrap();
    let rotated = ledger.watch_rotation(old);
    let exported = ada.bundle_export_with(None, false).unwrap();
    ledger
        .accept(HomeLedger::check(&exported).unwrap(), "ada")
        .unwrap();
    ledger.changed_logs().unwrap();
    let told = *rotated.borrow();
    (told, ledger.home)
}

/// Found by review (2026-12-04): the desktop's node holds no passphrase, so a rotation of its
/// key that reached it from a peer, in a home holding data keys, could not be adopted there,
/// and the node was never told: it ran on as the old key. It is told whenever the roster holds
/// a rotation of its key, adopted or not; and a node is not started again as that key (it
/// would be told at once, and the desktop would lock again and again). Fails if the roster
/// stops being asked.
#[test]
fn a_node_that_cannot_open_its_new_key_stops_for_the_rotation_the_roster_holds() {
    let dir = tempfile::tempdir().unwrap();
    let (ada, bob_dir, old, asked, _) =
        crate::tests::rotation::a_rotation_applied_elsewhere(dir.path());
    // The desktop's node: a handle on the home with no passphrase at hand.
    let (told, home) = take_in_the_rotation(&ada, Home::open(&bob_dir).unwrap(), old);
    assert_eq!(
        told,
        Some(KeyMoved {
            new: asked.new,
            switched: false
        })
    );
    assert_eq!(home.whoami().unwrap().key, old, "not adopted here");
    drop(home);
    // A node started as the old key is refused with the same code.
    let home = crate::tests::open_home(&bob_dir).unwrap();
    std::fs::remove_file(home.keys().sealed_path(&asked.new)).unwrap();
    let err = crate::sync::Service::start(home, &["/ip4/127.0.0.1/tcp/0".into()], &[], false)
        .unwrap_err();
    assert_eq!(err.code(), "key_rotated", "{err}");
}

/// The entries of `d` as a peer's batch, checked as the node checks one.
fn batch_of<'a>(
    d: impl IntoIterator<Item = &'a (countersign_ledger::Entry, Vec<u8>)>,
) -> Authenticated {
    let bytes = bundle::encode(d.into_iter().map(|(e, p)| (e, Some(p.as_slice()))));
    HomeLedger::check(&bytes).unwrap()
}

/// Found by review (2026-12-05): one pool of waiting entries served every peer. A stranger's
/// report entries, of a network the joining home did not hold yet, waited there; the founder's
/// batch that brought the trusted network was judged with them, they failed as another
/// network's (a refusal that proves misbehaviour), and the founder was cut off: the home
/// could never join. A peer's waiting entries are now judged only with its own batches and
/// quarantined only under its name. Fails if the pool is shared again.
#[test]
fn a_strangers_waiting_entries_never_get_the_founder_cut_off() {
    use countersign_report::fixture::Department;
    let founder = Department::new();
    // Another department (its own genesis: another clock), with a report.
    let mut stranger = Department::starting_at(1_700_100_000_000, 10);
    stranger.report("rad", "ct-chest");
    let dir = tempfile::tempdir().unwrap();
    let mut home = crate::tests::open_home(dir.path()).unwrap();
    home.trust(crate::Anchor::Network {
        network: founder.network(),
        founder: None,
    })
    .unwrap();
    let mut ledger = HomeLedger::new(home).unwrap();

    // The stranger's report entries alone: no network here yet, so they wait.
    let reports = stranger
        .stored
        .iter()
        .filter(|(e, _)| e.header().kind.family() == countersign_ledger::LogFamily::Report);
    ledger.accept(batch_of(reports), "stranger").unwrap();

    // The founder's genesis and roster: taken in, the network adopted.
    let taken = ledger
        .accept(batch_of(&founder.stored), "founder")
        .expect("the founder's batch is judged on its own entries");
    assert_eq!(taken.new, founder.stored.len() as u64);
    assert_eq!(ledger.network(), Some(founder.network()));
    // The founder's pull ending keeps nothing of the stranger's under the founder's name.
    ledger.pull_ended("founder");
    assert!(ledger.home.quarantine().unwrap().is_empty());

    // The stranger's own next batch brings its entries back, now judged against the
    // network held: another network's, which is held against the stranger.
    let refused = ledger.accept(batch_of([]), "stranger").unwrap_err();
    assert!(matches!(refused, AcceptError::Misbehaved(_)), "{refused:?}");
}

/// Found by review (2026-12-05): an AI model's node had its restricted set built from nothing
/// at every reconciliation step, each build reading every entry (to find grants) on the
/// serving node's event loop. The set is now kept for its reader until an entry arrives.
/// Fails if it is built again with nothing new stored.
#[test]
fn an_ai_models_set_is_built_again_only_when_something_arrived() {
    let dir = tempfile::tempdir().unwrap();
    let (home, _, model, report) = home_with_report(dir.path());
    let mut ledger = HomeLedger::new(home).unwrap();
    let roster_only = ledger.reconcile_set(Some(&model)).unwrap().len();
    ledger.reconcile_set(Some(&model)).unwrap();
    assert_eq!(ledger.reader_builds, 1, "built again with nothing new");
    ledger
        .home
        .report_write(report, "findings", "Nothing acute.")
        .unwrap();
    // Not granted the report: the entry moves the store, not what the model may read.
    assert_eq!(
        ledger.reconcile_set(Some(&model)).unwrap().len(),
        roster_only
    );
    assert_eq!(ledger.reader_builds, 2, "not built again after an entry");
}

/// Found by review (2026-12-05): with waiting entries kept per peer, one whose parent came
/// from another peer's batch was quarantined as waiting when its own peer's pull ended, and
/// stayed there until some later entry arrived. It is taken in as the pull ends. Fails if the
/// quarantine is not tried again then.
#[test]
fn an_entry_waiting_for_another_peers_batch_is_taken_in_when_its_pull_ends() {
    use countersign_report::fixture::Department;
    let mut d = Department::new();
    let dir = tempfile::tempdir().unwrap();
    let mut home = crate::tests::open_home(dir.path()).unwrap();
    home.trust(crate::Anchor::Network {
        network: d.network(),
        founder: None,
    })
    .unwrap();
    let mut ledger = HomeLedger::new(home).unwrap();
    ledger.accept(batch_of(&d.stored), "b").unwrap();
    let report = d.report("rad", "ct-chest");
    let create = d.stored.last().unwrap().clone();
    let write = d
        .write_section("rad", report, "findings", "Nothing acute.")
        .unwrap();
    let section = d.stored.last().unwrap().clone();
    assert_eq!(section.0.id(), write);

    // Peer a sends the section before its report's create, which peer b sends.
    ledger.accept(batch_of([&section]), "a").unwrap();
    ledger.accept(batch_of([&create]), "b").unwrap();
    ledger.pull_ended("a");
    let db = ledger.home.store().db();
    assert!(db.contains(&write).unwrap(), "the section is not stored");
    assert!(ledger.home.quarantine().unwrap().is_empty());
}
