//! A retrieval's staging folder (`incoming/retrieve-<pid>-<nonce>`): made for one retrieval,
//! marked as in use while it exists, removed with what it holds when dropped; and the sweep
//! that removes what a process killed before then left (an erasure runs it).

use std::path::{Path, PathBuf};

use crate::error::{AppError, Result};

use super::super::INCOMING;

/// A staging folder for one retrieval, removed with whatever it holds when dropped; marked as
/// in use while it exists (see [`Fresh`]).
pub(crate) struct Staging(pub(super) PathBuf, Fresh);

impl Staging {
    pub(super) fn new(home: &Path) -> Result<Staging> {
        Staging::marked_every(home, FRESH_EVERY)
    }

    fn marked_every(home: &Path, every: std::time::Duration) -> Result<Staging> {
        let parent = home.join(INCOMING);
        std::fs::create_dir_all(&parent)
            .map_err(AppError::io(format!("creating {}", parent.display())))?;
        let mut nonce = [0u8; 8];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut nonce);
        // Named with this process's id: one a dead process left is told from a live one's
        // and removed ([`sweep_staging`]).
        let dir = parent.join(format!(
            "{STAGING}{}-{}",
            std::process::id(),
            hex::encode(nonce)
        ));
        std::fs::create_dir(&dir).map_err(AppError::io(format!("creating {}", dir.display())))?;
        let fresh = Fresh::start(dir.clone(), every);
        Ok(Staging(dir, fresh))
    }
}

/// Keeps a staging folder's time fresh, every [`FRESH_EVERY`], on a thread of its own for as
/// long as the folder is in use: the sweep judges a folder by when it last changed, and one
/// whose instances stay in memory (most over DICOMweb), or that waits for its first (a C-MOVE
/// from slow storage), or that a caller holds while it reads the files (`retrieve_staged`),
/// does not change by itself — it looked stale to an erasure's sweep (found by review,
/// 2026-12-05).
/// A model run's working folder is marked so too (`ai run`, see [`crate::ai`]).
pub(crate) struct Fresh {
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Fresh {
    pub(crate) fn start(dir: PathBuf, every: std::time::Duration) -> Fresh {
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("staging-in-use".into())
            .spawn(move || {
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(every)
                {
                    let now = std::time::SystemTime::now();
                    if let Err(e) = std::fs::File::open(&dir).and_then(|f| f.set_modified(now)) {
                        tracing::debug!(error = %e, "a staging folder's time not refreshed");
                    }
                }
            });
        let thread = match thread {
            Ok(t) => Some(t),
            Err(e) => {
                tracing::warn!(error = %e, "a staging folder is not marked as in use");
                None
            }
        };
        Fresh {
            stop: Some(stop),
            thread,
        }
    }

    pub(crate) fn end(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The start of a retrieval's staging folder's name (then `<pid>-<nonce>`).
const STAGING: &str = "retrieve-";

/// Removes the retrieval staging folders under `home` whose processes are gone (killed before
/// [`Staging`] dropped), with what they hold: whole DICOM files of a study, which an erasure
/// must not leave behind (see `countersign_store::is_stale`). Every folder is tried whatever
/// became of the one before; the first failure is returned once all were.
pub(crate) fn sweep_staging(home: &Path) -> Result<countersign_store::Swept> {
    sweep_folders(&home.join(INCOMING), STAGING)
}

/// Removes the folders under `parent` named `<prefix><pid>-<nonce>` (or `<prefix><nonce>`,
/// from before they were named with their process) that are stale, with what they hold (see
/// [`sweep_staging`]): the retrievals' staging folders, and the working folders of model runs
/// killed before they removed theirs.
pub(crate) fn sweep_folders(parent: &Path, prefix: &str) -> Result<countersign_store::Swept> {
    let entries = match std::fs::read_dir(parent) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(countersign_store::Swept::default())
        }
        Err(e) => {
            return Err(AppError::io(
                "reading the working folders of retrievals or model runs",
            )(e))
        }
    };
    let mut swept = countersign_store::Swept::default();
    let mut failed = None;
    for entry in entries {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                failed.get_or_insert(AppError::io(
                    "reading the working folders of retrievals or model runs",
                )(e));
                continue;
            }
        };
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(prefix) else {
            continue;
        };
        // Only folders are staging: a file or a link named like one is not a retrieval's, and
        // removing it as a folder failed every sweep (found by review, 2026-12-05).
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        // `<pid>-<nonce>`; a bare `<nonce>` is from before folders were named so.
        let pid = rest
            .split_once('-')
            .and_then(|(pid, _)| pid.parse::<u32>().ok());
        let modified = entry.metadata().ok().and_then(|m| m.modified().ok());
        if !countersign_store::is_stale(pid, modified) {
            swept.kept += 1;
            continue;
        }
        match std::fs::remove_dir_all(entry.path()) {
            Ok(()) => swept.removed += 1,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                failed.get_or_insert(AppError::io(
                    "removing the working folder of a stopped retrieval or model run",
                )(e));
            }
        }
    }
    match failed {
        Some(e) => Err(e),
        None => Ok(swept),
    }
}

/// How often a staging folder in use is marked so (see [`Fresh`]), well inside
/// `countersign_store::DEAD_AFTER`.
pub(crate) const FRESH_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

impl Drop for Staging {
    fn drop(&mut self) {
        self.1.end();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by review (2026-12-05): a staging folder was marked as in use only when an
    /// instance arrived, so one waiting for its first (or held by a caller reading its files)
    /// looked stale to an erasure's sweep and was removed under a live retrieval. It is marked
    /// for as long as it exists, and swept once it is not. Fails if the marking stops.
    #[test]
    fn a_staging_folder_in_use_is_never_stale_and_one_left_is() {
        let home = tempfile::tempdir().unwrap();
        let staging =
            Staging::marked_every(home.path(), std::time::Duration::from_millis(5)).unwrap();
        // Seen from a sandbox, its writer's pid names no process: only its time keeps it.
        let long_ago = std::time::SystemTime::now() - countersign_store::STALE_AFTER * 2;
        std::fs::File::open(&staging.0)
            .unwrap()
            .set_modified(long_ago)
            .unwrap();
        let marked = std::time::Instant::now();
        while std::fs::metadata(&staging.0).unwrap().modified().unwrap() == long_ago {
            assert!(
                marked.elapsed() < std::time::Duration::from_secs(10),
                "the folder was not marked as in use"
            );
            std::thread::yield_now();
        }
        let swept = sweep_staging(home.path()).unwrap();
        assert_eq!((swept.removed, swept.kept), (0, 1));
        assert!(staging.0.exists());
        // A plain file named like a folder is not one, and fails no sweep.
        let file = home.path().join(INCOMING).join("retrieve-4294967294-x");
        std::fs::write(&file, b"").unwrap();
        std::fs::File::open(&file)
            .unwrap()
            .set_modified(long_ago)
            .unwrap();
        let folder = staging.0.clone();
        drop(staging);
        assert!(!folder.exists());
        assert_eq!(sweep_staging(home.path()).unwrap().kept, 0);
    }
}
