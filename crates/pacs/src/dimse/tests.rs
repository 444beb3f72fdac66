//! The DIMSE client's tests: addresses and titles, commands, element lengths checked before
//! parsing, and study searches against a dicom-ul archive in the test (bounded answers).

use super::*;

#[test]
fn parses_addresses_and_titles() {
    let d = Dimse::parse("ARCHIVE@127.0.0.1:11112", None).unwrap();
    assert_eq!(
        (d.called_aet.as_str(), d.host.as_str(), d.port),
        ("ARCHIVE", "127.0.0.1", 11112)
    );
    assert_eq!(d.calling_aet, DEFAULT_CALLING_AET);
    assert_eq!(d.address(), "ARCHIVE@127.0.0.1:11112");
    for bad in [
        "ARCHIVE",
        "A@host",
        "A@host:0",
        "A@:104",
        "@host:104",
        "WAY_TOO_LONG_AE_TITLE@h:1",
        "A\\B@h:1",
    ] {
        assert!(Dimse::parse(bad, None).is_err(), "{bad}");
    }
    assert!(Dimse::parse("A@h:1", Some("")).is_err());
}

#[test]
fn commands_carry_their_group_length() {
    let bytes = encode_command(&[
        (tags::COMMAND_FIELD, VR::US, PrimitiveValue::from(C_ECHO_RQ)),
        (tags::MESSAGE_ID, VR::US, PrimitiveValue::from(1u16)),
    ])
    .unwrap();
    // (0000,0000) UL, then two US elements of 8 + 2 bytes each.
    assert_eq!(&bytes[..8], &[0, 0, 0, 0, 4, 0, 0, 0]);
    assert_eq!(u32::from_le_bytes(bytes[8..12].try_into().unwrap()), 20);
    assert_eq!(bytes.len(), 12 + 20);
}

/// A fake archive on a local port for one study-level C-FIND: it reads the request, then
/// answers each of `answers` (an identifier, in explicit VR little endian) as a pending
/// match, then success. It stops at the first failure to send (this side aborting).
fn find_archive(answers: impl Iterator<Item = Vec<u8>> + Send + 'static) -> Dimse {
    use dicom_ul::ServerAssociationOptions;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let timeout = Duration::from_secs(30);
    std::thread::spawn(move || -> Result<()> {
        let (stream, _) = listener.accept().unwrap();
        let inner = ServerAssociationOptions::new()
            .accept_called_ae_title()
            .ae_title("ARCHIVE")
            .max_pdu_length(MAX_PDU)
            .read_timeout(timeout)
            .write_timeout(timeout)
            .with_abstract_syntax(STUDY_ROOT_FIND)
            .with_transfer_syntax(EXPLICIT_LE)
            .establish(stream)
            .map_err(ul_error)?;
        let mut assoc = Association::new(inner);
        let (pc, rq) = assoc.read_command()?;
        assoc.read_data(&mut std::io::sink(), MAX_IDENTIFIER_BYTES as u64)?;
        let id = u16_of(&rq, tags::MESSAGE_ID)?;
        let answer = |assoc: &mut Association<_>, status: u16, data: u16| {
            assoc.send_command(
                pc,
                &[
                    (
                        tags::AFFECTED_SOP_CLASS_UID,
                        VR::UI,
                        uid_value(STUDY_ROOT_FIND),
                    ),
                    (
                        tags::COMMAND_FIELD,
                        VR::US,
                        PrimitiveValue::from(C_FIND_RSP),
                    ),
                    (
                        tags::MESSAGE_ID_BEING_RESPONDED_TO,
                        VR::US,
                        PrimitiveValue::from(id),
                    ),
                    (
                        tags::COMMAND_DATA_SET_TYPE,
                        VR::US,
                        PrimitiveValue::from(data),
                    ),
                    (tags::STATUS, VR::US, PrimitiveValue::from(status)),
                ],
            )
        };
        for identifier in answers {
            answer(&mut assoc, 0xFF00, DATA_SET)?;
            assoc.send(pc, PDataValueType::Data, identifier)?;
        }
        answer(&mut assoc, SUCCESS, NO_DATA_SET)?;
        let _ = assoc.next_command_or_release();
        Ok(())
    });
    Dimse {
        called_aet: "ARCHIVE".into(),
        host: "127.0.0.1".into(),
        port,
        calling_aet: DEFAULT_CALLING_AET.into(),
        timeout,
        move_port: None,
    }
}

