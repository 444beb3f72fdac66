//! Signed payloads are JSON, and a signature covers bytes, not meaning: in
//! `{"lvef": 55, "lvef": 25}` serde reads the last value and other parsers the first, so two
//! honest verifiers could read different findings from one signed entry. A payload with a key
//! given twice, at any depth, is not a payload.
//!
//! ```
//! use countersign_ledger::json::from_slice_unique;
//!
//! let ok: serde_json::Value = from_slice_unique(br#"{"lvef": 55}"#).unwrap();
//! assert_eq!(ok["lvef"], 55);
//! let err = from_slice_unique::<serde_json::Value>(br#"{"lvef": 55, "lvef": 25}"#).unwrap_err();
//! assert!(err.contains("duplicate key \"lvef\""));
//! ```

use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, SeqAccess, Visitor};

/// Parses `bytes` as `T`, first refusing JSON that gives any object a key twice.
pub fn from_slice_unique<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    de::Deserialize::deserialize(&mut de)
        .and_then(|Unique| de.end())
        .map_err(|e| e.to_string())?;
    serde_json::from_slice(bytes).map_err(|e| e.to_string())
}

/// Any JSON value whose objects each name a key once.
struct Unique;

impl<'de> de::Deserialize<'de> for Unique {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Unique, D::Error> {
        d.deserialize_any(UniqueVisitor)
    }
}

struct UniqueVisitor;

impl<'de> Visitor<'de> for UniqueVisitor {
    type Value = Unique;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Unique, E> {
        Ok(Unique)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Unique, E> {
        Ok(Unique)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Unique, E> {
        Ok(Unique)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Unique, E> {
        Ok(Unique)
    }

    fn visit_str<E>(self, _: &str) -> Result<Unique, E> {
        Ok(Unique)
    }

    fn visit_unit<E>(self) -> Result<Unique, E> {
        Ok(Unique)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Unique, A::Error> {
        while seq.next_element::<Unique>()?.is_some() {}
        Ok(Unique)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Unique, A::Error> {
        let mut seen: HashSet<String> = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            map.next_value::<Unique>()?;
            if !seen.insert(key.clone()) {
                return Err(de::Error::custom(format_args!("duplicate key {key:?}")));
            }
        }
        Ok(Unique)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_given_twice_at_any_depth_is_refused() {
        for bad in [
            &br#"{"lvef": 55, "lvef": 25}"#[..],
            br#"{"fields": {"lvef": "55", "lvef": "25"}}"#,
            br#"[{"a": 1}, {"b": 2, "b": 2}]"#,
            // The same key, spelt with an escape.
            br#"{"lvef": 1, "\u006cvef": 2}"#,
        ] {
            let err = from_slice_unique::<serde_json::Value>(bad).unwrap_err();
            assert!(err.contains("duplicate key"), "{err}");
        }
        let ok: serde_json::Value =
            from_slice_unique(br#"{"a": {"a": 1}, "b": [{"a": 2}, {"a": 3}]}"#).unwrap();
        assert_eq!(ok["b"][1]["a"], 3);
        // Trailing bytes are still refused, as serde_json refuses them.
        assert!(from_slice_unique::<serde_json::Value>(b"{} x").is_err());
    }
}
