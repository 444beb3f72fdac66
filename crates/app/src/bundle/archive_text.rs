//! An audit archive's `provenance.txt` held to the signed entries it came with.
//!
//! Why (found by review, 2026-12-05): import checked every entry of `report.csbundle` and read
//! nothing else of the archive, so a `provenance.txt` rewritten after export ("signed off by
//! Dr A", no addendum) was imported with exit 0 while the auditor who unpacked it read the
//! forgery. The importing home now renders the text again from what it just verified, as the
//! exporter did, and compares. Two things in it no one signed are left out and named: the
//! patient line and the study's date, which the exporter read from its own image store (the
//! bundle carries no image), and the time of the export, which is the archive's date.

use countersign_export::{document, text, Block, StudyInfo};
use countersign_ledger::EntryId;
use serde::Serialize;

use crate::error::Result;
use crate::export::{ArchiveText, VERSION, WRITTEN_BY};
use crate::home::Home;

/// What import found of an audit archive's `provenance.txt`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ProvenanceText {
    /// It reads as the signed entries do; `unsigned` are its lines that come from the
    /// exporter's image store (the patient, the study's date), which no one signed.
    Matches { unsigned: Vec<String> },
    /// It does not: the first line (counted from 1) that differs, as the archive has it and
    /// as the entries have it (empty where one side has no such line).
    Differs {
        line: usize,
        archive: String,
        entries: String,
    },
    /// Not compared, and why (another version wrote it, an AI audit package, …).
    NotChecked { reason: String },
}

impl Home {
    /// Holds an audit archive's text to the entries just imported from it; `reports` are the
    /// reports whose `report.create` the bundle carried.
    pub(crate) fn check_archive_text(
        &self,
        text: &ArchiveText,
        reports: &[EntryId],
    ) -> Result<ProvenanceText> {
        let not_checked = |reason: &str| {
            Ok(ProvenanceText::NotChecked {
                reason: reason.into(),
            })
        };
        let Some(provenance) = &text.provenance else {
            return not_checked(if text.ai_package {
                "an AI audit package: its provenance.json and summary.pdf are the exporter's \
                 and are not compared; `ai stats` gives the figures from the entries imported"
            } else {
                "the archive holds no provenance.txt"
            });
        };
        let written_by = text.readme.as_deref().and_then(written_by);
        if written_by.as_deref() != Some(VERSION) {
            return not_checked(&format!(
                "provenance.txt was written by {} and this is Countersign {VERSION}: the \
                 wording differs between versions, so it was not compared; `report show` \
                 reads the entries imported",
                written_by.map_or("an unnamed version".into(), |v| format!("Countersign {v}"))
            ));
        }
        let [report] = reports else {
            return not_checked(&format!(
                "the bundle holds {} reports, not one: which one provenance.txt is about is \
                 not known",
                reports.len()
            ));
        };
        let Ok(archive) = std::str::from_utf8(provenance) else {
            return Ok(ProvenanceText::Differs {
                line: 1,
                archive: "(not UTF-8 text)".into(),
                entries: String::new(),
            });
        };
        let mut input = self.export_input(*report)?;
        input.exported_ms = text.exported_ms;
        input.study = StudyInfo {
            uid: input.study.uid,
            ..StudyInfo::default()
        };
        let entries = text::render(&document(&input));
        Ok(compare(archive, &entries, &input.view.study))
    }
}

/// The version an audit archive's README says wrote it.
fn written_by(readme: &[u8]) -> Option<String> {
    let readme = std::str::from_utf8(readme).ok()?;
    readme.lines().find_map(|l| {
        l.strip_prefix(WRITTEN_BY)?
            .trim()
            .strip_suffix('.')
            .map(str::to_string)
    })
}

/// Compares the archive's text with the one rendered from the entries (with no patient and
/// no study date: the third and fourth lines). The archive's lines between its title and its
/// study line are the patient's, one paragraph as the renderer wraps it; its study line names
/// the report's study, with a date of DICOM's digits at most.
fn compare(archive: &str, entries: &str, study: &str) -> ProvenanceText {
    let a: Vec<&str> = archive.lines().collect();
    let e: Vec<&str> = entries.lines().collect();
    let differs =
        |line: usize, archive: Option<&&str>, entries: Option<&&str>| ProvenanceText::Differs {
            line: line + 1,
            archive: archive.map_or(String::new(), |s| s.to_string()),
            entries: entries.map_or(String::new(), |s| s.to_string()),
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
                !d.is_empty() && d.len() <= 18 && d.bytes().all(|b| b.is_ascii_digit() || b == b'-')
            })
    };
    let Some(at) = (3..a.len()).find(|&i| study_line(a[i])) else {
        return differs(2, a.get(2), e.get(2));
    };
    let patient = &a[2..at];
    let one_paragraph = patient.first().is_some_and(|l| l.starts_with("Patient "))
        && text::render(&[Block::Meta(patient.join(" "))]) == format!("{}\n", patient.join("\n"));
    if !one_paragraph {
        return differs(2, a.get(2), e.get(2));
    }
    // The rest, line for line, from the line after the study's.
    let rest_a = &a[at + 1..];
    let rest_e = e.get(4..).unwrap_or(&[]);
    for i in 0..rest_a.len().max(rest_e.len()) {
        if rest_a.get(i) != rest_e.get(i) {
            return differs(at + 1 + i, rest_a.get(i), rest_e.get(i));
        }
    }
    let mut unsigned: Vec<String> = patient.iter().map(|l| l.to_string()).collect();
    unsigned.push(a[at].to_string());
    ProvenanceText::Matches { unsigned }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }

    #[test]
    fn the_unsigned_lines_hold_no_story_of_their_own() {
        // A second paragraph among the patient's lines: not how the renderer wraps one.
        let a = archive(
            "Patient Doe Jane (ID 42)\nSigned off by Dr B",
            "Study 1.2.3",
            REST,
        );
        assert!(matches!(
            compare(&a, ENTRIES, "1.2.3"),
            ProvenanceText::Differs { line: 3, .. }
        ));
        // A study date that says more than a date.
        let a = archive("Patient X", "Study 1.2.3, 20260101 signed by Dr B", REST);
        assert!(matches!(
            compare(&a, ENTRIES, "1.2.3"),
            ProvenanceText::Differs { line: 3, .. }
        ));
        // Another study.
        let a = archive("Patient X", "Study 1.2.4", REST);
        assert!(matches!(
            compare(&a, ENTRIES, "1.2.3"),
            ProvenanceText::Differs { line: 3, .. }
        ));
    }

    #[test]
    fn the_version_is_read_from_the_readme() {
        let readme = format!("Countersign audit bundle for report x\n{WRITTEN_BY} 1.2.3.\n\nmore");
        assert_eq!(written_by(readme.as_bytes()).as_deref(), Some("1.2.3"));
        assert_eq!(written_by(b"Countersign audit bundle\n"), None);
    }
}
