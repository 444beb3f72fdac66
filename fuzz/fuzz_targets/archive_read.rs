#![no_main]
//! Audit archives (tar) handed over by anyone: refused or read, never a panic, never more
//! bytes out than in.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| countersign_app::fuzz_archive_read(data));
