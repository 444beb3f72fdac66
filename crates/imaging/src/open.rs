//! Opening DICOM files: Part 10 with or without the 128-byte preamble, and bare data sets
//! without a file meta header (their transfer syntax is inferred from the first element).

use std::io::Read;
use std::path::Path;

use dicom_dictionary_std::tags;
use dicom_object::file::ReadPreamble;
use dicom_object::{
    DefaultDicomObject, FileMetaTable, FileMetaTableBuilder, InMemDicomObject, OpenFileOptions,
};
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;
use flate2::read::DeflateDecoder;

use crate::error::{ImagingError, Result};

/// Files larger than this are refused before they are read.
pub const MAX_FILE_BYTES: u64 = 2 << 30;

const IMPLICIT_LE: &str = "1.2.840.10008.1.2";
const EXPLICIT_LE: &str = "1.2.840.10008.1.2.1";
const EXPLICIT_BE: &str = "1.2.840.10008.1.2.2";

/// Reads a file, refusing one larger than [`MAX_FILE_BYTES`] before reading it.
pub fn read_file(path: &Path) -> Result<Vec<u8>> {
    let io = |source| ImagingError::Io {
        path: path.display().to_string(),
        source,
    };
    let size = std::fs::metadata(path).map_err(io)?.len();
    if size > MAX_FILE_BYTES {
        return Err(ImagingError::TooLarge {
            size,
            limit: MAX_FILE_BYTES,
        });
    }
    std::fs::read(path).map_err(io)
}

/// Checks every element length against the bytes present before the parser allocates. For a
/// deflated data set, returns where it starts: it is checked once inflated.
fn prescan(bytes: &[u8]) -> Result<Option<usize>> {
    let outcome = if has_magic_after_preamble(bytes) {
        crate::prescan::check(bytes, 132)
    } else if bytes.get(..4) == Some(b"DICM".as_slice()) {
        crate::prescan::check(bytes, 4)
    } else {
        match bare_layout(bytes) {
            Some((explicit, big_endian)) => crate::prescan::check_data_set(
                bytes,
                0,
                crate::prescan::Layout {
                    explicit,
                    big_endian,
                },
            )
            .map(|_| None),
            None => Ok(None),
        }
    };
    outcome.map_err(|reason| ImagingError::NotDicom { reason })
}

/// A Part 10 file whose data set is deflated (PS3.5 A.5): inflated here, within
/// [`MAX_FILE_BYTES`], so that the inflated elements are checked like any other before the
/// parser sees them (the parser would otherwise allocate whatever an inflated length claims).
fn open_deflated(bytes: &[u8], data_set_at: usize) -> Result<DefaultDicomObject> {
    let not_dicom = |reason: String| ImagingError::NotDicom { reason };
    let magic_at = if has_magic_after_preamble(bytes) {
        128
    } else {
        0
    };
    let meta = FileMetaTable::from_reader(&bytes[magic_at..data_set_at])
        .map_err(|e| not_dicom(e.to_string()))?;
    let mut inflated = Vec::new();
    DeflateDecoder::new(&bytes[data_set_at..])
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut inflated)
        .map_err(|e| not_dicom(format!("deflated data set: {e}")))?;
    if inflated.len() as u64 > MAX_FILE_BYTES {
        return Err(ImagingError::TooLarge {
            size: inflated.len() as u64,
            limit: MAX_FILE_BYTES,
        });
    }
    let explicit_le = crate::prescan::Layout {
        explicit: true,
        big_endian: false,
    };
    crate::prescan::check_data_set(&inflated, 0, explicit_le).map_err(not_dicom)?;
    let ts = TransferSyntaxRegistry
        .get(EXPLICIT_LE)
        .ok_or_else(|| not_dicom("explicit VR little endian is not registered".into()))?;
    let data_set = InMemDicomObject::read_dataset_with_ts(inflated.as_slice(), ts)
        .map_err(|e| not_dicom(e.to_string()))?;
    Ok(data_set.with_exact_meta(meta))
}

/// Byte order and VR style of a bare data set, from its first element.
fn bare_layout(bytes: &[u8]) -> Option<(bool, bool)> {
    let head = bytes.get(..6)?;
    let explicit = head[4].is_ascii_uppercase() && head[5].is_ascii_uppercase();
    let big_endian = head[0] == 0 && head[1] != 0;
    Some((explicit, big_endian))
}

