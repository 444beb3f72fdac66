//! Hostile input files, made by the tests that use them (never committed, so nobody mistakes
//! one for patient data): what a CD from another hospital or an auditor's archive could carry
//! to take the app down. Each is small on disk; each once cost the app a crash, minutes of CPU
//! or gigabytes of memory.
//!
//! ```no_run
//! let dir = tempfile::tempdir().unwrap();
//! for file in countersign_testkit::hostile::write_folder(dir.path()).unwrap() {
//!     println!("{}: {}", file.name, file.what);
//! }
//! ```

use std::path::{Path, PathBuf};

/// One hostile file and what it tries.
#[derive(Debug, Clone)]
pub struct HostileFile {
    pub name: &'static str,
    pub path: PathBuf,
    pub what: &'static str,
}

/// Writes every hostile file into `dir` (created if needed).
pub fn write_folder(dir: &Path) -> std::io::Result<Vec<HostileFile>> {
    std::fs::create_dir_all(dir)?;
    let files: [(&'static str, &'static str, Vec<u8>); 4] = [
        (
            "deep-nesting.dcm",
            "100 000 sequences nested inside each other (16 bytes a level): the parser recursed \
             once per level and overflowed its stack",
            deep_nesting(100_000),
        ),
        (
            "segmented-lut-bomb.dcm",
            "a palette image whose segmented colour tables are 300 000 empty segments each: \
             expanding them looped 65 535 times per segment",
            segmented_lut_bomb(300_000),
        ),
        (
            "jpeg-ls-spin.dcm",
            "a 16×16 JPEG-LS frame whose scan data makes CharLS spin for about 7 s",
            jpeg_ls_spin()?,
        ),
        (
            "audit-archive-4gib.tar",
            "an audit archive whose tar header says its bundle is 4 GiB, in a 1 KiB file: the \
             reader allocated what the header claimed",
            tar_claiming(4 << 30),
        ),
    ];
    let mut out = Vec::new();
    for (name, what, bytes) in files {
        let path = dir.join(name);
        std::fs::write(&path, bytes)?;
        out.push(HostileFile { name, path, what });
    }
    Ok(out)
}

/// A Part 10 file (explicit VR little endian) whose data set is `levels` sequences of undefined
/// length, each holding one item of undefined length, closed by their delimiters.
pub fn deep_nesting(levels: usize) -> Vec<u8> {
    let mut ds = image_attributes("MONOCHROME2", 8, 8);
    for _ in 0..levels {
        // (0008,1115) Referenced Series Sequence, SQ, undefined length.
        ds.extend_from_slice(&[
            0x08, 0x00, 0x15, 0x11, b'S', b'Q', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,
        ]);
        ds.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF]);
    }
    for _ in 0..levels {
        ds.extend_from_slice(&[0xFE, 0xFF, 0x0D, 0xE0, 0, 0, 0, 0]);
        ds.extend_from_slice(&[0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
    }
    part10(&ds)
}

/// A PALETTE COLOR image whose three segmented palette tables are `segments` discrete
/// segments of length zero each (two words a segment).
pub fn segmented_lut_bomb(segments: usize) -> Vec<u8> {
    let mut ds = image_attributes("PALETTE COLOR", 8, 8);
    // Descriptors: 65 536 entries (0 means 2^16), first mapped value 0, 16 bits.
    for tag in [0x1101u16, 0x1102, 0x1103] {
        element(&mut ds, 0x0028, tag, b"US", &[0, 0, 0, 0, 16, 0]);
    }
    let mut words = Vec::with_capacity(segments * 4);
    for _ in 0..segments {
        words.extend_from_slice(&[0, 0, 0, 0]);
    }
    for tag in [0x1221u16, 0x1222, 0x1223] {
        element(&mut ds, 0x0028, tag, b"OW", &words);
    }
    element(&mut ds, 0x7FE0, 0x0010, b"OB", &[0; 64]);
    part10(&ds)
}

/// The JPEG-LS input the `dicom_decode` fuzzer found (kept in `fuzz/known-slow/`; a fuzzer's
/// output, not an image of anyone).
pub fn jpeg_ls_spin() -> std::io::Result<Vec<u8>> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fuzz/known-slow/jpeg-ls-charls-spins-7s.dcm"),
    )
}

