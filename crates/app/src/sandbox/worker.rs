//! The worker's side: confine, say hello, then answer one line per request until end of input.

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
            // For tests of a parent whose worker dies (as a crashing codec would make it).
            2 => std::process::abort(),
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

/// Decodes and presents every frame, as the viewer will: `{"frames": n}`, with `"error"` when
/// the decoder refused a frame in an ordinary way.
fn decode_all(bytes: &[u8]) -> Value {
    let mut done = 0u32;
    let run = AssertUnwindSafe(|| -> Result<(), String> {
        let image = countersign_imaging::from_bytes(bytes).map_err(|e| e.to_string())?;
        if !image.info.has_pixels {
            return Ok(());
        }
        for f in 0..image.info.frames {
            let frame = image.frame(f).map_err(|e| e.to_string())?;
            present(&frame, &image.info, WindowChoice::Default).map_err(|e| e.to_string())?;
            let _ = raw_frame(&frame, &image.info);
            done = f + 1;
        }
        Ok(())
    });
    match std::panic::catch_unwind(run) {
        Ok(Ok(())) => json!({ "frames": done }),
        Ok(Err(error)) => json!({ "frames": done, "error": error }),
        Err(_) => json!({ "frames": done, "error": "internal fault in the decoder" }),
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
    json!({
        "open_file": open_file,
        "create_file": create_file,
        "connect": connect,
        "spawn": spawn,
        "thread": thread,
    })
}
