//! The PACS commands: the archives (`pacs_list`, `pacs_add`, `pacs_remove`, `pacs_test`), the
//! reading worklist, retrieval with progress, a prior's report, deliveries and the demo
//! archive. Each only translates arguments and calls `countersign-app`.
//!
//! What waits on an archive (the worklist, a test, a retrieval, the demo's start) runs on a
//! blocking thread of its own with a home handle of its own: never the handle writes hold, nor
//! the readers frames and report views are served from. An archive silent until its timeout
//! (30 s by default) therefore delays neither the viewer, nor a signing, nor another command; a
//! retrieval's writes wait only on SQLite's own lock, a batch at a time.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;
use tauri::{AppHandle, Emitter, Manager, Runtime, State};

use countersign_app::pacs::{
    demo_archive_available, ArchiveTest, DemoArchive, DemoArchiveSummary, PriorReport,
    RetrieveProgress, DEFAULT_CALLING_AET,
};
use countersign_app::{
    AppError, ArchiveConfig, ArchiveCredentials, ArchiveEndpoint, ArchiveLogin, ArchiveOptions,
    DeliveryRecord, Home, PriorStudy, Retrieval, WireError, WorklistQuery, WorklistRow,
};

use crate::Desk;

type Reply<T> = Result<T, WireError>;

/// The longest an archive name, URL or address from the webview may be (checked before use).
const MAX_FIELD: usize = 512;
/// The least time between two `retrieve-progress` events of one retrieval: at most a handful
/// a second whatever the study's size, and always the last.
pub const PROGRESS_EVERY: Duration = Duration::from_millis(200);

/// The desktop's PACS state beside the [`Desk`]: the demo archive while it runs.
#[derive(Debug, Default)]
pub struct Archives {
    /// Stopped (Orthanc killed) when taken out and dropped: on a new start, when the window is
    /// destroyed, and when the app exits.
    demo: Mutex<Option<DemoArchive>>,
    /// The program a prior's PDF report is handed to (`xdg-open` unless a test sets another).
    opener: std::sync::OnceLock<std::path::PathBuf>,
}

impl Archives {
    /// Hands PDFs to `program` instead of `xdg-open` (tests: a script that records what it got).
    #[cfg(test)]
    pub(crate) fn set_opener(&self, program: std::path::PathBuf) {
        let _ = self.opener.set(program);
    }

    /// Stops the demo archive, if it runs.
    pub fn stop_demo(&self) {
        let demo = self.demo.lock().unwrap_or_else(|p| p.into_inner()).take();
        drop(demo);
    }
}

fn bounded(what: &str, value: &str) -> Result<(), AppError> {
    if value.len() > MAX_FIELD {
        return Err(AppError::InvalidInput(format!(
            "{what} is longer than {MAX_FIELD} characters"
        )));
    }
    Ok(())
}

/// Runs `f` off the async runtime's workers, on a home handle of its own holding the data keys
/// the desk has now (see the module's doc).
async fn on_own_handle<R: Runtime, T: Send + 'static>(
    app: AppHandle<R>,
    f: impl FnOnce(&mut Home) -> Result<T, AppError> + Send + 'static,
) -> Reply<T> {
    let task = tauri::async_runtime::spawn_blocking(move || {
        let desk = app.state::<Desk>();
        let mut home = desk.open_another()?;
        // Never a prompt, as the desk's own handle: its key is the desk's to unlock.
        home.set_passphrase_source(Some(countersign_app::PassphraseSource::locked()));
        home.use_data_keys(desk.keys.lock().unwrap_or_else(|p| p.into_inner()).clone());
        f(&mut home)
    });
    let result = match task.await {
        Ok(result) => result,
        // The task panicked or was cancelled: said as the I/O failure it is to the caller.
        Err(e) => Err(AppError::Io {
            context: "running an archive task".into(),
            source: std::io::Error::other(e.to_string()),
        }),
    };
    result.map_err(|e| {
        tracing::info!(code = e.code(), error = %e.loggable(), "archive command failed");
        e.to_wire()
    })
}

