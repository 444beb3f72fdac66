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

const SOF3_LOSSLESS: u8 = 0xC3;
const DHT: u8 = 0xC4;
const SOI: u8 = 0xD8;
const EOI: u8 = 0xD9;
const SOS: u8 = 0xDA;
const DRI: u8 = 0xDD;

/// Bits looked up at once when decoding a Huffman code; longer codes take the slow path. As in
/// libjpeg-turbo (`HUFF_LOOKAHEAD`), because when the bit buffer is topped up decides which
/// bytes count as extraneous (see [`Bits::end_of_data`]).
const LOOKAHEAD: u32 = 8;

/// Bits looked up at once for a whole sample difference (code and extra bits).
const WHOLE: u32 = 12;

/// HUFF_EXTEND: `s` extra bits `r`, a leading 0 bit meaning a negative difference.
#[inline]
fn extend(r: i32, s: u32) -> i32 {
    if r < 1 << (s - 1) {
        r - (1 << s) + 1
    } else {
        r
    }
}

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

/// A Huffman table as its marker segment gives it (Annex C): code counts by length, symbols.
#[derive(Clone)]
struct Spec {
    counts: [u8; 16],
    symbols: Vec<u8>,
}

/// A Huffman table ready for decoding (libjpeg's `d_derived_tbl`, F.2.2.3).
struct Table {
    /// Indexed by the next [`LOOKAHEAD`] bits: `length << 8 | symbol`, 0 for a longer code.
    fast: Vec<u16>,
    /// Indexed by the next [`WHOLE`] bits: a code and its extra bits together, as
    /// `difference << 8 | bits used`, 0 where they take more bits.
    whole: Vec<i32>,
    /// Largest code of each length (index 1–16), -1 where there is none; `maxcode[17]` ends
    /// the search.
    maxcode: [i32; 18],
    /// Subtracted from a code of each length to index `symbols`.
    offset: [i32; 17],
    symbols: Vec<u8>,
}

impl Table {
    /// Builds a table as libjpeg-turbo's `jpeg_make_d_derived_tbl` does, refusing what it
    /// refuses: more than 256 codes, codes that do not fit their length, DC symbols above 16.
    fn new(spec: &Spec) -> Result<Table, JpegError> {
        let mut sizes = Vec::with_capacity(256);
        for (l, &count) in spec.counts.iter().enumerate() {
            for _ in 0..count {
                sizes.push(l as u32 + 1);
            }
        }
        if sizes.len() > 256 || sizes.len() > spec.symbols.len() {
            return Err(header("bad Huffman table"));
        }
        let mut codes = Vec::with_capacity(sizes.len());
        let mut code: u32 = 0;
        let mut p = 0;
        if let Some(&first) = sizes.first() {
            let mut si = first;
            while p < sizes.len() {
                while p < sizes.len() && sizes[p] == si {
                    codes.push(code);
                    code += 1;
                    p += 1;
                }
                // No code may be all ones: the last code of a length must still fit it.
                if code >= 1 << si {
                    return Err(header("bad Huffman table"));
                }
                code <<= 1;
                si += 1;
            }
        }
        let mut maxcode = [-1i32; 18];
        let mut offset = [0i32; 17];
        let mut p = 0usize;
        for l in 1..=16u32 {
            let count = usize::from(spec.counts[l as usize - 1]);
            if count > 0 {
                offset[l as usize] = p as i32 - codes[p] as i32;
                p += count;
                maxcode[l as usize] = codes[p - 1] as i32;
            }
        }
        // Ensures the slow path ends.
        maxcode[17] = i32::MAX;
        let symbols = spec.symbols[..sizes.len()].to_vec();
        if symbols.iter().any(|&s| s > 16) {
            return Err(header("bad Huffman table"));
        }
        let mut fast = vec![0u16; 1 << LOOKAHEAD];
        for ((&size, &code), &symbol) in sizes.iter().zip(&codes).zip(&symbols) {
            if size <= LOOKAHEAD {
                let shift = LOOKAHEAD - size;
                let first = (code << shift) as usize;
                for entry in &mut fast[first..first + (1 << shift)] {
                    *entry = (size as u16) << 8 | u16::from(symbol);
                }
            }
        }
        let mut whole = vec![0i32; 1 << WHOLE];
        for ((&size, &code), &symbol) in sizes.iter().zip(&codes).zip(&symbols) {
            let extra = if symbol == 16 { 0 } else { u32::from(symbol) };
            let used = size + extra;
            if used > WHOLE {
                continue;
            }
            for r in 0..1u32 << extra {
                let difference = match symbol {
                    0 => 0,
                    16 => 32768,
                    s => extend(r as i32, u32::from(s)),
                };
                let shift = WHOLE - used;
                let first = (((code << extra) | r) << shift) as usize;
                for entry in &mut whole[first..first + (1 << shift)] {
                    *entry = difference << 8 | used as i32;
                }
            }
        }
        Ok(Table {
            fast,
            whole,
            maxcode,
            offset,
            symbols,
        })
    }
}

