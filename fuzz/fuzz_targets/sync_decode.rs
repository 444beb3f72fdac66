#![no_main]
//! Every sync message arrives from a peer: decoding never panics, never allocates by a claimed
//! count, and what decodes has exactly one encoding.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| countersign_sync::protocol::fuzz_check(data));
