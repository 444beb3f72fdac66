#![no_main]
//! Signed payloads (JSON) from peers and bundles: refused or read, never a panic; no key read
//! twice; what is read reads the same written back out.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| countersign_report::payload::fuzz::payload_parse(data));
