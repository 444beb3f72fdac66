//! Bundles and audit archives: ordered once, imported whole, read as streams, and refused
//! before allocating what they only claim.

use super::*;

/// Regression: the audit-archive reader sized its buffer from the tar header, so a 1 KiB file
/// claiming a 4 GiB bundle allocated 4 GiB before reading a byte. Refused by the file's size.
#[test]
fn an_audit_archive_claiming_more_than_it_holds_is_refused_before_allocating() {
    let mut header = tar::Header::new_ustar();
    header.set_path(crate::AUDIT_BUNDLE_NAME).unwrap();
    header.set_size((4u64 << 30) - 1);
    header.set_cksum();
    let mut file = header.as_bytes().to_vec();
    file.extend_from_slice(&[0u8; 512]);
    let err = crate::bundle_in_archive(&file).unwrap_err();
    assert_eq!(err.code(), "invalid_input");
    assert!(err.to_string().contains("claims 4294967295 bytes"), "{err}");
}

/// Found by review (2026-12-05): the first `report.csbundle` of an archive was imported and
/// the rest ignored, while `tar -x` keeps the last member of a name: an archive holding a
/// benign bundle and then a forged one (with a forged `provenance.txt`) verified on import
/// while the auditor who unpacked it read the forgery. A member twice, a member of another
/// name, and anything but a plain file are refused.
#[test]
fn an_audit_archive_holding_a_member_twice_or_an_unknown_one_is_refused() {
    let bundle = countersign_ledger::bundle::encode(std::iter::empty());
    let ok = crate::export::tar_of(
        &[
            ("README.txt", b"read me"),
            (crate::AUDIT_BUNDLE_NAME, &bundle),
        ],
        0,
    )
    .unwrap();
    assert_eq!(crate::bundle_in_archive(&ok).unwrap(), Some(bundle.clone()));
    for (members, refused) in [
        (
            vec![
                (crate::AUDIT_BUNDLE_NAME, &bundle[..]),
                (crate::AUDIT_BUNDLE_NAME, b"forged"),
            ],
            "twice",
        ),
        (
            vec![
                (crate::AUDIT_REPORT_NAME, &b"true"[..]),
                (crate::AUDIT_BUNDLE_NAME, &bundle[..]),
                (crate::AUDIT_REPORT_NAME, b"forged"),
            ],
            "twice",
        ),
        (
            vec![
                (crate::AUDIT_BUNDLE_NAME, &bundle[..]),
                ("provenance-2.txt", b"forged"),
            ],
            "named",
        ),
    ] {
        let archive = crate::export::tar_of(&members, 0).unwrap();
        let err = crate::bundle_in_archive(&archive).unwrap_err();
        assert_eq!(err.code(), "invalid_input");
        assert!(err.to_string().contains(refused), "{err}");
    }
    // A GNU long-name header (held whole in memory by the tar reader) before the bundle.
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(bundle.len() as u64);
    header.set_cksum();
    builder
        .append_data(
            &mut header,
            "x".repeat(200) + "/report.csbundle",
            &bundle[..],
        )
        .unwrap();
    let archive = builder.into_inner().unwrap();
    let err = crate::bundle_in_archive(&archive).unwrap_err();
    assert!(err.to_string().contains("tar type 'L'"), "{err}");
}

/// Regression: a batch was taken in by retrying what waited, pass after pass, so one that came
/// in reverse causal order cost a pass per entry (500 entries: 665 ms against 7 ms in order).
/// It is now put in causal order first, once; the import is the same whatever the order.
#[test]
fn a_bundle_in_reverse_causal_order_is_ordered_once_and_imports_whole() {
    use countersign_ledger::{bundle, EntryId};
    use countersign_report::fixture::Department;

    let mut d = Department::new();
    let r = d.report("ada", "ct-chest");
    for i in 0..300 {
        d.write_section("ada", r, "findings", &format!("revision {i}"))
            .unwrap();
    }
    let mut entries: Vec<(countersign_ledger::Entry, Option<Vec<u8>>)> = d
        .stored
        .iter()
        .map(|(e, p)| (e.clone(), Some(p.clone())))
        .collect();
    entries.reverse();
    let ordered = crate::bundle::causal_order(entries.iter().collect());
    assert_eq!(ordered.len(), entries.len());
    let mut seen: std::collections::HashSet<EntryId> = Default::default();
    let carried: std::collections::HashSet<EntryId> = entries.iter().map(|(e, _)| e.id()).collect();
    for (e, _) in &ordered {
        for p in &e.header().parents {
            assert!(
                !carried.contains(p) || seen.contains(p),
                "a parent came after its child"
            );
        }
        seen.insert(e.id());
    }
    // And imported into a fresh home, reversed, it is all there.
    let bytes = bundle::encode(entries.iter().map(|(e, p)| (e, p.as_deref())));
    let dir = tempfile::tempdir().unwrap();
    let mut home = crate::tests::open_home(dir.path()).unwrap();
    home.trust(trusting(&d)).unwrap();
    let report = home.bundle_import(&bytes).unwrap();
    assert_eq!(report.new as usize, entries.len());
    let view = home.report_show(r).unwrap();
    let findings = view.sections.iter().find(|s| s.name == "findings").unwrap();
    assert_eq!(findings.text.as_deref(), Some("revision 299"));
}

