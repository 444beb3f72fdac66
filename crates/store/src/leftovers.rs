//! What an image write leaves when its process dies before the commit: the temporary files of
//! the image store (`images/aa/<sha256>.<pid>-<random>-<n>.part`). Each writer's temporary
//! name is its own (its process id, a number drawn once per process, and a counter), so two
//! processes importing the same bytes never write into one file (one truncating what the
//! other was about to rename and index) — not even two in separate PID namespaces with the
//! same pid. [`sweep_staged_images`] removes what a writer that is gone left; an erasure runs
//! it, so that no staged copy of an erased image stays on disk (found by review, 2026-12-04:
//! nothing ever removed them).
//!
//! Whether a writer is gone is judged by its process id only where that can be trusted, and
//! never alone: a pid seen from another PID namespace (a desktop in a sandbox beside a CLI on
//! the host, a node in a container) names another process or none, and a pid is reused. So a
//! file is stale when its writer's pid is not running here and it was not touched for
//! [`DEAD_AFTER`] (a live writer renames its file within seconds of writing it, and a
//! retrieval marks its staging folder as in use every ten seconds while it runs), or, whatever
//! its pid says, when it was not touched for [`STALE_AFTER`]. These are the file system's
//! times against the wall clock: a clock set forward by more than that while a writer runs
//! makes its files look stale, and the writer then fails with an error naming the file (its
//! import or retrieval is asked for again; nothing committed is touched).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How long a leftover whose writer's pid is not running here must be untouched before it
/// is removed (see the module docs).
pub const DEAD_AFTER: Duration = Duration::from_secs(60);

/// How long any leftover must be untouched before it is removed, whatever its pid says (a
/// name from before writers were named, a system without `/proc`, a pid reused or seen from
/// another namespace): no write of one image, nor a retrieval, lasts this long.
pub const STALE_AFTER: Duration = Duration::from_secs(3600);

static NEXT: AtomicU64 = AtomicU64::new(0);

/// Drawn once per process: two processes with the same pid (in two PID namespaces) name
/// their files apart.
fn process_tag() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    static TAG: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *TAG.get_or_init(|| {
        // The standard library's hasher keys are drawn from the operating system's randomness.
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        h.finish() as u32
    })
}

/// The temporary name beside `path` this process writes an image to.
pub(crate) fn staged_name(path: &Path) -> PathBuf {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    path.with_extension(format!(
        "{}-{:08x}-{n}.part",
        std::process::id(),
        process_tag()
    ))
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
/// modified at `modified` is stale (see the module docs). Never one this process may be
/// writing, nor one of unknown age.
///
/// One modified later than now (the clock was set back since, or a home restored from a
/// machine whose clock ran ahead) has no age to judge by: it is stale unless its writer is
/// this process or a process running here (found by review, 2026-12-05: such a file was kept
/// until the clock caught up, and an erasure kept sweeping at every open meanwhile).
pub fn is_stale(pid: Option<u32>, modified: Option<std::time::SystemTime>) -> bool {
    let Some(modified) = modified else {
        return false;
    };
    let running = || match pid {
        Some(p) if p == std::process::id() => true,
        Some(p) => process_alive(p).unwrap_or(true),
        None => false,
    };
    let Ok(age) = modified.elapsed() else {
        return !running();
    };
    if age >= STALE_AFTER {
        return true;
    }
    let gone = pid
        .filter(|p| *p != std::process::id())
        .and_then(process_alive)
        .is_some_and(|alive| !alive);
    gone && age >= DEAD_AFTER
}

/// The writer's process id in a temporary image name (`<sha256>.<pid>-<n>.part`).
fn writer_of(name: &str) -> Option<u32> {
    let middle = name.strip_suffix(".part")?.split('.').nth(1)?;
    middle.split('-').next()?.parse().ok()
}

/// What a sweep of leftovers did: files (or folders) removed, and those kept because their
/// writer may be running still — which an erasure keeps looking at until they are gone (a
/// writer killed after the sweep leaves its files for the next one: found by review,
/// 2026-12-05).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    pub removed: usize,
    pub kept: usize,
}

impl std::ops::Add for Swept {
    type Output = Swept;

    fn add(self, other: Swept) -> Swept {
        Swept {
            removed: self.removed + other.removed,
            kept: self.kept + other.kept,
        }
    }
}

