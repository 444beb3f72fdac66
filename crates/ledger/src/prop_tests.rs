//! Property tests for the encodings and the signature rules.

use proptest::prelude::*;

use crate::{bundle, header, rules, Entry, Hash, Header, Kind, SecretKey};

fn arb_header() -> impl Strategy<Value = (Header, Vec<u8>, u8)> {
    (
        any::<[u8; 32]>(),
        any::<[u8; 32]>(),
        1u8..=4,
        any::<u64>(),
        any::<u64>(),
        prop::sample::select(Kind::ALL.to_vec()),
        prop::collection::vec(any::<[u8; 32]>(), 0..=header::MAX_PARENTS),
        prop::collection::vec(any::<u8>(), 0..200),
    )
        .prop_map(|(net, log, key, seq, ts, kind, parents, payload)| {
            let author = SecretKey::from_seed(&[key; 32]).public();
            let parents = parents.into_iter().map(Hash).collect();
            let h = Header::new(
                Hash(net),
                Hash(log),
                author,
                seq,
                ts,
                kind,
                parents,
                &payload,
            );
            (h, payload, key)
        })
}

proptest! {
    // A fixed seed: a failure replays exactly, run after run (proptest also prints the case).
    #![proptest_config(ProptestConfig {
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x5EED_0003),
        ..ProptestConfig::default()
    })]
    #[test]
    fn header_round_trips_canonically((h, _payload, _key) in arb_header()) {
        let bytes = h.encode();
        prop_assert!(bytes.len() <= header::MAX_HEADER_LEN);
        let decoded = header::decode(&bytes).unwrap();
        prop_assert_eq!(&decoded, &h);
        prop_assert_eq!(&decoded.encode(), &bytes);
        prop_assert_eq!(header::author_bytes(&bytes), Some(*h.author.as_bytes()));
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics_and_is_canonical(bytes in prop::collection::vec(any::<u8>(), 0..800)) {
        if let Ok(h) = header::decode(&bytes) {
            prop_assert_eq!(&h.encode(), &bytes);
            // Whatever decodes, the peeked author is the decoded one.
            prop_assert_eq!(header::author_bytes(&bytes), Some(*h.author.as_bytes()));
        }
    }

    #[test]
    fn no_mutation_of_a_signed_entry_verifies(
        (h, payload, key) in arb_header(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..4),
        target in 0u8..3,
    ) {
        let entry = Entry::sign(h, &SecretKey::from_seed(&[key; 32])).unwrap();
        let mut header_bytes = entry.header_bytes().to_vec();
        let mut signature = *entry.signature();
        let mut payload = payload;
        for (index, xor) in flips {
            match target {
                0 => { let i = index.index(header_bytes.len()); header_bytes[i] ^= xor; }
                1 => { let i = index.index(64); signature[i] ^= xor; }
                _ => {
                    if payload.is_empty() { payload.push(xor); }
                    else { let i = index.index(payload.len()); payload[i] ^= xor; }
                }
            }
        }
        let accepted = Entry::from_parts(&header_bytes, &signature)
            .map_err(rules::RuleError::from)
            .and_then(|e| rules::check_payload(&e, &payload));
        prop_assert!(accepted.is_err(), "mutated entry was accepted");
    }

    #[test]
    fn bundle_round_trips((h, payload, key) in arb_header(), erased in any::<bool>()) {
        let entry = Entry::sign(h, &SecretKey::from_seed(&[key; 32])).unwrap();
        let p = (!erased).then_some(payload.as_slice());
        let bytes = bundle::encode([(&entry, p)]);
        let records = bundle::decode(&bytes).unwrap();
        prop_assert_eq!(records.len(), 1);
        prop_assert_eq!(&records[0].header, &entry.header_bytes().to_vec());
        prop_assert_eq!(records[0].payload.as_deref(), p);
    }

    #[test]
    fn bundle_decoding_arbitrary_bytes_never_panics(tail in prop::collection::vec(any::<u8>(), 0..600)) {
        let mut bytes = bundle::BUNDLE_MAGIC.to_vec();
        bytes.extend_from_slice(&tail);
        // Framing in place and decoding agree on every input, record for record.
        let framed = bundle::frame(&bytes)
            .map(|r| r.iter().map(bundle::RecordRef::to_owned_record).collect::<Vec<_>>());
        prop_assert_eq!(framed, bundle::decode(&bytes));
    }
}