/// A ustar archive of one member, `report.csbundle`, whose header claims `size` bytes; no
/// member data follows.
pub fn tar_claiming(size: u64) -> Vec<u8> {
    let mut header = [0u8; 512];
    header[..15].copy_from_slice(b"report.csbundle");
    header[100..108].copy_from_slice(b"0000644\0");
    header[108..116].copy_from_slice(b"0000000\0");
    header[116..124].copy_from_slice(b"0000000\0");
    header[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
    header[136..148].copy_from_slice(b"00000000000\0");
    header[156] = b'0';
    header[257..263].copy_from_slice(b"ustar\0");
    header[263..265].copy_from_slice(b"00");
    // The checksum is computed with its own field as spaces.
    header[148..156].copy_from_slice(b"        ");
    let sum: u32 = header.iter().map(|&b| u32::from(b)).sum();
    header[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    let mut out = header.to_vec();
    out.extend_from_slice(&[0u8; 512]);
    out
}

/// The attributes every image needs, for a `rows`×`columns` 8-bit single-sample image.
fn image_attributes(photometric: &str, rows: u16, columns: u16) -> Vec<u8> {
    let mut ds = Vec::new();
    text(&mut ds, 0x0008, 0x0016, b"UI", SOP_CLASS);
    text(
        &mut ds,
        0x0008,
        0x0018,
        b"UI",
        "1.2.826.0.1.3680043.10.1414.9.1",
    );
    text(&mut ds, 0x0008, 0x0060, b"CS", "OT");
    text(&mut ds, 0x0010, 0x0010, b"PN", "HOSTILE^TEST");
    text(
        &mut ds,
        0x0020,
        0x000D,
        b"UI",
        "1.2.826.0.1.3680043.10.1414.9.2",
    );
    text(
        &mut ds,
        0x0020,
        0x000E,
        b"UI",
        "1.2.826.0.1.3680043.10.1414.9.3",
    );
    element(&mut ds, 0x0028, 0x0002, b"US", &1u16.to_le_bytes());
    text(&mut ds, 0x0028, 0x0004, b"CS", photometric);
    element(&mut ds, 0x0028, 0x0010, b"US", &rows.to_le_bytes());
    element(&mut ds, 0x0028, 0x0011, b"US", &columns.to_le_bytes());
    element(&mut ds, 0x0028, 0x0100, b"US", &8u16.to_le_bytes());
    element(&mut ds, 0x0028, 0x0101, b"US", &8u16.to_le_bytes());
    element(&mut ds, 0x0028, 0x0102, b"US", &7u16.to_le_bytes());
    element(&mut ds, 0x0028, 0x0103, b"US", &0u16.to_le_bytes());
    ds
}

/// Secondary Capture Image Storage.
const SOP_CLASS: &str = "1.2.840.10008.5.1.4.1.1.7";
const EXPLICIT_VR_LITTLE_ENDIAN: &str = "1.2.840.10008.1.2.1";

/// Preamble, `DICM`, the file meta group, then `data_set`.
fn part10(data_set: &[u8]) -> Vec<u8> {
    let mut meta = Vec::new();
    element(&mut meta, 0x0002, 0x0001, b"OB", &[0, 1]);
    text(&mut meta, 0x0002, 0x0002, b"UI", SOP_CLASS);
    text(
        &mut meta,
        0x0002,
        0x0003,
        b"UI",
        "1.2.826.0.1.3680043.10.1414.9.1",
    );
    text(&mut meta, 0x0002, 0x0010, b"UI", EXPLICIT_VR_LITTLE_ENDIAN);
    let mut out = vec![0u8; 128];
    out.extend_from_slice(b"DICM");
    element(
        &mut out,
        0x0002,
        0x0000,
        b"UL",
        &(meta.len() as u32).to_le_bytes(),
    );
    out.extend_from_slice(&meta);
    out.extend_from_slice(data_set);
    out
}

/// A text element, padded to even length (UIs with NUL, the rest with a space).
fn text(out: &mut Vec<u8>, group: u16, tag: u16, vr: &[u8; 2], value: &str) {
    let mut bytes = value.as_bytes().to_vec();
    if bytes.len() % 2 == 1 {
        bytes.push(if vr == b"UI" { 0 } else { b' ' });
    }
    element(out, group, tag, vr, &bytes);
}

/// One explicit VR little endian element with a defined length.
fn element(out: &mut Vec<u8>, group: u16, tag: u16, vr: &[u8; 2], value: &[u8]) {
    out.extend_from_slice(&group.to_le_bytes());
    out.extend_from_slice(&tag.to_le_bytes());
    out.extend_from_slice(vr);
    if matches!(vr, b"OB" | b"OW" | b"SQ" | b"UN" | b"UT") {
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&(value.len() as u32).to_le_bytes());
    } else {
        out.extend_from_slice(&(value.len() as u16).to_le_bytes());
    }
    out.extend_from_slice(value);
}

/// `bytes` (explicit VR little endian) with its Rows one more than its pixel data holds: an
/// uncompressed image whose pixel data is short, which no decoder may read past.
pub fn with_one_row_more(bytes: &[u8]) -> Vec<u8> {
    let rows = [0x28, 0x00, 0x10, 0x00, b'U', b'S', 0x02, 0x00];
    let at = bytes
        .windows(rows.len())
        .position(|w| w == rows)
        .expect("a Rows element")
        + rows.len();
    let mut out = bytes.to_vec();
    let n = u16::from_le_bytes([out[at], out[at + 1]]) + 1;
    out[at..at + 2].copy_from_slice(&n.to_le_bytes());
    out
}
