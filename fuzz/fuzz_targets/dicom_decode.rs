#![no_main]
//! DICOM files come from anywhere: opening, decoding and presenting must never panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| countersign_imaging::fuzz_checks::open_decode(data));
