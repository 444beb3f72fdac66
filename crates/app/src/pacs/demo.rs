//! A demo archive for newcomers: Debian's Orthanc started on loopback with a private
//! configuration in a folder of the home (never the system service), on a free port, with its
//! DICOMweb plugin; seeded with synthetic phantom studies (several of one patient across dates,
//! so priors exist, and one of another patient) through this crate's own STOW-RS client; and
//! added to the home as the archive [`DEMO_ARCHIVE`]. It runs as long as the returned
//! [`DemoArchive`] lives: dropping it stops Orthanc.
//!
//! Nothing here is a hospital's data: the phantom is computed, and its patients are invented.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use countersign_imaging::{phantom_study_uid, write_phantom_series, PhantomSpec};
use countersign_pacs::{DicomWeb, Part10};
use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;

use super::*;

/// The name the demo archive is added under.
pub const DEMO_ARCHIVE: &str = "demo";
/// Where Debian's orthanc-dicomweb puts its plugin.
const DICOMWEB_PLUGIN: &str = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so";
/// The demo archive's folder, inside the home.
const DEMO_DIR: &str = "demo-archive";
/// How long Orthanc may take to answer `/system` on a busy two-core machine.
const READY: Duration = Duration::from_secs(60);
/// Between two readiness probes.
const POLL: Duration = Duration::from_millis(50);
/// Free ports tried before giving up (a port taken between the pick and Orthanc's bind).
const PORT_TRIES: usize = 5;
/// The file naming the running demo Orthanc's process, in its folder.
const PID_FILE: &str = "orthanc.pid";
/// How long a left-over demo Orthanc may take to die once killed.
const STOPPED: Duration = Duration::from_secs(5);

/// One seeded study: its seed, date, patient, description and size.
struct DemoStudy {
    seed: &'static str,
    date: &'static str,
    patient: (&'static str, &'static str),
    description: &'static str,
    slices: u32,
}

const FIRST: (&str, &str) = ("PHANTOM-0001", "Phantom^Shepp-Logan");
const SECOND: (&str, &str) = ("PHANTOM-0002", "Phantom^Second");

/// The seeded studies: the first patient's four, newest first, and one of another patient.
const STUDIES: [DemoStudy; 5] = [
    DemoStudy {
        seed: "countersign demo archive 4",
        date: "20260220",
        patient: FIRST,
        description: "CT head follow-up",
        slices: 24,
    },
    DemoStudy {
        seed: "countersign demo archive 3",
        date: "20260105",
        patient: FIRST,
        description: "CT head follow-up",
        slices: 16,
    },
    DemoStudy {
        seed: "countersign demo archive 2",
        date: "20250902",
        patient: FIRST,
        description: "CT head",
        slices: 16,
    },
    DemoStudy {
        seed: "countersign demo archive 1",
        date: "20250314",
        patient: FIRST,
        description: "CT head baseline",
        slices: 16,
    },
    DemoStudy {
        seed: "countersign demo archive 5",
        date: "20260211",
        patient: SECOND,
        description: "CT head",
        slices: 16,
    },
];
/// Rows and columns of every seeded slice (small: the demo starts in seconds).
const SLICE_SIZE: u16 = 128;
/// The most instances the demo seeds.
pub const MAX_DEMO_INSTANCES: u32 = 300;

/// The Orthanc program: where Debian installs it, else on `PATH` (another install) — Debian's
/// first, so a directory early on `PATH` that someone else can write to cannot stand in for it.
fn orthanc_program() -> Option<PathBuf> {
    let debian = PathBuf::from("/usr/sbin/Orthanc");
    if debian.is_file() {
        return Some(debian);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("Orthanc"))
            .find(|p| p.is_file())
    })
}

/// Whether an archive configured as `demo` is one the demo added (DICOMweb on loopback, not
/// storing reports back), which a new start may replace; any other is the user's own.
fn is_demo_config(a: &ArchiveConfig) -> bool {
    matches!(&a.endpoint, ArchiveEndpoint::Dicomweb { url }
        if url.starts_with("http://127.0.0.1:") && url.ends_with("/dicom-web"))
        && !a.store_back
}

