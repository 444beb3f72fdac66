//! Lossless JPEG (ITU-T T.81 process 14, Annex H: Huffman coding, predictors 1–7, point
//! transform, restart intervals) for one component of 2–16 bits — the DICOM syntaxes
//! 1.2.840.10008.1.2.4.57 and .70 as written for greyscale CT, MR, CR and DX — in Rust, with no
//! `unsafe`.
//!
//! Why here and not only libjpeg-turbo: a C decoder of hostile bytes runs only in the confined
//! decode worker, a second process start on every render of a lossless file; this one runs in
//! the app like the RLE decoder. It gives what libjpeg-turbo gives, sample for sample — the
//! same modulo-2^16 reconstruction, the same truncation to the output sample type, the same
//! streams refused (a restart interval that is not whole rows, a premature end of data, bytes
//! between the data and the next marker, a Huffman code not in its table) — checked by a
//! differential test on the corpus and on generated files, a property test and a fuzz target.
//!
//! Everything that is not one component coded this way (lossy processes, several components,
//! arithmetic coding, a DNL marker, several scans) is [`JpegError::Unsupported`]: the caller
//! hands the stream to libjpeg-turbo, in the worker. The frame must have exactly the size the
//! DICOM header gives, checked before the output exists, and no more samples than the stream's
//! bits could code.
#![forbid(unsafe_code)]

use crate::{GreyImage, GreySamples, JpegError};

mod headers;
mod huffman;

use headers::*;
use huffman::*;

/// The decoded output is refused above this many bytes (the DICOM side allows at most 1 GiB of
/// pixels for all frames together; this is a second, local bound).
const MAX_OUTPUT_BYTES: u64 = 1 << 30;

fn header(reason: impl Into<String>) -> JpegError {
    JpegError::Header(reason.into())
}

fn data(reason: impl Into<String>) -> JpegError {
    JpegError::Data(reason.into())
}

fn unsupported(reason: impl Into<String>) -> JpegError {
    JpegError::Unsupported(reason.into())
}

/// Decodes a single-component lossless JPEG frame that must be `rows`×`columns`; samples of
/// up to 8 bits come as bytes, wider ones as words, as [`crate::decode_grey`] gives them.
pub fn decode_lossless(stream: &[u8], rows: u32, columns: u32) -> Result<GreyImage, JpegError> {
    let (frame, scan, tables, restart, start) = read_headers(stream)?;
    if (frame.rows, frame.columns) != (rows, columns) {
        return Err(JpegError::SizeMismatch {
            rows,
            columns,
            found_rows: frame.rows,
            found_columns: frame.columns,
        });
    }
    let spec = tables[scan.table]
        .as_ref()
        .ok_or_else(|| header(format!("Huffman table {} is not defined", scan.table)))?;
    let table = Table::new(spec)?;
    let width = columns as usize;
    let pixels = u64::from(rows) * u64::from(columns);
    let wide = frame.precision > 8;
    if pixels * if wide { 2 } else { 1 } > MAX_OUTPUT_BYTES {
        return Err(header(format!("{columns}×{rows} is too large")));
    }
    // Every sample takes at least one bit: a stream too short to hold them all is refused
    // before the output is allocated.
    let coded = stream.len().saturating_sub(start) as u64;
    if pixels > coded.saturating_mul(8) {
        return Err(data("premature end of data segment"));
    }
    // libjpeg-turbo requires whole rows per restart interval (a noninterleaved lossless MCU is
    // one sample).
    let restart_rows = match restart {
        0 => None,
        ri if ri % columns == 0 => Some(ri / columns),
        ri => {
            return Err(header(format!(
                "restart interval {ri} is not a multiple of {columns} samples a row"
            )))
        }
    };
    let pixels = pixels as usize;
    let mut undiff = vec![0u16; pixels];
    let mut bits = Bits::new(stream, start);
    let initial = 1i32 << (frame.precision - scan.point_transform - 1);
    let mut rows_to_go = restart_rows.unwrap_or(u32::MAX);
    let mut next_restart = 0u8;
    let mut first_row = true;
    for y in 0..rows as usize {
        if rows_to_go == 0 {
            bits.restart(next_restart)?;
            next_restart = (next_restart + 1) % 8;
            rows_to_go = restart_rows.unwrap_or(u32::MAX);
            first_row = true;
        }
        let (done, rest) = undiff.split_at_mut(y * width);
        let row = &mut rest[..width];
        if first_row {
            row_1d(&mut bits, &table, row, initial)?;
            first_row = false;
        } else {
            let above = &done[(y - 1) * width..];
            match scan.predictor {
                1 => row_2d(&mut bits, &table, row, above, |a, _, _| a)?,
                2 => row_2d(&mut bits, &table, row, above, |_, b, _| b)?,
                3 => row_2d(&mut bits, &table, row, above, |_, _, c| c)?,
                4 => row_2d(&mut bits, &table, row, above, |a, b, c| a + b - c)?,
                5 => row_2d(&mut bits, &table, row, above, |a, b, c| a + ((b - c) >> 1))?,
                6 => row_2d(&mut bits, &table, row, above, |a, b, c| b + ((a - c) >> 1))?,
                _ => row_2d(&mut bits, &table, row, above, |a, b, _| (a + b) >> 1)?,
            }
        }
        rows_to_go -= 1;
        if bits.overran() {
            return Err(data("premature end of data segment"));
        }
    }
    bits.end_of_data()?;
    finish(stream, bits)?;
    // libjpeg-turbo stores `value << Pt` in its sample type, truncating.
    let pt = scan.point_transform;
    let samples = if wide && pt == 0 {
        GreySamples::U16(undiff)
    } else if wide {
        GreySamples::U16(
            undiff
                .into_iter()
                .map(|v| (u32::from(v) << pt) as u16)
                .collect(),
        )
    } else {
        GreySamples::U8(
            undiff
                .into_iter()
                .map(|v| (u32::from(v) << pt) as u8)
                .collect(),
        )
    };
    Ok(GreyImage {
        precision: frame.precision as u8,
        lossless: true,
        samples,
    })
}
/// The first row of the scan and of each restart interval: the first sample from
/// 2^(P-Pt-1), the others from their left neighbour (H.1.2.1).
fn row_1d(bits: &mut Bits, table: &Table, row: &mut [u16], initial: i32) -> Result<(), JpegError> {
    let mut ra = initial;
    for out in row.iter_mut() {
        ra = (bits.difference(table)? + ra) & 0xFFFF;
        *out = ra as u16;
    }
    Ok(())
}

/// Other rows: the first sample from the one above, the others by the scan's predictor of
/// Ra (left), Rb (above), Rc (above left).
#[inline]
fn row_2d(
    bits: &mut Bits,
    table: &Table,
    row: &mut [u16],
    above: &[u16],
    predict: impl Fn(i32, i32, i32) -> i32,
) -> Result<(), JpegError> {
    let Some((&first_above, _)) = above.split_first() else {
        return Ok(());
    };
    let mut rb = i32::from(first_above);
    let mut ra = (bits.difference(table)? + rb) & 0xFFFF;
    let Some((first, rest)) = row.split_first_mut() else {
        return Ok(());
    };
    *first = ra as u16;
    for (out, &b) in rest.iter_mut().zip(&above[1..]) {
        let rc = rb;
        rb = i32::from(b);
        ra = (bits.difference(table)? + predict(ra, rb, rc)) & 0xFFFF;
        *out = ra as u16;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
