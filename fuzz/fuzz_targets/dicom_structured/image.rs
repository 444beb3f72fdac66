//! The image pixel module, and the `Geometry` a reader takes from it.

use arbitrary::{Arbitrary, Result, Unstructured};

use crate::choose::{
    sometimes, usually, BitsAllocated, BitsStored, Dim, Flag, Frames, HighBit, Photometric, Real,
    Reals, SamplesPerPixel,
};
use crate::value::{Attr, Len, VrPick};
use crate::writer::DataSet;

// ---------------------------------------------------------------------------------------------
// Image pixel module, LUTs, palette

#[derive(Debug)]
pub(crate) struct ImageModule {
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
pub(crate) struct Geometry {
    pub(crate) rows: u64,
    pub(crate) columns: u64,
    pub(crate) samples: u64,
    pub(crate) bits_allocated: u64,
    pub(crate) bits_stored: u64,
    pub(crate) frames: u64,
    pub(crate) signed: bool,
    photometric: String,
}

impl Geometry {
    /// Bytes of native pixel data the header calls for (all frames).
    pub(crate) fn native_bytes(&self) -> u128 {
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
    pub(crate) fn photometric_is(&self, term: &str) -> bool {
        self.photometric.as_ref().is_some_and(|p| p.value.0 == term)
    }

    pub(crate) fn geometry(&self) -> Geometry {
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

    pub(crate) fn write(&self, ds: &mut DataSet) {
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
