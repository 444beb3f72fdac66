//! Exports: a report as PDF, FHIR R4, DICOM SR, or the offline audit archive (the report's
//! bundle beside a human-readable provenance report).

use std::collections::BTreeMap;
use std::path::Path;

use countersign_export::{ExportInput, ImageRef, StudyInfo};
use countersign_ledger::{EntryId, Hash};

use crate::error::{AppError, Result};
use crate::home::{now_ms, Home};
use crate::state::LedgerState;

/// The formats `export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Pdf,
    Fhir,
    Sr,
    /// The PDF as a DICOM Encapsulated PDF, in the study of the report's images.
    PdfDicom,
    /// A tar archive: `report.csbundle` (verifiable offline with `bundle import` + `verify`),
    /// `provenance.txt` and `README.txt`.
    Bundle,
}

impl std::str::FromStr for ExportFormat {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "pdf" => Ok(ExportFormat::Pdf),
            "fhir" => Ok(ExportFormat::Fhir),
            "sr" => Ok(ExportFormat::Sr),
            "pdf-dicom" => Ok(ExportFormat::PdfDicom),
            "bundle" => Ok(ExportFormat::Bundle),
            other => Err(format!(
                "{other:?}: expected pdf, fhir, sr, pdf-dicom or bundle"
            )),
        }
    }
}

/// How an audit archive's README names the version that wrote it: its `provenance.txt` is
/// compared with the entries only by the same version (the wording changes between versions).
pub(crate) const WRITTEN_BY: &str = "Written by Countersign";
pub(crate) const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The file names inside an audit archive.
pub const AUDIT_BUNDLE_NAME: &str = "report.csbundle";
pub const AUDIT_REPORT_NAME: &str = "provenance.txt";

impl Home {
    /// What an export of `report` needs, gathered from the ledger and the image store.
    pub fn export_input(&self, report: EntryId) -> Result<ExportInput> {
        let view = self.report_show(report)?;
        // Not an empty document for a report this home can read once unlocked: the key is
        // asked for (`passphrase_required`, or `locked` on the desktop).
        if view.locked {
            self.open_keys(true)?;
            return self.export_input(report);
        }
        let db = self.store().db();
        let state = LedgerState::load(&db)?;
        let network = state.network()?;
        let signatures: BTreeMap<EntryId, [u8; 64]> = db
            .log_entries(&report)?
            .into_iter()
            .filter_map(|row| {
                let id = Hash::from_slice(&row.id)?;
                let sig: [u8; 64] = row.signature.as_slice().try_into().ok()?;
                Some((id, sig))
            })
            .collect();
        let instances = db.instances(Some(&view.study))?;
        let first = instances.first();
        let study = StudyInfo {
            uid: view.study.clone(),
            patient_name: first.and_then(|i| i.patient.clone()),
            patient_id: first.and_then(|i| i.patient_id.clone()),
            study_date: first.and_then(|i| i.study_date.clone()),
            modality: first.and_then(|i| i.modality.clone()),
            description: first.and_then(|i| i.study_description.clone()),
        };
        let images = instances
            .iter()
            .filter_map(|i| {
                let sha = hex::encode(i.sha256);
                // An instance without its UIDs cannot be referenced from an SR or FHIR.
                let (Some(instance), Some(series)) = (&i.instance, &i.series) else {
                    return None;
                };
                if !view.images.contains(&sha) {
                    return None;
                }
                // Instances indexed before the UID was kept: read it from the file.
                let sop_class_uid = match &i.sop_class_uid {
                    Some(uid) => uid.clone(),
                    None => self.open_image(&sha).ok()?.info.sop_class_uid,
                };
                Some(ImageRef {
                    sha256: sha,
                    sop_class_uid,
                    sop_instance_uid: instance.clone(),
                    series_uid: series.clone(),
                    frames: i.frames.max(1),
                })
            })
            .collect();
        Ok(ExportInput {
            view,
            network,
            network_name: state.roster().name().to_string(),
            study,
            images,
            signatures,
            exported_ms: now_ms(),
            thumbnails: Vec::new(),
        })
    }

