use countersign_ledger::{Hash, SecretKey};
use proptest::prelude::*;

use crate::protocol::*;

fn key(i: u8) -> countersign_ledger::PublicKey {
    SecretKey::from_seed(&[i; 32]).public()
}

fn hash() -> impl Strategy<Value = Hash> {
    any::<[u8; 32]>().prop_map(Hash)
}

fn vector() -> impl Strategy<Value = VersionVector> {
    prop::collection::vec((1u8..20, any::<u64>()), 0..6)
        .prop_map(|v| v.into_iter().map(|(k, s)| (key(k), s)).collect())
}

fn request() -> impl Strategy<Value = Request> {
    prop_oneof![
        (hash(), prop::collection::vec(hash(), 1..5))
            .prop_map(|(network, logs)| Request::Summary { network, logs }),
        (
            hash(),
            any::<u64>(),
            hash(),
            prop::collection::vec(any::<u8>(), 0..300)
        )
            .prop_map(|(network, from, base, message)| Request::Reconcile {
                network,
                from,
                base,
                message
            }),
        (hash(), prop::collection::vec(hash(), 1..5))
            .prop_map(|(network, ids)| Request::FetchIds { network, ids }),
        (hash(), hash(), vector(), any::<u32>()).prop_map(|(network, log, have, limit)| {
            Request::Fetch {
                network,
                log,
                have,
                limit,
            }
        }),
        (hash(), prop::collection::vec(hash(), 0..5))
            .prop_map(|(network, logs)| Request::Announce { network, logs }),
        (hash(), prop::collection::vec(hash(), 1..5))
            .prop_map(|(network, logs)| Request::Keys { network, logs }),
    ]
}

fn response() -> impl Strategy<Value = Response> {
    let summary = prop::collection::vec(
        (
            hash(),
            vector(),
            prop::collection::vec(hash(), 0..4),
            any::<u32>(),
            prop::option::of(prop::collection::vec(any::<u8>(), 1..300)),
        ),
        0..4,
    )
    .prop_map(|logs| Response::Summary {
        logs: logs
            .into_iter()
            .map(|(log, authors, heads, forks, checkpoint)| LogSummary {
                log,
                authors,
                heads,
                forks,
                checkpoint,
            })
            .collect(),
    });
    prop_oneof![
        summary,
        (
            any::<bool>(),
            prop::collection::vec(prop::collection::vec(any::<u8>(), 1..100), 0..4)
        )
            .prop_map(|(more, evidence)| Response::Entries {
                more,
                bundle: countersign_ledger::bundle::encode(std::iter::empty()),
                evidence,
            }),
        any::<u64>().prop_map(|stored| Response::Ack { stored }),
        (any::<bool>(), prop::collection::vec(any::<u8>(), 0..300)).prop_map(
            |(base_matches, message)| Response::Reconcile {
                base_matches,
                message
            }
        ),
        ".{0,200}".prop_map(|reason| Response::Refused { reason }),
        prop::collection::vec((hash(), any::<[u8; 32]>()), 0..5).prop_map(|keys| {
            Response::Keys {
                keys: keys
                    .into_iter()
                    .map(|(log, k)| (log, countersign_ledger::DataKey::from_bytes(k)))
                    .collect(),
            }
        }),
    ]
}

/// A node delegation (or none) in an envelope, by a member of known seed.
fn delegation() -> impl Strategy<Value = Option<countersign_ledger::delegation::NodeDelegation>> {
    prop::option::of(
        (1u8..20, 20u8..40, hash()).prop_map(|(member, node, network)| {
            countersign_ledger::delegation::NodeDelegation::try_sign(
                network,
                &SecretKey::from_seed(&[member; 32]),
                key(node),
            )
            .unwrap()
        }),
    )
}

proptest! {
    // A fixed seed: a failure replays exactly, run after run (proptest also prints the case).
    #![proptest_config(ProptestConfig {
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x5EED_0004),
        ..ProptestConfig::default()
    })]
    #[test]
    fn requests_round_trip_and_have_one_encoding(r in request(), d in delegation()) {
        let bytes = r.encode();
        // What a request costs its sender's rate is its length, counted without encoding.
        prop_assert_eq!(r.encoded_len(), bytes.len());
        prop_assert_eq!(Request::decode(&bytes), Ok(r.clone()));
        let wire = Envelope { delegation: d, body: r };
        let bytes = wire.encode();
        prop_assert!(bytes.len() <= wire.body.encode().len() + MAX_ENVELOPE);
        prop_assert_eq!(Envelope::<Request>::decode(&bytes), Ok(wire));
        fuzz_check(&bytes);
    }

    #[test]
    fn responses_round_trip_and_have_one_encoding(r in response(), d in delegation()) {
        let bytes = r.encode();
        prop_assert_eq!(r.encoded_len(), bytes.len());
        prop_assert_eq!(Response::decode(&bytes), Ok(r.clone()));
        let wire = Envelope { delegation: d, body: r };
        let bytes = wire.encode();
        prop_assert_eq!(Envelope::<Response>::decode(&bytes), Ok(wire));
        fuzz_check(&bytes);
    }

    #[test]
    fn any_bytes_decode_or_are_refused(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        fuzz_check(&bytes);
    }
}

