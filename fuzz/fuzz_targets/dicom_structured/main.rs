#![no_main]
//! Structure-aware DICOM fuzzing. The input is read (through `arbitrary`) as a *description* of a
//! DICOM file, which is written out as bytes and given to the same checks as `dicom_decode`
//! (`countersign_imaging::fuzz_checks::open_decode`). Random bytes rarely get past the file meta
//! group; these files do, and then break one thing at a time. Every choice's first option is the
//! ordinary one, so a short input describes a plain, decodable image.
//!
//! What it covers:
//! - Container: Part 10 (preamble + `DICM`), `DICM` without preamble, or a bare data set. The
//!   meta group (0002) names a transfer syntax from [`Syntax`] — implicit/explicit VR little
//!   endian, explicit big endian, deflated, JPEG baseline/extended/lossless, JPEG-LS, JPEG 2000,
//!   RLE, an unknown UID — and may have a wrong group length, a missing, unpadded or mismatched
//!   transfer syntax, or a stray element of another group.
//! - Image pixel module: rows, columns, bits allocated/stored, high bit, pixel representation,
//!   samples per pixel, photometric interpretation (incl. PALETTE COLOR, YBR_FULL(_422)), number
//!   of frames, planar configuration, rescale, window, modality and VOI LUT sequences, palette
//!   descriptors with plain or segmented table data. Numbers lean to 0, 1, the maximum, odd values;
//!   now and then Rows and Columns are 32-bit values in a wider VR (UL, IS, DS…).
//! - Nesting: sequences and items of defined, undefined and wrong lengths, with delimiters present,
//!   missing, doubled or carrying a length; 0 to 40 levels (mostly around the pre-scan's limit of
//!   32) and now and then thousands.
//! - VR confusion: any element may be written with another VR (its value then encoded for that VR)
//!   or an unknown one, with an odd length, 0, 0xFFFF, undefined (0xFFFFFFFF) or one byte past the
//!   end of the file.
//! - Pixel data: native, sized from the header (exactly or a little off), float, or encapsulated
//!   (basic offset table, fragments, odd or overlong fragment lengths, wrong item tags, missing
//!   delimiter) with fragment bytes from the input, mostly after a codestream header that agrees
//!   with the DICOM header — JPEG SOI/DQT/DHT/SOF/SOS, JPEG-LS SOF55, JPEG 2000 SOC/SIZ/COD/QCD
//!   (bare or in a JP2 box), an RLE segment table with PackBits runs — so the codecs get to run.
//!
//! With `DICOM_STRUCTURED_DUMP=<dir>` set, each file written (under 64 KiB) is also saved there,
//! named by a hash of its bytes: that is how `corpus/dicom_structured_dcm/`, the DICOM files
//! `make test` replays, is made from the minimised inputs in `corpus/dicom_structured/` (see
//! fuzz/README.md).

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::{Mutex, Once, OnceLock};

use libfuzzer_sys::fuzz_target;

use file::File;

mod choose;
mod codestream;
mod extra;
mod file;
mod image;
mod lut;
mod nesting;
mod pixels;
mod value;
mod writer;

fuzz_target!(|file: File| {
    record_panics();
    let outcome = std::panic::catch_unwind(|| {
        let bytes = file.to_bytes();
        dump(&bytes);
        countersign_imaging::fuzz_checks::open_decode(&bytes);
    });
    if outcome.is_err() {
        let panic = LAST_PANIC
            .with(|p| p.borrow_mut().take())
            .unwrap_or_default();
        eprintln!("panic escaped open_decode: {panic}");
        std::process::abort();
    }
});

thread_local! {
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// libfuzzer-sys aborts on every panic, even one the code under test catches; but `decode.rs`
/// runs the third-party decoders inside `catch_unwind`, as the app does, and a decoder that
/// panics on hostile input (the JPEG adapter of dicom-transfer-syntax-registry does) does not
/// take the app down. This hook only records a panic — and prints where it came from the first
/// time — so that the run goes on past caught panics; one that escapes `open_decode` still
/// aborts (above), with its message and backtrace.
fn record_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            static SEEN: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
            let location = info.location().map(|l| l.to_string()).unwrap_or_default();
            if SEEN
                .lock()
                .is_ok_and(|mut seen| seen.insert(location.clone()))
            {
                eprintln!("panic (first at this place; caught unless it escapes): {info}");
            }
            let trace = std::backtrace::Backtrace::force_capture();
            LAST_PANIC.with(|p| *p.borrow_mut() = Some(format!("{info}\n{trace}")));
        }))
    });
}

/// Saves `bytes` in `$DICOM_STRUCTURED_DUMP`, if set and they are smaller than 64 KiB: the
/// larger files (palettes of 65536 entries, a quarter MiB of pixels) are few but would make up
/// most of the replayed corpus's size.
fn dump(bytes: &[u8]) {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    let dir = DIR.get_or_init(|| std::env::var_os("DICOM_STRUCTURED_DUMP").map(PathBuf::from));
    if let Some(dir) = dir.as_ref().filter(|_| bytes.len() < 64 << 10) {
        let mut hasher = std::hash::DefaultHasher::new();
        bytes.hash(&mut hasher);
        let path = dir.join(format!("{:016x}.dcm", hasher.finish()));
        std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}
