//! The frame socket: image frames to the window over a WebSocket on loopback, beside the
//! `frame` command.
//!
//! Why: WebKitGTK hands a custom-scheme answer (every Tauri command's) to the web process in
//! small pieces, each through its own shared-memory segment, so a 512 KiB frame costs about
//! 4 ms of the app's CPU and 3.5 ms of the web process's — at 60 slices a second, a quarter
//! of a core in each, and the page drops frames. A WebSocket message arrives in one piece:
//! about 1 ms of the web process's CPU and almost none of the app's (`make bench-app` prints
//! both transports). The packets are the `frame` command's, from the same
//! [`Desk::frame`](crate::Desk::frame), and first looks as `frame_preview` reduces them; the
//! commands stay as the fallback when the socket cannot be used.
//!
//! Who may connect: the socket listens on 127.0.0.1 only, and the handshake must name this
//! run's token in its path — 32 random bytes, made at start, told only to the window (the
//! `frame_socket` command) and never logged — and come from the window's own origin. Anything
//! else is refused before the upgrade. At most [`MAX_CONNECTIONS`] at once (a local process
//! filling them only sends the window back to the command); a request is at most
//! [`MAX_REQUEST_BYTES`]; a handshake not finished in [`HANDSHAKE_TIMEOUT`] (all of it, not per
//! read) is dropped. The page's CSP is narrowed to this socket's port ([`pin_csp`]).
//!
//! The protocol: the window sends `{"sha256": "…", "frame": N}` as text (with `"fit": [W, H]`
//! for a first look, see `Ask`); the answer is the frame's packet as one binary message, or
//! `{code, message}` as text. Answers come in the
//! order asked, one connection at a time; the window opens a few to have decodes overlap.
//!
//! ```no_run
//! use std::sync::Arc;
//! let socket = countersign_desktop::frame_socket::FrameSocket::start(|_sha, _frame| {
//!     Ok(Arc::from(vec![0u8; 4]))
//! })
//! .unwrap();
//! println!("{}", socket.url().len()); // ws://127.0.0.1:PORT/frames/TOKEN (never print it)
//! ```

use std::io;
use std::net::TcpListener;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use countersign_app::WireError;

use connection::{connection, Slot};
use token::Token;

mod connection;
mod token;

/// Connections served at once: the window opens three, and a reload may open three more
/// before the old page's have closed.
pub const MAX_CONNECTIONS: usize = 8;
/// The largest request (a SHA-256 in hex and a frame number fit in 100 bytes).
pub const MAX_REQUEST_BYTES: usize = 256;
/// How long a connection may take over its handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one answer may take to be written: a window that stops reading frees the thread.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// What the app's CSP (`tauri.conf.json`) allows the page to connect to before the port is
/// known; [`pin_csp`] narrows it to the socket's own address at start.
pub const ANY_LOOPBACK_SOCKET: &str = "ws://127.0.0.1:*";
/// The origins the window's page has (Tauri's custom protocol on Linux and macOS, and on
/// Windows/Android).
const ORIGINS: &[&str] = &["tauri://localhost", "http://tauri.localhost"];

/// What answers a request: the frame's packet, or why not.
pub trait Serve: Fn(&str, u32) -> Result<Arc<[u8]>, WireError> + Send + Sync + 'static {}
impl<F: Fn(&str, u32) -> Result<Arc<[u8]>, WireError> + Send + Sync + 'static> Serve for F {}

/// The listening socket; once serving, its accepting thread runs for the life of the process.
pub struct FrameSocket {
    port: u16,
    token: Arc<Token>,
    /// Bound but not yet serving (see [`FrameSocket::bind`]).
    listener: Mutex<Option<TcpListener>>,
}

impl std::fmt::Debug for FrameSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameSocket")
            .field("port", &self.port)
            .field("token", &"[redacted]")
            .finish()
    }
}

impl FrameSocket {
    /// Binds a free loopback port without serving yet: the port is known before the window is
    /// made, so that its CSP can name it alone ([`pin_csp`]).
    pub fn bind() -> io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        Ok(FrameSocket {
            port: listener.local_addr()?.port(),
            token: Arc::new(Token::new()),
            listener: Mutex::new(Some(listener)),
        })
    }

    /// Listens on a free loopback port and serves each request with `serve`.
    pub fn start(serve: impl Serve) -> io::Result<Self> {
        let socket = Self::bind()?;
        socket.serve(serve)?;
        Ok(socket)
    }

    /// Serves each request with `serve`, on a thread of its own (once; later calls do nothing).
    pub fn serve(&self, serve: impl Serve) -> io::Result<()> {
        let Some(listener) = self
            .listener
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        else {
            return Ok(());
        };
        let serve: Arc<dyn Serve> = Arc::new(serve);
        let live = Arc::new(AtomicUsize::new(0));
        let token = self.token.clone();
        std::thread::Builder::new()
            .name("frame-socket".into())
            .spawn(move || loop {
                let stream = match listener.accept() {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // Out of file descriptors, say: the connection stays queued, so a
                        // retry at once would spin. A pause, not a wait for anything.
                        tracing::info!(error = %e, "frame socket: accept failed");
                        std::thread::sleep(Duration::from_millis(100));
                        continue;
                    }
                };
                // Over the limit: closed at once (the window falls back to the command).
                let Some(slot) = Slot::take(&live) else {
                    tracing::info!("frame socket: connection refused, all in use");
                    continue;
                };
                let (serve, token) = (serve.clone(), token.clone());
                // The slot is given back when the thread ends, however it ends (or when it
                // could not start: the closure, holding it, is dropped).
                let spawned = std::thread::Builder::new()
                    .name("frame-socket-conn".into())
                    .spawn(move || {
                        let _slot = slot;
                        connection(stream, &token, &*serve);
                    });
                if spawned.is_err() {
                    tracing::warn!("frame socket: no thread for a connection");
                }
            })?;
        Ok(())
    }

    /// The socket's own address as a CSP source: `ws://127.0.0.1:PORT`.
    pub fn origin(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port)
    }

    /// Where the window connects: `ws://127.0.0.1:PORT/frames/TOKEN`. A secret: never log it.
    pub fn url(&self) -> String {
        format!("{}/frames/{}", self.origin(), self.token.0)
    }
}

/// `policy` with [`ANY_LOOPBACK_SOCKET`] narrowed to `socket` (the frame socket's
/// [`origin`](FrameSocket::origin)), or taken out when there is none: the page may then connect
/// to no loopback port but that one (a script injected into it cannot reach other local
/// services, nor send images to a listener of another user's).
pub fn pin_csp(policy: &str, socket: Option<&str>) -> String {
    policy
        .split(';')
        .map(|directive| {
            directive
                .split_whitespace()
                .filter_map(|src| {
                    if src == ANY_LOOPBACK_SOCKET {
                        socket
                    } else {
                        Some(src)
                    }
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests;
