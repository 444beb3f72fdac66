//! Power loss, not just a crash. A killed process (crash.rs) leaves everything it wrote in the
//! kernel's page cache, which still reaches the disk; a power cut loses whatever was not synced.
//! These tests run the real binary under an LD_PRELOAD shim (tests/powerloss/shim.c) that keeps
//! an undo log of every unsynced change to the files of a home, then "cut the power" by undoing
//! those changes, and check that every acknowledged entry is still there and verifies.
//! With `synchronous=OFF` they fail; see an_open_home_loses_no_acknowledged_section_at_a_power_cut
//! for `NORMAL`, which only a writer that keeps its connection open can catch.
//!
//! By subject:
//! - `cli_writes`: `report write` through the CLI, one process per write: the shim sees the
//!   ledger's writes and syncs (its model first checked on plain files), and acknowledged
//!   sections survive a power cut after the writes and at seeded moments inside one.
//! - `open_home`: a writer that keeps its home open, as the desktop does (this test binary run
//!   again under the shim): what it acknowledged survives a cut at a seeded moment.
//! - `images`: a retrieval and an import cut by the power index no image the disk lost.
//!
//! The helpers here (the shim, the undo log, the power cut and the checks after it) are the
//! ones more than one of them uses.

use std::collections::HashMap;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

use crate::common::{tests_dir, Home};

/// The seeds of the randomised tests; `POWERLOSS_SEED=n` runs just that one (to replay a failure).
fn seeds(default: &[u64]) -> Vec<u64> {
    match std::env::var("POWERLOSS_SEED") {
        Ok(seed) => vec![seed.parse().expect("POWERLOSS_SEED is a number")],
        Err(_) => default.to_vec(),
    }
}

// ---- the shim ----

/// Compiles the shim once per test process. It goes to cargo's scratch directory for integration
/// tests under a fixed name, through a rename so that concurrent test processes never load a
/// half-written library.
fn shim() -> &'static Path {
    static SHIM: OnceLock<PathBuf> = OnceLock::new();
    SHIM.get_or_init(|| {
        let source = tests_dir().join("powerloss/shim.c");
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        let built = dir.join("powerloss-shim.so");
        let partial = dir.join(format!("powerloss-shim.{}.so", std::process::id()));
        let cc = Command::new("cc")
            .args(["-shared", "-fPIC", "-O2", "-o"])
            .arg(&partial)
            .arg(&source)
            .arg("-ldl")
            .output();
        match cc {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
                "the power-loss tests compile {} with `cc`, which is not installed \
                 (on Debian: apt-get install gcc)",
                source.display()
            ),
            Err(e) => panic!("running cc: {e}"),
            Ok(out) if !out.status.success() => panic!(
                "cc could not compile {}:\n{}",
                source.display(),
                String::from_utf8_lossy(&out.stderr)
            ),
            Ok(_) => {}
        }
        std::fs::rename(&partial, &built).unwrap();
        built
    })
}

/// Where a home's undo log goes: beside the home, since the shim must not track its own log.
fn log_of(home: &Home) -> PathBuf {
    home.dir.with_extension("powerloss.log")
}

/// `program` under the shim, tracking the files under `dir`; with `kill_at`, the process
/// SIGKILLs itself just before its kill_at-th event (a change, a sync or a write to stdout).
fn under_shim(program: &Path, dir: &Path, log: &Path, kill_at: Option<u64>) -> Command {
    let mut cmd = Command::new(program);
    cmd.env("LD_PRELOAD", shim())
        .env("POWERLOSS_DIR", dir)
        .env("POWERLOSS_LOG", log)
        .env_remove("POWERLOSS_KILL_AT")
        .env_remove("COUNTERSIGN_HOME");
    if let Some(n) = kill_at {
        cmd.env("POWERLOSS_KILL_AT", n.to_string());
    }
    cmd
}

// ---- the undo log (format: the comment at the top of shim.c) ----

