//! The record beyond one report's editing: exporting a report (with its provenance) to a file
//! the user chooses, the background sync node that shares the ledger with peers, verifying the
//! ledger, and the AI reviewer's figures for oversight.

use tauri::{Manager, State};

use countersign_app::report::oversight::{date_start_ms, AiStats, Filter};
use countersign_app::{entry_id, AppError, VerifyReport};

use super::Reply;
use crate::Desk;

/// Writes the report as pdf, fhir, sr, pdf-dicom or bundle where the user chooses in a save dialog this
/// command opens (the webview names no path); `None` when the user cancels.
#[tauri::command(async)]
pub(super) fn export_report<R: tauri::Runtime>(
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
pub(super) async fn sync_status(
    desk: State<'_, Desk>,
) -> Reply<countersign_app::sync::SidebarStatus> {
    let handle = desk.sync_handle()?;
    let node = handle.status().await.map_err(|e| e.to_wire())?;
    let alerts = desk.with(|h| h.sync_alerts())?;
    Ok(countersign_app::sync::SidebarStatus { node, alerts })
}

/// Remembers a peer (a multiaddr ending in `/p2p/<id>`) and has the background node dial it.
#[tauri::command]
pub(super) async fn sync_add_peer(desk: State<'_, Desk>, addr: String) -> Reply<Vec<String>> {
    let peers = desk.act(|h| h.peer_add(&addr))?;
    let handle = desk.sync_handle()?;
    handle.add_peer(&addr).await.map_err(|e| e.to_wire())?;
    Ok(peers)
}

#[tauri::command(async)]
pub(super) fn verify(desk: State<'_, Desk>, report: Option<String>) -> Reply<VerifyReport> {
    desk.with(|h| h.verify(report.as_deref().map(entry_id).transpose()?))
}

/// The AI reviewer's figures (what `countersign ai stats --json` prints, with the same
/// filters): on a reader handle, so the oversight view never waits behind a write.
#[tauri::command(async)]
pub(super) fn ai_stats(
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
