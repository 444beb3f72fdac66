//! A walk over the marker segments of a JPEG stream, to mend the one harmless flaw common in
//! DICOM files before libjpeg-turbo (which is told to stop on any warning) sees it.
//!
//! Sequential DCT scans must say spectral selection 0..63 and no successive approximation;
//! several DICOM encoders write other values there (the corpus's 12-bit NM images say 0..0).
//! libjpeg warns and decodes as if 0..63 were written; this does the same without the warning, so
//! that every remaining warning can be treated as the corrupt data it signals.

use std::borrow::Cow;

const SOF0_BASELINE: u8 = 0xC0;
const SOF1_EXTENDED: u8 = 0xC1;
const SOF55_JPEG_LS: u8 = 0xF7;
const SOS: u8 = 0xDA;
const APP0: u8 = 0xE0;
const APP14: u8 = 0xEE;
const EOI: u8 = 0xD9;

/// The stream with every sequential-DCT scan header set to 0..63, 0/0; unchanged when nothing
/// needs mending or the stream cannot be walked (libjpeg-turbo then reports what is wrong).
pub(crate) fn mend_sequential_scans(stream: &[u8]) -> Cow<'_, [u8]> {
    match scan_parameter_offsets(stream) {
        Some(offsets) if offsets.iter().any(|&at| stream[at..at + 3] != [0, 63, 0]) => {
            let mut mended = stream.to_vec();
            for at in offsets {
                mended[at..at + 3].copy_from_slice(&[0, 63, 0]);
            }
            Cow::Owned(mended)
        }
        _ => Cow::Borrowed(stream),
    }
}

/// One marker segment: the marker, its body, and where the next marker starts.
struct Segment<'a> {
    marker: u8,
    body: &'a [u8],
    next: usize,
}

/// The marker segment at `at` (after any fill bytes); `None` at EOI or when it does not parse.
fn segment_at(stream: &[u8], mut at: usize) -> Option<Segment<'_>> {
    // Fill bytes (0xFF) may precede a marker.
    while stream.get(at + 1) == Some(&0xFF) && stream[at] == 0xFF {
        at += 1;
    }
    if *stream.get(at)? != 0xFF {
        return None;
    }
    let marker = *stream.get(at + 1)?;
    if marker == EOI {
        return None;
    }
    let length = usize::from(u16::from_be_bytes([
        *stream.get(at + 2)?,
        *stream.get(at + 3)?,
    ]));
    let body = stream.get(at + 4..at + 4 + length.checked_sub(2)?)?;
    Some(Segment {
        marker,
        body,
        next: at + 2 + length,
    })
}

fn is_frame_header(marker: u8) -> bool {
    ((0xC0..=0xCF).contains(&marker) && ![0xC4, 0xC8, 0xCC].contains(&marker))
        || marker == SOF55_JPEG_LS
}

/// The stream with an Adobe APP14 marker saying "no colour transform" after SOI, unless it already
/// has a JFIF or Adobe marker (which then decide the colour space, as libjpeg reads them).
pub(crate) fn with_adobe_no_transform(stream: &[u8]) -> Cow<'_, [u8]> {
    let mut at = 2;
    if stream.get(..2) != Some(&[0xFF, 0xD8]) {
        return Cow::Borrowed(stream);
    }
    while let Some(segment) = segment_at(stream, at) {
        let is = |id: &[u8]| segment.body.starts_with(id);
        if (segment.marker == APP0 && is(b"JFIF\0")) || (segment.marker == APP14 && is(b"Adobe")) {
            return Cow::Borrowed(stream);
        }
        if segment.marker == SOS {
            break;
        }
        at = segment.next;
    }
    let mut mended = Vec::with_capacity(stream.len() + 16);
    mended.extend_from_slice(&stream[..2]);
    // APP14, length 14, "Adobe", version 100, flags 0 and 0, transform 0 (none).
    mended.extend_from_slice(&[0xFF, APP14, 0, 14]);
    mended.extend_from_slice(b"Adobe");
    mended.extend_from_slice(&[0, 100, 0, 0, 0, 0, 0]);
    mended.extend_from_slice(&stream[2..]);
    Cow::Owned(mended)
}

