//! DICOMweb (PS3.18) over a blocking HTTP client: QIDO-RS to search, WADO-RS to retrieve,
//! STOW-RS to store; with the archive's credentials, when it asks for some, on every request
//! ([`auth`]).

use std::path::Path;
use std::time::{Duration, Instant};

use crate::multipart::{MultipartError, MultipartReader};

pub mod auth;
mod documents;
mod spill;
use crate::qido::{self, QidoError};
use crate::{
    instance_file, Arrived, Limits, OnFile, PacsError, Result, Retrieved, StudyMatch, StudyQuery,
};
use auth::Credentials;
use spill::Spill;

/// What WADO-RS is asked for: every instance as it is stored (`transfer-syntax=*`), so that
/// what lands here is byte for byte what the archive holds and no transcoding loses anything.
const ACCEPT_STUDY: &str = "multipart/related; type=\"application/dicom\"; transfer-syntax=*";
const ACCEPT_JSON: &str = "application/dicom+json, application/json";
/// Attributes a worklist needs beyond the study-level defaults every QIDO-RS server returns.
const INCLUDE: &[&str] = &["00201208", "00080061", "00081030", "00080050", "00100021"];

/// A DICOMweb archive: its base URL (under which `/studies` is) and an HTTP agent.
#[derive(Clone)]
pub struct DicomWeb {
    base: String,
    agent: ureq::Agent,
    /// Where the buffers of instances kept in memory come from (see [`crate::Buffers`]).
    pub(crate) buffers: Option<crate::Buffers>,
    /// Sent in every request's `Authorization` header (see [`DicomWeb::with_credentials`]).
    auth: Option<std::sync::Arc<Credentials>>,
}

impl std::fmt::Debug for DicomWeb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DicomWeb")
            .field("base", &self.base)
            // Its Debug shows the user, never the secret.
            .field("auth", &self.auth)
            .finish()
    }
}

impl DicomWeb {
    /// A client for the archive at `base` (`http://` or `https://`, no query or fragment).
    pub fn new(base: &str, limits: Limits) -> Result<DicomWeb> {
        let base = base.trim().trim_end_matches('/');
        let rest = base
            .strip_prefix("http://")
            .or_else(|| base.strip_prefix("https://"))
            .ok_or_else(|| {
                PacsError::InvalidInput(format!(
                    "{base:?} is not a DICOMweb URL (http:// or https://)"
                ))
            })?;
        if rest.is_empty()
            || rest.starts_with('/')
            || base.len() > 2048
            || base.contains(['?', '#', ' '])
            || base.chars().any(char::is_control)
            // Credentials in the URL would be stored and shown with it: `--user` instead.
            || rest.split('/').next().is_some_and(|a| a.contains('@'))
        {
            return Err(PacsError::InvalidInput(format!(
                "{base:?} is not a DICOMweb base URL"
            )));
        }
        let config = ureq::Agent::config_builder()
            // Statuses are answers to read, not transport errors.
            .http_status_as_error(false)
            // A redirect could lead the study to another host: not followed.
            .max_redirects(0)
            .timeout_connect(Some(limits.timeout))
            .timeout_recv_response(Some(limits.timeout))
            .timeout_per_read(Some(limits.timeout))
            .timeout_per_write(Some(limits.timeout))
            .build();
        Ok(DicomWeb {
            base: base.to_string(),
            agent: config.into(),
            buffers: None,
            auth: None,
        })
    }

    /// The client, sending `credentials` with every request: over `https://`, or `http://`
    /// to this machine, or to another host over `http://` only with `allow_cleartext` (see
    /// [`auth::check_transport`]).
    pub fn with_credentials(
        mut self,
        credentials: Credentials,
        allow_cleartext: bool,
    ) -> Result<DicomWeb> {
        auth::check_transport(&self.base, allow_cleartext)?;
        self.auth = Some(std::sync::Arc::new(credentials));
        Ok(self)
    }

    /// Whether requests carry credentials.
    pub fn has_credentials(&self) -> bool {
        self.auth.is_some()
    }

