#![no_main]
//! Sealed payload envelopes from peers and bundles: refused or opened, never a panic; what is
//! sealed opens again to the same bytes.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| countersign_report::payload::seal::fuzz::open_envelope(data));
