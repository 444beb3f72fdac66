//! Pixel data: native, float, or encapsulated in fragments.

use arbitrary::{Arbitrary, Result, Unstructured};

use crate::codestream::{j2k, jpeg, rle, Codec, CodecParams, JP2_SIGNATURE};
use crate::file::Syntax;
use crate::image::Geometry;
use crate::value::{Len, VrPick};
use crate::writer::{DataSet, Tag, Writer};

// ---------------------------------------------------------------------------------------------
// Pixel data

const PIXEL_DATA: Tag = (0x7FE0, 0x0010);

/// Native pixel data larger than this is cut here (the header's size is refused anyway).
const MAX_NATIVE_BYTES: usize = 256 << 10;

#[derive(Debug)]
pub(crate) enum Pixels {
    Absent,
    Native(Native),
    /// Float (7FE0,0008) or double float (7FE0,0009) pixel data.
    Float {
        double: bool,
        native: Native,
    },
    Encapsulated(Encapsulated),
}

impl Pixels {
    /// Mostly the form `syntax` calls for.
    pub(crate) fn arbitrary_for(u: &mut Unstructured, syntax: Syntax) -> Result<Self> {
        let matching = match u.int_in_range(0u8..=31)? {
            0..=27 => true,
            28..=29 => false,
            30 => return Ok(Pixels::Absent),
            _ => {
                return Ok(Pixels::Float {
                    double: u.arbitrary()?,
                    native: u.arbitrary()?,
                })
            }
        };
        Ok(if syntax.encapsulated() == matching {
            Pixels::Encapsulated(u.arbitrary()?)
        } else {
            Pixels::Native(u.arbitrary()?)
        })
    }

    pub(crate) fn write(&self, ds: &mut DataSet, syntax: Syntax, g: &Geometry) {
        match self {
            Pixels::Absent => {}
            Pixels::Native(native) => {
                let dictionary = if g.bits_allocated > 8 { "OW" } else { "OB" };
                let bytes = native.bytes(g.native_bytes());
                ds.with(PIXEL_DATA, |w| {
                    let vr = native.vr.resolve(dictionary);
                    w.element(PIXEL_DATA, &vr, &bytes, native.len)
                });
            }
            Pixels::Float { double, native } => {
                let (tag, vr, size) = if *double {
                    ((0x7FE0, 0x0009), "OD", 8)
                } else {
                    ((0x7FE0, 0x0008), "OF", 4)
                };
                let pixels = u128::from(g.rows) * u128::from(g.columns) * u128::from(g.frames);
                let bytes = native.bytes(pixels * size);
                ds.with(tag, |w| {
                    let vr = native.vr.resolve(vr);
                    w.element(tag, &vr, &bytes, native.len)
                });
            }
            Pixels::Encapsulated(e) => ds.with(PIXEL_DATA, |w| e.write(w, syntax, g)),
        }
    }
}

/// Native pixel data: the size the header calls for, or a little off; bytes from the input.
#[derive(Debug, Arbitrary)]
pub(crate) struct Native {
    vr: VrPick,
    len: Len,
    size: Size,
    fill: Vec<u8>,
}

#[derive(Debug, Clone, Copy)]
enum Size {
    AsDescribed,
    Less(u8),
    More(u8),
    Half,
    Empty,
}

impl<'a> Arbitrary<'a> for Size {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match u.int_in_range(0u8..=15)? {
            12 => Size::Less(u.arbitrary()?),
            13 => Size::More(u.arbitrary()?),
            14 => Size::Half,
            15 => Size::Empty,
            _ => Size::AsDescribed,
        })
    }
}

impl Native {
    fn bytes(&self, described: u128) -> Vec<u8> {
        let described = described.min(MAX_NATIVE_BYTES as u128) as usize;
        let n = match self.size {
            Size::AsDescribed => described,
            Size::Less(d) => described.saturating_sub(usize::from(d).max(1)),
            Size::More(d) => described + usize::from(d).max(1),
            Size::Half => described / 2,
            Size::Empty => 0,
        };
        repeat(&self.fill, n)
    }
}

/// `n` bytes: `source` repeated, zeros if it is empty.
pub(crate) fn repeat(source: &[u8], n: usize) -> Vec<u8> {
    if source.is_empty() {
        return vec![0; n];
    }
    source.iter().copied().cycle().take(n).collect()
}

/// Encapsulated pixel data (PS3.5 A.4).
#[derive(Debug)]
pub(crate) struct Encapsulated {
    vr: VrPick,
    /// Undefined, as it must be, mostly.
    length: Len,
    offsets: OffsetTable,
    fragments: Vec<Fragment>,
    end: End,
}

#[derive(Debug, Arbitrary)]
enum OffsetTable {
    Empty,
    /// The offset of each fragment.
    Correct,
    Values(Vec<u32>),
    /// No offset table item: the first item is a fragment.
    Absent,
}

#[derive(Debug, Clone, Copy)]
enum End {
    SequenceDelimiter,
    Missing,
    DelimiterWithLength(u32),
    ItemDelimiter,
}

