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
//! so a crash never leaves the home locked. Waiting for it is not bounded by a timeout; what
//! is done while holding it is: no passphrase or PIN is asked for with it held (they are had
//! first, and the state looked at again after), only the Argon2id seals, the store's writes
//! and the key store's own calls.
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

/// Waits for the key lock of the home in `dir` and takes it.
pub(crate) fn lock(dir: &Path) -> Result<KeyLock> {
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
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            tracing::info!("waiting for another program's key operation on this home");
            reached("key_lock.waiting");
            file.lock().map_err(AppError::io(context()))?;
        }
        Err(TryLockError::Error(e)) => return Err(AppError::io(context())(e)),
    }
    Ok(KeyLock { _file: file })
}

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
