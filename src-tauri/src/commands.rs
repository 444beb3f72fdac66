//! One command per user action; each only translates arguments and calls `countersign-app`.

use std::collections::BTreeMap;

use serde::Serialize;
use tauri::ipc::Response;
use tauri::{Emitter, Manager, State};

use countersign_app::keys::KeyStoreKind;
use countersign_app::ledger::Role;
use countersign_app::report::oversight::{date_start_ms, AiStats, Filter};
use countersign_app::report::payload::Decision;
use countersign_app::report::ReportView;
use countersign_app::{
    entry_id, AppError, DataProtectionActions, DataProtectionOutcome, DataSubject, DemoSummary,
    ImageRef, ImportProgress, ImportSummary, MacroInfo, MoveTarget, Passphrase, PatientScope,
    ReportActions, StudyPage, TemplateRef, VerifyReport, WhoAmI, WireError, DEMO_PASSPHRASE,
    STUDY_PAGE,
};

use crate::Desk;

type Reply<T> = Result<T, WireError>;

pub(crate) fn handler<R: tauri::Runtime>(
) -> impl Fn(tauri::ipc::Invoke<R>) -> bool + Send + Sync + 'static {
    tauri::generate_handler![
        status,
        unlock,
        lock,
        activity,
        init_identity,
        join,
        open_demo,
        studies,
        import_pick,
        import_dropped,
        study_images,
        frame,
        frame_preview,
        frame_socket,
        templates,
        report_show,
        report_actions,
        report_new,
        sign_section,
        section_macros,
        drafts,
        draft_save,
        cosign_section,
        finalize_report,
        report_resolve,
        mark_preliminary,
        add_addendum,
        measure_length,
        report_link,
        mark_viewed,
        review_ai,
        report_erase,
        report_restrict,
        data_protection_actions,
        patient_scope,
        patient_erase,
        move_targets,
        report_move,
        export_report,
        sync_status,
        sync_add_peer,
        verify,
        ai_stats,
        // The archives, the worklist and retrieval (src/pacs.rs).
        crate::pacs::pacs_list,
        crate::pacs::pacs_add,
        crate::pacs::pacs_remove,
        crate::pacs::pacs_test,
        crate::pacs::worklist,
        crate::pacs::priors,
        crate::pacs::prior_report,
        crate::pacs::open_prior_pdf,
        crate::pacs::retrieve,
        crate::pacs::deliveries,
        crate::pacs::demo_archive_status,
        crate::pacs::demo_archive_start,
        crate::pacs::demo_archive_stop
    ]
}

#[derive(Debug, Serialize)]
pub struct Status {
    home: String,
    identity: Option<WhoAmI>,
    /// The home has an identity whose key is not unlocked (at start, or after the idle time).
    locked: bool,
    /// The key is still stored unsealed (a home from before sealed keys): unlocking seals it
    /// under the passphrase given.
    unsealed: bool,
    /// The passphrase `Open demo` seals the demo keys under (documented).
    demo_passphrase: &'static str,
}

#[tauri::command]
fn status(desk: State<'_, Desk>) -> Reply<Status> {
    let home = desk.dir.display().to_string();
    desk.with(|h| {
        let identity = match h.whoami() {
            Err(AppError::NotInitialized { .. }) => None,
            other => Some(other?),
        };
        Ok(Status {
            home,
            locked: identity.is_some() && !h.is_unlocked(),
            unsealed: h.key_unsealed()?,
            identity,
            demo_passphrase: DEMO_PASSPHRASE,
        })
    })
}

/// Joins the department an admin's invitation names (for this home's key).
#[tauri::command]
fn join(desk: State<'_, Desk>, invitation: String) -> Reply<countersign_app::Joined> {
    desk.act(|h| h.join(&invitation))
}

/// Opens the key for this session (until the idle lock): a sealed key with the passphrase, a key
/// on a hardware token with its PIN, a key in the OS keychain from the keychain
/// (`identity.needs_passphrase` says whether one is asked).
#[tauri::command(async)]
fn unlock(desk: State<'_, Desk>, passphrase: Option<String>) -> Reply<WhoAmI> {
    let passphrase = passphrase.map(Passphrase::new);
    desk.act(|h| h.unlock_with(passphrase.as_ref()))
}

