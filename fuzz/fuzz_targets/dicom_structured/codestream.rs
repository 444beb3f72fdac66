//! Codestream headers inside the fragments: JPEG (and JPEG-LS), JPEG 2000 (bare or JP2),
//! RLE with PackBits runs.

use arbitrary::{Arbitrary, Result, Unstructured};

use crate::file::Syntax;
use crate::image::Geometry;
use crate::pixels::repeat;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Codec {
    /// A JPEG stream with this SOF marker (0xF7: JPEG-LS).
    Jpeg(u8),
    J2k {
        jp2: bool,
    },
    Rle,
}

impl<'a> Arbitrary<'a> for Codec {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match u.int_in_range(0u8..=3)? {
            0 => Codec::Jpeg(*u.choose(&[0xC0, 0xC1, 0xC2, 0xC3, 0xF7, 0xCF, 0xC5])?),
            1 => Codec::J2k { jp2: false },
            2 => Codec::J2k { jp2: true },
            _ => Codec::Rle,
        })
    }
}

/// Knobs of a codestream header; by default it agrees with the DICOM header.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CodecParams {
    /// Rows and columns other than the DICOM header's.
    dims: Option<(u16, u16)>,
    components: Option<u8>,
    precision: Option<u8>,
    /// DQT and DHT before the frame (JPEG).
    tables: bool,
    /// The lossless predictor, JPEG-LS NEAR, or ignored.
    selection: u8,
    /// JPEG-LS interleave mode.
    interleave: u8,
    /// JPEG 2000 decomposition levels.
    levels: u8,
    /// EOI or EOC at the end.
    end: bool,
    /// RLE: segments of PackBits runs that decode to the frame's size, rather than the body as
    /// it is.
    packbits: bool,
    /// RLE: a number of segments other than the header's.
    segments: Option<u8>,
}

impl<'a> Arbitrary<'a> for CodecParams {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let rarely = |u: &mut Unstructured<'a>| u.ratio(15u8, 16).map(|b| !b);
        Ok(CodecParams {
            dims: if rarely(u)? {
                Some(u.arbitrary()?)
            } else {
                None
            },
            components: if rarely(u)? {
                Some(u.arbitrary()?)
            } else {
                None
            },
            precision: if rarely(u)? {
                Some(u.arbitrary()?)
            } else {
                None
            },
            tables: !rarely(u)?,
            selection: u.int_in_range(0..=7)?,
            interleave: u.int_in_range(0..=2)?,
            levels: u.int_in_range(0..=5)?,
            end: !rarely(u)?,
            packbits: !rarely(u)?,
            segments: if rarely(u)? {
                Some(u.arbitrary()?)
            } else {
                None
            },
        })
    }
}

impl CodecParams {
    /// Rows, columns, components and precision of the codestream.
    fn frame(&self, g: &Geometry, default_precision: u8) -> (u32, u32, u8, u8) {
        let (rows, columns) = self.dims.map_or_else(
            || {
                (
                    g.rows.min(u32::MAX.into()) as u32,
                    g.columns.min(u32::MAX.into()) as u32,
                )
            },
            |(r, c)| (r.into(), c.into()),
        );
        let components = self.components.unwrap_or(g.samples.clamp(1, 255) as u8);
        let precision = self.precision.unwrap_or(default_precision);
        (rows, columns, components, precision)
    }
}

fn marker(out: &mut Vec<u8>, marker: u8, body: &[u8]) {
    out.extend_from_slice(&[0xFF, marker]);
    out.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(body);
}

/// A JPEG (or JPEG-LS, SOF 0xF7) stream: SOI, tables, SOF, SOS agreeing with the DICOM header,
/// then the body as scan data.
pub(crate) fn jpeg(sof: u8, syntax: Syntax, p: &CodecParams, g: &Geometry, body: &[u8]) -> Vec<u8> {
    let stored = g.bits_stored.clamp(2, 16) as u8;
    let default_precision = match sof {
        0xC0 => 8,
        0xC1 | 0xC2 => {
            if stored > 8 {
                12
            } else {
                8
            }
        }
        _ => stored,
    };
    let (rows, columns, components, precision) = p.frame(g, default_precision);
    let lossless = matches!(sof, 0xC3 | 0xC7 | 0xCB | 0xCF);
    let ls = sof == 0xF7;
    let mut out = vec![0xFF, 0xD8];
    if p.tables && !ls {
        if !lossless {
            let mut dqt = vec![0x00];
            dqt.extend([1u8; 64]);
            marker(&mut out, 0xDB, &dqt);
        }
        // One code of length 1 per table: every DC difference 0, every AC block ends at once.
        let mut counts = [0u8; 16];
        counts[0] = 1;
        for (class, symbol) in [(0x00, 0x00), (0x10, 0x00)] {
            if lossless && class == 0x10 {
                continue;
            }
            let mut dht = vec![class];
            dht.extend(counts);
            dht.push(symbol);
            marker(&mut out, 0xC4, &dht);
        }
    }
    let mut frame = vec![precision];
    frame.extend((rows.min(65535) as u16).to_be_bytes());
    frame.extend((columns.min(65535) as u16).to_be_bytes());
    frame.push(components);
    for c in 0..components {
        frame.extend([c.wrapping_add(1), 0x11, 0]);
    }
    marker(&mut out, sof, &frame);
    let in_scan = components.clamp(1, 4);
    let mut scan = vec![in_scan];
    for c in 0..in_scan {
        scan.extend([c + 1, 0]);
    }
    scan.extend(match (sof, lossless) {
        (0xF7, _) => {
            let near = if syntax == Syntax::JpegLsNearLossless {
                p.selection
            } else {
                0
            };
            let interleave = if components > 1 { p.interleave } else { 0 };
            [near, interleave, 0]
        }
        (_, true) => {
            let predictor = if syntax == Syntax::JpegLosslessSv1 {
                1
            } else {
                p.selection.max(1)
            };
            [predictor, 0, 0]
        }
        _ => [0, 63, 0],
    });
    marker(&mut out, 0xDA, &scan);
    out.extend_from_slice(body);
    if p.end {
        out.extend_from_slice(&[0xFF, 0xD9]);
    }
    out
}

