//! A streaming reader of `multipart/related` bodies (RFC 2046 §5.1, RFC 2387), as WADO-RS
//! sends a study: one part per instance, each copied to a writer as it arrives.
//!
//! Written by hand rather than taken from `multer` because that crate is async (it wants a
//! `Stream` of `Bytes` and a runtime) and the DICOMweb client is a blocking reader; what is
//! needed here is small: find the boundary, skip the part headers (bounded), copy the body. The
//! reader holds one fixed buffer ([`BUFFER`] plus the delimiter), so memory does not grow with a
//! part or with the study: a 500-instance study costs what one buffer costs.
//!
//! A part whose headers give its `Content-Length` (Orthanc's do), going to a sink that keeps
//! it in memory ([`PartSink::room`]), is read from the source straight into that memory rather
//! than through the buffer: one copy of every byte fewer, on the thread that drains the
//! archive's socket. It is then held to what the scan would have found — no delimiter inside
//! it and one right after it — so that a `Content-Length` cannot change which bytes make a
//! part, only how they are read; one that disagrees with the delimiters refuses the body.
//! Stated lengths are trusted only once the first part that states one was found, by the
//! scan, to be as long as it said: an archive whose lengths are off (counting the CRLF before
//! the delimiter, say) is read by its delimiters alone, as before.

use std::io::{Read, Write};

use memchr::memmem;

/// Bytes read from the source at a time.
pub const BUFFER: usize = 64 * 1024;
/// The most bytes one part's headers may take (the blank line included).
pub const MAX_HEADER_BYTES: usize = 8 * 1024;
/// RFC 2046: a boundary is 1 to 70 characters.
pub const MAX_BOUNDARY: usize = 70;
/// The most bytes skipped before the first part (the preamble carries nothing DICOMweb uses).
pub const MAX_PREAMBLE: u64 = 64 * 1024;

/// Why a body is not a multipart body this reader takes.
#[derive(Debug, thiserror::Error)]
pub enum MultipartError {
    #[error("the response is not multipart/related (Content-Type {0:?})")]
    NotMultipart(String),
    #[error("the multipart Content-Type has no usable boundary ({0})")]
    Boundary(&'static str),
    #[error("the multipart body ended before its closing boundary")]
    Truncated,
    #[error("a part's headers are malformed: {0}")]
    Headers(&'static str),
    #[error("a part is larger than the {limit}-byte limit")]
    PartTooLarge { limit: u64 },
    #[error("reading the body: {0}")]
    Read(std::io::Error),
    #[error("writing a part: {0}")]
    Write(std::io::Error),
}

/// One part's headers, as far as the caller needs them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartInfo {
    /// `Content-Type` of the part, if it gave one (trimmed, parameters kept).
    pub content_type: Option<String>,
    /// Bytes of the body copied to the writer.
    pub bytes: u64,
}

/// A part's stated length reaches past the delimiter that ends it.
const RUNS_PAST: MultipartError =
    MultipartError::Headers("a part's Content-Length runs past its boundary");
/// A part's stated length ends where no delimiter is.
const ENDS_ELSEWHERE: MultipartError =
    MultipartError::Headers("a part's Content-Length does not end at its boundary");

/// Where a part's body goes: any writer, and, for a sink that keeps the body in memory, room
/// for it to be read into directly.
pub trait PartSink: Write {
    /// `n` more bytes of this sink's memory, to be filled with the next `n` bytes of the body
    /// (the body so far then ends with them), or `None` to take them through `write`. Asked
    /// only with a part's stated `Content-Length`, at most the part's limit.
    fn room(&mut self, n: usize) -> Option<&mut [u8]> {
        let _ = n;
        None
    }
}

/// Room as long as it can be had: a length no allocation can hold is read through `write`,
/// growing as bytes arrive.
impl PartSink for Vec<u8> {
    fn room(&mut self, n: usize) -> Option<&mut [u8]> {
        let at = self.len();
        let end = at.checked_add(n)?;
        self.try_reserve(n).ok()?;
        self.resize(end, 0);
        Some(&mut self[at..])
    }
}

impl<W: Write> PartSink for std::io::BufWriter<W> {}

impl PartSink for std::io::Sink {}

/// A part's headers as the reader uses them.
struct PartHeaders {
    content_type: Option<String>,
    /// `Content-Length`, when given as a plain decimal number.
    content_length: Option<u64>,
}

/// The boundary parameter of a `multipart/related` Content-Type.
pub fn boundary_of(content_type: &str) -> Result<String, MultipartError> {
    let mut params = content_type.split(';');
    let kind = params.next().unwrap_or_default().trim();
    if !kind.eq_ignore_ascii_case("multipart/related") {
        return Err(MultipartError::NotMultipart(
            content_type.chars().take(100).collect(),
        ));
    }
    for p in params {
        let Some((name, value)) = p.split_once('=') else {
            continue;
        };
        if name.trim().eq_ignore_ascii_case("boundary") {
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            if value.is_empty() {
                return Err(MultipartError::Boundary("it is empty"));
            }
            if value.len() > MAX_BOUNDARY {
                return Err(MultipartError::Boundary("it is longer than 70 characters"));
            }
            if value.bytes().any(|b| b.is_ascii_control() || !b.is_ascii()) {
                return Err(MultipartError::Boundary("it holds control characters"));
            }
            return Ok(value.to_string());
        }
    }
    Err(MultipartError::Boundary("none given"))
}

/// Reads the parts of a multipart body from `R` one at a time.
#[derive(Debug)]
pub struct MultipartReader<R> {
    source: R,
    /// `CRLF--boundary`: what ends a part's body.
    delimiter: Vec<u8>,
    buf: Vec<u8>,
    /// Unconsumed bytes are `buf[start..end]`.
    start: usize,
    end: usize,
    eof: bool,
    /// The preamble is skipped and a delimiter line consumed: the next bytes are a part's
    /// headers. False before the first part, and true again after each part.
    at_part: bool,
    finished: bool,
    /// Whether the parts' stated lengths are used (see the module's doc).
    lengths: Lengths,
}

/// What the reader makes of the parts' `Content-Length`s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lengths {
    /// No part has stated one yet: the next that does is scanned and its length compared.
    Untried,
    /// The first stated length was right: parts that state one are read directly.
    Trusted,
    /// The first stated length was wrong: every part is found by its delimiter alone.
    Ignored,
}

