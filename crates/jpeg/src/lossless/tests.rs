//! The Rust lossless decoder against a reference encoder written here from T.81 Annex H, and
//! against libjpeg-turbo decoding the same streams: every sample must agree.

use proptest::prelude::*;

use super::*;

/// Code lengths by symbol (magnitude category 0–16) of two Huffman tables: short codes, and
/// codes up to 16 bits (past the decoder's lookup, through its slow path). Neither uses the
/// all-ones code.
const SHORT: [u8; 17] = [2, 3, 3, 3, 3, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14];
const LONG: [u8; 17] = [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 16, 16];

/// What a reference encoding is made of.
#[derive(Debug, Clone)]
struct Params {
    rows: u32,
    columns: u32,
    precision: u32,
    predictor: u8,
    point_transform: u32,
    restart_rows: u32,
    lengths: [u8; 17],
}

/// Canonical codes (Annex C) for code lengths by symbol: (code, length) per symbol, and the DHT
/// counts and symbol order.
fn codes(lengths: &[u8; 17]) -> (Vec<(u32, u8)>, [u8; 16], Vec<u8>) {
    let mut order: Vec<u8> = (0..17).collect();
    order.sort_by_key(|&s| (lengths[usize::from(s)], s));
    let mut counts = [0u8; 16];
    for &l in lengths {
        counts[usize::from(l) - 1] += 1;
    }
    let mut table = vec![(0u32, 0u8); 17];
    let (mut code, mut length) = (0u32, lengths[usize::from(order[0])]);
    for &s in &order {
        let l = lengths[usize::from(s)];
        code <<= l - length;
        length = l;
        table[usize::from(s)] = (code, l);
        code += 1;
    }
    (table, counts, order)
}

struct Writer {
    out: Vec<u8>,
    acc: u32,
    count: u32,
}

impl Writer {
    fn put(&mut self, value: u32, n: u32) {
        for i in (0..n).rev() {
            self.acc = self.acc << 1 | (value >> i & 1);
            self.count += 1;
            if self.count == 8 {
                let byte = self.acc as u8;
                self.out.push(byte);
                if byte == 0xFF {
                    self.out.push(0);
                }
                self.acc = 0;
                self.count = 0;
            }
        }
    }

    /// Pads the last byte with one bits.
    fn align(&mut self) {
        while self.count != 0 {
            self.put(1, 1);
        }
    }
}

/// Encodes `samples` (row by row, each below 2^precision) as T.81 Annex H says.
fn encode(samples: &[u16], p: &Params) -> Vec<u8> {
    let (table, counts, order) = codes(&p.lengths);
    let (w, h) = (p.columns as usize, p.rows as usize);
    let mut out = vec![0xFF, SOI];
    let mut dht = vec![0xFF, DHT, 0, (2 + 1 + 16 + 17) as u8, 0x00];
    dht.extend_from_slice(&counts);
    dht.extend_from_slice(&order);
    out.extend(dht);
    out.extend_from_slice(&[0xFF, SOF3_LOSSLESS, 0, 11, p.precision as u8]);
    out.extend_from_slice(&(p.rows as u16).to_be_bytes());
    out.extend_from_slice(&(p.columns as u16).to_be_bytes());
    out.extend_from_slice(&[1, 7, 0x11, 0]);
    if p.restart_rows > 0 {
        out.extend_from_slice(&[0xFF, DRI, 0, 4]);
        out.extend_from_slice(&((p.restart_rows * p.columns) as u16).to_be_bytes());
    }
    out.extend_from_slice(&[0xFF, SOS, 0, 8, 1, 7, 0x00, p.predictor, 0]);
    out.push(p.point_transform as u8);
    let x: Vec<i32> = samples
        .iter()
        .map(|&v| i32::from(v) >> p.point_transform)
        .collect();
    let mut bits = Writer {
        out,
        acc: 0,
        count: 0,
    };
    let mut restart = 0u8;
    for y in 0..h {
        let first_row = if p.restart_rows > 0 {
            (y as u32).is_multiple_of(p.restart_rows)
        } else {
            y == 0
        };
        if first_row && y > 0 {
            bits.align();
            bits.out.extend_from_slice(&[0xFF, 0xD0 + restart]);
            restart = (restart + 1) % 8;
        }
        for i in 0..w {
            let at = y * w + i;
            let prediction = if first_row && i == 0 {
                1 << (p.precision - p.point_transform - 1)
            } else if first_row {
                x[at - 1]
            } else if i == 0 {
                x[at - w]
            } else {
                let (a, b, c) = (x[at - 1], x[at - w], x[at - w - 1]);
                match p.predictor {
                    1 => a,
                    2 => b,
                    3 => c,
                    4 => a + b - c,
                    5 => a + ((b - c) >> 1),
                    6 => b + ((a - c) >> 1),
                    _ => (a + b) >> 1,
                }
            };
            // The difference modulo 2^16, as -32767..=32768.
            let mut d = (x[at] - prediction).rem_euclid(1 << 16);
            if d > 32768 {
                d -= 1 << 16;
            }
            let category = if d == 32768 {
                16
            } else {
                32 - d.unsigned_abs().leading_zeros()
            };
            let (code, length) = table[category as usize];
            bits.put(code, u32::from(length));
            if (1..16).contains(&category) {
                let extra = if d < 0 { d - 1 } else { d };
                bits.put(extra as u32 & ((1 << category) - 1), category);
            }
        }
    }
    bits.align();
    let mut out = bits.out;
    out.extend_from_slice(&[0xFF, EOI]);
    out
}