/// A study-level match: `study`, `modalities`, and a Study Description of `padding`
/// characters (UT, so that it may be long).
fn study_identifier(study: &str, modalities: &str, padding: usize) -> Vec<u8> {
    let mut obj = InMemDicomObject::new_empty();
    obj.put(DataElement::new(
        tags::STUDY_INSTANCE_UID,
        VR::UI,
        uid_value(study),
    ));
    obj.put(DataElement::new(
        tags::MODALITIES_IN_STUDY,
        VR::CS,
        PrimitiveValue::from(modalities),
    ));
    if padding > 0 {
        obj.put(DataElement::new(
            tags::STUDY_DESCRIPTION,
            VR::UT,
            PrimitiveValue::from("x".repeat(padding)),
        ));
    }
    let mut bytes = Vec::new();
    obj.write_dataset_with_ts(&mut bytes, TransferSyntaxRegistry.get(EXPLICIT_LE).unwrap())
        .unwrap();
    bytes
}

/// Found by review (2026-12-05): a study search kept every C-FIND identifier it read (each
/// may be 1 MiB) up to the ten thousand matches of a worklist search, with no bound on
/// their total, so an archive answering a worklist search with ten thousand matches of
/// 1 MiB each made this side hold about 10 GiB.
/// Fails if a study search's answers are not held together to `qido::MAX_JSON_BYTES`, as
/// a QIDO-RS answer is.
#[test]
fn a_study_search_answered_with_megabyte_matches_is_bounded_in_total() {
    // Twenty matches of about 1 MiB (each within the identifier limit): 20 MiB in all.
    let dimse =
        find_archive((0..20).map(|i| study_identifier(&format!("1.2.3.{i}"), "CT", 1_000_000)));
    match dimse.search(&StudyQuery::default()) {
        Err(PacsError::TooLarge { what, limit }) => {
            assert_eq!(limit, crate::qido::MAX_JSON_BYTES);
            assert!(what.contains("study search"), "{what}");
        }
        other => panic!("{:?}", other.map(|v| v.len())),
    }
    // A search answered within the bound still finds what it was answered.
    let dimse = find_archive((0..3).map(|i| study_identifier(&format!("1.2.3.{i}"), "CT", 1_000)));
    let found = dimse.search(&StudyQuery::default()).unwrap();
    assert_eq!(found.len(), 3);
    assert_eq!(found[0].modalities, ["CT"]);
}

/// Found by review (2026-12-05): only the matches a study search kept counted against its
/// maximum, so an archive answering a search for one modality with matches of another
/// (dropped by the filter here, as an archive that does not match on modality would send
/// them) kept the search reading for as long as it went on sending.
/// Fails if matches the modality filter drops do not count against `qido::MAX_RESULTS`.
#[test]
fn a_study_search_answered_with_endless_filtered_out_matches_is_refused() {
    let dimse = find_archive(
        (0..crate::qido::MAX_RESULTS + 5).map(|i| study_identifier(&format!("1.2.3.{i}"), "CT", 0)),
    );
    let query = StudyQuery {
        modality: Some("MR".into()),
        ..StudyQuery::default()
    };
    match dimse.search(&query) {
        Err(PacsError::TooLarge { limit, .. }) => {
            assert_eq!(limit, crate::qido::MAX_RESULTS as u64)
        }
        other => panic!("{:?}", other.map(|v| v.len())),
    }
}

