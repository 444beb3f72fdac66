//! An audit archive's `provenance.txt` held to the signed entries it came with.
//!
//! Why (found by review, 2026-12-05): import checked every entry of `report.csbundle` and read
//! nothing else of the archive, so a `provenance.txt` rewritten after export ("signed off by
//! Dr A", no addendum) was imported with exit 0 while the auditor who unpacked it read the
//! forgery. The importing home now renders the text again from what it just verified, as the
//! exporter did, and compares. What no one signed is left out of the comparison and named: the
//! patient line and the study's date, which the exporter read from its own image store (the
//! bundle carries no image), and the time of the export, which is the archive's date.
//!
//! Nothing in the archive but the entries decides whether the text is compared (a review of
//! the first version, the same day: a README naming another version, or a second report put
//! in the bundle, turned the comparison off with exit 0). A text that cannot be compared is a
//! problem the import reports (exit 1), as is one that differs.

use countersign_export::{date_time, document, text, StudyInfo};
use countersign_ledger::EntryId;
use serde::Serialize;

use super::authenticated::Carried;
use crate::error::Result;
use crate::export::{ArchiveText, VERSION, WRITTEN_BY};
use crate::home::Home;

/// What import found of an audit archive's `provenance.txt`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ProvenanceText {
    /// It reads as the signed entries do; `unsigned` are its lines no one signed (the patient
    /// and the study's date from the exporter's image store, the archive's date).
    Matches { unsigned: Vec<String> },
    /// It does not: the first line (counted from 1) that differs, as the archive has it and
    /// as the entries have it (empty where one side has no such line). `written_by` is the
    /// version the archive's README names where it is not this one (its wording may differ).
    Differs {
        line: usize,
        archive: String,
        entries: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        written_by: Option<String>,
    },
    /// Not compared, and why: a problem, as a difference is.
    NotChecked { reason: String },
    /// An AI audit package: its `provenance.json` and `summary.pdf` are the exporter's and are
    /// not compared; `ai stats` gives the figures from the entries imported.
    AiPackage,
}

impl ProvenanceText {
    /// Whether the import should say so as a problem (exit 1): the text is not what the
    /// entries say, or it could not be held to them.
    pub fn is_problem(&self) -> bool {
        matches!(
            self,
            ProvenanceText::Differs { .. } | ProvenanceText::NotChecked { .. }
        )
    }
}

/// The most lines of an archive's text compared past the rendered text's own: a text of 16 MiB
/// of line feeds is not split into 16 million lines to find that it differs.
const SPARE_LINES: usize = 64;

/// The longest patient name (DICOM PN: three component groups of 64 characters and their two
/// `=`) and Patient ID (LO, 64) a patient line can hold.
const MAX_NAME: usize = 3 * 64 + 2;
const MAX_ID: usize = 64;