/// The archives this home knows.
#[tauri::command(async)]
pub(crate) fn pacs_list(desk: State<'_, Desk>) -> Reply<Vec<ArchiveConfig>> {
    desk.read(|h| h.pacs_list())
}

/// Adds an archive: a DICOMweb base URL, or a DIMSE `AET@HOST:PORT` with the AE title this
/// home calls itself (`COUNTERSIGN` unless given), and for an archive without C-GET the port
/// its C-MOVE delivers to; with `store_back`, signed-off reports are sent there; with `login`
/// (DICOMweb), the credentials, sealed by the app under the home's key (`locked` while the key
/// is). Checked, not contacted (`pacs_test` does).
// A command's arguments are the fields of the UI's call, one each (as `pacs add`'s flags).
#[allow(clippy::too_many_arguments)]
#[tauri::command]
pub(crate) fn pacs_add(
    desk: State<'_, Desk>,
    name: String,
    dicomweb: Option<String>,
    dimse: Option<String>,
    calling_aet: Option<String>,
    move_port: Option<u16>,
    store_back: Option<bool>,
    login: Option<LoginArgs>,
) -> Reply<ArchiveConfig> {
    let given = |v: Option<String>| v.map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let (dicomweb, dimse, calling_aet) = (given(dicomweb), given(dimse), given(calling_aet));
    // What the app checks (lengths, characters) it checks; here only which were given.
    let login = (|| {
        let Some(mut login) = login else {
            return Ok(None);
        };
        let allow_cleartext = login.allow_cleartext;
        let credentials = match (
            given(login.user.take()),
            login.password.take().map(zeroize::Zeroizing::new),
            login.token.take().map(zeroize::Zeroizing::new),
        ) {
            (None, None, None) => return Ok(None),
            (Some(user), Some(password), None) => ArchiveCredentials::basic(&user, password),
            (None, None, Some(token)) => ArchiveCredentials::bearer(token),
            _ => {
                return Err(AppError::InvalidInput(
                    "give a user and a password, or a token".into(),
                ))
            }
        }
        .map_err(|e| AppError::InvalidInput(e.to_string()))?;
        Ok(Some(ArchiveLogin {
            credentials,
            allow_cleartext,
        }))
    })()
    .map_err(|e: AppError| e.to_wire())?;
    let endpoint = (|| {
        for (what, v) in [
            ("the name", Some(&name)),
            ("the URL", dicomweb.as_ref()),
            ("the address", dimse.as_ref()),
            ("the calling AE title", calling_aet.as_ref()),
        ] {
            bounded(what, v.map_or("", |v| v))?;
        }
        match (dicomweb, dimse) {
            (Some(url), None) => Ok(ArchiveEndpoint::Dicomweb { url }),
            (None, Some(address)) => Ok(ArchiveEndpoint::Dimse {
                address,
                calling_aet: calling_aet.unwrap_or_else(|| DEFAULT_CALLING_AET.into()),
                move_port,
            }),
            _ => Err(AppError::InvalidInput(
                "give either a DICOMweb URL or a DIMSE address AET@HOST:PORT".into(),
            )),
        }
    })()
    .map_err(|e| e.to_wire())?;
    let options = ArchiveOptions {
        store_back: store_back.unwrap_or(false),
        ..ArchiveOptions::default()
    };
    desk.act(|h| h.pacs_add_with(name.trim(), endpoint, options, login))
}

/// The credentials the Archives pane adds a DICOMweb archive with: a user and password, or a
/// token. What is not moved out is wiped when this is dropped; `Debug` never shows the secret.
#[derive(serde::Deserialize, zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LoginArgs {
    user: Option<String>,
    password: Option<String>,
    token: Option<String>,
    /// Over plain http to a host other than this machine, explicitly.
    #[serde(default)]
    #[zeroize(skip)]
    allow_cleartext: bool,
}

impl std::fmt::Debug for LoginArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginArgs")
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("allow_cleartext", &self.allow_cleartext)
            .finish()
    }
}

