#![no_main]
//! Structure-aware DICOM fuzzing. The input is read (through `arbitrary`) as a *description* of a
//! DICOM file, which is written out as bytes and given to the same checks as `dicom_decode`
//! (`countersign_imaging::fuzz_checks::open_decode`). Random bytes rarely get past the file meta
//! group; these files do, and then break one thing at a time. Every choice's first option is the
//! ordinary one, so a short input describes a plain, decodable image.
//!
//! What it covers:
//! - Container: Part 10 (preamble + `DICM`), `DICM` without preamble, or a bare data set. The
//!   meta group (0002) names a transfer syntax from [`Syntax`] — implicit/explicit VR little
//!   endian, explicit big endian, deflated, JPEG baseline/extended/lossless, JPEG-LS, JPEG 2000,
//!   RLE, an unknown UID — and may have a wrong group length, a missing, unpadded or mismatched
//!   transfer syntax, or a stray element of another group.
//! - Image pixel module: rows, columns, bits allocated/stored, high bit, pixel representation,
//!   samples per pixel, photometric interpretation (incl. PALETTE COLOR, YBR_FULL(_422)), number
//!   of frames, planar configuration, rescale, window, modality and VOI LUT sequences, palette
//!   descriptors with plain or segmented table data. Numbers lean to 0, 1, the maximum, odd values;
//!   now and then Rows and Columns are 32-bit values in a wider VR (UL, IS, DS…).
//! - Nesting: sequences and items of defined, undefined and wrong lengths, with delimiters present,
//!   missing, doubled or carrying a length; 0 to 40 levels (mostly around the pre-scan's limit of
//!   32) and now and then thousands.
//! - VR confusion: any element may be written with another VR (its value then encoded for that VR)
//!   or an unknown one, with an odd length, 0, 0xFFFF, undefined (0xFFFFFFFF) or one byte past the
//!   end of the file.
//! - Pixel data: native, sized from the header (exactly or a little off), float, or encapsulated
//!   (basic offset table, fragments, odd or overlong fragment lengths, wrong item tags, missing
//!   delimiter) with fragment bytes from the input, mostly after a codestream header that agrees
//!   with the DICOM header — JPEG SOI/DQT/DHT/SOF/SOS, JPEG-LS SOF55, JPEG 2000 SOC/SIZ/COD/QCD
//!   (bare or in a JP2 box), an RLE segment table with PackBits runs — so the codecs get to run.
//!
//! With `DICOM_STRUCTURED_DUMP=<dir>` set, each file written (under 64 KiB) is also saved there,
//! named by a hash of its bytes: that is how `corpus/dicom_structured_dcm/`, the DICOM files
//! `make test` replays, is made from the minimised inputs in `corpus/dicom_structured/` (see
//! fuzz/README.md).

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::{Mutex, Once, OnceLock};

use arbitrary::{Arbitrary, Result, Unstructured};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|file: File| {
    record_panics();
    let outcome = std::panic::catch_unwind(|| {
        let bytes = file.to_bytes();
        dump(&bytes);
        countersign_imaging::fuzz_checks::open_decode(&bytes);
    });
    if outcome.is_err() {
        let panic = LAST_PANIC
            .with(|p| p.borrow_mut().take())
            .unwrap_or_default();
        eprintln!("panic escaped open_decode: {panic}");
        std::process::abort();
    }
});

thread_local! {
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// libfuzzer-sys aborts on every panic, even one the code under test catches; but `decode.rs`
/// runs the third-party decoders inside `catch_unwind`, as the app does, and a decoder that
/// panics on hostile input (the JPEG adapter of dicom-transfer-syntax-registry does) does not
/// take the app down. This hook only records a panic — and prints where it came from the first
/// time — so that the run goes on past caught panics; one that escapes `open_decode` still
/// aborts (above), with its message and backtrace.
fn record_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            static SEEN: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
            let location = info.location().map(|l| l.to_string()).unwrap_or_default();
            if SEEN
                .lock()
                .is_ok_and(|mut seen| seen.insert(location.clone()))
            {
                eprintln!("panic (first at this place; caught unless it escapes): {info}");
            }
            let trace = std::backtrace::Backtrace::force_capture();
            LAST_PANIC.with(|p| *p.borrow_mut() = Some(format!("{info}\n{trace}")));
        }))
    });
}

