use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_object::{FileMetaTableBuilder, InMemDicomObject};

use super::*;

const EXPLICIT_LE: &str = "1.2.840.10008.1.2.1";

/// An image whose Rows and Columns are written as UL (as VR confusion allows), with 16 bytes
/// of pixel data, uncompressed unless `transfer_syntax` says otherwise.
fn image(
    transfer_syntax: &str,
    rows: u32,
    columns: u32,
    samples: u16,
    bits: u16,
    photometric: &str,
) -> DefaultDicomObject {
    let sop_class = "1.2.840.10008.5.1.4.1.1.7";
    let us = |tag, v: u16| DataElement::new(tag, VR::US, PrimitiveValue::from(v));
    InMemDicomObject::from_element_iter([
        DataElement::new(tags::SOP_CLASS_UID, VR::UI, PrimitiveValue::from(sop_class)),
        us(tags::SAMPLES_PER_PIXEL, samples),
        DataElement::new(
            tags::PHOTOMETRIC_INTERPRETATION,
            VR::CS,
            PrimitiveValue::from(photometric),
        ),
        DataElement::new(tags::ROWS, VR::UL, PrimitiveValue::from(rows)),
        DataElement::new(tags::COLUMNS, VR::UL, PrimitiveValue::from(columns)),
        us(tags::BITS_ALLOCATED, bits),
        us(tags::BITS_STORED, bits),
        us(tags::HIGH_BIT, bits - 1),
        us(tags::PIXEL_REPRESENTATION, 0),
        DataElement::new(
            tags::PIXEL_DATA,
            VR::OB,
            PrimitiveValue::from(vec![0u8; 16]),
        ),
    ])
    .with_meta(
        FileMetaTableBuilder::new()
            .transfer_syntax(transfer_syntax)
            .media_storage_sop_class_uid(sop_class)
            .media_storage_sop_instance_uid("1.2.3.4"),
    )
    .unwrap()
}

/// Found by the dicom_structured fuzz target: Rows and Columns of 2^30 each (as DS and UL),
/// 3 samples of 32 bits. Rows × Columns × samples × bits overflowed u64 in `check_size`: a
/// panic where overflow is checked, and in release builds a product that wrapped to 0 passed
/// the size limit; 2^31 × 2^31 × 16 bits then sliced 2^62 samples out of 16 bytes (a panic
/// at `to_samples`).
#[test]
fn rows_times_columns_overflowing_64_bits_is_too_big_not_a_panic() {
    for (rows, columns, samples, bits) in [
        (1 << 30, 1 << 30, 3, 32),
        (1 << 31, 1 << 31, 1, 16),
        (u32::MAX, u32::MAX, 1, 16),
    ] {
        let obj = image(EXPLICIT_LE, rows, columns, samples, bits, "MONOCHROME2");
        let info = crate::meta::info(&obj);
        assert_eq!((info.rows, info.columns), (rows, columns));
        match decode_frame(&obj, &info, 0) {
            Err(ImagingError::TooBig { .. }) => {}
            other => panic!("{rows}×{columns}: {other:?}"),
        }
    }
}

