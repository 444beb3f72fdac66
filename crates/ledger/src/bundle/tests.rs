use super::*;
use std::io::Read;

/// A source that remembers the largest buffer it was asked to fill: a buffer sized from a
/// length the bundle claims would show here before a byte of it arrived.
struct Watched<'a> {
    bytes: &'a [u8],
    largest_read: usize,
}

impl Read for Watched<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.largest_read = self.largest_read.max(buf.len());
        self.bytes.read(buf)
    }
}

#[test]
fn a_count_of_two_million_records_in_twelve_bytes_reserves_nothing() {
    let mut bytes = BUNDLE_MAGIC.to_vec();
    bytes.extend_from_slice(&MAX_BUNDLE_ENTRIES.to_be_bytes());
    assert_eq!(bytes.len(), 12);
    let mut watched = Watched {
        bytes: &bytes,
        largest_read: 0,
    };
    let mut reader = Reader::new(&mut watched);
    // No size hint from the sender's count: `collect` would reserve two million records.
    assert_eq!(reader.size_hint(), (0, None));
    let read: Vec<_> = reader.by_ref().collect();
    assert!(
        matches!(
            read.as_slice(),
            [Err(ReadError::Bundle(BundleError::Truncated { record: 0 }))]
        ),
        "{read:?}"
    );
    assert!(reader.next().is_none(), "nothing after the first error");
    // The preamble and the first record's length prefix, read a few bytes at a time.
    assert!(watched.largest_read <= 8, "{}", watched.largest_read);
    assert_eq!(
        decode(&bytes),
        Err(BundleError::Truncated { record: 0 }),
        "the in-memory framer says the same"
    );
}

#[test]
fn a_payload_claiming_sixteen_mib_in_a_short_input_is_read_as_it_arrives() {
    let mut bytes = BUNDLE_MAGIC.to_vec();
    bytes.extend_from_slice(&1u32.to_be_bytes());
    bytes.extend_from_slice(&0u16.to_be_bytes());
    bytes.extend_from_slice(&[7; 64]);
    bytes.push(1);
    bytes.extend_from_slice(&(MAX_PAYLOAD_LEN as u32).to_be_bytes());
    bytes.extend_from_slice(b"only this much");
    let mut watched = Watched {
        bytes: &bytes,
        largest_read: 0,
    };
    let read: Vec<_> = Reader::new(&mut watched).collect();
    assert!(
        matches!(
            read.as_slice(),
            [Err(ReadError::Bundle(BundleError::Truncated { record: 0 }))]
        ),
        "{read:?}"
    );
    assert!(
        watched.largest_read <= FIRST_RESERVE,
        "a {} byte buffer for a {}-byte input",
        watched.largest_read,
        bytes.len()
    );
}

#[test]
fn a_payload_longer_than_the_first_reservation_is_kept_at_its_length() {
    let payload = vec![0xAB; FIRST_RESERVE * 3 + 5];
    let record = BundleRecord {
        header: vec![1, 2, 3],
        signature: [9; 64],
        payload: Some(payload.clone()),
    };
    let bytes = encode_records(std::slice::from_ref(&record));
    let read: Vec<BundleRecord> = Reader::new(std::io::BufReader::new(&bytes[..]))
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(read, vec![record]);
    let kept = read[0].payload.as_ref().unwrap();
    assert_eq!(kept.capacity(), payload.len(), "no doubling slack kept");
}

#[test]
fn a_failing_stream_is_an_io_error_at_its_record() {
    struct Failing<'a>(&'a [u8]);
    impl Read for Failing<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.0.is_empty() {
                return Err(std::io::Error::other("disk on fire"));
            }
            self.0.read(buf)
        }
    }
    let records = [
        BundleRecord {
            header: vec![1],
            signature: [1; 64],
            payload: None,
        },
        BundleRecord {
            header: vec![2],
            signature: [2; 64],
            payload: Some(vec![2; 10]),
        },
    ];
    let bytes = encode_records(&records);
    // The stream fails in the middle of the second record's signature.
    let read: Vec<_> = Reader::new(Failing(&bytes[..bytes.len() - 40])).collect();
    assert!(
        matches!(
            read.as_slice(),
            [Ok(first), Err(ReadError::Io { record: 1, .. })] if *first == records[0]
        ),
        "{read:?}"
    );
}

#[test]
fn data_keys_come_before_the_records_and_frame_the_same_everywhere() {
    let records = [BundleRecord {
        header: vec![7; 3],
        signature: [7; 64],
        payload: Some(b"CSS2 sealed".to_vec()),
    }];
    let keys = vec![
        (Hash([1; 32]), DataKey::from_bytes([0x11; 32])),
        (Hash([2; 32]), DataKey::from_bytes([0x22; 32])),
    ];
    let bytes = encode_records_keyed(&keys, &records);
    assert_eq!(&bytes[..8], BUNDLE_MAGIC_KEYED);
    assert_eq!(
        decode_keyed(&bytes).unwrap(),
        (keys.clone(), records.to_vec())
    );
    // Readers that want only the records get them.
    assert_eq!(decode(&bytes).unwrap(), records.to_vec());
    let mut reader = Reader::new(&bytes[..]);
    assert_eq!(reader.keys().unwrap(), keys);
    assert_eq!(reader.keys().unwrap(), vec![], "taken out once");
    let read: Vec<_> = reader.map(Result::unwrap).collect();
    assert_eq!(read, records.to_vec());
    // No keys: exactly the format before keys existed.
    assert_eq!(
        encode_records_keyed(&[], &records),
        encode_records(&records)
    );
    assert_eq!(&encode_records(&records)[..8], BUNDLE_MAGIC);
    // Cut inside the keys; marked keyed with none; more keys than allowed.
    assert_eq!(
        decode(&bytes[..8 + 4 + 70]),
        Err(BundleError::KeysTruncated)
    );
    let mut none = BUNDLE_MAGIC_KEYED.to_vec();
    none.extend_from_slice(&[0; 8]);
    assert_eq!(decode(&none), Err(BundleError::NoKeys));
    let mut many = BUNDLE_MAGIC_KEYED.to_vec();
    many.extend_from_slice(&u32::MAX.to_be_bytes());
    assert_eq!(
        decode(&many),
        Err(BundleError::TooManyKeys { count: u32::MAX })
    );
    let mut reader = Reader::new(&many[..]);
    assert!(reader.keys().is_err());
    assert_eq!(reader.count(), 0, "nothing after the first error");
}
