//! The key lock: one exclusive advisory lock per home, on `<home>/key.lock`, held by every
//! operation that reads the home's key state (the profile, the pending rotation) and then
//! changes it: adopting a rotation, changing the passphrase, `key rotate`, `key move`. Each of
//! them re-reads that state once it holds the lock and acts on what is there then: two
//! programs on one home (a `serve` node, a CLI command, the desktop) interleaving these steps
//! brought a rotated-away key back or switched a home to a key its data keys were not wrapped
//! under (found by review, 2026-12-05).
//!
//! An OS file lock (`flock`): it holds across processes and PID namespaces, between two
//! handles of one process (each opens the file anew), and goes with the process when it dies,
//! so a crash never leaves the home locked. Waiting for it gives up after [`WAIT`]
//! (`key_busy`); what is done while holding it is bounded too: no passphrase or PIN is asked
//! for with it held (they are had first, and the state looked at again after; an operation
//! that finds under the lock that it needs one it did not ask for stops, and is done at the
//! next command or unlock), only the Argon2id seals, the store's writes and the key store's
//! own calls (the OS keychain may show its own unlock prompt).
//!
//! Order: the key lock first, then the ledger's write transaction, never the other way round
//! (no code takes the key lock inside `Store::write`); adoption writes the ledger while
//! holding the key lock.
//!
//! Not re-entrant: a second `lock` by a holder waits for itself. The use cases take it at
//! their entry and call none of the others while holding it.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;

use crate::error::{AppError, Result};

/// The key lock, held until dropped.
#[derive(Debug)]
pub(crate) struct KeyLock {
    _file: File,
}

/// Waits for the key lock of the home in `dir` and takes it, for at most [`WAIT`].
pub(crate) fn lock(dir: &Path) -> Result<KeyLock> {
    lock_within(dir, WAIT)
}

fn lock_within(dir: &Path, wait: std::time::Duration) -> Result<KeyLock> {
    let path = dir.join("key.lock");
    let context = || format!("locking {}", path.display());
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(&path).map_err(AppError::io(context()))?;
    let started = std::time::Instant::now();
    let mut told = false;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(KeyLock { _file: file }),
            Err(TryLockError::WouldBlock) => {}
            Err(TryLockError::Error(e)) => return Err(AppError::io(context())(e)),
        }
        if !told {
            told = true;
            tracing::info!("waiting for another program's key operation on this home");
            reached("key_lock.waiting");
        }
        // Bounded: a holder may wait on the OS keychain's own unlock dialog, and a window
        // waiting here holds its home (found by review, 2026-12-05: the desktop froze, its key
        // unlocked, for as long as another program's keychain prompt stayed open). The OS
        // offers no lock with a timeout, so it is asked for again every few milliseconds.
        if started.elapsed() >= wait {
            return Err(AppError::KeyBusy);
        }
        std::thread::sleep(POLL);
    }
}

/// How long a key operation waits for another program's to end before it gives up
/// (`key_busy`): what a holder does is bounded — Argon2id seals, the store's writes, the data
/// keys' rewrapping — but for the OS keychain's own prompts.
pub(crate) const WAIT: std::time::Duration = std::time::Duration::from_secs(30);
const POLL: std::time::Duration = std::time::Duration::from_millis(20);

#[cfg(test)]
type Hook = Box<dyn FnOnce()>;

#[cfg(test)]
thread_local! {
    static HOOKS: std::cell::RefCell<Vec<(&'static str, Hook)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Tests: runs `f` the next time this thread reaches `point` (another program's operation at
/// a racy moment, run for real rather than timed with sleeps).
#[cfg(test)]
pub(crate) fn on(point: &'static str, f: impl FnOnce() + 'static) {
    HOOKS.with(|h| h.borrow_mut().push((point, Box::new(f))));
}

/// A point a test can run something at ([`on`]); nothing outside tests.
#[inline]
pub(crate) fn reached(point: &'static str) {
    #[cfg(test)]
    {
        let hook = HOOKS.with(|h| {
            let mut h = h.borrow_mut();
            let i = h.iter().position(|(p, _)| *p == point)?;
            Some(h.remove(i).1)
        });
        if let Some(f) = hook {
            f();
        }
    }
    #[cfg(not(test))]
    let _ = point;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by review (2026-12-05): waiting for the key lock had no end, and a desktop
    /// waiting for it (its home held, its key unlocked) froze while another program's
    /// keychain prompt stayed open. Fails if the wait stops giving up.
    #[test]
    fn a_key_lock_held_elsewhere_is_waited_for_then_given_up() {
        let dir = tempfile::tempdir().unwrap();
        let held = lock(dir.path()).unwrap();
        let wait = std::time::Duration::from_millis(100);
        let started = std::time::Instant::now();
        // On a thread, so that a wait without end fails here (given a minute) instead of
        // hanging the suite.
        let (said, heard) = std::sync::mpsc::channel();
        let path = dir.path().to_path_buf();
        std::thread::spawn(move || said.send(lock_within(&path, wait).map(drop)));
        let refused = heard
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("the wait for the key lock did not give up")
            .unwrap_err();
        assert_eq!(refused.code(), "key_busy");
        assert!(started.elapsed() >= wait);
        drop(held);
        lock_within(dir.path(), wait).unwrap();
    }
}
