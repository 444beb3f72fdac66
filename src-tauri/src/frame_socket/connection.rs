//! One connection: its slot among the [`MAX_CONNECTIONS`], the handshake (its deadline, this
//! run's token and the window's origin), then requests answered in the order asked.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use countersign_app::WireError;
use tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tungstenite::protocol::WebSocketConfig;
use tungstenite::{Bytes, Message};

use super::token::Token;
use super::{Serve, HANDSHAKE_TIMEOUT, MAX_CONNECTIONS, MAX_REQUEST_BYTES, ORIGINS, WRITE_TIMEOUT};

/// One of the [`MAX_CONNECTIONS`], given back when dropped.
pub(super) struct Slot(Arc<AtomicUsize>);

impl Slot {
    pub(super) fn take(live: &Arc<AtomicUsize>) -> Option<Slot> {
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
pub(super) fn connection(stream: TcpStream, token: &Token, serve: &dyn Serve) {
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
