//! RLE Lossless (PS3.5 Annex G), decoded here rather than by dicom-pixeldata: its decoder
//! panics on malformed segments and refuses 32-bit samples. Every offset and run is checked
//! against the fragment and the frame size.

use crate::error::{ImagingError, Result};

fn bad(reason: impl Into<String>) -> ImagingError {
    ImagingError::Decode(format!("RLE: {}", reason.into()))
}

/// Decodes one RLE frame into native little-endian samples, interleaved by pixel
/// (planar configuration 0), for `pixels` pixels of `samples` samples of `bytes` bytes each.
pub fn decode_frame(
    fragment: &[u8],
    pixels: usize,
    samples: usize,
    bytes: usize,
) -> Result<Vec<u8>> {
    if fragment.len() < 64 {
        return Err(bad("header shorter than 64 bytes"));
    }
    let word = |i: usize| {
        u32::from_le_bytes([
            fragment[4 * i],
            fragment[4 * i + 1],
            fragment[4 * i + 2],
            fragment[4 * i + 3],
        ]) as usize
    };
    let segments = word(0);
    if segments != samples * bytes || segments == 0 || segments > 15 {
        return Err(bad(format!(
            "{segments} segments for {samples} samples of {bytes} bytes"
        )));
    }
    let mut out = vec![0u8; pixels * samples * bytes];
    for s in 0..segments {
        let start = word(1 + s);
        let end = if s + 1 < segments {
            word(2 + s)
        } else {
            fragment.len()
        };
        if start < 64 || start > end || end > fragment.len() {
            return Err(bad(format!(
                "segment {s} offsets {start}..{end} outside the fragment"
            )));
        }
        let plane = unpack(&fragment[start..end], pixels)?;
        // Segments come most significant byte first, sample by sample.
        let (sample, byte_of_sample) = (s / bytes, bytes - 1 - s % bytes);
        for (p, value) in plane.into_iter().enumerate() {
            out[(p * samples + sample) * bytes + byte_of_sample] = value;
        }
    }
    Ok(out)
}

/// PackBits: a header byte n in 0..=127 copies n+1 literal bytes, -127..=-1 repeats the next
/// byte 1-n times, -128 is a no-op. Output stops at `len` bytes; a short segment is an error.
fn unpack(segment: &[u8], len: usize) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(len);
    let mut i = 0;
    while out.len() < len && i < segment.len() {
        let n = segment[i] as i8;
        i += 1;
        if n >= 0 {
            let count = n as usize + 1;
            let literal = segment
                .get(i..i + count)
                .ok_or_else(|| bad("literal run past the segment end"))?;
            out.extend_from_slice(&literal[..count.min(len - out.len())]);
            i += count;
        } else if n != -128 {
            let value = *segment
                .get(i)
                .ok_or_else(|| bad("repeat run past the segment end"))?;
            let count = (1 - n as isize) as usize;
            out.resize(out.len() + count.min(len - out.len()), value);
            i += 1;
        }
    }
    if out.len() < len {
        return Err(bad(format!("segment holds {} of {len} bytes", out.len())));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packbits_literal_and_repeat() {
        assert_eq!(
            unpack(&[2, 1, 2, 3, 0xfe, 9], 6).unwrap(),
            vec![1, 2, 3, 9, 9, 9]
        );
        assert!(unpack(&[5, 1], 6).is_err());
        assert!(unpack(&[0xfe], 3).is_err());
    }

    #[test]
    fn sixteen_bit_segments_are_high_byte_first() {
        let mut fragment = vec![0u8; 64];
        fragment[0] = 2;
        fragment[4] = 64;
        fragment[8] = 66;
        fragment.extend_from_slice(&[0xff, 0x12, 0xff, 0x34]);
        assert_eq!(
            decode_frame(&fragment, 2, 1, 2).unwrap(),
            vec![0x34, 0x12, 0x34, 0x12]
        );
    }
}
