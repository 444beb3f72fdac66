//! Nesting: sequences and items nested to a depth, with their lengths and delimiters.

use arbitrary::{Arbitrary, Result, Unstructured};

use crate::choose::few;
use crate::extra::Extra;
use crate::value::{Len, VrPick};
use crate::writer::{Extent, Tag, Writer};

// ---------------------------------------------------------------------------------------------
// Nesting

/// Sequences nested `depth` levels, each level styled by `levels` (cycled).
#[derive(Debug)]
pub(crate) struct Nesting {
    pub(crate) tag: SequenceTag,
    vr: VrPick,
    depth: Depth,
    levels: Vec<Level>,
    /// Elements of the innermost item.
    inner: Vec<Extra>,
}

impl<'a> Arbitrary<'a> for Nesting {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(Nesting {
            tag: u.arbitrary()?,
            vr: u.arbitrary()?,
            depth: u.arbitrary()?,
            levels: few(u, 4)?,
            inner: few(u, 3)?,
        })
    }
}

#[derive(Debug, Clone, Copy)]
struct Depth(usize);

impl<'a> Arbitrary<'a> for Depth {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(Depth(match u.int_in_range(0u8..=31)? {
            0..=17 => u.int_in_range(0..=40)?,
            18..=29 => u.int_in_range(30..=34)?,
            30 => u.int_in_range(35..=300)?,
            _ => u.int_in_range(1000..=5000)?,
        }))
    }
}

/// Where a nest hangs.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub(crate) enum SequenceTag {
    ReferencedSeries,
    Content,
    ModalityLut,
    VoiLut,
    /// Pixel data said to be a sequence.
    PixelData,
    /// A private element of unknown VR.
    Private,
    Any(u16, u16),
}

impl SequenceTag {
    pub(crate) fn tag(self) -> Tag {
        match self {
            SequenceTag::ReferencedSeries => (0x0008, 0x1115),
            SequenceTag::Content => (0x0040, 0xA730),
            SequenceTag::ModalityLut => (0x0028, 0x3000),
            SequenceTag::VoiLut => (0x0028, 0x3010),
            SequenceTag::PixelData => (0x7FE0, 0x0010),
            SequenceTag::Private => (0x0009, 0x1010),
            SequenceTag::Any(g, e) => (g, e),
        }
    }

    fn dictionary_vr(self) -> &'static str {
        match self {
            SequenceTag::Private => "UN",
            _ => "SQ",
        }
    }
}

/// How one level of a nest is written.
#[derive(Debug, Clone, Copy)]
struct Level {
    sequence: Extent,
    item: Extent,
    empty_item_first: bool,
    /// A short element in the item before the next level.
    filler: bool,
    delimiters: Delimiters,
}

#[derive(Debug, Clone, Copy)]
enum Delimiters {
    Proper,
    NoItemDelimiter,
    NoSequenceDelimiter,
    /// An item delimiter with a length of 4 (it must be 0).
    ItemDelimiterWithLength,
    SequenceDelimiterTwice,
    /// An item after the sequence ended.
    StrayItem,
}

impl<'a> Arbitrary<'a> for Level {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(Level {
            sequence: u.arbitrary()?,
            item: u.arbitrary()?,
            empty_item_first: !u.ratio(7u8, 8)?,
            filler: !u.ratio(3u8, 4)?,
            delimiters: match u.int_in_range(0u8..=127)? {
                123 => Delimiters::NoItemDelimiter,
                124 => Delimiters::NoSequenceDelimiter,
                125 => Delimiters::ItemDelimiterWithLength,
                126 => Delimiters::SequenceDelimiterTwice,
                127 => Delimiters::StrayItem,
                _ => Delimiters::Proper,
            },
        })
    }
}

const PLAIN_LEVEL: Level = Level {
    sequence: Extent::Undefined,
    item: Extent::Undefined,
    empty_item_first: false,
    filler: false,
    delimiters: Delimiters::Proper,
};

impl Nesting {
    pub(crate) fn write(&self, w: &mut Writer) {
        let top = self.tag.tag();
        let vr = self.vr.resolve(self.tag.dictionary_vr());
        if self.depth.0 == 0 {
            let empty = w.open_sequence(top, &vr, Extent::Defined);
            return w.close(empty, 0xE0DD, true);
        }
        let mut open = Vec::with_capacity(self.depth.0);
        for level in 0..self.depth.0 {
            let style = match self.levels.len() {
                0 => PLAIN_LEVEL,
                n => self.levels[level % n],
            };
            let sequence = if level == 0 {
                w.open_sequence(top, &vr, style.sequence)
            } else {
                w.open_sequence((0x0040, 0xA730), "SQ", style.sequence)
            };
            if style.empty_item_first {
                let empty = w.open_item(Extent::Defined);
                w.close(empty, 0xE00D, true);
            }
            let item = w.open_item(style.item);
            if style.filler {
                w.element((0x0008, 0x0100), "SH", b"T-D1  ", Len::Exact);
            }
            open.push((sequence, item, style));
        }
        for extra in &self.inner {
            extra.write(w);
        }
        for (sequence, item, style) in open.into_iter().rev() {
            let d = style.delimiters;
            w.close(item, 0xE00D, !matches!(d, Delimiters::NoItemDelimiter));
            if let Delimiters::ItemDelimiterWithLength = d {
                w.tag((0xFFFE, 0xE00D));
                w.u32(4);
            }
            w.close(
                sequence,
                0xE0DD,
                !matches!(d, Delimiters::NoSequenceDelimiter),
            );
            match d {
                Delimiters::SequenceDelimiterTwice => w.delimiter(0xE0DD),
                Delimiters::StrayItem => {
                    let stray = w.open_item(Extent::Defined);
                    w.close(stray, 0xE00D, true);
                }
                _ => {}
            }
        }
    }
}
