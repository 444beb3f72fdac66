//! The marker segments of a lossless stream: from SOI to the scan, and after it to EOI.

use super::huffman::{Bits, Spec};
use super::{data, header, unsupported};
use crate::JpegError;

pub(super) const SOF3_LOSSLESS: u8 = 0xC3;
pub(super) const DHT: u8 = 0xC4;
pub(super) const SOI: u8 = 0xD8;
pub(super) const EOI: u8 = 0xD9;
pub(super) const SOS: u8 = 0xDA;
pub(super) const DRI: u8 = 0xDD;

/// What the marker segments before the scan say.
pub(super) struct Frame {
    pub(super) precision: u32,
    pub(super) rows: u32,
    pub(super) columns: u32,
    pub(super) component: u8,
}

pub(super) struct Scan {
    pub(super) table: usize,
    pub(super) predictor: u8,
    pub(super) point_transform: u32,
}

/// After the scan: tables and comments may come before EOI, as libjpeg-turbo reads them;
/// another scan is for libjpeg-turbo (which refuses it for a single-component image too).
pub(super) fn finish(stream: &[u8], bits: Bits) -> Result<(), JpegError> {
    let mut at = bits.pos;
    let mut tables: [Option<Spec>; 4] = Default::default();
    loop {
        let (marker, body, next) = segment(stream, at)?;
        at = next;
        match (marker, body) {
            (EOI, _) => return Ok(()),
            (SOS, _) => return Err(unsupported("a second scan")),
            (DHT, Some(body)) => read_tables(body, &mut tables)?,
            (DRI, Some(body)) => read_restart_interval(body).map(|_| ())?,
            (_, body) => other_segment(marker, body)?,
        }
    }
}

/// The marker at `at` (after fill bytes), its body when it has one, and where the next starts.
pub(super) fn segment(
    stream: &[u8],
    mut at: usize,
) -> Result<(u8, Option<&[u8]>, usize), JpegError> {
    if stream.get(at) != Some(&0xFF) {
        return Err(data("extraneous bytes before marker"));
    }
    while stream.get(at + 1) == Some(&0xFF) {
        at += 1;
    }
    let marker = *stream
        .get(at + 1)
        .ok_or_else(|| header("premature end of JPEG file"))?;
    // Markers without a length: SOI, EOI, RSTn and TEM.
    if matches!(marker, SOI | EOI | 0xD0..=0xD7 | 0x01) {
        return Ok((marker, None, at + 2));
    }
    let length = stream
        .get(at + 2..at + 4)
        .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
        .ok_or_else(|| header("premature end of JPEG file"))?;
    let body = length
        .checked_sub(2)
        .and_then(|n| stream.get(at + 4..at + 4 + n))
        .ok_or_else(|| header("marker segment runs past the stream"))?;
    Ok((marker, Some(body), at + 2 + length))
}

/// A marker other than a frame, scan, table or restart definition, as libjpeg-turbo's
/// `read_markers` takes it: RSTn and TEM ignored, APPn, COM and DNL skipped (a JFIF marker of
/// another major version is a warning, so an error), quantisation tables checked and unused,
/// SOI and markers it does not know refused.
pub(super) fn other_segment(marker: u8, body: Option<&[u8]>) -> Result<(), JpegError> {
    match (marker, body) {
        (0xD0..=0xD7 | 0x01, _) => Ok(()),
        (0xE0, Some(body)) => {
            if body.len() >= 14 && body.starts_with(b"JFIF\0") && body[5] != 1 {
                return Err(header(format!(
                    "unknown JFIF revision number {}.{:02}",
                    body[5], body[6]
                )));
            }
            Ok(())
        }
        (0xE1..=0xEF | 0xFE | 0xDC, _) => Ok(()),
        (0xDB, Some(mut body)) => {
            while let [pq_tq, rest @ ..] = body {
                if pq_tq & 15 >= 4 {
                    return Err(header("bad quantization table index"));
                }
                let size = if pq_tq >> 4 != 0 { 128 } else { 64 };
                body = rest
                    .get(size..)
                    .ok_or_else(|| header("bad DQT segment length"))?;
            }
            Ok(())
        }
        // Arithmetic-coding conditioning: libjpeg-turbo reads it; not this decoder.
        (0xCC, _) => Err(unsupported("arithmetic coding conditioning")),
        _ => Err(header(format!("unexpected marker 0x{marker:02X}"))),
    }
}

pub(super) fn read_restart_interval(body: &[u8]) -> Result<u32, JpegError> {
    let [hi, lo] = body else {
        return Err(header("bad DRI segment length"));
    };
    Ok(u32::from(u16::from_be_bytes([*hi, *lo])))
}

pub(super) type Headers = (Frame, Scan, [Option<Spec>; 4], u32, usize);