/// Forgets an archive.
#[tauri::command]
pub(crate) fn pacs_remove(desk: State<'_, Desk>, name: String) -> Reply<()> {
    desk.act(|h| h.pacs_remove(&name))
}

/// Checks that an archive answers (C-ECHO, or a one-study QIDO-RS search), with the round trip.
#[tauri::command]
pub(crate) async fn pacs_test<R: Runtime>(app: AppHandle<R>, name: String) -> Reply<ArchiveTest> {
    on_own_handle(app, move |h| h.pacs_test(&name)).await
}

/// How one archive answered the worklist's search.
#[derive(Debug, Clone, Serialize)]
pub struct ArchiveAnswer {
    pub archive: String,
    /// `answered` (now), `kept` (it did not answer, or refused this home's credentials: its
    /// rows are its last answer to the same search, of `answered_ms`, and `reason` says which)
    /// or `unreachable` (it did not answer and nothing was kept; `unauthorized` when it
    /// refused the credentials; `locked` when its credentials wait for the key's unlock).
    pub state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answered_ms: Option<u64>,
    /// With `kept`: the code of why its answer is not today's (`pacs_unreachable`,
    /// `pacs_timeout`, `pacs_unauthorized`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Why it did not answer, as every command's errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<WireError>,
}

/// The worklist over every archive asked: the rows, newest first, and how each archive answered
/// (one down does not empty the others' rows).
#[derive(Debug, Clone, Serialize)]
pub struct Worklist {
    pub rows: Vec<WorklistRow>,
    pub archives: Vec<ArchiveAnswer>,
}

/// The reading worklist: studies on the archive(s), each with this department's report state.
/// `since` is `YYYY-MM-DD`; an empty filter is no filter. No archive configured: empty.
#[tauri::command]
pub(crate) async fn worklist<R: Runtime>(
    app: AppHandle<R>,
    archive: Option<String>,
    modality: Option<String>,
    since: Option<String>,
) -> Reply<Worklist> {
    let given = |v: Option<String>| v.map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let (archive, modality, since) = (given(archive), given(modality), given(since));
    on_own_handle(app, move |h| {
        for (what, v) in [("the archive", &archive), ("the modality", &modality)] {
            bounded(what, v.as_deref().unwrap_or(""))?;
        }
        bounded("the date", since.as_deref().unwrap_or(""))?;
        let names: Vec<String> = match archive {
            Some(name) => vec![name],
            None => h.pacs_list()?.into_iter().map(|a| a.name).collect(),
        };
        let mut out = Worklist {
            rows: Vec::new(),
            archives: Vec::new(),
        };
        for name in names {
            let query = WorklistQuery {
                archive: Some(name.clone()),
                modality: modality.clone(),
                since: since.clone(),
                limit: 0,
            };
            match h.worklist(&query) {
                Ok(rows) => {
                    let kept = rows.iter().find_map(|r| r.archive_answered_ms);
                    let reason = rows.iter().find_map(|r| r.archive_error.clone());
                    out.archives.push(ArchiveAnswer {
                        archive: name,
                        state: if kept.is_some() { "kept" } else { "answered" },
                        answered_ms: kept,
                        reason,
                        error: None,
                    });
                    out.rows.extend(rows);
                }
                // An archive that fails is said to; the others' rows stand.
                // Its credentials need the key, which is locked: this archive waits for the
                // unlock, the others answer.
                Err(
                    e @ (AppError::Pacs { .. }
                    | AppError::ArchiveCredentials { .. }
                    | AppError::Locked
                    | AppError::PassphraseRequired(_)),
                ) => out.archives.push(ArchiveAnswer {
                    archive: name,
                    state: match e.code() {
                        "pacs_unauthorized" => "unauthorized",
                        "locked" | "passphrase_required" => "locked",
                        _ => "unreachable",
                    },
                    answered_ms: None,
                    reason: None,
                    error: Some(e.to_wire()),
                }),
                Err(e) => return Err(e),
            }
        }
        out.rows
            .sort_by(|a, b| b.date.cmp(&a.date).then(a.study.cmp(&b.study)));
        Ok(out)
    })
    .await
}

