//! The study list and what the viewer shows of a study: importing files and folders (picked in
//! the open dialog or dropped on the window), a study's images, and their frames (as binary
//! packets, through the `frame` commands or the frame socket).

use tauri::ipc::Response;
use tauri::{Emitter, Manager, State};

use countersign_app::{AppError, ImageRef, ImportProgress, ImportSummary, StudyPage, STUDY_PAGE};

use super::Reply;
use crate::Desk;

/// A page of the study list (the first without `after`; `next` is where the next starts).
#[tauri::command(async)]
pub(super) fn studies(
    desk: State<'_, Desk>,
    after: Option<String>,
    limit: Option<usize>,
) -> Reply<StudyPage> {
    desk.read(|h| h.study_page(after.as_deref(), limit.unwrap_or(STUDY_PAGE)))
}

/// Opens the open dialog here — files, or with `directory` one folder — and imports what the
/// user picked: the webview names no path to read. `None` when the user cancels.
#[tauri::command(async)]
pub(super) fn import_pick<R: tauri::Runtime>(
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
pub(super) fn import_dropped<R: tauri::Runtime>(
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
pub(super) fn study_images(desk: State<'_, Desk>, study: String) -> Reply<Vec<ImageRef>> {
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
pub(super) fn frame(
    desk: State<'_, Desk>,
    sha256: String,
    frame: u32,
    part: Option<u32>,
) -> Reply<Response> {
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
pub(super) fn frame_socket(sockets: State<'_, crate::FrameSockets>) -> Option<String> {
    sockets.url()
}

/// A first look at frame `frame` of `sha256` for a viewport of `width × height` pixels:
/// reduced (`countersign_app::preview_packet`: its header says `"reduced"` and gives the full
/// frame's size) when the frame is larger than the viewport and than one part, else part 0 of
/// the frame's packet, as `frame` answers it. Either way the frame is decoded and cached: the
/// viewer asks for the full frame next, and it comes from the cache.
#[tauri::command(async)]
pub(super) fn frame_preview(
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
