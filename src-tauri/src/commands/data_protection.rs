//! Data protection: erasing a report's or a whole patient's personal data, restricting a
//! report's processing, and moving a report filed under the wrong patient. Erasures are
//! re-authenticated and empty the frame cache after.

use tauri::State;

use countersign_app::{
    entry_id, DataProtectionActions, DataProtectionOutcome, DataSubject, MoveTarget, Passphrase,
    PatientScope,
};

use super::Reply;
use crate::Desk;

/// Erases the report's personal data on the legal `basis` (GDPR Art. 17): irreversible, so
/// re-authenticated like a final sign-off (`reauth_required` without the passphrase, see
/// `finalize_report`). The frame cache is emptied after, so no erased pixels stay in memory.
#[tauri::command(async)]
pub(super) fn report_erase(
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
pub(super) fn report_restrict(
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
pub(super) fn data_protection_actions(desk: State<'_, Desk>) -> Reply<DataProtectionActions> {
    desk.with(|h| h.data_protection_actions())
}

/// What erasing the patient of `study` would cover: the Patient ID and its issuer (a Patient
/// ID is unique only per issuer), the studies and the reports, and the other issuers holding
/// the same ID whose studies it leaves alone (the dialog names them before anything is signed).
#[tauri::command(async)]
pub(super) fn patient_scope(desk: State<'_, Desk>, study: String) -> Reply<PatientScope> {
    desk.read(|h| {
        let (id, issuer) = h.study_patient(&study)?;
        // The study's own issuer, named ("" for none recorded): never another person's.
        h.patient_scope(&id, Some(issuer.as_deref().unwrap_or("")))
    })
}

/// Erases every report of the patient with `patient_id` and `issuer` on the legal `basis`:
/// irreversible, so re-authenticated as `report_erase` is; the frame cache is emptied after.
/// `issuer` is the scope's (`""` for none recorded) and `studies` the scope's studies, so
/// exactly what the dialog showed is erased, or nothing (a study imported meanwhile); left
/// out, the erasure is refused if the ID is held under several issuers.
#[tauri::command(async)]
pub(super) fn patient_erase(
    desk: State<'_, Desk>,
    patient_id: String,
    issuer: Option<String>,
    studies: Option<Vec<String>>,
    basis: String,
    passphrase: Option<String>,
) -> Reply<DataProtectionOutcome> {
    let passphrase = passphrase.map(Passphrase::new);
    let done = desk.act(|h| {
        h.reauthenticate(passphrase.as_ref())?;
        match &studies {
            Some(shown) => h.erase_patient_as_shown(&patient_id, issuer.as_deref(), shown, &basis),
            None => {
                let subject = DataSubject::Patient {
                    id: patient_id.clone(),
                    issuer: issuer.clone(),
                };
                h.erase(&subject, &basis)
            }
        }
    })?;
    desk.forget_frames();
    Ok(done)
}

/// The studies of other patients `report` may be moved to (filed under the wrong patient).
#[tauri::command(async)]
pub(super) fn move_targets(desk: State<'_, Desk>, report: String) -> Reply<Vec<MoveTarget>> {
    desk.read(|h| h.move_targets(entry_id(&report)?))
}

/// Moves `report` to `study` of the patient `patient_id`, for `reason` (`report.move`).
#[tauri::command(async)]
pub(super) fn report_move(
    desk: State<'_, Desk>,
    report: String,
    patient_id: String,
    study: String,
    reason: String,
) -> Reply<String> {
    desk.act(|h| h.report_move(entry_id(&report)?, &patient_id, &study, &reason))
        .map(|id| id.to_hex())
}
