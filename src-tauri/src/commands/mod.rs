//! One command per user action; each only translates arguments and calls `countersign-app`.
//!
//! The commands are grouped by the user's area, a submodule each; `handler` names them all, with
//! the archives' commands (`crate::pacs`):
//! - `session`: the home's identity and key (status, unlock, lock, activity, a new identity,
//!   joining a department, the demo);
//! - `studies`: the study list, imports (picked or dropped) and the viewer's images and frames;
//! - `reports`: a report's view, writing and signing, addenda, measurements and links, read
//!   receipts and the review of AI results;
//! - `data_protection`: erasure, restriction and moving a report to the right patient;
//! - `audit`: exports, the sync node, verification and the AI reviewer's figures.

mod audit;
mod data_protection;
mod reports;
mod session;
mod studies;

use countersign_app::WireError;

// The tests write an export through it, without the save dialog.
#[cfg(test)]
pub(crate) use audit::export_chosen;

type Reply<T> = Result<T, WireError>;

pub(crate) fn handler<R: tauri::Runtime>(
) -> impl Fn(tauri::ipc::Invoke<R>) -> bool + Send + Sync + 'static {
    tauri::generate_handler![
        session::status,
        session::unlock,
        session::lock,
        session::activity,
        session::init_identity,
        session::join,
        session::open_demo,
        studies::studies,
        studies::import_pick,
        studies::import_dropped,
        studies::study_images,
        studies::frame,
        studies::frame_preview,
        studies::frame_socket,
        reports::templates,
        reports::report_show,
        reports::report_actions,
        reports::report_new,
        reports::sign_section,
        reports::section_macros,
        reports::drafts,
        reports::draft_save,
        reports::cosign_section,
        reports::finalize_report,
        reports::report_resolve,
        reports::mark_preliminary,
        reports::add_addendum,
        reports::measure_length,
        reports::report_link,
        reports::mark_viewed,
        reports::review_ai,
        data_protection::report_erase,
        data_protection::report_restrict,
        data_protection::data_protection_actions,
        data_protection::patient_scope,
        data_protection::patient_erase,
        data_protection::move_targets,
        data_protection::report_move,
        audit::export_report,
        audit::sync_status,
        audit::sync_add_peer,
        audit::verify,
        audit::ai_stats,
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
