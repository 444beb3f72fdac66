//! The caps on what an archive answers when a prior's report is looked for, each against a
//! hostile archive on loopback (real Orthanc and dcmqrscp cannot be made to misbehave): the
//! listing of a study's report instances held to 16 MiB (over DICOMweb, a QIDO-RS answer; over
//! DIMSE, the C-FIND answers together) and the one-instance C-GET held to 1000 messages. Each
//! is refused with a clear error naming the archive, and nothing is stored.
//!
//! The DIMSE archive is written here by hand on dicom-ul's upper layer (associations and PDUs);
//! its command sets and identifiers are encoded by hand in implicit VR little endian, the only
//! transfer syntax it accepts, so that it can say what no real archive would.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dicom_ul::pdu::{PDataValue, PDataValueType, Pdu};

use crate::common::Home;
use crate::pacs_servers::Garbage;

const STUDY: &str = "2.25.4242";
const SERIES: &str = "2.25.7001";
const BASIC_TEXT_SR: &str = "1.2.840.10008.5.1.4.1.1.88.11";
const STUDY_ROOT_FIND: &str = "1.2.840.10008.5.1.4.1.2.2.1";
const STUDY_ROOT_GET: &str = "1.2.840.10008.5.1.4.1.2.2.3";
const IMPLICIT_LE: &str = "1.2.840.10008.1.2";
const C_GET_RQ: u16 = 0x0010;
const C_GET_RSP: u16 = 0x8010;
const C_FIND_RQ: u16 = 0x0020;
const C_FIND_RSP: u16 = 0x8020;
const PENDING: u16 = 0xFF00;
/// The listing's cap (`countersign_pacs::qido::MAX_JSON_BYTES`).
const LISTING_CAP: usize = 16 * 1024 * 1024;

/// What the hostile DIMSE archive gets wrong.
#[derive(Clone, Copy)]
enum Fault {
    /// Lists the study's SR series, then its instances in `answers` identifiers of
    /// `padding` bytes each (every one within the 1 MiB an identifier may be).
    HugeListing { answers: usize, padding: usize },
    /// Lists one SR, and answers its C-GET with `pending` pending responses, no instance,
    /// then success.
    EndlessGet { pending: usize },
}

/// A loopback DIMSE archive answering C-FIND and C-GET by its fault. Stops when dropped.
struct HostileDimse {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl HostileDimse {
    fn start(fault: Fault) -> HostileDimse {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            // One association after another; a test makes a handful.
            for stream in listener.incoming().take(16) {
                if stopping.load(Ordering::SeqCst) {
                    return;
                }
                if let Ok(stream) = stream {
                    // The client ends it by aborting, which ends the writes here too.
                    let _ = serve(stream, fault);
                }
            }
        });
        HostileDimse {
            port,
            stop,
            thread: Some(thread),
        }
    }

    fn address(&self) -> String {
        format!("ARCHIVE@127.0.0.1:{}", self.port)
    }
}

