//! What the fuzz targets check on arbitrary bytes, shared with the corpus replay in `make
//! test`: `dicom_decode` — opening, metadata, decoding and presenting never panic, whatever
//! renders has the size its header promised, and the in-process path renders what the general
//! one does; `sr_parse`; `jpeg_lossless` — the Rust lossless
//! JPEG decoder against libjpeg-turbo.

use crate::{from_bytes, raw_frame, thumbnail, WindowChoice};

pub fn open_decode(data: &[u8]) {
    let Ok(image) = from_bytes(data) else {
        return;
    };
    if let Ok(rendered) = image.render(0, WindowChoice::Default) {
        let expected =
            rendered.width as usize * rendered.height as usize * rendered.channels as usize;
        assert_eq!(
            rendered.pixels.len(),
            expected,
            "rendered size does not match its header"
        );
        let _ = thumbnail(&rendered, 32);
    }
    if let Ok(frame) = image.frame(0) {
        let _ = raw_frame(&frame, &image.info);
    }
    // The in-process path (`render_in_rust`: the routing that decides what never reaches the
    // worker) never panics either, and where it renders it shows what the general path shows.
    if let Ok(Some(in_rust)) = image.render_in_rust(0, WindowChoice::Default) {
        if let Ok(rendered) = image.render(0, WindowChoice::Default) {
            assert_eq!(
                (in_rust.width, in_rust.height, in_rust.channels),
                (rendered.width, rendered.height, rendered.channels),
                "the in-process render differs in shape"
            );
            assert!(
                in_rust.pixels == rendered.pixels,
                "the in-process render differs"
            );
        }
    }
}

/// What the `sr_parse` fuzz target checks on arbitrary bytes, shared with the corpus replay:
/// reading an SR never panics, and what it keeps stays within the documented bounds, each
/// measurement's and finding's references among the report's own.
pub fn sr_parse(data: &[u8]) {
    use crate::sr::{parse_sr, MAX_ITEM_REFERENCES, MAX_REFERENCES, MAX_RESULTS};
    let Ok(sr) = parse_sr(data) else {
        return;
    };
    assert!(sr.measurements.len() <= MAX_RESULTS && sr.findings.len() <= MAX_RESULTS);
    assert!(!sr.measurements.is_empty() || !sr.findings.is_empty());
    assert!(sr.references.len() <= MAX_REFERENCES);
    assert!(sr.references.windows(2).all(|w| w[0] < w[1]));
    let item_references = sr
        .measurements
        .iter()
        .map(|m| &m.references)
        .chain(sr.findings.iter().map(|f| &f.references));
    for references in item_references {
        assert!(references.len() <= MAX_ITEM_REFERENCES);
        assert!(references
            .iter()
            .all(|r| sr.references.binary_search(r).is_ok()));
    }
}

/// What the `jpeg_lossless` fuzz target checks on arbitrary bytes (a JPEG stream), shared with
/// the corpus replay and the differential tests: the Rust lossless decoder never panics, every
/// stream it decodes libjpeg-turbo decodes too, and to the same samples. The frame is asked for
/// at the size its own header gives (at most 4 Mi samples, to keep each input quick). `Some`
/// with the samples when both decoded the stream.
pub fn jpeg_lossless(stream: &[u8]) -> Option<Vec<u16>> {
    use countersign_jpeg::{decode_grey_libjpeg, decode_lossless, GreySamples};
    let header = countersign_jpeg::frame_header(stream)?;
    let (rows, columns) = (u32::from(header.rows), u32::from(header.columns));
    if u64::from(rows) * u64::from(columns) > 1 << 22 {
        return None;
    }
    let widen = |samples: GreySamples| match samples {
        GreySamples::U8(v) => v.into_iter().map(u16::from).collect(),
        GreySamples::U16(v) => v,
    };
    match (
        decode_lossless(stream, rows, columns),
        decode_grey_libjpeg(stream, rows, columns),
    ) {
        (Ok(ours), Ok(theirs)) => {
            assert_eq!(ours.precision, theirs.precision, "precision");
            let (ours, theirs) = (widen(ours.samples), widen(theirs.samples));
            assert!(
                ours == theirs,
                "the Rust decoder and libjpeg-turbo disagree"
            );
            Some(ours)
        }
        (Ok(_), Err(e)) => panic!("the Rust decoder took a stream libjpeg-turbo refuses: {e}"),
        _ => None,
    }
}