/// Saves `bytes` in `$DICOM_STRUCTURED_DUMP`, if set and they are smaller than 64 KiB: the
/// larger files (palettes of 65536 entries, a quarter MiB of pixels) are few but would make up
/// most of the replayed corpus's size.
fn dump(bytes: &[u8]) {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    let dir = DIR.get_or_init(|| std::env::var_os("DICOM_STRUCTURED_DUMP").map(PathBuf::from));
    if let Some(dir) = dir.as_ref().filter(|_| bytes.len() < 64 << 10) {
        let mut hasher = std::hash::DefaultHasher::new();
        bytes.hash(&mut hasher);
        let path = dir.join(format!("{:016x}.dcm", hasher.finish()));
        std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

// ---------------------------------------------------------------------------------------------
// Choosing values

/// `common` most of the time, then one of `edges`, now and then anything in `any`.
fn pick(
    u: &mut Unstructured,
    common: &[i64],
    edges: &[i64],
    any: std::ops::RangeInclusive<i64>,
) -> Result<i64> {
    Ok(match u.int_in_range(0u8..=31)? {
        0..=27 => *u.choose(common)?,
        28..=30 => *u.choose(edges)?,
        _ => u.int_in_range(any)?,
    })
}

/// Present 15 times in 16: the attributes a decoder needs.
fn usually<'a, T: Arbitrary<'a>>(u: &mut Unstructured<'a>) -> Result<Option<T>> {
    Ok(if u.ratio(15u8, 16)? {
        Some(u.arbitrary()?)
    } else {
        None
    })
}

/// Present `numerator` times in `denominator` (`numerator` < `denominator`); absent when the
/// input has run out.
fn sometimes<'a, T: Arbitrary<'a>>(
    u: &mut Unstructured<'a>,
    numerator: u8,
    denominator: u8,
) -> Result<Option<T>> {
    Ok(if !u.ratio(denominator - numerator, denominator)? {
        Some(u.arbitrary()?)
    } else {
        None
    })
}

/// None half the time, one a quarter of the time, else up to `max` values.
fn few<'a, T: Arbitrary<'a>>(u: &mut Unstructured<'a>, max: usize) -> Result<Vec<T>> {
    let n = match u.int_in_range(0u8..=3)? {
        0 | 1 => 0,
        2 => 1,
        _ => u.int_in_range(1..=max)?,
    };
    (0..n).map(|_| u.arbitrary()).collect()
}

/// An integer attribute biased to edge values.
macro_rules! biased_number {
    ($(#[$doc:meta])* $name:ident, common = $common:expr, edges = $edges:expr, any = $any:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        struct $name(i64);
        impl<'a> Arbitrary<'a> for $name {
            fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
                pick(u, &$common, &$edges, $any).map($name)
            }
        }
        impl Content for $name {
            fn value(&self) -> Value {
                Value::Ints(vec![self.0])
            }
        }
    };
}

biased_number!(
    /// Rows or columns: small images decode quickly; the edges test the size checks.
    Dim,
    common = [1, 2, 3, 4, 5, 7, 8, 16, 17, 32],
    edges = [0, 1, 255, 256, 4097, 32768, 65534, 65535, 65536, 2147483648, 4294967295],
    any = 0..=65535
);
biased_number!(
    SamplesPerPixel,
    common = [1, 1, 1, 3, 3],
    edges = [0, 2, 4, 5, 255, 65535],
    any = 0..=65535
);
biased_number!(
    BitsAllocated,
    common = [16, 16, 8, 8, 1, 32],
    edges = [0, 7, 9, 12, 24, 64, 65535],
    any = 0..=65535
);
biased_number!(
    BitsStored,
    common = [16, 12, 8, 1, 32, 10],
    edges = [0, 7, 15, 17, 31, 33, 65535],
    any = 0..=65535
);
biased_number!(
    HighBit,
    common = [15, 11, 7, 0, 31],
    edges = [16, 32, 65535],
    any = 0..=65535
);
biased_number!(
    /// Pixel representation or planar configuration.
    Flag,
    common = [0, 1],
    edges = [2, 65535, -1],
    any = 0..=65535
);
biased_number!(
    Frames,
    common = [1, 1, 1, 2, 3],
    edges = [0, -1, 4, 255, 65535, 2147483647, 4294967295, i64::MAX],
    any = 0..=16
);
biased_number!(
    /// LUT entries (0 means 65536).
    Entries,
    common = [256, 4096, 0, 16, 1, 2, 255, 4095],
    edges = [65535, 65536, -1, 32768, 3],
    any = 0..=70000
);
biased_number!(
    /// A LUT's first mapped value.
    FirstMapped,
    common = [0, 0, -1024, 1],
    edges = [-32768, 32767, 65535, i64::MIN, i64::MAX],
    any = -65536..=65535
);
biased_number!(
    /// Bits per LUT entry.
    LutBits,
    common = [8, 12, 16, 16],
    edges = [0, 1, 17, 32, 64, 65535],
    any = 0..=65535
);
biased_number!(
    /// A segment length of a segmented palette table.
    SegmentLength,
    common = [1, 2, 3, 16, 255, 256],
    edges = [0, 65535, 4096],
    any = 0..=65535
);

/// A real (rescale slope or intercept).
#[derive(Debug, Clone, Copy)]
struct Real(f64);

impl<'a> Arbitrary<'a> for Real {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(Real(match u.int_in_range(0u8..=15)? {
            0..=10 => *u.choose(&[1.0, 0.0, -1024.0, 0.5, 2.0])?,
            11..=14 => *u.choose(&[
                -0.0,
                1e-300,
                1e300,
                -1e300,
                f64::NAN,
                f64::INFINITY,
                -1.0,
                65535.0,
            ])?,
            _ => u.arbitrary()?,
        }))
    }
}

impl Content for Real {
    fn value(&self) -> Value {
        Value::Reals(vec![self.0])
    }
}

/// Window centres or widths: one to three values.
#[derive(Debug, Clone)]
struct Reals(Vec<f64>);

impl<'a> Arbitrary<'a> for Reals {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let mut values = Vec::new();
        for _ in 0..u.int_in_range(1..=3)? {
            values.push(match u.int_in_range(0u8..=15)? {
                0..=10 => *u.choose(&[40.0, 400.0, -600.0, 1500.0, 127.5, 256.0])?,
                11..=14 => *u.choose(&[0.0, 1.0, -1.0, 0.5, 1e308, f64::NAN, -1e308])?,
                _ => u.arbitrary()?,
            });
        }
        Ok(Reals(values))
    }
}

