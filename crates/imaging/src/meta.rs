//! What a file says about itself: patient, study, series, geometry, pixel format and display
//! presets — read once, typed, and serialisable for `image info --json`.

use dicom_core::dictionary::UidDictionary;
use dicom_core::Tag;
use dicom_dictionary_std::{tags, StandardSopClassDictionary};
use dicom_object::mem::InMemElement;
use dicom_object::DefaultDicomObject;
use dicom_transfer_syntax_registry::{TransferSyntaxIndex, TransferSyntaxRegistry};
use serde::Serialize;

/// A window preset: centre and width in modality units.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Window {
    pub center: f64,
    pub width: f64,
}

/// A lookup table (modality or VOI): `values[v - first]`, clamped at both ends.
#[derive(Debug, Clone, PartialEq)]
pub struct Lut {
    pub first: i64,
    /// Bits per output value (from the descriptor).
    pub bits: u16,
    pub values: Vec<i64>,
}

impl Lut {
    pub fn get(&self, v: i64) -> i64 {
        let last = self.values.len().saturating_sub(1) as i64;
        // Saturating: a value far outside the table (a rescale slope of -1e300 gives i64::MIN)
        // overflowed the subtraction.
        self.values[v.saturating_sub(self.first).clamp(0, last) as usize]
    }
}

/// The first LUT of a Modality or VOI LUT sequence, if well formed.
fn lut(obj: &DefaultDicomObject, sequence: Tag) -> Option<Lut> {
    let item = obj.get(sequence)?.items()?.first()?;
    let descriptor = item.get(tags::LUT_DESCRIPTOR)?.to_multi_float64().ok()?;
    lut_from(&descriptor, item.get(tags::LUT_DATA)?).ok()
}

/// A table from its descriptor (entries — 0 meaning 65536 —, first mapped value, bits per
/// entry) and its data: 16-bit words, or bytes when 8-bit entries are packed one per byte.
/// Shared by modality, VOI and palette colour tables.
pub(crate) fn lut_from(descriptor: &[f64], data: &InMemElement) -> Result<Lut, String> {
    let (entries, first, bits) = descriptor_of(descriptor)?;
    let values: Vec<i64> = match data.value().primitive() {
        Some(dicom_core::PrimitiveValue::U16(w)) => w.iter().map(|v| i64::from(*v)).collect(),
        Some(dicom_core::PrimitiveValue::I16(w)) => w.iter().map(|v| i64::from(*v)).collect(),
        _ => {
            let bytes = data.to_bytes().map_err(|e| e.to_string())?;
            if bits <= 8 && bytes.len() == entries {
                bytes.iter().map(|b| i64::from(*b)).collect()
            } else {
                words(&bytes).map(i64::from).collect()
            }
        }
    };
    if values.len() < entries {
        return Err(format!(
            "{} entries present, descriptor says {entries}",
            values.len()
        ));
    }
    Ok(Lut {
        first,
        bits,
        values: values[..entries].to_vec(),
    })
}

/// A palette table given as segments (PS3.3 C.7.9.2), expanded.
pub(crate) fn segmented_lut_from(descriptor: &[f64], data: &InMemElement) -> Result<Lut, String> {
    let (entries, first, bits) = descriptor_of(descriptor)?;
    let segments: Vec<u16> = match data.value().primitive() {
        Some(dicom_core::PrimitiveValue::U16(w)) => w.to_vec(),
        _ => words(&data.to_bytes().map_err(|e| e.to_string())?).collect(),
    };
    let values = crate::segmented::expand(&segments, entries)?;
    Ok(Lut {
        first,
        bits,
        values: values.into_iter().map(i64::from).collect(),
    })
}

/// Entries (0 meaning 65536), first mapped value and bits per entry of a LUT descriptor.
fn descriptor_of(descriptor: &[f64]) -> Result<(usize, i64, u16), String> {
    let [entries, first, bits] = descriptor else {
        return Err(format!("descriptor has {} values, not 3", descriptor.len()));
    };
    let entries = match *entries as i64 {
        0 => 65536,
        n if (1..=65535).contains(&n) => n as usize,
        n => return Err(format!("descriptor gives {n} entries")),
    };
    Ok((entries, *first as i64, *bits as u16))
}

fn words(bytes: &[u8]) -> impl Iterator<Item = u16> + '_ {
    bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
}

