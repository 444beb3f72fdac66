use std::path::PathBuf;

use crate::{from_bytes, open, ImagingError, WindowChoice};

fn corpus(name: &str) -> PathBuf {
    countersign_testkit::corpus(name)
}

#[test]
fn files_without_a_meta_header_open_as_bare_data_sets() {
    // no_meta.dcm is not among them: it starts with a stray byte, and DCMTK refuses it too.
    for name in ["ExplVR_LitEndNoMeta.dcm", "ExplVR_BigEndNoMeta.dcm"] {
        let image = open(&corpus(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!image.info.sop_class_uid.is_empty(), "{name}");
    }
}

#[test]
fn non_images_are_named_not_broken() {
    let sr = open(&corpus("test-SR.dcm")).unwrap();
    assert!(!sr.info.has_pixels);
    assert_eq!(
        sr.info.description,
        "Comprehensive SR Storage document, no pixel data"
    );
    match sr.render(0, WindowChoice::Default) {
        Err(ImagingError::NoPixelData { description }) => assert!(description.contains("SR")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn truncated_pixel_data_is_refused_before_decoding() {
    let bytes = std::fs::read(corpus("CT_small.dcm")).unwrap();
    let image = from_bytes(&bytes[..bytes.len() - 1000]);
    match image.and_then(|i| i.render(0, WindowChoice::Default)) {
        Err(ImagingError::PixelDataTooShort { .. }) | Err(ImagingError::NotDicom { .. }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn explicit_window_and_monochrome1_inversion() {
    let ct = open(&corpus("CT_small.dcm")).unwrap();
    let narrow = ct
        .render(
            0,
            WindowChoice::Explicit(crate::Window {
                center: 40.0,
                width: 400.0,
            }),
        )
        .unwrap();
    let wide = ct.render(0, WindowChoice::MinMax).unwrap();
    assert_eq!(narrow.pixels.len(), 128 * 128);
    assert_ne!(narrow.pixels, wide.pixels);
    // MONOCHROME1: the brightest stored value is shown darkest.
    let cr = open(&corpus("RG3_UNCR.dcm")).unwrap();
    let frame = cr.frame(0).unwrap();
    assert_eq!(frame.photometric, "MONOCHROME1");
    let shown = cr.render(0, WindowChoice::MinMax).unwrap();
    let (mut lo_i, mut hi_i) = (0, 0);
    for i in 0..frame.samples.len() {
        if frame.samples.get(i) < frame.samples.get(lo_i) {
            lo_i = i;
        }
        if frame.samples.get(i) > frame.samples.get(hi_i) {
            hi_i = i;
        }
    }
    assert_eq!((shown.pixels[lo_i], shown.pixels[hi_i]), (255, 0));
}

#[test]
fn raw_frames_carry_stored_values_and_the_transform() {
    let ct = open(&corpus("CT_small.dcm")).unwrap();
    let frame = ct.frame(0).unwrap();
    let raw = crate::raw_frame(&frame, &ct.info).unwrap();
    assert_eq!(
        (raw.width, raw.height, raw.samples.len()),
        (128, 128, 128 * 128 * 2)
    );
    assert!(raw.signed);
    // Sample 0 round-trips through the bytes.
    let first = i16::from_le_bytes([raw.samples[0], raw.samples[1]]);
    assert_eq!(i64::from(first), frame.samples.get(0));
    let rgb = open(&corpus("SC_rgb.dcm")).unwrap();
    assert!(crate::raw_frame(&rgb.frame(0).unwrap(), &rgb.info).is_err());
}

#[test]
fn thumbnails_fit_and_average() {
    let cr = open(&corpus("RG3_UNCR.dcm")).unwrap();
    let full = cr.render(0, WindowChoice::Default).unwrap();
    let small = crate::thumbnail(&full, 128);
    assert!(small.width <= 128 && small.height <= 128 && small.width.max(small.height) == 128);
    assert_eq!(small.pixels.len(), (small.width * small.height) as usize);
    let mean = |p: &[u8]| p.iter().map(|v| u64::from(*v)).sum::<u64>() as f64 / p.len() as f64;
    assert!((mean(&full.pixels) - mean(&small.pixels)).abs() < 2.0);
}

/// What `render_in_rust` renders and what it leaves for the decode worker: pixels that reach
/// libjpeg-turbo, CharLS or OpenJPEG are never decoded by it; what it renders is what the
/// all-decoders path renders.
#[test]
fn only_pixels_that_need_a_c_codec_are_left_for_the_worker() {
    for rust in [
        "693_UNCI.dcm",
        "RG3_UNCI.dcm",
        "ExplVR_BigEnd.dcm",
        "emri_small_RLE.dcm",
        "MR_small_RLE.dcm",
        "image_dfl.dcm",
        "JPEG-LL.dcm",
        "examples_ybr_color.dcm",
        "SC_rgb_jpeg_dcmtk.dcm",
    ] {
        let image = open(&corpus(rust)).unwrap();
        let in_rust = image.render_in_rust(0, WindowChoice::Default).unwrap();
        let all = image.render(0, WindowChoice::Default).unwrap();
        let in_rust = in_rust.unwrap_or_else(|| panic!("{rust} is decoded by Rust code alone"));
        assert!(in_rust == all, "{rust}: the same picture either way");
    }
    for c in [
        "JPEG-lossy.dcm",
        "SC_jpeg_no_color_transform.dcm",
        "RG3_J2KR.dcm",
        "MR_small_jpeg_ls_lossless.dcm",
    ] {
        let image = open(&corpus(c)).unwrap();
        let in_rust = image.render_in_rust(0, WindowChoice::Default).unwrap();
        assert!(in_rust.is_none(), "{c} reaches a C codec");
    }
}

/// `jpeg-decoder` has no scan limit: a progressive colour JPEG (which could bring thousands of
/// scans) is left for the worker, where libjpeg-turbo stops at 500 and the worker at its budget.
#[test]
fn progressive_colour_jpeg_is_left_for_the_worker() {
    let mut bytes = std::fs::read(corpus("SC_rgb_jpeg_dcmtk.dcm")).unwrap();
    let sof = bytes.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    let sequential = crate::from_bytes(&bytes).unwrap();
    assert!(sequential
        .render_in_rust(0, WindowChoice::Default)
        .unwrap()
        .is_some());
    bytes[sof + 1] = 0xC2;
    let progressive = crate::from_bytes(&bytes).unwrap();
    assert!(progressive
        .render_in_rust(0, WindowChoice::Default)
        .unwrap()
        .is_none());
}

/// Review finding (2026-12-01): with several fragments for one frame, the stream checked (all
/// fragments joined, counted up to its first EOI) was not the one `jpeg-decoder` would read
/// (dicom-pixeldata follows the offset table to one fragment), so a harmless first fragment
/// could let a progressive stream of thousands of scans into this process. Such a frame is
/// left for the worker.
#[test]
fn colour_jpeg_of_several_fragments_a_frame_is_left_for_the_worker() {
    use dicom_core::value::{PixelFragmentSequence, Value};
    use dicom_core::{DataElement, VR};
    use dicom_dictionary_std::tags;
    let mut obj = dicom_object::open_file(corpus("SC_rgb_jpeg_dcmtk.dcm")).unwrap();
    let whole = obj.element(tags::PIXEL_DATA).unwrap().fragments().unwrap()[0].clone();
    let one = |obj: &dicom_object::DefaultDicomObject| {
        let mut bytes = Vec::new();
        obj.write_all(&mut bytes).unwrap();
        from_bytes(&bytes).unwrap()
    };
    assert!(one(&obj)
        .render_in_rust(0, WindowChoice::Default)
        .unwrap()
        .is_some());
    let (a, b) = whole.split_at(whole.len() / 2);
    obj.put(DataElement::new(
        tags::PIXEL_DATA,
        VR::OB,
        Value::PixelSequence(PixelFragmentSequence::new(
            vec![0u32],
            vec![a.to_vec(), b.to_vec()],
        )),
    ));
    assert!(one(&obj)
        .render_in_rust(0, WindowChoice::Default)
        .unwrap()
        .is_none());
}

/// What `from_bytes` and then `native_check` make of `bytes`, in words: the metadata and the
/// answer, or the refusal.
fn parsed_whole(bytes: &[u8]) -> String {
    match from_bytes(bytes) {
        Ok(image) => format!("{:?} {:?}", image.info, image.native_check()),
        Err(e) => format!("refused: {e}"),
    }
}

fn parsed_header(bytes: &[u8]) -> String {
    match crate::read_header(bytes) {
        Ok(header) => format!("{:?} {:?}", header.info, header.native),
        Err(e) => format!("refused: {e}"),
    }
}

/// An element (explicit VR little endian, short-length VRs only as `vr` allows) to append.
fn element(group: u16, element: u16, vr: &[u8; 2], value: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&group.to_le_bytes());
    out.extend_from_slice(&element.to_le_bytes());
    out.extend_from_slice(vr);
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&(value.len() as u32).to_le_bytes());
    out.extend_from_slice(value);
    out
}

/// `read_header` reads a file without parsing its pixel data; it must come to exactly what
/// parsing it whole and `native_check` come to — the same metadata, the same answer, the
/// same refusal in the same words — or a retrieval would store (or refuse) what an import of
/// the same file would not. Every corpus file and phantom slices, whole and spoilt in seeded
/// ways: cut short (inside the pixel data, at its first byte, in the header), the pixel data
/// short of what Rows × Columns need, elements or stray bytes after the pixel data, a second
/// Pixel Data, a byte flipped in the header. Not vacuous: most phantom variants take the
/// header-only path (counted). With the pre-scan left out of the header-only path, the files
/// cut inside their pixel data are read as whole (their length taken from the header) and
/// this fails.
#[test]
fn the_header_alone_comes_to_what_the_whole_file_does() {
    let dir = tempfile::tempdir().unwrap();
    let spec = crate::PhantomSpec {
        slices: 3,
        size: 64,
        ..Default::default()
    };
    let mut files: Vec<(String, Vec<u8>)> = crate::write_phantom_series(&spec, dir.path())
        .unwrap()
        .iter()
        .map(|p| (p.display().to_string(), std::fs::read(p).unwrap()))
        .collect();
    let corpus = countersign_testkit::corpus_dir();
    for file in countersign_testkit::manifest() {
        files.push((
            file.name.into(),
            std::fs::read(corpus.join(file.name)).unwrap(),
        ));
    }
    let mut rng = 0x5eed_0015_u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let (mut compared, mut header_only) = (0, 0);
    for (name, bytes) in &files {
        let pixels = crate::prescan::check_finding_pixels(bytes, 132)
            .ok()
            .and_then(|s| s.pixel_data);
        let mut variants: Vec<(&str, Vec<u8>)> = vec![("whole", bytes.clone())];
        for cut in [1, 2, 1000, bytes.len() / 2] {
            let keep = bytes.len().saturating_sub(cut);
            variants.push(("cut short", bytes[..keep].to_vec()));
        }
        if let Some(at) = pixels {
            variants.push(("cut at the pixels", bytes[..at.value].to_vec()));
            variants.push(("cut after a pixel byte", bytes[..at.value + 1].to_vec()));
            let mut less = bytes[..at.value + at.len - 2].to_vec();
            let length = (at.len as u32 - 2).to_le_bytes();
            less[at.value - 4..at.value].copy_from_slice(&length);
            variants.push(("pixel data short", less));
        }
        let mut padded = bytes.clone();
        padded.extend(element(0xFFFC, 0xFFFC, b"OB", &[0; 8]));
        variants.push(("trailing padding", padded));
        let mut stray = bytes.clone();
        stray.extend_from_slice(&[1, 2, 3]);
        variants.push(("stray bytes", stray));
        let mut twice = bytes.clone();
        twice.extend(element(0x7FE0, 0x0010, b"OB", &[0; 4]));
        variants.push(("pixel data twice", twice));
        for _ in 0..4 {
            let mut flipped = bytes.clone();
            let end = pixels.map_or(bytes.len(), |at| at.value).max(1);
            let i = (next() % end as u64) as usize;
            flipped[i] ^= 1 << (next() % 8);
            variants.push(("flipped", flipped));
        }
        for (how, variant) in &variants {
            let whole = parsed_whole(variant);
            assert_eq!(parsed_header(variant), whole, "{name} {how}");
            compared += 1;
            if crate::open::open_header(variant).is_ok_and(|h| h.is_some()) {
                header_only += 1;
            }
        }
    }
    assert!(
        compared > 1500 && header_only > 300,
        "{compared} compared, {header_only} read from the header alone"
    );
}
