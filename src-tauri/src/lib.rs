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
mod desk;
pub mod frame_socket;
pub mod logfile;
mod pacs;
pub mod screen_lock;

use std::path::PathBuf;
use std::time::{Duration, Instant};

pub use desk::{Desk, MAX_DROPPED, READERS};

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
    // A panic's location in the log and on stderr, never its message, which could quote data
    // (a desktop session's stderr usually goes to the system journal).
    std::panic::set_hook(Box::new(move |info| {
        let at = info
            .location()
            .map_or_else(String::new, |l| format!("{}:{}", l.file(), l.line()));
        tracing::error!(at = %at, "panic");
        eprintln!("internal fault at {at}");
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