/// One demo start at a time in this process: a second would empty the first one's storage.
static STARTING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Whether a demo archive can be started here: Orthanc and its DICOMweb plugin are installed
/// (`make deps` installs Debian's `orthanc` and `orthanc-dicomweb`).
pub fn demo_archive_available() -> bool {
    orthanc_program().is_some() && Path::new(DICOMWEB_PLUGIN).is_file()
}

/// What starting the demo archive did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DemoArchiveSummary {
    pub archive: String,
    pub url: String,
    /// The seeded studies' UIDs, newest first.
    pub studies: Vec<String>,
    pub instances: u64,
    /// From the start of Orthanc to the archive added, seeded.
    pub seconds: f64,
}

/// The running demo archive: Orthanc is stopped when this is dropped.
#[derive(Debug)]
pub struct DemoArchive {
    child: Child,
    summary: DemoArchiveSummary,
}

impl DemoArchive {
    pub fn summary(&self) -> &DemoArchiveSummary {
        &self.summary
    }

    /// Whether Orthanc still runs.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for DemoArchive {
    fn drop(&mut self) {
        // Ours: started by `demo_archive_start`, killed and reaped here.
        let _ = self.child.kill();
        let _ = self.child.wait();
        tracing::info!("demo archive stopped");
    }
}

/// A port nothing listens on now (the kernel's pick; Orthanc binds it right after).
fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(AppError::io("finding a free port for the demo archive"))?;
    let port = listener
        .local_addr()
        .map_err(AppError::io("finding a free port for the demo archive"))?
        .port();
    Ok(port)
}

/// Stops the demo Orthanc a previous run left behind (the app was killed before it could stop
/// it): the process [`PID_FILE`] names, only if it is still that Orthanc — its command line names
/// this folder's configuration — never another program that reused the number.
fn stop_left_over(dir: &Path) {
    let Some(pid) = std::fs::read_to_string(dir.join(PID_FILE))
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok())
        .filter(|pid| *pid > 1)
    else {
        return;
    };
    let config = dir.join("orthanc.json");
    let ours = std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmdline| {
        cmdline
            .split(|b| *b == 0)
            .any(|arg| arg == config.as_os_str().as_encoded_bytes())
    });
    if !ours {
        return;
    }
    #[cfg(unix)]
    {
        use nix::sys::signal::{kill, Signal};
        let _ = kill(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL);
    }
    tracing::warn!(
        pid,
        "a demo archive left running by an earlier run was stopped"
    );
    // Gone, or a zombie (when this very process started it): either way it holds nothing.
    let deadline = Instant::now() + STOPPED;
    while Instant::now() < deadline {
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok();
        let dead = state.as_deref().is_none_or(|stat| {
            stat.rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
        });
        if dead {
            return;
        }
        std::thread::sleep(POLL);
    }
}

/// Stores `files` into `study` on the demo archive through STOW-RS; how many.
fn stow(web: &DicomWeb, study: &str, files: &[PathBuf]) -> Result<u64> {
    for file in files {
        let bytes =
            std::fs::read(file).map_err(AppError::io(format!("reading {}", file.display())))?;
        Part10::parse(&bytes)
            .and_then(|p| web.store(study, &p))
            .map_err(|e| AppError::Pacs {
                archive: DEMO_ARCHIVE.into(),
                source: e,
            })?;
    }
    Ok(files.len() as u64)
}

/// Kills and reaps a child that did not come up.
fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

fn demo_error(why: String) -> AppError {
    AppError::Pacs {
        archive: DEMO_ARCHIVE.into(),
        source: PacsError::Unreachable(why),
    }
}