impl Drop for HostileDimse {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

type Served = Result<(), String>;

fn serve(stream: TcpStream, fault: Fault) -> Served {
    let wait = Duration::from_secs(10);
    let mut assoc = dicom_ul::ServerAssociationOptions::new()
        .accept_any()
        .ae_title("ARCHIVE")
        .with_abstract_syntax(STUDY_ROOT_FIND)
        .with_abstract_syntax(STUDY_ROOT_GET)
        .with_transfer_syntax(IMPLICIT_LE)
        .read_timeout(wait)
        .write_timeout(wait)
        .establish(stream)
        .map_err(|e| e.to_string())?;
    while let Some((ctx, command, identifier)) = read_request(&mut assoc)? {
        let message = u16_of(&command, 0x0110);
        match u16_of(&command, 0x0100) {
            C_FIND_RQ => {
                let level = text_of(&identifier, (0x0008, 0x0052));
                for answer in find_answers(fault, &level) {
                    send(
                        &mut assoc,
                        ctx,
                        PDataValueType::Command,
                        &response(STUDY_ROOT_FIND, C_FIND_RSP, message, PENDING, true),
                    )?;
                    send(&mut assoc, ctx, PDataValueType::Data, &answer)?;
                }
                send(
                    &mut assoc,
                    ctx,
                    PDataValueType::Command,
                    &response(STUDY_ROOT_FIND, C_FIND_RSP, message, 0, false),
                )?;
            }
            C_GET_RQ => {
                let pending = match fault {
                    Fault::EndlessGet { pending } => pending,
                    Fault::HugeListing { .. } => 0,
                };
                for _ in 0..pending {
                    send(
                        &mut assoc,
                        ctx,
                        PDataValueType::Command,
                        &response(STUDY_ROOT_GET, C_GET_RSP, message, PENDING, false),
                    )?;
                }
                send(
                    &mut assoc,
                    ctx,
                    PDataValueType::Command,
                    &response(STUDY_ROOT_GET, C_GET_RSP, message, 0, false),
                )?;
            }
            other => return Err(format!("command 0x{other:04X}")),
        }
    }
    Ok(())
}

/// The identifiers a C-FIND at `level` is answered with.
fn find_answers(fault: Fault, level: &str) -> Vec<Vec<u8>> {
    if level == "SERIES" {
        return vec![dataset(&[
            ((0x0008, 0x0052), b"SERIES".to_vec()),
            ((0x0008, 0x0060), b"SR".to_vec()),
            ((0x0020, 0x000D), STUDY.as_bytes().to_vec()),
            ((0x0020, 0x000E), SERIES.as_bytes().to_vec()),
        ])];
    }
    let (answers, padding) = match fault {
        Fault::HugeListing { answers, padding } => (answers, padding),
        Fault::EndlessGet { .. } => (1, 0),
    };
    (0..answers)
        .map(|n| {
            let mut elements = vec![
                ((0x0008, 0x0016), BASIC_TEXT_SR.as_bytes().to_vec()),
                ((0x0008, 0x0018), format!("2.25.{}", 8000 + n).into_bytes()),
                ((0x0008, 0x0052), b"IMAGE".to_vec()),
                ((0x0020, 0x000D), STUDY.as_bytes().to_vec()),
                ((0x0020, 0x000E), SERIES.as_bytes().to_vec()),
            ];
            if padding > 0 {
                // Text Value (UT): an answer as long as an identifier may be.
                elements.push(((0x0040, 0xA160), vec![b'x'; padding]));
            }
            dataset(&elements)
        })
        .collect()
}

/// A C-FIND or C-GET response: pending or success, with an identifier to follow or none.
fn response(class: &str, field: u16, answering: u16, status: u16, data: bool) -> Vec<u8> {
    let mut elements = vec![
        ((0x0000, 0x0002), class.as_bytes().to_vec()),
        ((0x0000, 0x0100), field.to_le_bytes().to_vec()),
        ((0x0000, 0x0120), answering.to_le_bytes().to_vec()),
        (
            (0x0000, 0x0800),
            if data { 0x0001u16 } else { 0x0101 }.to_le_bytes().to_vec(),
        ),
        ((0x0000, 0x0900), status.to_le_bytes().to_vec()),
    ];
    if field == C_GET_RSP && status == PENDING {
        for (element, count) in [(0x1020, 1u16), (0x1021, 0), (0x1022, 0), (0x1023, 0)] {
            elements.push(((0x0000, element), count.to_le_bytes().to_vec()));
        }
    }
    let body = dataset(&elements);
    // The command group's length first (PS3.7 E.1).
    let mut out = dataset(&[((0x0000, 0x0000), (body.len() as u32).to_le_bytes().to_vec())]);
    out.extend(body);
    out
}

/// Elements in implicit VR little endian, in the order given (ascending tags), each value
/// padded to an even length (a UID with NUL, text with a space).
fn dataset(elements: &[((u16, u16), Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for ((group, element), value) in elements {
        let mut value = value.clone();
        if value.len() % 2 == 1 {
            let uid = value.iter().all(|b| b.is_ascii_digit() || *b == b'.');
            value.push(if uid { 0 } else { b' ' });
        }
        out.extend(group.to_le_bytes());
        out.extend(element.to_le_bytes());
        out.extend((value.len() as u32).to_le_bytes());
        out.extend(value);
    }
    out
}

/// An element's value in implicit VR little endian bytes (no sequences: a query has none).
fn value_of(bytes: &[u8], tag: (u16, u16)) -> Option<&[u8]> {
    let mut at = 0;
    while at + 8 <= bytes.len() {
        let group = u16::from_le_bytes([bytes[at], bytes[at + 1]]);
        let element = u16::from_le_bytes([bytes[at + 2], bytes[at + 3]]);
        let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
        let value = bytes.get(at + 8..at + 8 + len)?;
        if (group, element) == tag {
            return Some(value);
        }
        at += 8 + len;
    }
    None
}

fn u16_of(command: &[u8], element: u16) -> u16 {
    let v = value_of(command, (0x0000, element)).unwrap_or(&[0, 0]);
    u16::from_le_bytes([v[0], v[1]])
}

fn text_of(identifier: &[u8], tag: (u16, u16)) -> String {
    let v = value_of(identifier, tag).unwrap_or_default();
    String::from_utf8_lossy(v)
        .trim_end_matches(['\0', ' '])
        .to_string()
}

/// A request: its presentation context, command and identifier.
type Request = (u8, Vec<u8>, Vec<u8>);

/// The next request; `None` once the client releases or aborts.
fn read_request(
    assoc: &mut dicom_ul::ServerAssociation<TcpStream>,
) -> Result<Option<Request>, String> {
    let mut command = Vec::new();
    let mut identifier = Vec::new();
    let mut context = 0;
    let mut command_done = false;
    loop {
        match assoc.receive().map_err(|e| e.to_string())? {
            Pdu::PData { data } => {
                for pdv in data {
                    context = pdv.presentation_context_id;
                    match pdv.value_type {
                        PDataValueType::Command => {
                            command.extend(pdv.data);
                            command_done = pdv.is_last;
                        }
                        PDataValueType::Data => {
                            identifier.extend(pdv.data);
                            if pdv.is_last {
                                return Ok(Some((context, command, identifier)));
                            }
                        }
                    }
                }
                // A request with no data set ends with its command.
                if command_done && u16_of(&command, 0x0800) == 0x0101 {
                    return Ok(Some((context, command, identifier)));
                }
            }
            Pdu::ReleaseRQ => {
                let _ = assoc.send(&Pdu::ReleaseRP);
                return Ok(None);
            }
            _ => return Ok(None),
        }
    }
}

/// Sends `bytes` as P-DATA on `ctx`, 16 KiB a PDU (within what the client accepts).
fn send(
    assoc: &mut dicom_ul::ServerAssociation<TcpStream>,
    ctx: u8,
    kind: PDataValueType,
    bytes: &[u8],
) -> Served {
    let mut chunks = bytes.chunks(16 * 1024).peekable();
    while let Some(chunk) = chunks.next() {
        assoc
            .send(&Pdu::PData {
                data: vec![PDataValue {
                    presentation_context_id: ctx,
                    value_type: kind.clone(),
                    is_last: chunks.peek().is_none(),
                    data: chunk.to_vec(),
                }],
            })
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn attending() -> Home {
    let home = Home::new();
    home.ok(&["init", "--name", "Dr Ada", "--role", "attending", "--admin"]);
    home
}

/// A prior's report asked of `archive`: refused with `code`, the error naming the archive and
/// saying `words`; nothing stored (no study, no report, no fetched file).
fn refused_and_nothing_stored(home: &Home, archive: &str, code: &str, words: &str) {
    let run = home.run(&[
        "prior-report",
        "--study",
        STUDY,
        "--pacs",
        archive,
        "--patient-id",
        "PAT-0001",
    ]);
    assert_eq!(run.error_code(), code, "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!("archive {archive}")),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains(words), "{}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert_eq!(home.ok(&["studies"]), serde_json::json!([]));
    assert_eq!(home.ok(&["report", "list"]), serde_json::json!([]));
    let fetched = home.dir.join("prior-reports");
    if fetched.exists() {
        assert_eq!(
            crate::common::every_file(&fetched),
            Vec::<std::path::PathBuf>::new()
        );
    }
}

/// Over DIMSE: 20 identifiers of 900 000 bytes each (18 MB, every one within its own 1 MiB
/// bound) listing the study's report instances are past the listing's 16 MiB together. With
/// the cap removed all twenty are listed and the C-GET that follows fails otherwise
/// (`pacs_refused`), so the test fails.
#[test]
fn a_dimse_report_listing_past_16_mib_is_refused_naming_the_archive() {
    let (answers, padding) = (20, 900_000);
    assert!(answers * padding > LISTING_CAP && padding < 1024 * 1024);
    let archive = HostileDimse::start(Fault::HugeListing { answers, padding });
    let home = attending();
    home.ok(&["pacs", "add", "hostile", "--dimse", &archive.address()]);
    refused_and_nothing_stored(
        &home,
        "hostile",
        "pacs_too_large",
        "the C-FIND answers for a study's reports",
    );
}

/// Over DICOMweb: the listing of the SR series' instances is a 200 of 17 MiB of JSON (one
/// instance with a long text). With the cap removed the answer is read whole and the prior's
/// report fails another way (`pacs_malformed`), so the test fails.
#[test]
fn a_dicomweb_report_listing_past_16_mib_is_refused_naming_the_archive() {
    let series = format!(
        "[{{\"00080060\":{{\"vr\":\"CS\",\"Value\":[\"SR\"]}},\
         \"0020000E\":{{\"vr\":\"UI\",\"Value\":[\"{SERIES}\"]}}}}]"
    );
    let mut instances = format!(
        "[{{\"00080016\":{{\"vr\":\"UI\",\"Value\":[\"{BASIC_TEXT_SR}\"]}},\
         \"00080018\":{{\"vr\":\"UI\",\"Value\":[\"2.25.8000\"]}},\
         \"0040A160\":{{\"vr\":\"UT\",\"Value\":[\""
    )
    .into_bytes();
    instances.extend(std::iter::repeat_n(b'x', LISTING_CAP + 1024 * 1024));
    instances.extend(b"\"]}}]");
    let http = |body: &[u8]| {
        let mut answer = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/dicom+json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .into_bytes();
        answer.write_all(body).unwrap();
        answer
    };
    let archive = Garbage::routed(
        vec![
            ("/instances", http(&instances)),
            ("/series ", http(series.as_bytes())),
        ],
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(),
    );
    let home = attending();
    home.ok(&["pacs", "add", "hostile", "--dicomweb", &archive.url()]);
    refused_and_nothing_stored(&home, "hostile", "pacs_too_large", "16777216");
}

/// The one-instance C-GET of a listed SR answered with 1500 pending responses and no
/// instance: given up after 1000 messages. With the cap removed the C-GET ends in success
/// with nothing brought (`pacs_refused`), so the test fails.
#[test]
fn a_dimse_report_fetch_past_1000_messages_is_refused_naming_the_archive() {
    let archive = HostileDimse::start(Fault::EndlessGet { pending: 1500 });
    let home = attending();
    home.ok(&["pacs", "add", "hostile", "--dimse", &archive.address()]);
    refused_and_nothing_stored(
        &home,
        "hostile",
        "pacs_malformed",
        "more than 1000 messages for one instance's C-GET",
    );
}