pub(crate) const JP2_SIGNATURE: [u8; 12] = [
    0, 0, 0, 0x0C, b'j', b'P', b' ', b' ', 0x0D, 0x0A, 0x87, 0x0A,
];

/// A JPEG 2000 codestream (optionally in a JP2 file): SOC, SIZ agreeing with the DICOM header,
/// COD, QCD, one tile part holding the body, EOC.
pub(crate) fn j2k(
    jp2: bool,
    syntax: Syntax,
    p: &CodecParams,
    g: &Geometry,
    body: &[u8],
) -> Vec<u8> {
    let (rows, columns, components, precision) = p.frame(g, g.bits_stored.clamp(1, 38) as u8);
    let reversible = syntax != Syntax::Jpeg2000;
    let mut out = Vec::new();
    if jp2 {
        out.extend_from_slice(&JP2_SIGNATURE);
        out.extend_from_slice(&[0, 0, 0, 0x14]);
        out.extend_from_slice(b"ftypjp2 \0\0\0\0jp2 ");
        out.extend_from_slice(&[0, 0, 0, 0]);
        out.extend_from_slice(b"jp2c");
    }
    out.extend_from_slice(&[0xFF, 0x4F]);
    let mut siz = vec![0, 0];
    for v in [columns, rows, 0, 0, columns.max(1), rows.max(1), 0, 0] {
        siz.extend(v.to_be_bytes());
    }
    siz.extend(u16::from(components).to_be_bytes());
    let depth = (precision.clamp(1, 38) - 1) | if g.signed { 0x80 } else { 0 };
    for _ in 0..components {
        siz.extend([depth, 1, 1]);
    }
    marker(&mut out, 0x51, &siz);
    let levels = p.levels;
    let colour_transform = u8::from(components >= 3);
    let cod = [
        0,
        0,
        0,
        1,
        colour_transform,
        levels,
        4,
        4,
        0,
        u8::from(reversible),
    ];
    marker(&mut out, 0x52, &cod);
    let bands = 1 + 3 * usize::from(levels);
    let mut qcd = Vec::new();
    if reversible {
        qcd.push(0x40);
        qcd.extend(std::iter::repeat_n(0x48u8, bands));
    } else {
        qcd.push(0x42);
        qcd.extend(std::iter::repeat_n([0x48u8, 0x00], bands).flatten());
    }
    marker(&mut out, 0x5C, &qcd);
    marker(&mut out, 0x90, &[0, 0, 0, 0, 0, 0, 0, 1]);
    out.extend_from_slice(&[0xFF, 0x93]);
    out.extend_from_slice(body);
    if p.end {
        out.extend_from_slice(&[0xFF, 0xD9]);
    }
    out
}

/// An RLE fragment (PS3.5 G): a 64-byte header of segment offsets, then one segment per byte of
/// each sample — PackBits runs that decode to exactly the frame's size, taken from the body — or
/// the body as it is.
pub(crate) fn rle(p: &CodecParams, g: &Geometry, body: &[u8]) -> Vec<u8> {
    let bytes = g.bits_allocated.div_ceil(8).max(1);
    let count = p
        .segments
        .map_or(g.samples.max(1) * bytes, u64::from)
        .min(15) as usize;
    let pixels = (g.rows * g.columns).min(1 << 16) as usize;
    let segments: Vec<Vec<u8>> = if p.packbits {
        (0..count)
            .map(|s| packbits(&repeat(&body[body.len().min(s)..], pixels)))
            .collect()
    } else {
        let share = body.len() / count.max(1);
        (0..count)
            .map(|s| body[s * share..(s + 1) * share].to_vec())
            .collect()
    };
    let mut header = vec![0u8; 64];
    header[..4].copy_from_slice(&(count as u32).to_le_bytes());
    let mut at = 64u32;
    for (s, segment) in segments.iter().enumerate() {
        header[4 + 4 * s..8 + 4 * s].copy_from_slice(&at.to_le_bytes());
        at += segment.len() as u32;
    }
    let mut out = header;
    segments.iter().for_each(|s| out.extend_from_slice(s));
    out
}

/// PackBits: runs of equal bytes as repeats, the rest as literals of up to 128 bytes.
fn packbits(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < data.len() {
        let run = data[i..]
            .iter()
            .take(128)
            .take_while(|&&b| b == data[i])
            .count();
        if run >= 2 {
            out.extend_from_slice(&[(1 - run as i16) as i8 as u8, data[i]]);
            i += run;
        } else {
            let n = (data.len() - i).min(128);
            out.push((n - 1) as u8);
            out.extend_from_slice(&data[i..i + n]);
            i += n;
        }
    }
    out
}
