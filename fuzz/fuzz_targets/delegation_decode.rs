#![no_main]
//! A node delegation arrives with every sync message from a token home's node: decoding must
//! never panic, what decodes must be canonical, and it verifies only with a signature that does.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| countersign_ledger::fuzz_checks::delegation_decode(data));
