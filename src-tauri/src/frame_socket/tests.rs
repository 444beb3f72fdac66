//! The frame socket over real loopback connections: frames in order, refused handshakes, the
//! limits, first looks, the CSP.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Instant;

use tungstenite::client::IntoClientRequest;
use tungstenite::Message;

use super::*;

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
                if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::TimedOut => {
            }
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