impl Content for Reals {
    fn value(&self) -> Value {
        Value::Reals(self.0.clone())
    }
}

/// A photometric interpretation: the defined terms, and now and then anything.
#[derive(Debug, Clone)]
struct Photometric(String);

impl<'a> Arbitrary<'a> for Photometric {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        const TERMS: [&str; 15] = [
            "MONOCHROME2",
            "MONOCHROME1",
            "RGB",
            "PALETTE COLOR",
            "YBR_FULL",
            "YBR_FULL_422",
            "YBR_PARTIAL_422",
            "YBR_PARTIAL_420",
            "YBR_ICT",
            "YBR_RCT",
            "HSV",
            "ARGB",
            "CMYK",
            "",
            "MONOCHROME2\\RGB",
        ];
        Ok(Photometric(if u.ratio(31u8, 32)? {
            u.choose(&TERMS)?.to_string()
        } else {
            u.arbitrary()?
        }))
    }
}

impl Content for Photometric {
    fn value(&self) -> Value {
        Value::Text(self.0.clone())
    }
}

/// A SOP class UID.
#[derive(Debug, Clone)]
struct SopClass(&'static str);

impl<'a> Arbitrary<'a> for SopClass {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let common = [
            "1.2.840.10008.5.1.4.1.1.2",     // CT
            "1.2.840.10008.5.1.4.1.1.4",     // MR
            "1.2.840.10008.5.1.4.1.1.7",     // secondary capture
            "1.2.840.10008.5.1.4.1.1.3.1",   // US multi-frame
            "1.2.840.10008.5.1.4.1.1.1.1",   // digital X-ray
            "1.2.840.10008.5.1.4.1.1.2.1",   // enhanced CT
            "1.2.840.10008.5.1.4.1.1.88.11", // basic text SR
            "1.2.840.10008.5.1.4.1.1.66.4",  // segmentation
        ];
        let edges = ["", "1.2.3.4", "1.2.840.10008.1.2", "\0", "1..2"];
        Ok(SopClass(if u.ratio(15u8, 16)? {
            *u.choose(&common)?
        } else {
            *u.choose(&edges)?
        }))
    }
}

impl Content for SopClass {
    fn value(&self) -> Value {
        Value::Text(self.0.to_string())
    }
}

// ---------------------------------------------------------------------------------------------
// Values, VRs and lengths

/// What an attribute holds, before it is encoded for the VR it is written with.
#[derive(Debug, Clone, Arbitrary)]
enum Value {
    Ints(Vec<i64>),
    Reals(Vec<f64>),
    Text(String),
    Bytes(Vec<u8>),
}

