//! What the `dicom_decode` fuzz target checks on arbitrary bytes, shared with the corpus replay
//! in `make test`: opening, metadata, decoding and presenting never panic, and whatever renders
//! has the size its header promised.

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