    /// The report in `format`, as bytes. A report this home holds without its key is
    /// refused (`report_unreadable`) in every format that carries its content — it would
    /// read as an empty report, every signature verified; the audit archive, which carries
    /// the sealed entries and their provenance, is written, and says plainly that the
    /// content is not readable here.
    pub fn export(&self, report: EntryId, format: ExportFormat) -> Result<Vec<u8>> {
        if format == ExportFormat::Bundle {
            // The provenance text and the bundle beside it read in one read transaction: read
            // apart, an entry another process stored in between (a sign-off taken in by sync)
            // was in the bundle and not in the text the auditor reads (found by review,
            // 2026-12-04). The keys are opened first: the bundle carries them, and opening
            // them can write (wrapping keys an older build left in clear).
            self.open_keys(true)?;
            return self
                .store()
                .read(|_| self.render_export(report, self.export_input(report)?, format));
        }
        self.render_export(report, self.export_input(report)?, format)
    }

    /// [`Home::export`] from an input already gathered: what renders several documents of one
    /// reading of the report (the SR and the PDF a delivery sends) renders each from it.
    pub(crate) fn render_export(
        &self,
        report: EntryId,
        input: ExportInput,
        format: ExportFormat,
    ) -> Result<Vec<u8>> {
        if input.view.unreadable && format != ExportFormat::Bundle {
            return Err(AppError::ReportUnreadable {
                report: report.to_string(),
            });
        }
        tracing::info!(report = %report, format = ?format, "report exported");
        // Only the PDF shows the linked frames: rendered here, handed to the pure writer.
        let input = match format {
            ExportFormat::Pdf | ExportFormat::PdfDicom => ExportInput {
                thumbnails: self.link_thumbnails(&input.view),
                ..input
            },
            _ => input,
        };
        Ok(match format {
            ExportFormat::Pdf => countersign_export::pdf::render(&input),
            ExportFormat::Fhir => countersign_export::fhir::render(&input),
            ExportFormat::Sr => countersign_export::sr::render(&input)
                .map_err(|e| AppError::InvalidInput(e.to_string()))?,
            ExportFormat::PdfDicom => countersign_export::encapsulated::render(
                &input,
                &countersign_export::pdf::render(&input),
            )
            .map_err(|e| AppError::InvalidInput(e.to_string()))?,
            ExportFormat::Bundle => self.audit_archive(report, &input)?,
        })
    }

    /// Writes the export to `path` (aside, then renamed: never half a file).
    /// Writes an export to `path` (the desktop's save dialog chose it). Never inside the home
    /// — an export named `keys/….key` or `ledger.sqlite3` must not replace the home's own
    /// files — and through a temporary file created new beside it (never an existing file or
    /// a symlink an attacker planted), fsynced, then renamed over the target.
    pub fn export_to(&self, report: EntryId, format: ExportFormat, path: &Path) -> Result<u64> {
        let target = self.export_target(path)?;
        let bytes = self.export(report, format)?;
        write_new_then_rename(&target, &bytes)?;
        Ok(bytes.len() as u64)
    }

    /// `path` with its folder resolved (symlinks followed), refused when that folder is the
    /// home or inside it.
    pub(crate) fn export_target(&self, path: &Path) -> Result<std::path::PathBuf> {
        let name = path
            .file_name()
            .ok_or_else(|| AppError::PathRefused("choose a file name to export to".into()))?;
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let folder = parent
            .canonicalize()
            .map_err(AppError::io(format!("opening {}", parent.display())))?;
        let home = self
            .dir()
            .canonicalize()
            .map_err(AppError::io(format!("opening {}", self.dir().display())))?;
        if folder.starts_with(&home) {
            return Err(AppError::PathRefused(format!(
                "an export is never written inside the home ({}): choose another folder",
                home.display()
            )));
        }
        Ok(folder.join(name))
    }