/// The user did something (the UI reports input, at most every 5 s, the last of a burst up to
/// 5 s late, `ago_ms` after it happened): the idle lock counts from when it happened.
#[tauri::command]
fn activity(desk: State<'_, Desk>, ago_ms: Option<u64>) -> Reply<()> {
    // At debug level, for a lock to be explained from the log: when the window last reported
    // input (nothing about what the input was).
    tracing::debug!(ago_ms, "input reported by the window");
    desk.input(std::time::Duration::from_millis(ago_ms.unwrap_or(0)))
}

/// Wipes the key from memory now.
#[tauri::command]
fn lock(desk: State<'_, Desk>) -> Reply<()> {
    desk.act(|h| {
        h.lock();
        Ok(())
    })
}

#[tauri::command(async)]
fn init_identity(
    desk: State<'_, Desk>,
    name: String,
    role: String,
    admin: bool,
    network: Option<String>,
    store: Option<String>,
    passphrase: Option<String>,
) -> Reply<WhoAmI> {
    let role: Role = role
        .parse()
        .map_err(|e: String| AppError::InvalidInput(e).to_wire())?;
    let network = admin.then(|| network.unwrap_or_else(|| "Radiology department".into()));
    let store: KeyStoreKind = match store.as_deref() {
        None => KeyStoreKind::Sealed,
        Some(s) => s
            .parse()
            .map_err(|e: String| AppError::InvalidInput(e).to_wire())?,
    };
    match (store, passphrase) {
        (KeyStoreKind::Sealed, Some(passphrase)) => {
            let passphrase = Passphrase::new(passphrase);
            desk.act(|h| h.init_sealed(&name, role, network.as_deref(), None, &passphrase))
        }
        (KeyStoreKind::Keychain, None) => {
            desk.act(|h| h.init_keychain(&name, role, network.as_deref(), None))
        }
        (KeyStoreKind::Sealed, None) => Err(AppError::InvalidInput(
            "a key sealed on this computer needs a passphrase".into(),
        )
        .to_wire()),
        (KeyStoreKind::Keychain, Some(_)) => Err(AppError::InvalidInput(
            "a key kept in the OS keychain takes no passphrase".into(),
        )
        .to_wire()),
        // A token needs its module, label and PIN: the CLI sets it up.
        (KeyStoreKind::Token, _) => Err(AppError::InvalidInput(
            "a key on a hardware token is set up with `countersign init --key-store token`".into(),
        )
        .to_wire()),
    }
}

#[tauri::command(async)]
fn open_demo(desk: State<'_, Desk>, passphrase: String) -> Reply<DemoSummary> {
    let passphrase = Passphrase::new(passphrase);
    desk.act(|h| h.demo_sealed(&passphrase))
}

/// A page of the study list (the first without `after`; `next` is where the next starts).
#[tauri::command(async)]
fn studies(desk: State<'_, Desk>, after: Option<String>, limit: Option<usize>) -> Reply<StudyPage> {
    desk.read(|h| h.study_page(after.as_deref(), limit.unwrap_or(STUDY_PAGE)))
}

/// Opens the open dialog here — files, or with `directory` one folder — and imports what the
/// user picked: the webview names no path to read. `None` when the user cancels.
#[tauri::command(async)]
fn import_pick<R: tauri::Runtime>(
    app: tauri::AppHandle<R>,
    desk: State<'_, Desk>,
    directory: bool,
) -> Reply<Option<ImportSummary>> {
    let Some(paths) = pick_to_import(&app, directory)? else {
        return Ok(None);
    };
    import_chosen(&app, &desk, &paths).map(Some)
}

/// Imports what was last dropped on the window: the paths come from the window's own drop event
/// (kept by `Desk::dropped` in Rust), never from the webview. `None` when nothing is waiting.
#[tauri::command(async)]
fn import_dropped<R: tauri::Runtime>(
    app: tauri::AppHandle<R>,
    desk: State<'_, Desk>,
) -> Reply<Option<ImportSummary>> {
    let paths = desk.take_dropped();
    if paths.is_empty() {
        return Ok(None);
    }
    import_chosen(&app, &desk, &paths).map(Some)
}

