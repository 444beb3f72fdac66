//! The `Desk`: the home a window works on, with every handle on it the commands use. Its own
//! module so that `lib.rs` stays the crate's entry (the small pub fns and `run`). This file holds
//! the struct and its opening: the home opened off the window's way, the other handles on it
//! (the readers, the erasure counter, an archive task's own) and the reads on them. The frame
//! cache and dropped paths are in `frames`; the key's idle lock, the sync node and running a use
//! case are in `lock`.

mod frames;
mod lock;

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use countersign_app::{AppError, FrameCache, Home, PassphraseSource, WireError};

use crate::idle_lock;

/// The home this window works on. Opened once at start; a home that cannot be opened (a damaged
/// or newer ledger) is reported by every command instead of taking the app down.
///
/// The key starts locked: the `unlock` command opens it with the passphrase. It is locked again
/// (wiped from memory) after `idle` without the user doing anything; signing while locked is
/// refused with `locked`, and the UI asks for the passphrase.
#[derive(Debug)]
pub struct Desk {
    pub(crate) dir: PathBuf,
    pub(crate) home: Mutex<Result<Home, WireError>>,
    /// Whether `home` holds the outcome of opening the home yet: the window opens it off its
    /// own way (see [`Desk::opening`]), and until then every command answers `home_opening`
    /// and no other handle is opened (it would wait on the upgrade's lock).
    opened: std::sync::atomic::AtomicBool,
    /// The background sync node, started once the home has an identity and its key is unlocked;
    /// stopped when the key locks (see `lock_if_idle`).
    pub(crate) sync: Mutex<Option<countersign_app::sync::Service>>,
    idle: Duration,
    /// When the user last did something: a command only the user causes, or input the UI
    /// reports (`activity`); reloads and polls do not count.
    last_used: Mutex<Instant>,
    /// What was last dropped on the window, from the window's own drop event (see
    /// `import_dropped`); at most [`MAX_DROPPED`] paths.
    dropped: Mutex<Vec<PathBuf>>,
    /// Handles on the home for reads only, each its own SQLite connection: frames, the study
    /// list and report views are served from them, so an import, a verify or a sync pull
    /// holding `home` never makes the viewer wait. Opened when first needed; they hold no key.
    pub(crate) readers: [Mutex<Option<Home>>; READERS],
    /// The home's data keys while its key is unlocked (see `countersign_app::DataKeys`): the
    /// readers read sealed reports with them, and drop them when the key locks.
    pub(crate) keys: Mutex<Option<countersign_app::DataKeys>>,
    /// Frames decoded once, kept within a byte budget ([`countersign_app::frame_cache_budget`]).
    pub(crate) frames: FrameCache,
    /// A handle of its own for the erasure count every frame request reads (an indexed count):
    /// a frame served from the cache never waits behind a decode holding both `readers`.
    counter: Mutex<Option<Home>>,
    /// How many reports the home had erased when the frame cache was last checked: an erasure
    /// a peer's sync brought in empties the cache too (its images' pixels must not be served
    /// from memory once their files are gone).
    erasures_seen: std::sync::atomic::AtomicU64,
}

/// How many reads run at once (one per core of the machines this is built for): a frame
/// decoded while the previous one is drawn, or one fetched ahead while one is shown.
pub const READERS: usize = 2;

/// The most files and folders one drop hands to an import (a folder counts once; its files are
/// found by the import).
pub const MAX_DROPPED: usize = 10_000;

impl Desk {
    pub fn open(dir: PathBuf) -> Desk {
        Desk::open_with_idle_lock(dir, idle_lock())
    }

    pub fn open_with_idle_lock(dir: PathBuf, idle: Duration) -> Desk {
        let desk = Desk::opening_with_idle_lock(dir, idle);
        desk.finish_opening();
        desk
    }

    /// A desk whose home is not open yet: the window shows at once and says so, and
    /// [`Desk::finish_opening`] (on a thread of its own) opens it. After an update, opening
    /// upgrades the store first — 15 s for a million reports (migration 20) — and the window
    /// used to wait for it, blank, before it even appeared.
    pub fn opening(dir: PathBuf) -> Desk {
        Desk::opening_with_idle_lock(dir, idle_lock())
    }

