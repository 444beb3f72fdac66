//! A pass over the element headers before parsing: the parser allocates a value's claimed length
//! before reading it, so a corrupt length (a 173 MB claim in a 40 kB file) would cost that much
//! memory before the error. Every defined length is checked against the bytes that remain.
//!
//! Sequence items, of defined or undefined length, are walked element by element; only the
//! fragments of encapsulated pixel data are stepped over whole. Implicit-VR elements get the
//! dictionary's VR, as the parser gives them.
//!
//! Shared by `countersign-imaging` (files opened) and `countersign-pacs` (what an archive
//! sends, before dicom-rs parses it):
//!
//! ```
//! use countersign_prescan::{check_data_set, Layout};
//!
//! let implicit = Layout { explicit: false, big_endian: false };
//! // (0008,0018) SOP Instance UID, 2 bytes: "1\0".
//! let sound = [0x08, 0x00, 0x18, 0x00, 2, 0, 0, 0, b'1', 0];
//! assert!(check_data_set(&sound, 0, implicit).is_ok());
//! // The same element claiming 0xFFFFFFF0 bytes in an 8-byte data set: refused before any
//! // parser would allocate them.
//! let claiming = [0x08, 0x00, 0x18, 0x00, 0xF0, 0xFF, 0xFF, 0xFF];
//! assert!(check_data_set(&claiming, 0, implicit).is_err());
//! ```

/// The byte layout of a data set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub explicit: bool,
    pub big_endian: bool,
}

/// Every VR of PS3.5 6.2. The parser and this scan must agree on each header's size, so an
/// unknown VR (whose length field size is a guess) is refused.
const KNOWN_VRS: &[&[u8; 2]] = &[
    b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FL", b"FD", b"IS", b"LO", b"LT", b"OB",
    b"OD", b"OF", b"OL", b"OV", b"OW", b"PN", b"SH", b"SL", b"SQ", b"SS", b"ST", b"SV", b"TM",
    b"UC", b"UI", b"UL", b"UN", b"UR", b"US", b"UT", b"UV",
];

const LONG_VRS: &[&[u8; 2]] = &[
    b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV",
];

fn u16_at(b: &[u8], at: usize, big: bool) -> u16 {
    let v = [b[at], b[at + 1]];
    if big {
        u16::from_be_bytes(v)
    } else {
        u16::from_le_bytes(v)
    }
}

fn u32_at(b: &[u8], at: usize, big: bool) -> u32 {
    let v = [b[at], b[at + 1], b[at + 2], b[at + 3]];
    if big {
        u32::from_be_bytes(v)
    } else {
        u32::from_le_bytes(v)
    }
}

/// Checks the file meta group at `start` (just after the `DICM` magic) and the data set after it.
/// A deflated data set cannot be scanned where it lies: its offset is returned, for the caller
/// to inflate and scan with [`check_data_set`].
pub fn check(bytes: &[u8], start: usize) -> Result<Option<usize>, String> {
    check_finding_pixels(bytes, start).map(|scanned| scanned.deflated_at)
}

/// What [`check_finding_pixels`] found besides that the file is sound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scanned {
    /// Where a deflated data set starts (see [`check`]); nothing else is known of it.
    pub deflated_at: Option<usize>,
    /// The data set's own Pixel Data element, when there is exactly one at the top level and
    /// it is plain bytes (OB or OW, implicit VR included) of a defined length.
    pub pixel_data: Option<PixelDataAt>,
}

/// Where a Pixel Data element lies in the file: its value is `bytes[value..value + len]`,
/// its 4-byte length field just before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PixelDataAt {
    pub value: usize,
    pub len: usize,
}

/// As [`check`], and where the data set's own Pixel Data lies (see [`Scanned`]): what reading
/// the header alone needs (imaging's `open_header`), found by the same walk at no extra cost.
pub fn check_finding_pixels(bytes: &[u8], start: usize) -> Result<Scanned, String> {
    let (data_set_at, ts) = meta_group(bytes, start)?;
    match ts.as_deref() {
        Some(DEFLATED) => Ok(Scanned {
            deflated_at: Some(data_set_at),
            pixel_data: None,
        }),
        Some(uid) => {
            let layout = Layout {
                explicit: uid != "1.2.840.10008.1.2",
                big_endian: uid == "1.2.840.10008.1.2.2",
            };
            scan(bytes, data_set_at, layout).map(|pixel_data| Scanned {
                deflated_at: None,
                pixel_data,
            })
        }
        // The parser refuses a meta group without a transfer syntax.
        None => Err("the file meta information has no transfer syntax".into()),
    }
}