impl Home {
    /// Holds an audit archive's text to the entries just imported from it (`carried`: what
    /// its bundle held).
    pub(crate) fn check_archive_text(
        &self,
        text: &ArchiveText,
        carried: &Carried,
    ) -> Result<ProvenanceText> {
        let not_checked = |reason: String| Ok(ProvenanceText::NotChecked { reason });
        let Some(provenance) = &text.provenance else {
            return if text.ai_package {
                Ok(ProvenanceText::AiPackage)
            } else {
                not_checked("the archive holds no provenance.txt".into())
            };
        };
        let Ok(archive) = std::str::from_utf8(provenance) else {
            return not_checked("provenance.txt is not UTF-8 text".into());
        };
        // The report the text is about: the one of the bundle's whose id it names.
        let named: Vec<&EntryId> = carried
            .reports
            .iter()
            .filter(|id| archive.contains(&id.to_string()))
            .collect();
        let [report] = named[..] else {
            return not_checked(format!(
                "provenance.txt names {} of the {} reports in the bundle, not one",
                named.len(),
                carried.reports.len()
            ));
        };
        // The home may hold entries the archive left out — of the report, or of the roster,
        // which names its authors: the text would be rendered from more than the archive
        // carried (found by review, 2026-12-05) — and an auditor holding a later entry learns
        // that the archive leaves it out.
        let db = self.store().db();
        let held = db.log_entries(report)?.len();
        if held > carried.of(report) {
            return not_checked(format!(
                "this home holds {} entries of report {report} that the archive leaves out (a \
                 later addendum or sign-off, say): its text was not compared; `report show` \
                 reads all {held}",
                held - carried.of(report)
            ));
        }
        let network = self.state()?.network()?;
        let roster = db.log_entries(&network)?.len();
        if roster > carried.of(&network) {
            return not_checked(format!(
                "this home holds {} roster entries the archive does not carry (a member \
                 renamed or revoked since, say): its text, which names the authors as the \
                 roster does, was not compared; `report show` reads the report as this home's \
                 roster has it",
                roster - carried.of(&network)
            ));
        }
        let mut input = self.export_input(*report)?;
        input.exported_ms = text.exported_ms;
        input.study = StudyInfo {
            uid: input.study.uid,
            ..StudyInfo::default()
        };
        let entries = text::render(&document(&input));
        Ok(match compare(archive, &entries, &input.view.study) {
            ProvenanceText::Differs {
                line,
                archive,
                entries,
                ..
            } => ProvenanceText::Differs {
                line,
                archive,
                entries,
                written_by: text
                    .readme
                    .as_deref()
                    .and_then(written_by)
                    .filter(|v| v != VERSION),
            },
            ProvenanceText::Matches { mut unsigned } => {
                let at = date_time(text.exported_ms);
                unsigned.push(format!(
                    "exported at {} {} UTC (the archive's date)",
                    &at[..10],
                    &at[11..16]
                ));
                ProvenanceText::Matches { unsigned }
            }
            other => other,
        })
    }
}

/// The version an audit archive's README says wrote it (at most 40 characters of it: it is
/// the archive's word, only ever shown).
fn written_by(readme: &[u8]) -> Option<String> {
    let readme = std::str::from_utf8(readme).ok()?;
    readme.lines().find_map(|l| {
        let v = l.strip_prefix(WRITTEN_BY)?.trim().strip_suffix('.')?;
        Some(v.chars().take(40).collect())
    })
}

/// Compares the archive's text with the one rendered from the entries (with no patient and
/// no study date: the third and fourth lines). The archive's third line is the patient's, one
/// of the forms the document writes, with a name and an ID no longer than DICOM's; its fourth
/// names the report's study, with a date of DICOM's digits at most.
fn compare(archive: &str, entries: &str, study: &str) -> ProvenanceText {
    let e: Vec<&str> = entries.lines().collect();
    let a: Vec<&str> = archive.lines().take(e.len() + SPARE_LINES).collect();
    let differs =
        |line: usize, archive: Option<&&str>, entries: Option<&&str>| ProvenanceText::Differs {
            line: line + 1,
            archive: archive.map_or(String::new(), |s| s.to_string()),
            entries: entries.map_or(String::new(), |s| s.to_string()),
            written_by: None,
        };
    // Title and its underline.
    for i in 0..2 {
        if a.get(i) != e.get(i) {
            return differs(i, a.get(i), e.get(i));
        }
    }
    let study_line = |l: &str| {
        let Some(rest) = l.strip_prefix("Study ").and_then(|r| r.strip_prefix(study)) else {
            return false;
        };
        rest.is_empty()
            || rest.strip_prefix(", ").is_some_and(|d| {
                // DA: YYYYMMDD, or the old YYYY.MM.DD; a range's dash.
                !d.is_empty()
                    && d.len() <= 18
                    && d.bytes()
                        .all(|b| b.is_ascii_digit() || b == b'-' || b == b'.')
            })
    };
    // The patient's line is one line, never wrapped (`Block::Line`): a sentence cannot be
    // wrapped onto a line of its own beside it (found by review, 2026-12-05).
    let (Some(patient), Some(study_at)) = (a.get(2), a.get(3)) else {
        return differs(2, a.get(2), e.get(2));
    };
    if !patient_line(patient) {
        return differs(2, a.get(2), e.get(2));
    }
    if !study_line(study_at) {
        return differs(3, a.get(3), e.get(3));
    }
    let at = 3;
    // The rest, line for line, from the line after the study's.
    let rest_a = &a[at + 1..];
    let rest_e = e.get(4..).unwrap_or(&[]);
    for i in 0..rest_a.len().max(rest_e.len()) {
        if rest_a.get(i) != rest_e.get(i) {
            return differs(at + 1 + i, rest_a.get(i), rest_e.get(i));
        }
    }
    ProvenanceText::Matches {
        unsigned: vec![patient.to_string(), study_at.to_string()],
    }
}