/// A bundle file is streamed, a chunk of records at a time, and an audit archive's bundle is
/// streamed out of the tar: both import whole; a record refused in a later chunk is named by
/// its index in the bundle; a file cut short, or an archive whose member claims more than the
/// file holds, is refused.
#[test]
fn bundle_files_and_audit_archives_are_imported_as_streams() {
    use countersign_ledger::bundle;
    use countersign_report::fixture::Department;

    let mut d = Department::new();
    let r = d.report("ada", "ct-chest");
    // Past the first chunk, so that indexes and keys carry across chunks.
    for i in 0..crate::bundle::CHUNK + 20 {
        d.write_section("ada", r, "findings", &format!("revision {i}"))
            .unwrap();
    }
    let bytes = bundle::encode(d.stored.iter().map(|(e, p)| (e, Some(p.as_slice()))));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("in.bundle");
    std::fs::write(&file, &bytes).unwrap();
    let import = |path: &std::path::Path| {
        let home_dir = tempfile::tempdir().unwrap();
        let mut home = crate::tests::open_home(home_dir.path()).unwrap();
        home.trust(trusting(&d)).unwrap();
        home.bundle_import_file(path)
    };
    assert_eq!(import(&file).unwrap().new as usize, d.stored.len());

    let mut archive = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_ustar();
    header.set_path(crate::AUDIT_BUNDLE_NAME).unwrap();
    header.set_size(bytes.len() as u64);
    header.set_cksum();
    archive.append(&header, bytes.as_slice()).unwrap();
    let tar_file = dir.path().join("audit.tar");
    std::fs::write(&tar_file, archive.into_inner().unwrap()).unwrap();
    assert_eq!(import(&tar_file).unwrap().new as usize, d.stored.len());

    // One signature broken in the second chunk.
    let broken = crate::bundle::CHUNK + 7;
    let mut records = bundle::decode(&bytes).unwrap();
    records[broken].signature[0] ^= 1;
    std::fs::write(&file, bundle::encode_records(&records)).unwrap();
    match import(&file) {
        Err(AppError::BundleEntry { index, .. }) => assert_eq!(index, broken),
        other => panic!("{other:?}"),
    }

    std::fs::write(&file, &bytes[..bytes.len() - 1]).unwrap();
    let err = import(&file).unwrap_err();
    assert_eq!(err.code(), "bad_bundle");
    assert!(err.to_string().contains("truncated"), "{err}");

    let mut header = tar::Header::new_ustar();
    header.set_path(crate::AUDIT_BUNDLE_NAME).unwrap();
    header.set_size((4u64 << 30) - 1);
    header.set_cksum();
    let mut claims_more = header.as_bytes().to_vec();
    claims_more.extend_from_slice(&[0u8; 512]);
    std::fs::write(&tar_file, claims_more).unwrap();
    let err = import(&tar_file).unwrap_err();
    assert_eq!(err.code(), "invalid_input");
    assert!(err.to_string().contains("claims 4294967295 bytes"), "{err}");
}

/// Regression guard for the intake loading no log a batch creates (a first sync's batches
/// carry reports whole): a batch repeating a stored report's create, read by a home that has
/// not loaded that report, judges its other entries against the report as stored — a second
/// entry at a stored position is caught as a fork, one built on a stored entry is taken in —
/// never against a report holding only the create it carries.
#[test]
fn a_batch_repeating_a_stored_create_judges_the_rest_against_the_stored_report() {
    use countersign_ledger::{bundle, Entry, Header, Kind};
    use countersign_report::fixture::Department;
    use countersign_report::payload::{Payload, SectionWrite};

    let mut d = Department::new();
    let r = d.report("ada", "ct-chest");
    let first = d.write_section("ada", r, "findings", "No nodule.").unwrap();
    let stored = d.stored.clone();
    // Ada's second entry again, other words at the same position (sequence 2, on the create).
    let other = Payload::to_bytes(&SectionWrite {
        section: "findings".into(),
        text: "A nodule.".into(),
        fields: Default::default(),
        macros: Vec::new(),
        links: Vec::new(),
    });
    let (held, _) = &stored[stored.len() - 1];
    assert_eq!(held.id(), first);
    let fork = Entry::sign(
        Header::new(
            d.network(),
            r,
            d.public("ada"),
            held.header().seq,
            held.header().timestamp_ms + 1,
            Kind::SectionWrite,
            vec![r],
            &other,
        ),
        d.key("ada"),
    )
    .unwrap();
    // And a next entry on the stored one.
    d.write_section("ada", r, "impression", "Normal.").unwrap();
    let (later, later_payload) = d.stored.last().cloned().unwrap();
    let create = stored.iter().find(|(e, _)| e.id() == r).cloned().unwrap();

    let dir = tempfile::tempdir().unwrap();
    let home_dir = dir.path().join("home");
    let mut home = crate::tests::open_home(&home_dir).unwrap();
    home.trust(trusting(&d)).unwrap();
    home.bundle_import(&bundle::encode(
        stored.iter().map(|(e, p)| (e, Some(p.as_slice()))),
    ))
    .unwrap();
    drop(home);

    // Each batch read by a home opened again, so that nothing of the report is loaded; the
    // create last in the bytes, so its place in the batch comes from causal order alone.
    let mut home = crate::tests::open_home(&home_dir).unwrap();
    let got = home
        .bundle_import(&bundle::encode([
            (&later, Some(later_payload.as_slice())),
            (&create.0, Some(create.1.as_slice())),
        ]))
        .unwrap();
    assert_eq!((got.new, got.duplicate), (1, 1), "{got:?}");
    let view = home.report_show(r).unwrap();
    let impression = view
        .sections
        .iter()
        .find(|s| s.name == "impression")
        .unwrap();
    assert_eq!(impression.text.as_deref(), Some("Normal."));
    drop(home);

    let mut home = crate::tests::open_home(&home_dir).unwrap();
    let got = home
        .bundle_import(&bundle::encode([
            (&fork, Some(other.as_slice())),
            (&create.0, Some(create.1.as_slice())),
        ]))
        .unwrap();
    assert_eq!(
        (got.new, got.duplicate, got.forks.len()),
        (0, 1, 1),
        "{got:?}"
    );
}
