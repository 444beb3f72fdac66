//! The contract between a node and a model program it runs (`ai bind --program PATH`).
//!
//! **Input**, one JSON object on the program's stdin (then end of file):
//!
//! ```json
//! {"contract": "countersign-ai-model/1",
//!  "model": {"name": "…", "vendor": "…", "version": "…"},
//!  "report": "<report id>", "study": "<Study Instance UID>",
//!  "images": [{"sha256": "…", "path": "/…/images/<sha256>.dcm", "modality": "CT",
//!              "series": "…", "instance_number": 12, "frames": 1}]}
//! ```
//!
//! The images are copies of the report's images (each re-hashed against its SHA-256 first) in
//! a private folder that is also the program's working directory and `HOME`; the program may
//! not rely on anything else. Its environment holds `PATH`, `LANG` and `HOME` only: nothing of
//! the caller's (no passphrase file, no agent socket).
//!
//! **Output**, one JSON object on stdout, at most the binding's `max_output_bytes`:
//!
//! ```json
//! {"section": "findings", "text": "proposed section text",
//!  "measurements": {"name": "value"}, "parameters": {"name": "value"}}
//! ```
//!
//! `measurements` and `parameters` are optional (at most 64 entries each, names up to 64 and
//! values up to 256 characters); unknown fields are refused. A model that also writes a DICOM
//! SR of its result (a TID 1500 measurement report, as AI products deliver) names it with
//! `"sr": "FILE"`, a file it wrote in its working folder (a plain name, no folders), or over
//! HTTP sends it inline as `"sr_base64"`; it is read as untrusted input (the bounds of
//! [`countersign_imaging::sr`]), must be about the report's study, and its SHA-256, SOP
//! Instance UID, measurements and findings are signed into the result. The program must exit 0 within the
//! binding's timeout; otherwise (or on any breach of the above) the run is an error with its
//! code (`ai_model_timeout`, `ai_model_failed`, `ai_model_output`) and nothing is signed. The
//! whole process group is killed at the timeout.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{AppError, Result};

/// The contract's name and version, in every input.
pub const CONTRACT: &str = "countersign-ai-model/1";
const MAX_ENTRIES: usize = 64;
const MAX_NAME: usize = 64;
const MAX_VALUE: usize = 256;
const MAX_TEXT: usize = 16 << 10;
/// How much of a failed program's stderr its error quotes.
const STDERR_QUOTED: usize = 2048;

/// One image as the program is given it.
#[derive(Debug, Clone, Serialize)]
pub struct ProgramImage {
    pub sha256: String,
    pub path: PathBuf,
    pub modality: Option<String>,
    pub series: Option<String>,
    pub instance_number: Option<i64>,
    pub frames: u32,
}

/// The model as the roster names it.
#[derive(Debug, Clone, Serialize)]
pub struct ProgramModel {
    pub name: String,
    pub vendor: String,
    pub version: String,
}

/// What the program reads on stdin.
#[derive(Debug, Clone, Serialize)]
pub struct ProgramInput {
    pub contract: &'static str,
    pub model: ProgramModel,
    pub report: String,
    pub study: String,
    pub images: Vec<ProgramImage>,
}

/// What the program printed, checked.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProgramOutput {
    pub section: String,
    pub text: String,
    #[serde(default)]
    pub measurements: BTreeMap<String, String>,
    #[serde(default)]
    pub parameters: BTreeMap<String, String>,
    /// A DICOM SR the program wrote in its working folder, by file name.
    #[serde(default)]
    pub sr: Option<String>,
    /// A DICOM SR sent inline (base64), as an HTTP endpoint can.
    #[serde(default)]
    pub sr_base64: Option<String>,
}