/// Walks the meta group as the parser reads it: (0002,0000) first, then explicit little-endian
/// elements — of any group — until the group length is used up. Returns where the data set
/// starts and the transfer syntax UID. (Leaving the meta group at the first element of another
/// group, as an earlier version did, disagreed with the parser about where the data set
/// starts, and the parser then read unchecked lengths.)
fn meta_group(bytes: &[u8], start: usize) -> Result<(usize, Option<String>), String> {
    let header = bytes
        .get(start..start + 12)
        .ok_or("the file meta information is cut short")?;
    if header[..8] != [0x02, 0x00, 0x00, 0x00, b'U', b'L', 0x04, 0x00] {
        return Err("the file meta information does not start with its group length".into());
    }
    let group_length = u32_at(header, 8, false) as usize;
    let first = start + 12;
    let end = first
        .checked_add(group_length)
        .filter(|&end| end <= bytes.len())
        .ok_or_else(|| {
            format!("the file meta information claims {group_length} bytes beyond the file")
        })?;
    let mut pos = first;
    let mut ts = None;
    while pos < end {
        let head = bytes
            .get(pos..pos + 8)
            .ok_or("a meta element header is cut short")?;
        let (group, element) = (u16_at(head, 0, false), u16_at(head, 2, false));
        let vr = [head[4], head[5]];
        let (len, header) = if LONG_VRS.contains(&&vr) {
            let long = bytes
                .get(pos..pos + 12)
                .ok_or("a meta element header is cut short")?;
            (u32_at(long, 8, false), 12)
        } else if KNOWN_VRS.contains(&&vr) {
            (u32::from(u16_at(head, 6, false)), 8)
        } else {
            return Err(format!(
                "meta element ({group:04X},{element:04X}) has an unknown VR {:?}",
                String::from_utf8_lossy(&vr)
            ));
        };
        if len == u32::MAX {
            return Err(format!(
                "meta element ({group:04X},{element:04X}) has an undefined length"
            ));
        }
        let value = bytes
            .get(pos + header..pos + header + len as usize)
            .ok_or_else(|| {
                format!(
                    "meta element ({group:04X},{element:04X}) claims {len} bytes beyond the file"
                )
            })?;
        if (group, element) == (0x0002, 0x0010) {
            ts = Some(
                String::from_utf8_lossy(value)
                    .trim_end_matches(['\0', ' '])
                    .to_string(),
            );
        }
        pos += header + len as usize;
    }
    Ok((pos, ts))
}

/// Checks a data set (a bare data set, or what follows the meta group): group 0002 elements
/// there are read in `layout`, as the parser reads them.
pub fn check_data_set(bytes: &[u8], start: usize, layout: Layout) -> Result<(), String> {
    scan(bytes, start, layout).map(|_| ())
}

pub const DEFLATED: &str = "1.2.840.10008.1.2.1.99";

/// The deepest nesting of sequences a file may have. The parser recurses once per level, and a
/// thread's stack overflow aborts the whole process (it cannot be caught): 100 000 levels of 16
/// bytes each (1.6 MB) killed the app. Real files nest a few levels (an SR content tree, a dozen
/// or so).
pub const MAX_SEQUENCE_DEPTH: usize = 32;

