#![no_main]
//! Templates arrive as files (TOML, MRRT HTML) and in peers' report.create entries (JSON):
//! refused or read, never a panic; what is read round-trips through both file formats.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| countersign_report::template::fuzz::template_parse(data));
