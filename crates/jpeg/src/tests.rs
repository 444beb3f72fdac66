use super::*;

/// The first JPEG codestream in a corpus file (SOI to EOI), found without a DICOM parser.
fn stream_of(name: &str) -> Vec<u8> {
    let path = countersign_testkit::corpus(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let start = bytes
        .windows(3)
        .position(|w| w == [0xFF, 0xD8, 0xFF])
        .expect("SOI");
    let end = bytes
        .windows(2)
        .rposition(|w| w == [0xFF, 0xD9])
        .expect("EOI");
    bytes[start..end + 2].to_vec()
}

#[test]
fn twelve_bit_extended_jpeg_decodes_to_twelve_bit_samples() {
    let image = decode_grey(&stream_of("JPEG-lossy.dcm"), 1024, 256).unwrap();
    assert_eq!((image.precision, image.lossless), (12, false));
    let GreySamples::U16(samples) = image.samples else {
        panic!("12-bit samples come as words")
    };
    assert_eq!(samples.len(), 1024 * 256);
    assert!(samples.iter().all(|&v| v < 4096));
    // Not a blank picture: the NM image has a range of values.
    let (min, max) = (samples.iter().min().unwrap(), samples.iter().max().unwrap());
    assert!(max - min > 100, "range {min}..{max}");
}

#[test]
fn lossless_jpeg_decodes_at_its_own_precision() {
    let image = decode_grey(&stream_of("JPEG-LL.dcm"), 1024, 256).unwrap();
    assert!(image.lossless);
    assert!(image.precision > 8);
    let GreySamples::U16(samples) = image.samples else {
        panic!("words")
    };
    assert_eq!(samples.len(), 1024 * 256);
}

#[test]
fn a_frame_of_another_size_than_the_dicom_header_says_is_refused_before_decoding() {
    let err = decode_grey(&stream_of("JPEG-lossy.dcm"), 512, 256).unwrap_err();
    assert!(
        matches!(
            err,
            JpegError::SizeMismatch {
                found_rows: 1024,
                ..
            } | JpegError::Header(_)
        ),
        "{err}"
    );
}

#[test]
fn a_truncated_stream_is_an_error_not_a_partly_grey_picture() {
    let stream = stream_of("JPEG-lossy.dcm");
    let cut = &stream[..stream.len() / 2];
    let err = decode_grey(cut, 1024, 256).unwrap_err();
    assert!(matches!(err, JpegError::Data(_)), "{err}");
}

#[test]
fn bytes_that_are_not_jpeg_are_refused_in_words() {
    for junk in [&b""[..], b"\xFF\xD8", b"not a jpeg at all", &[0xFF; 64]] {
        let err = decode_grey(junk, 16, 16).unwrap_err();
        assert!(!err.to_string().is_empty());
    }
}
