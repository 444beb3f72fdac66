//! The frame socket: image frames to the window over a WebSocket on loopback, beside the
//! `frame` command.
//!
//! Why: WebKitGTK hands a custom-scheme answer (every Tauri command's) to the web process in
//! small pieces, each through its own shared-memory segment, so a 512 KiB frame costs about
//! 4 ms of the app's CPU and 3.5 ms of the web process's — at 60 slices a second, a quarter
//! of a core in each, and the page drops frames. A WebSocket message arrives in one piece:
//! about 1 ms of the web process's CPU and almost none of the app's (`make bench-app` prints
//! both transports). The packets are the `frame` command's, from the same
//! [`Desk::frame`](crate::Desk::frame); the command stays, for the first look at a frame and as
//! the fallback when the socket cannot be used.
//!
//! Who may connect: the socket listens on 127.0.0.1 only, and the handshake must name this
//! run's token in its path — 32 random bytes, made at start, told only to the window (the
//! `frame_socket` command) and never logged — and come from the window's own origin. Anything
//! else is refused before the upgrade. At most [`MAX_CONNECTIONS`] at once (a local process
//! filling them only sends the window back to the command); a request is at most
//! [`MAX_REQUEST_BYTES`]; a handshake not finished in [`HANDSHAKE_TIMEOUT`] is dropped.
//!
//! The protocol: the window sends `{"sha256": "…", "frame": N}` as text (with `"fit": [W, H]`
//! for a first look, see [`Ask`]); the answer is the frame's packet as one binary message, or
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
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

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
/// The origins the window's page has (Tauri's custom protocol on Linux and macOS, and on
/// Windows/Android).
const ORIGINS: &[&str] = &["tauri://localhost", "http://tauri.localhost"];

/// What answers a request: the frame's packet, or why not.
pub trait Serve: Fn(&str, u32) -> Result<Arc<[u8]>, WireError> + Send + Sync + 'static {}
impl<F: Fn(&str, u32) -> Result<Arc<[u8]>, WireError> + Send + Sync + 'static> Serve for F {}

/// The listening socket; its accepting thread runs for the life of the process.
pub struct FrameSocket {
    port: u16,
    token: Arc<Token>,
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
    /// Listens on a free loopback port and serves each request with `serve`.
    pub fn start(serve: impl Serve) -> io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let port = listener.local_addr()?.port();
        let token = Arc::new(Token::new());
        let serve: Arc<dyn Serve> = Arc::new(serve);
        let live = Arc::new(AtomicUsize::new(0));
        let accepting = token.clone();
        std::thread::Builder::new()
            .name("frame-socket".into())
            .spawn(move || {
                for stream in listener.incoming() {
                    let Ok(stream) = stream else { continue };
                    // Over the limit: closed at once (the window falls back to the command).
                    if live.fetch_add(1, Ordering::AcqRel) >= MAX_CONNECTIONS {
                        live.fetch_sub(1, Ordering::AcqRel);
                        tracing::info!("frame socket: connection refused, all in use");
                        continue;
                    }
                    let (serve, token, live) = (serve.clone(), accepting.clone(), live.clone());
                    let spawned = std::thread::Builder::new()
                        .name("frame-socket-conn".into())
                        .spawn(move || {
                            connection(stream, &token, &*serve);
                            live.fetch_sub(1, Ordering::AcqRel);
                        });
                    if spawned.is_err() {
                        tracing::warn!("frame socket: no thread for a connection");
                    }
                }
            })?;
        Ok(FrameSocket { port, token })
    }

    /// Where the window connects: `ws://127.0.0.1:PORT/frames/TOKEN`. A secret: never log it.
    pub fn url(&self) -> String {
        format!("ws://127.0.0.1:{}/frames/{}", self.port, self.token.0)
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

/// The answer to `ask`: the frame's packet (shared with the cache, not copied), or its preview.
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
    if stream.set_read_timeout(Some(HANDSHAKE_TIMEOUT)).is_err()
        || stream.set_write_timeout(Some(WRITE_TIMEOUT)).is_err()
    {
        return;
    }
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
    if ws.get_ref().set_read_timeout(None).is_err() {
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
    fn debug_does_not_show_the_token() {
        let s = socket();
        let token = s.url().rsplit_once('/').unwrap().1.to_string();
        assert!(!format!("{s:?}").contains(&token));
    }
}
