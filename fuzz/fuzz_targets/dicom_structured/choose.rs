//! Choosing values: `pick`, `usually`, `sometimes`, `few`, and the attribute values they bias
//! to edges (dimensions, bit depths, LUT numbers, reals, photometric terms, SOP classes).

use arbitrary::{Arbitrary, Result, Unstructured};

use crate::value::{Content, Value};

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
pub(crate) fn usually<'a, T: Arbitrary<'a>>(u: &mut Unstructured<'a>) -> Result<Option<T>> {
    Ok(if u.ratio(15u8, 16)? {
        Some(u.arbitrary()?)
    } else {
        None
    })
}

/// Present `numerator` times in `denominator` (`numerator` < `denominator`); absent when the
/// input has run out.
pub(crate) fn sometimes<'a, T: Arbitrary<'a>>(
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
pub(crate) fn few<'a, T: Arbitrary<'a>>(u: &mut Unstructured<'a>, max: usize) -> Result<Vec<T>> {
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
        pub(crate) struct $name(pub(crate) i64);
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
pub(crate) struct Real(f64);

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
pub(crate) struct Reals(Vec<f64>);

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
pub(crate) struct Photometric(pub(crate) String);

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
pub(crate) struct SopClass(pub(crate) &'static str);

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