/// Starts Orthanc with its configuration in `dir`; polls `/system` until it answers, the
/// program exits (then the next free port is tried) or [`READY`] passes.
fn start_orthanc(program: &Path, dir: &Path) -> Result<(Child, u16)> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(2)))
        .build()
        .into();
    for _ in 0..PORT_TRIES {
        let port = free_port()?;
        let config = serde_json::json!({
            "Name": "countersign-demo",
            "StorageDirectory": dir.join("storage"),
            "IndexDirectory": dir.join("index"),
            "HttpPort": port,
            // Loopback only, and only HTTP: no DICOM port listening on every interface.
            "DicomServerEnabled": false,
            "RemoteAccessAllowed": false,
            "AuthenticationEnabled": false,
            // Nothing the REST API is asked can run code or write outside its storage.
            "ExecuteLuaEnabled": false,
            "RestApiWriteToFileSystemEnabled": false,
            "Plugins": [DICOMWEB_PLUGIN],
            "DicomWeb": {"Enable": true, "Root": "/dicom-web/"},
            "StorageCompression": false,
            "SaveJobs": false,
            "HttpThreadsCount": 4,
        });
        let config_path = dir.join("orthanc.json");
        std::fs::write(&config_path, config.to_string())
            .map_err(AppError::io(format!("writing {}", config_path.display())))?;
        let log_path = dir.join("orthanc.log");
        let log = std::fs::File::create(&log_path)
            .map_err(AppError::io(format!("creating {}", log_path.display())))?;
        let err = log
            .try_clone()
            .map_err(AppError::io(format!("opening {}", log_path.display())))?;
        let mut child = Command::new(program)
            .arg(&config_path)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(err))
            .spawn()
            .map_err(|e| demo_error(format!("Orthanc did not start: {e}")))?;
        let url = format!("http://127.0.0.1:{port}/system");
        let deadline = Instant::now() + READY;
        loop {
            if agent.get(&url).call().is_ok() {
                return Ok((child, port));
            }
            if let Ok(Some(status)) = child.try_wait() {
                tracing::warn!(port, %status, "demo Orthanc exited before it answered; another port");
                break;
            }
            if Instant::now() >= deadline {
                stop(&mut child);
                return Err(demo_error(format!(
                    "Orthanc did not answer within {}s (see {})",
                    READY.as_secs(),
                    log_path.display()
                )));
            }
            std::thread::sleep(POLL);
        }
        stop(&mut child);
    }
    Err(demo_error(format!(
        "Orthanc did not start on {PORT_TRIES} free ports (see {})",
        dir.join("orthanc.log").display()
    )))
}

/// Writes one demo study into `dir`: the phantom series, dated, with its own patient and
/// accession.
fn write_study(study: &DemoStudy, dir: &Path) -> Result<Vec<PathBuf>> {
    let spec = PhantomSpec {
        seed: study.seed.to_string(),
        slices: study.slices,
        size: SLICE_SIZE,
        ..Default::default()
    };
    let files = write_phantom_series(&spec, &dir.join(study.date))?;
    let bad = |e: String| AppError::InvalidInput(format!("writing the demo studies: {e}"));
    for file in &files {
        let mut obj = dicom_object::open_file(file).map_err(|e| bad(e.to_string()))?;
        let mut put = |tag, vr, v: &str| {
            obj.put(DataElement::new(tag, vr, PrimitiveValue::from(v)));
        };
        put(tags::STUDY_DATE, VR::DA, study.date);
        put(tags::SERIES_DATE, VR::DA, study.date);
        put(tags::CONTENT_DATE, VR::DA, study.date);
        put(
            tags::ACCESSION_NUMBER,
            VR::SH,
            &format!("DEMO{}", study.date),
        );
        put(tags::STUDY_DESCRIPTION, VR::LO, study.description);
        put(tags::PATIENT_ID, VR::LO, study.patient.0);
        put(tags::PATIENT_NAME, VR::PN, study.patient.1);
        obj.write_to_file(file).map_err(|e| bad(e.to_string()))?;
    }
    Ok(files)
}

impl Home {
    /// The phantom of this home's demo study, if the home has a network and holds that study.
    fn own_demo_study(&self) -> Result<Option<PhantomSpec>> {
        let Ok(network) = self.state().and_then(|s| s.network()) else {
            return Ok(None);
        };
        let spec = crate::demo::demo_phantom(&network.to_string());
        let held = self
            .store()
            .db()
            .study_head(&phantom_study_uid(&spec.seed))?
            .is_some();
        Ok(held.then_some(spec))
    }

