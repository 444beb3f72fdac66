//! A model served over HTTP (`ai bind --endpoint URL`): the contract of [`super::program`],
//! carried in one request instead of stdin and stdout.
//!
//! **Request**: `POST URL` with `Content-Type: multipart/related; type="application/json";
//! boundary=…` (RFC 2387, as DICOMweb's STOW-RS sends instances):
//!
//! - the first part, `application/json`: the program contract's input object, each image's
//!   `path` replaced by `part`, the `Content-ID` of the part holding it;
//! - then one `application/dicom` part per image, in the same order, with
//!   `Content-ID: <sha256@countersign>` — the bytes of the report's image, re-hashed against
//!   its SHA-256 before they are sent.
//!
//! **Answer**: `200` with the contract's output object as JSON, at most the binding's
//! `max_output_bytes`. Anything else is an error and nothing is signed: not reachable, a
//! status other than 200 (`ai_model_failed`, quoting the start of the answer), no whole answer
//! within the binding's timeout (`ai_model_timeout`), an answer too large or not the
//! contract's JSON (`ai_model_output`). Redirects are not followed: the images would go to a
//! host nobody bound.
//!
//! ```
//! use countersign_app::ai_endpoint::endpoint_url;
//!
//! assert!(endpoint_url("http://127.0.0.1:8080/infer").is_ok());
//! assert!(endpoint_url("ftp://models.example/infer").is_err());
//! assert!(endpoint_url("https://user:secret@models.example/infer").is_err());
//! ```

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use crate::error::{AppError, Result};

use super::program::{ProgramInput, ProgramOutput};

/// How much of a refusing endpoint's answer its error quotes.
const ANSWER_QUOTED: usize = 512;
/// The longest URL a binding may hold.
const MAX_URL: usize = 2048;

/// Checks a model endpoint's URL: `http` or `https`, a host, no credentials (they would be kept
/// in the home's settings and sent with every image), at most `MAX_URL` bytes. Returns it as
/// given.
pub fn endpoint_url(url: &str) -> Result<String> {
    let refuse = |why: &str| AppError::InvalidInput(format!("model endpoint {url:?}: {why}"));
    if url.len() > MAX_URL {
        return Err(refuse("too long"));
    }
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| refuse("not an http:// or https:// URL"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(refuse(
            "credentials in the URL would be stored and sent with every study",
        ));
    }
    if authority.is_empty() || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(refuse("no host"));
    }
    Ok(url.to_string())
}

/// One image to send: its SHA-256 and the verified copy to read it from.
pub(crate) struct Part<'a> {
    pub sha256: &'a str,
    pub path: &'a Path,
}