/// The paths the user picked in the open dialog, `None` if cancelled. A debug build (the end to
/// end test's) takes the pick from `COUNTERSIGN_E2E_PICK` instead, since WebDriver cannot drive
/// a native dialog; release builds have no such path.
fn pick_to_import<R: tauri::Runtime>(
    app: &tauri::AppHandle<R>,
    directory: bool,
) -> Reply<Option<Vec<std::path::PathBuf>>> {
    #[cfg(debug_assertions)]
    if let Some(pick) = std::env::var_os("COUNTERSIGN_E2E_PICK") {
        return Ok(Some(vec![pick.into()]));
    }
    let Some(dialog) = app.try_state::<tauri_plugin_dialog::Dialog<R>>() else {
        return Err(AppError::PathRefused("no open dialog is available".into()).to_wire());
    };
    let picked = if directory {
        dialog
            .file()
            .set_title("Import a folder")
            .blocking_pick_folder()
            .map(|p| vec![p])
    } else {
        dialog
            .file()
            .set_title("Import files")
            .blocking_pick_files()
    };
    Ok(picked.map(|paths| {
        paths
            .into_iter()
            .filter_map(|p| p.into_path().ok())
            .collect()
    }))
}

/// Imports `paths` off the main thread, so the window stays live; progress goes out as
/// `import-progress` events (every 16 files and at the end).
pub(crate) fn import_chosen<R: tauri::Runtime>(
    app: &tauri::AppHandle<R>,
    desk: &Desk,
    paths: &[std::path::PathBuf],
) -> Reply<ImportSummary> {
    let paths: Vec<&std::path::Path> = paths.iter().map(std::path::PathBuf::as_path).collect();
    let progress = |p: ImportProgress| {
        if p.done.is_multiple_of(16) || p.done == p.total {
            let _ = app.emit("import-progress", p);
        }
    };
    desk.act(|h| h.import(&paths, progress))
}

#[tauri::command(async)]
fn study_images(desk: State<'_, Desk>, study: String) -> Reply<Vec<ImageRef>> {
    let started = std::time::Instant::now();
    let images = desk.read(|h| h.study_image_refs(&study))?;
    // For the bench's profile (at debug level): how long the list took here; nothing named.
    tracing::debug!(
        ms = started.elapsed().as_secs_f64() * 1e3,
        images = images.len(),
        "study images listed"
    );
    Ok(images)
}

/// Raw bytes (see `countersign_app::FrameHeader` for the layout), not JSON; from the frame
/// cache, else decoded off the main thread on a reader handle (never behind a write). The
/// viewer also asks for the slices ahead of the scroll this way, so they are cached when
/// reached. With `part`, only that part of the packet (`countersign_app::frame_part`): the
/// viewer fetches a large frame in parts, asked for at once so their transfers overlap; the
/// first part decodes and caches the frame, the others are served from it (with the cache
/// off, or a frame over its whole budget, each part decodes it again: slower, still right).
#[tauri::command(async)]
fn frame(desk: State<'_, Desk>, sha256: String, frame: u32, part: Option<u32>) -> Reply<Response> {
    let packet = desk.frame(&sha256, frame)?;
    let bytes = match part {
        None => packet.to_vec(),
        Some(part) => countersign_app::frame_part(&packet, part)
            .map_err(|e| e.to_wire())?
            .to_vec(),
    };
    Ok(Response::new(bytes))
}

/// Where the frame socket listens, with this run's token (`crate::frame_socket`): the viewer
/// asks for frames there, and falls back to `frame` when this is null (not started) or the
/// socket fails. The address is a secret of this window: never logged.
#[tauri::command]
fn frame_socket(sockets: State<'_, crate::FrameSockets>) -> Option<String> {
    sockets.url()
}