#[derive(Debug)]
enum Record {
    Process,
    Write {
        path: PathBuf,
        offset: u64,
        len: u64,
        old_size: u64,
        pre: Vec<u8>,
    },
    Resize {
        path: PathBuf,
        new_size: u64,
        old_size: u64,
        pre: Vec<u8>,
    },
    Sync(PathBuf),
    SyncAll,
    Rename(PathBuf, PathBuf),
    Unlink(PathBuf),
    Output,
    Unsupported(String),
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let out = self.bytes.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(out)
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().unwrap()))
    }

    fn bytes(&mut self) -> Option<Vec<u8>> {
        let n = usize::try_from(self.u64()?).ok()?;
        Some(self.take(n)?.to_vec())
    }

    fn path(&mut self) -> Option<PathBuf> {
        use std::os::unix::ffi::OsStringExt;
        Some(std::ffi::OsString::from_vec(self.bytes()?).into())
    }

    /// The next record; None at the end, or at a record cut short by a SIGKILL while it was
    /// being appended (always the last: its change never started, so nothing to undo).
    fn record(&mut self) -> Option<Record> {
        let tag = self.take(1)?[0];
        Some(match tag {
            b'P' => {
                self.u64()?;
                Record::Process
            }
            b'W' => Record::Write {
                path: self.path()?,
                offset: self.u64()?,
                len: self.u64()?,
                old_size: self.u64()?,
                pre: self.bytes()?,
            },
            b'T' => Record::Resize {
                path: self.path()?,
                new_size: self.u64()?,
                old_size: self.u64()?,
                pre: self.bytes()?,
            },
            b'S' => Record::Sync(self.path()?),
            b'A' => Record::SyncAll,
            b'R' => Record::Rename(self.path()?, self.path()?),
            b'U' => Record::Unlink(self.path()?),
            b'O' => {
                self.u64()?;
                Record::Output
            }
            b'X' => Record::Unsupported(String::from_utf8_lossy(&self.bytes()?).into_owned()),
            other => panic!(
                "undo log: unknown record {other:#x} at byte {}",
                self.at - 1
            ),
        })
    }
}

fn read_log(path: &Path) -> Vec<Record> {
    // No log at all means the shim never loaded: the sanity test says so, the others find no
    // record and then miss nothing, which only the sanity test could tell.
    let bytes = std::fs::read(path).unwrap_or_default();
    let mut reader = Reader {
        bytes: &bytes,
        at: 0,
    };
    std::iter::from_fn(|| reader.record()).collect()
}

/// The number of events (what POWERLOSS_KILL_AT counts) of the last process in the log.
fn events_of_last_process(log: &Path) -> u64 {
    let records = read_log(log);
    let start = records
        .iter()
        .rposition(|r| matches!(r, Record::Process))
        .expect("the undo log has no process: the shim did not load");
    records[start + 1..]
        .iter()
        .filter(|r| {
            matches!(
                r,
                Record::Write { .. }
                    | Record::Resize { .. }
                    | Record::Sync(_)
                    | Record::SyncAll
                    | Record::Rename(..)
                    | Record::Unlink(_)
                    | Record::Output
            )
        })
        .count() as u64
}

// ---- the power cut ----

/// A change to a file that no sync covered when the power went.
enum Change {
    Write {
        offset: u64,
        len: u64,
        old_size: u64,
        pre: Vec<u8>,
    },
    Resize {
        new_size: u64,
        old_size: u64,
        pre: Vec<u8>,
    },
}

impl Change {
    fn old_size(&self) -> u64 {
        match self {
            Change::Write { old_size, .. } | Change::Resize { old_size, .. } => *old_size,
        }
    }
}

#[derive(Debug, Default)]
struct Cut {
    /// Unsynced changes undone (they never reached the disk).
    lost: usize,
    /// Unsynced changes left in place (the kernel happened to write them back in time).
    kept: usize,
}

