//! Real archives for the PACS tests: Debian's Orthanc (with its DICOMweb plugin) and DCMTK's
//! `dcmqrscp`, each started on loopback with a private configuration, free ports and temporary
//! storage (never a system service), seeded with phantom studies, and stopped on drop.
//! Readiness is polled (Orthanc's `/system`, `echoscu`) against a deadline, never slept on.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;

/// How long an archive may take to come up on a busy two-core machine.
const READY: Duration = Duration::from_secs(60);
/// Between two readiness probes.
const POLL: Duration = Duration::from_millis(50);
/// Where Debian's orthanc-dicomweb puts its plugin.
const DICOMWEB_PLUGIN: &str = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so";
/// The AE title dcmqrscp answers to.
pub const DCMQRSCP_AET: &str = "ARCHIVE";

/// A port nothing listens on now (the kernel's pick; the server binds it right after).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Kills and reaps the child: it is ours, started by this test.
fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Polls `ready` until it holds, the child exits, or the deadline passes.
fn wait_until(child: &mut Child, what: &str, log: &Path, mut ready: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + READY;
    while Instant::now() < deadline {
        if ready() {
            return true;
        }
        if let Ok(Some(status)) = child.try_wait() {
            eprintln!(
                "{what} exited ({status}) before it was ready:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
            return false;
        }
        std::thread::sleep(POLL);
    }
    panic!(
        "{what} was not ready within {READY:?}:\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

fn log_file(dir: &Path, name: &str) -> (PathBuf, Stdio, Stdio) {
    let path = dir.join(name);
    let file = std::fs::File::create(&path).unwrap();
    let err = file.try_clone().unwrap();
    (path, Stdio::from(file), Stdio::from(err))
}

/// An Orthanc with the DICOMweb plugin, on loopback.
pub struct Orthanc {
    child: Child,
    pub http_port: u16,
    agent: ureq::Agent,
    /// The harness's own `Authorization` header when the server asks for credentials (its
    /// first registered user).
    auth: Option<String>,
    _dir: tempfile::TempDir,
}

impl Orthanc {
    pub fn start() -> Orthanc {
        Orthanc::start_with_users(&[])
    }

    /// An Orthanc asking every HTTP request for credentials (`AuthenticationEnabled`) of one
    /// of `users` (user, password); none: it asks for none. The harness's own calls use the
    /// first user.
    pub fn start_with_users(users: &[(&str, &str)]) -> Orthanc {
        assert!(
            Path::new(DICOMWEB_PLUGIN).exists(),
            "{DICOMWEB_PLUGIN} is missing: `make deps` installs orthanc-dicomweb"
        );
        let dir = tempfile::tempdir().unwrap();
        let auth = users.first().map(|(u, p)| {
            use base64::Engine as _;
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
            )
        });
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        // A port taken between our pick and Orthanc's bind makes it exit: try again, anew.
        for _ in 0..5 {
            let http_port = free_port();
            let config = serde_json::json!({
                "Name": "countersign-test",
                "StorageDirectory": dir.path().join("storage"),
                "IndexDirectory": dir.path().join("index"),
                "HttpPort": http_port,
                // Only its DICOMweb is used: no DICOM port listening on every interface.
                "DicomServerEnabled": false,
                "RemoteAccessAllowed": false,
                "AuthenticationEnabled": !users.is_empty(),
                "RegisteredUsers": users
                    .iter()
                    .map(|(u, p)| (u.to_string(), serde_json::json!(p)))
                    .collect::<serde_json::Map<_, _>>(),
                "Plugins": [DICOMWEB_PLUGIN],
                "DicomWeb": {"Enable": true, "Root": "/dicom-web/"},
                "StorageCompression": false,
                "SaveJobs": false,
                "HttpThreadsCount": 4,
            });
            let config_path = dir.path().join("orthanc.json");
            std::fs::write(&config_path, config.to_string()).unwrap();
            let (log, out, err) = log_file(dir.path(), "orthanc.log");
            let mut child = Command::new("Orthanc")
                .arg(&config_path)
                .current_dir(dir.path())
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err)
                .spawn()
                .expect("Orthanc (Debian's orthanc package) is installed by `make deps`");
            let url = format!("http://127.0.0.1:{http_port}/system");
            let up = wait_until(&mut child, "Orthanc", &log, || {
                let mut request = agent.get(&url);
                if let Some(auth) = &auth {
                    request = request.header("Authorization", auth);
                }
                request.call().map(|r| r.status() == 200).unwrap_or(false)
            });
            if up {
                return Orthanc {
                    child,
                    http_port,
                    agent,
                    auth,
                    _dir: dir,
                };
            }
            stop(&mut child);
        }
        panic!("Orthanc did not start on five free ports");
    }

    pub fn dicomweb_url(&self) -> String {
        format!("http://127.0.0.1:{}/dicom-web", self.http_port)
    }

    /// Stores a file through Orthanc's own REST API (`POST /instances`).
    pub fn upload(&self, file: &Path) {
        let bytes = std::fs::read(file).unwrap();
        let mut response = self
            .post(format!("http://127.0.0.1:{}/instances", self.http_port))
            .header("Content-Type", "application/dicom")
            .send(&bytes[..])
            .unwrap();
        let body = response.body_mut().read_to_string().unwrap();
        assert_eq!(response.status(), 200, "{}: {body}", file.display());
    }
}

impl Orthanc {
    /// A `GET` by the harness itself, with its credentials when the server asks for some.
    fn get(&self, url: String) -> ureq::RequestBuilder<ureq::typestate::WithoutBody> {
        let request = self.agent.get(url);
        match &self.auth {
            Some(auth) => request.header("Authorization", auth),
            None => request,
        }
    }

    /// A `POST` by the harness itself, as [`Orthanc::get`].
    fn post(&self, url: String) -> ureq::RequestBuilder<ureq::typestate::WithBody> {
        let request = self.agent.post(url);
        match &self.auth {
            Some(auth) => request.header("Authorization", auth),
            None => request,
        }
    }

    /// Orthanc's own ids of the instances with this SOP Instance UID (its REST API's
    /// `/tools/find`: not through DICOMweb, so the check does not lean on what is tested).
    pub fn find_instance(&self, sop_instance: &str) -> Vec<String> {
        let query =
            serde_json::json!({"Level": "Instance", "Query": {"SOPInstanceUID": sop_instance}});
        let mut response = self
            .post(format!("http://127.0.0.1:{}/tools/find", self.http_port))
            .header("Content-Type", "application/json")
            .send(query.to_string().as_bytes())
            .unwrap();
        let body = response.body_mut().read_to_string().unwrap();
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"))
    }

    /// The file Orthanc stores for one of its instance ids.
    pub fn instance_file(&self, id: &str) -> Vec<u8> {
        let mut response = self
            .get(format!(
                "http://127.0.0.1:{}/instances/{id}/file",
                self.http_port
            ))
            .call()
            .unwrap();
        assert_eq!(response.status(), 200);
        response
            .body_mut()
            .with_config()
            .limit(1 << 30)
            .read_to_vec()
            .unwrap()
    }
}

impl Orthanc {
    /// The PDF Orthanc finds encapsulated in one of its instances (its REST API's `/pdf`).
    pub fn instance_pdf(&self, id: &str) -> Vec<u8> {
        let mut response = self
            .get(format!(
                "http://127.0.0.1:{}/instances/{id}/pdf",
                self.http_port
            ))
            .call()
            .unwrap();
        assert_eq!(response.status(), 200);
        response
            .body_mut()
            .with_config()
            .limit(1 << 30)
            .read_to_vec()
            .unwrap()
    }
}

impl Drop for Orthanc {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// DCMTK's dcmqrscp, a DIMSE-only archive, on loopback.
pub struct Dcmqrscp {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl Dcmqrscp {
    pub fn start() -> Dcmqrscp {
        Dcmqrscp::start_knowing(&[])
    }

    /// Started knowing these C-MOVE destinations: AE titles at ports of 127.0.0.1.
    pub fn start_knowing(destinations: &[(&str, u16)]) -> Dcmqrscp {
        let hosts: String = destinations
            .iter()
            .enumerate()
            .map(|(i, (aet, port))| format!("dest{i} = ({aet}, 127.0.0.1, {port})\n"))
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let storage = dir.path().join("db");
        std::fs::create_dir(&storage).unwrap();
        for _ in 0..5 {
            let port = free_port();
            let config = format!(
                "NetworkTCPPort = {port}\nMaxPDUSize = 16384\nMaxAssociations = 16\n\
                 HostTable BEGIN\n{hosts}HostTable END\nVendorTable BEGIN\nVendorTable END\n\
                 AETable BEGIN\n{DCMQRSCP_AET} {} RW (1000, 1024mb) ANY\nAETable END\n",
                storage.display()
            );
            let config_path = dir.path().join("dcmqrscp.cfg");
            std::fs::write(&config_path, config).unwrap();
            let (log, out, err) = log_file(dir.path(), "dcmqrscp.log");
            // Its default mode, a child process per association (each ends with its
            // association): Debian's 3.6.7 crashes after the first association in
            // --single-process mode.
            let mut child = Command::new("dcmqrscp")
                // Verbose: the log says which requests it served (see `log`).
                .arg("-v")
                .arg("-c")
                .arg(&config_path)
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err)
                .spawn()
                .expect("dcmqrscp (Debian's dcmtk) is installed by `make deps`");
            let up = wait_until(&mut child, "dcmqrscp", &log, || {
                Command::new("echoscu")
                    .args(["-aec", DCMQRSCP_AET, "127.0.0.1", &port.to_string()])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .map(|s| s.success())
                    .unwrap_or(false)
            });
            if up {
                return Dcmqrscp { child, port, dir };
            }
            stop(&mut child);
        }
        panic!("dcmqrscp did not start on five free ports");
    }

    /// `AET@HOST:PORT`.
    pub fn address(&self) -> String {
        format!("{DCMQRSCP_AET}@127.0.0.1:{}", self.port)
    }

    /// What dcmqrscp has logged (verbose: each request it received).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dcmqrscp.log")).unwrap_or_default()
    }

    /// Every DICOM file dcmqrscp has stored (its storage folder, read directly: not through
    /// the DIMSE client under test).
    pub fn stored_files(&self) -> Vec<PathBuf> {
        crate::common::every_file(&self.dir.path().join("db"))
            .into_iter()
            .filter(|f| {
                std::fs::read(f)
                    .map(|b| b.len() > 132 && &b[128..132] == b"DICM")
                    .unwrap_or(false)
            })
            .collect()
    }

    /// Stores files with DCMTK's `storescu`.
    pub fn store(&self, files: &[PathBuf]) {
        let out = Command::new("storescu")
            .args(["-aec", DCMQRSCP_AET, "127.0.0.1", &self.port.to_string()])
            .args(files)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "storescu: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Dcmqrscp {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// A phantom study as a test seeds it: its UID and files.
pub struct Seeded {
    pub study: String,
    pub date: String,
    pub files: Vec<PathBuf>,
}

/// A DICOMweb "archive" (a [`Garbage`] server) that lists `study` as [`PATIENT`]'s and sends
/// `parts` as its instances.
pub fn archive_sending(study: &str, parts: &[&[u8]]) -> Garbage {
    let search = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/dicom+json\r\nConnection: close\r\n\r\n\
         [{{\"0020000D\": {{\"vr\": \"UI\", \"Value\": [\"{study}\"]}}, \
         \"00100020\": {{\"vr\": \"LO\", \"Value\": [\"{PATIENT}\"]}}}}]"
    )
    .into_bytes();
    let mut body = Vec::new();
    for part in parts {
        body.extend_from_slice(b"--XyZ\r\nContent-Type: application/dicom\r\n\r\n");
        body.extend_from_slice(part);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"--XyZ--\r\n");
    let mut retrieve = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: multipart/related; type=\"application/dicom\"; \
         boundary=XyZ\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    retrieve.extend_from_slice(&body);
    Garbage::start(search, retrieve)
}

/// The patient of every seeded study (a phantom: no real person).
pub const PATIENT: &str = "PHANTOM-0001";

/// Writes a small phantom CT study of [`PATIENT`] dated `date` (YYYYMMDD) into `dir`, with
/// its own accession. `other_patient`: the instance numbers (from 1) that carry another
/// Patient ID instead — the wrong-patient case.
pub fn phantom_study(dir: &Path, seed: &str, date: &str, other_patient: &[usize]) -> Seeded {
    let spec = countersign_imaging::PhantomSpec {
        seed: seed.to_string(),
        slices: 3,
        size: 32,
        ..Default::default()
    };
    let out = dir.join(seed);
    let files = countersign_imaging::write_phantom_series(&spec, &out).unwrap();
    for (i, file) in files.iter().enumerate() {
        let mut obj = dicom_object::open_file(file).unwrap();
        let put = |obj: &mut dicom_object::DefaultDicomObject, tag, vr, v: &str| {
            obj.put(DataElement::new(tag, vr, PrimitiveValue::from(v)));
        };
        put(&mut obj, tags::STUDY_DATE, VR::DA, date);
        put(&mut obj, tags::SERIES_DATE, VR::DA, date);
        put(&mut obj, tags::CONTENT_DATE, VR::DA, date);
        put(
            &mut obj,
            tags::ACCESSION_NUMBER,
            VR::SH,
            &format!("ACC{date}"),
        );
        let id = if other_patient.contains(&(i + 1)) {
            "SOMEONE-ELSE-0002"
        } else {
            PATIENT
        };
        put(&mut obj, tags::PATIENT_ID, VR::LO, id);
        obj.write_to_file(file).unwrap();
    }
    Seeded {
        study: countersign_imaging::phantom_study_uid(seed),
        date: date.to_string(),
        files,
    }
}

/// A loopback HTTP server standing for an archive gone wrong: it answers a search
/// (`/studies?…`) with `search` and anything else (a retrieval) with `retrieve`, raw bytes,
/// status line included (or, made with `routed`, the answer of the first route whose text
/// the request line holds). It stops when dropped (a last connection wakes its accept loop).
pub struct Garbage {
    pub port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Garbage {
    pub fn start(search: Vec<u8>, retrieve: Vec<u8>) -> Garbage {
        Garbage::serve(search, retrieve, false, Vec::new())
    }

    /// As `start`, but a retrieval's answer stops after `retrieve` with the connection left
    /// open: an archive that stops sending mid-transfer.
    pub fn stalling(search: Vec<u8>, retrieve: Vec<u8>) -> Garbage {
        Garbage::serve(search, retrieve, true, Vec::new())
    }

    /// Answers a request whose line holds a route's text (the first that does) with that
    /// route's bytes, anything else with `otherwise`.
    pub fn routed(routes: Vec<(&'static str, Vec<u8>)>, otherwise: Vec<u8>) -> Garbage {
        Garbage::serve(otherwise.clone(), otherwise, false, routes)
    }

    fn serve(
        search: Vec<u8>,
        retrieve: Vec<u8>,
        stall: bool,
        routes: Vec<(&'static str, Vec<u8>)>,
    ) -> Garbage {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            // At most 64 requests: a test makes a handful.
            for stream in listener.incoming().take(64) {
                if stopping.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(mut stream) = stream else { continue };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                // Read the request head (bounded), then answer and close.
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let line = head.split(|b| *b == b'\n').next().unwrap_or_default();
                let routed = routes
                    .iter()
                    .find(|(holds, _)| line.windows(holds.len()).any(|w| w == holds.as_bytes()));
                if let Some((_, answer)) = routed {
                    let _ = stream.write_all(answer);
                    continue;
                }
                let is_search = line.windows(9).any(|w| w == b"/studies?");
                let _ = stream.write_all(if is_search { &search } else { &retrieve });
                if stall && !is_search {
                    // Hold the connection until the client gives up and closes it (bounded).
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
                    let _ = stream.read(&mut buf);
                }
            }
        });
        Garbage {
            port,
            stop,
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/dicom-web", self.port)
    }
}

impl Drop for Garbage {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A loopback TCP server that accepts connections and never says a word: an archive that
/// stopped answering. It stops when dropped.
pub struct Silent {
    pub port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Silent {
    pub fn start() -> Silent {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            // Connections are held open (at most 64) until the server is dropped.
            let mut held = Vec::new();
            for stream in listener.incoming().take(64) {
                if stopping.load(Ordering::SeqCst) {
                    return;
                }
                held.extend(stream.ok());
            }
        });
        Silent {
            port,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Silent {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
