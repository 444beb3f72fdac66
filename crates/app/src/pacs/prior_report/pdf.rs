//! A prior's PDF report: taken out of its DICOM wrapper (never parsed), written where only the
//! home's owner reads it, and pruned a day later.

use std::path::Path;

use dicom_dictionary_std::tags;

/// The longest text kept from a PDF's DICOM wrapper (its title).
const MAX_TITLE_CHARS: usize = 1024;

/// A PDF written there is removed on a later call once it is this old.
const PDF_KEPT: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// An Encapsulated PDF's document and what its wrapper says of it.
#[derive(Debug)]
pub(super) struct EncapsulatedPdf {
    pub study: String,
    pub patient_id: Option<String>,
    pub sop_instance: String,
    pub title: Option<String>,
    pub date: Option<String>,
    pub time: Option<String>,
    pub document: Vec<u8>,
}

/// Takes the PDF out of an Encapsulated PDF instance (after the imaging crate's pre-scan of
/// the DICOM), checking that it is one and that the document starts as a PDF does. The PDF
/// itself is not parsed.
pub(super) fn read_encapsulated_pdf(bytes: &[u8]) -> std::result::Result<EncapsulatedPdf, String> {
    let object = countersign_imaging::open_bytes(bytes).map_err(|e| e.to_string())?;
    let text = |tag: dicom_core::Tag| -> Option<String> {
        object
            .get(tag)
            .and_then(|e| e.to_str().ok())
            .map(|s| s.trim_end_matches(['\0', ' ']).trim().to_string())
            .filter(|s| !s.is_empty())
            .map(|s| s.chars().take(MAX_TITLE_CHARS).collect())
    };
    let class = text(tags::SOP_CLASS_UID).unwrap_or_default();
    if class != countersign_pacs::documents::ENCAPSULATED_PDF {
        return Err(format!("its SOP Class is {class:?}, not Encapsulated PDF"));
    }
    if let Some(mime) = text(tags::MIME_TYPE_OF_ENCAPSULATED_DOCUMENT) {
        if !mime.eq_ignore_ascii_case("application/pdf") {
            return Err(format!("it encapsulates {mime:?}, not a PDF"));
        }
    }
    let study = text(tags::STUDY_INSTANCE_UID).ok_or("it has no Study Instance UID")?;
    let sop_instance = text(tags::SOP_INSTANCE_UID).ok_or("it has no SOP Instance UID")?;
    countersign_pacs::check_uid(&sop_instance).map_err(|e| e.to_string())?;
    let mut document = object
        .get(tags::ENCAPSULATED_DOCUMENT)
        .ok_or("it has no Encapsulated Document")?
        .to_bytes()
        .map_err(|e| format!("its Encapsulated Document is not bytes: {e}"))?
        .into_owned();
    // The value is padded to an even length; the length element says where the PDF ends.
    if let Some(n) = text(tags::ENCAPSULATED_DOCUMENT_LENGTH).and_then(|n| n.parse::<usize>().ok())
    {
        if n <= document.len() {
            document.truncate(n);
        }
    }
    if !document.starts_with(b"%PDF-") {
        return Err("its document does not start as a PDF does (%PDF-)".into());
    }
    let concept = object
        .get(tags::CONCEPT_NAME_CODE_SEQUENCE)
        .and_then(|e| e.items())
        .and_then(|items| items.first())
        .and_then(|item| item.get(tags::CODE_MEANING))
        .and_then(|e| e.to_str().ok())
        .map(|s| {
            s.trim_end_matches(['\0', ' '])
                .chars()
                .take(MAX_TITLE_CHARS)
                .collect()
        });
    Ok(EncapsulatedPdf {
        study,
        patient_id: text(tags::PATIENT_ID),
        sop_instance,
        title: text(tags::DOCUMENT_TITLE).or(concept),
        date: text(tags::CONTENT_DATE),
        time: text(tags::CONTENT_TIME),
        document,
    })
}

/// Writes a file only its owner may read (the home is already the owner's alone: a report
/// names a patient, so its file says so itself too).
pub(super) fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Removes the PDFs written more than a day ago, and fetch folders a crash left (best effort:
/// the folder is a cache the desktop reads from, not a record).
pub(super) fn prune_old_pdfs(folder: &Path) {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return;
    };
    for entry in entries.flatten() {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > PDF_KEPT);
        if old {
            let path = entry.path();
            let _ = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
        }
    }
}