/// Metadata of one DICOM file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImageInfo {
    pub sop_class_uid: String,
    pub sop_class: String,
    pub transfer_syntax_uid: String,
    pub transfer_syntax: String,
    pub modality: Option<String>,
    /// As stored; may hold PHI, so callers must not log it.
    pub patient_name: Option<String>,
    pub patient_id: Option<String>,
    /// Issuer of Patient ID (0010,0021), trimmed as the Patient ID is: a Patient ID is unique
    /// only within its issuer (a region's hospitals each number their own patients).
    pub patient_id_issuer: Option<String>,
    pub study_uid: Option<String>,
    pub series_uid: Option<String>,
    pub instance_uid: Option<String>,
    pub study_date: Option<String>,
    pub study_description: Option<String>,
    pub series_description: Option<String>,
    /// Instance Number and the position along the slice normal (Slice Location, else the
    /// z of Image Position (Patient)): the order a reader scrolls a series in.
    pub instance_number: Option<i64>,
    pub slice_location: Option<f64>,
    /// The plane and the position along its normal, from Image Position and Orientation
    /// (Patient): what two viewports scroll together by. `None` without a trustworthy geometry.
    pub geometry: Option<crate::SliceGeometry>,
    pub has_pixels: bool,
    pub rows: u32,
    pub columns: u32,
    pub frames: u32,
    pub samples_per_pixel: u16,
    pub bits_allocated: u16,
    pub bits_stored: u16,
    pub signed: bool,
    pub photometric: Option<String>,
    /// Row spacing, column spacing in mm.
    pub pixel_spacing: Option<[f64; 2]>,
    pub rescale_slope: f64,
    pub rescale_intercept: f64,
    pub windows: Vec<Window>,
    /// For files with nothing to display: what they are, in words.
    pub description: String,
    /// Modality LUT Sequence, used instead of rescale when present.
    #[serde(skip)]
    pub modality_lut: Option<Lut>,
    /// VOI LUT Sequence, used when no window is given or stored.
    #[serde(skip)]
    pub voi_lut: Option<Lut>,
}

pub(crate) fn text(obj: &DefaultDicomObject, tag: Tag) -> Option<String> {
    let element = obj.get(tag)?;
    // A text attribute read with an unknown VR (implicit data sets, UN) arrives as bytes.
    let s = match element.value().primitive() {
        Some(dicom_core::PrimitiveValue::U8(bytes)) => {
            String::from_utf8_lossy(bytes).into_owned().into()
        }
        _ => element.to_str().ok()?,
    };
    let s = s.trim_matches(|c: char| c == '\0' || c.is_whitespace());
    (!s.is_empty()).then(|| s.to_string())
}

pub(crate) fn int(obj: &DefaultDicomObject, tag: Tag) -> Option<i64> {
    obj.get(tag)?.to_int::<i64>().ok()
}

pub(crate) fn floats(obj: &DefaultDicomObject, tag: Tag) -> Vec<f64> {
    obj.get(tag)
        .and_then(|e| e.to_multi_float64().ok())
        .unwrap_or_default()
}

/// The frame count, tolerating a non-numeric Number of Frames (as in badVR.dcm) by treating it
/// as one frame rather than refusing the image.
pub(crate) fn frames(obj: &DefaultDicomObject) -> u32 {
    int(obj, tags::NUMBER_OF_FRAMES)
        .filter(|n| *n >= 1)
        .map_or(1, |n| n.min(u32::MAX as i64) as u32)
}

