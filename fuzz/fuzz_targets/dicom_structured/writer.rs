//! Writing bytes: the `Writer` (elements, items, sequences, length fields), top-level
//! `DataSet`s and their order.

use arbitrary::{Arbitrary, Result, Unstructured};

use crate::value::{encode, Attr, Content, Len, Value, VrPick, LONG_VRS};

// ---------------------------------------------------------------------------------------------
// Writing bytes

pub(crate) type Tag = (u16, u16);

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Layout {
    pub(crate) explicit: bool,
    pub(crate) big: bool,
}

pub(crate) const EXPLICIT_LE: Layout = Layout {
    explicit: true,
    big: false,
};

/// Where a length field is, so that it can be filled in once its value is written.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LengthField {
    pub(crate) at: usize,
    pub(crate) wide: bool,
    pub(crate) value_start: usize,
}

/// How a sequence or item states its length.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Extent {
    Undefined,
    Defined,
    Wrong(i8),
}

impl<'a> Arbitrary<'a> for Extent {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match u.int_in_range(0u8..=63)? {
            0..=31 => Extent::Undefined,
            32..=62 => Extent::Defined,
            _ => Extent::Wrong(u.arbitrary()?),
        })
    }
}

/// An open sequence or item, closed once its content is written.
pub(crate) struct Open {
    field: LengthField,
    extent: Extent,
}

/// Bytes in a layout, with the length fields that point one past the end, filled in at the end.
pub(crate) struct Writer {
    pub(crate) out: Vec<u8>,
    pub(crate) layout: Layout,
    past_end: Vec<LengthField>,
}

impl Writer {
    pub(crate) fn new(layout: Layout) -> Self {
        Writer {
            out: Vec::new(),
            layout,
            past_end: Vec::new(),
        }
    }

    fn u16(&mut self, v: u16) {
        let bytes = if self.layout.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        self.out.extend_from_slice(&bytes);
    }

    pub(crate) fn u32(&mut self, v: u32) {
        let bytes = if self.layout.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        self.out.extend_from_slice(&bytes);
    }

    pub(crate) fn tag(&mut self, (group, element): Tag) {
        self.u16(group);
        self.u16(element);
    }

    /// An element header with its length still to be filled in.
    pub(crate) fn header(&mut self, tag: Tag, vr: &str) -> LengthField {
        self.tag(tag);
        let wide = if self.layout.explicit {
            self.out.extend_from_slice(&vr.as_bytes()[..2]);
            let long = LONG_VRS.contains(&vr);
            if long {
                self.u16(0);
            }
            long
        } else {
            true
        };
        let at = self.out.len();
        if wide {
            self.u32(0);
        } else {
            self.u16(0);
        }
        LengthField {
            at,
            wide,
            value_start: self.out.len(),
        }
    }

    pub(crate) fn set_length(&mut self, field: LengthField, len: u32) {
        let bytes: Vec<u8> = match (field.wide, self.layout.big) {
            (true, false) => len.to_le_bytes().to_vec(),
            (true, true) => len.to_be_bytes().to_vec(),
            (false, big) => {
                let short = len.min(0xFFFF) as u16;
                if big {
                    short.to_be_bytes().to_vec()
                } else {
                    short.to_le_bytes().to_vec()
                }
            }
        };
        self.out[field.at..field.at + bytes.len()].copy_from_slice(&bytes);
    }

    /// Fills in `field` as `len` says, `actual` being the true length.
    pub(crate) fn resolve(&mut self, field: LengthField, len: Len, actual: usize) {
        let value = match len {
            Len::Exact | Len::Odd => actual as u32,
            Len::Zero => 0,
            Len::Max16 => 0xFFFF,
            Len::Undefined => u32::MAX,
            Len::PastEnd => return self.past_end.push(field),
            Len::Off(d) => (actual as i64 + i64::from(d)).clamp(0, u32::MAX.into()) as u32,
        };
        self.set_length(field, value);
    }

    pub(crate) fn element(&mut self, tag: Tag, vr: &str, value: &[u8], len: Len) {
        let field = self.header(tag, vr);
        let value = match len {
            Len::Odd if value.len() % 2 == 0 && !value.is_empty() => &value[..value.len() - 1],
            _ => value,
        };
        self.out.extend_from_slice(value);
        if matches!(len, Len::Odd) && value.is_empty() {
            self.out.push(0);
            return self.resolve(field, len, 1);
        }
        self.resolve(field, len, value.len());
    }