/// A first look at frame `frame` of `sha256` for a viewport of `width × height` pixels:
/// reduced (`countersign_app::preview_packet`: its header says `"reduced"` and gives the full
/// frame's size) when the frame is larger than the viewport and than one part, else part 0 of
/// the frame's packet, as `frame` answers it. Either way the frame is decoded and cached: the
/// viewer asks for the full frame next, and it comes from the cache.
#[tauri::command(async)]
fn frame_preview(
    desk: State<'_, Desk>,
    sha256: String,
    frame: u32,
    width: u32,
    height: u32,
) -> Reply<Response> {
    let packet = desk.frame(&sha256, frame)?;
    let bytes =
        match countersign_app::preview_packet(&packet, (width, height)).map_err(|e| e.to_wire())? {
            Some(reduced) => reduced,
            None => countersign_app::frame_part(&packet, 0)
                .map_err(|e| e.to_wire())?
                .to_vec(),
        };
    Ok(Response::new(bytes))
}

#[tauri::command]
fn templates(desk: State<'_, Desk>) -> Reply<Vec<TemplateRef>> {
    desk.with(|h| h.templates())
}

#[tauri::command(async)]
fn report_show(desk: State<'_, Desk>, report: String) -> Reply<ReportView> {
    desk.read(|h| h.report_show(entry_id(&report)?))
}

/// What this user may do on the report now, each action judged by the app's rules (the UI
/// shows a button only where this says yes, and the refusing rule where it says no).
#[tauri::command]
fn report_actions(desk: State<'_, Desk>, report: String) -> Reply<ReportActions> {
    desk.with(|h| h.report_actions(entry_id(&report)?))
}

#[tauri::command]
fn report_new(desk: State<'_, Desk>, study: String, template: String) -> Reply<String> {
    desk.act(|h| h.report_new(&study, &template, &[]))
        .map(|id| id.to_hex())
}

#[tauri::command]
fn sign_section(
    desk: State<'_, Desk>,
    report: String,
    section: String,
    text: String,
    fields: Option<BTreeMap<String, String>>,
    macros: Option<Vec<countersign_app::report::macros::MacroRef>>,
) -> Reply<String> {
    let fields = fields.unwrap_or_default();
    let macros = macros.unwrap_or_default();
    desk.act(|h| h.report_write_with_macros(entry_id(&report)?, &section, &text, fields, macros))
        .map(|id| id.to_hex())
}

/// The AutoText macros that apply to one section of a report (the editor's palette and name
/// expansion).
#[tauri::command(async)]
fn section_macros(desk: State<'_, Desk>, report: String, section: String) -> Reply<Vec<MacroInfo>> {
    desk.read(|h| h.macros_for_section(entry_id(&report)?, &section))
}

/// The unsigned text kept for a report's sections (in the home, never in the webview).
#[tauri::command]
fn drafts(desk: State<'_, Desk>, report: String) -> Reply<BTreeMap<String, String>> {
    desk.with(|h| h.drafts(entry_id(&report)?))
}

/// Keeps a section's unsigned text as it is typed; `None` drops it (typed back to the signed
/// text).
#[tauri::command]
fn draft_save(
    desk: State<'_, Desk>,
    report: String,
    section: String,
    text: Option<String>,
) -> Reply<()> {
    desk.act(|h| {
        let report = entry_id(&report)?;
        match text {
            Some(text) => h.draft_save(report, &section, &text),
            None => h.draft_drop(report, &section),
        }
    })
}

/// Writes the report as pdf, fhir, sr, pdf-dicom or bundle where the user chooses in a save dialog this
/// command opens (the webview names no path); `None` when the user cancels.
#[tauri::command(async)]
fn export_report<R: tauri::Runtime>(
    app: tauri::AppHandle<R>,
    desk: State<'_, Desk>,
    report: String,
    format: String,
) -> Reply<Option<Exported>> {
    let id = entry_id(&report).map_err(|e| e.to_wire())?;
    let chosen: countersign_app::ExportFormat = format
        .parse()
        .map_err(|e: String| AppError::InvalidInput(e).to_wire())?;
    let (label, ext) = match chosen {
        countersign_app::ExportFormat::Pdf => ("PDF with provenance", "pdf"),
        countersign_app::ExportFormat::Fhir => ("FHIR R4 bundle", "json"),
        countersign_app::ExportFormat::Sr => ("DICOM SR", "dcm"),
        countersign_app::ExportFormat::PdfDicom => ("DICOM Encapsulated PDF", "dcm"),
        countersign_app::ExportFormat::Bundle => ("Audit bundle", "tar"),
    };
    // The save dialog runs here, never in the webview: the file written is one the user chose
    // in it, whatever the webview asks for.
    let Some(dialog) = app.try_state::<tauri_plugin_dialog::Dialog<R>>() else {
        return Err(AppError::PathRefused("no save dialog is available".into()).to_wire());
    };
    let picked = dialog
        .file()
        .set_title(format!("Export {label}"))
        .set_file_name(format!("report-{}.{ext}", &report[..8.min(report.len())]))
        .add_filter(label, &[ext])
        .blocking_save_file();
    let Some(path) = picked.and_then(|p| p.into_path().ok()) else {
        return Ok(None);
    };
    export_chosen(&desk, id, chosen, &path).map(Some)
}