/// Removes the image store's temporary files under `root` whose writers are gone (see the
/// module docs). Every prefix folder is looked through whatever fails in another (one file
/// that cannot be removed does not leave the rest for good: found by review, 2026-12-05); the
/// first error is returned once all were tried. Only plain files are temporary files: a
/// folder or a link named like one is not this store's and is left alone.
pub fn sweep_staged_images(root: &Path) -> std::io::Result<Swept> {
    let images = root.join("images");
    let folders = match std::fs::read_dir(&images) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Swept::default()),
        Err(e) => return Err(e),
    };
    let mut swept = Swept::default();
    let mut failed = None;
    for folder in folders {
        let folder = match folder {
            Ok(f) => f.path(),
            Err(e) => {
                failed.get_or_insert(e);
                continue;
            }
        };
        let Ok(files) = std::fs::read_dir(&folder) else {
            continue;
        };
        for file in files {
            let file = match file {
                Ok(f) => f,
                Err(e) => {
                    failed.get_or_insert(e);
                    continue;
                }
            };
            let name = file.file_name().to_string_lossy().into_owned();
            if !name.ends_with(".part") || !file.file_type().is_ok_and(|t| t.is_file()) {
                continue;
            }
            let modified = file.metadata().ok().and_then(|m| m.modified().ok());
            if !is_stale(writer_of(&name), modified) {
                swept.kept += 1;
                continue;
            }
            match std::fs::remove_file(file.path()) {
                Ok(()) => swept.removed += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    failed.get_or_insert(e);
                }
            }
        }
    }
    match failed {
        Some(e) => Err(e),
        None => Ok(swept),
    }
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
        assert_eq!(writer_of("abcd.12-0000abcd-3.part"), Some(12));
    }

    fn touched(path: &Path, ago: Duration) {
        std::fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(std::time::SystemTime::now() - ago)
            .unwrap();
    }

    /// A gone writer's leftover goes once untouched for a minute; a live writer's (this
    /// process's, or a pid running here) stays until an hour old; one whose writer cannot be
    /// told goes only after the hour (the times moved by setting the files').
    #[test]
    fn only_what_a_gone_writer_left_is_swept() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("images").join("ab");
        std::fs::create_dir_all(&folder).unwrap();
        // No process has this id (above Linux's pid_max).
        let dead = folder.join("abcd.4294967294-00000000-0.part");
        let dead_just_now = folder.join("abce.4294967294-00000000-1.part");
        let mine = staged_name(&folder.join("abcf.dcm"));
        let mine_old = staged_name(&folder.join("abd0.dcm"));
        let unknown_old = folder.join("abd1.part");
        let unknown = folder.join("abd2.part");
        let image = folder.join("abd3.dcm");
        for f in [
            &dead,
            &dead_just_now,
            &mine,
            &mine_old,
            &unknown_old,
            &unknown,
            &image,
        ] {
            std::fs::write(f, b"bytes").unwrap();
        }
        touched(&dead, DEAD_AFTER + Duration::from_secs(5));
        touched(&mine, DEAD_AFTER + Duration::from_secs(5));
        for f in [&mine_old, &unknown_old] {
            touched(f, STALE_AFTER + Duration::from_secs(5));
        }
        assert_eq!(
            sweep_staged_images(dir.path()).unwrap(),
            Swept {
                removed: 3,
                kept: 3
            }
        );
        assert!(!dead.exists() && !mine_old.exists() && !unknown_old.exists());
        assert!(dead_just_now.exists() && mine.exists() && unknown.exists() && image.exists());
    }

    /// Found by review (2026-12-05): a stale folder named like a staged file (`x.part/`) made
    /// the sweep fail at it, every time, and what came after it in the store was never swept.
    #[test]
    fn a_folder_named_like_a_staged_file_does_not_stop_the_sweep() {
        let dir = tempfile::tempdir().unwrap();
        let images = dir.path().join("images");
        let (first, second) = (images.join("00"), images.join("ff"));
        std::fs::create_dir_all(first.join("abcd.4294967294-00000000-0.part")).unwrap();
        std::fs::create_dir_all(&second).unwrap();
        let dead = [
            first.join("abce.4294967294-00000000-1.part"),
            second.join("abcf.4294967294-00000000-2.part"),
        ];
        for f in &dead {
            std::fs::write(f, b"bytes").unwrap();
            touched(f, STALE_AFTER + Duration::from_secs(5));
        }
        std::fs::File::open(first.join("abcd.4294967294-00000000-0.part"))
            .unwrap()
            .set_modified(std::time::SystemTime::now() - STALE_AFTER * 2)
            .unwrap();
        let swept = sweep_staged_images(dir.path()).unwrap();
        assert_eq!(swept.removed, 2);
        assert!(dead.iter().all(|f| !f.exists()));
        assert!(first.join("abcd.4294967294-00000000-0.part").is_dir());
    }

    /// Found by review (2026-12-05): a leftover modified later than now (the clock set back)
    /// was never stale, until the clock caught up. It is, unless its writer runs here.
    #[test]
    fn a_leftover_from_the_future_is_stale_unless_its_writer_runs_here() {
        let tomorrow = std::time::SystemTime::now() + Duration::from_secs(86_400);
        assert!(is_stale(Some(4_294_967_294), Some(tomorrow)));
        assert!(is_stale(None, Some(tomorrow)));
        assert!(!is_stale(Some(std::process::id()), Some(tomorrow)));
        assert!(!is_stale(Some(1), Some(tomorrow)), "pid 1 runs here");
    }

    #[test]
    fn two_processes_with_one_pid_name_their_files_apart() {
        // The tag is drawn from the OS's randomness, not the pid: two draws differ.
        use std::hash::{BuildHasher, Hasher};
        let draw = || {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u32(1);
            h.finish()
        };
        assert_ne!(draw(), draw());
    }
}