/// The patient's other studies, for the viewer's priors: newest first, with how each archive
/// answered (one down leaves the local priors and the others' listed).
#[derive(Debug, Clone, Serialize)]
pub struct Priors {
    pub priors: Vec<PriorStudy>,
    pub archives: Vec<ArchiveAnswer>,
}

/// The priors of `study`'s patient, here and on every archive (see [`Priors`]).
#[tauri::command]
pub(crate) async fn priors<R: Runtime>(app: AppHandle<R>, study: String) -> Reply<Priors> {
    on_own_handle(app, move |h| {
        bounded("the study", &study)?;
        let (priors, failed) = h.priors_answered(&study, None)?;
        let mut archives: Vec<ArchiveAnswer> = h
            .pacs_list()?
            .into_iter()
            .filter(|a| !failed.iter().any(|(name, _)| *name == a.name))
            .map(|a| ArchiveAnswer {
                archive: a.name,
                state: "answered",
                answered_ms: None,
                reason: None,
                error: None,
            })
            .collect();
        archives.extend(failed.into_iter().map(|(archive, e)| ArchiveAnswer {
            archive,
            state: "unreachable",
            answered_ms: None,
            reason: None,
            error: Some(e.to_wire()),
        }));
        Ok(Priors { priors, archives })
    })
    .await
}

/// A prior study's report, shown under its viewport: this home's own (`source: "ledger"`),
/// else the newest SR (`archive-sr`, as text lines) or Encapsulated PDF (`archive-pdf`, a
/// file in the home to open) on the archive (`archive`, else every configured one), else
/// `none`. Off the main thread on a handle of its own: an archive that does not answer holds
/// up nothing else.
#[tauri::command]
pub(crate) async fn prior_report<R: Runtime>(
    app: AppHandle<R>,
    study: String,
    archive: Option<String>,
    patient_id: Option<String>,
) -> Reply<PriorReport> {
    let given = |v: Option<String>| v.map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let (archive, patient_id) = (given(archive), given(patient_id));
    on_own_handle(app, move |h| {
        bounded("the study", &study)?;
        bounded("the archive", archive.as_deref().unwrap_or(""))?;
        bounded("the Patient ID", patient_id.as_deref().unwrap_or(""))?;
        h.prior_report(&study, archive.as_deref(), patient_id.as_deref())
    })
    .await
}

/// Opens a prior's PDF report, saved by `prior_report` under its SOP Instance UID, in the
/// system's PDF viewer (`xdg-open`): the webview names the instance, never a path, so it cannot
/// have any other file opened. Answers once the opener has taken it (its exit status).
#[tauri::command]
pub(crate) async fn open_prior_pdf<R: Runtime>(app: AppHandle<R>, instance: String) -> Reply<()> {
    let opener = app
        .state::<Archives>()
        .opener
        .get()
        .cloned()
        .unwrap_or_else(|| "xdg-open".into());
    on_own_handle(app, move |h| {
        bounded("the instance", &instance)?;
        let path = h.prior_report_pdf(&instance)?;
        let context = || format!("opening the PDF with {}", opener.display());
        let status = std::process::Command::new(&opener)
            .arg(&path)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .map_err(|e| AppError::Io {
                context: context(),
                source: e,
            })?;
        if !status.success() {
            return Err(AppError::Io {
                context: context(),
                source: std::io::Error::other(format!("it exited with {status}")),
            });
        }
        Ok(())
    })
    .await
}

