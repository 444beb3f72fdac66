//! Small value helpers: the time, ids and strings from JSON, every file under a folder, the
//! genesis a bundle carries.

use std::path::{Path, PathBuf};

use countersign_ledger::EntryId;
use serde_json::Value;

/// Every file under `dir`, recursively.
pub fn every_file(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(every_file(&p));
        } else {
            out.push(p);
        }
    }
    out
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

pub fn ids(values: &Value) -> Vec<EntryId> {
    values
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().parse().unwrap())
        .collect()
}

/// The id of the network genesis a bundle carries, if any.
pub fn genesis_in(bytes: &[u8]) -> Option<String> {
    let records = countersign_ledger::bundle::frame(bytes).ok()?;
    records.iter().find_map(|r| {
        let h = countersign_ledger::header::decode_with_keys(r.header, |k| {
            countersign_ledger::PublicKey::from_bytes(k).ok()
        })
        .ok()?;
        (h.kind == countersign_ledger::Kind::NetworkGenesis)
            .then(|| countersign_ledger::Hash::of(r.header).to_hex())
    })
}

/// A JSON value that must be a string, as an owned `String`.
pub fn str_of(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("not a string: {v}"))
        .to_string()
}