/// Found by the dicom_structured fuzz target (out of memory): RLE with 1 bit allocated,
/// 32768 × 32768 × 3 samples, passed the size check as 384 MiB of bits, and the RLE decoder
/// allocated a byte a sample, 3 GiB. Compressed 1-bit pixel data is refused before decoding.
#[test]
fn rle_with_one_bit_allocated_is_refused_before_allocating() {
    let mut obj = image(RLE_LOSSLESS, 32768, 32768, 3, 1, "RGB");
    let mut fragment = vec![0u8; 64];
    fragment[0] = 3;
    fragment.resize(256 << 10, 0x81);
    obj.put(DataElement::new(
        tags::PIXEL_DATA,
        VR::OB,
        dicom_core::value::Value::PixelSequence(dicom_core::value::PixelFragmentSequence::new(
            vec![],
            vec![fragment],
        )),
    ));
    let info = crate::meta::info(&obj);
    assert_eq!(info.transfer_syntax_uid, RLE_LOSSLESS);
    match decode_frame(&obj, &info, 0) {
        Err(ImagingError::Unsupported(reason)) => assert!(reason.contains("1 bit"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

/// The same for uncompressed YBR_FULL_422, which bypassed `check_size`: 4294901761 ×
/// 2147516416 pixels is 2^63 + 32768, two bytes a pixel wrapped to 65536 bytes.
#[test]
fn ybr_full_422_rows_times_columns_overflowing_is_too_big_not_a_panic() {
    let obj = image(EXPLICIT_LE, 4294901761, 2147516416, 3, 8, "YBR_FULL_422");
    let info = crate::meta::info(&obj);
    match decode_frame(&obj, &info, 0) {
        Err(ImagingError::TooBig { .. }) => {}
        other => panic!("{other:?}"),
    }
}

/// What the decode worker does to judge an image (`decode_all` in the app's sandbox):
/// every frame decoded and presented; the frames that came through, and the first error.
fn decoded_every_frame(obj: &DefaultDicomObject, info: &ImageInfo) -> (u32, Option<String>) {
    let mut done = 0;
    let mut first = None;
    for f in 0..info.frames {
        match decode_frame(obj, info, f)
            .and_then(|frame| crate::present(&frame, info, crate::WindowChoice::Default))
        {
            Ok(_) => done += 1,
            Err(e) if first.is_none() => first = Some((f, e.to_string())),
            Err(_) => {}
        }
    }
    (done, first.map(|(f, e)| format!("{f}: {e}")))
}

/// A small seeded generator (no dependency for one test).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<T: Copy>(&mut self, of: &[T]) -> T {
        of[(self.next() % of.len() as u64) as usize]
    }
}

/// `native_check` answers without decoding; wherever it answers, it must be what decoding
/// and presenting every frame gives — frame count, first refused frame and its words — or
/// an import would record a verdict the worker would not have reached. Seeded images
/// around every condition it tests: transfer syntax, photometric, samples, bits, sizes
/// (zero, huge), frame counts, pixel data short by one byte or longer, as OB or OW, a
/// Modality LUT. With the pixel data's length check taken out of `native_check`, the
/// short images decode as refused here and this fails.
#[test]
fn decodes_as_checked() {
    let mut rng = Rng(0x5eed_cafe_f00d_0015);
    let (mut decodes, mut refused, mut unanswered) = (0, 0, 0);
    for _ in 0..3000 {
        let ts = rng.pick(&[
            EXPLICIT_LE,
            EXPLICIT_LE,
            EXPLICIT_LE,
            "1.2.840.10008.1.2",
            "1.2.840.10008.1.2",
            "1.2.840.10008.1.2.2",
            "1.2.840.10008.1.2.1.99",
            RLE_LOSSLESS,
        ]);
        let photometric = rng.pick(&[
            "MONOCHROME2",
            "MONOCHROME1",
            "MONOCHROME2",
            "MONOCHROME2",
            "MONOCHROME1",
            "PALETTE COLOR",
            "RGB",
            "YBR_FULL_422",
        ]);
        let samples = rng.pick(&[1u16, 1, 1, 1, 1, 3]);
        let bits = rng.pick(&[8u16, 8, 16, 16, 16, 1, 12, 32]);
        let rows = rng.pick(&[0u32, 1, 2, 3, 16, 17, 64, 1 << 20]);
        let columns = rng.pick(&[0u32, 1, 2, 5, 16, 33, 64, 1 << 20]);
        let frames = rng.pick(&[None, Some("1"), Some("2"), Some("3"), Some("0"), Some("x")]);
        let stored = rng.pick(&[bits, bits.saturating_sub(4).max(1), bits + 4]);
        let signed = rng.pick(&[0u16, 1]);
        let n_frames = frames
            .and_then(|f| f.parse::<u64>().ok())
            .filter(|f| *f >= 1)
            .unwrap_or(1);
        let claimed = (u64::from(rows)
            * u64::from(columns)
            * u64::from(samples)
            * u64::from(bits)
            * n_frames)
            .div_ceil(8)
            .min(1 << 20);
        let len = match rng.next() % 4 {
            0 => claimed.saturating_sub(1),
            1 => claimed,
            2 => claimed + 1 + rng.next() % 64,
            _ => rng.next() % (claimed + 1),
        } as usize;
        let pixels: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let mut obj = image(ts, rows, columns, samples, bits, photometric);
        let us = |tag, v: u16| DataElement::new(tag, VR::US, PrimitiveValue::from(v));
        obj.put(us(tags::BITS_STORED, stored));
        obj.put(us(tags::PIXEL_REPRESENTATION, signed));
        if let Some(f) = frames {
            obj.put(DataElement::new(
                tags::NUMBER_OF_FRAMES,
                VR::IS,
                PrimitiveValue::from(f),
            ));
        }
        let value = if rng.next().is_multiple_of(2) || len % 2 == 1 {
            (VR::OB, PrimitiveValue::from(pixels))
        } else {
            let words: Vec<u16> = pixels
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect();
            (VR::OW, PrimitiveValue::U16(words.into()))
        };
        obj.put(DataElement::new(tags::PIXEL_DATA, value.0, value.1));
        if rng.next().is_multiple_of(8) {
            obj.put(DataElement::new(
                tags::RESCALE_SLOPE,
                VR::DS,
                PrimitiveValue::from(rng.pick(&["1", "-1e300", "0", "2.5"])),
            ));
        }
        let mut info = crate::meta::info(&obj);
        if rng.next().is_multiple_of(10) {
            info.modality_lut = Some(Lut {
                first: 0,
                bits: 8,
                values: vec![0, 255],
            });
        }
        let context = format!(
            "{ts} {photometric} {samples}×{bits} bits ({stored} stored) {rows}×{columns} \
             frames {frames:?}, {len} of {claimed} bytes"
        );
        let Some(check) = native_check(&obj, &info) else {
            unanswered += 1;
            continue;
        };
        let decoded = decoded_every_frame(&obj, &info);
        match check {
            NativeCheck::Decodes { frames } => {
                decodes += 1;
                assert_eq!(decoded, (frames, None), "{context}");
            }
            NativeCheck::Refused { frame, error } => {
                refused += 1;
                assert_eq!(decoded, (0, Some(format!("{frame}: {error}"))), "{context}");
            }
        }
    }
    // Not vacuous: each answer was given, and some images were left to the decoder.
    assert!(
        decodes > 100 && refused > 100 && unanswered > 100,
        "{decodes} {refused} {unanswered}"
    );
}
