//! One association, either side of it: the PDVs received but not yet read, command sets and
//! data sets in and out within their bounds, and the storage of a C-STORE's data set as a
//! Part 10 file. Generic over dicom-ul's client and server associations: a C-GET receives its
//! instances on the association it opened, a C-MOVE on one the archive opens to this side.

use std::collections::VecDeque;
use std::io::{BufWriter, Write};
use std::net::TcpStream;
use std::path::Path;

use dicom_core::{PrimitiveValue, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::{FileMetaTableBuilder, InMemDicomObject};
use dicom_transfer_syntax_registry::{TransferSyntaxIndex, TransferSyntaxRegistry};
use dicom_ul::association::{Association as UlAssociation, SyncAssociation};
use dicom_ul::pdu::{PDataValue, PDataValueType, PresentationContextResultReason};
use dicom_ul::Pdu;

use super::{
    encode_command, parse_command, text_of, trim_uid, u16_of, uid_value, ul_error, C_STORE_RSP,
    MAX_COMMAND_BYTES, NO_DATA_SET, OUT_OF_RESOURCES, SUCCESS,
};
use crate::{instance_file, Arrived, Hashing, Limits, OnFile, PacsError, Result, Retrieved};

/// The most of a refused instance's remaining data set read into nothing to keep the
/// association in step (see `Association::read_whole_data`): reading costs only time, but an
/// archive that never ends a data set must not hold the retrieval forever.
pub(super) const MAX_DRAIN_BYTES: u64 = 256 * 1024 * 1024;

/// What C-STORE sub-operations have brought: the files written, and the first instance this
/// side refused (over its limits) — the retrieval fails with it once the archive is done.
#[derive(Debug, Default)]
pub(super) struct Intake {
    pub(super) got: Retrieved,
    pub(super) refused_here: Option<PacsError>,
}

/// Either end of an association as dicom-ul gives it.
pub(super) trait Link: UlAssociation + SyncAssociation<TcpStream> {}
impl<T: UlAssociation + SyncAssociation<TcpStream>> Link for T {}

/// An association and the PDVs received but not yet read.
pub(super) struct Association<A: Link> {
    /// Taken by `release` or `abort`; a dropped association is aborted.
    inner: Option<A>,
    inbox: VecDeque<PDataValue>,
    next_message: u16,
}

impl<A: Link> Drop for Association<A> {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            let _ = inner.abort();
        }
    }
}

impl<A: Link> Association<A> {
    pub(super) fn new(inner: A) -> Self {
        Association {
            inner: Some(inner),
            inbox: VecDeque::new(),
            next_message: 1,
        }
    }

    fn inner(&mut self) -> Result<&mut A> {
        self.inner
            .as_mut()
            .ok_or_else(|| PacsError::Refused("the association is closed".into()))
    }

    pub(super) fn message_id(&mut self) -> u16 {
        let id = self.next_message;
        self.next_message = self.next_message.wrapping_add(1).max(1);
        id
    }

    /// The accepted presentation context for `abstract_syntax`, and its transfer syntax.
    pub(super) fn context_for(
        &mut self,
        abstract_syntax: &str,
    ) -> Result<(u8, &'static dicom_encoding::TransferSyntax)> {
        let inner = self.inner()?;
        let pc = inner
            .presentation_contexts()
            .iter()
            .find(|pc| {
                pc.reason == PresentationContextResultReason::Acceptance
                    && trim_uid(&pc.abstract_syntax) == abstract_syntax
            })
            .map(|pc| pc.id)
            .ok_or_else(|| {
                PacsError::Refused(format!(
                    "it does not offer the service {abstract_syntax} to this AE title"
                ))
            })?;
        let ts = self.transfer_syntax_of(pc)?;
        Ok((pc, ts))
    }

