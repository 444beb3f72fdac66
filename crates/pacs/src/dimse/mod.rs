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
                // Returned, not matched: a Patient ID is unique only per issuer.
                (tags::ISSUER_OF_PATIENT_ID, VR::LO, ""),
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
mod tests;
