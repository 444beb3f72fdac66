//! A patient as the desktop's data-protection actions see it, read-only: whether this user may
//! erase a patient at all, what erasing one would cover (so the dialog names it before anything
//! is signed), and the studies a report filed under the wrong patient may be moved to.
//!
//! Nothing here decides: the erasure and the move themselves are judged by the one acceptance
//! path ([`Home::erase`], [`Home::report_move`]). These answers only let the UI offer what the
//! app would take, and say what it would do, without restating a rule.

use std::collections::BTreeSet;

use countersign_ledger::{EntryId, Kind};
use serde::Serialize;

use crate::actions::Allowed;
use crate::error::{AppError, Result};
use crate::Home;

/// What this user may do on a patient's data as a whole (the roster role's answer, the same
/// table the rules judge an erasure's or a restriction's author by).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DataProtectionActions {
    /// Erasing every report of a patient (`payload.erase`, GDPR Art. 17).
    pub erase_patient: Allowed,
    /// Restricting them (`report.restrict`, GDPR Art. 18).
    pub restrict_patient: Allowed,
}

/// What erasing a patient would cover here: the studies imported with that Patient ID and the
/// reports about them ([`Home::erase`] with [`crate::DataSubject::Patient`] signs one erasure
/// per report listed, and destroys the images of every study listed, those no report is about
/// on this home only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PatientScope {
    pub patient_id: String,
    /// The Issuer of Patient ID the studies' instances carry (`null`: none recorded). A
    /// Patient ID is unique only per issuer: the erasure is asked for with this issuer, and
    /// covers only the studies listed (see [`crate::DataSubject::Patient`]).
    pub issuer: Option<String>,
    /// Other issuers under which studies held here carry the same Patient ID (`null`: none
    /// recorded): other people, perhaps, whose studies the erasure leaves alone.
    pub other_issuers: Vec<Option<String>>,
    /// The name the studies' first instance carries.
    pub patient: Option<String>,
    /// Study Instance UIDs, by UID.
    pub studies: Vec<String>,
    /// Every report about those studies, by id (moved-away reports are not: they are about
    /// another patient now).
    pub reports: Vec<EntryId>,
    /// How many of `reports` are erased already.
    pub erased: usize,
}

/// A study a report may be moved to: one of another patient's, imported here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MoveTarget {
    pub study: String,
    pub patient_id: String,
    pub patient: Option<String>,
    pub date: Option<String>,
    pub modality: Option<String>,
    pub description: Option<String>,
    pub instances: u64,
}

/// The most studies [`Home::move_targets`] lists (a choice in a dialog, not a browser).
pub const MAX_MOVE_TARGETS: usize = 1_000;

impl Home {
    /// Whether this home's user may erase or restrict a patient's data: the role the roster
    /// gives them, asked of the same table the rules use. Reads no key.
    pub fn data_protection_actions(&self) -> Result<DataProtectionActions> {
        let role = match self.whoami() {
            Ok(me) => me.role,
            Err(e @ AppError::NotInitialized { .. }) => {
                let no = Allowed::no("not_initialized", e.to_string());
                return Ok(DataProtectionActions {
                    erase_patient: no.clone(),
                    restrict_patient: no,
                });
            }
            Err(e) => return Err(e),
        };
        let judge = |kind: Kind| {
            if role.may_write(kind) {
                Allowed::yes()
            } else {
                Allowed::no(
                    "role_may_not_write",
                    format!("a member with the role {role} may not write {kind}"),
                )
            }
        };
        Ok(DataProtectionActions {
            erase_patient: judge(Kind::PayloadErase),
            restrict_patient: judge(Kind::ReportRestrict),
        })
    }

    /// What erasing the patient with `patient_id` and `issuer` would cover here (see
    /// [`PatientScope`]; `issuer` as in [`crate::DataSubject::Patient`]). Refused as the
    /// erasure would be: `not_found` when no study imported here carries that Patient ID,
    /// `invalid_input` when no issuer is named and more than one holds it, `wrong_patient`
    /// when a study of the patient holds another's instances too.
    pub fn patient_scope(&self, patient_id: &str, issuer: Option<&str>) -> Result<PatientScope> {
        let db = self.store().db();
        let resolved = crate::erasure::resolve_patient(&db, self.dir(), patient_id, issuer)?;
        let studies = resolved.studies;
        let Some(first) = studies.first() else {
            // Never the ID in the message: the log line would carry it.
            return Err(AppError::NotFound {
                what: "a study of that patient imported here".into(),
            });
        };
        let patient = db.study_head(first)?.and_then(|(i, _)| i.patient);
        let mut reports = BTreeSet::new();
        let mut erased = 0;
        for study in &studies {
            for s in db.summaries_of_study(study)? {
                if reports.insert(s.report) && s.status == "erased" {
                    erased += 1;
                }
            }
        }
        Ok(PatientScope {
            patient_id: patient_id.to_string(),
            issuer: resolved.issuer,
            other_issuers: resolved.others,
            patient,
            studies,
            reports: reports.into_iter().collect(),
            erased,
        })
    }