/// Bundle-shaped bytes: records with arbitrary headers, signatures and payloads (within the
/// limits or not), framed, then perhaps cut short, extended, or with one byte changed (a
/// count, a length, a flag) — so that most inputs get past the magic.
fn arb_bundle_bytes() -> impl Strategy<Value = Vec<u8>> {
    let record = (
        prop::collection::vec(any::<u8>(), 0..80),
        any::<[u8; 64]>(),
        prop::option::of(prop::collection::vec(any::<u8>(), 0..80)),
    )
        .prop_map(|(header, signature, payload)| bundle::BundleRecord {
            header,
            signature,
            payload,
        });
    (
        prop::collection::vec(record, 0..5),
        0u8..4,
        any::<prop::sample::Index>(),
        any::<u8>(),
        prop::collection::vec(any::<u8>(), 1..20),
    )
        .prop_map(|(records, mutation, at, byte, junk)| {
            let mut bytes = bundle::encode_records(&records);
            let i = at.index(bytes.len());
            match mutation {
                0 => {}
                1 => bytes.truncate(i),
                2 => bytes.extend_from_slice(&junk),
                _ => bytes[i] = byte,
            }
            bytes
        })
}

/// A reader that hands out at most `step` bytes per read: the streaming framer must not
/// depend on how its input arrives.
struct Trickle<'a> {
    bytes: &'a [u8],
    step: usize,
}

impl std::io::Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.step);
        self.bytes.read(&mut buf[..n])
    }
}

/// What the streaming reader makes of `bytes`, in [`bundle::decode`]'s terms.
fn streamed(
    source: impl std::io::Read,
) -> Result<Result<Vec<bundle::BundleRecord>, bundle::BundleError>, String> {
    match bundle::Reader::new(source).collect::<Result<Vec<_>, _>>() {
        Ok(records) => Ok(Ok(records)),
        Err(bundle::ReadError::Bundle(e)) => Ok(Err(e)),
        Err(e @ bundle::ReadError::Io { .. }) => Err(e.to_string()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 1024,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x5EED_0019),
        ..ProptestConfig::default()
    })]
    /// The streaming reader and `decode` agree on every input: the same records, or the same
    /// error at the same record, whether the bytes arrive at once or a few at a time.
    #[test]
    fn the_streaming_reader_and_decode_agree(
        bytes in prop_oneof![
            arb_bundle_bytes(),
            prop::collection::vec(any::<u8>(), 0..300),
        ],
        step in 1usize..70,
    ) {
        let decoded = bundle::decode(&bytes);
        prop_assert_eq!(&streamed(&bytes[..]), &Ok(decoded.clone()));
        prop_assert_eq!(&streamed(Trickle { bytes: &bytes, step }), &Ok(decoded));
    }
}

#[test]
fn bundle_claiming_huge_counts_is_refused_without_allocating() {
    let mut bytes = bundle::BUNDLE_MAGIC.to_vec();
    bytes.extend_from_slice(&u32::MAX.to_be_bytes());
    assert_eq!(
        bundle::decode(&bytes),
        Err(bundle::BundleError::TooManyRecords { count: u32::MAX })
    );
    let mut bytes = bundle::BUNDLE_MAGIC.to_vec();
    bytes.extend_from_slice(&1000u32.to_be_bytes());
    assert_eq!(
        bundle::decode(&bytes),
        Err(bundle::BundleError::Truncated { record: 0 })
    );
}

#[test]
fn unsorted_parents_are_not_canonical() {
    let author = SecretKey::from_seed(&[1; 32]).public();
    let h = Header::new(
        Hash::ZERO,
        Hash::ZERO,
        author,
        1,
        0,
        Kind::View,
        vec![Hash::of(b"a"), Hash::of(b"b")],
        b"",
    );
    let mut bytes = h.encode();
    // Swap the two parents in place.
    let start = 1 + 32 * 3 + 16 + 1 + "view".len() + 1;
    let (first, second) = bytes[start..start + 64].split_at(32);
    let swapped = [second, first].concat();
    bytes[start..start + 64].copy_from_slice(&swapped);
    assert_eq!(
        header::decode(&bytes),
        Err(header::DecodeError::ParentsNotCanonical { position: 1 })
    );
}

#[test]
fn known_keys_are_used_only_when_they_match_the_header() {
    let author = SecretKey::from_seed(&[1; 32]).public();
    let other = SecretKey::from_seed(&[2; 32]).public();
    let h = Header::new(
        Hash::ZERO,
        Hash::ZERO,
        author,
        1,
        0,
        Kind::View,
        vec![],
        b"{}",
    );
    let bytes = h.encode();
    // A resolver that answers with the wrong key is ignored: the header names its author.
    let decoded = header::decode_with_keys(&bytes, |_| Some(other)).unwrap();
    assert_eq!(decoded.author, author);
    assert_eq!(
        header::decode_with_keys(&bytes, |_| Some(author)).unwrap(),
        h
    );
}