trait Content {
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
const LONG_VRS: [&str; 13] = [
    "OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV",
];

/// The VR an element is written with: mostly its dictionary VR.
#[derive(Debug, Clone, Copy)]
enum VrPick {
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
    fn resolve(self, dictionary: &'static str) -> Cow<'static, str> {
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
enum Len {
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
struct Attr<V> {
    value: V,
    vr: VrPick,
    len: Len,
}

/// `value` encoded as an element of VR `vr` holds it.
fn encode(value: &Value, vr: &str, big: bool) -> Vec<u8> {
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
fn padded(bytes: &[u8], vr: &str) -> Vec<u8> {
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

// ---------------------------------------------------------------------------------------------
// Writing bytes

type Tag = (u16, u16);

#[derive(Debug, Clone, Copy, PartialEq)]
struct Layout {
    explicit: bool,
    big: bool,
}

const EXPLICIT_LE: Layout = Layout {
    explicit: true,
    big: false,
};

/// Where a length field is, so that it can be filled in once its value is written.
#[derive(Debug, Clone, Copy)]
struct LengthField {
    at: usize,
    wide: bool,
    value_start: usize,
}

/// How a sequence or item states its length.
#[derive(Debug, Clone, Copy)]
enum Extent {
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
struct Open {
    field: LengthField,
    extent: Extent,
}

/// Bytes in a layout, with the length fields that point one past the end, filled in at the end.
struct Writer {
    out: Vec<u8>,
    layout: Layout,
    past_end: Vec<LengthField>,
}

impl Writer {
    fn new(layout: Layout) -> Self {
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

    fn u32(&mut self, v: u32) {
        let bytes = if self.layout.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        self.out.extend_from_slice(&bytes);
    }

    fn tag(&mut self, (group, element): Tag) {
        self.u16(group);
        self.u16(element);
    }

    /// An element header with its length still to be filled in.
    fn header(&mut self, tag: Tag, vr: &str) -> LengthField {
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

    fn set_length(&mut self, field: LengthField, len: u32) {
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
    fn resolve(&mut self, field: LengthField, len: Len, actual: usize) {
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

    fn element(&mut self, tag: Tag, vr: &str, value: &[u8], len: Len) {
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
    fn attr<V: Content>(&mut self, tag: Tag, dictionary: &'static str, attr: &Attr<V>) {
        self.value(tag, dictionary, attr.vr, attr.len, &attr.value.value());
    }

    fn value(&mut self, tag: Tag, dictionary: &'static str, vr: VrPick, len: Len, value: &Value) {
        let vr = vr.resolve(dictionary);
        let bytes = encode(value, &vr, self.layout.big);
        self.element(tag, &vr, &bytes, len);
    }

    /// An item (FFFE,E000) or delimiter header with its length still to be filled in.
    fn item_header(&mut self, element: u16) -> LengthField {
        self.tag((0xFFFE, element));
        let at = self.out.len();
        self.u32(0);
        LengthField {
            at,
            wide: true,
            value_start: self.out.len(),
        }
    }

    fn delimiter(&mut self, element: u16) {
        self.tag((0xFFFE, element));
        self.u32(0);
    }

    fn open_sequence(&mut self, tag: Tag, vr: &str, extent: Extent) -> Open {
        let field = self.header(tag, vr);
        if let Extent::Undefined = extent {
            self.set_length(field, u32::MAX);
        }
        Open { field, extent }
    }

    fn open_item(&mut self, extent: Extent) -> Open {
        let field = self.item_header(0xE000);
        if let Extent::Undefined = extent {
            self.set_length(field, u32::MAX);
        }
        Open { field, extent }
    }

    /// Closes a sequence (delimiter E0DD) or an item (E00D).
    fn close(&mut self, open: Open, delimiter: u16, write_delimiter: bool) {
        let actual = (self.out.len() - open.field.value_start) as i64;
        match open.extent {
            Extent::Undefined if write_delimiter => self.delimiter(delimiter),
            Extent::Undefined => {}
            Extent::Defined => self.set_length(open.field, actual as u32),
            Extent::Wrong(d) => self.set_length(open.field, (actual + i64::from(d)).max(0) as u32),
        }
    }

    fn append(&mut self, other: Writer) {
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
    fn finish(mut self) -> Vec<u8> {
        for field in std::mem::take(&mut self.past_end) {
            let len = self.out.len() - field.value_start + 1;
            self.set_length(field, len as u32);
        }
        self.out
    }
}

/// Top-level elements, each written on its own, then put in order.
struct DataSet {
    layout: Layout,
    elements: Vec<(Tag, Writer)>,
}

impl DataSet {
    fn with(&mut self, tag: Tag, write: impl FnOnce(&mut Writer)) {
        let mut w = Writer::new(self.layout);
        write(&mut w);
        self.elements.push((tag, w));
    }

    fn attr<V: Content>(&mut self, tag: Tag, dictionary: &'static str, attr: &Option<Attr<V>>) {
        if let Some(attr) = attr {
            self.with(tag, |w| w.attr(tag, dictionary, attr));
        }
    }

    fn finish(mut self, order: Order) -> Writer {
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
enum Order {
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

// ---------------------------------------------------------------------------------------------
// The file

/// A DICOM file, described.
#[derive(Debug)]
struct File {
    container: Container,
    syntax: Syntax,
    meta: Meta,
    deflate: Deflate,
    order: Order,
    sop_class: Option<Attr<SopClass>>,
    image: ImageModule,
    modality_lut: Option<LutSequence>,
    voi_lut: Option<LutSequence>,
    palette: Option<Palette>,
    nestings: Vec<Nesting>,
    extras: Vec<Extra>,
    pixels: Pixels,
}

impl<'a> Arbitrary<'a> for File {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let syntax: Syntax = u.arbitrary()?;
        let image: ImageModule = u.arbitrary()?;
        let palette_odds = if image.photometric_is("PALETTE COLOR") {
            15
        } else {
            1
        };
        Ok(File {
            container: u.arbitrary()?,
            meta: u.arbitrary()?,
            deflate: u.arbitrary()?,
            order: u.arbitrary()?,
            sop_class: usually(u)?,
            palette: sometimes(u, palette_odds, 16)?,
            modality_lut: sometimes(u, 1, 8)?,
            voi_lut: sometimes(u, 1, 8)?,
            nestings: few(u, 2)?,
            extras: few(u, 6)?,
            pixels: Pixels::arbitrary_for(u, syntax)?,
            syntax,
            image,
        })
    }
}

impl File {
    fn to_bytes(&self) -> Vec<u8> {
        let data_set = self.data_set(self.syntax.layout());
        let mut file = Writer::new(EXPLICIT_LE);
        match &self.container {
            Container::Bare => return data_set.finish(),
            Container::Part10 { preamble } => {
                file.out.extend(preamble.iter().cycle().take(128));
                if preamble.is_empty() {
                    file.out.resize(128, 0);
                }
                file.out.extend_from_slice(b"DICM");
            }
            Container::MagicOnly => file.out.extend_from_slice(b"DICM"),
        }
        self.meta
            .write(&mut file, self.syntax, self.sop_class.as_ref());
        if self.syntax == Syntax::Deflated {
            file.out.extend(self.deflate.apply(data_set.finish()));
        } else {
            file.append(data_set);
        }
        file.finish()
    }

    fn data_set(&self, layout: Layout) -> Writer {
        let mut ds = DataSet {
            layout,
            elements: Vec::new(),
        };
        ds.attr((0x0008, 0x0016), "UI", &self.sop_class);
        ds.with((0x0008, 0x0018), |w| {
            w.element(
                (0x0008, 0x0018),
                "UI",
                b"1.2.826.0.1.3680043.10.1.19\0",
                Len::Exact,
            )
        });
        self.image.write(&mut ds);
        let geometry = self.image.geometry();
        for (tag, lut) in [
            ((0x0028, 0x3000), &self.modality_lut),
            ((0x0028, 0x3010), &self.voi_lut),
        ] {
            if let Some(lut) = lut {
                ds.with(tag, |w| lut.write(w, tag));
            }
        }
        if let Some(palette) = &self.palette {
            palette.write(&mut ds);
        }
        for nesting in &self.nestings {
            ds.with(nesting.tag.tag(), |w| nesting.write(w));
        }
        for extra in &self.extras {
            ds.with(extra.tag.tag(), |w| extra.write(w));
        }
        self.pixels.write(&mut ds, self.syntax, &geometry);
        ds.finish(self.order)
    }
}

/// How the file starts.
#[derive(Debug)]
enum Container {
    /// 128 bytes of preamble (these bytes repeated; zeros when empty), then `DICM`.
    Part10 { preamble: Vec<u8> },
    /// `DICM` at byte 0.
    MagicOnly,
    /// A data set without meta group.
    Bare,
}

impl<'a> Arbitrary<'a> for Container {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match u.int_in_range(0u8..=15)? {
            0..=10 => Container::Part10 {
                preamble: Vec::new(),
            },
            11 => {
                let mut preamble = vec![0; u.int_in_range(1..=8)?];
                u.fill_buffer(&mut preamble)?;
                Container::Part10 { preamble }
            }
            12 => Container::MagicOnly,
            _ => Container::Bare,
        })
    }
}

/// The transfer syntaxes the meta group names.
#[derive(Debug, Clone, Copy, PartialEq, Arbitrary)]
enum Syntax {
    ExplicitLe,
    ImplicitLe,
    ExplicitBe,
    Deflated,
    JpegBaseline,
    JpegExtended,
    JpegLossless,
    JpegLosslessSv1,
    JpegLs,
    JpegLsNearLossless,
    Jpeg2000Lossless,
    Jpeg2000,
    Rle,
    /// A UID no registry knows.
    Unknown,
}

impl Syntax {
    fn uid(self) -> &'static str {
        match self {
            Syntax::ExplicitLe => "1.2.840.10008.1.2.1",
            Syntax::ImplicitLe => "1.2.840.10008.1.2",
            Syntax::ExplicitBe => "1.2.840.10008.1.2.2",
            Syntax::Deflated => "1.2.840.10008.1.2.1.99",
            Syntax::JpegBaseline => "1.2.840.10008.1.2.4.50",
            Syntax::JpegExtended => "1.2.840.10008.1.2.4.51",
            Syntax::JpegLossless => "1.2.840.10008.1.2.4.57",
            Syntax::JpegLosslessSv1 => "1.2.840.10008.1.2.4.70",
            Syntax::JpegLs => "1.2.840.10008.1.2.4.80",
            Syntax::JpegLsNearLossless => "1.2.840.10008.1.2.4.81",
            Syntax::Jpeg2000Lossless => "1.2.840.10008.1.2.4.90",
            Syntax::Jpeg2000 => "1.2.840.10008.1.2.4.91",
            Syntax::Rle => "1.2.840.10008.1.2.5",
            Syntax::Unknown => "1.2.840.10008.1.2.4.9999",
        }
    }

    fn layout(self) -> Layout {
        match self {
            Syntax::ImplicitLe => Layout {
                explicit: false,
                big: false,
            },
            Syntax::ExplicitBe => Layout {
                explicit: true,
                big: true,
            },
            _ => EXPLICIT_LE,
        }
    }

    fn encapsulated(self) -> bool {
        !matches!(
            self,
            Syntax::ExplicitLe | Syntax::ImplicitLe | Syntax::ExplicitBe | Syntax::Deflated
        )
    }

    /// The codestream this syntax's fragments hold.
    fn codec(self) -> Option<Codec> {
        Some(match self {
            Syntax::JpegBaseline => Codec::Jpeg(0xC0),
            Syntax::JpegExtended => Codec::Jpeg(0xC1),
            Syntax::JpegLossless | Syntax::JpegLosslessSv1 => Codec::Jpeg(0xC3),
            Syntax::JpegLs | Syntax::JpegLsNearLossless => Codec::Jpeg(0xF7),
            Syntax::Jpeg2000Lossless => Codec::J2k { jp2: false },
            Syntax::Jpeg2000 => Codec::J2k { jp2: false },
            Syntax::Rle => Codec::Rle,
            _ => return None,
        })
    }
}

/// The file meta group, and what may be wrong with it.
#[derive(Debug)]
struct Meta {
    group_length: Len,
    transfer_syntax: TransferSyntaxField,
    transfer_syntax_vr: VrPick,
    version: bool,
    /// An element of another group inside the meta group length.
    stray: bool,
}

#[derive(Debug)]
enum TransferSyntaxField {
    Proper,
    Missing,
    /// Odd length, no NUL.
    Unpadded,
    /// Another syntax than the data set is written in.
    Says(Syntax),
    Text(String),
}

impl<'a> Arbitrary<'a> for Meta {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let transfer_syntax = match u.int_in_range(0u8..=63)? {
            60 => TransferSyntaxField::Missing,
            61 => TransferSyntaxField::Unpadded,
            62 => TransferSyntaxField::Says(u.arbitrary()?),
            63 => TransferSyntaxField::Text(u.arbitrary()?),
            _ => TransferSyntaxField::Proper,
        };
        Ok(Meta {
            group_length: u.arbitrary()?,
            transfer_syntax,
            transfer_syntax_vr: u.arbitrary()?,
            version: u.ratio(7u8, 8)?,
            stray: !u.ratio(31u8, 32)?,
        })
    }
}

impl Meta {
    fn write(&self, w: &mut Writer, syntax: Syntax, sop_class: Option<&Attr<SopClass>>) {
        let group_length = w.header((0x0002, 0x0000), "UL");
        w.set_length(group_length, 4);
        w.u32(0);
        let start = w.out.len();
        if self.version {
            w.element((0x0002, 0x0001), "OB", &[0, 1], Len::Exact);
        }
        let class = sop_class.map_or("1.2.840.10008.5.1.4.1.1.7", |a| a.value.0);
        w.value(
            (0x0002, 0x0002),
            "UI",
            VrPick::Dictionary,
            Len::Exact,
            &Value::Text(class.into()),
        );
        w.element(
            (0x0002, 0x0003),
            "UI",
            b"1.2.826.0.1.3680043.10.1.19\0",
            Len::Exact,
        );
        let ts = match &self.transfer_syntax {
            TransferSyntaxField::Proper => Some(padded(syntax.uid().as_bytes(), "UI")),
            TransferSyntaxField::Missing => None,
            TransferSyntaxField::Unpadded => Some(syntax.uid().as_bytes().to_vec()),
            TransferSyntaxField::Says(other) => Some(padded(other.uid().as_bytes(), "UI")),
            TransferSyntaxField::Text(text) => Some(text.as_bytes().to_vec()),
        };
        if let Some(ts) = ts {
            let vr = self.transfer_syntax_vr.resolve("UI");
            w.element((0x0002, 0x0010), &vr, &ts, Len::Exact);
        }
        w.element(
            (0x0002, 0x0012),
            "UI",
            b"1.2.826.0.1.3680043.10.1\0",
            Len::Exact,
        );
        if self.stray {
            w.element((0x0300, 0x0000), "UL", &[0; 4], Len::Exact);
        }
        // The group length field is (0002,0000)'s value, the 4 bytes before `start`.
        let value = LengthField {
            at: start - 4,
            wide: true,
            value_start: start,
        };
        w.resolve(value, self.group_length, w.out.len() - start);
    }
}

/// How a deflated data set is compressed.
#[derive(Debug, Clone, Copy)]
enum Deflate {
    /// Stored (uncompressed) deflate blocks: the inflated data set is the one written.
    Stored,
    Truncated(u16),
    /// Not compressed at all, as if the syntax were explicit little endian.
    Raw,
}

impl<'a> Arbitrary<'a> for Deflate {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match u.int_in_range(0u8..=15)? {
            14 => Deflate::Truncated(u.arbitrary()?),
            15 => Deflate::Raw,
            _ => Deflate::Stored,
        })
    }
}

impl Deflate {
    fn apply(self, data: Vec<u8>) -> Vec<u8> {
        match self {
            Deflate::Raw => data,
            Deflate::Stored => stored_deflate(&data),
            Deflate::Truncated(n) => {
                let mut out = stored_deflate(&data);
                out.truncate(n as usize);
                out
            }
        }
    }
}

/// Raw deflate (RFC 1951) of stored blocks.
fn stored_deflate(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 65535 * 5 + 5);
    let mut chunks = data.chunks(65535).peekable();
    if chunks.peek().is_none() {
        return vec![1, 0, 0, 0xFF, 0xFF];
    }
    while let Some(chunk) = chunks.next() {
        out.push(u8::from(chunks.peek().is_none()));
        let len = chunk.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Image pixel module, LUTs, palette

#[derive(Debug)]
struct ImageModule {
    samples_per_pixel: Option<Attr<SamplesPerPixel>>,
    photometric: Option<Attr<Photometric>>,
    rows: Option<Attr<Dim>>,
    columns: Option<Attr<Dim>>,
    bits_allocated: Option<Attr<BitsAllocated>>,
    bits_stored: Option<Attr<BitsStored>>,
    high_bit: Option<Attr<HighBit>>,
    pixel_representation: Option<Attr<Flag>>,
    planar_configuration: Option<Attr<Flag>>,
    number_of_frames: Option<Attr<Frames>>,
    rescale_slope: Option<Attr<Real>>,
    rescale_intercept: Option<Attr<Real>>,
    window_center: Option<Attr<Reals>>,
    window_width: Option<Attr<Reals>>,
}

impl<'a> Arbitrary<'a> for ImageModule {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(ImageModule {
            samples_per_pixel: usually(u)?,
            photometric: usually(u)?,
            rows: dimension(u)?,
            columns: dimension(u)?,
            bits_allocated: usually(u)?,
            bits_stored: usually(u)?,
            high_bit: usually(u)?,
            pixel_representation: usually(u)?,
            planar_configuration: sometimes(u, 1, 4)?,
            number_of_frames: sometimes(u, 1, 4)?,
            rescale_slope: sometimes(u, 1, 4)?,
            rescale_intercept: sometimes(u, 1, 4)?,
            window_center: sometimes(u, 1, 4)?,
            window_width: sometimes(u, 1, 4)?,
        })
    }
}

/// Rows or Columns: mostly a US, now and then a 32-bit value in a wider VR (UL, IS, DS…), where
/// products of two of them overflow 64 bits.
fn dimension(u: &mut Unstructured) -> Result<Option<Attr<Dim>>> {
    if u.ratio(31u8, 32)? {
        return usually(u);
    }
    let value = *u.choose(&[
        1 << 31,
        u32::MAX as i64,
        u32::MAX as i64 - 1,
        1 << 30,
        1 << 16,
        (1 << 16) + 1,
        4294901761, // × 2147516416 = 2^63 + 32768
        2147516416,
        3,
    ])?;
    let vr = *u.choose(&["UL", "SL", "IS", "DS", "FD", "FL", "OL", "UV", "SV"])?;
    Ok(Some(Attr {
        value: Dim(value),
        vr: VrPick::Other(vr),
        len: Len::Exact,
    }))
}

/// What the image module says about the pixels, as a reader takes it.
#[derive(Debug, Clone)]
struct Geometry {
    rows: u64,
    columns: u64,
    samples: u64,
    bits_allocated: u64,
    bits_stored: u64,
    frames: u64,
    signed: bool,
    photometric: String,
}

impl Geometry {
    /// Bytes of native pixel data the header calls for (all frames).
    fn native_bytes(&self) -> u128 {
        let pixels = u128::from(self.rows) * u128::from(self.columns);
        if self.photometric == "YBR_FULL_422" {
            return pixels * 2 * u128::from(self.frames);
        }
        (pixels
            * u128::from(self.samples.max(1))
            * u128::from(self.bits_allocated)
            * u128::from(self.frames))
        .div_ceil(8)
    }
}

fn number<V: Copy + Into<i64>>(attr: &Option<Attr<V>>) -> Option<i64> {
    attr.as_ref().map(|a| a.value.into())
}

macro_rules! into_i64 {
    ($($t:ident),*) => {$(impl From<$t> for i64 { fn from(v: $t) -> i64 { v.0 } })*};
}
into_i64!(
    Dim,
    SamplesPerPixel,
    BitsAllocated,
    BitsStored,
    Flag,
    Frames
);

impl ImageModule {
    fn photometric_is(&self, term: &str) -> bool {
        self.photometric.as_ref().is_some_and(|p| p.value.0 == term)
    }

    fn geometry(&self) -> Geometry {
        let clamp = |v: i64| v.clamp(0, u32::MAX.into()) as u64;
        Geometry {
            rows: clamp(number(&self.rows).unwrap_or(0)),
            columns: clamp(number(&self.columns).unwrap_or(0)),
            samples: clamp(number(&self.samples_per_pixel).unwrap_or(1)).min(4),
            bits_allocated: clamp(number(&self.bits_allocated).unwrap_or(0)).min(64),
            bits_stored: clamp(number(&self.bits_stored).unwrap_or(0)).min(64),
            frames: clamp(number(&self.number_of_frames).unwrap_or(1)).max(1),
            signed: number(&self.pixel_representation) == Some(1),
            photometric: self
                .photometric
                .as_ref()
                .map_or_else(String::new, |p| p.value.0.clone()),
        }
    }

    fn write(&self, ds: &mut DataSet) {
        ds.attr((0x0028, 0x0002), "US", &self.samples_per_pixel);
        ds.attr((0x0028, 0x0004), "CS", &self.photometric);
        ds.attr((0x0028, 0x0006), "US", &self.planar_configuration);
        ds.attr((0x0028, 0x0008), "IS", &self.number_of_frames);
        ds.attr((0x0028, 0x0010), "US", &self.rows);
        ds.attr((0x0028, 0x0011), "US", &self.columns);
        ds.attr((0x0028, 0x0100), "US", &self.bits_allocated);
        ds.attr((0x0028, 0x0101), "US", &self.bits_stored);
        ds.attr((0x0028, 0x0102), "US", &self.high_bit);
        ds.attr((0x0028, 0x0103), "US", &self.pixel_representation);
        ds.attr((0x0028, 0x1050), "DS", &self.window_center);
        ds.attr((0x0028, 0x1051), "DS", &self.window_width);
        ds.attr((0x0028, 0x1052), "DS", &self.rescale_intercept);
        ds.attr((0x0028, 0x1053), "DS", &self.rescale_slope);
    }
}

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
struct LutSequence {
    sequence: Extent,
    item: Extent,
    descriptor: Attr<Descriptor>,
    data: Attr<LutData>,
}

impl LutSequence {
    fn write(&self, w: &mut Writer, tag: Tag) {
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
struct Palette {
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
    fn write(&self, ds: &mut DataSet) {
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

// ---------------------------------------------------------------------------------------------
// Nesting

/// Sequences nested `depth` levels, each level styled by `levels` (cycled).
#[derive(Debug)]
struct Nesting {
    tag: SequenceTag,
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
enum SequenceTag {
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
    fn tag(self) -> Tag {
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
    fn write(&self, w: &mut Writer) {
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

// ---------------------------------------------------------------------------------------------
// Other elements

/// An element anywhere: a known tag (written with its own VR or another), a group length, a
/// meta element in the data set, a private or overlay element, an item tag, or any tag at all.
#[derive(Debug, Arbitrary)]
struct Extra {
    tag: ExtraTag,
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
enum ExtraTag {
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
    fn tag(self) -> Tag {
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
    fn write(&self, w: &mut Writer) {
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

// ---------------------------------------------------------------------------------------------
// Pixel data

const PIXEL_DATA: Tag = (0x7FE0, 0x0010);

/// Native pixel data larger than this is cut here (the header's size is refused anyway).
const MAX_NATIVE_BYTES: usize = 256 << 10;

#[derive(Debug)]
enum Pixels {
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
    fn arbitrary_for(u: &mut Unstructured, syntax: Syntax) -> Result<Self> {
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

    fn write(&self, ds: &mut DataSet, syntax: Syntax, g: &Geometry) {
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
struct Native {
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
fn repeat(source: &[u8], n: usize) -> Vec<u8> {
    if source.is_empty() {
        return vec![0; n];
    }
    source.iter().copied().cycle().take(n).collect()
}

/// Encapsulated pixel data (PS3.5 A.4).
#[derive(Debug)]
struct Encapsulated {
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

#[derive(Debug, Clone, Copy, PartialEq)]
enum Codec {
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

/// Knobs of a codestream header; by default it agrees with the DICOM header.
#[derive(Debug, Clone, Copy)]
struct CodecParams {
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
fn jpeg(sof: u8, syntax: Syntax, p: &CodecParams, g: &Geometry, body: &[u8]) -> Vec<u8> {
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

const JP2_SIGNATURE: [u8; 12] = [
    0, 0, 0, 0x0C, b'j', b'P', b' ', b' ', 0x0D, 0x0A, 0x87, 0x0A,
];

/// A JPEG 2000 codestream (optionally in a JP2 file): SOC, SIZ agreeing with the DICOM header,
/// COD, QCD, one tile part holding the body, EOC.
fn j2k(jp2: bool, syntax: Syntax, p: &CodecParams, g: &Geometry, body: &[u8]) -> Vec<u8> {
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
fn rle(p: &CodecParams, g: &Geometry, body: &[u8]) -> Vec<u8> {
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
