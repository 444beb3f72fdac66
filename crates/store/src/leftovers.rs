//! What an image write leaves when its process dies before the commit: the temporary files of
//! the image store (`images/aa/<sha256>.<pid>-<n>.part`). Each writer's temporary name is its
//! own (its process id and a counter), so two processes importing the same bytes never write
//! into one file (one truncating what the other was about to rename and index), and what a
//! dead process left can be told from what a live one is writing: [`sweep_staged_images`]
//! removes the former. An erasure runs it, so that no staged copy of an erased image stays on
//! disk (found by review, 2026-12-04: nothing ever removed them).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How old a leftover whose writer cannot be told (a name from before writers were named,
/// or a system without `/proc`) must be before it is removed: no write of one image, nor a
/// retrieval's staging, lasts this long.
pub const STALE_AFTER: Duration = Duration::from_secs(3600);

static NEXT: AtomicU64 = AtomicU64::new(0);

/// The temporary name beside `path` this process writes an image to.
pub(crate) fn staged_name(path: &Path) -> PathBuf {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    path.with_extension(format!("{}-{n}.part", std::process::id()))
}

/// Whether the process `pid` is running (on Linux; elsewhere, unknown: `None`).
pub fn process_alive(pid: u32) -> Option<bool> {
    if cfg!(target_os = "linux") {
        Some(Path::new("/proc").join(pid.to_string()).exists())
    } else {
        None
    }
}

/// Whether a leftover named with its writer's `pid` (`None`: no pid in its name) and last
/// modified at `modified` is stale: its writer is gone, or it cannot be told and the file is
/// older than [`STALE_AFTER`].
pub fn is_stale(pid: Option<u32>, modified: Option<std::time::SystemTime>) -> bool {
    if let Some(alive) = pid.and_then(process_alive) {
        return !alive && pid != Some(std::process::id());
    }
    modified
        .and_then(|m| m.elapsed().ok())
        .is_some_and(|age| age >= STALE_AFTER)
}

/// The writer's process id in a temporary image name (`<sha256>.<pid>-<n>.part`).
fn writer_of(name: &str) -> Option<u32> {
    let middle = name.strip_suffix(".part")?.split('.').nth(1)?;
    middle.split('-').next()?.parse().ok()
}

/// Removes the image store's temporary files under `root` whose writers are gone (see the
/// module docs); how many it removed.
pub fn sweep_staged_images(root: &Path) -> std::io::Result<usize> {
    let images = root.join("images");
    let folders = match std::fs::read_dir(&images) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut removed = 0;
    for folder in folders {
        let folder = folder?.path();
        let Ok(files) = std::fs::read_dir(&folder) else {
            continue;
        };
        for file in files {
            let file = file?;
            let name = file.file_name().to_string_lossy().into_owned();
            if !name.ends_with(".part") {
                continue;
            }
            let modified = file.metadata().ok().and_then(|m| m.modified().ok());
            if !is_stale(writer_of(&name), modified) {
                continue;
            }
            match std::fs::remove_file(file.path()) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_staged_name_names_its_writer_and_is_never_reused() {
        let path = Path::new("/home/images/ab/abcd.dcm");
        let (a, b) = (staged_name(path), staged_name(path));
        assert_ne!(a, b);
        let name = a.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with("abcd.") && name.ends_with(".part"),
            "{name}"
        );
        assert_eq!(writer_of(&name), Some(std::process::id()));
        assert_eq!(writer_of("abcd.part"), None);
    }

    /// A dead writer's leftover goes, a live writer's stays, and one whose writer cannot be
    /// told goes only once old (the threshold moved by setting the file's time).
    #[test]
    fn only_what_a_gone_writer_left_is_swept() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("images").join("ab");
        std::fs::create_dir_all(&folder).unwrap();
        // No process has this id (above Linux's pid_max).
        let dead = folder.join("abcd.4294967294-0.part");
        let live = staged_name(&folder.join("abce.dcm"));
        let old = folder.join("abcf.part");
        let young = folder.join("abd0.part");
        let image = folder.join("abd1.dcm");
        for f in [&dead, &live, &old, &young, &image] {
            std::fs::write(f, b"bytes").unwrap();
        }
        let long_ago = std::time::SystemTime::now() - STALE_AFTER - Duration::from_secs(60);
        std::fs::File::options()
            .write(true)
            .open(&old)
            .unwrap()
            .set_modified(long_ago)
            .unwrap();
        assert_eq!(sweep_staged_images(dir.path()).unwrap(), 2);
        assert!(!dead.exists() && !old.exists());
        assert!(live.exists() && young.exists() && image.exists());
    }
}
