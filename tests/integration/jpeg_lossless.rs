//! The Rust lossless JPEG decoder (`countersign_jpeg::decode_lossless`, which renders lossless
//! JPEG in the app's own process) against libjpeg-turbo, sample for sample: on every lossless
//! JPEG of the corpus, and on files generated here from a seed and compressed by DCMTK's
//! `dcmcjpeg` — every predictor, point transforms, 2 to 16 bits stored — which must also give
//! back exactly the samples that were compressed. The check itself is the `jpeg_lossless` fuzz
//! target's (`countersign_imaging::fuzz_checks::jpeg_lossless`).

use std::borrow::Cow;
use std::path::Path;
use std::process::Command;

use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;
use dicom_object::{FileMetaTableBuilder, InMemDicomObject};
use rand::{Rng, SeedableRng};

const LOSSLESS: [&str; 2] = ["1.2.840.10008.1.2.4.57", "1.2.840.10008.1.2.4.70"];

/// The codestream of each frame: one fragment per frame, or all of a single frame's fragments.
fn frame_streams(image: &countersign_imaging::DicomImage) -> Vec<Cow<'_, [u8]>> {
    let fragments = image
        .object
        .get(tags::PIXEL_DATA)
        .and_then(|e| e.fragments())
        .expect("encapsulated pixel data");
    if fragments.len() == image.info.frames as usize {
        fragments.iter().map(|f| Cow::Borrowed(&f[..])).collect()
    } else {
        assert_eq!(image.info.frames, 1, "fragments that need the offset table");
        vec![Cow::Owned(fragments.concat())]
    }
}

#[test]
fn every_lossless_jpeg_of_the_corpus_decodes_as_libjpeg_turbo_decodes_it() {
    let mut decoded = Vec::new();
    for file in countersign_testkit::manifest() {
        let path = countersign_testkit::corpus(file.name);
        let Ok(image) = countersign_imaging::open(&path) else {
            continue;
        };
        if !LOSSLESS.contains(&image.info.transfer_syntax_uid.as_str())
            || image.info.samples_per_pixel != 1
            || !image.info.has_pixels
        {
            continue;
        }
        for (frame, stream) in frame_streams(&image).iter().enumerate() {
            let samples = countersign_imaging::fuzz_checks::jpeg_lossless(stream)
                .unwrap_or_else(|| panic!("{} frame {frame}: not decoded by both", file.name));
            assert_eq!(
                samples.len(),
                image.info.rows as usize * image.info.columns as usize
            );
        }
        decoded.push(file.name);
    }
    // JPEG-LL (16-bit, 1024×256) and bad_sequence (12-bit, 512²) at least: a corpus change that
    // dropped them would leave this test checking nothing.
    assert!(decoded.len() >= 2, "lossless files found: {decoded:?}");
}

/// A native greyscale image of `bits` stored bits (in 8 or 16 allocated), smooth with noise so
/// that every magnitude category is used.
fn write_native(path: &Path, rows: u16, columns: u16, bits: u16, samples: &[u16]) {
    let allocated = if bits > 8 { 16 } else { 8 };
    let pixel_data = if allocated == 8 {
        PrimitiveValue::from(samples.iter().map(|&v| v as u8).collect::<Vec<u8>>())
    } else {
        PrimitiveValue::U16(samples.iter().copied().collect())
    };
    let sop_class = "1.2.840.10008.5.1.4.1.1.7";
    let us = |tag, v: u16| DataElement::new(tag, VR::US, PrimitiveValue::from(v));
    let obj = InMemDicomObject::from_element_iter([
        DataElement::new(tags::SOP_CLASS_UID, VR::UI, PrimitiveValue::from(sop_class)),
        DataElement::new(
            tags::SOP_INSTANCE_UID,
            VR::UI,
            PrimitiveValue::from("1.2.3.4"),
        ),
        us(tags::SAMPLES_PER_PIXEL, 1),
        DataElement::new(
            tags::PHOTOMETRIC_INTERPRETATION,
            VR::CS,
            PrimitiveValue::from("MONOCHROME2"),
        ),
        us(tags::ROWS, rows),
        us(tags::COLUMNS, columns),
        us(tags::BITS_ALLOCATED, allocated),
        us(tags::BITS_STORED, bits),
        us(tags::HIGH_BIT, bits - 1),
        us(tags::PIXEL_REPRESENTATION, 0),
        DataElement::new(
            tags::PIXEL_DATA,
            if allocated == 8 { VR::OB } else { VR::OW },
            pixel_data,
        ),
    ])
    .with_meta(
        FileMetaTableBuilder::new()
            .transfer_syntax("1.2.840.10008.1.2.1")
            .media_storage_sop_class_uid(sop_class)
            .media_storage_sop_instance_uid("1.2.3.4"),
    )
    .unwrap();
    obj.write_to_file(path).unwrap();
}

#[test]
fn files_dcmtk_compresses_losslessly_decode_to_their_samples_as_in_libjpeg_turbo() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(20261201);
    let mut cases = 0;
    for bits in [2u16, 5, 8, 10, 12, 15, 16] {
        for predictor in 1..=7 {
            let (rows, columns) = (rng.gen_range(9..40u16), rng.gen_range(9..40u16));
            let top = (1u32 << bits) - 1;
            let point_transform = if predictor % 3 == 0 && bits > 4 { 2 } else { 0 };
            let start = rng.gen_range(0..=top);
            let samples: Vec<u16> = (0..u32::from(rows) * u32::from(columns))
                .map(|i| {
                    let smooth = (start + i * 7) % (top + 1);
                    let noise = rng.gen_range(0..=top / 16 + 1);
                    (smooth + noise).min(top) as u16
                })
                .collect();
            let native = dir.path().join(format!("n-{bits}-{predictor}.dcm"));
            let jpeg = dir.path().join(format!("j-{bits}-{predictor}.dcm"));
            write_native(&native, rows, columns, bits, &samples);
            let out = Command::new("dcmcjpeg")
                .args(["+el", "+sv", &predictor.to_string()])
                .args(["+pt", &point_transform.to_string()])
                .arg(&native)
                .arg(&jpeg)
                .output()
                .expect("DCMTK (Debian dcmtk) is installed by make test");
            assert!(
                out.status.success(),
                "dcmcjpeg {bits} bits, predictor {predictor}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let image = countersign_imaging::open(&jpeg).unwrap();
            assert_eq!(image.info.transfer_syntax_uid, "1.2.840.10008.1.2.4.57");
            let streams = frame_streams(&image);
            let decoded = countersign_imaging::fuzz_checks::jpeg_lossless(&streams[0])
                .unwrap_or_else(|| panic!("{bits} bits, predictor {predictor}: not decoded"));
            let expected: Vec<u16> = samples
                .iter()
                .map(|&v| v >> point_transform << point_transform)
                .collect();
            assert!(
                decoded == expected,
                "{bits} bits, predictor {predictor}, Pt {point_transform}: not the samples compressed"
            );
            // And the frame the app renders comes from this decoder, in this process.
            let in_rust = image
                .render_in_rust(0, countersign_imaging::WindowChoice::MinMax)
                .unwrap();
            assert!(
                in_rust.is_some(),
                "{bits} bits: rendered without the worker"
            );
            cases += 1;
        }
    }
    assert_eq!(cases, 49);
}
