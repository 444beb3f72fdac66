#![no_main]
//! Bundles arrive from other homes and auditors: framing must never panic or over-allocate.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| countersign_ledger::fuzz_checks::bundle_decode(data));