    /// A `GET` of `url` (under the base), with the credentials.
    fn get(&self, url: &str) -> ureq::RequestBuilder<ureq::typestate::WithoutBody> {
        let request = self.agent.get(url);
        match &self.auth {
            Some(auth) => request.header("Authorization", auth.header()),
            None => request,
        }
    }

    /// A `POST` to `url` (under the base), with the credentials.
    fn post(&self, url: &str) -> ureq::RequestBuilder<ureq::typestate::WithBody> {
        let request = self.agent.post(url);
        match &self.auth {
            Some(auth) => request.header("Authorization", auth.header()),
            None => request,
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// A QIDO-RS search for at most one study: the round trip of a real request.
    pub fn echo(&self) -> Result<Duration> {
        let started = Instant::now();
        self.search(&StudyQuery {
            limit: 1,
            ..Default::default()
        })?;
        Ok(started.elapsed())
    }

    pub fn search(&self, query: &StudyQuery) -> Result<Vec<StudyMatch>> {
        let url = format!("{}/studies", self.base);
        let mut request = self
            .get(&url)
            .header("Accept", ACCEPT_JSON)
            .query("limit", query.max_results().to_string());
        for field in INCLUDE {
            request = request.query("includefield", *field);
        }
        if let Some(study) = &query.study {
            request = request.query("StudyInstanceUID", study);
        }
        if let Some(id) = &query.patient_id {
            request = request.query("PatientID", id);
        }
        if let Some(modality) = &query.modality {
            request = request.query("ModalitiesInStudy", modality);
        }
        if let Some(since) = &query.since {
            request = request.query("StudyDate", format!("{since}-"));
        }
        let mut response = request.call().map_err(http_error)?;
        let status = response.status().as_u16();
        if status == 204 {
            return Ok(Vec::new());
        }
        if status != 200 {
            return Err(refused("QIDO-RS", status));
        }
        let body = response
            .body_mut()
            .with_config()
            .limit(qido::MAX_JSON_BYTES)
            .read_to_vec()
            .map_err(http_error)?;
        let mut studies = qido::decode_studies(&body).map_err(|e| match e {
            QidoError::TooMany => PacsError::TooLarge {
                what: "the search's answer".into(),
                limit: qido::MAX_RESULTS as u64,
            },
            e => PacsError::Malformed(format!("QIDO-RS: {e}")),
        })?;
        // An archive that ignores `limit` does not get to hand over more.
        studies.truncate(query.max_results());
        Ok(studies)
    }

    pub fn retrieve(
        &self,
        study: &str,
        dir: &Path,
        limits: &Limits,
        on_file: &mut OnFile<'_>,
    ) -> Result<Retrieved> {
        let url = format!("{}/studies/{study}", self.base);
        let response = self
            .get(&url)
            .header("Accept", ACCEPT_STUDY)
            .call()
            .map_err(http_error)?;
        let status = response.status().as_u16();
        tracing::info!(status, "WADO-RS answered");
        if status == 404 {
            return Err(PacsError::Refused(
                "WADO-RS answered HTTP 404: it does not hold this study".into(),
            ));
        }
        if status != 200 {
            return Err(refused("WADO-RS", status));
        }
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        // The whole body is bounded by what the parts may add up to: no more instances than
        // allowed, and no more bytes than the study may put on disk, each with room for its
        // part's delimiter and headers (the study's bytes count only the parts' bodies).
        let per_part = (limits.max_instances as u64).saturating_mul(4 * 1024);
        let most = (limits.max_instances as u64)
            .saturating_mul(limits.max_instance_bytes.saturating_add(64 * 1024))
            .min(
                limits
                    .max_study_bytes
                    .saturating_add(per_part)
                    .saturating_add(64 * 1024),
            );
        let body = response.into_body().into_with_config().limit(most).reader();
        let mut parts = MultipartReader::new(body, &content_type).map_err(multipart_error)?;
        let mut out = Retrieved::default();
        // The size of the last part: the next one's in memory is reserved at that (the slices
        // of a series are alike), rather than grown by doubling to twice it.
        let mut last = 0u64;
        loop {
            let n = out.files.len();
            let path = instance_file(dir, n);
            let mut sink = Spill::new(
                path.clone(),
                limits.keep_in_memory,
                last,
                self.buffers.as_ref(),
            )?;
            // What the study may still put on disk: a part is refused as soon as it passes
            // that, as one over the instance limit is, so a hostile archive cannot fill the
            // disk one acceptable instance at a time (the DIMSE side refuses the same way).
            let budget = limits.max_study_bytes.saturating_sub(out.bytes);
            let part = parts.next_part(&mut sink, limits.max_instance_bytes.min(budget));
            // Flushed and closed before the caller sees it.
            let finished = sink.finish();
            match part {
                Err(MultipartError::PartTooLarge { .. }) if budget < limits.max_instance_bytes => {
                    let _ = std::fs::remove_file(&path);
                    return Err(PacsError::TooLarge {
                        what: "the study".into(),
                        limit: limits.max_study_bytes,
                    });
                }
                Ok(Some(info)) => {
                    let (sha256, data) =
                        finished.map_err(PacsError::io(format!("writing {}", path.display())))?;
                    if n >= limits.max_instances {
                        let _ = std::fs::remove_file(&path);
                        return Err(PacsError::TooLarge {
                            what: "the study".into(),
                            limit: limits.max_instances as u64,
                        });
                    }
                    out.files.push(path.clone());
                    out.bytes += info.bytes;
                    last = info.bytes;
                    let arrived = Arrived {
                        index: n,
                        path,
                        bytes: info.bytes,
                        sha256,
                        data,
                    };
                    if on_file(arrived).is_break() {
                        return Err(PacsError::Stopped);
                    }
                }
                Ok(None) => {
                    let _ = std::fs::remove_file(&path);
                    return Ok(out);
                }
                Err(e) => {
                    let _ = std::fs::remove_file(&path);
                    return Err(multipart_error(e));
                }
            }
        }
    }
}

impl DicomWeb {
    /// STOW-RS of one instance into `study`.
    pub fn store(&self, study: &str, file: &crate::Part10<'_>) -> Result<()> {
        // A boundary the file does not contain.
        let boundary = (0u32..)
            .map(|n| format!("countersign-stow-{n:08x}"))
            .find(|b| memchr::memmem::find(file.file, b.as_bytes()).is_none())
            .unwrap_or_default();
        let mut body = Vec::with_capacity(file.file.len() + 256);
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Type: application/dicom\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(file.file);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let url = format!("{}/studies/{study}", self.base);
        let mut response = self
            .post(&url)
            .header("Accept", ACCEPT_JSON)
            .header(
                "Content-Type",
                format!("multipart/related; type=\"application/dicom\"; boundary={boundary}"),
            )
            .send(&body[..])
            .map_err(http_error)?;
        let status = response.status().as_u16();
        // The answer says what was stored; only its status is needed here, its body is drained
        // (bounded) so the connection can be reused.
        let _ = response
            .body_mut()
            .with_config()
            .limit(qido::MAX_JSON_BYTES)
            .read_to_vec();
        match status {
            200 => Ok(()),
            202 => Err(PacsError::Refused(
                "STOW-RS answered HTTP 202: stored with warnings or not at all".into(),
            )),
            other => Err(refused("STOW-RS", other)),
        }
    }
}

/// An answer other than the one expected: 401 and 403 say the archive refuses these
/// credentials (or their absence), anything else that it refused the request.
fn refused(service: &str, status: u16) -> PacsError {
    match status {
        401 | 403 => PacsError::Unauthorized(format!("{service} answered HTTP {status}")),
        _ => PacsError::Refused(format!("{service} answered HTTP {status}")),
    }
}

fn multipart_error(e: MultipartError) -> PacsError {
    match e {
        MultipartError::PartTooLarge { limit } => PacsError::TooLarge {
            what: "an instance".into(),
            limit,
        },
        MultipartError::Read(e) => io_error(e),
        MultipartError::Write(e) => PacsError::Io {
            context: "writing a retrieved instance".into(),
            source: e,
        },
        e => PacsError::Malformed(format!("WADO-RS: {e}")),
    }
}

/// A read error from the body: ureq wraps its own errors (a timeout) in `io::Error`.
fn io_error(e: std::io::Error) -> PacsError {
    match e.kind() {
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => {
            PacsError::Timeout(e.to_string())
        }
        std::io::ErrorKind::UnexpectedEof => PacsError::Malformed("the answer ended early".into()),
        _ => match e.into_inner() {
            Some(inner) => match inner.downcast::<ureq::Error>() {
                Ok(e) => http_error(*e),
                Err(inner) => PacsError::Unreachable(format!("the connection failed: {inner}")),
            },
            None => PacsError::Unreachable("the connection failed".into()),
        },
    }
}

fn http_error(e: ureq::Error) -> PacsError {
    use ureq::Error as E;
    match e {
        E::Timeout(t) => PacsError::Timeout(format!("{t:?}")),
        E::HostNotFound => PacsError::Unreachable("host not found".into()),
        E::ConnectionFailed => PacsError::Unreachable("connection failed".into()),
        E::Io(e) => match e.kind() {
            std::io::ErrorKind::ConnectionRefused => {
                PacsError::Unreachable("connection refused".into())
            }
            std::io::ErrorKind::TimedOut => PacsError::Timeout(e.to_string()),
            _ => io_error(e),
        },
        E::BodyExceedsLimit(limit) => PacsError::TooLarge {
            what: "the answer".into(),
            limit,
        },
        E::Protocol(e) => PacsError::Malformed(format!("not HTTP: {e}")),
        E::LargeResponseHeader(_, limit) => PacsError::TooLarge {
            what: "the answer's headers".into(),
            limit: limit as u64,
        },
        e => PacsError::Unreachable(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;

    use super::{Credentials, DicomWeb};
    use crate::{Limits, PacsError, StudyQuery};

    /// Serves one connection on `listener` with `answer`, and gives back the request's head.
    fn answer_once(listener: TcpListener, answer: String) -> std::thread::JoinHandle<String> {
        std::thread::spawn(move || {
            let (mut socket, _) = listener.accept().unwrap();
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && socket.read(&mut byte).unwrap() == 1 {
                head.push(byte[0]);
            }
            socket.write_all(answer.as_bytes()).unwrap();
            String::from_utf8(head).unwrap()
        })
    }

    fn alice() -> Credentials {
        Credentials::basic("alice", zeroize::Zeroizing::new("pw-of-alice".into())).unwrap()
    }

    /// The credentials go in the request to the archive; a redirect to another host is not
    /// followed, so that host never hears of them (nothing even connects to it).
    #[test]
    fn credentials_are_sent_to_the_archive_and_never_followed_to_a_redirect() {
        let archive = TcpListener::bind("127.0.0.1:0").unwrap();
        let elsewhere = TcpListener::bind("127.0.0.1:0").unwrap();
        elsewhere.set_nonblocking(true).unwrap();
        let to = elsewhere.local_addr().unwrap();
        let base = format!("http://{}/dicom-web", archive.local_addr().unwrap());
        let served = answer_once(
            archive,
            format!(
                "HTTP/1.1 302 Found\r\nLocation: http://{to}/dicom-web/studies\r\n\
                 Content-Length: 0\r\nConnection: close\r\n\r\n"
            ),
        );
        let client = DicomWeb::new(&base, Limits::default())
            .unwrap()
            .with_credentials(alice(), false)
            .unwrap();
        let got = client.search(&StudyQuery::default());
        assert!(matches!(got, Err(PacsError::Refused(_))), "{got:?}");
        let head = served.join().unwrap().to_ascii_lowercase();
        assert!(
            head.contains("authorization: basic ywxpy2u6chctb2ytywxpy2u="),
            "{head}"
        );
        // A redirect followed would have connected before `search` returned.
        assert_eq!(
            elsewhere.accept().map(|_| ()).unwrap_err().kind(),
            std::io::ErrorKind::WouldBlock
        );
    }

    /// 401 and 403 are the credentials refused, said without them; other statuses stay
    /// refusals.
    #[test]
    fn an_archive_answering_401_or_403_refuses_the_credentials() {
        for (status, unauthorized) in [(401, true), (403, true), (500, false)] {
            let archive = TcpListener::bind("127.0.0.1:0").unwrap();
            let base = format!("http://{}/dicom-web", archive.local_addr().unwrap());
            let served = answer_once(
                archive,
                format!(
                    "HTTP/1.1 {status} No\r\nWWW-Authenticate: Basic realm=\"x\"\r\n\
                     Content-Length: 0\r\nConnection: close\r\n\r\n"
                ),
            );
            let client = DicomWeb::new(&base, Limits::default())
                .unwrap()
                .with_credentials(alice(), false)
                .unwrap();
            let err = client.echo().unwrap_err();
            served.join().unwrap();
            assert_eq!(
                matches!(err, PacsError::Unauthorized(_)),
                unauthorized,
                "{status}: {err:?}"
            );
            let said = format!("{err} {err:?}");
            assert!(
                !said.contains("pw-of-alice") && !said.contains("YWxp"),
                "{said}"
            );
        }
    }

    /// Credentials over plain http to another host are refused unless allowed; a URL
    /// carrying them is refused outright.
    #[test]
    fn credentials_in_clear_to_another_host_or_in_the_url_are_refused() {
        let remote = DicomWeb::new("http://pacs.example.org/dicom-web", Limits::default()).unwrap();
        assert!(matches!(
            remote.clone().with_credentials(alice(), false),
            Err(PacsError::InvalidInput(_))
        ));
        assert!(remote.with_credentials(alice(), true).is_ok());
        assert!(DicomWeb::new("https://alice:pw@pacs.example.org/dw", Limits::default()).is_err());
    }

    /// A buffer given back is the one taken next (no fresh memory), emptied, grown if need
    /// be; no more than the bound is kept.
    #[test]
    fn buffers_given_back_are_taken_again_within_their_bound() {
        let buffers = crate::Buffers::new(3000);
        let mut a = buffers.take(1000);
        a.extend_from_slice(&[7; 1000]);
        let at = a.as_ptr();
        buffers.give(a);
        let again = buffers.take(1000);
        assert_eq!((again.as_ptr(), again.len()), (at, 0));
        assert!(again.capacity() >= 1000);
        assert!(buffers.take(5000).capacity() >= 5000);
        for _ in 0..3 {
            buffers.give(Vec::with_capacity(1000));
        }
        buffers.give(again);
        assert_eq!(buffers.kept(), 3, "{buffers:?}");
    }

    /// Found by review (2026-12-05): WADO-RS never applied `max_study_bytes`, only the
    /// per-instance and instance-count limits, so a hostile archive could stream acceptable
    /// instance after acceptable instance until the disk was full.
    /// Fails if a part that takes the study past `max_study_bytes` is written and kept (or
    /// the retrieval ends in anything but the study refused as too large).
    #[test]
    fn a_retrieval_past_max_study_bytes_is_refused_as_too_large() {
        let archive = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}/dicom-web", archive.local_addr().unwrap());
        let mut body = String::new();
        for _ in 0..3 {
            body.push_str("--b\r\nContent-Type: application/dicom\r\n\r\n");
            body.push_str(&"x".repeat(600));
            body.push_str("\r\n");
        }
        body.push_str("--b--\r\n");
        let served = answer_once(
            archive,
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: multipart/related; \
                 type=\"application/dicom\"; boundary=b\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{body}",
                body.len()
            ),
        );
        let limits = Limits {
            max_study_bytes: 1000,
            keep_in_memory: 0,
            ..Limits::default()
        };
        let dir = tempfile::tempdir().unwrap();
        let client = DicomWeb::new(&base, limits).unwrap();
        let mut arrived = 0;
        let got = client.retrieve("1.2.3", dir.path(), &limits, &mut |_| {
            arrived += 1;
            std::ops::ControlFlow::Continue(())
        });
        served.join().unwrap();
        match got {
            Err(PacsError::TooLarge { what, limit }) => {
                assert_eq!((what.as_str(), limit), ("the study", 1000))
            }
            other => panic!("{other:?}"),
        }
        let staged = std::fs::read_dir(dir.path()).unwrap().count();
        assert!(
            staged <= 2 && arrived <= 2,
            "{staged} files, {arrived} handed over"
        );
    }
}