    fn opening_with_idle_lock(dir: PathBuf, idle: Duration) -> Desk {
        Desk {
            dir,
            home: Mutex::new(Err(AppError::HomeOpening.to_wire())),
            opened: std::sync::atomic::AtomicBool::new(false),
            sync: Mutex::new(None),
            idle,
            last_used: Mutex::new(Instant::now()),
            dropped: Mutex::new(Vec::new()),
            readers: std::array::from_fn(|_| Mutex::new(None)),
            keys: Mutex::new(None),
            frames: FrameCache::new(countersign_app::frame_cache_budget()),
            counter: Mutex::new(None),
            erasures_seen: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Opens the home (upgrading its store if an update asks for it), once; the commands
    /// answer `home_opening` until it returns. Returns at once if it is open already.
    pub fn finish_opening(&self) {
        use std::sync::atomic::Ordering;
        if self.opened.load(Ordering::Acquire) {
            return;
        }
        let started = Instant::now();
        let home = Home::open(&self.dir)
            .map(|mut h| {
                // Never a prompt: a key needed while locked is refused, and the UI asks (a key
                // in the OS keychain too: only the user's unlock reads it).
                h.set_passphrase_source(Some(PassphraseSource::locked()));
                h
            })
            .map_err(|e| e.to_wire());
        *self.home.lock().unwrap_or_else(|p| p.into_inner()) = home;
        self.opened.store(true, Ordering::Release);
        tracing::info!(ms = started.elapsed().as_secs_f64() * 1e3, "home opened");
    }

    /// Another handle on the home (a reader, the erasure counter, an archive task's own);
    /// `home_opening` while the home is still being opened.
    pub(crate) fn open_another(&self) -> Result<Home, AppError> {
        if !self.opened.load(std::sync::atomic::Ordering::Acquire) {
            return Err(AppError::HomeOpening);
        }
        Home::open(&self.dir)
    }

    /// Runs a read on a reader handle (see `readers`): the first one free, else waits for the
    /// first. Never the home the writes hold.
    fn read_home<T>(&self, f: impl FnOnce(&Home) -> Result<T, AppError>) -> Result<T, AppError> {
        let mut guard = self
            .readers
            .iter()
            .find_map(|r| r.try_lock().ok())
            .unwrap_or_else(|| self.readers[0].lock().unwrap_or_else(|p| p.into_inner()));
        let home = match &mut *guard {
            Some(home) => home,
            slot @ None => slot.insert(self.open_reader()?),
        };
        // Sealed reports read with the home's data keys while its key is unlocked.
        home.use_data_keys(self.keys.lock().unwrap_or_else(|p| p.into_inner()).clone());
        f(home)
    }

    /// A handle on the home for reads (see `readers`), its opening timed in the log (at debug
    /// level, for the bench: an opening on the way of the first image costs it tens of ms).
    fn open_reader(&self) -> Result<Home, AppError> {
        let started = Instant::now();
        let home = self.open_another()?;
        tracing::debug!(ms = started.elapsed().as_secs_f64() * 1e3, "reader opened");
        Ok(home)
    }

    /// Opens the read handles not yet open, and the erasure counter's, off the window's way:
    /// called once at start, so the first study opened does not pay for them.
    pub fn open_readers(&self) {
        for reader in &self.readers {
            if let Ok(mut guard) = reader.try_lock() {
                if guard.is_none() {
                    if let Ok(home) = self.open_reader() {
                        *guard = Some(home);
                    }
                }
            }
        }
        if let Ok(mut guard) = self.counter.try_lock() {
            if guard.is_none() {
                *guard = self.open_another().ok();
            }
        }
    }

    /// Shares the home's data keys with the readers as they are after a command: open once it
    /// unlocked, gone once it locked — then the readers not busy drop theirs at once (a busy
    /// one drops them before its next read).
    fn share_keys(&self, home: &Home) {
        let keys = home.data_keys();
        let locked = keys.is_none();
        *self.keys.lock().unwrap_or_else(|p| p.into_inner()) = keys;
        if locked {
            for reader in &self.readers {
                if let Ok(mut guard) = reader.try_lock() {
                    if let Some(h) = guard.as_mut() {
                        h.use_data_keys(None);
                    }
                }
            }
        }
    }

    /// [`Desk::read_home`] with its error in wire form (not activity for the idle lock).
    pub(crate) fn read<T>(
        &self,
        f: impl FnOnce(&Home) -> Result<T, AppError>,
    ) -> Result<T, WireError> {
        self.read_home(f).map_err(|e| {
            tracing::info!(code = e.code(), error = %e.loggable(), "read failed");
            e.to_wire()
        })
    }
}