/// What the marker segments before the scan say.
struct Frame {
    precision: u32,
    rows: u32,
    columns: u32,
    component: u8,
}

struct Scan {
    table: usize,
    predictor: u8,
    point_transform: u32,
}

/// Reads entropy-coded bits, most significant first, across stuffed zero bytes. At a marker it
/// feeds zero bits and counts them, so that a decode that needed them is caught as a premature
/// end of data (libjpeg-turbo's "Corrupt JPEG data: premature end of data segment").
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
    /// Valid bits at the top of `acc`.
    acc: u64,
    count: u32,
    /// How many of the `count` bits (the last ones) are zeros fed after a marker.
    fake: u32,
    at_marker: bool,
}

impl<'a> Bits<'a> {
    fn new(data: &'a [u8], pos: usize) -> Self {
        Bits {
            data,
            pos,
            acc: 0,
            count: 0,
            fake: 0,
            at_marker: false,
        }
    }

    /// Tops the buffer up to at least 57 bits, a byte at a time as libjpeg-turbo's
    /// `jpeg_fill_bit_buffer` does (so both have read the same bytes at any point).
    #[inline]
    fn fill(&mut self) {
        // Most of the time the next eight bytes hold no 0xFF (no stuffing, no marker): the
        // bytes the loop below would take, taken at once.
        if !self.at_marker && self.count <= 56 {
            if let Some(next) = self.data.get(self.pos..self.pos + 8) {
                let word = u64::from_be_bytes(next.try_into().expect("8 bytes"));
                let inverted = !word;
                let has_ff = inverted.wrapping_sub(0x0101_0101_0101_0101)
                    & !inverted
                    & 0x8080_8080_8080_8080;
                if has_ff == 0 {
                    let n = (64 - self.count) / 8;
                    self.acc |= (word >> (64 - 8 * n)) << (64 - self.count - 8 * n);
                    self.count += 8 * n;
                    self.pos += n as usize;
                    return;
                }
            }
        }
        while self.count <= 56 {
            let mut byte = 0u8;
            if self.at_marker {
                self.fake += 8;
            } else {
                match self.data.get(self.pos) {
                    Some(&0xFF) => {
                        // As libjpeg-turbo reads: fill bytes, then 0x00 for a stuffed 0xFF.
                        let mut next = self.pos + 1;
                        while self.data.get(next) == Some(&0xFF) {
                            next += 1;
                        }
                        if self.data.get(next) == Some(&0x00) {
                            byte = 0xFF;
                            self.pos = next + 1;
                        } else {
                            // A marker (or the end): `pos` stays on its 0xFF.
                            self.at_marker = true;
                            self.fake += 8;
                        }
                    }
                    Some(&b) => {
                        byte = b;
                        self.pos += 1;
                    }
                    None => {
                        self.at_marker = true;
                        self.fake += 8;
                    }
                }
            }
            self.acc |= u64::from(byte) << (56 - self.count);
            self.count += 8;
        }
    }

    #[inline]
    fn peek(&self, n: u32) -> u32 {
        (self.acc >> (64 - n)) as u32
    }

    #[inline]
    fn consume(&mut self, n: u32) {
        self.acc <<= n;
        self.count -= n;
    }

    /// Whether zero bits fed after a marker were used: the data ended too soon.
    fn overran(&self) -> bool {
        self.count < self.fake
    }

    /// Tops the buffer up when it holds fewer than `n` bits — at the moments libjpeg-turbo's
    /// `HUFF_DECODE` and `CHECK_BIT_BUFFER` do, so that both have read the same bytes when the
    /// scan ends.
    #[inline]
    fn need(&mut self, n: u32) {
        if self.count < n {
            self.fill();
        }
    }

