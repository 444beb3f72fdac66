//! The order in which a Negentropy message lists ids.
//!
//! The `negentropy` crate hands a puller the ids it lacks from each listed range by way of a
//! hash set, so in no particular order. A server lists a range's ids in the set's order (by
//! [`super::order_key`], then id): roster first, then by timestamp, so a report's entries sit
//! together and parents come before what builds on them. Fetched in hash order instead, a
//! first sync's batches each held a few entries of thousands of reports: entries waited in
//! memory for parents in later batches and were judged again with each batch, and nearly every
//! entry's report was looked up in the store before it existed (on 10 000 reports, 1 738 of
//! the first 4 000-entry batch's logs). This reads the listed ids back in the order the
//! message carries them, from the message format of the Negentropy protocol, version 1:
//!
//! ```text
//! message = version-byte range*
//! range   = bound mode payload
//! bound   = varint(encoded timestamp) varint(prefix length) prefix-bytes
//! mode    = varint: 0 skip (no payload) | 1 fingerprint (16 bytes) | 2 id list
//! id list = varint(count) id*          (32 bytes each)
//! varint  = base 128, most significant group first, high bit on all but the last byte
//! ```
//!
//! Only ever asked about a message the crate has already accepted, and only for an order:
//! anything it cannot read gives `None` and the crate's order stands.

use std::collections::HashMap;

/// The ids listed in `message`'s id-list ranges, in the order it carries them; `None` for a
/// message this cannot read (never trusted for more than an order).
pub(super) fn listed_ids(message: &[u8]) -> Option<Vec<[u8; 32]>> {
    let (&version, mut rest) = message.split_first()?;
    if !(0x60..=0x6f).contains(&version) {
        return None;
    }
    let mut ids = Vec::new();
    while !rest.is_empty() {
        varint(&mut rest)?;
        let prefix = usize::try_from(varint(&mut rest)?).ok()?;
        if prefix > 32 {
            return None;
        }
        rest = rest.get(prefix..)?;
        match varint(&mut rest)? {
            0 => {}
            1 => rest = rest.get(16..)?,
            2 => {
                let count = usize::try_from(varint(&mut rest)?).ok()?;
                // Checked against the bytes there before anything is reserved.
                let bytes = count.checked_mul(32).filter(|b| *b <= rest.len())?;
                ids.reserve(count);
                for id in rest[..bytes].chunks_exact(32) {
                    ids.push(id.try_into().ok()?);
                }
                rest = &rest[bytes..];
            }
            _ => return None,
        }
    }
    Some(ids)
}

/// A varint of at most ten bytes (a u64).
fn varint(bytes: &mut &[u8]) -> Option<u64> {
    let mut value: u64 = 0;
    for i in 0..10 {
        let (&b, rest) = bytes.split_first()?;
        *bytes = rest;
        if i == 9 && value >> 57 != 0 {
            return None;
        }
        value = (value << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// Puts `need` in the order `message` lists its ids; ids it does not list (none, from a
/// message the crate accepted) keep their order, after the rest.
pub(super) fn in_listed_order(need: &mut [[u8; 32]], message: &[u8]) {
    if need.len() < 2 {
        return;
    }
    let Some(listed) = listed_ids(message) else {
        return;
    };
    let position: HashMap<&[u8; 32], usize> = listed
        .iter()
        .enumerate()
        .rev()
        .map(|(i, id)| (id, i))
        .collect();
    need.sort_by_key(|id| position.get(id).copied().unwrap_or(usize::MAX));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(ranges: &[(u64, &[u8], u64, &[u8])]) -> Vec<u8> {
        fn put(out: &mut Vec<u8>, mut n: u64) {
            let mut groups = vec![(n & 0x7f) as u8];
            n >>= 7;
            while n > 0 {
                groups.push((n & 0x7f) as u8 | 0x80);
                n >>= 7;
            }
            out.extend(groups.iter().rev());
        }
        let mut out = vec![0x61];
        for (ts, prefix, mode, payload) in ranges {
            put(&mut out, *ts);
            put(&mut out, prefix.len() as u64);
            out.extend_from_slice(prefix);
            put(&mut out, *mode);
            if *mode == 2 {
                put(&mut out, (payload.len() / 32) as u64);
            }
            out.extend_from_slice(payload);
        }
        out
    }

    #[test]
    fn ids_are_read_in_the_order_listed_across_ranges() {
        let ids: Vec<[u8; 32]> = (0..5u8).map(|i| [200 - i; 32]).collect();
        let first: Vec<u8> = ids[..3].concat();
        let second: Vec<u8> = ids[3..].concat();
        let m = message(&[
            (300, &[], 1, &[7; 16]),
            (1_000_000, &[9, 9], 2, &first),
            (1_000_001, &[1], 0, &[]),
            (0, &[], 2, &second),
        ]);
        assert_eq!(listed_ids(&m), Some(ids.clone()));
        let mut need = vec![ids[4], ids[0], ids[2], [1; 32]];
        in_listed_order(&mut need, &m);
        assert_eq!(need, vec![ids[0], ids[2], ids[4], [1; 32]]);
    }

    #[test]
    fn what_cannot_be_read_gives_no_order() {
        let id = [3u8; 32];
        let good = message(&[(0, &[], 2, &id)]);
        assert!(listed_ids(&good).is_some());
        // A count past the bytes there, a prefix longer than an id, an unknown mode, a
        // varint that never ends, another protocol version, and every cut of a good message.
        let mut long = good.clone();
        long[4] = 2;
        assert_eq!(listed_ids(&long), None);
        assert_eq!(listed_ids(&message(&[(0, &[0; 33], 0, &[])])), None);
        assert_eq!(listed_ids(&message(&[(0, &[], 3, &[])])), None);
        assert_eq!(listed_ids(&[0x61, 0xff, 0xff]), None);
        assert_eq!(listed_ids(&[0x51]), None);
        for cut in 2..good.len() {
            assert_eq!(listed_ids(&good[..cut]), None, "cut at {cut}");
        }
        let mut need = vec![[2; 32], [1; 32]];
        in_listed_order(&mut need, &long);
        assert_eq!(need, vec![[2; 32], [1; 32]]);
    }
}