/// Walks the data set; returns the top-level Pixel Data as [`Scanned::pixel_data`] says.
fn scan(bytes: &[u8], start: usize, layout: Layout) -> Result<Option<PixelDataAt>, String> {
    let mut pos = start;
    // Top-level Pixel Data elements seen, and where the last one of plain bytes lies.
    let (mut pixel_elements, mut pixel_at) = (0usize, None);
    let (explicit, big) = (layout.explicit, layout.big_endian);
    // Inside encapsulated pixel data, items are fragments of compressed bytes, stepped over
    // whole; everywhere else items hold elements, and those are checked one by one (the parser
    // allocates each element's claimed length, item or no item).
    let mut in_fragments = false;
    // The sequences being walked: their end for a defined length, `None` for an undefined one.
    // An item anywhere else is refused: the parser resynchronises on it in ways this scan would
    // have to guess (fuzzer: an item at the top level, then a 1.2 GB value).
    let mut sequences: Vec<Option<usize>> = Vec::new();
    while pos + 8 <= bytes.len() {
        while matches!(sequences.last(), Some(Some(end)) if pos >= *end) {
            sequences.pop();
        }
        let group = u16_at(bytes, pos, big);
        let element = u16_at(bytes, pos + 2, big);
        let here = pos;
        let remaining = |header: usize| bytes.len().saturating_sub(here + header);
        if group == 0xFFFE {
            let len = u32_at(bytes, pos + 4, big);
            match element {
                0xE000 => {}
                0xE00D | 0xE0DD if len == 0 => {}
                _ => {
                    return Err(format!(
                        "invalid item or delimiter (FFFE,{element:04X}) with length {len}"
                    ))
                }
            }
            if element == 0xE000 && !in_fragments && sequences.is_empty() {
                return Err(format!("an item outside any sequence at byte {pos}"));
            }
            if element == 0xE0DD && !in_fragments && sequences.pop() != Some(None) {
                return Err(format!(
                    "a sequence delimiter outside any sequence at byte {pos}"
                ));
            }
            pos += 8;
            if element == 0xE000 && len != u32::MAX {
                if len as usize > remaining(0) {
                    return Err(format!(
                        "an item claims {len} bytes but {} remain",
                        remaining(0)
                    ));
                }
                if in_fragments {
                    pos += len as usize;
                }
            }
            if element == 0xE0DD && in_fragments {
                in_fragments = false;
            }
            continue;
        }
        let (len, header, vr) = if explicit {
            let vr = [bytes[pos + 4], bytes[pos + 5]];
            if !KNOWN_VRS.contains(&&vr) {
                return Err(format!(
                    "element ({group:04X},{element:04X}) has an unknown VR {:?}",
                    String::from_utf8_lossy(&vr)
                ));
            }
            if LONG_VRS.contains(&&vr) {
                if pos + 12 > bytes.len() {
                    return Err("element header cut short".into());
                }
                (u32_at(bytes, pos + 8, big), 12, vr)
            } else {
                (u32::from(u16_at(bytes, pos + 6, big)), 8, vr)
            }
        } else {
            (u32_at(bytes, pos + 4, big), 8, implicit_vr(group, element))
        };
        let pixel_data = group == 0x7FE0 && element == 0x0010;
        if pixel_data && sequences.is_empty() && !in_fragments {
            pixel_elements += 1;
            if len != u32::MAX && matches!(&vr, b"OB" | b"OW") {
                pixel_at = Some(PixelDataAt {
                    value: pos + header,
                    len: len as usize,
                });
            }
        }
        if len == u32::MAX {
            // Undefined length is only for sequences and encapsulated pixel data; elsewhere the
            // parser would try to read a 4 GiB value.
            if explicit && !(matches!(&vr, b"SQ" | b"UN") || pixel_data) {
                return Err(format!(
                    "element ({group:04X},{element:04X}) of VR {} has an undefined length",
                    String::from_utf8_lossy(&vr)
                ));
            }
            // Pixel data that says SQ is parsed as a sequence of data sets, not as fragments
            // (fuzzer: elements inside such "fragments" claimed 1.8 GB).
            let fragments = pixel_data && &vr != b"SQ";
            in_fragments = fragments;
            if !fragments {
                enter(&mut sequences, None, here)?;
            }
            pos += header;
            continue;
        }
        if len as usize > remaining(header) {
            return Err(format!(
                "element ({group:04X},{element:04X}) claims {len} bytes but {} remain",
                remaining(header)
            ));
        }
        // Binary values must be whole numbers of their size: the parser reads whole values and
        // would resume mid-value, taking data bytes for the next header.
        let size = match &vr {
            b"US" | b"SS" | b"OW" => 2,
            b"UL" | b"SL" | b"FL" | b"AT" | b"OL" | b"OF" => 4,
            b"FD" | b"SV" | b"UV" | b"OD" | b"OV" => 8,
            // Group lengths are UL even where VRs are implicit.
            _ if element == 0x0000 => 4,
            _ => 1,
        };
        if len % size != 0 {
            return Err(format!(
                "element ({group:04X},{element:04X}) has length {len}, not a multiple of {size}"
            ));
        }
        // A sequence's items are walked element by element, whatever its length.
        if &vr == b"SQ" {
            enter(&mut sequences, Some(pos + header + len as usize), here)?;
        }
        pos += header + if &vr == b"SQ" { 0 } else { len as usize };
    }
    Ok(pixel_at.filter(|_| pixel_elements == 1))
}

