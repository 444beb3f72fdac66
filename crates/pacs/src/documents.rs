//! A study's reports as an archive keeps them: its SR and Encapsulated PDF instances, found
//! without listing its images (a series-level search first, then only the instances of the
//! series whose modality can hold a report), and one of them brought here to a file of its
//! own, bounded by [`MAX_DOCUMENT_BYTES`] — never the images.

use std::path::{Path, PathBuf};

use crate::{check_uid, instance_file, Archive, PacsError, Result};

/// The largest report instance taken (an SR of a few pages is tens of kilobytes; a PDF with
/// key images a few megabytes).
pub const MAX_DOCUMENT_BYTES: u64 = 16 * 1024 * 1024;
/// The most report instances listed for one study.
pub const MAX_DOCUMENTS: usize = 256;
/// The most series of a study searched for reports (those of a modality in
/// [`DOCUMENT_MODALITIES`]): each is one more request to the archive.
pub const MAX_DOCUMENT_SERIES: usize = 64;
/// The series modalities searched for reports: SR, and DOC (what an Encapsulated Document's
/// series says) or OT (what some systems write for one instead).
pub const DOCUMENT_MODALITIES: &[&str] = &["SR", "DOC", "OT"];
/// The SOP Class of an Encapsulated PDF.
pub const ENCAPSULATED_PDF: &str = "1.2.840.10008.5.1.4.1.1.104.1";
/// The SR SOP Classes a report is written in: Basic Text, Enhanced, Comprehensive and
/// Comprehensive 3D SR.
pub const SR_CLASSES: &[&str] = &[
    "1.2.840.10008.5.1.4.1.1.88.11",
    "1.2.840.10008.5.1.4.1.1.88.22",
    "1.2.840.10008.5.1.4.1.1.88.33",
    "1.2.840.10008.5.1.4.1.1.88.34",
];

/// What kind of report an instance is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DocumentKind {
    Sr,
    Pdf,
}

/// A report instance of a study on an archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentMatch {
    pub kind: DocumentKind,
    pub series: String,
    pub instance: String,
    /// The SOP Class as the archive gave it; `None` when its search does not return it (the
    /// kind then comes from the series' modality, and the file itself says what it is).
    pub sop_class: Option<String>,
    /// Content Date (`YYYYMMDD`) and Time, when the archive gives them.
    pub date: Option<String>,
    pub time: Option<String>,
}

impl DocumentMatch {
    /// What a series' instance is, from its SOP Class when known, else from the series'
    /// modality; `None`: not a report.
    pub(crate) fn kind_of(sop_class: Option<&str>, modality: Option<&str>) -> Option<DocumentKind> {
        match sop_class {
            Some(c) if SR_CLASSES.contains(&c) => Some(DocumentKind::Sr),
            Some(ENCAPSULATED_PDF) => Some(DocumentKind::Pdf),
            Some(_) => None,
            None => match modality {
                Some("SR") => Some(DocumentKind::Sr),
                Some("DOC") => Some(DocumentKind::Pdf),
                _ => None,
            },
        }
    }
}

/// Counts a series searched for reports, refusing one past [`MAX_DOCUMENT_SERIES`].
pub(crate) fn one_more_series(searched: &mut usize) -> Result<()> {
    *searched += 1;
    if *searched > MAX_DOCUMENT_SERIES {
        return Err(PacsError::TooLarge {
            what: "the study's SR, DOC and OT series".into(),
            limit: MAX_DOCUMENT_SERIES as u64,
        });
    }
    Ok(())
}

/// Newest first (by content date and time), undated last; of the same moment an SR before a
/// PDF (its text is the report itself: a system writing both writes them together); then by
/// instance UID, so the order is the same on every call and across archives.
pub fn newest_first_order(a: &DocumentMatch, b: &DocumentMatch) -> std::cmp::Ordering {
    let key = |d: &DocumentMatch| (d.date.clone(), d.time.clone());
    let sr_first = |d: &DocumentMatch| d.kind != DocumentKind::Sr;
    match (&a.date, &b.date) {
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        _ => key(b).cmp(&key(a)),
    }
    .then_with(|| sr_first(a).cmp(&sr_first(b)))
    .then_with(|| a.instance.cmp(&b.instance))
}