#[test]
fn counts_beyond_their_bounds_are_refused_before_allocating() {
    // A summary claiming u32::MAX logs in five bytes.
    let mut b = vec![0x81];
    b.extend_from_slice(&u32::MAX.to_be_bytes());
    assert!(matches!(
        Response::decode(&b),
        Err(DecodeError::TooMany { what: "logs", .. })
    ));
    // A fetch whose version vector claims 60000 authors.
    let mut b = vec![0x02];
    b.extend_from_slice(&[0; 64]);
    b.extend_from_slice(&60000u16.to_be_bytes());
    assert!(matches!(
        Request::decode(&b),
        Err(DecodeError::TooMany {
            what: "authors",
            ..
        })
    ));
    // Trailing bytes and unknown tags.
    let mut b = Request::Summary {
        network: Hash([1; 32]),
        logs: vec![Hash([2; 32])],
    }
    .encode();
    b.push(0);
    // A summary of no logs (v1's "every log", which made the cliff) and an empty fetch by id.
    let mut b0 = vec![0x01];
    b0.extend_from_slice(&[0; 32]);
    b0.extend_from_slice(&0u16.to_be_bytes());
    assert!(matches!(Request::decode(&b0), Err(DecodeError::Empty(_))));
    b0[0] = 0x05;
    assert!(matches!(Request::decode(&b0), Err(DecodeError::Empty(_))));
    // A reconciliation step claiming more than its bound.
    let mut r = vec![0x85, 1];
    r.extend_from_slice(&(crate::protocol::MAX_RECONCILE as u32 + 1).to_be_bytes());
    assert!(matches!(
        Response::decode(&r),
        Err(DecodeError::TooMany { .. })
    ));
    assert_eq!(Request::decode(&b), Err(DecodeError::TrailingBytes(1)));
    assert_eq!(Request::decode(&[0x7f]), Err(DecodeError::UnknownTag(0x7f)));
    // A weak key in a version vector.
    let mut b = vec![0x02];
    b.extend_from_slice(&[0; 64]);
    b.extend_from_slice(&1u16.to_be_bytes());
    b.extend_from_slice(&[0; 32]);
    b.extend_from_slice(&[0; 8]);
    b.extend_from_slice(&[0; 4]);
    assert_eq!(Request::decode(&b), Err(DecodeError::BadKey));
}

#[test]
fn a_member_key_is_its_peer_id() {
    let secret = SecretKey::from_seed(&[9; 32]);
    let id = crate::keypair(&secret.to_seed()).public().to_peer_id();
    assert_eq!(id, crate::peer_id(&secret.public()));
    assert_eq!(crate::peer_key(&id), Some(secret.public()));
}

#[test]
fn frames_claiming_more_than_the_limit_are_refused_before_reading_them() {
    use futures::executor::block_on;
    use libp2p::request_response::Codec;
    let protocol = libp2p::StreamProtocol::new(PROTOCOL);
    let mut codec = crate::codec::SyncCodec;
    // A response frame claiming 4 GiB, followed by nothing: refused by its length alone.
    let mut huge = std::io::Cursor::new(u32::MAX.to_be_bytes().to_vec());
    let mut io = futures::io::AllowStdIo::new(&mut huge);
    let err = block_on(codec.read_response(&protocol, &mut io)).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    assert!(err.to_string().contains("exceeds the limit"), "{err}");
    // A request frame just over the request limit, likewise.
    let claim = (crate::codec::MAX_REQUEST as u32 + 1)
        .to_be_bytes()
        .to_vec();
    let mut io = futures::io::AllowStdIo::new(std::io::Cursor::new(claim));
    assert!(block_on(codec.read_request(&protocol, &mut io)).is_err());
    // A frame shorter than it claims is an error, not a hang or a partial message.
    let mut short = 10u32.to_be_bytes().to_vec();
    short.extend_from_slice(&[0x00, 0x83, 0, 0]);
    let mut io = futures::io::AllowStdIo::new(std::io::Cursor::new(short));
    assert!(block_on(codec.read_response(&protocol, &mut io)).is_err());
    // And a well-formed one reads.
    let ack = Envelope::plain(Response::Ack { stored: 3 }).encode();
    let mut framed = (ack.len() as u32).to_be_bytes().to_vec();
    framed.extend_from_slice(&ack);
    let mut io = futures::io::AllowStdIo::new(std::io::Cursor::new(framed));
    assert_eq!(
        block_on(codec.read_response(&protocol, &mut io)).unwrap(),
        Envelope::plain(Response::Ack { stored: 3 })
    );
}