    /// Starts the demo archive (see the module's doc): any demo archive this home had before is
    /// replaced (its folder emptied, the archive named [`DEMO_ARCHIVE`] re-added at the new port).
    pub fn demo_archive_start(&mut self) -> Result<DemoArchive> {
        let program = orthanc_program().ok_or_else(|| {
            demo_error("Orthanc is not installed (`make deps` installs Debian's orthanc)".into())
        })?;
        if !Path::new(DICOMWEB_PLUGIN).is_file() {
            return Err(demo_error(format!(
                "{DICOMWEB_PLUGIN} is missing (`make deps` installs orthanc-dicomweb)"
            )));
        }
        let _one = STARTING.lock().unwrap_or_else(|p| p.into_inner());
        // Never in place of the user's own archive that happens to be called `demo`.
        if let Some(own) = self
            .pacs_list()?
            .into_iter()
            .find(|a| a.name == DEMO_ARCHIVE && !is_demo_config(a))
        {
            return Err(AppError::InvalidInput(format!(
                "an archive named {} is configured and is not the demo's: remove or rename it first",
                own.name
            )));
        }
        let started = Instant::now();
        let dir = self.dir().join(DEMO_DIR);
        stop_left_over(&dir);
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .map_err(AppError::io(format!("emptying {}", dir.display())))?;
        }
        // Inside the home, whose own folder is private to its user.
        std::fs::create_dir_all(&dir)
            .map_err(AppError::io(format!("creating {}", dir.display())))?;
        let (child, port) = start_orthanc(&program, &dir)?;
        // For the next start, should this process die before it stops Orthanc.
        let _ = std::fs::write(dir.join(PID_FILE), child.id().to_string());
        let mut archive = DemoArchive {
            child,
            summary: DemoArchiveSummary {
                archive: DEMO_ARCHIVE.into(),
                url: format!("http://127.0.0.1:{port}/dicom-web"),
                studies: Vec::new(),
                instances: 0,
                seconds: 0.0,
            },
        };
        // From here on an error drops `archive`, which stops Orthanc.
        let web =
            DicomWeb::new(&archive.summary.url, Limits::default()).map_err(|e| AppError::Pacs {
                archive: DEMO_ARCHIVE.into(),
                source: e,
            })?;
        let seeds = dir.join("seed");
        let mut instances = 0u64;
        for study in &STUDIES {
            let uid = phantom_study_uid(study.seed);
            instances += stow(&web, &uid, &write_study(study, &seeds)?)?;
            archive.summary.studies.push(uid);
        }
        // This home's own demo study ("Open demo"), when it holds it: the same phantom, made
        // again (it is deterministic), so the worklist shows a study already here, with its report.
        if let Some(spec) = self.own_demo_study()? {
            let uid = phantom_study_uid(&spec.seed);
            instances += stow(
                &web,
                &uid,
                &write_phantom_series(&spec, &seeds.join("own"))?,
            )?;
            archive.summary.studies.push(uid);
        }
        let _ = std::fs::remove_dir_all(&seeds);
        if self.pacs_list()?.iter().any(|a| a.name == DEMO_ARCHIVE) {
            self.pacs_remove(DEMO_ARCHIVE)?;
        }
        self.pacs_add(
            DEMO_ARCHIVE,
            ArchiveEndpoint::Dicomweb {
                url: archive.summary.url.clone(),
            },
            ArchiveOptions::default(),
        )?;
        archive.summary.instances = instances;
        archive.summary.seconds = started.elapsed().as_secs_f64();
        tracing::info!(
            port,
            studies = archive.summary.studies.len(),
            instances,
            seconds = archive.summary.seconds,
            "demo archive started"
        );
        Ok(archive)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A user's own archive named `demo` (a hospital's, storing reports) is never replaced
    /// by starting the demo; the demo's own earlier entry is.
    #[test]
    fn only_the_demos_own_entry_counts_as_the_demo() {
        let config = |url: &str, store_back: bool| ArchiveConfig {
            name: DEMO_ARCHIVE.into(),
            endpoint: ArchiveEndpoint::Dicomweb { url: url.into() },
            timeout_s: DEFAULT_TIMEOUT_S,
            store_back,
            auth: None,
            secret: None,
        };
        assert!(is_demo_config(&config(
            "http://127.0.0.1:40123/dicom-web",
            false
        )));
        assert!(!is_demo_config(&config(
            "http://127.0.0.1:40123/dicom-web",
            true
        )));
        assert!(!is_demo_config(&config(
            "https://pacs.example/dicom-web",
            false
        )));
        let dimse = ArchiveConfig {
            endpoint: ArchiveEndpoint::Dimse {
                address: "ARCHIVE@127.0.0.1:104".into(),
                calling_aet: "COUNTERSIGN".into(),
                move_port: None,
            },
            ..config("", false)
        };
        assert!(!is_demo_config(&dimse));
    }

    #[test]
    fn the_seed_is_bounded_and_gives_priors() {
        // With the home's own demo study, when it holds it.
        let own = crate::demo::demo_phantom("network").slices;
        let total: u32 = STUDIES.iter().map(|s| s.slices).sum::<u32>() + own;
        assert!(total <= MAX_DEMO_INSTANCES, "{total}");
        let first = STUDIES.iter().filter(|s| s.patient == FIRST).count();
        assert!(first >= 2, "a patient with priors");
        let dates: std::collections::BTreeSet<_> = STUDIES.iter().map(|s| s.date).collect();
        assert_eq!(dates.len(), STUDIES.len(), "each study its own date");
    }

    /// The real thing when Orthanc is installed (as `make deps` does): started, seeded, on the
    /// worklist with priors, retrieved, and stopped on drop.
    #[test]
    fn the_demo_archive_starts_seeded_and_stops_on_drop() {
        assert!(
            demo_archive_available(),
            "Orthanc and its DICOMweb plugin are installed by `make deps`"
        );
        let dir = tempfile::tempdir().unwrap();
        let mut home = Home::open(dir.path()).unwrap();
        let mut demo = home.demo_archive_start().unwrap();
        let summary = demo.summary().clone();
        assert_eq!(summary.studies.len(), STUDIES.len());
        let rows = home.worklist(&WorklistQuery::default()).unwrap();
        assert_eq!(rows.len(), STUDIES.len(), "{rows:?}");
        assert!(rows
            .iter()
            .all(|r| r.archive == DEMO_ARCHIVE && r.report == "none"));
        let dates: Vec<_> = rows.iter().map(|r| r.date.clone().unwrap()).collect();
        let mut newest_first = dates.clone();
        newest_first.sort_by(|a, b| b.cmp(a));
        assert_eq!(dates, newest_first);
        let first: Vec<_> = rows
            .iter()
            .filter(|r| r.patient_id.as_deref() == Some(FIRST.0))
            .collect();
        assert_eq!(first.len(), 4, "the priors of one patient");
        assert_eq!(first[0].instances, Some(24));
        // Retrieved from it as from any archive: then local on the worklist.
        let got = home
            .retrieve(DEMO_ARCHIVE, &first[0].study, None, &mut |_| {})
            .unwrap();
        assert_eq!((got.instances, got.refused.len()), (24, 0));
        let rows = home.worklist(&WorklistQuery::default()).unwrap();
        assert_eq!(rows[0].local_instances, 24);
        // Left running (as by an app killed before it could stop it): the next start stops it,
        // and the archive keeps its name, at the new port.
        let url = summary.url.clone();
        assert!(demo.running());
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(2)))
            .build()
            .into();
        std::mem::forget(demo);
        assert!(agent.get(format!("{url}/studies")).call().is_ok());
        let again = home.demo_archive_start().unwrap();
        assert!(
            agent.get(format!("{url}/studies")).call().is_err(),
            "the left-over Orthanc was stopped"
        );
        let listed = home.pacs_list().unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(
            listed[0].endpoint,
            ArchiveEndpoint::Dicomweb {
                url: again.summary().url.clone()
            }
        );
        let url = again.summary().url.clone();
        drop(again);
        // Stopped on drop: the archive no longer answers (its last list is still shown).
        assert!(agent.get(format!("{url}/studies")).call().is_err());
        let kept = home.worklist(&WorklistQuery::default()).unwrap();
        assert!(kept.iter().all(|r| r.archive_answered_ms.is_some()));
    }
}