    pub(super) fn transfer_syntax_of(
        &mut self,
        id: u8,
    ) -> Result<&'static dicom_encoding::TransferSyntax> {
        let inner = self.inner()?;
        let uid = inner
            .presentation_contexts()
            .iter()
            .find(|pc| pc.id == id && pc.reason == PresentationContextResultReason::Acceptance)
            .map(|pc| trim_uid(&pc.transfer_syntax).to_string())
            .ok_or_else(|| {
                PacsError::Malformed(format!(
                    "a message on presentation context {id}, which was not accepted"
                ))
            })?;
        TransferSyntaxRegistry
            .get(&uid)
            .ok_or_else(|| PacsError::Malformed(format!("an unknown transfer syntax {uid}")))
    }

    pub(super) fn send_command(
        &mut self,
        context: u8,
        elements: &[(Tag, VR, PrimitiveValue)],
    ) -> Result<()> {
        let data = encode_command(elements)?;
        self.send(context, PDataValueType::Command, data)
    }

    pub(super) fn send_data_set(
        &mut self,
        context: u8,
        ts: &dicom_encoding::TransferSyntax,
        obj: &InMemDicomObject,
    ) -> Result<()> {
        let mut data = Vec::new();
        obj.write_dataset_with_ts(&mut data, ts)
            .map_err(|e| PacsError::InvalidInput(format!("encoding a query: {e}")))?;
        self.send(context, PDataValueType::Data, data)
    }

    /// Sends a command or data set as P-DATA, one PDV per PDU, each within the maximum PDU
    /// length the archive accepts (0, "no limit", is taken as 16 KiB).
    pub(super) fn send(&mut self, context: u8, kind: PDataValueType, data: Vec<u8>) -> Result<()> {
        let inner = self.inner()?;
        let max = match inner.peer_max_pdu_length() {
            0 => 16 * 1024,
            n => n,
        };
        // A PDV's own header (length, context, control) is 6 bytes.
        let chunk = (max as usize).saturating_sub(6).max(1);
        let mut chunks = data.chunks(chunk).peekable();
        if chunks.peek().is_none() {
            return Err(PacsError::InvalidInput("an empty DIMSE message".into()));
        }
        while let Some(part) = chunks.next() {
            SyncAssociation::send(
                inner,
                &Pdu::PData {
                    data: vec![PDataValue {
                        presentation_context_id: context,
                        value_type: kind.clone(),
                        is_last: chunks.peek().is_none(),
                        data: part.to_vec(),
                    }],
                },
            )
            .map_err(ul_error)?;
        }
        Ok(())
    }

    fn next_pdv(&mut self) -> Result<PDataValue> {
        loop {
            if let Some(pdv) = self.inbox.pop_front() {
                return Ok(pdv);
            }
            let pdu = SyncAssociation::receive(self.inner()?).map_err(ul_error)?;
            match pdu {
                Pdu::PData { data } => self.inbox.extend(data),
                Pdu::AbortRQ { source } => {
                    self.inner.take();
                    return Err(PacsError::Refused(format!(
                        "it aborted the association ({source:?})"
                    )));
                }
                Pdu::ReleaseRQ => {
                    self.inner.take();
                    return Err(PacsError::Refused(
                        "it released the association midway".into(),
                    ));
                }
                other => {
                    return Err(PacsError::Malformed(format!(
                        "an unexpected PDU: {}",
                        other.short_description()
                    )))
                }
            }
        }
    }

    /// The next command set, and the presentation context it came on.
    pub(super) fn read_command(&mut self) -> Result<(u8, InMemDicomObject)> {
        let mut bytes = Vec::new();
        let mut context = None;
        loop {
            let pdv = self.next_pdv()?;
            if pdv.value_type != PDataValueType::Command {
                return Err(PacsError::Malformed("data where a command was due".into()));
            }
            if *context.get_or_insert(pdv.presentation_context_id) != pdv.presentation_context_id {
                return Err(PacsError::Malformed(
                    "a command split across contexts".into(),
                ));
            }
            if bytes.len() + pdv.data.len() > MAX_COMMAND_BYTES {
                return Err(PacsError::TooLarge {
                    what: "a DIMSE command".into(),
                    limit: MAX_COMMAND_BYTES as u64,
                });
            }
            bytes.extend_from_slice(&pdv.data);
            if pdv.is_last {
                break;
            }
        }
        Ok((context.unwrap_or(0), parse_command(&bytes)?))
    }

    /// Copies the data set that follows a command to `out`, refusing more than `limit` bytes.
    /// Refused, the rest of the data set is left unread: the association is not to be used
    /// again (see [`Self::read_whole_data`] for one that is).
    pub(super) fn read_data(&mut self, out: &mut dyn Write, limit: u64) -> Result<u64> {
        self.read_data_then(out, limit, false)
    }

    /// As [`Self::read_data`], but a data set over `limit` is read on to its last fragment
    /// into nothing (at most [`MAX_DRAIN_BYTES`] more; past that the association is aborted),
    /// so that the next PDV read is the next command. Left on the wire, the rest of a refused
    /// C-STORE was read as the next command and failed the retrieval as "data where a command
    /// was due" (found by review, 2026-12-05), hiding the real reason, its size.
    pub(super) fn read_whole_data(&mut self, out: &mut dyn Write, limit: u64) -> Result<u64> {
        self.read_data_then(out, limit, true)
    }

    fn read_data_then(&mut self, out: &mut dyn Write, limit: u64, drain: bool) -> Result<u64> {
        let mut total = 0u64;
        loop {
            let pdv = self.next_pdv()?;
            if pdv.value_type != PDataValueType::Data {
                return Err(PacsError::Malformed("a command where data was due".into()));
            }
            total += pdv.data.len() as u64;
            if total > limit {
                let too_large = PacsError::TooLarge {
                    what: "an instance".into(),
                    limit,
                };
                if drain && !pdv.is_last {
                    self.drain_data()?;
                }
                return Err(too_large);
            }
            out.write_all(&pdv.data)
                .map_err(PacsError::io("writing a retrieved instance"))?;
            if pdv.is_last {
                return Ok(total);
            }
        }
    }

    /// Reads the rest of a data set into nothing, up to its last fragment, bounded by
    /// [`MAX_DRAIN_BYTES`]: an archive that keeps sending past that has the association
    /// aborted (the caller sees it closed).
    fn drain_data(&mut self) -> Result<()> {
        let mut drained = 0u64;
        loop {
            let pdv = self.next_pdv()?;
            if pdv.value_type != PDataValueType::Data {
                return Err(PacsError::Malformed("a command where data was due".into()));
            }
            drained += pdv.data.len() as u64;
            if pdv.is_last {
                return Ok(());
            }
            if drained > MAX_DRAIN_BYTES {
                self.abort();
                return Ok(());
            }
        }
    }

    /// Writes a C-STORE sub-operation's data set as a Part 10 file: preamble, file meta
    /// information (as dicom-rs writes it for any file), then the data set's bytes as they came.
    pub(super) fn store_instance(
        &mut self,
        path: &Path,
        class: &str,
        instance: &str,
        ts: &dicom_encoding::TransferSyntax,
        limits: &Limits,
    ) -> Result<([u8; 32], u64)> {
        let meta = FileMetaTableBuilder::new()
            .media_storage_sop_class_uid(class)
            .media_storage_sop_instance_uid(instance)
            .transfer_syntax(ts.uid())
            .build()
            .map_err(|e| PacsError::Malformed(format!("a C-STORE request: {e}")))?;
        let file = std::fs::File::create(path)
            .map_err(PacsError::io(format!("creating {}", path.display())))?;
        let mut w = Hashing::new(BufWriter::with_capacity(64 * 1024, file));
        let context = format!("writing {}", path.display());
        w.write_all(&[0u8; 128])
            .and_then(|_| w.write_all(b"DICM"))
            .map_err(PacsError::io(context.clone()))?;
        let mut header = Vec::new();
        meta.write(&mut header)
            .map_err(|e| PacsError::Malformed(format!("a C-STORE request: {e}")))?;
        w.write_all(&header)
            .map_err(PacsError::io(context.clone()))?;
        self.read_whole_data(&mut w, limits.max_instance_bytes)?;
        // Flushed and closed before the caller sees it.
        w.finish().map_err(PacsError::io(context))
    }

    /// On the side that accepted the association: the next command set, or `None` once the
    /// peer asks to release it (which is answered).
    pub(super) fn next_command_or_release(&mut self) -> Result<Option<(u8, InMemDicomObject)>> {
        if self.inbox.is_empty() {
            match SyncAssociation::receive(self.inner()?).map_err(ul_error)? {
                Pdu::ReleaseRQ => {
                    let inner = self.inner()?;
                    let answered = SyncAssociation::send(inner, &Pdu::ReleaseRP).map_err(ul_error);
                    // Released: nothing to abort when it is dropped.
                    drop(self.inner.take());
                    answered?;
                    return Ok(None);
                }
                Pdu::PData { data } => self.inbox.extend(data),
                Pdu::AbortRQ { source } => {
                    self.inner.take();
                    return Err(PacsError::Refused(format!(
                        "it aborted the association ({source:?})"
                    )));
                }
                other => {
                    return Err(PacsError::Malformed(format!(
                        "an unexpected PDU: {}",
                        other.short_description()
                    )))
                }
            }
        }
        self.read_command().map(Some)
    }

    /// Sends a study-level retrieve request (C-GET or C-MOVE: `command`, under `sop_class`) for
    /// `study` on context `ctx`, with `extra` command elements (a C-MOVE's destination).
    pub(super) fn request_study(
        &mut self,
        ctx: u8,
        ts: &dicom_encoding::TransferSyntax,
        sop_class: &str,
        command: u16,
        study: &str,
        extra: &[(Tag, VR, PrimitiveValue)],
    ) -> Result<()> {
        let mut identifier = InMemDicomObject::new_empty();
        identifier.put(dicom_core::DataElement::new(
            tags::QUERY_RETRIEVE_LEVEL,
            VR::CS,
            PrimitiveValue::from("STUDY"),
        ));
        identifier.put(dicom_core::DataElement::new(
            tags::STUDY_INSTANCE_UID,
            VR::UI,
            uid_value(study),
        ));
        self.send_request((ctx, ts), sop_class, command, &identifier, extra)
    }

    /// Sends a Query/Retrieve request (C-FIND, C-GET or C-MOVE: `command`, under `sop_class`) on
    /// context `ctx`: its command, with `extra` command elements (a C-MOVE's destination), then
    /// `identifier`, the keys it asks with.
    pub(super) fn send_request(
        &mut self,
        (ctx, ts): (u8, &dicom_encoding::TransferSyntax),
        sop_class: &str,
        command: u16,
        identifier: &InMemDicomObject,
        extra: &[(Tag, VR, PrimitiveValue)],
    ) -> Result<()> {
        let id = self.message_id();
        let mut elements = vec![
            (tags::AFFECTED_SOP_CLASS_UID, VR::UI, uid_value(sop_class)),
            (tags::COMMAND_FIELD, VR::US, PrimitiveValue::from(command)),
            (tags::MESSAGE_ID, VR::US, PrimitiveValue::from(id)),
            (tags::PRIORITY, VR::US, PrimitiveValue::from(0u16)),
            (
                tags::COMMAND_DATA_SET_TYPE,
                VR::US,
                PrimitiveValue::from(super::DATA_SET),
            ),
        ];
        elements.extend(extra.iter().cloned());
        self.send_command(ctx, &elements)?;
        self.send_data_set(ctx, ts, identifier)
    }

    /// Answers a C-STORE request with `status`.
    fn answer_store(
        &mut self,
        pc: u8,
        class: &str,
        message: u16,
        status: u16,
        instance: &str,
    ) -> Result<()> {
        self.send_command(
            pc,
            &[
                (tags::AFFECTED_SOP_CLASS_UID, VR::UI, uid_value(class)),
                (
                    tags::COMMAND_FIELD,
                    VR::US,
                    PrimitiveValue::from(C_STORE_RSP),
                ),
                (
                    tags::MESSAGE_ID_BEING_RESPONDED_TO,
                    VR::US,
                    PrimitiveValue::from(message),
                ),
                (
                    tags::COMMAND_DATA_SET_TYPE,
                    VR::US,
                    PrimitiveValue::from(NO_DATA_SET),
                ),
                (tags::STATUS, VR::US, PrimitiveValue::from(status)),
                (tags::AFFECTED_SOP_INSTANCE_UID, VR::UI, uid_value(instance)),
            ],
        )
    }

    /// Answers a C-STORE sub-operation `cmd` with `status` (a refusal) after reading its data
    /// set into nothing, bounded by `limits`: nothing of it is written.
    pub(super) fn refuse_store(
        &mut self,
        pc: u8,
        cmd: &InMemDicomObject,
        status: u16,
        limits: &Limits,
    ) -> Result<()> {
        let class = text_of(cmd, tags::AFFECTED_SOP_CLASS_UID)?;
        let instance = text_of(cmd, tags::AFFECTED_SOP_INSTANCE_UID)?;
        let message = u16_of(cmd, tags::MESSAGE_ID)?;
        self.read_data(&mut std::io::sink(), limits.max_instance_bytes)?;
        self.answer_store(pc, &class, message, status, &instance)
    }

    /// Takes one C-STORE sub-operation (`cmd`, on context `pc`): its data set written to the
    /// next file of `dir` unless that would pass `limits` (then read and dropped, answered
    /// "out of resources", and remembered in `intake`), handed to `on_file`, then answered.
    /// A caller that stops the retrieval has the association aborted.
    pub(super) fn take_store(
        &mut self,
        pc: u8,
        cmd: &InMemDicomObject,
        dir: &Path,
        intake: &mut Intake,
        limits: &Limits,
        on_file: &mut OnFile<'_>,
    ) -> Result<()> {
        let class = text_of(cmd, tags::AFFECTED_SOP_CLASS_UID)?;
        let instance = text_of(cmd, tags::AFFECTED_SOP_INSTANCE_UID)?;
        let message = u16_of(cmd, tags::MESSAGE_ID)?;
        let pc_ts = self.transfer_syntax_of(pc)?;
        let mut status = SUCCESS;
        let full = if intake.got.files.len() >= limits.max_instances {
            Some(limits.max_instances as u64)
        } else if intake.got.bytes >= limits.max_study_bytes {
            Some(limits.max_study_bytes)
        } else {
            None
        };
        if let Some(limit) = full {
            self.read_data(&mut std::io::sink(), limits.max_instance_bytes)?;
            status = OUT_OF_RESOURCES;
            intake.refused_here.get_or_insert(PacsError::TooLarge {
                what: "the study".into(),
                limit,
            });
        } else {
            let path = instance_file(dir, intake.got.files.len());
            match self.store_instance(&path, &class, &instance, pc_ts, limits) {
                Ok((sha256, bytes)) => {
                    intake.got.files.push(path.clone());
                    intake.got.bytes += bytes;
                    let arrived = Arrived {
                        index: intake.got.files.len() - 1,
                        path,
                        bytes,
                        sha256: Some(sha256),
                        data: None,
                    };
                    if on_file(arrived).is_break() {
                        self.abort();
                        return Err(PacsError::Stopped);
                    }
                }
                Err(e @ PacsError::TooLarge { .. }) => {
                    let _ = std::fs::remove_file(&path);
                    // Too much of it to read past (see `read_whole_data`): aborted, and the
                    // retrieval ends with the reason.
                    if self.inner.is_none() {
                        return Err(e);
                    }
                    status = OUT_OF_RESOURCES;
                    intake.refused_here.get_or_insert(e);
                }
                Err(e) => {
                    let _ = std::fs::remove_file(&path);
                    self.abort();
                    return Err(e);
                }
            }
        }
        self.answer_store(pc, &class, message, status, &instance)
    }

    pub(super) fn release(&mut self) {
        if let Some(inner) = self.inner.take() {
            // The answer is in hand; a release the archive botches loses nothing.
            let _ = inner.release();
        }
    }

    pub(super) fn abort(&mut self) {
        if let Some(inner) = self.inner.take() {
            let _ = inner.abort();
        }
    }
}

#[cfg(test)]
mod tests;
