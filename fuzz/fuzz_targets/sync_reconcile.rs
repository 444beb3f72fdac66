#![no_main]
//! A reconciliation step arrives from a peer (Negentropy's encoding, decoded by the
//! `negentropy` crate): answering or continuing it never panics and keeps to the bound.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| countersign_sync::reconcile::fuzz_check(data));
