//! Classic DICOM networking (PS3.7, PS3.8): C-ECHO, a study-root C-FIND, and a study-root C-GET
//! — or, for archives without it, a C-MOVE to this side's own listening port ([`moving`]) —
//! whose C-STORE sub-operations are written to disk as they arrive.
//!
//! dicom-rs's `dicom-ul` does the association and the PDUs (each bounded by the maximum PDU
//! length this side negotiates, [`MAX_PDU`]); the DIMSE messages on top (command sets, the
//! C-GET exchange, the C-STORE responses) are written here because dicom-ul stops at the upper
//! layer and there is no maintained DIMSE service crate to reach for. A command set is taken up
//! to [`MAX_COMMAND_BYTES`], a C-FIND identifier up to [`MAX_IDENTIFIER_BYTES`]; an instance is
//! streamed to its file PDV by PDV.

use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use dicom_transfer_syntax_registry::{TransferSyntaxIndex, TransferSyntaxRegistry};
use dicom_ul::pdu::PDataValueType;
use dicom_ul::{ClientAssociation, ClientAssociationOptions};

use crate::{Limits, OnFile, PacsError, Result, Retrieved, StudyMatch, StudyQuery};

mod association;
mod command;
mod documents;
mod find;
pub mod moving;
mod series;

use association::{Association, Intake};
use command::*;

/// The largest PDU this side accepts (it tells the archive so in the association request).
pub const MAX_PDU: u32 = 64 * 1024;
/// The largest command set taken (a command set is a few hundred bytes).
pub const MAX_COMMAND_BYTES: usize = 64 * 1024;
/// The largest C-FIND identifier taken.
pub const MAX_IDENTIFIER_BYTES: usize = 1024 * 1024;
/// The longest AE title (PS3.5: AE is 16 characters).
pub const MAX_AE_TITLE: usize = 16;
/// The AE title this side calls itself when none is configured.
pub const DEFAULT_CALLING_AET: &str = "COUNTERSIGN";

const VERIFICATION: &str = "1.2.840.10008.1.1";
const STUDY_ROOT_FIND: &str = "1.2.840.10008.5.1.4.1.2.2.1";
const STUDY_ROOT_GET: &str = "1.2.840.10008.5.1.4.1.2.2.3";
const IMPLICIT_LE: &str = "1.2.840.10008.1.2";
const EXPLICIT_LE: &str = "1.2.840.10008.1.2.1";
/// Compressed transfer syntaxes offered in a second context per storage class, so an archive
/// holding compressed images can send them as they are.
const COMPRESSED: &[&str] = &[
    "1.2.840.10008.1.2.4.50", // JPEG baseline
    "1.2.840.10008.1.2.4.51", // JPEG extended
    "1.2.840.10008.1.2.4.57", // JPEG lossless
    "1.2.840.10008.1.2.4.70", // JPEG lossless, first-order prediction
    "1.2.840.10008.1.2.4.80", // JPEG-LS lossless
    "1.2.840.10008.1.2.4.81", // JPEG-LS near-lossless
    "1.2.840.10008.1.2.4.90", // JPEG 2000 lossless
    "1.2.840.10008.1.2.4.91", // JPEG 2000
    "1.2.840.10008.1.2.5",    // RLE lossless
];
/// The storage SOP classes a C-GET can bring: those a reading room meets. An association holds
/// at most 128 presentation contexts; two per class (uncompressed, compressed) stay under it.
const STORAGE: &[&str] = &[
    "1.2.840.10008.5.1.4.1.1.1",      // CR
    "1.2.840.10008.5.1.4.1.1.1.1",    // DX for presentation
    "1.2.840.10008.5.1.4.1.1.1.1.1",  // DX for processing
    "1.2.840.10008.5.1.4.1.1.1.2",    // MG for presentation
    "1.2.840.10008.5.1.4.1.1.1.2.1",  // MG for processing
    "1.2.840.10008.5.1.4.1.1.2",      // CT
    "1.2.840.10008.5.1.4.1.1.2.1",    // Enhanced CT
    "1.2.840.10008.5.1.4.1.1.3.1",    // US multi-frame
    "1.2.840.10008.5.1.4.1.1.4",      // MR
    "1.2.840.10008.5.1.4.1.1.4.1",    // Enhanced MR
    "1.2.840.10008.5.1.4.1.1.6.1",    // US
    "1.2.840.10008.5.1.4.1.1.7",      // Secondary capture
    "1.2.840.10008.5.1.4.1.1.12.1",   // XA
    "1.2.840.10008.5.1.4.1.1.12.2",   // XRF
    "1.2.840.10008.5.1.4.1.1.13.1.3", // Breast tomosynthesis
    "1.2.840.10008.5.1.4.1.1.20",     // NM
    "1.2.840.10008.5.1.4.1.1.128",    // PET
    "1.2.840.10008.5.1.4.1.1.88.11",  // Basic text SR
    "1.2.840.10008.5.1.4.1.1.88.22",  // Enhanced SR
    "1.2.840.10008.5.1.4.1.1.88.33",  // Comprehensive SR
    "1.2.840.10008.5.1.4.1.1.104.1",  // Encapsulated PDF
    "1.2.840.10008.5.1.4.1.1.11.1",   // Grayscale softcopy presentation state
    "1.2.840.10008.5.1.4.1.1.481.1",  // RT image
    "1.2.840.10008.5.1.4.1.1.66.4",   // Segmentation
];