impl ProgramOutput {
    /// Parses and checks a program's stdout (see the module docs).
    pub fn parse(bytes: &[u8]) -> std::result::Result<ProgramOutput, String> {
        let out: ProgramOutput =
            serde_json::from_slice(bytes).map_err(|e| format!("not the contract's JSON: {e}"))?;
        let section_ok = !out.section.is_empty()
            && out.section.len() <= MAX_NAME
            && out
                .section
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !section_ok {
            return Err(format!("{:?} is not a section name", out.section));
        }
        if out.text.trim().is_empty() || out.text.len() > MAX_TEXT {
            return Err(format!(
                "the proposed text must be 1 to {MAX_TEXT} bytes, not {}",
                out.text.len()
            ));
        }
        for (what, map) in [
            ("measurements", &out.measurements),
            ("parameters", &out.parameters),
        ] {
            if map.len() > MAX_ENTRIES {
                return Err(format!("more than {MAX_ENTRIES} {what}"));
            }
            if let Some((k, v)) = map
                .iter()
                .find(|(k, v)| k.is_empty() || k.len() > MAX_NAME || v.len() > MAX_VALUE)
            {
                return Err(format!(
                    "{what}: {:?} = {} bytes is out of bounds (names 1 to {MAX_NAME}, values up \
                     to {MAX_VALUE} bytes)",
                    k.chars().take(MAX_NAME).collect::<String>(),
                    v.len()
                ));
            }
        }
        if let Some(name) = &out.sr {
            let plain = !name.is_empty()
                && name.len() <= 255
                && name != "."
                && name != ".."
                && !name.contains(['/', '\\', '\0']);
            if !plain {
                return Err(format!(
                    "\"sr\" must name a file in the working folder, not {:?}",
                    name.chars().take(MAX_NAME).collect::<String>()
                ));
            }
            if out.sr_base64.is_some() {
                return Err("both \"sr\" and \"sr_base64\": one SR at most".into());
            }
        }
        Ok(out)
    }

    /// The bytes of the SR the output names, if any: read from `workdir` (within the SR
    /// reader's size bound, before reading) or decoded from base64.
    pub fn sr_bytes(&self, workdir: &Path) -> std::result::Result<Option<Vec<u8>>, String> {
        use base64::Engine;
        if let Some(name) = &self.sr {
            let path = workdir.join(name);
            // Never a link out of the folder: the program could point it at any file.
            let meta = std::fs::symlink_metadata(&path)
                .map_err(|e| format!("its SR {name:?} cannot be read: {e}"))?;
            if !meta.is_file() {
                return Err(format!("its SR {name:?} is not a plain file"));
            }
            let bytes = countersign_imaging::sr::read_sr_file(&path).map_err(|e| e.to_string())?;
            return Ok(Some(bytes));
        }
        if let Some(text) = &self.sr_base64 {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .map_err(|e| format!("its sr_base64 is not base64: {e}"))?;
            return Ok(Some(bytes));
        }
        Ok(None)
    }
}

/// The SHA-256 of the program file, signed into every result it produces.
pub fn program_sha256(path: &Path) -> Result<String> {
    let mut file = std::fs::File::open(path).map_err(AppError::io(format!(
        "reading model program {}",
        path.display()
    )))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).map_err(AppError::io(format!(
        "reading model program {}",
        path.display()
    )))?;
    Ok(hex::encode(hasher.finalize()))
}

/// Reads at most `limit` bytes of `from`, and whether there was more.
fn read_bounded(mut from: impl Read, limit: usize) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let read = (&mut from).take(limit as u64 + 1).read_to_end(&mut out);
    let over = out.len() > limit;
    out.truncate(limit);
    // Whatever else it prints is drained, so that it never blocks on a full pipe.
    if read.is_ok() {
        let _ = std::io::copy(&mut from, &mut std::io::sink());
    }
    (out, over)
}