#[test]
fn an_envelope_is_strict_about_its_flag_and_its_delegation() {
    use countersign_ledger::delegation::{DelegationError, NodeDelegation, DELEGATION_LEN};
    let body = Request::Announce {
        network: Hash([1; 32]),
        logs: Vec::new(),
    };
    let plain = Envelope::plain(body.clone()).encode();
    assert_eq!(plain[0], 0x00);
    assert_eq!(&plain[1..], &body.encode()[..]);
    let d =
        NodeDelegation::try_sign(Hash([1; 32]), &SecretKey::from_seed(&[1; 32]), key(2)).unwrap();
    let delegated = Envelope {
        delegation: Some(d),
        body: body.clone(),
    }
    .encode();
    assert_eq!(delegated.len(), plain.len() + DELEGATION_LEN);
    assert!(delegated.len() <= plain.len() - 1 + MAX_ENVELOPE);
    // A flag that is neither 0 nor 1.
    let mut bad = plain.clone();
    bad[0] = 2;
    assert_eq!(
        Envelope::<Request>::decode(&bad),
        Err(DecodeError::BadFlag(2))
    );
    // A delegation cut short, or with a weak key: refused before the body is read.
    assert_eq!(
        Envelope::<Request>::decode(&delegated[..100]),
        Err(DecodeError::Truncated)
    );
    let mut weak = delegated.clone();
    weak[1 + 65..1 + 97].copy_from_slice(&[0; 32]);
    weak[1 + 65] = 1;
    assert_eq!(
        Envelope::<Request>::decode(&weak),
        Err(DecodeError::BadDelegation(DelegationError::BadKey))
    );
    // "No delegation" followed by delegation bytes is not a message either.
    let mut confused = delegated.clone();
    confused[0] = 0x00;
    assert!(Envelope::<Request>::decode(&confused).is_err());
    // A body with trailing bytes stays refused inside an envelope.
    let mut trailing = delegated;
    trailing.push(0);
    assert_eq!(
        Envelope::<Request>::decode(&trailing),
        Err(DecodeError::TrailingBytes(1))
    );
}

#[test]
fn key_requests_and_answers_are_bounded_before_allocating() {
    // An empty key request says nothing: refused (an answer to it could only be empty).
    let mut b = vec![0x06];
    b.extend_from_slice(&[0; 32]);
    b.extend_from_slice(&0u16.to_be_bytes());
    assert_eq!(
        Request::decode(&b),
        Err(DecodeError::Empty("a key request"))
    );
    // One log past the bound, in a request and in an answer: refused by the count alone.
    let over = (MAX_KEY_REQUEST + 1) as u16;
    let mut b = vec![0x06];
    b.extend_from_slice(&[0; 32]);
    b.extend_from_slice(&over.to_be_bytes());
    b.extend_from_slice(&vec![0; 32 * (MAX_KEY_REQUEST + 1)]);
    assert!(matches!(
        Request::decode(&b),
        Err(DecodeError::TooMany {
            max: MAX_KEY_REQUEST,
            ..
        })
    ));
    let mut a = vec![0x86];
    a.extend_from_slice(&over.to_be_bytes());
    a.extend_from_slice(&vec![0; 64 * (MAX_KEY_REQUEST + 1)]);
    assert!(matches!(
        Response::decode(&a),
        Err(DecodeError::TooMany {
            max: MAX_KEY_REQUEST,
            ..
        })
    ));
    // An answer claiming more keys than its bytes hold: refused before any is read.
    let mut a = vec![0x86];
    a.extend_from_slice(&3u16.to_be_bytes());
    a.extend_from_slice(&[0; 64 * 2]);
    assert_eq!(Response::decode(&a), Err(DecodeError::Truncated));
    // A key cut short, and trailing bytes.
    let full = Response::Keys {
        keys: vec![(
            Hash([1; 32]),
            countersign_ledger::DataKey::from_bytes([2; 32]),
        )],
    }
    .encode();
    assert_eq!(full.len(), 3 + 64);
    assert_eq!(
        Response::decode(&full[..full.len() - 1]),
        Err(DecodeError::Truncated)
    );
    let mut trailing = full.clone();
    trailing.push(0);
    assert_eq!(
        Response::decode(&trailing),
        Err(DecodeError::TrailingBytes(1))
    );
    // The largest answer is what the bound says, and fits a frame many times over.
    let largest = Response::Keys {
        keys: (0..MAX_KEY_REQUEST + 10)
            .map(|i| {
                (
                    Hash([i as u8; 32]),
                    countersign_ledger::DataKey::from_bytes([7; 32]),
                )
            })
            .collect(),
    };
    assert_eq!(largest.encode().len(), MAX_KEYS_BYTES);
    assert_eq!(largest.encoded_len(), MAX_KEYS_BYTES);
    assert!(
        matches!(Response::decode(&largest.encode()), Ok(Response::Keys { keys }) if keys.len() == MAX_KEY_REQUEST)
    );
    // Keys never show in Debug.
    let shown = format!("{:?}", Response::decode(&full).unwrap());
    assert!(!shown.contains("2, 2, 2"), "{shown}");
    assert!(shown.contains("redacted"), "{shown}");
}