/// What an export wrote, and where (the path the save dialog returned).
#[derive(Debug, serde::Serialize)]
pub(crate) struct Exported {
    pub path: String,
    pub bytes: u64,
}

/// Writes an export to the path a save dialog returned (see `export_report`).
pub(crate) fn export_chosen(
    desk: &Desk,
    report: countersign_app::ledger::EntryId,
    format: countersign_app::ExportFormat,
    path: &std::path::Path,
) -> Reply<Exported> {
    let bytes = desk.act(|h| h.export_to(report, format, path))?;
    Ok(Exported {
        path: path.display().to_string(),
        bytes,
    })
}

/// Connected peers, the last completed sync, peers cut off and entries quarantined (starts
/// the background node when the home has an identity).
#[tauri::command]
async fn sync_status(desk: State<'_, Desk>) -> Reply<countersign_app::sync::SidebarStatus> {
    let handle = desk.sync_handle()?;
    let node = handle.status().await.map_err(|e| e.to_wire())?;
    let alerts = desk.with(|h| h.sync_alerts())?;
    Ok(countersign_app::sync::SidebarStatus { node, alerts })
}

/// Remembers a peer (a multiaddr ending in `/p2p/<id>`) and has the background node dial it.
#[tauri::command]
async fn sync_add_peer(desk: State<'_, Desk>, addr: String) -> Reply<Vec<String>> {
    let peers = desk.act(|h| h.peer_add(&addr))?;
    let handle = desk.sync_handle()?;
    handle.add_peer(&addr).await.map_err(|e| e.to_wire())?;
    Ok(peers)
}

#[tauri::command]
fn cosign_section(desk: State<'_, Desk>, report: String, section: String) -> Reply<String> {
    desk.act(|h| h.report_cosign(entry_id(&report)?, &section))
        .map(|id| id.to_hex())
}

/// Signs the report off as final: re-authentication, whatever was unlocked before
/// (`Home::reauthenticate`). A sealed key: without the passphrase it is refused with
/// `reauth_required`; with it, the passphrase is checked against the sealed key (a wrong one:
/// `wrong_passphrase`, nothing signed) before signing. For a key on a hardware token the
/// passphrase is the token's PIN, checked by logging in to the token again (a wrong one:
/// `wrong_pin`, nothing signed, and the key is locked). A key in the OS keychain is read from
/// the keychain again.
#[tauri::command(async)]
fn finalize_report(
    desk: State<'_, Desk>,
    report: String,
    passphrase: Option<String>,
) -> Reply<String> {
    let passphrase = passphrase.map(Passphrase::new);
    let id = desk.act(|h| {
        let report = entry_id(&report)?;
        h.reauthenticate(passphrase.as_ref())?;
        let id = h.report_finalize(report)?;
        queue_store_back(h, report);
        Ok(id)
    })?;
    wake_deliveries(&desk);
    Ok(id.to_hex())
}

/// After a sign-off or an addendum (signed, and the command's answer already decided): the
/// report is queued in the home's delivery list for every store-back archive. A failure to
/// queue is logged, never the command's error: the signature stands.
fn queue_store_back(home: &mut countersign_app::Home, report: countersign_app::ledger::EntryId) {
    if let Err(e) = home.queue_store_back(report) {
        tracing::warn!(code = e.code(), error = %e.loggable(), "store-back not queued");
    }
}