pub fn info(obj: &DefaultDicomObject) -> ImageInfo {
    let meta = obj.meta();
    let sop_class_uid = text(obj, tags::SOP_CLASS_UID).unwrap_or_else(|| {
        meta.media_storage_sop_class_uid()
            .trim_end_matches('\0')
            .to_string()
    });
    let sop_class = StandardSopClassDictionary
        .by_uid(&sop_class_uid)
        .map_or_else(
            || format!("unknown SOP class {sop_class_uid}"),
            |e| e.name.to_string(),
        );
    let ts_uid = meta.transfer_syntax().trim_end_matches('\0').to_string();
    let transfer_syntax = TransferSyntaxRegistry
        .get(&ts_uid)
        .map_or_else(|| "unknown".to_string(), |t| t.name().to_string());
    let has_pixels = obj.get(tags::PIXEL_DATA).is_some()
        || obj.get(tags::FLOAT_PIXEL_DATA).is_some()
        || obj.get(tags::DOUBLE_FLOAT_PIXEL_DATA).is_some();
    let centers = floats(obj, tags::WINDOW_CENTER);
    let widths = floats(obj, tags::WINDOW_WIDTH);
    let windows = centers
        .iter()
        .zip(&widths)
        .filter(|(_, w)| **w >= 1.0)
        .map(|(c, w)| Window {
            center: *c,
            width: *w,
        })
        .collect();
    let spacing = floats(obj, tags::PIXEL_SPACING);
    let description = if has_pixels {
        sop_class.clone()
    } else {
        format!("{sop_class} document, no pixel data")
    };
    ImageInfo {
        sop_class_uid,
        sop_class,
        transfer_syntax_uid: ts_uid,
        transfer_syntax,
        modality: text(obj, tags::MODALITY),
        patient_name: text(obj, tags::PATIENT_NAME),
        patient_id: text(obj, tags::PATIENT_ID),
        patient_id_issuer: text(obj, tags::ISSUER_OF_PATIENT_ID),
        study_uid: text(obj, tags::STUDY_INSTANCE_UID),
        series_uid: text(obj, tags::SERIES_INSTANCE_UID),
        instance_uid: text(obj, tags::SOP_INSTANCE_UID),
        study_date: text(obj, tags::STUDY_DATE),
        study_description: text(obj, tags::STUDY_DESCRIPTION),
        series_description: text(obj, tags::SERIES_DESCRIPTION),
        instance_number: int(obj, tags::INSTANCE_NUMBER),
        slice_location: floats(obj, tags::SLICE_LOCATION)
            .first()
            .copied()
            .or_else(|| floats(obj, tags::IMAGE_POSITION_PATIENT).get(2).copied())
            .filter(|v| v.is_finite()),
        // Measured from the slice's centre (see `geometry`): Rows, Columns and Pixel Spacing
        // as the fields below read them.
        geometry: crate::slice_geometry_centred(
            &floats(obj, tags::IMAGE_POSITION_PATIENT),
            &floats(obj, tags::IMAGE_ORIENTATION_PATIENT),
            int(obj, tags::ROWS).unwrap_or(0).clamp(0, u32::MAX as i64) as u32,
            int(obj, tags::COLUMNS)
                .unwrap_or(0)
                .clamp(0, u32::MAX as i64) as u32,
            (spacing.len() == 2).then(|| [spacing[0], spacing[1]]),
        ),
        has_pixels,
        rows: int(obj, tags::ROWS).unwrap_or(0).clamp(0, u32::MAX as i64) as u32,
        columns: int(obj, tags::COLUMNS)
            .unwrap_or(0)
            .clamp(0, u32::MAX as i64) as u32,
        frames: if has_pixels { frames(obj) } else { 0 },
        samples_per_pixel: int(obj, tags::SAMPLES_PER_PIXEL).unwrap_or(1).clamp(0, 4) as u16,
        bits_allocated: int(obj, tags::BITS_ALLOCATED).unwrap_or(0).clamp(0, 64) as u16,
        bits_stored: int(obj, tags::BITS_STORED).unwrap_or(0).clamp(0, 64) as u16,
        signed: int(obj, tags::PIXEL_REPRESENTATION) == Some(1),
        photometric: text(obj, tags::PHOTOMETRIC_INTERPRETATION),
        pixel_spacing: (spacing.len() == 2).then(|| [spacing[0], spacing[1]]),
        rescale_slope: floats(obj, tags::RESCALE_SLOPE)
            .first()
            .copied()
            .unwrap_or(1.0),
        rescale_intercept: floats(obj, tags::RESCALE_INTERCEPT)
            .first()
            .copied()
            .unwrap_or(0.0),
        windows,
        description,
        modality_lut: lut(obj, tags::MODALITY_LUT_SEQUENCE),
        voi_lut: lut(obj, tags::VOILUT_SEQUENCE),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the dicom_structured fuzz target: a rescale slope of -1e300 made the modality
    /// value of a pixel i64::MIN, and `v - first` overflowed when a VOI LUT looked it up (a panic
    /// where overflow is checked; in release builds it wrapped to the far end of the table).
    #[test]
    fn lut_lookups_far_outside_the_table_clamp_instead_of_overflowing() {
        let lut = Lut {
            first: 1,
            bits: 12,
            values: vec![0, 2048, 4095],
        };
        assert_eq!(lut.get(i64::MIN), 0);
        assert_eq!(lut.get(i64::MAX), 4095);
        let negative_first = Lut {
            first: -1024,
            ..lut.clone()
        };
        assert_eq!(negative_first.get(i64::MAX), 4095);
        assert_eq!(negative_first.get(-1023), 2048);
    }
}