    /// The patient of an imported study: its instances' Patient ID and Issuer of Patient ID
    /// (`None`: none recorded). `not_found` without a Patient ID; `wrong_patient` when its
    /// instances disagree on either (whose study it is cannot be told).
    pub fn study_patient(&self, study: &str) -> Result<(String, Option<String>)> {
        let patients = self.store().db().patients_of_study(study, 2)?;
        match patients.as_slice() {
            [(Some(id), issuer)] => Ok((id.clone(), issuer.clone())),
            [_, _, ..] => Err(AppError::WrongPatient(format!(
                "study {study} holds images of more than one patient (its instances disagree on \
                 the Patient ID or its issuer): whose study it is cannot be told"
            ))),
            _ => Err(AppError::NotFound {
                what: format!("a Patient ID for study {study} (is it imported here?)"),
            }),
        }
    }

    /// The Patient ID of an imported study (its first instance's); `not_found` without one.
    pub fn study_patient_id(&self, study: &str) -> Result<String> {
        self.store()
            .db()
            .study_head(study)?
            .and_then(|(i, _)| i.patient_id)
            .ok_or_else(|| AppError::NotFound {
                what: format!("a Patient ID for study {study} (is it imported here?)"),
            })
    }

    /// The studies imported here that `report` could be moved to: every study with a Patient ID
    /// other than that of the study the report is about now, newest first, at most
    /// [`MAX_MOVE_TARGETS`]. (Whether the move is allowed is [`Home::report_actions`]' `move`.)
    pub fn move_targets(&self, report: EntryId) -> Result<Vec<MoveTarget>> {
        let current = self.report_show(report)?.study;
        let db = self.store().db();
        let here = db.study_head(&current)?.and_then(|(i, _)| i.patient_id);
        let mut out = Vec::new();
        let mut cursor: Option<countersign_store::StudyCursor> = None;
        loop {
            let page = db.study_dates_after(cursor.as_ref(), 200)?;
            if page.is_empty() {
                return Ok(out);
            }
            for (date, study) in page {
                cursor = Some(countersign_store::StudyCursor {
                    date: date.clone(),
                    study: study.clone(),
                });
                let Some((first, instances)) = db.study_head(&study)? else {
                    continue;
                };
                // Listed once, at its first instance's date (as the study list does).
                if first.study_date != date || study == current {
                    continue;
                }
                let Some(patient_id) = first.patient_id else {
                    // No Patient ID: the move's wrong-patient check could never pass.
                    continue;
                };
                if here.as_deref() == Some(patient_id.as_str()) {
                    continue;
                }
                out.push(MoveTarget {
                    study,
                    patient_id,
                    patient: first.patient,
                    date: first.study_date,
                    modality: first.modality,
                    description: first.study_description.or(first.series_description),
                    instances,
                });
                if out.len() == MAX_MOVE_TARGETS {
                    return Ok(out);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use countersign_ledger::Role;

    use crate::DataSubject;

    #[test]
    fn a_patient_scope_names_what_an_erasure_would_cover_and_a_move_the_other_patients_studies() {
        let dir = tempfile::tempdir().unwrap();
        let mut home = crate::tests::open_home(dir.path()).unwrap();
        let demo = home.demo().unwrap();
        let scope = home.patient_scope("PHANTOM-0001", None).unwrap();
        assert_eq!(scope.studies, vec![demo.study.clone()]);
        assert_eq!(scope.reports, vec![demo.report]);
        assert_eq!(scope.erased, 0);
        assert_eq!(scope.patient.as_deref(), Some("Phantom^Shepp-Logan"));
        assert_eq!(home.study_patient_id(&demo.study).unwrap(), "PHANTOM-0001");
        assert_eq!(
            home.patient_scope("NOBODY", None).unwrap_err().code(),
            "not_found"
        );
        // Only the demo patient's study here: nowhere to move its report to.
        assert!(home.move_targets(demo.report).unwrap().is_empty());

        let ct = countersign_testkit::corpus("CT_small.dcm");
        home.import(&[ct.as_path()], |_| {}).unwrap();
        let targets = home.move_targets(demo.report).unwrap();
        assert_eq!(targets.len(), 1, "{targets:?}");
        assert_eq!(targets[0].patient_id, "1CT1");
        assert!(home.report_actions(demo.report).unwrap().r#move.allowed);
        // Asking signed nothing: the report is still about the phantom study.
        assert_eq!(home.report_show(demo.report).unwrap().study, demo.study);

        // Moved: the report counts for the right patient, no longer for the wrong one.
        let right = targets[0].study.clone();
        home.report_move(demo.report, "1CT1", &right, "wrong patient")
            .unwrap();
        assert!(home
            .patient_scope("PHANTOM-0001", None)
            .unwrap()
            .reports
            .is_empty());
        assert_eq!(
            home.patient_scope("1CT1", None).unwrap().reports,
            vec![demo.report]
        );
        // From the right patient's study, the phantom's is the other patient's.
        let back = home.move_targets(demo.report).unwrap();
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].study, demo.study);

        home.erase(&DataSubject::patient("1CT1"), "GDPR Art. 17(1)(b)")
            .unwrap();
        let report = home.report_actions(demo.report).unwrap();
        assert!(!report.r#move.allowed, "an erased report is closed");
        assert_eq!(report.r#move.rule, Some("report_erased"));
    }

    #[test]
    fn only_an_attending_or_a_data_protection_officer_is_offered_a_patient_erasure() {
        let dir = tempfile::tempdir().unwrap();
        let attending = crate::tests::founded(dir.path());
        let may = attending.data_protection_actions().unwrap();
        assert!(may.erase_patient.allowed && may.restrict_patient.allowed);

        let dir = tempfile::tempdir().unwrap();
        let mut resident = crate::tests::open_home(dir.path()).unwrap();
        resident
            .init("Dr Res", Role::Resident, Some("Radiology"), None)
            .unwrap();
        let may = resident.data_protection_actions().unwrap();
        assert!(!may.erase_patient.allowed);
        assert_eq!(may.erase_patient.rule, Some("role_may_not_write"));
        assert!(!may.restrict_patient.allowed);

        let dir = tempfile::tempdir().unwrap();
        let empty = crate::tests::open_home(dir.path()).unwrap();
        let may = empty.data_protection_actions().unwrap();
        assert_eq!(may.erase_patient.rule, Some("not_initialized"));
    }

    /// The desktop's dialog (found by a clinical-safety review, 2026-12-05: it named the
    /// first study's patient and erased by the bare ID): from a study, its patient is its
    /// Patient ID and issuer; the scope covers that issuer's studies only and names the other
    /// issuers holding the ID; asked without an issuer, an ID held under two is refused.
    #[test]
    fn a_patient_scope_covers_one_issuers_studies_and_names_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let mut home = crate::tests::founded(dir.path());
        let a = crate::tests::study_of(&mut home, "hospital a", Some("HOSP-A"));
        let b = crate::tests::study_of(&mut home, "hospital b", Some("HOSP-B"));
        let none = crate::tests::study_of(&mut home, "no issuer", None);
        assert_eq!(
            home.study_patient(&a).unwrap(),
            ("12345".to_string(), Some("HOSP-A".to_string()))
        );
        assert_eq!(home.study_patient(&none).unwrap(), ("12345".into(), None));
        let scope = home.patient_scope("12345", Some("HOSP-A")).unwrap();
        assert_eq!(scope.studies, vec![a.clone()]);
        assert_eq!(scope.issuer.as_deref(), Some("HOSP-A"));
        assert_eq!(scope.other_issuers, vec![None, Some("HOSP-B".to_string())]);
        let scope = home.patient_scope("12345", Some("")).unwrap();
        assert_eq!(scope.studies, vec![none.clone()]);
        assert_eq!(scope.issuer, None);
        let refused = home.patient_scope("12345", None).unwrap_err();
        assert_eq!(refused.code(), "invalid_input", "{refused}");
        assert!(
            refused.to_string().contains("3 different issuers"),
            "{refused}"
        );
        assert_eq!(
            home.patient_scope("12345", Some("HOSP-C"))
                .unwrap_err()
                .code(),
            "not_found"
        );

        // The dialog's erasure, with the scope's issuer: exactly the studies shown.
        let done = home
            .erase(
                &DataSubject::Patient {
                    id: "12345".into(),
                    issuer: Some("HOSP-B".into()),
                },
                "GDPR Art. 17(1)(b)",
            )
            .unwrap();
        assert_eq!(done.studies, vec![b]);
        assert_eq!(
            home.patient_scope("12345", Some("HOSP-A")).unwrap().studies,
            vec![a]
        );
        assert_eq!(
            home.patient_scope("12345", Some("")).unwrap().studies,
            vec![none]
        );
    }
}
