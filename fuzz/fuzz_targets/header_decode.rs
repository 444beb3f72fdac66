#![no_main]
//! Entry headers arrive from peers and bundles: decoding must never panic and must be canonical.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| countersign_ledger::fuzz_checks::header_decode(data));