/// Whether `line` is a patient line as the document writes one: "Patient NAME (ID ID)",
/// "Patient NAME", "Patient ID ID" or "Patient not recorded", the name and ID no longer than
/// DICOM holds (so a forged line has no room beside them).
fn patient_line(line: &str) -> bool {
    let Some(rest) = line.strip_prefix("Patient ") else {
        return false;
    };
    let fits = |s: &str, max: usize| !s.is_empty() && s.chars().count() <= max;
    if rest == "not recorded" {
        return true;
    }
    if let Some(id) = rest.strip_prefix("ID ") {
        if fits(id, MAX_ID) {
            return true;
        }
    }
    if let Some((name, id)) = rest.strip_suffix(')').and_then(|r| r.rsplit_once(" (ID ")) {
        if fits(name, MAX_NAME) && fits(id, MAX_ID) {
            return true;
        }
    }
    !rest.contains(" (ID ") && fits(rest, MAX_NAME)
}

#[cfg(test)]
mod tests {
    use super::*;
    use countersign_export::Block;

    const ENTRIES: &str = "CT REPORT\n=========\nPatient not recorded\nStudy 1.2.3\n\
                           Status FINAL · Dept · report abc\nSigned off by Dr A at 2026-12-05 \
                           08:42 UTC\n";

    fn archive(patient: &str, study: &str, rest: &str) -> String {
        format!("CT REPORT\n=========\n{patient}\n{study}\n{rest}")
    }

    const REST: &str =
        "Status FINAL · Dept · report abc\nSigned off by Dr A at 2026-12-05 08:42 UTC\n";

    #[test]
    fn the_exporters_patient_and_study_date_are_left_out_and_named() {
        let a = archive("Patient Doe Jane (ID 42)", "Study 1.2.3, 20260101", REST);
        assert_eq!(
            compare(&a, ENTRIES, "1.2.3"),
            ProvenanceText::Matches {
                unsigned: vec![
                    "Patient Doe Jane (ID 42)".into(),
                    "Study 1.2.3, 20260101".into()
                ]
            }
        );
        // The old ACR-NEMA date form is a date too.
        let a = archive("Patient Doe Jane (ID 42)", "Study 1.2.3, 2026.01.01", REST);
        assert!(matches!(
            compare(&a, ENTRIES, "1.2.3"),
            ProvenanceText::Matches { .. }
        ));
    }

    #[test]
    fn a_rewritten_sign_off_differs_at_its_line() {
        let a = archive(
            "Patient Doe Jane (ID 42)",
            "Study 1.2.3, 20260101",
            "Status FINAL · Dept · report abc\nSigned off by Dr B at 2026-12-05 08:42 UTC\n",
        );
        assert_eq!(
            compare(&a, ENTRIES, "1.2.3"),
            ProvenanceText::Differs {
                line: 6,
                archive: "Signed off by Dr B at 2026-12-05 08:42 UTC".into(),
                entries: "Signed off by Dr A at 2026-12-05 08:42 UTC".into(),
                written_by: None,
            }
        );
    }

