//! The invariants the `template_parse` fuzz target checks (and `make test` replays): templates
//! arrive as files (native TOML, MRRT HTML) and inside peers' `report.create` entries (JSON).
//! Any input is refused or read, never a panic, and whatever is read is a valid template that
//! writes back out and reads back equal.

use super::{from_mrrt, parse_native, to_mrrt, to_native, Template};

fn round_trips(t: &Template) {
    assert!(
        t.validate().is_ok(),
        "a template was read that does not validate"
    );
    assert_eq!(&parse_native(&to_native(t)).expect("native re-read"), t);
    assert_eq!(&from_mrrt(&to_mrrt(t)).expect("MRRT re-read"), t);
}

/// Panics if any invariant breaks.
pub fn template_parse(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(t) = parse_native(text) {
        round_trips(&t);
    }
    if let Ok(t) = from_mrrt(text) {
        round_trips(&t);
    }
    if let Ok(t) = serde_json::from_str::<Template>(text) {
        if t.validate().is_ok() {
            round_trips(&t);
        }
    }
}