/// What both decoders must give back: each sample with its low Pt bits dropped.
fn expected(samples: &[u16], p: &Params) -> GreySamples {
    let kept = samples
        .iter()
        .map(|&v| v >> p.point_transform << p.point_transform);
    if p.precision > 8 {
        GreySamples::U16(kept.collect())
    } else {
        GreySamples::U8(kept.map(|v| v as u8).collect())
    }
}

fn params() -> impl Strategy<Value = Params> {
    (1u32..24, 1u32..24, 2u32..=16, 1u8..=7, any::<bool>()).prop_flat_map(
        |(rows, columns, precision, predictor, long)| {
            (0..precision, 0..=rows).prop_map(move |(point_transform, restart_rows)| Params {
                rows,
                columns,
                precision,
                predictor,
                point_transform,
                restart_rows,
                lengths: if long { LONG } else { SHORT },
            })
        },
    )
}

/// Parameters and samples: noise over the whole range (large differences, category 16) or a
/// smooth ramp (small ones), each below 2^precision.
fn image() -> impl Strategy<Value = (Params, Vec<u16>)> {
    params().prop_flat_map(|p| {
        let n = (p.rows * p.columns) as usize;
        let top = (1u32 << p.precision) - 1;
        let noise = proptest::collection::vec(0..=top as u16, n);
        let smooth = (0..=top, -3i32..=3).prop_map(move |(start, step)| {
            (0..n as i32)
                .map(|i| (start as i32 + i * step).clamp(0, top as i32) as u16)
                .collect::<Vec<u16>>()
        });
        (Just(p), prop_oneof![noise, smooth])
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, rng_algorithm: proptest::test_runner::RngAlgorithm::ChaCha, ..ProptestConfig::default() })]

    /// Encoded by the reference encoder, decoded by this decoder and by libjpeg-turbo: both give
    /// the samples back, to the bit.
    #[test]
    fn decodes_what_the_reference_encoder_wrote_as_libjpeg_turbo_does((p, samples) in image()) {
        let stream = encode(&samples, &p);
        let ours = decode_lossless(&stream, p.rows, p.columns).unwrap();
        prop_assert_eq!(&ours.samples, &expected(&samples, &p), "{:?}", p);
        prop_assert_eq!(ours.precision as u32, p.precision);
        let theirs = crate::decode_grey_libjpeg(&stream, p.rows, p.columns).unwrap();
        prop_assert_eq!(&ours.samples, &theirs.samples, "{:?}", p);
    }

    /// Any cut of a valid stream is an error, never a panic, and never a picture.
    #[test]
    fn a_cut_stream_is_an_error((p, samples) in image(), cut in 0.0f64..1.0) {
        let stream = encode(&samples, &p);
        let end = ((stream.len() - 2) as f64 * cut) as usize;
        prop_assert!(decode_lossless(&stream[..end], p.rows, p.columns).is_err());
    }
}

fn sample_image() -> (Params, Vec<u16>, Vec<u8>) {
    let p = Params {
        rows: 16,
        columns: 12,
        precision: 12,
        predictor: 1,
        point_transform: 0,
        restart_rows: 4,
        lengths: SHORT,
    };
    let samples: Vec<u16> = (0..16 * 12).map(|i| (i * 37 % 4096) as u16).collect();
    let stream = encode(&samples, &p);
    (p, samples, stream)
}

#[test]
fn a_frame_of_another_size_than_the_dicom_header_says_is_refused() {
    let (_, _, stream) = sample_image();
    let err = decode_lossless(&stream, 12, 16).unwrap_err();
    assert!(
        matches!(err, JpegError::SizeMismatch { found_rows: 16, .. }),
        "{err}"
    );
}

#[test]
fn a_header_claiming_more_samples_than_the_stream_has_bits_is_refused_before_allocating() {
    // 16000 × 16000 samples (512 MiB) from a stream of a few dozen bytes: refused before the
    // output is allocated.
    let p = Params {
        rows: 1,
        columns: 1,
        precision: 16,
        predictor: 1,
        point_transform: 0,
        restart_rows: 0,
        lengths: SHORT,
    };
    let mut stream = encode(&[7], &p);
    let sof = stream
        .windows(2)
        .position(|w| w == [0xFF, SOF3_LOSSLESS])
        .unwrap();
    stream[sof + 5..sof + 9].copy_from_slice(&[0x3E, 0x80, 0x3E, 0x80]);
    let err = decode_lossless(&stream, 16000, 16000).unwrap_err();
    assert!(err.to_string().contains("premature end"), "{err}");
}