/// Cuts the power after the processes logged in `log` (all of them finished or killed): each
/// change that no later sync of its file covered is undone if `lose()` says so. With
/// `|| true` this is the disk as it would be if nothing unsynced had reached it; with a random
/// `lose`, some unsynced writes made it and some did not, in any combination: every byte ends
/// up holding one of the values it held since its file's last sync (zero where the file had not
/// reached), and the file's size is the one its surviving changes give it.
fn power_cut(log: &Path, mut lose: impl FnMut() -> bool) -> Cut {
    let records = read_log(log);
    // An LD_PRELOAD library that fails to load is skipped with a warning, and an empty log
    // would then "survive" any cut.
    assert!(
        records.iter().any(|r| matches!(r, Record::Process)),
        "no process in the undo log {}: the shim did not load",
        log.display()
    );
    let mut pending: HashMap<PathBuf, Vec<Change>> = HashMap::new();
    for record in records {
        match record {
            Record::Write {
                path,
                offset,
                len,
                old_size,
                pre,
            } => pending.entry(path).or_default().push(Change::Write {
                offset,
                len,
                old_size,
                pre,
            }),
            Record::Resize {
                path,
                new_size,
                old_size,
                pre,
            } => pending.entry(path).or_default().push(Change::Resize {
                new_size,
                old_size,
                pre,
            }),
            Record::Sync(path) => {
                pending.remove(&path);
            }
            Record::SyncAll => pending.clear(),
            // Metadata is durable in this model (see shim.c): the name now stands for the
            // renamed file, with its unsynced changes, and whatever it replaced is gone.
            Record::Rename(from, to) => {
                let moved = pending.remove(&from);
                pending.remove(&to);
                if let Some(changes) = moved {
                    pending.insert(to, changes);
                }
            }
            Record::Unlink(path) => {
                pending.remove(&path);
            }
            Record::Unsupported(what) => panic!("{what}: the simulation would not be faithful"),
            Record::Process | Record::Output => {}
        }
    }
    // Sorted, so that a seed draws the same decisions for the same files every time.
    let mut files: Vec<(PathBuf, Vec<Change>)> = pending.into_iter().collect();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    let mut cut = Cut::default();
    for (path, changes) in files {
        let lost: Vec<bool> = changes.iter().map(|_| lose()).collect();
        let file = match std::fs::OpenOptions::new().write(true).open(&path) {
            Ok(file) => file,
            // Unlinked by a process killed before it could log the unlink: nothing to undo.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => panic!("opening {}: {e}", path.display()),
        };
        // The size the file's metadata ends with: the one its surviving changes gave it.
        let mut size = changes[0].old_size();
        for (change, &lost) in changes.iter().zip(&lost) {
            if !lost {
                size = match change {
                    Change::Write { offset, len, .. } => size.max(offset + len),
                    Change::Resize { new_size, .. } => *new_size,
                };
            }
        }
        // Undone newest first, so each undo sees the file as its change left it.
        for (change, &lost) in changes.iter().zip(&lost).rev() {
            if !lost {
                cut.kept += 1;
                continue;
            }
            cut.lost += 1;
            match change {
                Change::Write {
                    offset,
                    len,
                    old_size,
                    pre,
                } => {
                    file.write_all_at(pre, *offset).unwrap();
                    // Past the old end there was nothing: a block that was allocated but
                    // never written reads back as zeros.
                    let from = (*offset).max(*old_size);
                    if offset + len > from {
                        let zeros = vec![0; (offset + len - from) as usize];
                        file.write_all_at(&zeros, from).unwrap();
                    }
                }
                Change::Resize {
                    new_size,
                    old_size,
                    pre,
                } => {
                    if new_size < old_size {
                        file.write_all_at(pre, *new_size).unwrap();
                    }
                }
            }
        }
        file.set_len(size).unwrap();
    }
    cut
}

// ---- checking a home after the cut ----

/// The home opens, verifies clean, and holds every acknowledged entry; `texts` are the texts
/// each acknowledged write signed, which `report show` must still list.
fn assert_survived(home: &Home, report: &str, acked: &[(String, String)], context: &str) {
    let verify = home.run(&["verify"]);
    assert_eq!(
        verify.code, 0,
        "{context}: verify after the power cut failed: {} {}",
        verify.stdout, verify.stderr
    );
    assert_eq!(
        verify.json()["ok"],
        true,
        "{context}: verify after the power cut: {}",
        verify.stdout
    );
    let show = home.run(&["report", "show", report]);
    assert_eq!(
        show.code, 0,
        "{context}: report show after the power cut failed: {}",
        show.stderr
    );
    let view = show.json();
    let stored: Vec<&str> = view["provenance"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["entry"].as_str().unwrap())
        .collect();
    let texts = texts_of(&view);
    for (entry, text) in acked {
        assert!(
            stored.contains(&entry.as_str()),
            "{context}: acknowledged entry {entry} ({text:?}) is gone after the power cut; \
             the report holds {stored:?}"
        );
        assert!(
            texts.contains(text),
            "{context}: acknowledged text {text:?} is gone after the power cut; the report \
             shows {texts:?}"
        );
    }
}

/// Every text any version of any section of a `report show` holds.
fn texts_of(view: &Value) -> Vec<String> {
    let mut texts = Vec::new();
    for section in view["sections"].as_array().unwrap() {
        texts.extend(section["text"].as_str().map(str::to_string));
        for version in section["versions"].as_array().into_iter().flatten() {
            texts.extend(version["text"].as_str().map(str::to_string));
        }
    }
    texts
}

/// A home with an admin attending and one report, set up without the shim: the tests start
/// from a disk on which everything is durable.
fn home_with_report() -> (Home, String) {
    let home = Home::new();
    home.ok(&["init", "--name", "Dr Ada", "--role", "attending", "--admin"]);
    let report = home.new_report("1.2.826.0.1.3680043.10.543", "ct-chest");
    (home, report)
}

// ---- the tests ----

mod cli_writes;
mod images;
mod open_home;
