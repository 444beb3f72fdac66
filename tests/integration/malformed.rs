//! Malformed DICOM: every corpus file, truncated at several points and with random bit flips,
//! gives an image or a clear error — never a panic — through open, metadata and render.

use countersign_imaging::{from_bytes, WindowChoice};
use rand::{Rng, SeedableRng};

fn corpus() -> Vec<(String, Vec<u8>)> {
    countersign_testkit::manifest()
        .iter()
        .map(|f| {
            let bytes = std::fs::read(countersign_testkit::corpus(f.name)).unwrap();
            (f.name.to_string(), bytes)
        })
        .collect()
}

/// Opens, reads metadata and renders the first frame; the outcome does not matter, only that
/// it is an outcome. Returns whether an image came out.
fn exercise(bytes: &[u8]) -> bool {
    match from_bytes(bytes) {
        Ok(image) => {
            let _ = serde_json::to_string(&image.info).unwrap();
            image
                .render(0, WindowChoice::Default)
                .map(|r| !r.pixels.is_empty())
                .unwrap_or(false)
        }
        Err(e) => {
            assert!(!e.to_string().is_empty());
            false
        }
    }
}

#[test]
fn truncated_and_bit_flipped_files_never_panic() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x0c0ffee);
    let mut cases = 0;
    for (name, bytes) in corpus() {
        let mut variants: Vec<Vec<u8>> = [0.1, 0.5, 0.9, 0.999]
            .iter()
            .map(|f| bytes[..(bytes.len() as f64 * f) as usize].to_vec())
            .collect();
        for _ in 0..3 {
            let mut flipped = bytes.clone();
            for _ in 0..16 {
                let i = rng.gen_range(0..flipped.len());
                flipped[i] ^= 1 << rng.gen_range(0..8);
            }
            variants.push(flipped);
        }
        for (v, variant) in variants.iter().enumerate() {
            let outcome = std::panic::catch_unwind(|| exercise(variant));
            assert!(outcome.is_ok(), "{name} variant {v} panicked");
            cases += 1;
        }
    }
    assert!(cases > 700, "only {cases} cases");
}

#[test]
fn the_corpus_broken_files_give_clear_errors() {
    for (name, bytes) in corpus() {
        if ![
            "bad_sequence.dcm",
            "emri_small_jpeg_2k_lossless_too_short.dcm",
            "badVR.dcm",
        ]
        .contains(&name.as_str())
        {
            continue;
        }
        let outcome = std::panic::catch_unwind(|| exercise(&bytes));
        assert!(outcome.is_ok(), "{name} panicked");
    }
}

/// A codestream whose own header claims a bigger image than the DICOM header: the codec would
/// size its buffers from the codestream (gigabytes from a few bytes), so it must never run.
#[test]
fn a_codestream_claiming_another_size_than_the_dicom_header_is_refused_before_decoding() {
    let files = corpus();
    let cases: [(&str, &[u8], usize); 2] = [
        // JPEG 2000: Xsiz follows SOC, SIZ, Lsiz and Rsiz.
        ("MR_small_jp2klossless.dcm", &[0xFF, 0x4F, 0xFF, 0x51], 8),
        // JPEG lossless: rows follow SOF3, its length and the precision.
        ("JPEG-LL.dcm", &[0xFF, 0xC3], 5),
    ];
    for (name, marker, offset) in cases {
        let mut bytes = files.iter().find(|(n, _)| n == name).unwrap().1.clone();
        let at = bytes
            .windows(marker.len())
            .position(|w| w == marker)
            .unwrap()
            + offset;
        if marker.len() == 4 {
            // Xsiz, Ysiz and (after the image offsets) the tile size: one 60000×60000 tile.
            for field in [at, at + 4, at + 16, at + 20] {
                bytes[field..field + 4].copy_from_slice(&60000u32.to_be_bytes());
            }
        } else {
            bytes[at..at + 2].copy_from_slice(&60000u16.to_be_bytes());
        }
        let err = from_bytes(&bytes)
            .unwrap()
            .render(0, WindowChoice::Default)
            .unwrap_err()
            .to_string();
        assert!(err.contains("the DICOM header says"), "{name}: {err}");
    }
}