/// Sends `input` and the images to the endpoint at `url` and returns its checked answer.
pub(crate) fn call(
    url: &str,
    input: &ProgramInput,
    parts: &[Part<'_>],
    timeout: Duration,
    max_output: usize,
) -> Result<ProgramOutput> {
    let content_id = |sha: &str| format!("<{sha}@countersign>");
    // The contract's input, each image named by its part instead of a path on this machine.
    let mut json = serde_json::to_value(input).expect("the input serialises");
    if let Some(images) = json.get_mut("images").and_then(|i| i.as_array_mut()) {
        for image in images {
            if let Some(image) = image.as_object_mut() {
                image.remove("path");
                let sha = image
                    .get("sha256")
                    .and_then(|s| s.as_str())
                    .unwrap_or_default()
                    .to_string();
                image.insert("part".into(), content_id(&sha).into());
            }
        }
    }
    let mut nonce = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut nonce);
    let boundary = format!("countersign-{}", hex::encode(nonce));
    let first = format!("--{boundary}\r\nContent-Type: application/json\r\n\r\n{json}\r\n");
    let last = format!("--{boundary}--\r\n");
    // The length is sent ahead (many servers take no chunked request), so it is summed first.
    let mut length = (first.len() + last.len()) as u64;
    let mut body: Box<dyn Read + Send> = Box::new(std::io::Cursor::new(first));
    // Streamed from the verified copies: a series is never held in memory whole.
    for part in parts {
        let file = std::fs::File::open(part.path)
            .map_err(AppError::io(format!("reading {}", part.path.display())))?;
        let size = file
            .metadata()
            .map_err(AppError::io(format!("reading {}", part.path.display())))?
            .len();
        let head = format!(
            "--{boundary}\r\nContent-Type: application/dicom\r\nContent-ID: {}\r\n\r\n",
            content_id(part.sha256)
        );
        length += head.len() as u64 + size + 2;
        // Exactly the bytes measured, even should the file change meanwhile.
        body = Box::new(
            body.chain(std::io::Cursor::new(head))
                .chain(file.take(size))
                .chain(std::io::Cursor::new("\r\n")),
        );
    }
    let body = body.chain(std::io::Cursor::new(last));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        // The binding's timeout is for the whole exchange, as a program's is for its run.
        .timeout_global(Some(timeout))
        .build()
        .into();
    let shown = shown(url);
    let timed_out = || {
        AppError::AiModelTimeout(format!(
            "model endpoint {shown} did not answer within {} s; nothing was signed",
            timeout.as_secs()
        ))
    };
    let failed = |why: String| {
        AppError::AiModelFailed(format!("model endpoint {shown}: {why}; nothing was signed"))
    };
    let mut response = agent
        .post(url)
        .content_type(format!(
            "multipart/related; type=\"application/json\"; boundary={boundary}"
        ))
        .header("content-length", length.to_string())
        .send(ureq::SendBody::from_owned_reader(body))
        .map_err(|e| match e {
            ureq::Error::Timeout(_) => timed_out(),
            e => failed(e.to_string()),
        })?;
    let status = response.status().as_u16();
    let read = response
        .body_mut()
        .with_config()
        .limit(max_output as u64)
        .read_to_vec();
    let answer = match read {
        Ok(answer) => answer,
        Err(ureq::Error::BodyExceedsLimit(_)) if status == 200 => {
            return Err(AppError::AiModelOutput(format!(
                "model endpoint {shown} answered more than {max_output} bytes; nothing was signed"
            )))
        }
        Err(ureq::Error::Timeout(_)) => return Err(timed_out()),
        Err(e) if status == 200 => return Err(failed(e.to_string())),
        // A refusal's body is only quoted: one too large is cut.
        Err(_) => Vec::new(),
    };
    if status != 200 {
        let said = String::from_utf8_lossy(&answer[..answer.len().min(ANSWER_QUOTED)])
            .trim()
            .to_string();
        return Err(failed(format!(
            "answered HTTP {status}{}",
            if said.is_empty() {
                String::new()
            } else {
                format!(": {said}")
            }
        )));
    }
    ProgramOutput::parse(&answer).map_err(|e| {
        AppError::AiModelOutput(format!(
            "model endpoint {shown} answered {e}; nothing was signed"
        ))
    })
}

/// The URL as errors and results name it: scheme, host and path, without a query (which may
/// carry a token).
pub fn shown(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endpoint_is_http_with_a_host_and_no_credentials() {
        for ok in [
            "http://127.0.0.1:9000/infer",
            "https://models.example.org/v1/nodules",
        ] {
            assert_eq!(endpoint_url(ok).unwrap(), ok);
        }
        for bad in [
            "127.0.0.1:9000/infer",
            "file:///etc/passwd",
            "http://",
            "http:///infer",
            "https://token@models.example.org/infer",
            "http://host/with space",
        ] {
            assert!(endpoint_url(bad).is_err(), "{bad}");
        }
        assert!(endpoint_url(&format!("http://h/{}", "a".repeat(MAX_URL))).is_err());
    }

    #[test]
    fn the_shown_url_leaves_out_the_query() {
        assert_eq!(shown("http://h/infer?token=abc"), "http://h/infer");
        assert_eq!(shown("http://h/infer"), "http://h/infer");
    }
}