/// Parses DICOM bytes: Part 10 first, then a bare data set.
pub fn open_bytes(bytes: &[u8]) -> Result<DefaultDicomObject> {
    if let Some(data_set_at) = prescan(bytes)? {
        return open_deflated(bytes, data_set_at);
    }
    let part10 = OpenFileOptions::new()
        .read_preamble(ReadPreamble::Auto)
        .from_reader(bytes);
    match part10 {
        Ok(obj) => Ok(obj),
        // A file with the DICM magic is Part 10 or nothing: reading it again as a bare data set
        // would parse the preamble and meta as elements, past what the pre-scan checked.
        Err(e) if has_magic(bytes) => Err(ImagingError::NotDicom {
            reason: e.to_string(),
        }),
        Err(e) => open_bare(bytes).ok_or_else(|| ImagingError::NotDicom {
            reason: e.to_string(),
        }),
    }
}

/// A Part 10 file parsed without its pixel data: the object holds every element as
/// [`open_bytes`] would give it, but Pixel Data empty; with the length its value has in the
/// file. `Ok(None)` when that is not how this file can be read — no preamble and `DICM`, a
/// deflated data set, Pixel Data not plain bytes of a defined length at the top level (absent,
/// encapsulated, twice), or a parse that fails (the caller then parses the whole file, and
/// refuses it in [`open_bytes`]'s words).
///
/// Why: parsing copies the pixel data out of the file's bytes into the object (half a MiB of
/// fresh memory per CT slice, more than the rest of the parse), though judging an uncompressed
/// image needs only its header and that length (see [`crate::NativeCheck`]). The file is
/// pre-scanned whole, as before; the parser is then given the file with the pixel data's value
/// cut out and its length field zeroed — the same elements in the same order, so it reads
/// every other element as it would have, and reading a defined-length run of bytes the
/// pre-scan found present is all it would have done with the rest.
pub(crate) fn open_header(bytes: &[u8]) -> Result<Option<(DefaultDicomObject, u64)>> {
    if !has_magic_after_preamble(bytes) {
        return Ok(None);
    }
    let scanned = crate::prescan::check_finding_pixels(bytes, 132)
        .map_err(|reason| ImagingError::NotDicom { reason })?;
    let Some(at) = scanned.pixel_data.filter(|_| scanned.deflated_at.is_none()) else {
        return Ok(None);
    };
    let end = at.value + at.len;
    let mut shell = Vec::with_capacity(bytes.len() - at.len);
    shell.extend_from_slice(&bytes[..at.value]);
    let length_field = at.value - 4..at.value;
    shell[length_field].fill(0);
    shell.extend_from_slice(&bytes[end..]);
    let parsed = OpenFileOptions::new()
        .read_preamble(ReadPreamble::Auto)
        .from_reader(shell.as_slice());
    Ok(parsed.ok().map(|object| (object, at.len as u64)))
}

fn has_magic(bytes: &[u8]) -> bool {
    has_magic_after_preamble(bytes) || bytes.get(..4) == Some(b"DICM".as_slice())
}

fn has_magic_after_preamble(bytes: &[u8]) -> bool {
    bytes.get(128..132) == Some(b"DICM".as_slice())
}

/// A data set with no file meta header: the first element tells the byte order (group 0x0008
/// reads as 08 00 little endian, 00 08 big endian) and whether VRs are explicit (two capital
/// letters after the tag).
fn open_bare(bytes: &[u8]) -> Option<DefaultDicomObject> {
    let (explicit, big_endian) = bare_layout(bytes)?;
    let ts_uid = match (explicit, big_endian) {
        (true, true) => EXPLICIT_BE,
        (true, false) => EXPLICIT_LE,
        (false, false) => IMPLICIT_LE,
        (false, true) => return None,
    };
    let ts = TransferSyntaxRegistry.get(ts_uid)?;
    let ds = InMemDicomObject::read_dataset_with_ts(bytes, ts).ok()?;
    let text = |tag| {
        ds.get(tag)
            .and_then(|e| e.to_str().ok())
            .map(|s| s.trim_end_matches(['\0', ' ']).to_string())
    };
    // Without a SOP class this is not a DICOM object we can name; refuse rather than guess.
    let sop_class = text(tags::SOP_CLASS_UID)?;
    let sop_instance = text(tags::SOP_INSTANCE_UID).unwrap_or_default();
    let meta = FileMetaTableBuilder::new()
        .media_storage_sop_class_uid(sop_class)
        .media_storage_sop_instance_uid(sop_instance)
        .transfer_syntax(ts_uid)
        .build()
        .ok()?;
    Some(ds.with_exact_meta(meta))
}

use dicom_transfer_syntax_registry::TransferSyntaxIndex;
