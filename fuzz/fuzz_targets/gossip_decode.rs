#![no_main]
//! Every gossip announcement arrives from the network (signed by a member, but a member's
//! software may be broken or hostile): decoding never panics, never reads past its bounds, and
//! what decodes has exactly one encoding.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| countersign_sync::node::gossip::fuzz_check(data));
