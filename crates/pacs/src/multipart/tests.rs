//! The multipart reader's tests: parts read by the scan and straight into memory.

use super::*;

/// Every part of `body`, read straight into memory where a part states its length; the
/// same read by the scan alone must agree with it, or the direct read must have refused.
fn parts(body: &[u8], content_type: &str) -> Result<Vec<Part>, MultipartError> {
    let direct = read_all(body, content_type, Vec::new, |v| v);
    let scanned = read_all(body, content_type, Scanned::default, |s| s.0);
    if let Ok(direct) = &direct {
        assert_eq!(Some(direct), scanned.as_ref().ok(), "{scanned:?}");
    }
    direct
}

fn read_all<S: PartSink>(
    body: &[u8],
    content_type: &str,
    sink: impl Fn() -> S,
    bytes: impl Fn(S) -> Vec<u8>,
) -> Result<Vec<Part>, MultipartError> {
    let mut reader = MultipartReader::new(body, content_type)?;
    let mut out = Vec::new();
    loop {
        let mut part = sink();
        match reader.next_part(&mut part, 1 << 20)? {
            Some(info) => {
                let part = bytes(part);
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

/// A sink that keeps what it is given and the room it was asked for.
#[derive(Default)]
struct Asked(Vec<u8>, Vec<usize>);

impl Write for Asked {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl PartSink for Asked {
    fn room(&mut self, n: usize) -> Option<&mut [u8]> {
        self.1.push(n);
        self.0.room(n)
    }
}

/// A part read into an `Asked`: its bytes, and the room it asked for.
type AskedPart = (Vec<u8>, Vec<usize>);

/// Reads every part into an `Asked`.
fn asked(body: &[u8], content_type: &str) -> Result<Vec<AskedPart>, MultipartError> {
    let mut reader = MultipartReader::new(body, content_type)?;
    let mut out = Vec::new();
    loop {
        let mut sink = Asked::default();
        match reader.next_part(&mut sink, 1 << 20)? {
            Some(_) => out.push((sink.0, sink.1)),
            None => return Ok(out),
        }
    }
}

/// Once the first stated length proved right (found by the scan), a part that states its
/// length is read straight into memory — the room asked is its length, nothing more — and
/// comes back the same as by the scan (`parts` holds the two to each other); a length of
/// another form is not used, and the part is found by its delimiter.
#[test]
fn a_stated_length_is_read_directly_once_the_first_proved_right() {
    let body = b"--b0und\r\nContent-Length: 3\r\n\r\none\r\n--b0und\r\nContent-Type: application/dicom\r\nContent-Length: 8\r\n\r\nDICM two\r\n--b0und\r\ncontent-length: +5\r\n\r\nthree\r\n--b0und--";
    let got = parts(body, CT).unwrap();
    assert_eq!(
        got,
        vec![
            (None, b"one".to_vec()),
            (Some("application/dicom".into()), b"DICM two".to_vec()),
            (None, b"three".to_vec()),
        ]
    );
    let rooms: Vec<Vec<usize>> = asked(body, CT).unwrap().into_iter().map(|p| p.1).collect();
    assert_eq!(rooms, vec![vec![], vec![8], vec![]]);
}

/// An archive whose stated lengths are off (here counting the CRLF before the delimiter) is
/// read by its delimiters alone: its first stated length was found wrong, so none is used.
#[test]
fn lengths_found_wrong_on_the_first_part_are_never_used() {
    let body =
        b"--b\r\nContent-Length: 6\r\n\r\nDICM\r\n--b\r\nContent-Length: 8\r\n\r\nDICM 2\r\n--b--";
    let got = asked(body, "multipart/related; boundary=b").unwrap();
    assert_eq!(
        got,
        vec![(b"DICM".to_vec(), vec![]), (b"DICM 2".to_vec(), vec![])]
    );
}

/// Once lengths are trusted, one that would make a part of other bytes than its delimiters
/// do — running past the delimiter, stopping short of it, past the end of the body — refuses
/// the body; the scan alone reads the same bodies' parts by their delimiters.
#[test]
fn a_trusted_length_that_disagrees_with_the_delimiters_is_refused() {
    let first = "--b0und\r\nContent-Length: 3\r\n\r\none\r\n";
    for (length, what) in [
        ("20", "runs past its boundary"),
        ("5", "does not end at its boundary"),
        ("900", "runs past its boundary"),
        // Into the delimiter: it starts inside the stated length and ends past it.
        ("10", "runs past its boundary"),
    ] {
        let body = format!(
            "{first}--b0und\r\nContent-Length: {length}\r\n\r\nDICM two\r\n--b0und\r\n\r\nthree and more\r\n--b0und--"
        );
        let err = read_all(body.as_bytes(), CT, Vec::new, |v| v).unwrap_err();
        assert!(err.to_string().contains(what), "{length}: {err}");
        let scanned = read_all(body.as_bytes(), CT, Scanned::default, |s| s.0).unwrap();
        assert_eq!(scanned[1].1, b"DICM two");
    }
    // A length past the part's limit is left to the scan, which takes a short part.
    let body = format!("{first}--b0und\r\nContent-Length: 999999\r\n\r\nsmall\r\n--b0und--");
    let mut reader = MultipartReader::new(body.as_bytes(), CT).unwrap();
    reader.next_part(&mut Vec::new(), 4096).unwrap().unwrap();
    let mut part = Vec::new();
    let info = reader.next_part(&mut part, 4096).unwrap().unwrap();
    assert_eq!((info.bytes, part.as_slice()), (5, &b"small"[..]));
    // A body that ends inside a part of stated length is truncated.
    let body = format!("{first}--b0und\r\nContent-Length: 100\r\n\r\nhalf");
    let err = read_all(body.as_bytes(), CT, Vec::new, |v| v).unwrap_err();
    assert!(matches!(err, MultipartError::Truncated), "{err}");
}

/// Found by the fuzz target: a trusted length that reaches into the delimiter ending the last
/// part, at the end of the body, was reported as a truncated body; it runs past its boundary.
#[test]
fn a_trusted_length_into_the_last_delimiter_runs_past_its_boundary() {
    let body =
        b"--b\r\nContent-Length: 3\r\n\r\none\r\n--b\r\nContent-Length: 9\r\n\r\nthree\r\n--b--";
    let err = read_all(body, "multipart/related; boundary=b", Vec::new, |v| v).unwrap_err();
    assert!(err.to_string().contains("runs past its boundary"), "{err}");
}

/// A length no memory could hold is read through `write`, not allocated from the header.
#[test]
fn a_vec_gives_no_room_for_a_length_it_cannot_hold() {
    let mut kept = vec![1u8];
    assert!(kept.room(usize::MAX).is_none());
    assert!(Vec::<u8>::new().room(usize::MAX / 2).is_none());
    assert_eq!(kept.room(2).map(|r| r.len()), Some(2));
    assert_eq!(kept, [1, 0, 0]);
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
    /// exactly, whether the source hands out everything or one byte at a time, and whether
    /// the parts state their length (then read straight into memory) or not. Lengths wrong
    /// from the first that is stated are never used; a wrong one after a right one refuses
    /// the body; and a stated length never changes a part: what the direct read gives is what
    /// the scan alone gives.
    #[test]
    fn round_trips(bodies in proptest::collection::vec(
        proptest::collection::vec(proptest::prop_oneof![
            proptest::strategy::Just(b'\r'), proptest::strategy::Just(b'\n'),
            proptest::strategy::Just(b'-'), proptest::strategy::Just(b'q'), 0u8..=255u8
        ], 0..3000), 0..5), big in 0usize..2, trickle in proptest::bool::ANY,
        stated in 0u8..3, off in -3i64..=3, wrong_from in 0usize..6) {
        let boundary = "q-q";
        let mut bodies = bodies;
        if big == 1 {
            bodies.push((0..200_000).map(|i| (i % 251) as u8).collect());
        }
        let mut body = Vec::new();
        for (i, b) in bodies.iter().enumerate() {
            body.extend_from_slice(b"--q-q\r\nContent-Type: application/dicom\r\n");
            // 0: no length; 1: the right one; 2: off by `off` (maybe right after all) from
            // part `wrong_from` on.
            let wrong = stated == 2 && i >= wrong_from;
            let length = b.len() as i64 + if wrong { off } else { 0 };
            if stated > 0 && length >= 0 {
                body.extend_from_slice(format!("Content-Length: {length}\r\n").as_bytes());
            }
            body.extend_from_slice(b"\r\n");
            body.extend_from_slice(b);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(b"--q-q--\r\n");
        let content_type = format!("multipart/related; boundary={boundary}");
        let read = |direct: bool| -> Result<Vec<Vec<u8>>, MultipartError> {
            let mut reader: MultipartReader<Box<dyn Read>> = if trickle && big == 0 {
                MultipartReader::new(Box::new(Trickle(&body)) as Box<dyn Read>, &content_type)?
            } else {
                MultipartReader::new(Box::new(&body[..]) as Box<dyn Read>, &content_type)?
            };
            let mut got = Vec::new();
            loop {
                let part = if direct {
                    let mut part = Vec::new();
                    reader.next_part(&mut part, 1 << 20)?.map(|_| part)
                } else {
                    let mut part = Scanned::default();
                    reader.next_part(&mut part, 1 << 20)?.map(|_| part.0)
                };
                match part {
                    Some(part) => got.push(part),
                    None => return Ok(got),
                }
            }
        };
        // A part holding the delimiter itself would be cut: no honest body does, since
        // the sender picks a boundary its parts do not contain; and the delimiter has no
        // border, so nothing else can be mistaken for it. A dishonest one may be refused.
        let honest = bodies.iter().all(|b| memmem::find(b, b"\r\n--q-q").is_none());
        // A wrong length stated after the first part's right one (part 0 states one when
        // `wrong_from` is past it).
        let refused = stated == 2 && off != 0 && wrong_from >= 1 && bodies.iter().enumerate()
            .any(|(i, b)| i >= wrong_from && b.len() as i64 + off >= 0);
        let direct = read(true);
        if honest && !refused {
            proptest::prop_assert_eq!(direct.as_ref().map_err(|e| e.to_string()), Ok(&bodies));
        }
        if honest && refused {
            proptest::prop_assert!(direct.is_err(), "a wrong trusted length was not refused");
        }
        if let Ok(direct) = direct {
            let scanned = read(false);
            proptest::prop_assert_eq!(Ok(direct), scanned.map_err(|e| e.to_string()));
        }
    }
}
