#![no_main]
//! AutoText macros arrive as files (TOML) and in peers' macro.publish entries (JSON), and
//! placeholders are found in any section text: refused or read, never a panic; what is read
//! round-trips through the file format.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| countersign_report::macros::fuzz::macro_parse(data));
