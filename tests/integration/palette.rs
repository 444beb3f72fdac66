//! Segmented palette colour tables (PS3.3 C.7.9.2), checked against pydicom: a palette image is
//! rewritten with segmented tables (discrete, linear and indirect segments), pydicom's
//! `apply_color_lut` expands them into plain tables, and both files must render to the same
//! pixels.
//!
//! (GDCM's `gdcmconv --decompress-lut` was tried first: it refuses 8-bit palette images, reads the
//! indirect offset in bytes where pydicom and we read words, and its linear segments stop one
//! step short of the end value the standard's (X0 + length, Y1) endpoint gives.)

use std::path::{Path, PathBuf};
use std::process::Command;

use countersign_imaging::{open, WindowChoice};
use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;
use dicom_object::open_file;

use crate::common::python;

fn corpus(name: &str) -> PathBuf {
    countersign_testkit::corpus(name)
}

const DISCRETE: u16 = 0;
const LINEAR: u16 = 1;
const INDIRECT: u16 = 2;

/// Three 256-entry tables, each a different mix of segment types.
fn segmented_tables() -> [Vec<u16>; 3] {
    let red = vec![DISCRETE, 1, 0, LINEAR, 255, 65535];
    // 28 discrete values, a ramp of 100, then both segments again through an indirect one.
    let mut green = vec![DISCRETE, 28];
    green.extend((0..28u16).map(|i| i * 2000));
    let linear_at = green.len();
    green.extend([LINEAR, 100, 40000, INDIRECT, 2, 0, 0]);
    assert_eq!(linear_at, 30);
    let blue = vec![DISCRETE, 1, 65535, LINEAR, 127, 0, LINEAR, 128, 30000];
    [red, green, blue]
}

fn write_segmented(from: &Path, to: &Path) {
    let mut obj = open_file(from).unwrap();
    let plain = [
        tags::RED_PALETTE_COLOR_LOOKUP_TABLE_DATA,
        tags::GREEN_PALETTE_COLOR_LOOKUP_TABLE_DATA,
        tags::BLUE_PALETTE_COLOR_LOOKUP_TABLE_DATA,
    ];
    let segmented = [
        tags::SEGMENTED_RED_PALETTE_COLOR_LOOKUP_TABLE_DATA,
        tags::SEGMENTED_GREEN_PALETTE_COLOR_LOOKUP_TABLE_DATA,
        tags::SEGMENTED_BLUE_PALETTE_COLOR_LOOKUP_TABLE_DATA,
    ];
    for ((plain, segmented), table) in plain.iter().zip(segmented).zip(segmented_tables()) {
        assert!(obj.remove_element(*plain));
        obj.put(DataElement::new(
            segmented,
            VR::OW,
            PrimitiveValue::U16(table.into()),
        ));
    }
    obj.write_to_file(to).unwrap();
}

#[test]
fn segmented_palettes_render_as_pydicom_expands_them() {
    let dir = tempfile::tempdir().unwrap();
    let original = corpus("OBXXXX1A.dcm");
    let segmented = dir.path().join("segmented.dcm");
    let expanded = dir.path().join("expanded-by-pydicom.dcm");
    write_segmented(&original, &segmented);
    let script = crate::common::tests_dir().join("integration/expand_palette.py");
    let pydicom = Command::new(python())
        .arg(script)
        .arg(&segmented)
        .arg(&expanded)
        .output()
        .expect("python with pydicom");
    assert!(
        pydicom.status.success(),
        "pydicom: {}",
        String::from_utf8_lossy(&pydicom.stderr)
    );
    let theirs_file = open_file(&expanded).unwrap();
    assert!(theirs_file
        .get(tags::SEGMENTED_GREEN_PALETTE_COLOR_LOOKUP_TABLE_DATA)
        .is_none());

    let render = |path: &Path| {
        open(path)
            .unwrap()
            .render(0, WindowChoice::Default)
            .unwrap()
    };
    let ours = render(&segmented);
    let theirs = render(&expanded);
    assert_eq!((ours.width, ours.height, ours.channels), (800, 600, 3));
    let differing = ours
        .pixels
        .iter()
        .zip(&theirs.pixels)
        .filter(|(a, b)| a != b)
        .count();
    assert_eq!(
        differing, 0,
        "{differing} samples differ from pydicom's expansion"
    );
    // The tables did change the picture (a test that compared two unchanged files would pass).
    assert_ne!(ours.pixels, render(&original).pixels);
}

#[test]
fn a_segmented_palette_that_overruns_its_descriptor_is_refused_not_shown() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("overrun.dcm");
    let mut obj = open_file(corpus("OBXXXX1A.dcm")).unwrap();
    assert!(obj.remove_element(tags::RED_PALETTE_COLOR_LOOKUP_TABLE_DATA));
    obj.put(DataElement::new(
        tags::SEGMENTED_RED_PALETTE_COLOR_LOOKUP_TABLE_DATA,
        VR::OW,
        PrimitiveValue::U16([DISCRETE, 1, 0, LINEAR, 60000, 9].as_slice().into()),
    ));
    obj.write_to_file(&path).unwrap();
    let err = open(&path)
        .unwrap()
        .render(0, WindowChoice::Default)
        .unwrap_err();
    assert!(err.to_string().contains("Palette"), "{err}");
}
