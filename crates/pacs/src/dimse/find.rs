//! One Study Root C-FIND on an open association: the request, and its answers one at a time.
//! Shared by the study search, the series-level modality lookup (`series.rs`) and the listing
//! of a study's reports (`documents.rs`), which differ only in their keys and in what they keep.

use dicom_encoding::TransferSyntax;

use super::*;

/// An association this side opened.
pub(super) type Client = Association<ClientAssociation<TcpStream>>;

/// Sends a C-FIND request at `level` (STUDY, SERIES, IMAGE) with `keys`: a value to match, or
/// an empty one for the key to be answered.
pub(super) fn send_find(
    assoc: &mut Client,
    (ctx, ts): (u8, &TransferSyntax),
    level: &str,
    keys: &[(Tag, VR, &str)],
) -> Result<()> {
    let mut identifier = InMemDicomObject::new_empty();
    identifier.put(DataElement::new(
        tags::QUERY_RETRIEVE_LEVEL,
        VR::CS,
        PrimitiveValue::from(level),
    ));
    for (tag, vr, value) in keys {
        identifier.put(DataElement::new(*tag, *vr, PrimitiveValue::from(*value)));
    }
    assoc.send_request((ctx, ts), STUDY_ROOT_FIND, C_FIND_RQ, &identifier, &[])
}

/// The next answer to the C-FIND sent last: a match's identifier with its size in bytes (at
/// most [`MAX_IDENTIFIER_BYTES`]), or `None` once the archive says the search is done (the
/// association may then carry another request). A failure status is `Refused`, a pending
/// answer without an identifier `Malformed`; after an error the association is not to be used
/// again (dropping it aborts it).
pub(super) fn next_match(
    assoc: &mut Client,
    ts: &TransferSyntax,
) -> Result<Option<(InMemDicomObject, usize)>> {
    let (_, rsp) = assoc.read_command()?;
    expect_field(&rsp, C_FIND_RSP)?;
    let status = status_of(&rsp)?;
    let has_data = data_set_follows(&rsp)?;
    match status {
        0xFF00 | 0xFF01 => {
            if !has_data {
                return Err(PacsError::Malformed(
                    "a pending C-FIND response without an identifier".into(),
                ));
            }
            let mut bytes = Vec::new();
            assoc.read_data(&mut bytes, MAX_IDENTIFIER_BYTES as u64)?;
            let obj = parse_identifier(&bytes, ts, "a C-FIND identifier")?;
            Ok(Some((obj, bytes.len())))
        }
        SUCCESS => {
            if has_data {
                assoc.read_data(&mut std::io::sink(), MAX_IDENTIFIER_BYTES as u64)?;
            }
            Ok(None)
        }
        other => Err(PacsError::Refused(format!(
            "C-FIND answered status 0x{other:04X}"
        ))),
    }
}