/// Opens a sequence (ending at `end`, or undefined) at byte `at`, within the depth limit.
fn enter(sequences: &mut Vec<Option<usize>>, end: Option<usize>, at: usize) -> Result<(), String> {
    if sequences.len() >= MAX_SEQUENCE_DEPTH {
        return Err(format!(
            "sequences nest deeper than {MAX_SEQUENCE_DEPTH} levels at byte {at}"
        ));
    }
    sequences.push(end);
    Ok(())
}

/// The VR the parser gives an element of an implicit-VR data set: the dictionary's, as the
/// parser looks it up (so that sequences are walked and binary values checked as it reads them).
fn implicit_vr(group: u16, element: u16) -> [u8; 2] {
    use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry, VirtualVr};
    if element == 0x0000 {
        return *b"UL";
    }
    match dicom_dictionary_std::StandardDataDictionary
        .by_tag(dicom_core::Tag(group, element))
        .map(|entry| entry.vr())
    {
        Some(VirtualVr::Exact(vr)) => vr.to_bytes(),
        // Implicit VR makes these words (PS3.5 A.1): checked as whole 16-bit values, as the
        // parser reads them (an overlay of odd length made the parser resume one byte early and
        // read a 4 GB length from the next bytes).
        Some(VirtualVr::Xs | VirtualVr::Lt) => *b"US",
        Some(VirtualVr::Ox | VirtualVr::Px) => *b"OW",
        _ => *b"UN",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_length_beyond_the_end_is_refused() {
        // (0010,0010) PN with length 0x4000 in a 12-byte buffer.
        let bytes = [
            0x10, 0x00, 0x10, 0x00, b'P', b'N', 0x00, 0x40, b'A', b'B', b'C', b'D',
        ];
        let layout = Layout {
            explicit: true,
            big_endian: false,
        };
        assert!(check_data_set(&bytes, 0, layout)
            .unwrap_err()
            .contains("(0010,0010) claims 16384"));
        let ok = [
            0x10, 0x00, 0x10, 0x00, b'P', b'N', 0x04, 0x00, b'A', b'B', b'C', b'D',
        ];
        assert_eq!(check_data_set(&ok, 0, layout), Ok(()));
    }

    /// The meta group ends where its group length says, even when elements of another group sit
    /// inside it: the data set is scanned from where the parser will read it.
    #[test]
    fn the_data_set_starts_where_the_meta_group_length_ends() {
        let mut meta = Vec::new();
        meta.extend_from_slice(&[0x02, 0x00, 0x10, 0x00, b'U', b'I', 18, 0]);
        meta.extend_from_slice(b"1.2.840.10008.1.2\0");
        // A stray (0300,0000) UL inside the meta group length.
        meta.extend_from_slice(&[0x00, 0x03, 0x00, 0x00, b'U', b'L', 4, 0, 0, 0, 0, 0]);
        let mut bytes = vec![0x02, 0x00, 0x00, 0x00, b'U', b'L', 4, 0];
        bytes.extend_from_slice(&(meta.len() as u32).to_le_bytes());
        bytes.extend(meta);
        let data_set_at = bytes.len();
        // Implicit VR: (0010,0010) claiming 0x40000000 bytes.
        bytes.extend_from_slice(&[0x10, 0x00, 0x10, 0x00, 0, 0, 0, 0x40]);
        assert_eq!(meta_group(&bytes, 0).unwrap().0, data_set_at);
        assert!(check(&bytes, 0)
            .unwrap_err()
            .contains("(0010,0010) claims 1073741824"));
    }

    /// Items of defined length were stepped over whole, so an element inside one could claim
    /// 3.7 GB and the parser allocated it (found by the fuzzer).
    #[test]
    fn elements_inside_defined_length_items_are_checked() {
        let layout = Layout {
            explicit: false,
            big_endian: false,
        };
        // (0008,1115) Referenced Series Sequence (SQ in the dictionary), defined length 24:
        // one item of 16 bytes holding (0008,1155) claiming 0xE0000000 bytes.
        let mut bytes = vec![0x08, 0x00, 0x15, 0x11, 24, 0, 0, 0];
        bytes.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 16, 0, 0, 0]);
        bytes.extend_from_slice(&[0x08, 0x00, 0x55, 0x11, 0, 0, 0, 0xE0]);
        bytes.extend_from_slice(&[0; 8]);
        let err = check_data_set(&bytes, 0, layout).unwrap_err();
        assert!(err.contains("(0008,1155) claims 3758096384"), "{err}");
    }

    /// The parser resynchronises on an item outside any sequence in ways this scan cannot
    /// follow; the fuzzer turned that into a 1.2 GB value. Such items are refused.
    #[test]
    fn items_and_delimiters_outside_sequences_are_refused() {
        let layout = Layout {
            explicit: false,
            big_endian: false,
        };
        let item = [0xFE, 0xFF, 0x00, 0xE0, 4, 0, 0, 0, 1, 2, 3, 4];
        assert!(check_data_set(&item, 0, layout)
            .unwrap_err()
            .contains("outside any sequence"));
        let delimiter = [0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0];
        assert!(check_data_set(&delimiter, 0, layout)
            .unwrap_err()
            .contains("outside any sequence"));
        // Inside an undefined-length sequence, both are fine.
        let mut sequence = vec![0x08, 0x00, 0x15, 0x11, 0xFF, 0xFF, 0xFF, 0xFF];
        sequence.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 0, 0, 0, 0]);
        sequence.extend_from_slice(&delimiter);
        assert_eq!(check_data_set(&sequence, 0, layout), Ok(()));
    }

    /// Found by the fuzzer: 16 bytes that cost 4 GB. Overlay data in implicit VR is OW; with an
    /// odd length the parser resumed one byte early and read a 4 GB length from the next bytes.
    #[test]
    fn implicit_overlay_data_of_odd_length_is_refused() {
        let layout = Layout {
            explicit: false,
            big_endian: false,
        };
        let bytes = [
            0x72, 0x60, 0x00, 0x30, 1, 0, 0, 0, 0x02, 0x00, 0x60, 0x00, 0x30, 0x01, 0x00, 0xFA,
        ];
        let err = check_data_set(&bytes, 0, layout).unwrap_err();
        assert!(err.contains("not a multiple of 2"), "{err}");
    }

    /// Sequences nested `levels` deep, each of undefined length holding one undefined-length
    /// item: 16 bytes a level, closed by their delimiters.
    fn nested(levels: usize) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(levels * 32);
        for _ in 0..levels {
            bytes.extend_from_slice(&[0x08, 0x00, 0x15, 0x11, 0xFF, 0xFF, 0xFF, 0xFF]);
            bytes.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF]);
        }
        for _ in 0..levels {
            bytes.extend_from_slice(&[0xFE, 0xFF, 0x0D, 0xE0, 0, 0, 0, 0]);
            bytes.extend_from_slice(&[0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
        }
        bytes
    }

    /// Regression: 100 000 nested sequences (1.6 MB) overflowed the parser's stack and aborted
    /// the process, the desktop app with it. Refused here, before the parser recurses.
    #[test]
    fn sequences_nested_past_the_limit_are_refused_before_parsing() {
        let layout = Layout {
            explicit: false,
            big_endian: false,
        };
        let err = check_data_set(&nested(100_000), 0, layout).unwrap_err();
        assert!(err.contains("deeper than 32 levels"), "{err}");
        assert!(check_data_set(&nested(MAX_SEQUENCE_DEPTH + 1), 0, layout).is_err());
        assert_eq!(
            check_data_set(&nested(MAX_SEQUENCE_DEPTH), 0, layout),
            Ok(())
        );
    }

    /// Found by the fuzzer: pixel data with VR SQ is parsed as a sequence, so its items must be
    /// walked as data sets, not stepped over as compressed fragments.
    #[test]
    fn pixel_data_that_says_sq_is_walked_as_a_sequence() {
        let layout = Layout {
            explicit: true,
            big_endian: false,
        };
        let mut bytes = vec![
            0xE0, 0x7F, 0x10, 0x00, b'S', b'Q', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,
        ];
        // One item of 16 bytes holding (0008,0020) DA claiming 0x7000 bytes.
        bytes.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 16, 0, 0, 0]);
        bytes.extend_from_slice(&[0x08, 0x00, 0x20, 0x00, b'D', b'A', 0x00, 0x70]);
        bytes.extend_from_slice(&[0; 8]);
        bytes.extend_from_slice(&[0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
        let err = check_data_set(&bytes, 0, layout).unwrap_err();
        assert!(err.contains("(0008,0020) claims 28672"), "{err}");
    }
}
