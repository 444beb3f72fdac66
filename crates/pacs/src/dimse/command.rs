//! The DIMSE command sets on top of dicom-ul's PDUs: encoding one (group 0000, implicit VR
//! little endian), reading its fields and status, a C-FIND answer's identifier as a study,
//! and dicom-ul's errors said as the archive's failure.

use super::*;

pub(super) fn trim_uid(uid: &str) -> &str {
    uid.trim_end_matches(['\0', ' '])
}

pub(super) fn uid_value(uid: &str) -> PrimitiveValue {
    PrimitiveValue::from(uid)
}

/// A command set in Implicit VR Little Endian with its group length first (PS3.7 6.3.1).
pub(super) fn encode_command(elements: &[(Tag, VR, PrimitiveValue)]) -> Result<Vec<u8>> {
    let implicit = TransferSyntaxRegistry
        .get(IMPLICIT_LE)
        .ok_or_else(|| PacsError::Malformed("no implicit VR little endian".into()))?;
    let mut obj = InMemDicomObject::new_empty();
    for (tag, vr, value) in elements {
        obj.put(DataElement::new(*tag, *vr, value.clone()));
    }
    let mut body = Vec::new();
    obj.write_dataset_with_ts(&mut body, implicit)
        .map_err(|e| PacsError::InvalidInput(format!("encoding a command: {e}")))?;
    obj.put(DataElement::new(
        tags::COMMAND_GROUP_LENGTH,
        VR::UL,
        PrimitiveValue::from(body.len() as u32),
    ));
    let mut out = Vec::new();
    obj.write_dataset_with_ts(&mut out, implicit)
        .map_err(|e| PacsError::InvalidInput(format!("encoding a command: {e}")))?;
    Ok(out)
}

/// Parses a command set as the peer sent it (implicit VR little endian). Every element's claimed
/// length is checked against the bytes that came first: dicom-rs allocates a value's claimed
/// length before reading it, so 8 bytes claiming 4 GiB would cost 4 GiB (or abort the app).
pub(super) fn parse_command(bytes: &[u8]) -> Result<InMemDicomObject> {
    let implicit = TransferSyntaxRegistry
        .get(IMPLICIT_LE)
        .ok_or_else(|| PacsError::Malformed("no implicit VR little endian".into()))?;
    let layout = countersign_prescan::Layout {
        explicit: false,
        big_endian: false,
    };
    countersign_prescan::check_data_set(bytes, 0, layout)
        .map_err(|e| PacsError::Malformed(format!("a DIMSE command: {e}")))?;
    InMemDicomObject::read_dataset_with_ts(bytes, implicit)
        .map_err(|e| PacsError::Malformed(format!("a DIMSE command: {e}")))
}

/// Parses a data set the peer sent after a command (a C-FIND identifier) in the transfer syntax
/// `ts` of its presentation context, its lengths checked first as [`parse_command`] says.
pub(super) fn parse_identifier(
    bytes: &[u8],
    ts: &dicom_encoding::TransferSyntax,
    what: &str,
) -> Result<InMemDicomObject> {
    // A deflated data set cannot be checked where it lies; no context this side proposes for an
    // identifier is deflated, so one is not what the protocol sends.
    if matches!(
        ts.codec(),
        dicom_encoding::transfer_syntax::Codec::Dataset(_)
    ) {
        return Err(PacsError::Malformed(format!(
            "{what} in a deflated transfer syntax"
        )));
    }
    let layout = countersign_prescan::Layout {
        explicit: ts.uid() != IMPLICIT_LE,
        big_endian: ts.endianness() == dicom_encoding::transfer_syntax::Endianness::Big,
    };
    countersign_prescan::check_data_set(bytes, 0, layout)
        .map_err(|e| PacsError::Malformed(format!("{what}: {e}")))?;
    InMemDicomObject::read_dataset_with_ts(bytes, ts)
        .map_err(|e| PacsError::Malformed(format!("{what}: {e}")))
}

pub(super) fn u16_of(obj: &InMemDicomObject, tag: Tag) -> Result<u16> {
    obj.element(tag)
        .ok()
        .and_then(|e| e.to_int::<u16>().ok())
        .ok_or_else(|| PacsError::Malformed(format!("a DIMSE command without {tag}")))
}

pub(super) fn text_of(obj: &InMemDicomObject, tag: Tag) -> Result<String> {
    let s = obj
        .element(tag)
        .ok()
        .and_then(|e| e.to_str().ok())
        .map(|s| trim_uid(&s).to_string())
        .ok_or_else(|| PacsError::Malformed(format!("a DIMSE command without {tag}")))?;
    crate::check_uid(&s).map_err(|_| PacsError::Malformed(format!("{tag} is not a UID")))?;
    Ok(s)
}

pub(super) fn command_field(obj: &InMemDicomObject) -> Result<u16> {
    u16_of(obj, tags::COMMAND_FIELD)
}

pub(super) fn expect_field(obj: &InMemDicomObject, field: u16) -> Result<()> {
    let got = command_field(obj)?;
    if got != field {
        return Err(PacsError::Malformed(format!(
            "a DIMSE command 0x{got:04X} where 0x{field:04X} was due"
        )));
    }
    Ok(())
}

