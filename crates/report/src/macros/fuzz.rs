//! The invariants the `macro_parse` fuzz target checks (and `make test` replays): macros arrive
//! as files (native TOML) and inside peers' `macro.publish` entries (JSON), and placeholders
//! are found in any section text a peer signs. Any input is refused or read, never a panic;
//! whatever is read is a valid macro that writes back out and reads back equal, and every
//! placeholder found is exactly a `[name]` of the grammar.

use super::{parse_native, placeholders, publication, to_native, Macro};

fn round_trips(macros: &[Macro]) {
    for m in macros {
        assert!(
            m.validate().is_ok(),
            "a macro was read that does not validate"
        );
        assert!(m.fields().len() <= super::MAX_MACRO_FIELDS);
        // Filling nothing changes nothing.
        assert_eq!(m.fill(&Default::default()).expect("empty fill"), m.text);
    }
    assert_eq!(
        parse_native(&to_native(macros)).expect("native re-read"),
        macros
    );
}

/// Panics if any invariant breaks.
pub fn macro_parse(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for p in placeholders(text) {
        assert_eq!(&text[p.start..p.end], format!("[{}]", p.name));
        assert!(super::field_name(p.name));
    }
    if let Ok(macros) = parse_native(text) {
        round_trips(&macros);
    }
    if let Ok(m) = publication(data) {
        round_trips(&[m]);
    }
    if let Ok(m) = serde_json::from_str::<Macro>(text) {
        if m.validate().is_ok() {
            round_trips(&[m]);
        }
    }
}
