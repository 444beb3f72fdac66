//! Power loss, not just a crash. A killed process (crash.rs) leaves everything it wrote in the
//! kernel's page cache, which still reaches the disk; a power cut loses whatever was not synced.
//! These tests run the real binary under an LD_PRELOAD shim (tests/powerloss/shim.c) that keeps
//! an undo log of every unsynced change to the files of a home, then "cut the power" by undoing
//! those changes, and check that every acknowledged entry is still there and verifies.
//! With `synchronous=OFF` they fail; see an_open_home_loses_no_acknowledged_section_at_a_power_cut
//! for `NORMAL`, which only a writer that keeps its connection open can catch.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::FileExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

use crate::common::{bin, tests_dir, Home, Run};

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

/// `countersign --home HOME --json report write REPORT --section SECTION --text TEXT` under
/// the shim.
fn write_under_shim(
    home: &Home,
    kill_at: Option<u64>,
    report: &str,
    section: &str,
    text: &str,
) -> Output {
    let args = [
        "report",
        "write",
        report,
        "--section",
        section,
        "--text",
        text,
    ];
    under_shim(&bin(), &home.dir, &log_of(home), kill_at)
        .env("COUNTERSIGN_PASSPHRASE_FILE", &home.passphrase_file)
        .env("COUNTERSIGN_TEST_FAST_KDF", "1")
        .arg("--home")
        .arg(&home.dir)
        .arg("--json")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("spawn countersign")
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

/// The entry id a `report write` printed, if it printed a whole one before it exited or died.
fn acknowledged(out: &Output) -> Option<String> {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let value: Value = serde_json::from_str(stdout.trim()).ok()?;
    Some(value["entry"].as_str()?.to_string())
}

// ---- the tests ----

#[test]
fn an_acknowledged_section_survives_a_power_cut() {
    let (home, report) = home_with_report();
    let mut acked = Vec::new();
    for (section, text) in [
        ("technique", "Axial CT of the chest with contrast."),
        ("findings", "No consolidation. No effusion."),
        ("impression", "Normal chest CT."),
        ("findings", "No consolidation, effusion or pneumothorax."),
    ] {
        let run = Run::from(write_under_shim(&home, None, &report, section, text));
        let entry = run.ok()["entry"].as_str().unwrap().to_string();
        acked.push((entry, text.to_string()));
    }

    let cut = power_cut(&log_of(&home), || true);
    assert_survived(&home, &report, &acked, &format!("power cut ({cut:?})"));
    // The current text of each section is its last acknowledged version.
    let view = home.ok(&["report", "show", &report]);
    let findings = view["sections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "findings")
        .unwrap();
    assert_eq!(
        findings["text"],
        "No consolidation, effusion or pneumothorax."
    );
}

#[test]
fn acknowledged_sections_survive_power_cuts_at_seeded_moments() {
    let mut killed = 0;
    let mut lost = 0;
    let all = seeds(&[1, 2, 3, 4, 5, 6, 7, 8]);
    for &seed in &all {
        let context = format!("seed {seed} (replay: POWERLOSS_SEED={seed})");
        eprintln!("{context}");
        let mut rng = StdRng::seed_from_u64(seed);
        let (home, report) = home_with_report();
        let log = log_of(&home);
        let mut acked = Vec::new();
        let write = |n: usize, kill_at: Option<u64>| {
            let text = format!("Findings, revision {n} (seed {seed}).");
            let out = write_under_shim(&home, kill_at, &report, "findings", &text);
            (out, text)
        };
        // A seeded number of acknowledged writes, each its own process, as a script would run.
        let writes = rng.gen_range(1..=4);
        for n in 0..writes {
            let (out, text) = write(n, None);
            let run = Run::from(out);
            assert_eq!(run.code, 0, "{context}: write {n}: {}", run.stderr);
            acked.push((run.json()["entry"].as_str().unwrap().to_string(), text));
        }
        // Then the power goes at a seeded event of the next write: anywhere from before its first
        // change to just before it prints its acknowledgement (it takes about as many events as
        // the last write did).
        let kill_at = rng.gen_range(1..=events_of_last_process(&log));
        let (out, text) = write(writes, Some(kill_at));
        match (out.status.code(), out.status.signal()) {
            (Some(0), _) => {}
            (_, Some(9)) => killed += 1,
            _ => panic!(
                "{context}: the interrupted write failed otherwise: {:?} {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ),
        }
        if let Some(entry) = acknowledged(&out) {
            acked.push((entry, text));
        }

        let p_lost = rng.gen_range(0.1..0.9);
        let cut = power_cut(&log, || rng.gen_bool(p_lost));
        eprintln!("{context}: {writes} acknowledged writes, then cut at event {kill_at}, {cut:?}");
        lost += cut.lost;
        assert_survived(&home, &report, &acked, &context);
    }
    // Not vacuous: the cuts landed inside writes, and some of them had unsynced changes to undo
    // (a single replayed seed may legitimately do neither).
    if all.len() > 1 {
        assert!(
            killed * 2 >= all.len(),
            "only {killed} of {} writes were cut",
            all.len()
        );
        assert!(lost > 0, "no cut found an unsynced change to undo");
    }
}

/// The shim must really see what SQLite does, or every other test here would pass vacuously.
#[test]
fn the_shim_sees_the_writes_and_syncs_of_the_ledger() {
    // Plain files first: the model itself. A synced file survives, an unsynced one is lost, an
    // unsynced overwrite (O_TRUNC), write in place (through a write-only descriptor) or append
    // leaves the old content, and a rename carries the file's synced state to its new name.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("disk");
    std::fs::create_dir(&dir).unwrap();
    let log = tmp.path().join("files.log");
    let out = under_shim(Path::new("sh"), &dir, &log, None)
        .current_dir(&dir)
        .args([
            "-c",
            "printf old > over; sync over; printf new > over; \
             printf kept > synced; sync synced; printf gone > unsynced; \
             printf 12345 > mid; sync mid; \
             printf Z | dd of=mid bs=1 seek=2 conv=notrunc status=none; printf more >> mid; \
             printf fresh > t; sync t; mv t renamed; printf stale > u; mv u moved",
        ])
        .output()
        .expect("sh");
    assert!(out.status.success(), "{out:?}");
    let read = |name: &str| String::from_utf8(std::fs::read(dir.join(name)).unwrap()).unwrap();
    assert_eq!(read("unsynced"), "gone");
    assert_eq!(read("mid"), "12Z45more");
    let cut = power_cut(&log, || true);
    assert_eq!(read("over"), "old", "{cut:?}");
    assert_eq!(read("synced"), "kept");
    assert_eq!(read("unsynced"), "");
    assert_eq!(read("mid"), "12345");
    assert_eq!(read("renamed"), "fresh");
    assert_eq!(read("moved"), "");

    // Then the ledger: one write through the CLI shows up as writes to the WAL and syncs of it.
    let (home, report) = home_with_report();
    Run::from(write_under_shim(&home, None, &report, "findings", "Clear.")).ok();
    let records = read_log(&log_of(&home));
    let ledger = home.dir.canonicalize().unwrap().join("ledger.sqlite3");
    let wal = ledger.with_extension("sqlite3-wal");
    let writes_to = |file: &Path| {
        records
            .iter()
            .filter(|r| matches!(r, Record::Write { path, .. } if path == file))
            .count()
    };
    let syncs_of = |file: &Path| {
        records
            .iter()
            .filter(|r| matches!(r, Record::Sync(path) if path == file))
            .count()
    };
    let summary = format!(
        "{} records: {} writes and {} syncs of the WAL, {} writes and {} syncs of the database",
        records.len(),
        writes_to(&wal),
        syncs_of(&wal),
        writes_to(&ledger),
        syncs_of(&ledger)
    );
    eprintln!("{summary}");
    assert!(
        records.iter().any(|r| matches!(r, Record::Process)),
        "the shim did not load: {summary}"
    );
    assert!(writes_to(&wal) > 0, "no write to the WAL seen: {summary}");
    assert!(syncs_of(&wal) > 0, "no sync of the WAL seen: {summary}");
    assert!(
        !records.iter().any(|r| matches!(r, Record::Unsupported(_))),
        "{records:?}"
    );
}

/// The desktop app keeps its home, and so its SQLite connection, open between writes, unlike
/// the CLI, which closes it (checkpointing the WAL, with syncs) before it prints anything. Only
/// such a writer shows whether a commit alone is durable: with `synchronous=NORMAL` the WAL is
/// synced at checkpoints, not at commits, so this test fails where the CLI tests pass.
#[test]
fn an_open_home_loses_no_acknowledged_section_at_a_power_cut() {
    const WRITES: usize = 6;
    let writer = |home: &Home, report: &str, kill_at: Option<u64>| {
        let me = std::env::current_exe().unwrap();
        under_shim(&me, &home.dir, &log_of(home), kill_at)
            .args([
                "--exact",
                "power_loss::an_open_home_acknowledges_each_section_after_its_commit",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("POWERLOSS_WRITER_HOME", &home.dir)
            .env("POWERLOSS_WRITER_REPORT", report)
            .env("POWERLOSS_WRITER_COUNT", WRITES.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the writer")
    };
    // One uncut run measures how many events a whole run has.
    let (home, report) = home_with_report();
    let out = writer(&home, &report, None).wait_with_output().unwrap();
    assert!(out.status.success(), "the writer failed: {out:?}");
    let events = events_of_last_process(&log_of(&home));

    for seed in seeds(&[11, 12, 13, 14]) {
        let context = format!("open home, seed {seed} (replay: POWERLOSS_SEED={seed})");
        eprintln!("{context}");
        let mut rng = StdRng::seed_from_u64(seed);
        let (home, report) = home_with_report();
        let kill_at = rng.gen_range(1..=events);
        let mut child = writer(&home, &report, Some(kill_at));
        // Acknowledgements as the writer prints them; the shim ends the process at the cut.
        let mut acked = Vec::new();
        for line in BufReader::new(child.stdout.take().unwrap()).lines() {
            let line = line.unwrap();
            // Found anywhere in the line: libtest prints the test's name without a newline.
            if let Some((_, ack)) = line.split_once("acknowledged ") {
                let (entry, text) = ack.split_once(' ').unwrap();
                acked.push((entry.to_string(), text.to_string()));
            }
        }
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success() || out.status.signal() == Some(9),
            "{context}: the writer failed: {out:?}"
        );
        // Half the seeds lose everything unsynced, half a random part of it.
        let cut = if seed % 2 == 0 {
            power_cut(&log_of(&home), || true)
        } else {
            let p_lost = rng.gen_range(0.1..0.9);
            power_cut(&log_of(&home), || rng.gen_bool(p_lost))
        };
        eprintln!(
            "{context}: cut at event {kill_at} of {events}, {} acknowledged, {cut:?}",
            acked.len()
        );
        assert_survived(&home, &report, &acked, &context);
    }
}

/// The long-lived writer: one `Home` kept open, as the desktop app keeps it, printing
/// `acknowledged ENTRY TEXT` after each write returns. Run alone it writes into a fresh home
/// and checks every acknowledged section is in the report; an_open_home_loses_no_acknowledged_
/// section_at_a_power_cut re-runs this test binary on this test alone, under the shim, with
/// the home, report and count in the environment.
#[test]
fn an_open_home_acknowledges_each_section_after_its_commit() {
    use std::io::Write;
    let given = (
        std::env::var_os("POWERLOSS_WRITER_HOME"),
        std::env::var("POWERLOSS_WRITER_REPORT"),
        std::env::var("POWERLOSS_WRITER_COUNT"),
    );
    let mut fresh = None;
    let (dir, report, count) = match given {
        (Some(dir), Ok(report), Ok(count)) => (
            std::path::PathBuf::from(dir),
            report,
            count.parse::<usize>().unwrap(),
        ),
        _ => {
            let (home, report) = home_with_report();
            let dir = home.dir.clone();
            fresh = Some(home);
            (dir, report, 3)
        }
    };
    let mut home = crate::common::open_app_home(&dir);
    let id = countersign_app::entry_id(&report).unwrap();
    let mut stdout = std::io::stdout();
    let mut acked = Vec::new();
    for n in 0..count {
        let text = format!("Findings, revision {n}.");
        let entry = home.report_write(id, "findings", &text).unwrap();
        writeln!(stdout, "acknowledged {entry} {text}").unwrap();
        stdout.flush().unwrap();
        acked.push((entry.to_hex(), text));
    }
    drop(home);
    if let Some(fresh) = &fresh {
        assert_survived(fresh, &report, &acked, "no power cut");
    }
}

/// Issue 15's retrieval stores each instance as it arrives: the staged file is synced, renamed
/// into the store, its folder synced, and only then indexed. A power cut at a seeded moment of
/// `retrieve` (under the shim; its decode workers are started under it too, and may be the ones
/// the seeded kill lands in) never leaves an index row naming an image file the disk lost:
/// every row's file is there, whole, with the SHA-256 it is stored under. With the staged
/// file's sync removed, the cut leaves indexed files empty and this fails.
#[test]
fn a_retrieval_cut_by_the_power_indexes_no_image_it_lost() {
    let dir = tempfile::tempdir().unwrap();
    let spec = countersign_imaging::PhantomSpec {
        seed: "power loss retrieve".into(),
        slices: 12,
        size: 64,
        ..Default::default()
    };
    let files = countersign_imaging::write_phantom_series(&spec, &dir.path().join("ct")).unwrap();
    let study = countersign_imaging::phantom_study_uid(&spec.seed);
    let orthanc = crate::pacs_servers::Orthanc::start();
    for f in &files {
        orthanc.upload(f);
    }
    let (mut indexed, mut lost) = (0usize, 0usize);
    let all = seeds(&[11, 12, 13, 14, 15, 16]);
    for &seed in &all {
        let context = format!("seed {seed} (replay: POWERLOSS_SEED={seed})");
        let mut rng = StdRng::seed_from_u64(seed);
        let archive_home = || {
            let home = Home::new();
            home.ok(&["init", "--name", "Dr Ada", "--role", "attending", "--admin"]);
            home.ok(&[
                "pacs",
                "add",
                "orthanc",
                "--dicomweb",
                &orthanc.dicomweb_url(),
            ]);
            home
        };
        // Anywhere in a retrieval: up to as many events as a whole one takes (its workers'
        // included), measured on a home of its own.
        let measure = archive_home();
        let whole = retrieve_under_shim(&measure, &study, None);
        assert!(
            whole.status.success(),
            "{context}: {}",
            String::from_utf8_lossy(&whole.stderr)
        );
        let events = read_log(&log_of(&measure)).len() as u64;
        let home = archive_home();
        let kill_at = rng.gen_range(1..=events);
        let out = retrieve_under_shim(&home, &study, Some(kill_at));
        let p_lost = rng.gen_range(0.5..1.0);
        let cut = power_cut(&log_of(&home), || rng.gen_bool(p_lost));
        lost += cut.lost;
        eprintln!(
            "{context}: cut at event {kill_at} of {events} ({:?}), {cut:?}",
            out.status
        );
        // Every indexed image is on the disk, whole.
        indexed += every_indexed_image_is_whole(&home, &context);
    }
    // Not vacuous: some cuts came after instances were indexed, some had unsynced changes.
    if all.len() > 1 {
        assert!(indexed > 0, "no cut came after an instance was indexed");
        assert!(lost > 0, "no cut found an unsynced change to undo");
    }
}

/// `countersign --home HOME --json retrieve --pacs orthanc --study STUDY` under the shim.
fn retrieve_under_shim(home: &Home, study: &str, kill_at: Option<u64>) -> Output {
    under_shim(&bin(), &home.dir, &log_of(home), kill_at)
        .env("COUNTERSIGN_PASSPHRASE_FILE", &home.passphrase_file)
        .arg("--home")
        .arg(&home.dir)
        .arg("--json")
        .args(["retrieve", "--pacs", "orthanc", "--study", study])
        .stdin(Stdio::null())
        .output()
        .expect("spawn countersign")
}

/// An import makes a batch of files durable together (two `syncfs`, see the store's
/// `commit_staged`: the data, then the names) before the batch's index rows are committed. A
/// power cut at a seeded moment of an `import` of 70 slices (a first batch of one, synced file
/// by file, then batches of 64 and 5) never leaves an index row naming a file the disk lost;
/// and importing the same files again into the cut home — which trusts a name it finds taken:
/// same name, same bytes — leaves every row's file whole too. With the sync before the index
/// commit removed, a cut leaves indexed files empty and this fails.
#[test]
fn an_import_cut_by_the_power_indexes_no_image_it_lost() {
    let dir = tempfile::tempdir().unwrap();
    let spec = countersign_imaging::PhantomSpec {
        seed: "power loss import".into(),
        slices: 70,
        size: 32,
        ..Default::default()
    };
    let folder = dir.path().join("ct");
    countersign_imaging::write_phantom_series(&spec, &folder).unwrap();
    let (mut indexed, mut lost) = (0usize, 0usize);
    let all = seeds(&[21, 22, 23, 24, 25, 26]);
    for &seed in &all {
        let context = format!("seed {seed} (replay: POWERLOSS_SEED={seed})");
        let mut rng = StdRng::seed_from_u64(seed);
        // A home made without the shim: the cut is of the import alone.
        let new_home = || {
            let home = Home::new();
            home.ok(&["init", "--name", "Dr Ada", "--role", "attending", "--admin"]);
            home
        };
        let measure = new_home();
        let whole = import_under_shim(&measure, &folder, None);
        assert!(
            whole.status.success(),
            "{context}: {}",
            String::from_utf8_lossy(&whole.stderr)
        );
        let events = events_of_last_process(&log_of(&measure));
        let home = new_home();
        let kill_at = rng.gen_range(1..=events);
        let out = import_under_shim(&home, &folder, Some(kill_at));
        let p_lost = rng.gen_range(0.5..1.0);
        let cut = power_cut(&log_of(&home), || rng.gen_bool(p_lost));
        lost += cut.lost;
        eprintln!(
            "{context}: cut at event {kill_at} of {events} ({:?}), {cut:?}",
            out.status
        );
        let cut_rows = every_indexed_image_is_whole(&home, &context);
        indexed += cut_rows;
        // Imported again after the cut (no shim): every file, every row whole.
        let again = home.run(&["import", folder.to_str().unwrap()]);
        assert_eq!(again.code, 0, "{context}: {}", again.stderr);
        let rows = every_indexed_image_is_whole(&home, &context);
        assert_eq!(rows, 70, "{context}");
    }
    // Not vacuous: some cuts came after instances were indexed, some had unsynced changes.
    if all.len() > 1 {
        assert!(indexed > 0, "no cut came after an instance was indexed");
        assert!(lost > 0, "no cut found an unsynced change to undo");
    }
}

/// Every image the home's index names is on the disk with the SHA-256 it is stored under;
/// how many rows there are.
fn every_indexed_image_is_whole(home: &Home, context: &str) -> usize {
    let db = home.db();
    let mut rows = db.prepare("SELECT sha256 FROM instances").unwrap();
    let shas: Vec<Vec<u8>> = rows
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for sha in &shas {
        let hex = hex::encode(sha);
        let path = home
            .dir
            .join("images")
            .join(&hex[..2])
            .join(format!("{hex}.dcm"));
        let bytes = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{context}: indexed {hex} is not on the disk: {e}"));
        assert_eq!(
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes)),
            hex,
            "{context}: indexed {hex} lost bytes at the cut"
        );
    }
    shas.len()
}

/// `countersign --home HOME --json import FOLDER` under the shim.
fn import_under_shim(home: &Home, folder: &Path, kill_at: Option<u64>) -> Output {
    under_shim(&bin(), &home.dir, &log_of(home), kill_at)
        .env("COUNTERSIGN_PASSPHRASE_FILE", &home.passphrase_file)
        .arg("--home")
        .arg(&home.dir)
        .arg("--json")
        .args(["import"])
        .arg(folder)
        .stdin(Stdio::null())
        .output()
        .expect("spawn countersign")
}
