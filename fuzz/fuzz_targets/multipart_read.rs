#![no_main]
//! WADO-RS bodies come from an archive: the multipart/related reader refuses or reads them,
//! never panics, and never reports more bytes than it copied or the body held; read straight
//! into memory by the parts' stated lengths, it gives the scan's parts or refuses for a length
//! that disagrees. The input's first line is the Content-Type (so boundaries are fuzzed too),
//! the rest the body.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| countersign_pacs::multipart::fuzz_multipart(data));
