#![no_main]
//! Lossless JPEG arrives inside DICOM files from any modality and is decoded by the Rust decoder
//! in the app's own process: it must never panic, and every stream it decodes libjpeg-turbo must
//! decode to the same samples (a differential target).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = countersign_imaging::fuzz_checks::jpeg_lossless(data);
});