/// Found by review (2026-12-05): a study-level match's Modalities In Study kept up to 64
/// values of any length (a match's text is otherwise cut to 1 024 characters).
/// Fails if a value longer than a modality's 16 characters is kept.
#[test]
fn a_modality_longer_than_16_characters_is_not_kept() {
    let bytes = study_identifier("1.2.3", &format!("CT\\{}\\MR", "X".repeat(5000)), 0);
    let explicit = TransferSyntaxRegistry.get(EXPLICIT_LE).unwrap();
    let obj = parse_identifier(&bytes, explicit, "a C-FIND identifier").unwrap();
    assert_eq!(study_of(&obj).unwrap().modalities, ["CT", "MR"]);
}

/// Found by review (2026-12-05): dicom-rs sizes a value's buffer to its claimed length
/// before reading it, so an archive's 8-byte command PDV, (0000,0002) claiming 0xFFFFFFF0
/// bytes, made this side allocate and zero about 4 GiB, or abort the app.
/// Fails if a command is handed to the parser before its lengths are checked against the
/// bytes that came (the parser's own error, or the allocation, comes instead of the check's).
#[test]
fn a_command_claiming_4_gib_is_refused_before_parsing() {
    let hostile = [0x02, 0x00, 0x00, 0x00, 0xF0, 0xFF, 0xFF, 0xFF];
    match parse_command(&hostile) {
        // The prescan's words: refused before the parser saw a byte.
        Err(PacsError::Malformed(why)) => {
            assert!(
                why.contains("claims 4294967280 bytes but 0 remain"),
                "{why}"
            )
        }
        other => panic!("{other:?}"),
    }
    // A sound command still parses.
    let bytes = encode_command(&[
        (tags::COMMAND_FIELD, VR::US, PrimitiveValue::from(C_ECHO_RQ)),
        (tags::MESSAGE_ID, VR::US, PrimitiveValue::from(7u16)),
    ])
    .unwrap();
    let parsed = parse_command(&bytes).unwrap();
    assert_eq!(u16_of(&parsed, tags::MESSAGE_ID).unwrap(), 7);
}

/// Found by review (2026-12-05): a C-FIND identifier went to the parser as it came, so an
/// archive's 12-byte answer, (0010,0010) as explicit-VR UC claiming 0xFFFFFFF0 bytes in its
/// long form, made this side allocate about 4 GiB before finding the bytes missing.
/// Fails if an identifier is parsed before its lengths are checked against the bytes that came.
#[test]
fn an_identifier_claiming_4_gib_is_refused_before_parsing() {
    let explicit = TransferSyntaxRegistry.get(EXPLICIT_LE).unwrap();
    let hostile = [
        0x10, 0x00, 0x10, 0x00, b'U', b'C', 0x00, 0x00, 0xF0, 0xFF, 0xFF, 0xFF,
    ];
    match parse_identifier(&hostile, explicit, "a C-FIND identifier") {
        Err(PacsError::Malformed(why)) => {
            assert!(
                why.contains("claims 4294967280 bytes but 0 remain"),
                "{why}"
            )
        }
        other => panic!("{other:?}"),
    }
    // The same claim in implicit VR, on a context that chose it.
    let implicit = TransferSyntaxRegistry.get(IMPLICIT_LE).unwrap();
    let hostile = [0x10, 0x00, 0x10, 0x00, 0xF0, 0xFF, 0xFF, 0xFF];
    assert!(matches!(
        parse_identifier(&hostile, implicit, "a C-FIND identifier"),
        Err(PacsError::Malformed(why)) if why.contains("claims 4294967280")
    ));
    // A sound identifier still parses.
    let sound = [
        0x10, 0x00, 0x10, 0x00, b'P', b'N', 0x04, 0x00, b'D', b'O', b'E', b' ',
    ];
    let obj = parse_identifier(&sound, explicit, "a C-FIND identifier").unwrap();
    assert_eq!(
        obj.element(tags::PATIENT_NAME).unwrap().to_str().unwrap(),
        "DOE"
    );
}