    fn audit_archive(&self, report: EntryId, input: &ExportInput) -> Result<Vec<u8>> {
        let bundle = self.bundle_export(Some(report))?;
        let provenance = countersign_export::text::render(&countersign_export::document(input));
        // The auditor names the network the archive must be of: a fresh home adopts no other.
        let network = self.state()?.network().map_err(|_| AppError::NoNetwork)?;
        let heads = input
            .view
            .heads
            .iter()
            .map(|h| h.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let readme = format!(
            "Countersign audit bundle for report {report}\n\
             {WRITTEN_BY} {VERSION}.\n\n\
             {AUDIT_REPORT_NAME}: the report and the provenance of every entry, for people.\n\
             {AUDIT_BUNDLE_NAME}: the department roster and every signed entry of the report, \
             with payloads and any fork evidence.\n\n\
             To verify offline, with nothing but the countersign CLI (NETWORK is the \
             department's network id, confirmed with the department by another channel: an \
             archive anyone made can name its own; this one says {network}):\n\n\
             \x20   countersign --home ./audit-home init --name Auditor --role reviewer\n\
             \x20   countersign --home ./audit-home bundle import THIS-FILE --network NETWORK\n\
             \x20   countersign --home ./audit-home verify\n\
             \x20   countersign --home ./audit-home report show {report}\n\n\
             Every signature, hash link and report rule is re-checked on import; nothing is \
             stored if anything fails. The import also holds {AUDIT_REPORT_NAME} to the signed \
             entries and says whether it reads as they do (it is compared when written by \
             the same version of Countersign; its patient and study lines come from the \
             exporter's image store, which no one signs). An archive holds what its exporter \
             put in it: an entry left out (a later addendum or sign-off) cannot be seen from \
             the archive alone, so confirm the report's latest entry (`report show`: \
             \"latest entry\"; it is {heads} here) with the department too.\n"
        );
        tar_of(
            &[
                ("README.txt", readme.as_bytes()),
                (AUDIT_REPORT_NAME, provenance.as_bytes()),
                (AUDIT_BUNDLE_NAME, bundle.as_slice()),
            ],
            input.exported_ms,
        )
    }
}

/// A ustar archive of `members` (name, bytes), dated `exported_ms`: the form of every audit
/// archive, which `bundle import` recognises by its [`AUDIT_BUNDLE_NAME`] member.
pub(crate) fn tar_of(members: &[(&str, &[u8])], exported_ms: u64) -> Result<Vec<u8>> {
    let mut archive = tar::Builder::new(Vec::new());
    for (name, bytes) in members {
        let mut header = tar::Header::new_ustar();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(exported_ms / 1000);
        header
            .set_path(name)
            .map_err(AppError::io("naming an archive member"))?;
        header.set_cksum();
        archive
            .append(&header, *bytes)
            .map_err(AppError::io("building the audit archive"))?;
    }
    archive
        .into_inner()
        .map_err(AppError::io("building the audit archive"))
}

/// Whether a file starting with `head` (its first 512 bytes, or all of it when shorter) is a
/// tar archive, as `export --format bundle` writes, rather than a plain bundle.
pub(crate) fn is_audit_archive(head: &[u8]) -> bool {
    // A ustar header says so at offset 257.
    head.len() >= 512 && &head[257..262] == b"ustar"
}

/// The members an audit archive may hold (a report's, [`Home::export`]'s, and an AI audit
/// package's, `ai audit export`'s): anything else is refused, not skipped.
const AUDIT_MEMBERS: [&str; 5] = [
    "README.txt",
    AUDIT_REPORT_NAME,
    AUDIT_BUNDLE_NAME,
    crate::ai::AUDIT_PROVENANCE_NAME,
    crate::ai::AUDIT_SUMMARY_NAME,
];

/// Finds the bundle in an audit archive of `archive_len` bytes and hands it to `read` as a
/// stream: the member is never copied out whole. The archive must be as this program writes
/// them: regular files of the known names ([`AUDIT_MEMBERS`]), each once, the bundle among
/// them. Why strict (found by review, 2026-12-05): the first `report.csbundle` was imported
/// and the rest ignored, while `tar -x` keeps the last one of a name, so an archive holding a
/// benign bundle and then a forged one (and a forged `provenance.txt`) verified on import
/// while the auditor who unpacked it read the forgery; and GNU long-name and pax headers,
/// which the tar reader holds whole in memory, were read for any member.
///
/// Returns what `read` made of the bundle, and the members written for people
/// ([`ArchiveText`]), which import then holds to the entries (`bundle::archive_text`).
pub(crate) fn read_bundle_in_archive<R: std::io::Read, T>(
    archive: R,
    archive_len: u64,
    read: impl FnOnce(&mut dyn std::io::Read) -> Result<T>,
) -> Result<(T, ArchiveText)> {
    let refused = |why: String| AppError::InvalidInput(format!("not an audit archive: {why}"));
    let mut archive = tar::Archive::new(archive);
    let mut entries = archive
        .entries()
        .map_err(AppError::io("reading the audit archive"))?;
    // Raw: every header is an entry of its own, so a long-name or pax header is seen (and
    // refused) before anything reads its data.
    entries = entries.raw(true);
    let mut read = Some(read);
    let mut bundle = None;
    let mut text = ArchiveText::default();
    let mut seen = Vec::new();
    for entry in entries {
        let mut entry = entry.map_err(AppError::io("reading the audit archive"))?;
        let kind = entry.header().entry_type();
        if !kind.is_file() {
            return Err(refused(format!(
                "it holds a member of tar type {:?}; only files are written",
                kind.as_byte() as char
            )));
        }
        let name = entry.path_bytes().into_owned();
        let Some(&member) = AUDIT_MEMBERS
            .iter()
            .find(|m| m.as_bytes() == name.as_slice())
        else {
            return Err(refused(format!(
                "it holds a member named {:?}; audit archives hold only {}",
                String::from_utf8_lossy(&name)
                    .chars()
                    .take(100)
                    .collect::<String>(),
                AUDIT_MEMBERS.join(", ")
            )));
        };
        if seen.contains(&member) {
            return Err(refused(format!(
                "it holds {member} twice (an unpacking tool would show the last, an import \
                 would check the first)"
            )));
        }
        seen.push(member);
        if member == AUDIT_REPORT_NAME || member == "README.txt" {
            let read = read_text_member(&mut entry, member, archive_len)?;
            if member == AUDIT_REPORT_NAME {
                // The export's time: every member is dated with it (`tar_of`).
                text.exported_ms = entry
                    .header()
                    .mtime()
                    .map_err(AppError::io("reading the audit archive"))?
                    .saturating_mul(1000);
                text.provenance = Some(read);
            } else {
                text.readme = Some(read);
            }
            continue;
        }
        if member != AUDIT_BUNDLE_NAME {
            text.ai_package = true;
            continue;
        }
        let size = entry
            .header()
            .size()
            .map_err(AppError::io("reading the audit archive"))?;
        if size > crate::MAX_BUNDLE_BYTES {
            return Err(AppError::InvalidInput(format!(
                "the archive's bundle is {size} bytes; bundles are limited to {}",
                crate::MAX_BUNDLE_BYTES
            )));
        }
        // The header is the sender's word: no member holds more than the archive itself
        // (a reader sizing a buffer from it allocated 4 GiB for a 1 KiB file).
        if size > archive_len {
            return Err(AppError::InvalidInput(format!(
                "the archive's bundle claims {size} bytes, but the archive holds {archive_len}"
            )));
        }
        if let Some(read) = read.take() {
            bundle = Some(read(&mut entry)?);
        }
    }
    let bundle = bundle.ok_or_else(|| {
        AppError::InvalidInput(format!(
            "a tar archive without {AUDIT_BUNDLE_NAME}: not a Countersign audit bundle"
        ))
    })?;
    Ok((bundle, text))
}

/// The members of an audit archive written for people, as read: `provenance.txt` and the
/// README (each at most [`MAX_TEXT_MEMBER`] bytes), the time `provenance.txt` is dated with,
/// and whether the archive is an AI audit package (`provenance.json`, `summary.pdf`).
#[derive(Debug, Default)]
pub(crate) struct ArchiveText {
    pub provenance: Option<Vec<u8>>,
    pub readme: Option<Vec<u8>>,
    pub exported_ms: u64,
    pub ai_package: bool,
}

/// The most bytes of `provenance.txt` or `README.txt` an import reads (into memory, to hold
/// them to the entries): a report's provenance text is a few pages.
pub(crate) const MAX_TEXT_MEMBER: u64 = 16 << 20;

/// The whole of a text member, refused past [`MAX_TEXT_MEMBER`] before anything is read (its
/// header's size is the sender's word, so the read is bounded by the bound as well).
fn read_text_member(
    entry: &mut impl std::io::Read,
    member: &str,
    archive_len: u64,
) -> Result<Vec<u8>> {
    use std::io::Read;
    let mut out = Vec::new();
    entry
        .take(MAX_TEXT_MEMBER.min(archive_len) + 1)
        .read_to_end(&mut out)
        .map_err(AppError::io("reading the audit archive"))?;
    if out.len() as u64 > MAX_TEXT_MEMBER {
        return Err(AppError::InvalidInput(format!(
            "not an audit archive: its {member} is larger than {MAX_TEXT_MEMBER} bytes"
        )));
    }
    Ok(out)
}

/// The bundle inside an audit archive, or `None` when `bytes` are not one (a plain bundle):
/// for callers already holding an archive's bytes (the fuzz target). Imports stream it instead.
pub fn bundle_in_archive(bytes: &[u8]) -> Result<Option<Vec<u8>>> {
    if !is_audit_archive(bytes) {
        return Ok(None);
    }
    read_bundle_in_archive(bytes, bytes.len() as u64, |member| {
        let mut out = Vec::new();
        member
            .read_to_end(&mut out)
            .map_err(AppError::io("reading the audit archive"))?;
        Ok(Some(out))
    })
    .map(|(bundle, _)| bundle)
}

/// The invariants the `archive_read` fuzz target checks (and `make test` replays): an audit
/// archive from anyone is refused or read, never a panic, and never yields more bytes than it
/// holds (a tar header's size claim is the sender's word).
#[doc(hidden)]
pub fn fuzz_archive_read(data: &[u8]) {
    if let Ok(Some(bundle)) = bundle_in_archive(data) {
        assert!(
            bundle.len() <= data.len(),
            "an archive of {} bytes gave a bundle of {}",
            data.len(),
            bundle.len()
        );
    }
}

/// Writes `bytes` to a new temporary file beside `target` (created exclusively, not following
/// a symlink, owner-only), fsyncs it, renames it over `target` and fsyncs the folder.
pub(crate) fn write_new_then_rename(target: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let folder = target.parent().unwrap_or(Path::new("."));
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let nonce: u64 = rand_core::RngCore::next_u64(&mut rand_core::OsRng);
    let tmp = folder.join(format!(".{name}.{nonce:016x}.part"));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    let context = || format!("writing {}", tmp.display());
    let mut file = options.open(&tmp).map_err(AppError::io(context()))?;
    let written = file
        .write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(AppError::io(context()));
    drop(file);
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    if let Err(e) = std::fs::rename(&tmp, target) {
        let _ = std::fs::remove_file(&tmp);
        return Err(AppError::io(format!("writing {}", target.display()))(e));
    }
    if let Ok(dir) = std::fs::File::open(folder) {
        let _ = dir.sync_all();
    }
    Ok(())
}