impl<'a> Arbitrary<'a> for Encapsulated {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let vr = u.arbitrary()?;
        let length = match u.int_in_range(0u8..=31)? {
            31 => u.arbitrary()?,
            _ => Len::Undefined,
        };
        let offsets = match u.int_in_range(0u8..=15)? {
            0..=10 => OffsetTable::Empty,
            11..=13 => OffsetTable::Correct,
            14 => OffsetTable::Values(u.arbitrary()?),
            _ => OffsetTable::Absent,
        };
        let count = match u.int_in_range(0u8..=15)? {
            0..=10 => 1,
            11..=13 => 2,
            14 => 0,
            _ => u.int_in_range(3..=8)?,
        };
        let end = match u.int_in_range(0u8..=31)? {
            29 => End::Missing,
            30 => End::DelimiterWithLength(u.arbitrary()?),
            31 => End::ItemDelimiter,
            _ => End::SequenceDelimiter,
        };
        // The fragments last, so that their bytes take the rest of the input.
        let fragments = (0..count).map(|_| u.arbitrary()).collect::<Result<_>>()?;
        Ok(Encapsulated {
            vr,
            length,
            offsets,
            fragments,
            end,
        })
    }
}

impl Encapsulated {
    fn write(&self, w: &mut Writer, syntax: Syntax, g: &Geometry) {
        let vr = self.vr.resolve("OB");
        let field = w.header(PIXEL_DATA, &vr);
        let start = w.out.len();
        let fragments: Vec<Vec<u8>> = self.fragments.iter().map(|f| f.bytes(syntax, g)).collect();
        let offsets: Vec<u32> = match &self.offsets {
            OffsetTable::Empty | OffsetTable::Absent => Vec::new(),
            OffsetTable::Correct => fragments
                .iter()
                .scan(0u32, |at, f| {
                    let this = *at;
                    *at = at.wrapping_add(8 + f.len() as u32);
                    Some(this)
                })
                .collect(),
            OffsetTable::Values(v) => v.clone(),
        };
        if !matches!(self.offsets, OffsetTable::Absent) {
            let table = w.item_header(0xE000);
            offsets.iter().for_each(|&o| w.out.extend(o.to_le_bytes()));
            w.set_length(table, (offsets.len() * 4) as u32);
        }
        for (fragment, bytes) in self.fragments.iter().zip(&fragments) {
            let item = w.item_header(fragment.item_tag);
            w.out.extend_from_slice(bytes);
            w.resolve(item, fragment.len, bytes.len());
        }
        match self.end {
            End::SequenceDelimiter => w.delimiter(0xE0DD),
            End::Missing => {}
            End::DelimiterWithLength(n) => {
                w.tag((0xFFFE, 0xE0DD));
                w.u32(n);
            }
            End::ItemDelimiter => w.delimiter(0xE00D),
        }
        let actual = w.out.len() - start;
        w.resolve(field, self.length, actual);
    }
}

/// One fragment: a codestream header (mostly the syntax's, agreeing with the DICOM header), then
/// bytes from the input.
#[derive(Debug)]
struct Fragment {
    head: Head,
    params: CodecParams,
    body: Vec<u8>,
    item_tag: u16,
    len: Len,
}

#[derive(Debug, Clone, Copy)]
enum Head {
    /// The header of the syntax's codec.
    Matching,
    Codec(Codec),
    /// Just a codec's first marker: SOI, SOI+SOF55, SOC+SIZ marker, the JP2 signature.
    Marker(u8),
    None,
}

impl<'a> Arbitrary<'a> for Fragment {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let head = match u.int_in_range(0u8..=15)? {
            0..=10 => Head::Matching,
            11..=12 => Head::Codec(u.arbitrary()?),
            13..=14 => Head::Marker(u.int_in_range(0..=3)?),
            _ => Head::None,
        };
        let item_tag = match u.int_in_range(0u8..=63)? {
            62 => 0xE00D,
            63 => u.arbitrary()?,
            _ => 0xE000,
        };
        Ok(Fragment {
            head,
            params: u.arbitrary()?,
            item_tag,
            len: u.arbitrary()?,
            body: u.arbitrary()?,
        })
    }
}

impl Fragment {
    fn bytes(&self, syntax: Syntax, g: &Geometry) -> Vec<u8> {
        let codec = match self.head {
            Head::Matching => syntax.codec(),
            Head::Codec(codec) => Some(codec),
            Head::Marker(which) => {
                let mut out = match which {
                    0 => vec![0xFF, 0xD8],
                    1 => vec![0xFF, 0xD8, 0xFF, 0xF7],
                    2 => vec![0xFF, 0x4F, 0xFF, 0x51],
                    _ => JP2_SIGNATURE.to_vec(),
                };
                out.extend_from_slice(&self.body);
                return out;
            }
            Head::None => None,
        };
        let p = &self.params;
        match codec {
            Some(Codec::Jpeg(sof)) => jpeg(sof, syntax, p, g, &self.body),
            Some(Codec::J2k { jp2 }) => j2k(jp2, syntax, p, g, &self.body),
            Some(Codec::Rle) => rle(p, g, &self.body),
            None => self.body.clone(),
        }
    }
}
