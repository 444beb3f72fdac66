//! The compressed stream's own header, compared with the DICOM header before any codec runs.
//!
//! Codecs size their buffers from the stream's header, not from the DICOM attributes that every
//! other limit here is checked against: a JPEG 2000 SIZ marker claiming 60000×60000 made the
//! codec allocate gigabytes for a few hundred bytes of input. Every fragment that starts a
//! JPEG, JPEG-LS or JPEG 2000 codestream must describe the image the DICOM header describes.

use countersign_jpeg::frame_header;
use dicom_dictionary_std::tags;
use dicom_object::DefaultDicomObject;

use crate::error::{ImagingError, Result};
use crate::meta::ImageInfo;

const JPEG_FAMILY: [&str; 6] = [
    "1.2.840.10008.1.2.4.50",
    "1.2.840.10008.1.2.4.51",
    "1.2.840.10008.1.2.4.57",
    "1.2.840.10008.1.2.4.70",
    "1.2.840.10008.1.2.4.80",
    "1.2.840.10008.1.2.4.81",
];
const JPEG_2000_FAMILY: [&str; 5] = [
    "1.2.840.10008.1.2.4.90",
    "1.2.840.10008.1.2.4.91",
    "1.2.840.10008.1.2.4.201",
    "1.2.840.10008.1.2.4.202",
    "1.2.840.10008.1.2.4.203",
];

/// Checks the header of every codestream in the pixel data against `info`.
pub(crate) fn check(obj: &DefaultDicomObject, info: &ImageInfo) -> Result<()> {
    let ts = info.transfer_syntax_uid.as_str();
    let jpeg = JPEG_FAMILY.contains(&ts);
    if !jpeg && !JPEG_2000_FAMILY.contains(&ts) {
        return Ok(());
    }
    let Some(fragments) = obj.get(tags::PIXEL_DATA).and_then(|e| e.fragments()) else {
        return Ok(());
    };
    for (index, fragment) in fragments.iter().enumerate() {
        let found = if jpeg {
            jpeg_dimensions(fragment)
        } else {
            j2k_dimensions(fragment)
        };
        let Some(found) = found else { continue };
        let (rows, columns, components) =
            found.map_err(|reason| ImagingError::Decode(format!("fragment {index}: {reason}")))?;
        let expected = (info.rows, info.columns, u32::from(info.samples_per_pixel));
        if (rows, columns, components) != expected {
            return Err(ImagingError::Decode(format!(
                "fragment {index} holds a {columns}×{rows} image of {components} components; \
                 the DICOM header says {}×{} of {}",
                expected.1, expected.0, expected.2
            )));
        }
    }
    Ok(())
}

type Dimensions = std::result::Result<(u32, u32, u32), String>;

/// Rows, columns and components of a fragment that starts a JPEG or JPEG-LS stream; `None` for a
/// fragment that continues one.
fn jpeg_dimensions(fragment: &[u8]) -> Option<Dimensions> {
    if !fragment.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    Some(
        frame_header(fragment)
            .map(|h| (h.rows.into(), h.columns.into(), h.components.into()))
            .ok_or_else(|| "JPEG stream without a readable frame header".into()),
    )
}

const SOC_SIZ: [u8; 4] = [0xFF, 0x4F, 0xFF, 0x51];
const JP2_SIGNATURE: [u8; 12] = [
    0, 0, 0, 0x0C, b'j', b'P', b' ', b' ', 0x0D, 0x0A, 0x87, 0x0A,
];

/// Rows, columns and components from the SIZ marker of a fragment that starts a JPEG 2000
/// codestream (bare, or wrapped in a JP2 file as some encoders write); `None` for a fragment
/// that continues one.
fn j2k_dimensions(fragment: &[u8]) -> Option<Dimensions> {
    let at = if fragment.starts_with(&SOC_SIZ) {
        0
    } else if fragment.starts_with(&JP2_SIGNATURE) {
        let window = &fragment[..fragment.len().min(64 * 1024)];
        match window.windows(4).position(|w| w == SOC_SIZ) {
            Some(at) => at,
            None => return Some(Err("JP2 file without a codestream header".into())),
        }
    } else {
        return None;
    };
    Some(siz(&fragment[at + 4..]))
}

/// Parses the SIZ segment (ISO 15444-1 A.5.1) that follows SOC.
fn siz(body: &[u8]) -> Dimensions {
    let u16_at = |i: usize| body.get(i..i + 2).map(|b| u16::from_be_bytes([b[0], b[1]]));
    let u32_at = |i: usize| {
        body.get(i..i + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    let short = || "JPEG 2000 SIZ marker is cut short".to_string();
    let length = u16_at(0).ok_or_else(short)?;
    let [x, y, x_offset, y_offset, tile_w, tile_h, tile_x, tile_y] =
        [4, 8, 12, 16, 20, 24, 28, 32].map(|i| u32_at(i).unwrap_or(0));
    let components = u16_at(36).ok_or_else(short)?;
    if usize::from(length) != 38 + 3 * usize::from(components) || body.len() < usize::from(length) {
        return Err(format!(
            "JPEG 2000 SIZ length {length} does not fit {components} components"
        ));
    }
    if x <= x_offset
        || y <= y_offset
        || tile_w == 0
        || tile_h == 0
        || tile_x > x_offset
        || tile_y > y_offset
    {
        return Err("JPEG 2000 SIZ marker describes no image".into());
    }
    let tiles = u64::from((x - tile_x).div_ceil(tile_w)) * u64::from((y - tile_y).div_ceil(tile_h));
    if tiles > 65535 {
        return Err(format!(
            "JPEG 2000 SIZ marker gives {tiles} tiles (at most 65535)"
        ));
    }
    Ok((y - y_offset, x - x_offset, components.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn siz_body(x: u32, y: u32, components: u16) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&(38 + 3 * components).to_be_bytes());
        b.extend_from_slice(&0u16.to_be_bytes());
        for v in [x, y, 0, 0, x, y, 0, 0] {
            b.extend_from_slice(&v.to_be_bytes());
        }
        b.extend_from_slice(&components.to_be_bytes());
        for _ in 0..components {
            b.extend_from_slice(&[15, 1, 1]);
        }
        b
    }

    #[test]
    fn siz_gives_the_image_size() {
        assert_eq!(siz(&siz_body(1760, 1760, 1)), Ok((1760, 1760, 1)));
        let mut fragment = SOC_SIZ.to_vec();
        fragment.extend(siz_body(640, 480, 3));
        assert_eq!(j2k_dimensions(&fragment), Some(Ok((480, 640, 3))));
        assert_eq!(j2k_dimensions(&[1, 2, 3]), None);
    }

    #[test]
    fn siz_markers_that_describe_no_image_are_refused() {
        let mut cut = siz_body(64, 64, 1);
        cut.truncate(20);
        assert!(siz(&cut).is_err());
        let mut wrong_length = siz_body(64, 64, 2);
        wrong_length[1] = 99;
        assert!(siz(&wrong_length).is_err());
        assert!(siz(&siz_body(0, 64, 1)).is_err());
        let mut tiny_tiles = siz_body(60000, 60000, 1);
        tiny_tiles[20..28].copy_from_slice(&[0, 0, 0, 1, 0, 0, 0, 1]);
        assert!(siz(&tiny_tiles).unwrap_err().contains("tiles"));
    }
}