    #[test]
    fn a_line_added_or_cut_at_the_end_differs() {
        let longer = archive(
            "Patient X",
            "Study 1.2.3",
            &format!("{REST}Addendum: none\n"),
        );
        assert!(matches!(
            compare(&longer, ENTRIES, "1.2.3"),
            ProvenanceText::Differs { line: 7, .. }
        ));
        let shorter = archive(
            "Patient X",
            "Study 1.2.3",
            "Status FINAL · Dept · report abc\n",
        );
        assert!(matches!(
            compare(&shorter, ENTRIES, "1.2.3"),
            ProvenanceText::Differs { line: 6, .. }
        ));
        // Millions of line feeds after it: compared no further than the text could reach.
        let flood = archive(
            "Patient X",
            "Study 1.2.3",
            &format!("{REST}{}", "\n".repeat(1 << 20)),
        );
        assert!(matches!(
            compare(&flood, ENTRIES, "1.2.3"),
            ProvenanceText::Differs { line: 7, .. }
        ));
    }

    #[test]
    fn the_unsigned_lines_hold_no_story_of_their_own() {
        let forged = |patient: &str, study: &str| {
            let a = archive(patient, study, REST);
            matches!(
                compare(&a, ENTRIES, "1.2.3"),
                ProvenanceText::Differs { line: 3 | 4, .. }
            )
        };
        // A line of its own under the patient's: the patient's is one line, never wrapped.
        assert!(forged(
            "Patient Doe Jane (ID 42)\nSigned off by Dr B",
            "Study 1.2.3"
        ));
        // A name padded so that a sentence would wrap onto a line of its own, with the ID
        // after it (found by review, 2026-12-05: it matched).
        assert!(forged(
            &format!(
                "Patient {}\nSigned off by Dr Mallory (attending) at 2026-12-05 08:42 UTC\n(ID 42)",
                "x".repeat(90)
            ),
            "Study 1.2.3"
        ));
        // Not a patient line at all.
        assert!(forged("Signed off by Dr B", "Study 1.2.3"));
        // A study date that says more than a date.
        assert!(forged("Patient X", "Study 1.2.3, 20260101 signed by Dr B"));
        // Another study.
        assert!(forged("Patient X", "Study 1.2.4"));
    }

    /// The document writes the patient's line whole, however long: an import reads it back as
    /// one line (a long honest name wrapped was read as forged).
    #[test]
    fn a_long_patient_line_is_written_whole() {
        let long = format!(
            "Patient {} (ID {})",
            "N".repeat(MAX_NAME),
            "1".repeat(MAX_ID)
        );
        let text = text::render(&[Block::Line(long.clone())]);
        assert_eq!(text, format!("{long}\n"));
        assert!(patient_line(&long));
    }

    #[test]
    fn patient_lines_are_the_forms_the_document_writes() {
        assert!(patient_line("Patient not recorded"));
        assert!(patient_line("Patient ID 42"));
        assert!(patient_line("Patient Doe Jane"));
        assert!(patient_line("Patient Doe Jane (ID 42)"));
        assert!(!patient_line("Signed off by Dr B"));
        assert!(!patient_line(&format!(
            "Patient {}",
            "x".repeat(MAX_NAME + 1)
        )));
        assert!(!patient_line(&format!(
            "Patient Doe (ID {})",
            "1".repeat(MAX_ID + 1)
        )));
    }

    #[test]
    fn the_version_is_read_from_the_readme() {
        let readme = format!("Countersign audit bundle for report x\n{WRITTEN_BY} 1.2.3.\n\nmore");
        assert_eq!(written_by(readme.as_bytes()).as_deref(), Some("1.2.3"));
        assert_eq!(written_by(b"Countersign audit bundle\n"), None);
    }
}