/// Offsets of (Ss, Se, Ah/Al) in every scan header of a sequential DCT stream; `None` for other
/// processes or a stream that does not parse.
fn scan_parameter_offsets(stream: &[u8]) -> Option<Vec<usize>> {
    if stream.get(..2)? != [0xFF, 0xD8] {
        return None;
    }
    let mut at = 2;
    let mut sequential = None;
    let mut offsets = Vec::new();
    loop {
        let Some(segment) = segment_at(stream, at) else {
            let ended = stream.get(at..at + 2) == Some(&[0xFF, EOI]);
            return (ended && sequential == Some(true)).then_some(offsets);
        };
        if is_frame_header(segment.marker) {
            sequential = Some(matches!(segment.marker, SOF0_BASELINE | SOF1_EXTENDED));
        }
        at = segment.next;
        if segment.marker == SOS {
            let components = usize::from(*segment.body.first()?);
            if segment.body.len() != 1 + 2 * components + 3 {
                return None;
            }
            offsets.push(at - 3);
            at = skip_entropy_coded(stream, at)?;
        }
    }
}

/// How many scans a sequential DCT stream (baseline or extended, SOF0/SOF1) has, walked from
/// SOI to EOI without decoding; `None` for other processes or a stream that does not walk. A
/// caller can bound the work a decoder without a scan limit of its own will do.
pub fn sequential_scans(stream: &[u8]) -> Option<usize> {
    scan_parameter_offsets(stream).map(|offsets| offsets.len())
}

/// What a JPEG or JPEG-LS frame header (SOFn / SOF55) says about the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    pub marker: u8,
    pub precision: u8,
    pub rows: u16,
    pub columns: u16,
    pub components: u8,
}

/// The frame header of a JPEG (any process) or JPEG-LS stream, read without decoding anything,
/// so that a caller can compare it with what it expects before a decoder allocates.
pub fn frame_header(stream: &[u8]) -> Option<FrameHeader> {
    if stream.get(..2)? != [0xFF, 0xD8] {
        return None;
    }
    let mut at = 2;
    loop {
        let segment = segment_at(stream, at)?;
        if is_frame_header(segment.marker) {
            let b = segment.body;
            return Some(FrameHeader {
                marker: segment.marker,
                precision: *b.first()?,
                rows: u16::from_be_bytes([*b.get(1)?, *b.get(2)?]),
                columns: u16::from_be_bytes([*b.get(3)?, *b.get(4)?]),
                components: *b.get(5)?,
            });
        }
        if segment.marker == SOS {
            return None;
        }
        at = segment.next;
    }
}