/// Retrieves a study into the image store in the background, with `retrieve-progress` events
/// (a [`RetrieveProgress`] with the study's UID: at most one per [`PROGRESS_EVERY`], always
/// `first-image` — the first instance is stored, the study can be opened while the rest
/// streams — and the last); the answer is what was stored. The viewer and every other command
/// go on meanwhile.
#[tauri::command]
pub(crate) async fn retrieve<R: Runtime>(
    app: AppHandle<R>,
    archive: String,
    study: String,
    patient_id: Option<String>,
) -> Reply<Retrieval> {
    let events = app.clone();
    on_own_handle(app, move |h| {
        bounded("the archive", &archive)?;
        bounded("the Patient ID", patient_id.as_deref().unwrap_or(""))?;
        let mut throttle = Throttle::default();
        let got = h.retrieve_with_progress(&archive, &study, patient_id.as_deref(), &mut |p| {
            if throttle.due(Instant::now(), p.phase) {
                let _ = events.emit("retrieve-progress", Progress { study: &study, p });
            }
        })?;
        // The last word: everything retrieved and stored.
        let done = RetrieveProgress {
            phase: "done",
            instances: got.instances,
            bytes: got.bytes,
            total: Some(got.instances),
            stored: got.instances,
        };
        let _ = events.emit(
            "retrieve-progress",
            Progress {
                study: &study,
                p: done,
            },
        );
        Ok(got)
    })
    .await
}

/// Which progress reports become events: the first of each phase, then one per
/// [`PROGRESS_EVERY`] at most (a 500-instance study sends a few events a second, not 500).
#[derive(Debug, Default)]
pub(crate) struct Throttle {
    last: Option<(Instant, &'static str)>,
}

impl Throttle {
    pub(crate) fn due(&mut self, now: Instant, phase: &'static str) -> bool {
        let due = match self.last {
            None => true,
            Some((at, last)) => last != phase || now.duration_since(at) >= PROGRESS_EVERY,
        };
        if due {
            self.last = Some((now, phase));
        }
        due
    }
}

/// One `retrieve-progress` event.
#[derive(Debug, Clone, Serialize)]
struct Progress<'a> {
    study: &'a str,
    #[serde(flatten)]
    p: RetrieveProgress,
}

/// Reports' deliveries to archives: delivered, and failed ones waiting for their retry.
#[tauri::command(async)]
pub(crate) fn deliveries(desk: State<'_, Desk>) -> Reply<Vec<DeliveryRecord>> {
    desk.read(|h| h.deliveries())
}

/// Whether a demo archive can be started on this machine (Orthanc is installed), and whether
/// one runs.
#[derive(Debug, Serialize)]
pub struct DemoStatus {
    pub available: bool,
    pub running: Option<DemoArchiveSummary>,
}

#[tauri::command]
pub(crate) fn demo_archive_status(archives: State<'_, Archives>) -> Reply<DemoStatus> {
    let mut demo = archives.demo.lock().unwrap_or_else(|p| p.into_inner());
    let running = demo
        .as_mut()
        .and_then(|d| d.running().then(|| d.summary().clone()));
    Ok(DemoStatus {
        available: demo_archive_available(),
        running,
    })
}

/// Starts the demo archive (a local Orthanc seeded with phantom studies, added as `demo`),
/// replacing one that runs; it is stopped when the window closes or the app exits.
#[tauri::command]
pub(crate) async fn demo_archive_start<R: Runtime>(
    app: AppHandle<R>,
    window: tauri::Window<R>,
) -> Reply<DemoArchiveSummary> {
    app.state::<Archives>().stop_demo();
    let keep = app.clone();
    let summary = on_own_handle(app, move |h| {
        let demo = h.demo_archive_start()?;
        let summary = demo.summary().clone();
        *keep
            .state::<Archives>()
            .demo
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(demo);
        Ok(summary)
    })
    .await?;
    // The process ends without dropping managed state: the demo stops with its window.
    let handle = window.app_handle().clone();
    window.on_window_event(move |event| {
        if let tauri::WindowEvent::Destroyed = event {
            handle.state::<Archives>().stop_demo();
        }
    });
    Ok(summary)
}

/// Stops the demo archive (the archive `demo` stays configured, unreachable, its list kept).
#[tauri::command]
pub(crate) fn demo_archive_stop(archives: State<'_, Archives>) -> Reply<()> {
    archives.stop_demo();
    Ok(())
}
