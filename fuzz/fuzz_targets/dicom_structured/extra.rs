//! Other elements: known tags with any VR, group lengths, meta, private and item tags.

use arbitrary::{Arbitrary, Result, Unstructured};

use crate::value::{encode, Len, Value, VrPick};
use crate::writer::{Tag, Writer};

// ---------------------------------------------------------------------------------------------
// Other elements

/// An element anywhere: a known tag (written with its own VR or another), a group length, a
/// meta element in the data set, a private or overlay element, an item tag, or any tag at all.
#[derive(Debug, Arbitrary)]
pub(crate) struct Extra {
    pub(crate) tag: ExtraTag,
    value: Value,
    vr: VrPick,
    len: Len,
}

/// Tags the reader looks at (or trips on), with their dictionary VRs.
const KNOWN: [(Tag, &str); 28] = [
    ((0x0008, 0x0005), "CS"),
    ((0x0008, 0x0016), "UI"),
    ((0x0008, 0x0060), "CS"),
    ((0x0010, 0x0010), "PN"),
    ((0x0020, 0x000D), "UI"),
    ((0x0020, 0x0013), "IS"),
    ((0x0020, 0x0032), "DS"),
    ((0x0020, 0x1041), "DS"),
    ((0x0028, 0x0002), "US"),
    ((0x0028, 0x0004), "CS"),
    ((0x0028, 0x0006), "US"),
    ((0x0028, 0x0008), "IS"),
    ((0x0028, 0x0010), "US"),
    ((0x0028, 0x0011), "US"),
    ((0x0028, 0x0030), "DS"),
    ((0x0028, 0x0100), "US"),
    ((0x0028, 0x0101), "US"),
    ((0x0028, 0x0103), "US"),
    ((0x0028, 0x1050), "DS"),
    ((0x0028, 0x1051), "DS"),
    ((0x0028, 0x1052), "DS"),
    ((0x0028, 0x1053), "DS"),
    ((0x0028, 0x1101), "US"),
    ((0x0028, 0x1201), "OW"),
    ((0x0028, 0x1221), "OW"),
    ((0x6000, 0x3000), "OW"),
    ((0x7FE0, 0x0008), "OF"),
    ((0x7FE0, 0x0010), "OW"),
];

#[derive(Debug, Clone, Copy)]
pub(crate) enum ExtraTag {
    Known(usize),
    GroupLength(u16),
    /// A meta group element in the data set.
    Meta(u16),
    Private(u16, u16),
    /// (FFFE,E000), (FFFE,E00D) or (FFFE,E0DD) where an element belongs.
    Item(u16),
    Any(u16, u16),
}

impl<'a> Arbitrary<'a> for ExtraTag {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match u.int_in_range(0u8..=63)? {
            0..=51 => ExtraTag::Known(u.choose_index(KNOWN.len())?),
            52..=54 => ExtraTag::GroupLength(*u.choose(&[0x0008, 0x0028, 0x7FE0, 0x0002])?),
            55..=56 => ExtraTag::Meta(*u.choose(&[0x0000, 0x0010, 0x0001])?),
            57..=59 => ExtraTag::Private(u.arbitrary::<u16>()? | 1, u.arbitrary()?),
            60 => ExtraTag::Item(*u.choose(&[0xE000, 0xE00D, 0xE0DD])?),
            _ => ExtraTag::Any(u.arbitrary()?, u.arbitrary()?),
        })
    }
}

impl ExtraTag {
    pub(crate) fn tag(self) -> Tag {
        match self {
            ExtraTag::Known(i) => KNOWN[i].0,
            ExtraTag::GroupLength(group) => (group, 0x0000),
            ExtraTag::Meta(element) => (0x0002, element),
            ExtraTag::Private(group, element) => (group, element),
            ExtraTag::Item(element) => (0xFFFE, element),
            ExtraTag::Any(group, element) => (group, element),
        }
    }

    fn dictionary_vr(self) -> &'static str {
        match self {
            ExtraTag::Known(i) => KNOWN[i].1,
            ExtraTag::GroupLength(_) => "UL",
            ExtraTag::Meta(0x0000) => "UL",
            ExtraTag::Meta(_) => "UI",
            _ => "UN",
        }
    }
}

impl Extra {
    pub(crate) fn write(&self, w: &mut Writer) {
        if let ExtraTag::Item(element) = self.tag {
            // Items and delimiters have no VR, only a length.
            let field = w.item_header(element);
            let bytes = encode(&self.value, "UN", w.layout.big);
            w.out.extend_from_slice(&bytes);
            return w.resolve(field, self.len, bytes.len());
        }
        w.value(
            self.tag.tag(),
            self.tag.dictionary_vr(),
            self.vr,
            self.len,
            &self.value,
        );
    }
}