/// Walks the marker segments from SOI to the first SOS: the frame, the scan, the Huffman
/// tables, the restart interval and where the coded data starts.
pub(super) fn read_headers(stream: &[u8]) -> Result<Headers, JpegError> {
    if stream.get(..2) != Some(&[0xFF, SOI]) {
        return Err(header("not a JPEG stream (no SOI marker)"));
    }
    let mut at = 2;
    let mut frame: Option<Frame> = None;
    let mut tables: [Option<Spec>; 4] = Default::default();
    let mut restart = 0u32;
    loop {
        let (marker, body, next) = segment(stream, at)?;
        at = next;
        match (marker, body) {
            (SOF3_LOSSLESS, Some(body)) => {
                if frame.is_some() {
                    return Err(header("two frame headers"));
                }
                frame = Some(read_frame(body)?);
            }
            (0xC0..=0xCF, _) if ![DHT, 0xC8, 0xCC].contains(&marker) => {
                return Err(unsupported(format!(
                    "JPEG process of marker 0x{marker:02X}"
                )))
            }
            (0xF7, _) => return Err(unsupported("JPEG-LS")),
            (DHT, Some(body)) => read_tables(body, &mut tables)?,
            (DRI, Some(body)) => restart = read_restart_interval(body)?,
            (SOS, Some(body)) => {
                let frame = frame.ok_or_else(|| header("scan before the frame header"))?;
                let scan = read_scan(body, &frame)?;
                return Ok((frame, scan, tables, restart, at));
            }
            (SOI | EOI, _) => return Err(header(format!("unexpected marker 0x{marker:02X}"))),
            (_, body) => other_segment(marker, body)?,
        }
    }
}

pub(super) fn read_frame(body: &[u8]) -> Result<Frame, JpegError> {
    let [precision, y1, y0, x1, x0, count, rest @ ..] = body else {
        return Err(header("bad frame header length"));
    };
    if *count != 1 {
        return Err(unsupported(format!("{count} components")));
    }
    if rest.len() != 3 {
        return Err(header("bad frame header length"));
    }
    let precision = u32::from(*precision);
    if !(2..=16).contains(&precision) {
        return Err(JpegError::Precision(precision as i32));
    }
    let rows = u32::from(u16::from_be_bytes([*y1, *y0]));
    let columns = u32::from(u16::from_be_bytes([*x1, *x0]));
    if rows == 0 {
        return Err(unsupported("rows given by a DNL marker"));
    }
    if columns == 0 {
        return Err(header("empty image"));
    }
    let sampling = rest[1];
    if !(1..=4).contains(&(sampling >> 4)) || !(1..=4).contains(&(sampling & 15)) {
        return Err(header("bad sampling factors"));
    }
    Ok(Frame {
        precision,
        rows,
        columns,
        component: rest[0],
    })
}

pub(super) fn read_tables(
    mut body: &[u8],
    tables: &mut [Option<Spec>; 4],
) -> Result<(), JpegError> {
    while let [class_id, rest @ ..] = body {
        let counts: [u8; 16] = rest
            .get(..16)
            .and_then(|c| c.try_into().ok())
            .ok_or_else(|| header("bad DHT segment length"))?;
        let n: usize = counts.iter().map(|&c| usize::from(c)).sum();
        if n > 256 {
            return Err(header("bad Huffman table"));
        }
        let symbols = rest
            .get(16..16 + n)
            .ok_or_else(|| header("bad DHT segment length"))?;
        let (class, id) = (class_id >> 4, usize::from(class_id & 15));
        if id > 3 || class > 1 {
            return Err(header(format!("bad Huffman table index {class_id:#04x}")));
        }
        // Lossless scans use DC-class tables only; AC tables are kept by libjpeg, never used.
        if class == 0 {
            tables[id] = Some(Spec {
                counts,
                symbols: symbols.to_vec(),
            });
        }
        body = &rest[16 + n..];
    }
    Ok(())
}

pub(super) fn read_scan(body: &[u8], frame: &Frame) -> Result<Scan, JpegError> {
    let [count, rest @ ..] = body else {
        return Err(header("bad scan header length"));
    };
    if *count != 1 {
        return Err(unsupported(format!("{count} components in a scan")));
    }
    let [component, tables, ss, se, a] = rest else {
        return Err(header("bad scan header length"));
    };
    if *component != frame.component {
        return Err(header("scan of an unknown component"));
    }
    let (ah, al) = (u32::from(a >> 4), u32::from(a & 15));
    if !(1..=7).contains(ss) || *se != 0 || ah != 0 || al >= frame.precision {
        return Err(header(format!(
            "bad lossless scan parameters Ss={ss} Se={se} Ah={ah} Al={al}"
        )));
    }
    let table = usize::from(tables >> 4);
    if table > 3 {
        return Err(header(format!("bad Huffman table index {table}")));
    }
    Ok(Scan {
        table,
        predictor: *ss,
        point_transform: al,
    })
}
