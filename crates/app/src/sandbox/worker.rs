//! The worker's side: confine, say hello, then answer one line per request until end of input.
//! Tag `4` renders one frame: its answer is a line `{"pixels": n, "width", "height",
//! "channels"}` and then the n bytes of 8-bit pixels. Tags `2` (abort) and `3` (stop reading) let tests play a worker that a codec broke.

use std::io::{Read, Write};
use std::panic::AssertUnwindSafe;

use serde_json::{json, Value};

use countersign_imaging::{present, raw_frame, WindowChoice, MAX_FILE_BYTES};

/// Runs the worker; the process's exit status.
pub(super) fn serve() -> i32 {
    // Before a byte of input is read.
    let confinement = super::confine::apply();
    let mut input = std::io::stdin().lock();
    let mut out = std::io::stdout().lock();
    let hello = json!({
        "hello": super::HELLO,
        "seccomp": confinement.seccomp,
        "landlock": confinement.landlock,
        "rlimits": confinement.rlimits,
    });
    // On a line of its own: a test harness may have left its line unfinished.
    if writeln!(out, "\n{hello}")
        .and_then(|()| out.flush())
        .is_err()
    {
        return 2;
    }
    loop {
        let mut tag = [0u8; 1];
        if input.read_exact(&mut tag).is_err() {
            // End of input: the parent is done with this worker.
            return 0;
        }
        let answer = match tag[0] {
            0 => match read_file(&mut input) {
                Some(bytes) => decode_all(&bytes),
                None => return 2,
            },
            1 => probe(),
            4 => match read_render(&mut input) {
                Some((request, bytes)) => match render(&request, &bytes) {
                    Ok(r) => {
                        // The length and shape on a line of their own, then the pixels.
                        let head = json!({
                            "pixels": r.pixels.len(),
                            "width": r.width,
                            "height": r.height,
                            "channels": r.channels,
                        });
                        let sent = writeln!(out, "{head}")
                            .and_then(|()| out.write_all(&r.pixels))
                            .and_then(|()| out.flush());
                        if sent.is_err() {
                            return 2;
                        }
                        continue;
                    }
                    Err(error) => json!({ "error": error }),
                },
                None => return 2,
            },
            // For tests of a parent whose worker dies (as a crashing codec would make it).
            2 => std::process::abort(),
            // For tests of a parent whose worker stops reading (as a hung codec would).
            3 => loop {
                std::thread::park();
            },
            _ => return 2,
        };
        if writeln!(out, "{answer}")
            .and_then(|()| out.flush())
            .is_err()
        {
            return 2;
        }
    }
}

/// What a render request (tag `4`) asks for, before the file: see [`super::RenderRequest`].
fn read_render(input: &mut impl Read) -> Option<(super::RenderRequest, Vec<u8>)> {
    let mut head = [0u8; super::RenderRequest::LEN];
    input.read_exact(&mut head).ok()?;
    let request = super::RenderRequest::decode(&head)?;
    Some((request, read_file(input)?))
}

/// Decodes and presents the one frame asked for (as a thumbnail, if asked). The parent decodes
/// nothing: what a hostile file can do to a C codec stays in here.
fn render(
    request: &super::RenderRequest,
    bytes: &[u8],
) -> Result<countersign_imaging::Rendered, String> {
    let run = AssertUnwindSafe(|| -> Result<countersign_imaging::Rendered, String> {
        let image = countersign_imaging::from_bytes(bytes).map_err(|e| e.to_string())?;
        let mut rendered = image
            .render(request.frame, request.window)
            .map_err(|e| e.to_string())?;
        if let Some(side) = request.max_side {
            rendered = countersign_imaging::thumbnail(&rendered, side);
        }
        Ok(rendered)
    });
    std::panic::catch_unwind(run)
        .unwrap_or_else(|_| Err("internal fault in the decoder".to_string()))
}

/// One file: its length, checked against the largest file a home takes before allocating.
fn read_file(input: &mut impl Read) -> Option<Vec<u8>> {
    let mut len = [0u8; 8];
    input.read_exact(&mut len).ok()?;
    let len = u64::from_le_bytes(len);
    if len > MAX_FILE_BYTES {
        return None;
    }
    let mut bytes = Vec::new();
    bytes.try_reserve_exact(len as usize).ok()?;
    input.take(len).read_to_end(&mut bytes).ok()?;
    (bytes.len() as u64 == len).then_some(bytes)
}

/// Decodes and presents every frame, as the viewer will — all of them, past an error in one,
/// so that no frame is ever decoded in the app unchecked: `{"frames": n}` (the frames that
/// decoded), with `"error"` naming the first frame the decoder refused and why.
fn decode_all(bytes: &[u8]) -> Value {
    let mut done = 0u32;
    let mut first_error: Option<String> = None;
    let run = AssertUnwindSafe(|| -> Result<(), String> {
        let image = countersign_imaging::from_bytes(bytes).map_err(|e| e.to_string())?;
        if !image.info.has_pixels {
            return Ok(());
        }
        for f in 0..image.info.frames {
            let presented = image.frame(f).and_then(|frame| {
                let _ = raw_frame(&frame, &image.info);
                present(&frame, &image.info, WindowChoice::Default)
            });
            match presented {
                Ok(_) => done += 1,
                Err(e) if first_error.is_none() => {
                    first_error = Some(super::frame_error(f, &e));
                }
                Err(_) => {}
            }
        }
        Ok(())
    });
    let outcome = std::panic::catch_unwind(run);
    let error = match outcome {
        Ok(Ok(())) => first_error,
        Ok(Err(e)) => Some(e),
        Err(_) => Some("internal fault in the decoder".to_string()),
    };
    match error {
        None => json!({ "frames": done }),
        Some(error) => json!({ "frames": done, "error": error }),
    }
}

/// What this process can still do: everything but starting a thread must fail.
fn probe() -> Value {
    let open_file = std::fs::File::open("/etc/passwd").is_ok();
    let scratch =
        std::path::Path::new("/tmp").join(format!("countersign-probe-{}", std::process::id()));
    let create_file = std::fs::File::create(&scratch).is_ok();
    if create_file {
        let _ = std::fs::remove_file(&scratch);
    }
    let connect = std::net::UdpSocket::bind("127.0.0.1:0").is_ok()
        || std::net::TcpListener::bind("127.0.0.1:0").is_ok();
    let spawn = match std::process::Command::new("/bin/true")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
    {
        Ok(mut child) => {
            let _ = child.wait();
            true
        }
        Err(_) => false,
    };
    let thread = std::thread::spawn(|| 7).join().is_ok_and(|n| n == 7);
    // Signal 0 only asks whether a signal could be sent (to the app that started it).
    #[cfg(unix)]
    let signal_parent = nix::sys::signal::kill(nix::unistd::Pid::parent(), None).is_ok();
    #[cfg(not(unix))]
    let signal_parent = false;
    json!({
        "signal_parent": signal_parent,
        "open_file": open_file,
        "create_file": create_file,
        "connect": connect,
        "spawn": spawn,
        "thread": thread,
    })
}