    /// An attribute with dictionary VR `dictionary`.
    pub(crate) fn attr<V: Content>(&mut self, tag: Tag, dictionary: &'static str, attr: &Attr<V>) {
        self.value(tag, dictionary, attr.vr, attr.len, &attr.value.value());
    }

    pub(crate) fn value(
        &mut self,
        tag: Tag,
        dictionary: &'static str,
        vr: VrPick,
        len: Len,
        value: &Value,
    ) {
        let vr = vr.resolve(dictionary);
        let bytes = encode(value, &vr, self.layout.big);
        self.element(tag, &vr, &bytes, len);
    }

    /// An item (FFFE,E000) or delimiter header with its length still to be filled in.
    pub(crate) fn item_header(&mut self, element: u16) -> LengthField {
        self.tag((0xFFFE, element));
        let at = self.out.len();
        self.u32(0);
        LengthField {
            at,
            wide: true,
            value_start: self.out.len(),
        }
    }

    pub(crate) fn delimiter(&mut self, element: u16) {
        self.tag((0xFFFE, element));
        self.u32(0);
    }

    pub(crate) fn open_sequence(&mut self, tag: Tag, vr: &str, extent: Extent) -> Open {
        let field = self.header(tag, vr);
        if let Extent::Undefined = extent {
            self.set_length(field, u32::MAX);
        }
        Open { field, extent }
    }

    pub(crate) fn open_item(&mut self, extent: Extent) -> Open {
        let field = self.item_header(0xE000);
        if let Extent::Undefined = extent {
            self.set_length(field, u32::MAX);
        }
        Open { field, extent }
    }

    /// Closes a sequence (delimiter E0DD) or an item (E00D).
    pub(crate) fn close(&mut self, open: Open, delimiter: u16, write_delimiter: bool) {
        let actual = (self.out.len() - open.field.value_start) as i64;
        match open.extent {
            Extent::Undefined if write_delimiter => self.delimiter(delimiter),
            Extent::Undefined => {}
            Extent::Defined => self.set_length(open.field, actual as u32),
            Extent::Wrong(d) => self.set_length(open.field, (actual + i64::from(d)).max(0) as u32),
        }
    }

    pub(crate) fn append(&mut self, other: Writer) {
        let base = self.out.len();
        self.out.extend_from_slice(&other.out);
        self.past_end
            .extend(other.past_end.into_iter().map(|f| LengthField {
                at: f.at + base,
                value_start: f.value_start + base,
                ..f
            }));
    }

    /// The bytes, with the lengths that point one past the end filled in.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        for field in std::mem::take(&mut self.past_end) {
            let len = self.out.len() - field.value_start + 1;
            self.set_length(field, len as u32);
        }
        self.out
    }
}

/// Top-level elements, each written on its own, then put in order.
pub(crate) struct DataSet {
    pub(crate) layout: Layout,
    pub(crate) elements: Vec<(Tag, Writer)>,
}

impl DataSet {
    pub(crate) fn with(&mut self, tag: Tag, write: impl FnOnce(&mut Writer)) {
        let mut w = Writer::new(self.layout);
        write(&mut w);
        self.elements.push((tag, w));
    }

    pub(crate) fn attr<V: Content>(
        &mut self,
        tag: Tag,
        dictionary: &'static str,
        attr: &Option<Attr<V>>,
    ) {
        if let Some(attr) = attr {
            self.with(tag, |w| w.attr(tag, dictionary, attr));
        }
    }

    pub(crate) fn finish(mut self, order: Order) -> Writer {
        match order {
            Order::Ascending => self.elements.sort_by_key(|(tag, _)| *tag),
            Order::AsWritten => {}
            Order::Descending => self
                .elements
                .sort_by_key(|(tag, _)| std::cmp::Reverse(*tag)),
        }
        let mut out = Writer::new(self.layout);
        for (_, element) in self.elements {
            out.append(element);
        }
        out
    }
}

/// The order of the top-level elements: ascending, as the standard requires, mostly.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Order {
    Ascending,
    AsWritten,
    Descending,
}

impl<'a> Arbitrary<'a> for Order {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match u.int_in_range(0u8..=31)? {
            30 => Order::AsWritten,
            31 => Order::Descending,
            _ => Order::Ascending,
        })
    }
}
