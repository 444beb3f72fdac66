#![no_main]
//! AI results arrive as DICOM SR from other vendors' products: reading one must never panic,
//! and what is kept stays within the bounds the signed entry relies on.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| countersign_imaging::fuzz_checks::sr_parse(data));