/// Wakes the background node's delivery thread to send what was queued (see
/// `countersign_app::sync::Service`): a slow or down archive holds up nothing here, and a
/// failed send is recorded and retried with back-off. Not running (it starts at the next
/// unlock): the queued record waits in the home.
fn wake_deliveries(desk: &Desk) {
    match desk.sync_handle() {
        Ok(node) => node.wake_deliveries(),
        Err(e) => tracing::info!(code = e.code, "deliveries not woken: no background node"),
    }
}

/// Settles a conflict between sign-offs: this attending keeps `keep`; the others stay in the
/// record, superseded. Who may do it is the rules' answer, refused with their code.
#[tauri::command]
fn report_resolve(
    desk: State<'_, Desk>,
    report: String,
    keep: String,
    note: Option<String>,
) -> Reply<String> {
    let note = note.unwrap_or_default();
    desk.act(|h| h.report_resolve(entry_id(&report)?, entry_id(&keep)?, &note))
        .map(|id| id.to_hex())
}

#[tauri::command]
fn mark_preliminary(desk: State<'_, Desk>, report: String) -> Reply<String> {
    desk.act(|h| h.report_preliminary(entry_id(&report)?))
        .map(|id| id.to_hex())
}

#[tauri::command]
fn add_addendum(desk: State<'_, Desk>, report: String, text: String) -> Reply<String> {
    let id = desk.act(|h| {
        let report = entry_id(&report)?;
        let id = h.report_addendum(report, &text)?;
        queue_store_back(h, report);
        Ok(id)
    })?;
    wake_deliveries(&desk);
    Ok(id.to_hex())
}

/// Signs a length between two image points; the app computes it from the file's Pixel Spacing.
#[tauri::command]
fn measure_length(
    desk: State<'_, Desk>,
    report: String,
    image: String,
    frame: u32,
    from: [f64; 2],
    to: [f64; 2],
) -> Reply<String> {
    desk.act(|h| h.measure_length(entry_id(&report)?, &image, frame, from, to))
        .map(|(id, _)| id.to_hex())
}

/// What inserting a link signed: the section's new version and the link in it.
#[derive(Debug, Serialize)]
pub struct Linked {
    entry: String,
    link: countersign_app::report::links::ImageLink,
}

/// Inserts a link (a signed measurement, an arrow or a key image) into `section`: signs a new
/// version whose text — `text` as typed, else the signed text — ends with the link's
/// `[fig N]` marker, carrying the links the text still refers to.
#[tauri::command]
fn report_link(
    desk: State<'_, Desk>,
    report: String,
    section: String,
    target: countersign_app::LinkTarget,
    text: Option<String>,
    at: Option<usize>,
) -> Reply<Linked> {
    desk.act(|h| {
        h.report_link(
            entry_id(&report)?,
            &section,
            &target,
            text.as_deref(),
            at,
            None,
        )
    })
    .map(|(id, link)| Linked {
        entry: id.to_hex(),
        link,
    })
}

/// A read receipt for the sections on screen (batched by the app: at most one in a while).
#[tauri::command]
fn mark_viewed(
    desk: State<'_, Desk>,
    report: String,
    sections: Vec<String>,
) -> Reply<Option<String>> {
    desk.with(|h| h.report_viewed(entry_id(&report)?, &sections))
        .map(|id| id.map(|id| id.to_hex()))
}

/// Accept, edit (with `text`) or reject an AI result.
#[tauri::command]
fn review_ai(
    desk: State<'_, Desk>,
    report: String,
    result: String,
    decision: Decision,
    text: Option<String>,
    comment: Option<String>,
) -> Reply<String> {
    desk.act(|h| {
        h.report_review(
            entry_id(&report)?,
            entry_id(&result)?,
            decision,
            text.as_deref(),
            comment.as_deref(),
        )
    })
    .map(|id| id.to_hex())
}

