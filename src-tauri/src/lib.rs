//! The Countersign desktop shell: Tauri commands of a few lines each, every one calling
//! `countersign-app`, and the window. Errors cross to the UI as `{code, rule, message}` (see
//! `countersign_app::ERROR_CODES`; `rule` is the refusing rule's stable code, when a rule refused
//! an entry); image frames cross as binary packets, never JSON arrays.
//!
//! ```no_run
//! // The binary is just this; `COUNTERSIGN_HOME` chooses the home, as for the CLI.
//! countersign_desktop::run();
//! ```

mod commands;
pub mod frame_socket;
pub mod logfile;
mod pacs;
pub mod screen_lock;

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use countersign_app::{AppError, FrameCache, Home, PassphraseSource, WireError};

/// How long the key stays unlocked with nothing done, unless `COUNTERSIGN_IDLE_LOCK_SECS` says.
pub const DEFAULT_IDLE_LOCK: Duration = Duration::from_secs(10 * 60);

/// The variable that turns WebKitGTK's accelerated compositing off.
pub const COMPOSITING_VAR: &str = "WEBKIT_DISABLE_COMPOSITING_MODE";

/// What the app sets [`COMPOSITING_VAR`] to as it starts, given the value the environment
/// already has: nothing when the user set it (to anything: `0` keeps WebKit's own choice), else
/// `1`. With accelerated compositing and no GPU (a VM, a remote desktop, Xvfb) WebKitGTK pays
/// ~30 ms for every frame that shows something new, and the viewer scrolls at half the
/// display's rate (`make bench-app`: 33 against 61 slices/s); WebGL still runs without it.
pub fn compositing_default(existing: Option<&std::ffi::OsStr>) -> Option<&'static str> {
    match existing {
        Some(_) => None,
        None => Some("1"),
    }
}

/// Applies [`compositing_default`] to this process's environment (Linux only, where WebKitGTK
/// is the webview). Call before WebKit starts and before any other thread does.
pub fn choose_webkit_compositing() {
    #[cfg(target_os = "linux")]
    if let Some(value) = compositing_default(std::env::var_os(COMPOSITING_VAR).as_deref()) {
        std::env::set_var(COMPOSITING_VAR, value);
    }
}

/// A frame packet kept aside: (image SHA-256, frame) and the packet.
type KeptPacket = ((String, u32), std::sync::Arc<[u8]>);

