#![no_main]
//! Untrusted text from a member (a key rotation request): decoding must never panic, and what
//! decodes must be canonical with signatures that verify.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| countersign_ledger::fuzz_checks::rotation_parse(data));
