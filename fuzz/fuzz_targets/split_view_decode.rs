#![no_main]
//! Untrusted bytes from peers or users: decoding must never panic or allocate beyond its bounds.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| countersign_ledger::fuzz_checks::split_view_decode(data));