// Command fields (PS3.7 E.1).
const C_STORE_RQ: u16 = 0x0001;
const C_STORE_RSP: u16 = 0x8001;
const C_GET_RQ: u16 = 0x0010;
const C_GET_RSP: u16 = 0x8010;
const C_FIND_RQ: u16 = 0x0020;
const C_FIND_RSP: u16 = 0x8020;
const C_ECHO_RQ: u16 = 0x0030;
const C_ECHO_RSP: u16 = 0x8030;
/// Command Data Set Type: no data set follows.
const NO_DATA_SET: u16 = 0x0101;
/// Any other value says one follows.
const DATA_SET: u16 = 0x0001;
const SUCCESS: u16 = 0x0000;
/// C-STORE status: out of resources (this side refuses an instance over its limits).
const OUT_OF_RESOURCES: u16 = 0xA700;

/// A DIMSE archive: where it listens and the AE titles of both sides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dimse {
    pub called_aet: String,
    pub host: String,
    pub port: u16,
    pub calling_aet: String,
    pub timeout: Duration,
    /// Retrieve by C-MOVE to `calling_aet`, receiving on this port of this machine (for an
    /// archive without C-GET; it must know `calling_aet` at this address), rather than by C-GET.
    pub move_port: Option<u16>,
}

/// Checks an AE title: 1 to 16 characters, printable ASCII without a backslash.
pub fn check_ae_title(aet: &str) -> Result<()> {
    if aet.trim().is_empty()
        || aet.len() > MAX_AE_TITLE
        || !aet.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b'\\')
    {
        return Err(PacsError::InvalidInput(format!(
            "{:?} is not an AE title (1 to 16 printable characters)",
            aet.chars().take(40).collect::<String>()
        )));
    }
    Ok(())
}

impl Dimse {
    /// Reads `AET@HOST:PORT`.
    pub fn parse(address: &str, calling_aet: Option<&str>) -> Result<Dimse> {
        let bad = || {
            PacsError::InvalidInput(format!(
                "{:?} is not AET@HOST:PORT",
                address.chars().take(100).collect::<String>()
            ))
        };
        let (aet, rest) = address.trim().split_once('@').ok_or_else(bad)?;
        let (host, port) = rest.rsplit_once(':').ok_or_else(bad)?;
        let port: u16 = port.parse().map_err(|_| bad())?;
        if host.is_empty()
            || host.len() > 253
            || port == 0
            || host.chars().any(|c| c.is_control() || c == '/')
        {
            return Err(bad());
        }
        check_ae_title(aet)?;
        let calling = calling_aet.unwrap_or(DEFAULT_CALLING_AET);
        check_ae_title(calling)?;
        Ok(Dimse {
            called_aet: aet.to_string(),
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
            port,
            calling_aet: calling.to_string(),
            timeout: Limits::default().timeout,
            move_port: None,
        })
    }

