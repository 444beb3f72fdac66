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

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use countersign_app::WireError;
use tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tungstenite::protocol::WebSocketConfig;
use tungstenite::{Bytes, Message};

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

/// This run's token, as it appears in the path (64 hex digits); held only in memory, wiped when
/// dropped.
struct Token(String);

impl Drop for Token {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.0.zeroize();
    }
}

impl Token {
    fn new() -> Self {
        use rand_core::{OsRng, RngCore};
        let mut bytes = [0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        let mut hex = String::with_capacity(64);
        for b in &bytes {
            use std::fmt::Write;
            let _ = write!(hex, "{b:02x}");
        }
        zeroize::Zeroize::zeroize(&mut bytes);
        Token(hex)
    }

    /// Whether `path` is `/frames/<this token>`, compared in constant time.
    fn admits(&self, path: &str) -> bool {
        let Some(given) = path.strip_prefix("/frames/") else {
            return false;
        };
        let (a, b) = (given.as_bytes(), self.0.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
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

/// One of the [`MAX_CONNECTIONS`], given back when dropped.
struct Slot(Arc<AtomicUsize>);

impl Slot {
    fn take(live: &Arc<AtomicUsize>) -> Option<Slot> {
        if live.fetch_add(1, Ordering::AcqRel) >= MAX_CONNECTIONS {
            live.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(Slot(live.clone()))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A stream whose reads fail once `until` has passed: the handshake's whole time, where a
/// socket's read timeout is per read (a client sending a byte every few seconds would keep a
/// slot for as long as it liked).
struct Deadline {
    stream: TcpStream,
    until: Option<Instant>,
}

impl Read for Deadline {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(until) = self.until {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::ErrorKind::TimedOut.into());
            }
            self.stream.set_read_timeout(Some(left))?;
        }
        self.stream.read(buf)
    }
}

impl Write for Deadline {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stream.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

/// A request: which frame of which image; with `fit` (a viewport's width and height), a first
/// look, as the `frame_preview` command gives it — reduced when the frame is larger than the
/// viewport and than one part — except that a frame not reduced comes whole, not its part 0.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Ask {
    sha256: String,
    frame: u32,
    #[serde(default)]
    fit: Option<(u32, u32)>,
}

/// The answer to `ask`: the frame's packet (tungstenite copies it into its write buffer, which
/// each connection keeps: at most one frame's worth, overwritten by the next), or its preview.
fn answer(ask: &Ask, serve: &dyn Serve) -> Result<Bytes, WireError> {
    let packet = serve(&ask.sha256, ask.frame)?;
    if let Some(fit) = ask.fit {
        if let Some(reduced) =
            countersign_app::preview_packet(&packet, fit).map_err(|e| e.to_wire())?
        {
            return Ok(Bytes::from(reduced));
        }
    }
    Ok(Bytes::from_owner(packet))
}

/// Serves one connection until it closes or breaks the protocol.
fn connection(stream: TcpStream, token: &Token, serve: &dyn Serve) {
    let _ = stream.set_nodelay(true);
    if stream.set_write_timeout(Some(WRITE_TIMEOUT)).is_err() {
        return;
    }
    let stream = Deadline {
        stream,
        until: Some(Instant::now() + HANDSHAKE_TIMEOUT),
    };
    // The shape tungstenite's handshake callback must have.
    #[allow(clippy::result_large_err)]
    let check = |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
        let origin = req.headers().get("origin").and_then(|o| o.to_str().ok());
        if token.admits(req.uri().path()) && origin.is_some_and(|o| ORIGINS.contains(&o)) {
            Ok(resp)
        } else {
            let mut refused = ErrorResponse::new(Some("not this window's".into()));
            *refused.status_mut() = tungstenite::http::StatusCode::FORBIDDEN;
            Err(refused)
        }
    };
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_REQUEST_BYTES))
        .max_frame_size(Some(MAX_REQUEST_BYTES));
    let Ok(mut ws) = tungstenite::accept_hdr_with_config(stream, check, Some(config)) else {
        tracing::info!("frame socket: handshake refused");
        return;
    };
    ws.get_mut().until = None;
    if ws.get_ref().stream.set_read_timeout(None).is_err() {
        return;
    }
    loop {
        let answer = match ws.read() {
            Ok(Message::Text(text)) => match serde_json::from_str::<Ask>(&text) {
                Ok(ask) => match answer(&ask, serve) {
                    Ok(bytes) => Message::Binary(bytes),
                    Err(e) => refusal(&e),
                },
                Err(_) => refusal(&WireError {
                    code: "invalid_input",
                    rule: None,
                    message: "a frame request is {\"sha256\": \"…\", \"frame\": N}".into(),
                }),
            },
            Ok(Message::Ping(_) | Message::Pong(_)) => continue,
            // Binary requests, a close, a frame over the size limit, a broken connection.
            Ok(_) | Err(_) => break,
        };
        if ws.send(answer).is_err() {
            break;
        }
    }
    let _ = ws.close(None);
    let _ = ws.flush();
}

fn refusal(e: &WireError) -> Message {
    Message::text(serde_json::to_string(e).unwrap_or_else(|_| "{\"code\":\"io\"}".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tungstenite::client::IntoClientRequest;

    fn socket() -> FrameSocket {
        FrameSocket::start(|sha: &str, frame: u32| {
            if sha == "missing" {
                return Err(WireError {
                    code: "not_found",
                    rule: None,
                    message: "no such image".into(),
                });
            }
            let mut packet = format!("{sha}:{frame}:").into_bytes();
            packet.resize(600_000, 7);
            Ok(Arc::from(packet))
        })
        .unwrap()
    }

    fn dial(
        url: &str,
        origin: Option<&str>,
    ) -> Result<tungstenite::WebSocket<TcpStream>, tungstenite::Error> {
        let mut req = url.into_client_request().unwrap();
        if let Some(o) = origin {
            req.headers_mut().insert("origin", o.parse().unwrap());
        }
        let host = req.uri().authority().unwrap().as_str().to_string();
        let stream = TcpStream::connect(host).unwrap();
        tungstenite::client(req, stream)
            .map(|(ws, _)| ws)
            .map_err(|e| match e {
                tungstenite::HandshakeError::Failure(e) => e,
                tungstenite::HandshakeError::Interrupted(_) => unreachable!("blocking"),
            })
    }

    fn status(e: tungstenite::Error) -> u16 {
        match e {
            tungstenite::Error::Http(r) => r.status().as_u16(),
            other => panic!("not an HTTP refusal: {other}"),
        }
    }

    #[test]
    fn the_window_gets_each_frame_it_asks_for_in_order() {
        let s = socket();
        let mut ws = dial(&s.url(), Some("tauri://localhost")).unwrap();
        // Two asked before either is read: answered in the order asked.
        ws.send(Message::text(r#"{"sha256":"aa","frame":0}"#))
            .unwrap();
        ws.send(Message::text(r#"{"sha256":"bb","frame":3}"#))
            .unwrap();
        for want in ["aa:0:", "bb:3:"] {
            match ws.read().unwrap() {
                Message::Binary(b) => {
                    assert_eq!(b.len(), 600_000);
                    assert!(b.starts_with(want.as_bytes()));
                }
                other => panic!("{other:?}"),
            }
        }
        ws.send(Message::text(r#"{"sha256":"missing","frame":0}"#))
            .unwrap();
        let Message::Text(t) = ws.read().unwrap() else {
            panic!("an error is text")
        };
        let v: serde_json::Value = serde_json::from_str(&t).unwrap();
        assert_eq!(v["code"], "not_found");
        ws.send(Message::text(r#"{"sha256":"aa"}"#)).unwrap();
        let Message::Text(t) = ws.read().unwrap() else {
            panic!("an error is text")
        };
        assert!(t.contains("invalid_input"), "{t}");
    }

    #[test]
    fn a_handshake_without_this_runs_token_or_from_another_origin_is_refused() {
        let s = socket();
        let url = s.url();
        let (base, token) = url.rsplit_once('/').unwrap();
        let mut other = token.to_string().into_bytes();
        other[0] = if other[0] == b'0' { b'1' } else { b'0' };
        let wrong = format!("{base}/{}", String::from_utf8(other).unwrap());
        assert_eq!(
            status(dial(&wrong, Some("tauri://localhost")).unwrap_err()),
            403
        );
        assert_eq!(
            status(dial(&format!("{base}/"), Some("tauri://localhost")).unwrap_err()),
            403
        );
        let port = url.split(':').nth(2).unwrap().split('/').next().unwrap();
        let elsewhere = format!("ws://127.0.0.1:{port}/{token}");
        assert_eq!(
            status(dial(&elsewhere, Some("tauri://localhost")).unwrap_err()),
            403
        );
        assert_eq!(
            status(dial(&url, Some("http://evil.example")).unwrap_err()),
            403
        );
        assert_eq!(status(dial(&url, None).unwrap_err()), 403);
        assert!(dial(&url, Some("http://tauri.localhost")).is_ok());
    }

    #[test]
    fn an_oversized_or_binary_request_closes_the_connection() {
        let s = socket();
        let mut ws = dial(&s.url(), Some("tauri://localhost")).unwrap();
        let long = format!(
            r#"{{"sha256":"{}","frame":0}}"#,
            "a".repeat(MAX_REQUEST_BYTES)
        );
        let _ = ws.send(Message::text(long));
        assert!(
            !matches!(ws.read(), Ok(Message::Binary(_))),
            "no frame for an oversized request"
        );
        let mut ws = dial(&s.url(), Some("tauri://localhost")).unwrap();
        ws.send(Message::binary(vec![1u8, 2, 3])).unwrap();
        assert!(!matches!(
            ws.read(),
            Ok(Message::Binary(_) | Message::Text(_))
        ));
    }

    #[test]
    fn connections_past_the_limit_are_closed_and_a_freed_slot_is_used_again() {
        let s = socket();
        let mut held: Vec<_> = (0..MAX_CONNECTIONS)
            .map(|_| dial(&s.url(), Some("tauri://localhost")).unwrap())
            .collect();
        // Each of these is being served (its handshake answered), so all slots are taken.
        for ws in &mut held {
            ws.send(Message::text(r#"{"sha256":"aa","frame":0}"#))
                .unwrap();
            assert!(matches!(ws.read().unwrap(), Message::Binary(_)));
        }
        assert!(dial(&s.url(), Some("tauri://localhost")).is_err());
        let mut one = held.pop().unwrap();
        one.close(None).unwrap();
        // The server's side of the close: read until the connection ends.
        while one.read().is_ok() {}
        drop(one);
        // The slot comes back once the server's thread has let go of that connection, which
        // it does on its own time: dialled again until then (a refused dial is closed at once).
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let mut again = None;
        while again.is_none() && std::time::Instant::now() < deadline {
            again = dial(&s.url(), Some("tauri://localhost")).ok();
        }
        let mut ws = again.expect("a freed slot is served again");
        ws.send(Message::text(r#"{"sha256":"cc","frame":1}"#))
            .unwrap();
        assert!(matches!(ws.read().unwrap(), Message::Binary(_)));
    }

    /// A frame packet as the app builds them (u32 LE header length, JSON header, pixels).
    fn packet(width: u32, height: u32) -> Arc<[u8]> {
        let json = format!(r#"{{"width":{width},"height":{height},"format":"u16"}}"#);
        let mut p = (json.len() as u32).to_le_bytes().to_vec();
        p.extend_from_slice(json.as_bytes());
        p.resize(p.len() + (width * height * 2) as usize, 9);
        Arc::from(p)
    }

    fn header(bytes: &[u8]) -> serde_json::Value {
        let n = u32::from_le_bytes(bytes[..4].try_into().unwrap()) as usize;
        serde_json::from_slice(&bytes[4..4 + n]).unwrap()
    }

    #[test]
    fn a_first_look_is_reduced_as_frame_preview_would_and_a_small_frame_comes_whole() {
        let s = FrameSocket::start(|sha: &str, _frame: u32| {
            Ok(if sha == "big" {
                packet(1200, 1000)
            } else {
                packet(100, 100)
            })
        })
        .unwrap();
        let mut ws = dial(&s.url(), Some("tauri://localhost")).unwrap();
        let mut ask = |req: &str| match ws.send(Message::text(req)).and_then(|_| ws.read()) {
            Ok(Message::Binary(b)) => b,
            other => panic!("{other:?}"),
        };
        let look = ask(r#"{"sha256":"big","frame":0,"fit":[100,100]}"#);
        let h = header(&look);
        assert!(h["reduced"].as_u64().unwrap() >= 2, "{h}");
        assert!(look.len() < 1 << 20);
        assert_eq!(
            ask(r#"{"sha256":"big","frame":0}"#).len(),
            packet(1200, 1000).len()
        );
        // Not reduced: the whole packet (the command would give its part 0, all of it here).
        let small = ask(r#"{"sha256":"small","frame":0,"fit":[50,50]}"#);
        assert_eq!(&small[..], &packet(100, 100)[..]);
        assert!(header(&small).get("reduced").is_none());
    }

    #[test]
    fn the_csp_names_the_sockets_own_port_or_no_loopback_socket_at_all() {
        let policy = "default-src 'self'; connect-src ipc: http://ipc.localhost ws://127.0.0.1:*";
        assert_eq!(
            pin_csp(policy, Some("ws://127.0.0.1:4242")),
            "default-src 'self'; connect-src ipc: http://ipc.localhost ws://127.0.0.1:4242"
        );
        assert_eq!(
            pin_csp(policy, None),
            "default-src 'self'; connect-src ipc: http://ipc.localhost"
        );
    }

    #[test]
    fn a_handshake_trickled_a_byte_at_a_time_is_dropped_at_its_deadline() {
        let s = socket();
        let port = s.origin().rsplit(':').next().unwrap().to_string();
        let mut slow = TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
        slow.set_read_timeout(Some(Duration::from_millis(400)))
            .unwrap();
        let started = Instant::now();
        let request = b"GET /frames/x HTTP/1.1\r\nHost: 127.0.0.1\r\n";
        let mut closed = false;
        // One byte, then up to 400 ms waiting for the server to hang up: each read alone is
        // well inside the 5 s, so only a deadline for the whole handshake stops it.
        for b in request.iter().cycle().take(60) {
            if slow.write_all(&[*b]).is_err() {
                closed = true;
                break;
            }
            let mut buf = [0u8; 64];
            match slow.read(&mut buf) {
                Ok(0) => {
                    closed = true;
                    break;
                }
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock
                        || e.kind() == io::ErrorKind::TimedOut => {}
                _ => {
                    closed = true;
                    break;
                }
            }
        }
        let took = started.elapsed();
        assert!(closed, "still open after {took:?}");
        assert!(
            took >= HANDSHAKE_TIMEOUT - Duration::from_millis(500),
            "{took:?}"
        );
        assert!(
            took < HANDSHAKE_TIMEOUT + Duration::from_secs(3),
            "{took:?}"
        );
    }

    #[test]
    fn a_connection_whose_serving_panics_gives_its_slot_back() {
        let s = FrameSocket::start(|sha: &str, _frame: u32| -> Result<Arc<[u8]>, WireError> {
            assert_ne!(sha, "boom", "a bug while serving");
            Ok(packet(10, 10))
        })
        .unwrap();
        for _ in 0..MAX_CONNECTIONS + 2 {
            let mut ws = dial(&s.url(), Some("tauri://localhost")).unwrap();
            ws.send(Message::text(r#"{"sha256":"boom","frame":0}"#))
                .unwrap();
            // The panic ends the connection: read until it does.
            while ws.read().is_ok() {}
        }
        // More panics than slots, and every slot came back: the last dial above was served.
        let mut ws = (0..100)
            .find_map(|_| dial(&s.url(), Some("tauri://localhost")).ok())
            .expect("a slot is free");
        ws.send(Message::text(r#"{"sha256":"fine","frame":0}"#))
            .unwrap();
        assert!(matches!(ws.read().unwrap(), Message::Binary(_)));
    }

    #[test]
    fn debug_does_not_show_the_token() {
        let s = socket();
        let token = s.url().rsplit_once('/').unwrap().1.to_string();
        assert!(!format!("{s:?}").contains(&token));
    }
}