/// Runs `path args…` in `workdir` under the contract, with `input` on stdin.
pub fn run(
    path: &Path,
    args: &[String],
    workdir: &Path,
    input: &ProgramInput,
    timeout: Duration,
    max_output: usize,
) -> Result<ProgramOutput> {
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into(),
    );
    let mut command = Command::new(path);
    command
        .args(args)
        .current_dir(workdir)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("LANG", "C.UTF-8")
        .env("HOME", workdir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // Its own process group: the timeout kills whatever it started too.
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command
        .spawn()
        .map_err(|e| AppError::AiModelFailed(format!("model program {name} did not start: {e}")))?;
    let pid = child.id();
    let stdin = child.stdin.take();
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let input = serde_json::to_vec(input).expect("the input serialises");
    // A program that never reads its stdin must not block us: the write is its own thread.
    let writer = std::thread::spawn(move || {
        if let Some(mut stdin) = stdin {
            let _ = stdin.write_all(&input);
        }
    });
    let out = std::thread::spawn(move || stdout.map(|s| read_bounded(s, max_output)));
    let err = std::thread::spawn(move || stderr.map(|s| read_bounded(s, STDERR_QUOTED)));
    let (done, exited) = mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let _ = done.send(child.wait());
    });
    let status = match exited.recv_timeout(timeout) {
        Ok(status) => status,
        Err(_) => {
            #[cfg(unix)]
            kill_group(pid);
            let _ = exited.recv();
            let _ = (waiter.join(), writer.join(), out.join(), err.join());
            return Err(AppError::AiModelTimeout(format!(
                "model program {name} did not finish within {} s; it was stopped and nothing \
                 was signed",
                timeout.as_secs()
            )));
        }
    };
    let _ = waiter.join();
    let _ = writer.join();
    // A program that left a child holding its pipes open is stopped with it. The group id is
    // the program's pid, which is not given out again while any member of the group lives; with
    // none left, the signal finds nothing (Linux hands pids out in turn, not at once again).
    #[cfg(unix)]
    kill_group(pid);
    let (stdout, over) = out.join().ok().flatten().unwrap_or_default();
    let (stderr, _) = err.join().ok().flatten().unwrap_or_default();
    let status = status.map_err(AppError::io(format!("waiting for model program {name}")))?;
    if !status.success() {
        let said = String::from_utf8_lossy(&stderr);
        let said = said.trim();
        return Err(AppError::AiModelFailed(format!(
            "model program {name} failed ({status}){}; nothing was signed",
            if said.is_empty() {
                String::new()
            } else {
                format!(": {said}")
            }
        )));
    }
    if over {
        return Err(AppError::AiModelOutput(format!(
            "model program {name} printed more than {max_output} bytes; nothing was signed"
        )));
    }
    ProgramOutput::parse(&stdout).map_err(|e| {
        AppError::AiModelOutput(format!(
            "model program {name} printed {e}; nothing was signed"
        ))
    })
}

#[cfg(unix)]
fn kill_group(pid: u32) {
    use nix::sys::signal::{killpg, Signal};
    use nix::unistd::Pid;
    // Gone already is fine: the group is empty.
    let _ = killpg(Pid::from_raw(pid as i32), Signal::SIGKILL);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_output_is_held_to_the_contract() {
        let ok = br#"{"section":"findings","text":"Two lesions.","measurements":{"count":"2"}}"#;
        let out = ProgramOutput::parse(ok).unwrap();
        assert_eq!(out.measurements["count"], "2");
        for bad in [
            &br#"{"section":"findings","text":"x","extra":1}"#[..],
            br#"{"section":"../findings","text":"x"}"#,
            br#"{"section":"findings","text":"   "}"#,
            br#"not json"#,
            br#"{"section":"findings"}"#,
        ] {
            assert!(
                ProgramOutput::parse(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let many: BTreeMap<String, String> =
            (0..65).map(|i| (format!("k{i}"), "v".into())).collect();
        let too_many = serde_json::json!({"section": "findings", "text": "x", "parameters": many});
        assert!(ProgramOutput::parse(too_many.to_string().as_bytes()).is_err());
        let long = serde_json::json!({"section": "findings", "text": "x", "measurements": {"k": "v".repeat(257)}});
        assert!(ProgramOutput::parse(long.to_string().as_bytes()).is_err());
    }

    #[test]
    fn an_sr_is_named_by_a_plain_file_name_or_sent_inline_never_both() {
        let with = |extra: &str| {
            ProgramOutput::parse(
                format!(r#"{{"section":"findings","text":"x"{extra}}}"#).as_bytes(),
            )
        };
        assert_eq!(
            with(r#","sr":"result.dcm""#).unwrap().sr.as_deref(),
            Some("result.dcm")
        );
        for bad in [
            r#","sr":"../result.dcm""#,
            r#","sr":"srs/result.dcm""#,
            r#","sr":"..""#,
            r#","sr":"""#,
            r#","sr":"a.dcm","sr_base64":"AAAA""#,
        ] {
            assert!(with(bad).is_err(), "{bad}");
        }
        let dir = tempfile::tempdir().unwrap();
        let inline = with(r#","sr_base64":"aGVsbG8=""#).unwrap();
        assert_eq!(
            inline.sr_bytes(dir.path()).unwrap(),
            Some(b"hello".to_vec())
        );
        assert!(with(r#","sr_base64":"***""#)
            .unwrap()
            .sr_bytes(dir.path())
            .is_err());
    }

    #[test]
    fn read_bounded_says_when_there_was_more() {
        assert_eq!(read_bounded(&b"abc"[..], 3), (b"abc".to_vec(), false));
        assert_eq!(read_bounded(&b"abcd"[..], 3), (b"abc".to_vec(), true));
    }
}
