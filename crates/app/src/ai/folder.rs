//! `ai import --folder DIR`: the drop folder a gateway node keeps for AI results that arrive
//! as DICOM SR files (an AI product's DICOM export, a PACS forwarding rule, a mounted share).
//!
//! One pass takes every regular file directly in `DIR`, each on its own (one file's refusal
//! never holds another back), and moves it out of the way so the next pass sees only what is
//! new — which is what makes the folder safe to watch:
//!
//! - received (or received before, by its SHA-256) → `DIR/received/`;
//! - refused → `DIR/refused/`, beside a `NAME.why.txt` holding the error's code and message.
//!
//! The SR's study chooses the report unless one is named (see [`Home::ai_import`]). Names
//! starting with `.` or ending in `.part` or `.tmp` are files still being written (a sender
//! writes under such a name and renames when done) and are left for a later pass, as are files
//! beyond [`MAX_FILES_PER_PASS`]. A symbolic link is refused, never followed: it could point at
//! any file this user may read. Watching is the system's job: a systemd path unit with
//! `DirectoryNotEmpty=DIR` starts a pass whenever something arrives (README, AI results as
//! DICOM SR).

use std::path::{Path, PathBuf};

use countersign_ledger::EntryId;
use serde::Serialize;

use crate::error::{AppError, Result};
use crate::home::Home;

use super::received::{read_sr, Receipt, ReceivedSr};

/// Files one pass takes at most; the rest wait for the next.
pub const MAX_FILES_PER_PASS: usize = 10_000;
/// Where a pass moves what it received, and what it refused.
pub const RECEIVED_DIR: &str = "received";
pub const REFUSED_DIR: &str = "refused";

/// What one pass did with one file.
#[derive(Debug, Clone, Serialize)]
pub struct FolderFile {
    /// The file's name in the folder.
    pub file: String,
    /// `received`, `duplicate` (received before) or `refused`.
    pub outcome: &'static str,
    /// What was signed, when it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub received: Option<ReceivedSr>,
    /// Why not, when refused (or received before).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Where the file is now.
    pub moved_to: PathBuf,
}

/// What one pass over a drop folder did.
#[derive(Debug, Clone, Serialize, Default)]
pub struct FolderImport {
    pub received: u64,
    pub duplicates: u64,
    pub refused: u64,
    /// Files left for a later pass (still being written, or beyond the pass's bound).
    pub waiting: u64,
    pub files: Vec<FolderFile>,
}

impl Home {
    /// One pass over the drop folder `dir` (see the module docs): every SR in it received
    /// into `report`, or the report its study names.
    pub fn ai_import_folder(
        &mut self,
        dir: &Path,
        report: Option<EntryId>,
        section: Option<&str>,
    ) -> Result<FolderImport> {
        let io = |what: &str| AppError::io(format!("{what} {}", dir.display()));
        let mut names: Vec<(String, bool)> = Vec::new();
        let mut out = FolderImport::default();
        for entry in std::fs::read_dir(dir).map_err(io("reading"))? {
            let entry = entry.map_err(io("reading"))?;
            let kind = entry.file_type().map_err(io("reading"))?;
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                // A name that is not UTF-8 cannot be named in the outcome; left as it is.
                out.waiting += 1;
                continue;
            };
            if kind.is_dir() {
                continue;
            }
            if name.starts_with('.') || name.ends_with(".part") || name.ends_with(".tmp") {
                out.waiting += 1;
                continue;
            }
            names.push((name, kind.is_symlink()));
        }
        // In name order: what a pass does does not depend on the directory's order.
        names.sort();
        if names.len() > MAX_FILES_PER_PASS {
            out.waiting += (names.len() - MAX_FILES_PER_PASS) as u64;
            names.truncate(MAX_FILES_PER_PASS);
        }
        for (name, symlink) in names {
            let path = dir.join(&name);
            let outcome = if symlink {
                Err(AppError::InvalidInput(
                    "a symbolic link: not followed (it could point at any file)".into(),
                ))
            } else {
                read_sr(&path)
                    .and_then(|(sha, parsed)| self.ai_receive(report, sha, parsed, section))
            };
            let file = match Receipt::of(outcome)? {
                Receipt::Received(received) => {
                    out.received += 1;
                    FolderFile {
                        moved_to: move_into(dir, RECEIVED_DIR, &name)?,
                        file: name,
                        outcome: "received",
                        received: Some(received),
                        code: None,
                        message: None,
                    }
                }
                Receipt::Duplicate(e) => {
                    out.duplicates += 1;
                    FolderFile {
                        moved_to: move_into(dir, RECEIVED_DIR, &name)?,
                        file: name,
                        outcome: "duplicate",
                        received: None,
                        code: Some(e.code()),
                        message: Some(e.to_string()),
                    }
                }
                Receipt::Refused(e) => {
                    out.refused += 1;
                    let moved_to = move_into(dir, REFUSED_DIR, &name)?;
                    let why = moved_to.with_file_name(format!(
                        "{}.why.txt",
                        moved_to.file_name().unwrap_or_default().to_string_lossy()
                    ));
                    std::fs::write(&why, format!("{}: {e}\n", e.code()))
                        .map_err(AppError::io(format!("writing {}", why.display())))?;
                    FolderFile {
                        moved_to,
                        file: name,
                        outcome: "refused",
                        received: None,
                        code: Some(e.code()),
                        message: Some(e.to_string()),
                    }
                }
            };
            out.files.push(file);
        }
        tracing::info!(
            received = out.received,
            duplicates = out.duplicates,
            refused = out.refused,
            waiting = out.waiting,
            "drop folder pass"
        );
        Ok(out)
    }
}

/// Moves `dir/name` into `dir/sub/`, under a name not taken yet there (`name`, else `name.1`,
/// `name.2`, …): a second file of one name never overwrites the first.
fn move_into(dir: &Path, sub: &str, name: &str) -> Result<PathBuf> {
    let folder = dir.join(sub);
    std::fs::create_dir_all(&folder)
        .map_err(AppError::io(format!("creating {}", folder.display())))?;
    let mut target = folder.join(name);
    let mut n = 0;
    while target.symlink_metadata().is_ok() {
        n += 1;
        target = folder.join(format!("{name}.{n}"));
    }
    std::fs::rename(dir.join(name), &target).map_err(AppError::io(format!(
        "moving {name} into {}",
        folder.display()
    )))?;
    Ok(target)
}