/// The pre-scan could not see inside a deflated data set, so a length claimed there was
/// allocated by the parser before anything was read (2.2 GB from a 1.3 kB file, found by the
/// fuzzer). The data set is now inflated first and scanned like any other.
#[test]
fn a_deflated_data_set_claiming_more_than_it_holds_is_refused_before_allocating() {
    use std::io::{Read, Write};
    let files = corpus();
    let original = &files.iter().find(|(n, _)| n == "image_dfl.dcm").unwrap().1;
    // The meta group ends where the deflated stream starts: after the transfer syntax element
    // and the implementation elements, at the first byte that is not group 0002.
    let mut at = 132;
    while original[at..at + 2] == [0x02, 0x00] {
        let vr = &original[at + 4..at + 6];
        let (header, len) = if matches!(vr, b"OB" | b"UN" | b"SQ" | b"UT") {
            (
                12,
                u32::from_le_bytes(original[at + 8..at + 12].try_into().unwrap()) as usize,
            )
        } else {
            (
                8,
                u16::from_le_bytes([original[at + 6], original[at + 7]]) as usize,
            )
        };
        at += header + len;
    }
    let mut data_set = Vec::new();
    flate2::read::DeflateDecoder::new(&original[at..])
        .read_to_end(&mut data_set)
        .unwrap();
    // Make the first element a long-VR element claiming 2 GB, as in the fuzzer's file.
    assert_eq!(&data_set[..2], [0x08, 0x00]);
    let mut hostile = data_set[..4].to_vec();
    hostile.extend_from_slice(b"UN\0\0");
    hostile.extend_from_slice(&0x8000_0000u32.to_le_bytes());
    hostile.extend_from_slice(&data_set[8..]);
    let mut deflated = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
    deflated.write_all(&hostile).unwrap();
    let mut file = original[..at].to_vec();
    file.extend(deflated.finish().unwrap());

    let err = from_bytes(&file).unwrap_err().to_string();
    assert!(err.contains("claims 2147483648 bytes"), "{err}");
    // And the untouched file still opens through the same inflate-then-scan path.
    assert!(from_bytes(original)
        .unwrap()
        .render(0, WindowChoice::Default)
        .is_ok());
}

/// Regression: a 1.6 MB file of nothing but nested sequences (100 000 levels of 16 bytes,
/// undefined lengths) made `image info` abort with a stack overflow (exit 134) — which no
/// `catch_unwind` catches, so the same file imported into the desktop app killed it. Now a
/// clear error, exit 2, before the parser recurses; the home stays usable.
#[test]
fn a_file_of_deeply_nested_sequences_is_refused_not_a_crash() {
    // Preamble, magic, and a meta group naming implicit VR little endian.
    let mut file = vec![0u8; 128];
    file.extend_from_slice(b"DICM");
    let mut meta = vec![0x02, 0x00, 0x10, 0x00, b'U', b'I', 18, 0];
    meta.extend_from_slice(b"1.2.840.10008.1.2\0");
    file.extend_from_slice(&[0x02, 0x00, 0x00, 0x00, b'U', b'L', 4, 0]);
    file.extend_from_slice(&(meta.len() as u32).to_le_bytes());
    file.extend(meta);
    // (0008,1115) SQ of undefined length holding an item of undefined length, 100 000 deep.
    for _ in 0..100_000 {
        file.extend_from_slice(&[0x08, 0x00, 0x15, 0x11, 0xFF, 0xFF, 0xFF, 0xFF]);
        file.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF]);
    }
    let home = crate::common::Home::new();
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("nested.dcm");
    std::fs::write(&path, &file).unwrap();
    let run = home.run(&["image", "info", path.to_str().unwrap()]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("deeper than 32 levels"),
        "{}",
        run.stderr
    );
    let err = from_bytes(&file).unwrap_err().to_string();
    assert!(err.contains("deeper than 32 levels"), "{err}");
}