/// The offset of the first marker after entropy-coded data starting at `at` (stuffed 0xFF00 and
/// restart markers are part of the data).
fn skip_entropy_coded(stream: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let next = at + stream.get(at..)?.iter().position(|&b| b == 0xFF)?;
        match *stream.get(next + 1)? {
            0x00 | 0xD0..=0xD7 => at = next + 2,
            0xFF => at = next + 1,
            _ => return Some(next),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SOI, SOF1 (1 component), SOS with the given Ss/Se/AhAl, two data bytes with a stuffed
    /// 0xFF00 and a restart marker, EOI.
    fn stream(ss_se_a: [u8; 3], sof: u8) -> Vec<u8> {
        let mut s = vec![0xFF, 0xD8];
        s.extend_from_slice(&[0xFF, sof, 0, 11, 12, 0, 8, 0, 8, 1, 1, 0x11, 0]);
        s.extend_from_slice(&[0xFF, SOS, 0, 8, 1, 1, 0]);
        s.extend_from_slice(&ss_se_a);
        s.extend_from_slice(&[0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD0, 0x56, 0xFF, EOI]);
        s
    }

    #[test]
    fn a_sequential_scan_saying_zero_to_zero_is_mended_to_zero_to_sixty_three() {
        let original = stream([0, 0, 0], SOF1_EXTENDED);
        let mended = mend_sequential_scans(&original);
        assert_eq!(mended.into_owned(), stream([0, 63, 0], SOF1_EXTENDED));
    }

    #[test]
    fn scans_of_sequential_streams_are_counted_and_other_processes_are_not() {
        assert_eq!(
            sequential_scans(&stream([0, 63, 0], SOF0_BASELINE)),
            Some(1)
        );
        let mut two = stream([0, 63, 0], SOF1_EXTENDED);
        let eoi = two.len() - 2;
        let second_scan = two[15..eoi].to_vec();
        two.splice(eoi..eoi, second_scan);
        assert_eq!(sequential_scans(&two), Some(2));
        assert_eq!(sequential_scans(&stream([0, 63, 0], 0xC2)), None);
        assert_eq!(sequential_scans(&stream([0, 63, 0], 0xC3)), None);
        let whole = stream([0, 63, 0], SOF0_BASELINE);
        assert_eq!(sequential_scans(&whole[..whole.len() - 2]), None, "no EOI");
    }

    #[test]
    fn the_frame_header_is_read_without_decoding() {
        let header = frame_header(&stream([0, 63, 0], SOF1_EXTENDED)).unwrap();
        assert_eq!(
            header,
            FrameHeader {
                marker: SOF1_EXTENDED,
                precision: 12,
                rows: 8,
                columns: 8,
                components: 1
            }
        );
        assert_eq!(frame_header(&[0xFF, 0xD8, 0xFF, SOS, 0, 2]), None);
        assert_eq!(frame_header(b"junk"), None);
    }

    #[test]
    fn an_adobe_no_transform_marker_is_added_only_where_no_colour_marker_is() {
        let bare = stream([0, 63, 0], SOF0_BASELINE);
        let mended = with_adobe_no_transform(&bare);
        assert_eq!(
            &mended[2..11],
            &[0xFF, APP14, 0, 14, b'A', b'd', b'o', b'b', b'e']
        );
        assert_eq!(mended[17], 0, "transform: none");
        assert_eq!(&mended[18..], &bare[2..]);
        // Already marked: left alone, whichever marker it is.
        assert!(matches!(with_adobe_no_transform(&mended), Cow::Borrowed(_)));
        let mut jfif = vec![0xFF, 0xD8, 0xFF, APP0, 0, 7];
        jfif.extend_from_slice(b"JFIF\0");
        jfif.extend_from_slice(&bare[2..]);
        assert!(matches!(with_adobe_no_transform(&jfif), Cow::Borrowed(_)));
    }

    #[test]
    fn a_correct_stream_is_not_copied() {
        let original = stream([0, 63, 0], SOF0_BASELINE);
        assert!(matches!(mend_sequential_scans(&original), Cow::Borrowed(_)));
    }

    #[test]
    fn progressive_and_lossless_scans_keep_their_parameters() {
        for sof in [0xC2, 0xC3] {
            let original = stream([1, 5, 0], sof);
            assert!(matches!(mend_sequential_scans(&original), Cow::Borrowed(_)));
        }
    }

    #[test]
    fn streams_that_do_not_walk_are_left_for_the_decoder_to_refuse() {
        let whole = stream([0, 0, 0], SOF1_EXTENDED);
        for cut in 0..whole.len() {
            let _ = mend_sequential_scans(&whole[..cut]);
        }
        let mut bad_length = whole.clone();
        bad_length[5] = 0xFF;
        assert!(matches!(
            mend_sequential_scans(&bad_length),
            Cow::Borrowed(_)
        ));
    }
}
