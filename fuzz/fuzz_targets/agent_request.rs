#![no_main]
//! Untrusted bytes from a client of `countersign agent`: decoding a request (and judging what it
//! asks to sign) must never panic, and a request that decodes encodes back to the same bytes.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| countersign_app::agent::proto::fuzz_check(data));
