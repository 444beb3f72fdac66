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
