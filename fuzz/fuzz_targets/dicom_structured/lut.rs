//! LUTs and the palette: descriptors, LUT data, modality/VOI LUT sequences, palette tables
//! plain or segmented.

use arbitrary::{Arbitrary, Result, Unstructured};

use crate::choose::{Entries, FirstMapped, LutBits, SegmentLength};
use crate::value::{Attr, Content, Value};
use crate::writer::{DataSet, Extent, Tag, Writer};

/// A LUT descriptor: entries, first mapped value, bits per entry.
#[derive(Debug, Clone, Copy, Arbitrary)]
struct Descriptor {
    entries: Entries,
    first: FirstMapped,
    bits: LutBits,
}

impl Descriptor {
    /// The number of entries as a reader takes it (0 is 65536).
    fn entries(&self) -> usize {
        match self.entries.0 {
            0 => 65536,
            n => n.clamp(0, 65536) as usize,
        }
    }
}

impl Content for Descriptor {
    fn value(&self) -> Value {
        Value::Ints(vec![self.entries.0, self.first.0, self.bits.0])
    }
}

/// The values of LUT data: as many as the descriptor says, mostly.
#[derive(Debug, Clone)]
struct LutData {
    count: Count,
    pattern: Pattern,
}

#[derive(Debug, Clone, Copy)]
enum Count {
    AsDescribed,
    OneLess,
    OneMore,
    Half,
    None,
}

impl<'a> Arbitrary<'a> for Count {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match u.int_in_range(0u8..=15)? {
            12 => Count::OneLess,
            13 => Count::OneMore,
            14 => Count::Half,
            15 => Count::None,
            _ => Count::AsDescribed,
        })
    }
}

impl Count {
    fn of(self, n: usize) -> usize {
        match self {
            Count::AsDescribed => n,
            Count::OneLess => n.saturating_sub(1),
            Count::OneMore => n + 1,
            Count::Half => n / 2,
            Count::None => 0,
        }
    }
}

#[derive(Debug, Clone, Arbitrary)]
enum Pattern {
    Ramp,
    Constant(u16),
    Extremes,
    /// These words, repeated.
    Words(Vec<u16>),
}

impl<'a> Arbitrary<'a> for LutData {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(LutData {
            count: u.arbitrary()?,
            pattern: u.arbitrary()?,
        })
    }
}

impl LutData {
    fn values(&self, entries: usize) -> Value {
        let n = self.count.of(entries);
        let at = |i: usize| -> i64 {
            match &self.pattern {
                Pattern::Ramp => (i * 65535 / entries.max(1)) as i64,
                Pattern::Constant(c) => i64::from(*c),
                Pattern::Extremes => [0, 65535][i % 2],
                Pattern::Words(w) if w.is_empty() => 0,
                Pattern::Words(w) => i64::from(w[i % w.len()]),
            }
        };
        Value::Ints((0..n).map(at).collect())
    }
}

/// A modality or VOI LUT sequence of one item.
#[derive(Debug, Arbitrary)]
pub(crate) struct LutSequence {
    sequence: Extent,
    item: Extent,
    descriptor: Attr<Descriptor>,
    data: Attr<LutData>,
}

impl LutSequence {
    pub(crate) fn write(&self, w: &mut Writer, tag: Tag) {
        let sequence = w.open_sequence(tag, "SQ", self.sequence);
        let item = w.open_item(self.item);
        w.attr((0x0028, 0x3002), "US", &self.descriptor);
        let values = self.data.value.values(self.descriptor.value.entries());
        w.value((0x0028, 0x3006), "OW", self.data.vr, self.data.len, &values);
        w.close(item, 0xE00D, true);
        w.close(sequence, 0xE0DD, true);
    }
}

/// Red, green and blue palette tables.
#[derive(Debug, Arbitrary)]
pub(crate) struct Palette {
    channels: [PaletteChannel; 3],
}

#[derive(Debug)]
struct PaletteChannel {
    descriptor: Attr<Descriptor>,
    data: PaletteData,
}

#[derive(Debug)]
enum PaletteData {
    Plain(Attr<LutData>),
    Segmented(Attr<Segments>),
    Missing,
}

impl<'a> Arbitrary<'a> for PaletteChannel {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let descriptor = u.arbitrary()?;
        let data = match u.int_in_range(0u8..=15)? {
            0..=8 => PaletteData::Plain(u.arbitrary()?),
            9..=14 => PaletteData::Segmented(u.arbitrary()?),
            _ => PaletteData::Missing,
        };
        Ok(PaletteChannel { descriptor, data })
    }
}

impl Palette {
    pub(crate) fn write(&self, ds: &mut DataSet) {
        for (i, channel) in self.channels.iter().enumerate() {
            let i = i as u16;
            let descriptor = (0x0028, 0x1101 + i);
            ds.with(descriptor, |w| {
                w.attr(descriptor, "US", &channel.descriptor)
            });
            let entries = channel.descriptor.value.entries();
            match &channel.data {
                PaletteData::Plain(data) => {
                    let tag = (0x0028, 0x1201 + i);
                    let values = data.value.values(entries);
                    ds.with(tag, |w| w.value(tag, "OW", data.vr, data.len, &values));
                }
                PaletteData::Segmented(segments) => {
                    let tag = (0x0028, 0x1221 + i);
                    let words = segments.value.words(entries);
                    ds.with(tag, |w| {
                        w.value(tag, "OW", segments.vr, segments.len, &words)
                    });
                }
                PaletteData::Missing => {}
            }
        }
    }
}

/// Segmented palette table data (PS3.3 C.7.9.2).
#[derive(Debug, Arbitrary)]
struct Segments {
    segments: Vec<Segment>,
    /// A last linear segment up to the number of entries the descriptor gives.
    fill: bool,
}

#[derive(Debug, Arbitrary)]
enum Segment {
    Discrete(Vec<u16>),
    Linear {
        length: SegmentLength,
        to: u16,
    },
    Indirect {
        count: SegmentLength,
        offset: u32,
    },
    /// Any opcode and length.
    Raw(u16, u16),
}

impl Segments {
    fn words(&self, entries: usize) -> Value {
        let mut words: Vec<u16> = Vec::new();
        let mut made = 0usize;
        for segment in &self.segments {
            match segment {
                Segment::Discrete(values) => {
                    words.extend([0, values.len() as u16]);
                    words.extend(values);
                    made += values.len();
                }
                Segment::Linear { length, to } => {
                    words.extend([1, length.0 as u16, *to]);
                    made += length.0 as u16 as usize;
                }
                Segment::Indirect { count, offset } => {
                    words.extend([2, count.0 as u16, *offset as u16, (*offset >> 16) as u16])
                }
                Segment::Raw(opcode, length) => words.extend([*opcode, *length]),
            }
        }
        if self.fill && made < entries {
            if made == 0 {
                words.extend([0, 1, 0]);
                made = 1;
            }
            let rest = (entries - made).min(65535);
            if rest > 0 {
                words.extend([1, rest as u16, 0xFFFF]);
            }
        }
        Value::Ints(words.into_iter().map(i64::from).collect())
    }
}
