//! C-MOVE (PS3.4 C.4.2): for archives that do not offer C-GET. This side asks the archive to
//! move a study to this side's own AE title; the archive looks that title up in its own
//! configuration and opens a second association to the address it finds there — this side's
//! listening port — on which it sends the instances as C-STORE requests.
//!
//! The listening port is open only while a retrieval runs, and takes only what the archive
//! sends: a connection from an address that is not the archive's is closed unread, an
//! association calling any title but the archive's or calling any but this side's is refused,
//! and what it stores is bounded by the same [`Limits`] as a C-GET (instances and bytes). The
//! associations are taken one after another; the instances land in the caller's folder exactly
//! as a C-GET's do, for the caller to check before storing any.

use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dicom_core::{PrimitiveValue, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use dicom_ul::association::SyncAssociation;
use dicom_ul::{ServerAssociation, ServerAssociationOptions};

use super::association::{Association, Intake};
use super::{
    command_field, data_set_follows, status_of, uid_value, ul_error, Dimse, COMPRESSED, C_ECHO_RQ,
    C_ECHO_RSP, C_STORE_RQ, EXPLICIT_LE, IMPLICIT_LE, MAX_IDENTIFIER_BYTES, MAX_PDU, NO_DATA_SET,
    STORAGE, SUCCESS,
};
use crate::{Limits, OnFile, PacsError, Result, Retrieved};

const STUDY_ROOT_MOVE: &str = "1.2.840.10008.5.1.4.1.2.2.2";
const C_MOVE_RQ: u16 = 0x0021;
const C_MOVE_RSP: u16 = 0x8021;
/// C-MOVE status: the archive does not know the move destination's AE title.
const MOVE_DESTINATION_UNKNOWN: u16 = 0xA801;
/// Pending: sub-operations continue.
const PENDING: u16 = 0xFF00;
/// C-STORE status "Refused: Not authorized" (PS3.7 C.4.2.1.4: general status 0124H).
const NOT_AUTHORIZED: u16 = 0x0124;

/// Whether a C-STORE sub-operation says it is part of a C-MOVE another AE asked for: its Move
/// Originator AE Title (0000,1030), when present, is not this side's. (An archive may leave it
/// out; then the address and title checks are what stand.)
pub(crate) fn originated_elsewhere(cmd: &InMemDicomObject, own_aet: &str) -> bool {
    cmd.element(tags::MOVE_ORIGINATOR_APPLICATION_ENTITY_TITLE)
        .ok()
        .and_then(|e| e.to_str().ok())
        .is_some_and(|aet| {
            let aet = aet.trim_matches(|c: char| c == ' ' || c == '\0');
            !aet.is_empty() && aet != own_aet
        })
}

/// Whether a connection to the listening port comes from the archive's own address (an IPv4
/// archive may show as an IPv4-mapped IPv6 peer).
pub(crate) fn from_archive(peer: IpAddr, archive_ips: &[IpAddr]) -> bool {
    archive_ips.iter().any(|a| match (a, peer) {
        (IpAddr::V4(a), IpAddr::V6(p)) => p.to_ipv4_mapped() == Some(*a),
        _ => *a == peer,
    })
}

/// Whether an association on the listening port is the archive delivering to this side: it
/// calls as the archive, and calls this side's title. Pure, so the rule is tested on its own.
pub(crate) fn titles_accepted(
    calling: &str,
    called: &str,
    archive_aet: &str,
    own_aet: &str,
) -> std::result::Result<(), String> {
    let shown = |t: &str| t.trim().chars().take(16).collect::<String>();
    if calling.trim() != archive_aet {
        return Err(format!(
            "an association calling as {:?}, not as the archive {archive_aet}",
            shown(calling)
        ));
    }
    if called.trim() != own_aet {
        return Err(format!(
            "an association calling {:?}, not this side's {own_aet}",
            shown(called)
        ));
    }
    Ok(())
}

impl Dimse {
    /// Retrieves `study` by C-MOVE to this side's title, receiving on `port`; each instance
    /// is handed to `on_file` from the receiving thread as soon as it is whole.
    pub(super) fn retrieve_by_move(
        &self,
        study: &str,
        dir: &Path,
        limits: &Limits,
        on_file: &mut OnFile<'_>,
        port: u16,
    ) -> Result<Retrieved> {
        // Listening before asking: the archive connects as soon as it has the request. On
        // IPv6 and IPv4 both (an IPv6 socket takes IPv4-mapped peers), else IPv4 alone.
        let listener = TcpListener::bind(("::", port))
            .or_else(|_| TcpListener::bind(("0.0.0.0", port)))
            .map_err(PacsError::io(format!(
                "listening on port {port} for the archive's C-STORE (C-MOVE)"
            )))?;
        let archive_ips: Vec<IpAddr> = (self.host.as_str(), self.port)
            .to_socket_addrs()
            .map_err(|e| PacsError::Unreachable(format!("{}: {e}", self.host)))?
            .map(|a| a.ip())
            .collect();
        let stop = Arc::new(AtomicBool::new(false));
        let current: Arc<Mutex<Option<TcpStream>>> = Arc::default();
        let receiver = Receiver {
            current: Arc::clone(&current),
            listener,
            archive_ips,
            archive_aet: self.called_aet.clone(),
            own_aet: self.calling_aet.clone(),
            dir: dir.to_path_buf(),
            limits: *limits,
            stop: Arc::clone(&stop),
        };
        // Scoped: the receiver borrows the caller's `on_file` for the retrieval's length.
        std::thread::scope(|scope| {
            let (done, finished) = std::sync::mpsc::channel::<()>();
            let taking = std::thread::Builder::new()
                .name("c-move-receiver".into())
                .spawn_scoped(scope, move || {
                    let taken = receiver.run(on_file);
                    drop(done);
                    taken
                })
                .map_err(PacsError::io("starting the C-MOVE receiver"))?;
            let asked = self.ask_to_move(study);
            // The final answer comes after the last sub-operation: the association the archive
            // stored on is finished (or finishing); wake the receiver's accept to let it stop.
            stop.store(true, Ordering::SeqCst);
            let _ = TcpStream::connect_timeout(
                &SocketAddr::from(([127, 0, 0, 1], port)),
                Duration::from_secs(1),
            );
            // An association still open after the archive's final answer ends within the
            // archive's timeout: a peer that trickles bytes (each read within the timeout)
            // cannot hold the retrieval, or the port, open for ever.
            if let Err(RecvTimeoutError::Timeout) = finished.recv_timeout(limits.timeout) {
                if let Some(stream) = current.lock().unwrap_or_else(|p| p.into_inner()).take() {
                    let _ = stream.shutdown(std::net::Shutdown::Both);
                }
            }
            let intake = taking
                .join()
                .map_err(|_| PacsError::Malformed("the C-MOVE receiver failed".into()))?;
            // The caller's own stop first: the archive's complaint about it says nothing new.
            if let Err(PacsError::Stopped) = intake {
                return Err(PacsError::Stopped);
            }
            asked?;
            let intake = intake?;
            if let Some(e) = intake.refused_here {
                return Err(e);
            }
            Ok(intake.got)
        })
    }

    /// The C-MOVE request and its responses, up to the final one.
    fn ask_to_move(&self, study: &str) -> Result<()> {
        let mut assoc = self.connect(
            self.options()
                .with_presentation_context(STUDY_ROOT_MOVE, vec![EXPLICIT_LE, IMPLICIT_LE]),
        )?;
        let (ctx, ts) = assoc.context_for(STUDY_ROOT_MOVE)?;
        let destination = (
            tags::MOVE_DESTINATION,
            VR::AE,
            PrimitiveValue::from(self.calling_aet.as_str()),
        );
        assoc.request_study(ctx, ts, STUDY_ROOT_MOVE, C_MOVE_RQ, study, &[destination])?;
        loop {
            let (_, rsp) = assoc.read_command()?;
            if command_field(&rsp)? != C_MOVE_RSP {
                assoc.abort();
                return Err(PacsError::Malformed(
                    "an unexpected DIMSE command during a C-MOVE".into(),
                ));
            }
            if data_set_follows(&rsp)? {
                assoc.read_data(&mut std::io::sink(), MAX_IDENTIFIER_BYTES as u64)?;
            }
            match status_of(&rsp)? {
                // Progress is told by the receiver, instance by instance.
                PENDING => {}
                // Success, or a warning that some sub-operations failed: what came is kept,
                // and the caller compares it with what the archive said it holds.
                SUCCESS | 0xB000 => {
                    assoc.release();
                    return Ok(());
                }
                MOVE_DESTINATION_UNKNOWN => {
                    assoc.abort();
                    return Err(PacsError::Refused(format!(
                        "it does not know this side's AE title {} as a move destination \
                         (add it, with this machine's address and the listening port, to \
                         the archive's configuration)",
                        self.calling_aet
                    )));
                }
                other => {
                    assoc.abort();
                    return Err(PacsError::Refused(format!(
                        "C-MOVE answered status 0x{other:04X}"
                    )));
                }
            }
        }
    }
}

/// The listening side of a C-MOVE, on a thread of its own.
struct Receiver {
    /// The connection of the association being taken, for the retrieval to cut it off.
    current: Arc<Mutex<Option<TcpStream>>>,
    listener: TcpListener,
    archive_ips: Vec<IpAddr>,
    archive_aet: String,
    own_aet: String,
    dir: PathBuf,
    limits: Limits,
    stop: Arc<AtomicBool>,
}

impl Receiver {
    /// Takes associations one after another until told to stop; an error on one association
    /// ends the retrieval with it (what it stored stays in the folder, for the caller to drop).
    fn run(self, on_file: &mut OnFile<'_>) -> Result<Intake> {
        let mut intake = Intake::default();
        loop {
            let (stream, peer) = self
                .listener
                .accept()
                .map_err(PacsError::io("accepting the archive's C-STORE association"))?;
            if self.stop.load(Ordering::SeqCst) {
                return Ok(intake);
            }
            if !from_archive(peer.ip(), &self.archive_ips) {
                tracing::warn!(%peer, "C-MOVE receiver closed a connection not from the archive");
                continue;
            }
            self.take(stream, &mut intake, on_file)?;
        }
    }

    /// One association of C-STORE requests, up to its release.
    fn take(&self, stream: TcpStream, intake: &mut Intake, on_file: &mut OnFile<'_>) -> Result<()> {
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = stream.try_clone().ok();
        let taken = self.take_association(stream, intake, on_file);
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = None;
        taken
    }

    fn take_association(
        &self,
        stream: TcpStream,
        intake: &mut Intake,
        on_file: &mut OnFile<'_>,
    ) -> Result<()> {
        let timeout = self.limits.timeout;
        let mut options = ServerAssociationOptions::new()
            .accept_called_ae_title()
            .ae_title(self.own_aet.clone())
            .max_pdu_length(MAX_PDU)
            .read_timeout(timeout)
            .write_timeout(timeout);
        for class in STORAGE {
            options = options.with_abstract_syntax(*class);
        }
        for ts in [EXPLICIT_LE, IMPLICIT_LE].iter().chain(COMPRESSED) {
            options = options.with_transfer_syntax(*ts);
        }
        // A connection that never becomes an association (a port scan, a stranger on the
        // archive's host) is dropped; the retrieval goes on waiting for the archive.
        let inner: ServerAssociation<TcpStream> = match options.establish(stream) {
            Ok(inner) => inner,
            Err(e) => {
                tracing::warn!(why = %ul_error(e), "C-MOVE receiver: no association");
                return Ok(());
            }
        };
        if let Err(why) = titles_accepted(
            dicom_ul::association::Association::peer_ae_title(&inner),
            inner.called_ae_title(),
            &self.archive_aet,
            &self.own_aet,
        ) {
            // Not the archive delivering: refused, and the retrieval goes on waiting for it.
            tracing::warn!(%why, "C-MOVE receiver refused an association");
            let _ = SyncAssociation::abort(inner);
            return Ok(());
        }
        let mut assoc = Association::new(inner);
        while let Some((pc, cmd)) = assoc.next_command_or_release()? {
            match command_field(&cmd)? {
                // A sub-operation of a C-MOVE someone else asked for (naming this side as the
                // destination): refused, nothing of it written.
                C_STORE_RQ if originated_elsewhere(&cmd, &self.own_aet) => {
                    tracing::warn!("C-MOVE receiver refused an instance another AE asked for");
                    assoc.refuse_store(pc, &cmd, NOT_AUTHORIZED, &self.limits)?
                }
                C_STORE_RQ => {
                    assoc.take_store(pc, &cmd, &self.dir, intake, &self.limits, on_file)?
                }
                C_ECHO_RQ => {
                    let message = super::u16_of(&cmd, tags::MESSAGE_ID)?;
                    assoc.send_command(
                        pc,
                        &[
                            (
                                tags::AFFECTED_SOP_CLASS_UID,
                                VR::UI,
                                uid_value(super::VERIFICATION),
                            ),
                            (
                                tags::COMMAND_FIELD,
                                VR::US,
                                PrimitiveValue::from(C_ECHO_RSP),
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
                            (tags::STATUS, VR::US, PrimitiveValue::from(SUCCESS)),
                        ],
                    )?;
                }
                other => {
                    assoc.abort();
                    return Err(PacsError::Malformed(format!(
                        "an unexpected DIMSE command 0x{other:04X} on the C-MOVE association"
                    )));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whoever can reach the port while a retrieval runs (a stranger on the LAN, another
    /// local process calling as someone else) must not be able to deliver instances.
    #[test]
    fn only_the_archive_calling_as_itself_may_deliver() {
        let archive: IpAddr = "10.0.0.5".parse().unwrap();
        assert!(from_archive(archive, &[archive]));
        assert!(from_archive("::ffff:10.0.0.5".parse().unwrap(), &[archive]));
        assert!(!from_archive("10.0.0.6".parse().unwrap(), &[archive]));
        assert!(!from_archive(archive, &[]));
        assert!(titles_accepted("DCMQRSCP", "COUNTERSIGN", "DCMQRSCP", "COUNTERSIGN").is_ok());
        // AE titles are padded with spaces on the wire.
        assert!(titles_accepted("DCMQRSCP ", "COUNTERSIGN ", "DCMQRSCP", "COUNTERSIGN").is_ok());
        let e = titles_accepted("INTRUDER", "COUNTERSIGN", "DCMQRSCP", "COUNTERSIGN").unwrap_err();
        assert!(e.contains("INTRUDER"), "{e}");
        assert!(titles_accepted("DCMQRSCP", "OTHER", "DCMQRSCP", "COUNTERSIGN").is_err());
    }
}

#[cfg(test)]
mod originator_tests {
    use super::*;
    use dicom_core::DataElement;

    /// Anyone the archive lets ask for a C-MOVE may name this side as the destination while a
    /// retrieval has the port open; the archive then delivers from its own address, as itself.
    /// What it says of who asked is the one sign left: such an instance is refused.
    #[test]
    fn an_instance_of_a_move_someone_else_asked_for_is_refused() {
        let with = |originator: Option<&str>| {
            let mut cmd = InMemDicomObject::new_empty();
            if let Some(aet) = originator {
                cmd.put(DataElement::new(
                    tags::MOVE_ORIGINATOR_APPLICATION_ENTITY_TITLE,
                    VR::AE,
                    PrimitiveValue::from(aet),
                ));
            }
            cmd
        };
        assert!(originated_elsewhere(&with(Some("INTRUDER")), "COUNTERSIGN"));
        assert!(!originated_elsewhere(
            &with(Some("COUNTERSIGN ")),
            "COUNTERSIGN"
        ));
        assert!(!originated_elsewhere(&with(None), "COUNTERSIGN"));
        assert!(!originated_elsewhere(&with(Some("")), "COUNTERSIGN"));
    }
}
