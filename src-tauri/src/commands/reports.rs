//! One report, as the reading radiologist works on it: its view and the actions the rules allow,
//! writing and signing sections (with drafts and AutoText macros), co-signing, the final sign-off
//! and its store-back, conflicts, preliminary marks, addenda, measurements and links to images,
//! read receipts, and the review of AI results.

use std::collections::BTreeMap;

use serde::Serialize;
use tauri::State;

use countersign_app::report::payload::Decision;
use countersign_app::report::ReportView;
use countersign_app::{entry_id, MacroInfo, Passphrase, ReportActions, TemplateRef};

use super::Reply;
use crate::Desk;

#[tauri::command]
pub(super) fn templates(desk: State<'_, Desk>) -> Reply<Vec<TemplateRef>> {
    desk.with(|h| h.templates())
}

#[tauri::command(async)]
pub(super) fn report_show(desk: State<'_, Desk>, report: String) -> Reply<ReportView> {
    desk.read(|h| h.report_show(entry_id(&report)?))
}

/// What this user may do on the report now, each action judged by the app's rules (the UI
/// shows a button only where this says yes, and the refusing rule where it says no).
#[tauri::command]
pub(super) fn report_actions(desk: State<'_, Desk>, report: String) -> Reply<ReportActions> {
    desk.with(|h| h.report_actions(entry_id(&report)?))
}

#[tauri::command]
pub(super) fn report_new(desk: State<'_, Desk>, study: String, template: String) -> Reply<String> {
    desk.act(|h| h.report_new(&study, &template, &[]))
        .map(|id| id.to_hex())
}

#[tauri::command]
pub(super) fn sign_section(
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
pub(super) fn section_macros(
    desk: State<'_, Desk>,
    report: String,
    section: String,
) -> Reply<Vec<MacroInfo>> {
    desk.read(|h| h.macros_for_section(entry_id(&report)?, &section))
}

/// The unsigned text kept for a report's sections (in the home, never in the webview).
#[tauri::command]
pub(super) fn drafts(desk: State<'_, Desk>, report: String) -> Reply<BTreeMap<String, String>> {
    desk.with(|h| h.drafts(entry_id(&report)?))
}

/// Keeps a section's unsigned text as it is typed; `None` drops it (typed back to the signed
/// text).
#[tauri::command]
pub(super) fn draft_save(
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

#[tauri::command]
pub(super) fn cosign_section(
    desk: State<'_, Desk>,
    report: String,
    section: String,
) -> Reply<String> {
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
pub(super) fn finalize_report(
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
pub(super) fn report_resolve(
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
pub(super) fn mark_preliminary(desk: State<'_, Desk>, report: String) -> Reply<String> {
    desk.act(|h| h.report_preliminary(entry_id(&report)?))
        .map(|id| id.to_hex())
}

#[tauri::command]
pub(super) fn add_addendum(desk: State<'_, Desk>, report: String, text: String) -> Reply<String> {
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
pub(super) fn measure_length(
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
pub(super) fn report_link(
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
pub(super) fn mark_viewed(
    desk: State<'_, Desk>,
    report: String,
    sections: Vec<String>,
) -> Reply<Option<String>> {
    desk.with(|h| h.report_viewed(entry_id(&report)?, &sections))
        .map(|id| id.map(|id| id.to_hex()))
}

/// Accept, edit (with `text`) or reject an AI result.
#[tauri::command]
pub(super) fn review_ai(
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