impl<R: Read> MultipartReader<R> {
    /// A reader of the body `source` whose Content-Type was `content_type`.
    pub fn new(source: R, content_type: &str) -> Result<Self, MultipartError> {
        let boundary = boundary_of(content_type)?;
        Ok(Self::with_boundary(source, &boundary))
    }

    /// A reader for a boundary checked by [`boundary_of`]: 1 to 70 bytes, no control
    /// characters — so the delimiter has no border, which the direct reads rely on.
    fn with_boundary(source: R, boundary: &str) -> Self {
        let mut delimiter = b"\r\n--".to_vec();
        delimiter.extend_from_slice(boundary.as_bytes());
        let mut buf = vec![0u8; BUFFER + delimiter.len() + MAX_HEADER_BYTES];
        // A body may start with its first delimiter line at once, without the CRLF that
        // precedes every other delimiter: reading as if one were there finds both alike.
        buf[..2].copy_from_slice(b"\r\n");
        MultipartReader {
            source,
            delimiter,
            buf,
            start: 0,
            end: 2,
            eof: false,
            at_part: false,
            finished: false,
            lengths: Lengths::Untried,
        }
    }

    fn pending(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Reads more from the source, moving what is unconsumed to the front. Returns false at
    /// the end of the source or when the buffer is full.
    fn fill(&mut self) -> Result<bool, MultipartError> {
        if self.eof {
            return Ok(false);
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            return Ok(false);
        }
        loop {
            match self.source.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(true);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(MultipartError::Read(e)),
            }
        }
    }

    /// Copies the bytes up to the next delimiter to `out` (at most `limit` of them), then
    /// consumes the delimiter. Returns the bytes copied.
    fn copy_to_delimiter(
        &mut self,
        out: &mut dyn Write,
        limit: u64,
    ) -> Result<u64, MultipartError> {
        let finder = memmem::Finder::new(&self.delimiter).into_owned();
        let mut copied: u64 = 0;
        loop {
            let pending = self.pending();
            if let Some(at) = finder.find(pending) {
                copied += at as u64;
                if copied > limit {
                    return Err(MultipartError::PartTooLarge { limit });
                }
                out.write_all(&pending[..at])
                    .map_err(MultipartError::Write)?;
                self.start += at + self.delimiter.len();
                return Ok(copied);
            }
            // Everything but a tail that could be the start of a delimiter is body.
            let keep = (self.delimiter.len() - 1).min(pending.len());
            let safe = pending.len() - keep;
            if safe > 0 {
                copied += safe as u64;
                if copied > limit {
                    return Err(MultipartError::PartTooLarge { limit });
                }
                out.write_all(&pending[..safe])
                    .map_err(MultipartError::Write)?;
                self.start += safe;
            }
            if !self.fill()? && self.eof {
                return Err(MultipartError::Truncated);
            }
        }
    }

