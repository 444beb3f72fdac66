//! Huffman decoding for the lossless decoder: the tables (Annex C, F.2.2.3) and the bit
//! reader across stuffed bytes and markers.

use super::{data, header};
use crate::JpegError;

/// Bits looked up at once when decoding a Huffman code; longer codes take the slow path. As in
/// libjpeg-turbo (`HUFF_LOOKAHEAD`), because when the bit buffer is topped up decides which
/// bytes count as extraneous (see [`Bits::end_of_data`]).
pub(super) const LOOKAHEAD: u32 = 8;

/// Bits looked up at once for a whole sample difference (code and extra bits).
pub(super) const WHOLE: u32 = 12;

/// HUFF_EXTEND: `s` extra bits `r`, a leading 0 bit meaning a negative difference.
#[inline]
pub(super) fn extend(r: i32, s: u32) -> i32 {
    if r < 1 << (s - 1) {
        r - (1 << s) + 1
    } else {
        r
    }
}

/// A Huffman table as its marker segment gives it (Annex C): code counts by length, symbols.
#[derive(Clone)]
pub(super) struct Spec {
    pub(super) counts: [u8; 16],
    pub(super) symbols: Vec<u8>,
}

/// A Huffman table ready for decoding (libjpeg's `d_derived_tbl`, F.2.2.3).
pub(super) struct Table {
    /// Indexed by the next [`LOOKAHEAD`] bits: `length << 8 | symbol`, 0 for a longer code.
    pub(super) fast: Vec<u16>,
    /// Indexed by the next [`WHOLE`] bits: a code and its extra bits together, as
    /// `difference << 8 | bits used`, 0 where they take more bits.
    pub(super) whole: Vec<i32>,
    /// Largest code of each length (index 1–16), -1 where there is none; `maxcode[17]` ends
    /// the search.
    pub(super) maxcode: [i32; 18],
    /// Subtracted from a code of each length to index `symbols`.
    pub(super) offset: [i32; 17],
    pub(super) symbols: Vec<u8>,
}

impl Table {
    /// Builds a table as libjpeg-turbo's `jpeg_make_d_derived_tbl` does, refusing what it
    /// refuses: more than 256 codes, codes that do not fit their length, DC symbols above 16.
    pub(super) fn new(spec: &Spec) -> Result<Table, JpegError> {
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

/// Reads entropy-coded bits, most significant first, across stuffed zero bytes. At a marker it
/// feeds zero bits and counts them, so that a decode that needed them is caught as a premature
/// end of data (libjpeg-turbo's "Corrupt JPEG data: premature end of data segment").
pub(super) struct Bits<'a> {
    pub(super) data: &'a [u8],
    pub(super) pos: usize,
    /// Valid bits at the top of `acc`.
    pub(super) acc: u64,
    pub(super) count: u32,
    /// How many of the `count` bits (the last ones) are zeros fed after a marker.
    pub(super) fake: u32,
    pub(super) at_marker: bool,
}

impl<'a> Bits<'a> {
    pub(super) fn new(data: &'a [u8], pos: usize) -> Self {
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
    pub(super) fn fill(&mut self) {
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
    pub(super) fn peek(&self, n: u32) -> u32 {
        (self.acc >> (64 - n)) as u32
    }

    #[inline]
    pub(super) fn consume(&mut self, n: u32) {
        self.acc <<= n;
        self.count -= n;
    }

    /// Whether zero bits fed after a marker were used: the data ended too soon.
    pub(super) fn overran(&self) -> bool {
        self.count < self.fake
    }

    /// Tops the buffer up when it holds fewer than `n` bits — at the moments libjpeg-turbo's
    /// `HUFF_DECODE` and `CHECK_BIT_BUFFER` do, so that both have read the same bytes when the
    /// scan ends.
    #[inline]
    pub(super) fn need(&mut self, n: u32) {
        if self.count < n {
            self.fill();
        }
    }

    /// One Huffman-coded symbol (F.2.2.3), at most 16 bits.
    #[inline]
    pub(super) fn symbol(&mut self, table: &Table) -> Result<u32, JpegError> {
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
    pub(super) fn difference(&mut self, table: &Table) -> Result<i32, JpegError> {
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
    pub(super) fn restart(&mut self, n: u8) -> Result<(), JpegError> {
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
    pub(super) fn end_of_data(&mut self) -> Result<(), JpegError> {
        if self.overran() {
            return Err(data("premature end of data segment"));
        }
        if !self.at_marker && self.data.get(self.pos) != Some(&0xFF) {
            return Err(data("extraneous bytes before marker"));
        }
        Ok(())
    }

    /// The marker at `pos` (after fill bytes), consumed.
    pub(super) fn marker(&mut self) -> Result<u8, JpegError> {
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