    /// One Huffman-coded symbol (F.2.2.3), at most 16 bits.
    #[inline]
    fn symbol(&mut self, table: &Table) -> Result<u32, JpegError> {
        self.need(LOOKAHEAD);
        let entry = table.fast[self.peek(LOOKAHEAD) as usize];
        if entry != 0 {
            self.consume(u32::from(entry >> 8));
            return Ok(u32::from(entry & 0xFF));
        }
        let mut l = LOOKAHEAD + 1;
        self.need(l);
        let mut code = self.peek(l) as i32;
        while code > table.maxcode[l as usize] {
            l += 1;
            if l > 16 {
                return Err(data("Huffman code not in its table"));
            }
            self.need(l);
            code = self.peek(l) as i32;
        }
        self.consume(l);
        let index = (table.offset[l as usize] + code) as usize;
        table
            .symbols
            .get(index)
            .map(|&s| u32::from(s))
            .ok_or_else(|| data("Huffman code not in its table"))
    }

    /// One sample difference (H.1.2.2): a magnitude category, then that many bits.
    #[inline]
    fn difference(&mut self, table: &Table) -> Result<i32, JpegError> {
        // The whole difference at once when the buffer already holds its bits: then reading it
        // in two steps would not have topped the buffer up in between either.
        self.need(LOOKAHEAD);
        let entry = table.whole[self.peek(WHOLE) as usize];
        let used = (entry & 0xFF) as u32;
        if used != 0 && used <= self.count {
            self.consume(used);
            return Ok(entry >> 8);
        }
        let s = self.symbol(table)?;
        Ok(match s {
            0 => 0,
            16 => 32768,
            _ => {
                self.need(s);
                let r = self.peek(s) as i32;
                self.consume(s);
                extend(r, s)
            }
        })
    }

    /// Discards what is left in the buffer and expects RSTn (after optional fill bytes), as
    /// libjpeg-turbo's `process_restart` does: a whole byte left, or any byte not yet read before
    /// the marker, is extraneous data.
    fn restart(&mut self, n: u8) -> Result<(), JpegError> {
        self.end_of_data()?;
        if self.count - self.fake >= 8 {
            return Err(data("extraneous bytes before marker"));
        }
        let marker = self.marker()?;
        if marker != 0xD0 + n {
            return Err(data(format!(
                "found marker 0x{marker:02X} where RST{n} was expected"
            )));
        }
        self.acc = 0;
        self.count = 0;
        self.fake = 0;
        self.at_marker = false;
        Ok(())
    }

    /// Checks that the coded data ended where decoding did: nothing was needed past it, and no
    /// byte is left unread before the next marker. (Bytes already in the buffer at the end of
    /// the scan are not counted: libjpeg-turbo's lossless decoder drops them silently.)
    fn end_of_data(&mut self) -> Result<(), JpegError> {
        if self.overran() {
            return Err(data("premature end of data segment"));
        }
        if !self.at_marker && self.data.get(self.pos) != Some(&0xFF) {
            return Err(data("extraneous bytes before marker"));
        }
        Ok(())
    }

    /// The marker at `pos` (after fill bytes), consumed.
    fn marker(&mut self) -> Result<u8, JpegError> {
        if self.data.get(self.pos) != Some(&0xFF) {
            return Err(data("expected a marker"));
        }
        while self.data.get(self.pos + 1) == Some(&0xFF) {
            self.pos += 1;
        }
        let marker = *self
            .data
            .get(self.pos + 1)
            .ok_or_else(|| data("premature end of JPEG file"))?;
        self.pos += 2;
        Ok(marker)
    }
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

/// After the scan: tables and comments may come before EOI, as libjpeg-turbo reads them;
/// another scan is for libjpeg-turbo (which refuses it for a single-component image too).
fn finish(stream: &[u8], bits: Bits) -> Result<(), JpegError> {
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
fn segment(stream: &[u8], mut at: usize) -> Result<(u8, Option<&[u8]>, usize), JpegError> {
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
fn other_segment(marker: u8, body: Option<&[u8]>) -> Result<(), JpegError> {
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

fn read_restart_interval(body: &[u8]) -> Result<u32, JpegError> {
    let [hi, lo] = body else {
        return Err(header("bad DRI segment length"));
    };
    Ok(u32::from(u16::from_be_bytes([*hi, *lo])))
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

type Headers = (Frame, Scan, [Option<Spec>; 4], u32, usize);

/// Walks the marker segments from SOI to the first SOS: the frame, the scan, the Huffman
/// tables, the restart interval and where the coded data starts.
fn read_headers(stream: &[u8]) -> Result<Headers, JpegError> {
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

fn read_frame(body: &[u8]) -> Result<Frame, JpegError> {
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

fn read_tables(mut body: &[u8], tables: &mut [Option<Spec>; 4]) -> Result<(), JpegError> {
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

fn read_scan(body: &[u8], frame: &Frame) -> Result<Scan, JpegError> {
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

#[cfg(test)]
mod tests;