    /// Fills `room` with the body (what is buffered, then straight from the source), then
    /// consumes the delimiter that must follow it. Returns the bytes read. The body is what
    /// the scan would have copied: it holds no delimiter, and one follows it at once (the
    /// delimiter has no border — the boundary holds no CR or LF — so none can start inside
    /// the body and end past it).
    fn read_into(&mut self, room: &mut [u8]) -> Result<u64, MultipartError> {
        let buffered = self.pending().len().min(room.len());
        room[..buffered].copy_from_slice(&self.buf[self.start..self.start + buffered]);
        self.start += buffered;
        let mut filled = buffered;
        while filled < room.len() {
            match self.source.read(&mut room[filled..]) {
                Ok(0) => {
                    self.eof = true;
                    // The scan would have ended the part at a delimiter read meanwhile.
                    if memmem::find(&room[..filled], &self.delimiter).is_some() {
                        return Err(RUNS_PAST);
                    }
                    return Err(MultipartError::Truncated);
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(MultipartError::Read(e)),
            }
        }
        if memmem::find(room, &self.delimiter).is_some() {
            return Err(RUNS_PAST);
        }
        while self.pending().len() < self.delimiter.len() {
            if !self.fill()? && self.eof {
                return Err(if self.straddles(room) {
                    RUNS_PAST
                } else {
                    MultipartError::Truncated
                });
            }
        }
        if !self.pending().starts_with(&self.delimiter) {
            return Err(if self.straddles(room) {
                RUNS_PAST
            } else {
                ENDS_ELSEWHERE
            });
        }
        self.start += self.delimiter.len();
        Ok(room.len() as u64)
    }

    /// Whether a delimiter starts inside the tail of `room` and ends in what is buffered: the
    /// scan would have ended the part there, before the stated length.
    fn straddles(&self, room: &[u8]) -> bool {
        let k = (self.delimiter.len() - 1).min(room.len());
        let window = [&room[room.len() - k..], self.pending()].concat();
        memmem::find(&window, &self.delimiter).is_some_and(|at| at < k)
    }

    /// After a delimiter: `--` closes the body; otherwise transport padding (spaces and tabs)
    /// and a CRLF lead to the next part. Returns true at the close.
    fn after_delimiter(&mut self) -> Result<bool, MultipartError> {
        loop {
            let pending = self.pending();
            if pending.len() >= 2 && &pending[..2] == b"--" {
                return Ok(true);
            }
            let pad = pending
                .iter()
                .take_while(|b| **b == b' ' || **b == b'\t')
                .count();
            if pad > MAX_HEADER_BYTES {
                return Err(MultipartError::Headers("too much padding after a boundary"));
            }
            let rest = &pending[pad..];
            if rest.len() >= 2 {
                if &rest[..2] == b"\r\n" {
                    self.start += pad + 2;
                    return Ok(false);
                }
                return Err(MultipartError::Headers("a boundary line goes on after it"));
            }
            if !self.fill()? && self.eof {
                return Err(MultipartError::Truncated);
            }
        }
    }

    /// Reads the part headers (up to the blank line), keeping its Content-Type and length.
    fn headers(&mut self) -> Result<PartHeaders, MultipartError> {
        loop {
            let pending = self.pending();
            // Headers end at the first blank line; a part with no headers starts with one.
            let end = if pending.starts_with(b"\r\n") {
                Some((0, 2))
            } else {
                memmem::find(pending, b"\r\n\r\n").map(|at| (at, at + 4))
            };
            match end {
                Some((at, consumed)) if at <= MAX_HEADER_BYTES => {
                    let headers = headers_in(&pending[..at])?;
                    self.start += consumed;
                    return Ok(headers);
                }
                Some(_) => return Err(MultipartError::Headers("they are longer than 8 KiB")),
                None if pending.len() > MAX_HEADER_BYTES => {
                    return Err(MultipartError::Headers("they are longer than 8 KiB"))
                }
                None => {
                    if !self.fill()? && self.eof {
                        return Err(MultipartError::Truncated);
                    }
                }
            }
        }
    }

    /// Copies the next part's body to `out` (refusing one over `limit` bytes) and returns its
    /// headers and size; `None` after the closing boundary. On an error the body is not
    /// usable any further.
    pub fn next_part(
        &mut self,
        out: &mut dyn PartSink,
        limit: u64,
    ) -> Result<Option<PartInfo>, MultipartError> {
        if self.finished {
            return Ok(None);
        }
        if !self.at_part {
            // The preamble (ignored): everything before the first delimiter.
            self.copy_to_delimiter(&mut std::io::sink(), MAX_PREAMBLE)
                .map_err(|e| match e {
                    MultipartError::PartTooLarge { .. } => {
                        MultipartError::Headers("no boundary in the first 64 KiB")
                    }
                    e => e,
                })?;
            if self.after_delimiter()? {
                self.finished = true;
                return Ok(None);
            }
            self.at_part = true;
        }
        let PartHeaders {
            content_type,
            content_length,
        } = self.headers()?;
        // A stated length past the limit is left to the scan, which refuses the part only if
        // it is that long.
        let room = content_length
            .filter(|&n| n <= limit && self.lengths == Lengths::Trusted)
            .and_then(|n| usize::try_from(n).ok())
            .and_then(|n| out.room(n));
        let bytes = match room {
            Some(room) => self.read_into(room)?,
            None => self.copy_to_delimiter(out, limit)?,
        };
        if let (Lengths::Untried, Some(stated)) = (self.lengths, content_length) {
            self.lengths = if stated == bytes {
                Lengths::Trusted
            } else {
                Lengths::Ignored
            };
        }
        if self.after_delimiter()? {
            // The epilogue after the close is ignored, unread.
            self.finished = true;
            self.at_part = false;
        }
        Ok(Some(PartInfo {
            content_type,
            bytes,
        }))
    }
}

/// The Content-Type and Content-Length among a part's header lines. A length that is not a
/// plain decimal number is not used (the part is then found by its delimiter alone).
fn headers_in(block: &[u8]) -> Result<PartHeaders, MultipartError> {
    let text =
        std::str::from_utf8(block).map_err(|_| MultipartError::Headers("they are not UTF-8"))?;
    let mut found = PartHeaders {
        content_type: None,
        content_length: None,
    };
    for line in text.split("\r\n") {
        if line.is_empty() {
            continue;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or(MultipartError::Headers("a line has no colon"))?;
        let (name, value) = (name.trim(), value.trim());
        if name.eq_ignore_ascii_case("content-type") {
            found.content_type = Some(value.to_string());
        } else if name.eq_ignore_ascii_case("content-length") {
            found.content_length = value
                .bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| value.parse().ok())
                .flatten();
        }
    }
    Ok(found)
}

/// A sink that takes every byte through `write` (no [`PartSink::room`]): the reader's scan
/// alone, whatever the parts' headers say. For the tests and the fuzz target, which hold the
/// direct reads to it.
#[doc(hidden)]
#[derive(Debug, Default)]
pub struct Scanned(pub Vec<u8>);

impl Write for Scanned {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl PartSink for Scanned {}

/// Fuzzing entry point: reads every part of `data` (a body with boundary `b`) twice, with small
/// limits — by the scan alone, and straight into memory where a part states its length — and
/// checks what the reader promises: it never reports more bytes than it copied, never copies
/// more than the body holds, and a stated length never changes a part's bytes (the direct
/// read gives the scan's parts, or refuses the body).
pub fn fuzz_multipart(data: &[u8]) {
    // The first line is the Content-Type, so the fuzzer explores boundaries as well.
    let (header, body) = match memchr::memchr(b'\n', data) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    let Ok(content_type) = std::str::from_utf8(header) else {
        return;
    };
    let (Ok(mut scan), Ok(mut direct)) = (
        MultipartReader::new(body, content_type),
        MultipartReader::new(body, content_type),
    ) else {
        return;
    };
    let mut total = 0u64;
    for _ in 0..1024 {
        let (mut scanned, mut kept) = (Scanned::default(), Vec::new());
        let by_scan = scan.next_part(&mut scanned, 1 << 20);
        match (by_scan, direct.next_part(&mut kept, 1 << 20)) {
            (Ok(Some(a)), Ok(Some(b))) => {
                assert_eq!(a.bytes, scanned.0.len() as u64);
                assert_eq!(b.bytes, kept.len() as u64);
                assert_eq!(scanned.0, kept, "a stated length changed a part");
                total += a.bytes;
                assert!(total <= body.len() as u64);
            }
            (Ok(None), Ok(None)) | (Err(_), Err(_)) => break,
            // The direct read refuses a part the scan takes only for a length that disagrees.
            (Ok(Some(_)), Err(e)) => {
                let e = e.to_string();
                assert!(
                    e == RUNS_PAST.to_string() || e == ENDS_ELSEWHERE.to_string(),
                    "the direct read refused a part the scan took: {e}"
                );
                break;
            }
            (a, b) => panic!("the direct read took what the scan did not: {a:?}, {b:?}"),
        }
    }
}

#[cfg(test)]
mod tests;