/// The home this window works on. Opened once at start; a home that cannot be opened (a damaged
/// or newer ledger) is reported by every command instead of taking the app down.
///
/// The key starts locked: the `unlock` command opens it with the passphrase. It is locked again
/// (wiped from memory) after `idle` without the user doing anything; signing while locked is
/// refused with `locked`, and the UI asks for the passphrase.
#[derive(Debug)]
pub struct Desk {
    dir: PathBuf,
    home: Mutex<Result<Home, WireError>>,
    /// Whether `home` holds the outcome of opening the home yet: the window opens it off its
    /// own way (see [`Desk::opening`]), and until then every command answers `home_opening`
    /// and no other handle is opened (it would wait on the upgrade's lock).
    opened: std::sync::atomic::AtomicBool,
    /// The background sync node, started once the home has an identity and its key is unlocked;
    /// stopped when the key locks (see `lock_if_idle`).
    sync: Mutex<Option<countersign_app::sync::Service>>,
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
    readers: [Mutex<Option<Home>>; READERS],
    /// The home's data keys while its key is unlocked (see `countersign_app::DataKeys`): the
    /// readers read sealed reports with them, and drop them when the key locks.
    keys: Mutex<Option<countersign_app::DataKeys>>,
    /// Frames decoded once, kept within a byte budget ([`countersign_app::frame_cache_budget`]).
    frames: FrameCache,
    /// A handle of its own for the erasure count every frame request reads (an indexed count):
    /// a frame served from the cache never waits behind a decode holding both `readers`.
    counter: Mutex<Option<Home>>,
    /// How many reports the home had erased when the frame cache was last checked: an erasure
    /// a peer's sync brought in empties the cache too (its images' pixels must not be served
    /// from memory once their files are gone).
    erasures_seen: std::sync::atomic::AtomicU64,
    /// The packet last served, whatever its size: the parts of a frame larger than the cache's
    /// whole budget (which it never keeps) are cut from it, not decoded again per part. One
    /// frame, emptied with the cache.
    last: Mutex<Option<KeptPacket>>,
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
            last: Mutex::new(None),
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
    fn open_another(&self) -> Result<Home, AppError> {
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
    fn read<T>(&self, f: impl FnOnce(&Home) -> Result<T, AppError>) -> Result<T, WireError> {
        self.read_home(f).map_err(|e| {
            tracing::info!(code = e.code(), error = %e.loggable(), "read failed");
            e.to_wire()
        })
    }

    /// Frame `frame` of image `sha256` as a packet: from the frame cache, else decoded on a
    /// reader handle and kept.
    pub fn frame(&self, sha256: &str, frame: u32) -> Result<std::sync::Arc<[u8]>, WireError> {
        use std::sync::atomic::Ordering;
        // One indexed count per frame, against a decode of tens of milliseconds; on its own
        // handle, so that a cached frame (or a part of one) is not held up by the decodes of the
        // slices fetched ahead.
        let erased = {
            let mut guard = self.counter.lock().unwrap_or_else(|p| p.into_inner());
            let count = match &mut *guard {
                Some(home) => home.erased_reports(),
                slot @ None => self
                    .open_another()
                    .and_then(|h| slot.insert(h).erased_reports()),
            };
            count.map_err(|e| {
                tracing::info!(code = e.code(), error = %e.loggable(), "read failed");
                e.to_wire()
            })?
        };
        if self.erasures_seen.swap(erased, Ordering::AcqRel) != erased {
            self.forget_frames();
        }
        let key = (sha256.to_string(), frame);
        let last = |slot: &mut Option<KeptPacket>| {
            slot.as_ref()
                .filter(|(k, _)| *k == key)
                .map(|(_, p)| p.clone())
        };
        if let Some(packet) = last(&mut self.last.lock().unwrap_or_else(|p| p.into_inner())) {
            return Ok(packet);
        }
        let packet = self
            .frames
            .get_or_insert_with(sha256, frame, || {
                let started = Instant::now();
                let packet = self.read_home(|h| h.frame_packet(sha256, frame))?;
                // For the bench's profile (`make bench-app` reads it at debug level): how long
                // a decode took and how big its packet is; no image or patient named.
                tracing::debug!(
                    decode_ms = started.elapsed().as_secs_f64() * 1e3,
                    bytes = packet.len(),
                    "frame decoded"
                );
                Ok(packet)
            })
            .map_err(|e| {
                tracing::info!(code = e.code(), error = %e.loggable(), "frame failed");
                e.to_wire()
            })?;
        // Kept aside only when the cache will not keep it (larger than its whole budget).
        if packet.len() > self.frames.stats().budget {
            *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Some((key, packet.clone()));
        }
        Ok(packet)
    }

    /// Empties the frame cache (after an erasure: the erased images' pixels go with it).
    pub fn forget_frames(&self) {
        self.frames.clear();
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// What the frame cache holds now.
    pub fn frame_cache(&self) -> countersign_app::FrameCacheStats {
        self.frames.stats()
    }

    /// Keeps what the window's drop event names, for `import_dropped` (the webview is told only
    /// that something was dropped, and how much).
    pub fn set_dropped(&self, mut paths: Vec<PathBuf>) -> usize {
        paths.truncate(MAX_DROPPED);
        let n = paths.len();
        *self.dropped.lock().unwrap_or_else(|p| p.into_inner()) = paths;
        n
    }

    /// What was dropped and not yet imported (taken: imported once).
    pub fn take_dropped(&self) -> Vec<PathBuf> {
        std::mem::take(&mut *self.dropped.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Locks the key if nothing was done for the idle time (called by a timer and before every
    /// command).
    ///
    /// Whenever the key is locked, however it was (idle, the Lock button, the screen), the
    /// background sync node is stopped too: its peer identity is the key, so while it ran the
    /// key stayed in memory. It starts again once the key is unlocked.
    pub fn lock_if_idle(&self) {
        let locked = {
            let mut guard = self.home.lock().unwrap_or_else(|p| p.into_inner());
            match guard.as_mut() {
                Ok(home) => {
                    self.lock_idle(home);
                    self.share_keys(home);
                    !home.is_unlocked()
                }
                Err(_) => false,
            }
        };
        if locked {
            self.stop_sync();
        }
    }

    /// Stops the background sync node, if it runs (called with the home's lock not held: the
    /// node's start takes the sync lock, then the home's).
    fn stop_sync(&self) {
        let service = self.sync.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(service) = service {
            service.stop();
            tracing::info!("sync node stopped: the key is locked");
        }
    }

    /// Locks the key now, whatever the idle time (the screen locked, the machine is going to
    /// sleep); whether it was unlocked.
    pub fn lock_now(&self, why: &str) -> bool {
        let locked = {
            let mut guard = self.home.lock().unwrap_or_else(|p| p.into_inner());
            match guard.as_mut() {
                Ok(home) if home.is_unlocked() => {
                    home.lock();
                    self.share_keys(home);
                    tracing::info!(why, "key locked");
                    true
                }
                _ => false,
            }
        };
        self.stop_sync();
        locked
    }

    fn lock_idle(&self, home: &mut Home) {
        let last = *self.last_used.lock().unwrap_or_else(|p| p.into_inner());
        if home.is_unlocked() && last.elapsed() >= self.idle {
            home.lock();
            tracing::info!(
                idle_secs = self.idle.as_secs(),
                "key locked after idle time"
            );
        }
    }

    /// The background sync node's status, starting it on first call once the home has an
    /// identity: listening on all interfaces (TCP and QUIC), finding peers with mDNS, and
    /// dialling the peers in `COUNTERSIGN_PEERS` (comma-separated multiaddrs).
    fn sync_handle(&self) -> Result<countersign_app::sync::ServiceHandle, WireError> {
        let mut guard = self.sync.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            let peers: Vec<String> = std::env::var("COUNTERSIGN_PEERS")
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(String::from)
                .collect();
            let listen = [
                "/ip4/0.0.0.0/tcp/0".to_string(),
                "/ip4/0.0.0.0/udp/0/quic-v1".to_string(),
            ];
            let mdns = std::env::var_os("COUNTERSIGN_NO_MDNS").is_none();
            // The node's identity is the member key: it runs on a handle holding the key
            // unlocked now, and keeps it (it signs checkpoints) until the app closes.
            let home = self.with(|h| h.open_again())?;
            let service = countersign_app::sync::Service::start(home, &listen, &peers, mdns)
                .map_err(|e| e.to_wire())?;
            *guard = Some(service);
        }
        match guard.as_ref() {
            Some(s) => Ok(s.handle()),
            None => Err(AppError::Sync("not started".into()).to_wire()),
        }
    }

    /// Runs a use case on the home, with its error in wire form. Not activity for the idle
    /// lock by itself: reads also come from the UI's own reloads (a sync's arrival, a poll).
    fn with<T>(&self, f: impl FnOnce(&mut Home) -> Result<T, AppError>) -> Result<T, WireError> {
        self.run(false, f)
    }

    /// As [`Desk::with`], for what only the user does (signing, typing, importing, unlocking):
    /// activity, like the input the UI reports with the `activity` command.
    fn act<T>(&self, f: impl FnOnce(&mut Home) -> Result<T, AppError>) -> Result<T, WireError> {
        self.run(true, f)
    }

    /// The user's input the window reports, which happened `ago` before now (it tells input
    /// at most every 5 s, the last of a burst when they end: `ui/src/lib/activity.ts`):
    /// activity for the idle lock from when it happened, so the lock comes the idle time after
    /// the user's last input, neither sooner nor later.
    pub fn input(&self, ago: Duration) -> Result<(), WireError> {
        // The idle check every command makes, first.
        self.with(|_| Ok(()))?;
        let mut last = self.last_used.lock().unwrap_or_else(|p| p.into_inner());
        *last = latest_input(*last, Instant::now(), ago);
        Ok(())
    }

    fn run<T>(
        &self,
        active: bool,
        f: impl FnOnce(&mut Home) -> Result<T, AppError>,
    ) -> Result<T, WireError> {
        // A use case that panicked left the home as SQLite left it (committed or not): usable.
        let mut guard = self
            .home
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let home = guard.as_mut().map_err(|e| e.clone())?;
        self.lock_idle(home);
        let touch = || {
            if active {
                *self.last_used.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
            }
        };
        touch();
        let result = f(home);
        self.share_keys(home);
        // A long command (an import) ends as activity too: idle time counts from its end.
        touch();
        result.map_err(|e| {
            // What the UI shows is the message; the log gets its PHI-free form.
            tracing::info!(code = e.code(), error = %e.loggable(), "command failed");
            e.to_wire()
        })
    }
}

/// The most a window's report of input may say it is late ([`Desk::input`]): it tells input
/// within 5 s; a larger claim counts as this.
pub const MAX_INPUT_AGO: Duration = Duration::from_secs(10);

/// When the user last did something, given the last activity known (`last`) and input reported
/// at `now` as having happened `ago` before (at most [`MAX_INPUT_AGO`]): the later of the two —
/// a late report never moves the last activity back.
pub fn latest_input(last: Instant, now: Instant, ago: Duration) -> Instant {
    now.checked_sub(ago.min(MAX_INPUT_AGO))
        .map_or(last, |at| at.max(last))
}

/// The home: `$COUNTERSIGN_HOME` when set, else the app data directory (shared with the CLI).
pub fn home_dir() -> PathBuf {
    std::env::var_os("COUNTERSIGN_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(countersign_app::default_home)
}

/// The idle time before the key locks: `COUNTERSIGN_IDLE_LOCK_SECS`, else ten minutes.
pub fn idle_lock() -> Duration {
    std::env::var("COUNTERSIGN_IDLE_LOCK_SECS")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .filter(|s| *s > 0)
        .map_or(DEFAULT_IDLE_LOCK, Duration::from_secs)
}

/// The frame socket, once `run` has started it (never in the tests on the mock runtime, where the
/// viewer's frames come through the `frame` command).
#[derive(Debug, Default)]
pub struct FrameSockets(std::sync::OnceLock<frame_socket::FrameSocket>);

impl FrameSockets {
    /// The socket's address with its token, if it is listening.
    pub fn url(&self) -> Option<String> {
        self.0.get().map(frame_socket::FrameSocket::url)
    }
}

/// Adds the home and the commands to a builder; `run` and the tests (on the mock runtime) share it.
pub fn with_commands<R: tauri::Runtime>(base: tauri::Builder<R>, desk: Desk) -> tauri::Builder<R> {
    base.manage(desk)
        .manage(pacs::Archives::default())
        .manage(FrameSockets::default())
        .invoke_handler(commands::handler())
}

/// Opens the window and runs until it closes.
pub fn run() {
    let home = home_dir();
    // Before the home is opened, so its opening (migrations, a refused ledger) is logged.
    let log = logfile::init(&home);
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        log = ?log,
        // Whether WebKit composites on its accelerated path (see `compositing_default`).
        webkit_disable_compositing = ?std::env::var_os(COMPOSITING_VAR),
        "countersign-desktop started"
    );
    // A panic's location in the log (not its message, which could quote data); the default
    // hook still prints it in full to stderr.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let at = info
            .location()
            .map_or_else(String::new, |l| format!("{}:{}", l.file(), l.line()));
        tracing::error!(at = %at, "panic");
        default_hook(info);
    }));
    let desk = Desk::opening(home);
    // The frame socket is bound before the window is made, so that the page's CSP names its
    // port and no other loopback port (`frame_socket::pin_csp`).
    let frames = frame_socket::FrameSocket::bind()
        .map_err(|e| tracing::warn!(error = %e, "frame socket not bound"))
        .ok();
    let mut context = tauri::generate_context!();
    let security = &mut context.config_mut().app.security;
    if let Some(csp) = security.csp.take() {
        let origin = frames.as_ref().map(frame_socket::FrameSocket::origin);
        security.csp = Some(tauri::utils::config::Csp::Policy(frame_socket::pin_csp(
            &csp.to_string(),
            origin.as_deref(),
        )));
    }
    let base = tauri::Builder::default()
        .plugin(tauri_plugin_dialog::init())
        .setup(|app| {
            use tauri::Manager;
            // The idle lock also when the window is left alone: the key is wiped on time, not
            // at the next command.
            let handle = app.handle().clone();
            std::thread::spawn(move || {
                // The home opened here, off the window's way (see `Desk::opening`); the page
                // is told, and asks again for what it could not have before.
                handle.state::<Desk>().finish_opening();
                let _ = tauri::Emitter::emit(&handle, "home-opened", ());
                handle.state::<Desk>().open_readers();
                loop {
                    std::thread::sleep(Duration::from_secs(1));
                    handle.state::<Desk>().lock_if_idle();
                }
            });
            // Frames to the window over a WebSocket on loopback (see `frame_socket`); if it
            // cannot serve, the viewer asks the `frame` command, as before.
            if let Some(socket) = frames {
                let handle = app.handle().clone();
                match socket.serve(move |sha256: &str, frame: u32| {
                    handle.state::<Desk>().frame(sha256, frame)
                }) {
                    Ok(()) => {
                        let _ = app.state::<FrameSockets>().0.set(socket);
                    }
                    Err(e) => tracing::warn!(error = %e, "frame socket not started"),
                }
            }
            // And when the screen locks: the UI is told, and shows the unlock screen.
            let handle = app.handle().clone();
            screen_lock::watch(move |why| {
                use tauri::Emitter;
                if handle.state::<Desk>().lock_now(why) {
                    let _ = handle.emit("key-locked", why);
                }
            });
            Ok(())
        })
        // Files and folders dropped on the window: their paths are kept here, from the
        // window's event, and the webview is only told to ask for their import.
        .on_window_event(|window, event| {
            use tauri::{Emitter, Manager};
            if let tauri::WindowEvent::DragDrop(tauri::DragDropEvent::Drop { paths, .. }) = event {
                let n = window.state::<Desk>().set_dropped(paths.clone());
                let _ = window.emit("files-dropped", n);
            }
        });
    let result = with_commands(base, desk).run(context);
    if let Err(e) = result {
        eprintln!("countersign-desktop: {e}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests;
