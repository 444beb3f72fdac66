//! A streaming reader of `multipart/related` bodies (RFC 2046 §5.1, RFC 2387), as WADO-RS
//! sends a study: one part per instance, each copied to a writer as it arrives.
//!
//! Written by hand rather than taken from `multer` because that crate is async (it wants a
//! `Stream` of `Bytes` and a runtime) and the DICOMweb client is a blocking reader; what is
//! needed here is small: find the boundary, skip the part headers (bounded), copy the body. The
//! reader holds one fixed buffer ([`BUFFER`] plus the delimiter), so memory does not grow with a
//! part or with the study: a 500-instance study costs what one buffer costs.

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
}

impl<R: Read> MultipartReader<R> {
    /// A reader of the body `source` whose Content-Type was `content_type`.
    pub fn new(source: R, content_type: &str) -> Result<Self, MultipartError> {
        let boundary = boundary_of(content_type)?;
        Ok(Self::with_boundary(source, &boundary))
    }

    /// A reader for a known boundary (1 to 70 bytes, checked by [`boundary_of`]).
    pub fn with_boundary(source: R, boundary: &str) -> Self {
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

    /// Reads the part headers (up to the blank line), keeping its Content-Type.
    fn headers(&mut self) -> Result<Option<String>, MultipartError> {
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
                    let block = &pending[..at];
                    let content_type = content_type_in(block)?;
                    self.start += consumed;
                    return Ok(content_type);
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
        out: &mut dyn Write,
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
        let content_type = self.headers()?;
        let bytes = self.copy_to_delimiter(out, limit)?;
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

/// The Content-Type among a part's header lines.
fn content_type_in(block: &[u8]) -> Result<Option<String>, MultipartError> {
    let text =
        std::str::from_utf8(block).map_err(|_| MultipartError::Headers("they are not UTF-8"))?;
    let mut found = None;
    for line in text.split("\r\n") {
        if line.is_empty() {
            continue;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or(MultipartError::Headers("a line has no colon"))?;
        if name.trim().eq_ignore_ascii_case("content-type") {
            found = Some(value.trim().to_string());
        }
    }
    Ok(found)
}

/// Fuzzing entry point: reads every part of `data` (a body with boundary `b`) into a counting
/// sink, with small limits, and checks what the reader promises: it never reports more bytes
/// than it copied, and never copies more than the body holds.
pub fn fuzz_multipart(data: &[u8]) {
    struct Count(u64);
    impl Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len() as u64;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    // The first line is the Content-Type, so the fuzzer explores boundaries as well.
    let (header, body) = match memchr::memchr(b'\n', data) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    let Ok(content_type) = std::str::from_utf8(header) else {
        return;
    };
    let Ok(mut reader) = MultipartReader::new(body, content_type) else {
        return;
    };
    let mut total = 0u64;
    for _ in 0..1024 {
        let mut count = Count(0);
        match reader.next_part(&mut count, 1 << 20) {
            Ok(Some(part)) => {
                assert_eq!(part.bytes, count.0);
                total += part.bytes;
                assert!(total <= body.len() as u64);
            }
            Ok(None) | Err(_) => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(body: &[u8], content_type: &str) -> Result<Vec<Part>, MultipartError> {
        let mut reader = MultipartReader::new(body, content_type)?;
        let mut out = Vec::new();
        loop {
            let mut part = Vec::new();
            match reader.next_part(&mut part, 1 << 20)? {
                Some(info) => {
                    assert_eq!(info.bytes as usize, part.len());
                    out.push((info.content_type, part));
                }
                None => return Ok(out),
            }
        }
    }

    /// A part read back: its Content-Type and body.
    type Part = (Option<String>, Vec<u8>);

    const CT: &str = "multipart/related; type=\"application/dicom\"; boundary=\"b0und\"";

    #[test]
    fn reads_parts_with_preamble_headers_and_epilogue() {
        let body = b"preamble\r\n--b0und\r\nContent-Type: application/dicom\r\n\r\nDICM one\r\n--b0und  \r\n\r\n\r\ntwo\r\n\r\n--b0und--\r\nepilogue";
        let got = parts(body, CT).unwrap();
        assert_eq!(
            got,
            vec![
                (Some("application/dicom".into()), b"DICM one".to_vec()),
                (None, b"\r\ntwo\r\n".to_vec()),
            ]
        );
    }

    #[test]
    fn a_body_starting_at_its_delimiter_and_unquoted_boundary() {
        let body = b"--xyz\r\n\r\nA\r\n--xyz--";
        let got = parts(body, "Multipart/Related; boundary=xyz").unwrap();
        assert_eq!(got, vec![(None, b"A".to_vec())]);
    }

    #[test]
    fn refuses_what_is_not_multipart_or_ends_early() {
        assert!(matches!(
            parts(b"", "application/json"),
            Err(MultipartError::NotMultipart(_))
        ));
        assert!(matches!(
            parts(b"", "multipart/related; type=x"),
            Err(MultipartError::Boundary(_))
        ));
        assert!(matches!(
            parts(b"--b0und\r\n\r\nhalf a file", CT),
            Err(MultipartError::Truncated)
        ));
        assert!(matches!(
            parts(b"no delimiter at all", CT),
            Err(MultipartError::Truncated)
        ));
        let long = format!("multipart/related; boundary={}", "a".repeat(71));
        assert!(matches!(
            parts(b"", &long),
            Err(MultipartError::Boundary(_))
        ));
    }

    #[test]
    fn refuses_a_part_over_its_limit_and_endless_headers() {
        let body = [b"--b\r\n\r\n".as_slice(), &[7u8; 5000], b"\r\n--b--"].concat();
        let mut reader = MultipartReader::new(&body[..], "multipart/related; boundary=b").unwrap();
        let err = reader.next_part(&mut Vec::new(), 4096).unwrap_err();
        assert!(matches!(err, MultipartError::PartTooLarge { limit: 4096 }));

        let body = [b"--b\r\nX: ".as_slice(), &[b'a'; 20_000]].concat();
        let mut reader = MultipartReader::new(&body[..], "multipart/related; boundary=b").unwrap();
        let err = reader.next_part(&mut Vec::new(), 4096).unwrap_err();
        assert!(matches!(err, MultipartError::Headers(_)), "{err}");
    }

    /// A reader that hands out one byte at a time, so delimiters straddle every refill.
    struct Trickle<'a>(&'a [u8]);
    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.0.is_empty() || buf.is_empty() {
                return Ok(0);
            }
            buf[0] = self.0[0];
            self.0 = &self.0[1..];
            Ok(1)
        }
    }

    proptest::proptest! {
        /// Any bodies (large ones crossing the buffer, ones holding near-delimiters) come back
        /// exactly, whether the source hands out everything or one byte at a time.
        #[test]
        fn round_trips(bodies in proptest::collection::vec(
            proptest::collection::vec(proptest::prop_oneof![
                proptest::strategy::Just(b'\r'), proptest::strategy::Just(b'\n'),
                proptest::strategy::Just(b'-'), proptest::strategy::Just(b'q'), 0u8..=255u8
            ], 0..3000), 0..5), big in 0usize..2, trickle in proptest::bool::ANY) {
            let boundary = "q-q";
            let mut bodies = bodies;
            if big == 1 {
                bodies.push((0..200_000).map(|i| (i % 251) as u8).collect());
            }
            let mut body = Vec::new();
            for b in &bodies {
                body.extend_from_slice(b"--q-q\r\nContent-Type: application/dicom\r\n\r\n");
                body.extend_from_slice(b);
                body.extend_from_slice(b"\r\n");
            }
            body.extend_from_slice(b"--q-q--\r\n");
            let content_type = format!("multipart/related; boundary={boundary}");
            let mut reader: MultipartReader<Box<dyn Read>> = if trickle && big == 0 {
                MultipartReader::new(Box::new(Trickle(&body)) as Box<dyn Read>, &content_type).unwrap()
            } else {
                MultipartReader::new(Box::new(&body[..]) as Box<dyn Read>, &content_type).unwrap()
            };
            // A part holding the delimiter itself would be cut: no honest body does, since
            // the sender picks a boundary its parts do not contain; and the delimiter has no
            // border, so nothing else can be mistaken for it. A dishonest one may be refused.
            let honest = bodies.iter().all(|b| memmem::find(b, b"\r\n--q-q").is_none());
            let mut got = Vec::new();
            loop {
                let mut part = Vec::new();
                match reader.next_part(&mut part, 1 << 20) {
                    Ok(Some(_)) => got.push(part),
                    Ok(None) => break,
                    Err(e) => {
                        proptest::prop_assert!(!honest, "{e}");
                        break;
                    }
                }
            }
            if honest {
                proptest::prop_assert_eq!(got, bodies);
            }
        }
    }
}
