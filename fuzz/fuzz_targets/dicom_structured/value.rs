//! Values, VRs and lengths: what an attribute holds, the VR and length field it is written
//! with, and its encoding for that VR.

use std::borrow::Cow;

use arbitrary::{Arbitrary, Result, Unstructured};

// ---------------------------------------------------------------------------------------------
// Values, VRs and lengths

/// What an attribute holds, before it is encoded for the VR it is written with.
#[derive(Debug, Clone, Arbitrary)]
pub(crate) enum Value {
    Ints(Vec<i64>),
    Reals(Vec<f64>),
    Text(String),
    Bytes(Vec<u8>),
}

pub(crate) trait Content {
    fn value(&self) -> Value;
}

impl Content for Value {
    fn value(&self) -> Value {
        self.clone()
    }
}

/// Every VR of PS3.5 6.2.
const VRS: [&str; 34] = [
    "AE", "AS", "AT", "CS", "DA", "DS", "DT", "FL", "FD", "IS", "LO", "LT", "OB", "OD", "OF", "OL",
    "OV", "OW", "PN", "SH", "SL", "SQ", "SS", "ST", "SV", "TM", "UC", "UI", "UL", "UN", "UR", "US",
    "UT", "UV",
];

/// VRs with a 4-byte length field in explicit VR (PS3.5 7.1.2).
pub(crate) const LONG_VRS: [&str; 13] = [
    "OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV",
];

/// The VR an element is written with: mostly its dictionary VR.
#[derive(Debug, Clone, Copy)]
pub(crate) enum VrPick {
    Dictionary,
    /// One of the VRs the dictionary's is easily mistaken for (US as SS, UL, IS…), by index.
    Related(u8),
    Other(&'static str),
    /// Two bytes that are no VR ("zz", "\0\0", …).
    Unknown([u8; 2]),
}

impl<'a> Arbitrary<'a> for VrPick {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match u.int_in_range(0u16..=1023)? {
            1016..=1019 => VrPick::Related(u.arbitrary()?),
            1020..=1022 => VrPick::Other(*u.choose(&VRS)?),
            1023 => VrPick::Unknown(u.arbitrary()?),
            _ => VrPick::Dictionary,
        })
    }
}

impl VrPick {
    pub(crate) fn resolve(self, dictionary: &'static str) -> Cow<'static, str> {
        match self {
            VrPick::Dictionary => Cow::Borrowed(dictionary),
            VrPick::Related(i) => {
                let related = related_vrs(dictionary);
                Cow::Borrowed(related[usize::from(i) % related.len()])
            }
            VrPick::Other(vr) => Cow::Borrowed(vr),
            VrPick::Unknown(bytes) => {
                Cow::Owned(bytes.iter().map(|b| char::from(*b & 0x7F)).collect())
            }
        }
    }
}

/// VRs a writer might use for an attribute of dictionary VR `vr`.
fn related_vrs(vr: &str) -> &'static [&'static str] {
    match vr {
        "US" => &["SS", "UL", "SL", "IS", "DS", "OW", "FD", "UV"],
        "IS" => &["DS", "SL", "UL", "US", "SV", "FD"],
        "DS" => &["FD", "FL", "IS", "SV", "OD"],
        "CS" | "SH" | "LO" => &["LO", "SH", "UI", "UN", "UT"],
        "UI" => &["UN", "OB", "LO"],
        "OW" | "OB" => &["OB", "OW", "UN", "US", "SS", "OF"],
        "SQ" => &["UN", "OB"],
        "UL" => &["US", "SL", "OL", "UN"],
        _ => &["UN", "OB"],
    }
}

/// The length field written for a value: mostly the truth.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Len {
    Exact,
    /// The value cut (or padded) to an odd length, which the field then states.
    Odd,
    Zero,
    Max16,
    /// 0xFFFFFFFF (0xFFFF in a 2-byte field), where only sequences may have it.
    Undefined,
    /// One byte more than the rest of the file.
    PastEnd,
    Off(i8),
}

impl<'a> Arbitrary<'a> for Len {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match u.int_in_range(0u16..=1023)? {
            1017 => Len::Odd,
            1018 => Len::Zero,
            1019 => Len::Max16,
            1020 => Len::Undefined,
            1021 => Len::PastEnd,
            1022..=1023 => Len::Off(u.arbitrary()?),
            _ => Len::Exact,
        })
    }
}

/// An attribute: a value, the VR it is written with, its length field.
#[derive(Debug, Arbitrary)]
pub(crate) struct Attr<V> {
    pub(crate) value: V,
    pub(crate) vr: VrPick,
    pub(crate) len: Len,
}

/// `value` encoded as an element of VR `vr` holds it.
pub(crate) fn encode(value: &Value, vr: &str, big: bool) -> Vec<u8> {
    let numbers: Vec<f64> = match value {
        Value::Ints(v) => v.iter().map(|&i| i as f64).collect(),
        Value::Reals(v) => v.clone(),
        Value::Text(s) => return padded(s.as_bytes(), vr),
        Value::Bytes(b) => return padded(b, vr),
    };
    let ints: Vec<i64> = match value {
        Value::Ints(v) => v.clone(),
        _ => numbers.iter().map(|&f| f as i64).collect(),
    };
    let mut out = Vec::new();
    let mut put = |bytes_le: &[u8]| {
        if big {
            out.extend(bytes_le.iter().rev());
        } else {
            out.extend_from_slice(bytes_le);
        }
    };
    match vr {
        "US" | "SS" | "OW" => ints.iter().for_each(|&i| put(&(i as u16).to_le_bytes())),
        "UL" | "SL" | "OL" | "AT" => ints.iter().for_each(|&i| put(&(i as u32).to_le_bytes())),
        "SV" | "UV" | "OV" => ints.iter().for_each(|&i| put(&i.to_le_bytes())),
        "FL" | "OF" => numbers.iter().for_each(|&f| put(&(f as f32).to_le_bytes())),
        "FD" | "OD" => numbers.iter().for_each(|&f| put(&f.to_le_bytes())),
        // Bytes when every value fits one, as 8-bit LUT data is packed; else words.
        "OB" | "UN" | "SQ" if ints.iter().all(|i| (0..=255).contains(i)) => {
            out.extend(ints.iter().map(|&i| i as u8))
        }
        "OB" | "UN" | "SQ" => ints
            .iter()
            .for_each(|&i| out.extend_from_slice(&(i as u16).to_le_bytes())),
        _ => {
            let text: Vec<String> = match value {
                Value::Ints(v) => v.iter().map(i64::to_string).collect(),
                _ => numbers.iter().map(|f| format!("{f:?}")).collect(),
            };
            return padded(text.join("\\").as_bytes(), vr);
        }
    }
    out
}

/// Bytes padded to a whole number of the VR's values, and to even length: text with a space (UI
/// with NUL), binary values with zeros. (Odd lengths are [`Len::Odd`]'s business.)
pub(crate) fn padded(bytes: &[u8], vr: &str) -> Vec<u8> {
    let (unit, pad) = match vr {
        "US" | "SS" | "OW" => (2, 0),
        "UL" | "SL" | "OL" | "AT" | "FL" | "OF" => (4, 0),
        "SV" | "UV" | "OV" | "FD" | "OD" => (8, 0),
        "OB" | "UN" | "SQ" => (2, 0),
        "UI" => (2, 0),
        _ => (2, b' '),
    };
    let mut out = bytes.to_vec();
    while out.len() % unit != 0 {
        out.push(pad);
    }
    out
}