#[test]
fn a_wrong_restart_marker_is_an_error() {
    let (p, _, mut stream) = sample_image();
    let rst = stream.windows(2).position(|w| w == [0xFF, 0xD0]).unwrap();
    stream[rst + 1] = 0xD1;
    let err = decode_lossless(&stream, p.rows, p.columns).unwrap_err();
    assert!(err.to_string().contains("RST0"), "{err}");
    assert!(crate::decode_grey_libjpeg(&stream, p.rows, p.columns).is_err());
}

/// Bytes between the coded data and the next marker: libjpeg-turbo refuses those it had not
/// yet read into its bit buffer when the scan (or restart interval) ended, and so does this
/// decoder — whichever those are, for every count of extra bytes, at a restart and at the end.
#[test]
fn bytes_between_the_data_and_the_next_marker_are_refused_as_libjpeg_turbo_refuses_them() {
    let (p, _, stream) = sample_image();
    let eoi = stream.len() - 2;
    let rst = stream.windows(2).position(|w| w == [0xFF, 0xD0]).unwrap();
    let mut refused = 0;
    for at in [eoi, rst] {
        for n in 0..24 {
            let extra: Vec<u8> = (0..n).map(|i| 0x11 + i as u8).collect();
            let padded = [&stream[..at], &extra, &stream[at..]].concat();
            let ours = decode_lossless(&padded, p.rows, p.columns);
            let theirs = crate::decode_grey_libjpeg(&padded, p.rows, p.columns);
            assert_eq!(
                ours.is_ok(),
                theirs.is_ok(),
                "{n} bytes before 0x{:02X}: {ours:?}",
                stream[at + 1]
            );
            if let Err(e) = ours {
                assert!(e.to_string().contains("extraneous"), "{e}");
                refused += 1;
            }
        }
    }
    assert!(refused > 20, "most of these are refused ({refused})");
}

#[test]
fn a_restart_interval_of_part_of_a_row_is_refused_as_libjpeg_turbo_refuses_it() {
    let (p, _, mut stream) = sample_image();
    let dri = stream.windows(2).position(|w| w == [0xFF, DRI]).unwrap();
    stream[dri + 5] = 5;
    let err = decode_lossless(&stream, p.rows, p.columns).unwrap_err();
    assert!(err.to_string().contains("restart interval"), "{err}");
    assert!(crate::decode_grey_libjpeg(&stream, p.rows, p.columns).is_err());
}

#[test]
fn other_processes_and_colour_are_left_to_libjpeg_turbo() {
    let (p, _, stream) = sample_image();
    let sof = stream
        .windows(2)
        .position(|w| w == [0xFF, SOF3_LOSSLESS])
        .unwrap();
    let mut baseline = stream.clone();
    baseline[sof + 1] = 0xC0;
    assert!(matches!(
        decode_lossless(&baseline, p.rows, p.columns),
        Err(JpegError::Unsupported(_))
    ));
    let mut three = stream.clone();
    three[sof + 9] = 3;
    assert!(matches!(
        decode_lossless(&three, p.rows, p.columns),
        Err(JpegError::Unsupported(_))
    ));
}

#[test]
fn a_huffman_table_with_an_all_ones_code_is_refused() {
    // 17 codes of 5 bits and more than 2^4 of them: the counts do not make a prefix code.
    let spec = Spec {
        counts: [0, 0, 0, 0, 17, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        symbols: (0..17).collect(),
    };
    assert!(Table::new(&spec).is_ok(), "17 five-bit codes fit in 32");
    let spec = Spec {
        counts: [0, 0, 0, 16, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        symbols: (0..17).collect(),
    };
    assert!(
        Table::new(&spec).is_err(),
        "16 four-bit codes leave none for the fifth bit"
    );
}

#[test]
fn junk_is_refused_in_words_not_a_panic() {
    let (p, _, stream) = sample_image();
    for junk in [
        &b""[..],
        b"\xFF\xD8",
        b"not a jpeg",
        &[0xFF; 64],
        &stream[..40],
    ] {
        let err = decode_lossless(junk, p.rows, p.columns).unwrap_err();
        assert!(!err.to_string().is_empty());
    }
    // Every single-byte change of a valid stream: an image or an error, never a panic.
    for at in 0..stream.len() {
        for value in [0x00, 0x01, 0x7F, 0xFF, stream[at] ^ 0x10] {
            let mut changed = stream.clone();
            changed[at] = value;
            let _ = decode_lossless(&changed, p.rows, p.columns);
        }
    }
}
