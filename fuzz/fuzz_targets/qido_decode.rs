#![no_main]
//! QIDO-RS answers come from an archive: the DICOM JSON study decoder refuses or reads them,
//! never panics, and every study it returns has a UID.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| countersign_pacs::qido::fuzz_qido(data));