pub(super) fn status_of(obj: &InMemDicomObject) -> Result<u16> {
    u16_of(obj, tags::STATUS)
}

pub(super) fn data_set_follows(obj: &InMemDicomObject) -> Result<bool> {
    Ok(u16_of(obj, tags::COMMAND_DATA_SET_TYPE)? != NO_DATA_SET)
}

/// A C-FIND identifier as a study match.
pub(super) fn study_of(obj: &InMemDicomObject) -> Result<StudyMatch> {
    let text = |tag: Tag| -> Option<String> {
        obj.element(tag)
            .ok()
            .and_then(|e| e.to_str().ok())
            .map(|s| s.trim_end_matches(['\0', ' ']).trim().to_string())
            .filter(|s| !s.is_empty())
            .map(|s| s.chars().take(1024).collect())
    };
    let study = text(tags::STUDY_INSTANCE_UID).ok_or_else(|| {
        PacsError::Malformed("a C-FIND match without a Study Instance UID".into())
    })?;
    let modalities = obj
        .element(tags::MODALITIES_IN_STUDY)
        .ok()
        .and_then(|e| e.to_multi_str().ok())
        .map(|v| {
            // A modality is a CS code, at most 16 characters: a longer value is not one, and
            // is dropped (as `series.rs` does) rather than kept at any length, 64 times over.
            v.iter()
                .map(|m| m.trim().to_string())
                .filter(|m| !m.is_empty() && m.len() <= 16)
                .take(64)
                .collect()
        })
        .unwrap_or_default();
    let instances = text(tags::NUMBER_OF_STUDY_RELATED_INSTANCES).and_then(|n| n.parse().ok());
    Ok(StudyMatch {
        study,
        patient_name: text(tags::PATIENT_NAME),
        patient_id: text(tags::PATIENT_ID),
        issuer: text(tags::ISSUER_OF_PATIENT_ID),
        date: text(tags::STUDY_DATE),
        time: text(tags::STUDY_TIME),
        modalities,
        description: text(tags::STUDY_DESCRIPTION),
        accession: text(tags::ACCESSION_NUMBER),
        instances,
    })
}

/// dicom-ul's errors as this crate's: by what the socket said, where it said anything.
pub(super) fn ul_error(e: dicom_ul::association::Error) -> PacsError {
    use dicom_ul::association::Error as E;
    let io_kind = {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        let mut kind = None;
        while let Some(s) = source {
            if let Some(io) = s.downcast_ref::<std::io::Error>() {
                kind = Some(io.kind());
                break;
            }
            source = s.source();
        }
        kind
    };
    match (&e, io_kind) {
        (E::Rejected { association_rj, .. }, _) => PacsError::Refused(format!(
            "it rejected the association ({:?}, {:?})",
            association_rj.result, association_rj.source
        )),
        (E::NoAcceptedPresentationContexts { .. }, _) => {
            PacsError::Refused("it accepted none of the services asked for".into())
        }
        (E::Aborted { .. }, _) => PacsError::Refused("it aborted the association".into()),
        (_, Some(std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock)) => {
            PacsError::Timeout("no answer on the association".into())
        }
        (E::Timeout { .. }, _) => PacsError::Timeout("no answer on the association".into()),
        (E::Connect { .. } | E::ToAddress { .. }, _) => PacsError::Unreachable(
            std::error::Error::source(&e)
                .map(|s| s.to_string())
                .unwrap_or_else(|| e.to_string()),
        ),
        (E::ConnectionClosed { .. }, _) => {
            PacsError::Unreachable("it closed the connection".into())
        }
        (E::ReceivePdu { .. } | E::UnexpectedPdu { .. } | E::UnknownPdu { .. }, None) => {
            PacsError::Malformed(format!("{e}"))
        }
        (_, Some(kind)) => PacsError::Unreachable(format!("the connection failed ({kind:?})")),
        _ => PacsError::Refused(e.to_string()),
    }
}

/// A C-STORE-RQ's command elements: the instance's SOP class and instance UIDs, and the
/// message's id (a data set follows).
pub(super) fn store_rq(
    sop_class: &str,
    sop_instance: &str,
    id: u16,
) -> Vec<(Tag, VR, PrimitiveValue)> {
    vec![
        (tags::AFFECTED_SOP_CLASS_UID, VR::UI, uid_value(sop_class)),
        (
            tags::COMMAND_FIELD,
            VR::US,
            PrimitiveValue::from(C_STORE_RQ),
        ),
        (tags::MESSAGE_ID, VR::US, PrimitiveValue::from(id)),
        (tags::PRIORITY, VR::US, PrimitiveValue::from(0u16)),
        (
            tags::COMMAND_DATA_SET_TYPE,
            VR::US,
            PrimitiveValue::from(DATA_SET),
        ),
        (
            tags::AFFECTED_SOP_INSTANCE_UID,
            VR::UI,
            uid_value(sop_instance),
        ),
    ]
}