    /// `AET@HOST:PORT`, as it was given.
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("{}@[{}]:{}", self.called_aet, self.host, self.port)
        } else {
            format!("{}@{}:{}", self.called_aet, self.host, self.port)
        }
    }

    fn options(&self) -> ClientAssociationOptions<'static> {
        ClientAssociationOptions::new()
            .calling_ae_title(self.calling_aet.clone())
            .called_ae_title(self.called_aet.clone())
            .max_pdu_length(MAX_PDU)
            .connection_timeout(self.timeout)
            .read_timeout(self.timeout)
            .write_timeout(self.timeout)
    }

    fn connect(
        &self,
        options: ClientAssociationOptions<'static>,
    ) -> Result<Association<ClientAssociation<TcpStream>>> {
        let inner = options
            .establish((self.host.as_str(), self.port))
            .map_err(ul_error)?;
        Ok(Association::new(inner))
    }

    /// C-ECHO: the round trip of associating, echoing and releasing.
    pub fn echo(&self) -> Result<Duration> {
        let started = Instant::now();
        let mut assoc = self.connect(
            self.options()
                .with_presentation_context(VERIFICATION, vec![EXPLICIT_LE, IMPLICIT_LE]),
        )?;
        let ctx = assoc.context_for(VERIFICATION)?;
        let id = assoc.message_id();
        assoc.send_command(
            ctx.0,
            &[
                (
                    tags::AFFECTED_SOP_CLASS_UID,
                    VR::UI,
                    uid_value(VERIFICATION),
                ),
                (tags::COMMAND_FIELD, VR::US, PrimitiveValue::from(C_ECHO_RQ)),
                (tags::MESSAGE_ID, VR::US, PrimitiveValue::from(id)),
                (
                    tags::COMMAND_DATA_SET_TYPE,
                    VR::US,
                    PrimitiveValue::from(NO_DATA_SET),
                ),
            ],
        )?;
        let (_, rsp) = assoc.read_command()?;
        expect_field(&rsp, C_ECHO_RSP)?;
        let status = status_of(&rsp)?;
        if status != SUCCESS {
            return Err(PacsError::Refused(format!(
                "C-ECHO answered status 0x{status:04X}"
            )));
        }
        assoc.release();
        Ok(started.elapsed())
    }

    /// C-FIND at study level (Study Root); the modalities of studies the archive answered
    /// without them asked at series level (`series.rs`), then the modality filter applied.
    pub fn search(&self, query: &StudyQuery) -> Result<Vec<StudyMatch>> {
        let mut found = self.search_studies(query)?;
        if found.iter().any(|s| s.modalities.is_empty()) {
            self.fill_modalities(&mut found)?;
            if let Some(m) = &query.modality {
                found.retain(|s| s.modalities.is_empty() || s.modalities.iter().any(|x| x == m));
            }
        }
        Ok(found)
    }

    fn search_studies(&self, query: &StudyQuery) -> Result<Vec<StudyMatch>> {
        let mut assoc = self.connect(
            self.options()
                .with_presentation_context(STUDY_ROOT_FIND, vec![EXPLICIT_LE, IMPLICIT_LE]),
        )?;
        let (ctx, ts) = assoc.context_for(STUDY_ROOT_FIND)?;
        let date = query
            .since
            .as_ref()
            .map(|d| format!("{d}-"))
            .unwrap_or_default();
        find::send_find(
            &mut assoc,
            (ctx, ts),
            "STUDY",
            &[
                (
                    tags::STUDY_INSTANCE_UID,
                    VR::UI,
                    query.study.as_deref().unwrap_or(""),
                ),
                (
                    tags::PATIENT_ID,
                    VR::LO,
                    query.patient_id.as_deref().unwrap_or(""),
                ),
                (tags::PATIENT_NAME, VR::PN, ""),
                (tags::STUDY_DATE, VR::DA, &date),
                (tags::STUDY_TIME, VR::TM, ""),
                (tags::ACCESSION_NUMBER, VR::SH, ""),
                (tags::STUDY_DESCRIPTION, VR::LO, ""),
                (
                    tags::MODALITIES_IN_STUDY,
                    VR::CS,
                    query.modality.as_deref().unwrap_or(""),
                ),
                (tags::NUMBER_OF_STUDY_RELATED_INSTANCES, VR::IS, ""),
            ],
        )?;
        let mut out = Vec::new();
        // Every answer read counts, kept or not: their bytes together are held to what a
        // QIDO-RS answer may be (each identifier alone may be 1 MiB: the ten thousand of a
        // worklist search would be ten GiB), and their number to what one may hold, so that
        // an archive cannot keep the search going for ever with matches the modality filter
        // below drops. A search that asks for fewer ends (kept) before either is reached.
        let mut held = 0u64;
        let mut read = 0usize;
        while let Some((obj, bytes)) = find::next_match(&mut assoc, ts)? {
            held += bytes as u64;
            read += 1;
            if held > crate::qido::MAX_JSON_BYTES {
                assoc.abort();
                return Err(PacsError::TooLarge {
                    what: "the C-FIND answers to a study search".into(),
                    limit: crate::qido::MAX_JSON_BYTES,
                });
            }
            if read > crate::qido::MAX_RESULTS {
                assoc.abort();
                return Err(PacsError::TooLarge {
                    what: "the C-FIND matches to a study search".into(),
                    limit: crate::qido::MAX_RESULTS as u64,
                });
            }
            let found = study_of(&obj)?;
            // An archive that does not match on modality returns every study: the filter is
            // applied here too when it said which modalities a study has.
            let keep = match (&query.modality, found.modalities.is_empty()) {
                (Some(m), false) => found.modalities.iter().any(|x| x == m),
                _ => true,
            };
            if keep {
                out.push(found);
            }
            if out.len() >= query.max_results() {
                // Enough: the rest is not read (aborting ends the search at once).
                assoc.abort();
                return Ok(out);
            }
        }
        assoc.release();
        Ok(out)
    }

    /// C-GET of a study: the archive sends each instance back on this association as a C-STORE
    /// sub-operation, written to its own file as it arrives and handed to `on_file`.
    pub fn retrieve(
        &self,
        study: &str,
        dir: &Path,
        limits: &Limits,
        on_file: &mut OnFile<'_>,
    ) -> Result<Retrieved> {
        if let Some(port) = self.move_port {
            return self.retrieve_by_move(study, dir, limits, on_file, port);
        }
        let mut options = self
            .options()
            .with_presentation_context(STUDY_ROOT_GET, vec![EXPLICIT_LE, IMPLICIT_LE]);
        for class in STORAGE {
            options = options
                .with_presentation_context(*class, vec![EXPLICIT_LE, IMPLICIT_LE])
                .with_presentation_context(*class, COMPRESSED.to_vec())
                // C-GET's sub-operations come back on this association: this side is the
                // storage SCP for them (PS3.4 C.4.3.1).
                .with_role_selection(*class, false, true);
        }
        let mut assoc = self.connect(options)?;
        let (ctx, ts) = assoc.context_for(STUDY_ROOT_GET)?;
        assoc.request_study(ctx, ts, STUDY_ROOT_GET, C_GET_RQ, study, &[])?;
        let mut intake = Intake::default();
        loop {
            let (pc, cmd) = assoc.read_command()?;
            match command_field(&cmd)? {
                C_STORE_RQ => assoc.take_store(pc, &cmd, dir, &mut intake, limits, on_file)?,
                C_GET_RSP => {
                    let status = status_of(&cmd)?;
                    if data_set_follows(&cmd)? {
                        assoc.read_data(&mut std::io::sink(), MAX_IDENTIFIER_BYTES as u64)?;
                    }
                    match status {
                        0xFF00 => continue,
                        // Success, or a warning that some sub-operations failed: what came is
                        // kept, and the caller compares it with what the archive said it holds.
                        SUCCESS | 0xB000 => {
                            assoc.release();
                            if let Some(e) = intake.refused_here {
                                return Err(e);
                            }
                            return Ok(intake.got);
                        }
                        other => {
                            assoc.abort();
                            return Err(PacsError::Refused(format!(
                                "C-GET answered status 0x{other:04X}"
                            )));
                        }
                    }
                }
                other => {
                    assoc.abort();
                    return Err(PacsError::Malformed(format!(
                        "an unexpected DIMSE command 0x{other:04X} during a C-GET"
                    )));
                }
            }
        }
    }
}