pub(crate) fn newest_first(found: &mut [DocumentMatch]) {
    found.sort_by(newest_first_order);
}

impl Archive {
    /// The SR and Encapsulated PDF instances of `study`, newest first (at most
    /// [`MAX_DOCUMENTS`]).
    pub fn documents(&self, study: &str) -> Result<Vec<DocumentMatch>> {
        check_uid(study)?;
        let mut found = match self {
            Archive::DicomWeb(a) => a.documents(study)?,
            Archive::Dimse(a) => a.documents(study)?,
        };
        newest_first(&mut found);
        Ok(found)
    }

    /// One instance of `study`, as the archive holds it, written to the first
    /// [`instance_file`] of `dir`: at most `limit` bytes (and never more than
    /// [`MAX_DOCUMENT_BYTES`]). Over DIMSE it is a C-GET at IMAGE level offering only the
    /// report classes, so no image can come with it.
    pub fn fetch_instance(
        &self,
        study: &str,
        series: &str,
        instance: &str,
        dir: &Path,
        limit: u64,
    ) -> Result<PathBuf> {
        for uid in [study, series, instance] {
            check_uid(uid)?;
        }
        let limit = limit.min(MAX_DOCUMENT_BYTES);
        let path = instance_file(dir, 0);
        let got = match self {
            Archive::DicomWeb(a) => a.fetch_instance(study, series, instance, &path, limit),
            Archive::Dimse(a) => a.fetch_instance(study, series, instance, dir, limit),
        };
        let bytes = got.and_then(|_| {
            std::fs::metadata(&path)
                .map(|m| m.len())
                .map_err(|_| PacsError::Refused(format!("it sent nothing for instance {instance}")))
        });
        match bytes {
            Ok(n) if n > 0 => Ok(path),
            Ok(_) => {
                let _ = std::fs::remove_file(&path);
                Err(PacsError::Refused(format!(
                    "it sent nothing for instance {instance}"
                )))
            }
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(instance: &str, date: Option<&str>, time: Option<&str>) -> DocumentMatch {
        DocumentMatch {
            kind: DocumentKind::Sr,
            series: "1.2".into(),
            instance: instance.into(),
            sop_class: None,
            date: date.map(String::from),
            time: time.map(String::from),
        }
    }

    #[test]
    fn reports_are_told_by_class_then_modality_and_listed_newest_first() {
        use DocumentKind::*;
        assert_eq!(
            DocumentMatch::kind_of(Some(SR_CLASSES[2]), Some("OT")),
            Some(Sr)
        );
        assert_eq!(
            DocumentMatch::kind_of(Some(ENCAPSULATED_PDF), Some("OT")),
            Some(Pdf)
        );
        assert_eq!(
            DocumentMatch::kind_of(Some("1.2.840.10008.5.1.4.1.1.2"), Some("SR")),
            None
        );
        assert_eq!(DocumentMatch::kind_of(None, Some("SR")), Some(Sr));
        assert_eq!(DocumentMatch::kind_of(None, Some("DOC")), Some(Pdf));
        assert_eq!(DocumentMatch::kind_of(None, Some("OT")), None);
        let mut found = vec![
            doc("1.1", None, None),
            doc("1.2", Some("20240101"), Some("120000")),
            doc("1.3", Some("20250101"), None),
            doc("1.4", Some("20240101"), Some("130000")),
        ];
        newest_first(&mut found);
        let order: Vec<&str> = found.iter().map(|d| d.instance.as_str()).collect();
        assert_eq!(order, ["1.3", "1.4", "1.2", "1.1"]);
        // Of one moment, the SR first whatever the UIDs say.
        let mut pdf = doc("1.0", Some("20240101"), Some("130000"));
        pdf.kind = DocumentKind::Pdf;
        let sr = doc("1.9", Some("20240101"), Some("130000"));
        assert_eq!(newest_first_order(&sr, &pdf), std::cmp::Ordering::Less);
        assert_eq!(newest_first_order(&pdf, &sr), std::cmp::Ordering::Greater);
        let mut searched = 0;
        for _ in 0..MAX_DOCUMENT_SERIES {
            one_more_series(&mut searched).unwrap();
        }
        assert!(matches!(
            one_more_series(&mut searched),
            Err(PacsError::TooLarge { .. })
        ));
    }
}
