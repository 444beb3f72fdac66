#![no_main]
//! Signed checkpoints arrive in peers' summaries: decoding must never panic, never allocate
//! beyond its bounds, and keep exactly the bytes that were signed.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| countersign_ledger::fuzz_checks::checkpoint_decode(data));