impl Dimse {
    /// C-STORE of one Part 10 file (its data set, in the transfer syntax it is written in).
    pub fn store(&self, file: &crate::Part10<'_>) -> Result<()> {
        let mut assoc = self.connect(self.options().with_presentation_context(
            file.sop_class.clone(),
            vec![file.transfer_syntax.clone()],
        ))?;
        let (ctx, ts) = assoc.context_for(&file.sop_class)?;
        if ts.uid() != file.transfer_syntax {
            return Err(PacsError::Refused(format!(
                "it does not take {} in {}",
                file.sop_class, file.transfer_syntax
            )));
        }
        let id = assoc.message_id();
        assoc.send_command(
            ctx,
            &command::store_rq(&file.sop_class, &file.sop_instance, id),
        )?;
        assoc.send(ctx, PDataValueType::Data, file.data_set.to_vec())?;
        let (_, rsp) = assoc.read_command()?;
        expect_field(&rsp, C_STORE_RSP)?;
        if data_set_follows(&rsp)? {
            assoc.read_data(&mut std::io::sink(), MAX_IDENTIFIER_BYTES as u64)?;
        }
        let status = status_of(&rsp)?;
        assoc.release();
        match status {
            // Success, or stored with a warning (coerced, elements discarded).
            SUCCESS | 0xB000 | 0xB006 | 0xB007 => Ok(()),
            other => Err(PacsError::Refused(format!(
                "C-STORE answered status 0x{other:04X}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
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
        let dimse =
            find_archive((0..3).map(|i| study_identifier(&format!("1.2.3.{i}"), "CT", 1_000)));
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
            (0..crate::qido::MAX_RESULTS + 5)
                .map(|i| study_identifier(&format!("1.2.3.{i}"), "CT", 0)),
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
}