/// Erases the report's personal data on the legal `basis` (GDPR Art. 17): irreversible, so
/// re-authenticated like a final sign-off (`reauth_required` without the passphrase, see
/// `finalize_report`). The frame cache is emptied after, so no erased pixels stay in memory.
#[tauri::command(async)]
fn report_erase(
    desk: State<'_, Desk>,
    report: String,
    basis: String,
    passphrase: Option<String>,
) -> Reply<DataProtectionOutcome> {
    let passphrase = passphrase.map(Passphrase::new);
    let done = desk.act(|h| {
        let subject = DataSubject::Report(entry_id(&report)?);
        h.reauthenticate(passphrase.as_ref())?;
        h.erase(&subject, &basis)
    })?;
    desk.forget_frames();
    Ok(done)
}

/// Restricts the report's processing (GDPR Art. 18), or with `restricted` false lifts it.
#[tauri::command]
fn report_restrict(
    desk: State<'_, Desk>,
    report: String,
    basis: String,
    restricted: bool,
) -> Reply<DataProtectionOutcome> {
    desk.act(|h| h.restrict(&DataSubject::Report(entry_id(&report)?), &basis, restricted))
}

/// Whether this user may erase or restrict a whole patient's data (the roster role's answer,
/// from the app): the study list offers "Erase patient…" only where it says yes.
#[tauri::command]
fn data_protection_actions(desk: State<'_, Desk>) -> Reply<DataProtectionActions> {
    desk.with(|h| h.data_protection_actions())
}

/// What erasing the patient of `study` would cover: the Patient ID, the studies and the
/// reports (the dialog names them before anything is signed).
#[tauri::command(async)]
fn patient_scope(desk: State<'_, Desk>, study: String) -> Reply<PatientScope> {
    desk.read(|h| h.patient_scope(&h.study_patient_id(&study)?))
}

/// Erases every report of the patient with `patient_id` on the legal `basis`: irreversible,
/// so re-authenticated as `report_erase` is; the frame cache is emptied after.
#[tauri::command(async)]
fn patient_erase(
    desk: State<'_, Desk>,
    patient_id: String,
    basis: String,
    passphrase: Option<String>,
) -> Reply<DataProtectionOutcome> {
    let passphrase = passphrase.map(Passphrase::new);
    let done = desk.act(|h| {
        h.reauthenticate(passphrase.as_ref())?;
        h.erase(&DataSubject::Patient(patient_id), &basis)
    })?;
    desk.forget_frames();
    Ok(done)
}

/// The studies of other patients `report` may be moved to (filed under the wrong patient).
#[tauri::command(async)]
fn move_targets(desk: State<'_, Desk>, report: String) -> Reply<Vec<MoveTarget>> {
    desk.read(|h| h.move_targets(entry_id(&report)?))
}

/// Moves `report` to `study` of the patient `patient_id`, for `reason` (`report.move`).
#[tauri::command(async)]
fn report_move(
    desk: State<'_, Desk>,
    report: String,
    patient_id: String,
    study: String,
    reason: String,
) -> Reply<String> {
    desk.act(|h| h.report_move(entry_id(&report)?, &patient_id, &study, &reason))
        .map(|id| id.to_hex())
}

#[tauri::command(async)]
fn verify(desk: State<'_, Desk>, report: Option<String>) -> Reply<VerifyReport> {
    desk.with(|h| h.verify(report.as_deref().map(entry_id).transpose()?))
}

/// The AI reviewer's figures (what `countersign ai stats --json` prints, with the same
/// filters): on a reader handle, so the oversight view never waits behind a write.
#[tauri::command(async)]
fn ai_stats(
    desk: State<'_, Desk>,
    model: Option<String>,
    since: Option<String>,
    modality: Option<String>,
) -> Reply<AiStats> {
    // An empty filter field in the view is no filter.
    let given = |v: Option<String>| v.filter(|v| !v.trim().is_empty());
    let (model, since, modality) = (given(model), given(since), given(modality));
    desk.read(|h| {
        let since_ms = since
            .map(|d| {
                date_start_ms(&d).ok_or_else(|| {
                    // Quoted only in part: the message repeats what the webview sent.
                    let quoted: String = d.chars().take(32).collect();
                    AppError::InvalidInput(format!("since {quoted:?} is not a YYYY-MM-DD date"))
                })
            })
            .transpose()?;
        h.ai_stats(&Filter { model, since_ms }, modality.as_deref())
    })
}
