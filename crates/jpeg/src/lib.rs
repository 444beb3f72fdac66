//! Greyscale JPEG decoding for DICOM: baseline (8-bit), extended (12-bit, DICOM's "JPEG
//! Extended (Process 2 and 4)") and lossless (2–16 bits) through libjpeg-turbo 3, and lossless
//! single-component JPEG — what DICOM's lossless syntaxes carry for grey images — by a decoder
//! written here in Rust ([`decode_lossless`], no `unsafe`), which gives the same samples and may
//! run outside the confined decode worker. [`decode_grey`] uses it wherever it applies.
//!
//! The pure-Rust JPEG decoders decode 8-bit lossy only, so 12-bit nuclear medicine and CT JPEGs
//! — which DCMTK shows — could not be shown. libjpeg-turbo is the library DCMTK's own codec
//! descends from and is fuzzed continuously by OSS-Fuzz. Colour JPEG stays with the other
//! decoder: the TurboJPEG API decides the JPEG colour space itself, while DICOM's header says
//! what the components are.
//!
//! Limits are set before decoding: the frame must have exactly the size the DICOM header states
//! (checked from the JPEG header before any pixel buffer exists), libjpeg-turbo's own image
//! size and memory limits are set, and any warning (a corrupt or truncated stream) is an error
//! rather than a partly grey picture.
//!
//! ```no_run
//! let stream = std::fs::read("frame.jpg").unwrap();
//! let image = countersign_jpeg::decode_grey(&stream, 256, 1024).unwrap();
//! println!("{} bits, lossless: {}", image.precision, image.lossless);
//! ```

mod ffi;
mod lossless;
mod markers;

pub use lossless::decode_lossless;
pub use markers::{frame_header, sequential_scans, FrameHeader};

/// Why a JPEG stream cannot be decoded.
#[derive(Debug, thiserror::Error)]
pub enum JpegError {
    #[error("JPEG header: {0}")]
    Header(String),
    #[error("JPEG frame is {found_columns}×{found_rows}, the DICOM header says {columns}×{rows}")]
    SizeMismatch {
        rows: u32,
        columns: u32,
        found_rows: u32,
        found_columns: u32,
    },
    #[error("JPEG frame is {0}, not what the DICOM header says")]
    NotGrey(String),
    #[error("JPEG precision {0} bits is not decodable")]
    Precision(i32),
    #[error("JPEG data: {0}")]
    Data(String),
    #[error("libjpeg-turbo could not start")]
    Init,
    /// Not a stream the Rust lossless decoder reads (another JPEG process, several components,
    /// a DNL marker): for libjpeg-turbo.
    #[error("JPEG stream for libjpeg-turbo: {0}")]
    Unsupported(String),
}

/// Decoded grey samples: bytes up to 8 bits of precision, 16-bit words above.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GreySamples {
    U8(Vec<u8>),
    U16(Vec<u16>),
}

/// One decoded greyscale frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GreyImage {
    /// Bits per sample in the JPEG stream (8 or 12 lossy; 2–16 lossless).
    pub precision: u8,
    pub lossless: bool,
    pub samples: GreySamples,
}

/// A decoder with the stream's header read, refused unless the frame is `rows`×`columns`
/// (libjpeg-turbo is also told not to accept more pixels than that).
fn open(stream: &[u8], rows: u32, columns: u32) -> Result<(ffi::Decoder, ffi::Header), JpegError> {
    let mut decoder = ffi::Decoder::new()?;
    let header = decoder.header(stream, u64::from(rows) * u64::from(columns))?;
    if (header.rows, header.columns) != (rows, columns) {
        return Err(JpegError::SizeMismatch {
            rows,
            columns,
            found_rows: header.rows,
            found_columns: header.columns,
        });
    }
    Ok((decoder, header))
}

/// Decodes a single-component JPEG frame that must be `rows`×`columns`: lossless by
/// [`decode_lossless`] when it reads the stream, everything else by libjpeg-turbo.
pub fn decode_grey(stream: &[u8], rows: u32, columns: u32) -> Result<GreyImage, JpegError> {
    match decode_lossless(stream, rows, columns) {
        Err(JpegError::Unsupported(_)) => decode_grey_libjpeg(stream, rows, columns),
        decoded => decoded,
    }
}

/// [`decode_grey`] by libjpeg-turbo alone, lossless streams too: the reference the Rust decoder
/// is compared with.
pub fn decode_grey_libjpeg(stream: &[u8], rows: u32, columns: u32) -> Result<GreyImage, JpegError> {
    let stream = &*markers::mend_sequential_scans(stream);
    let (mut decoder, header) = open(stream, rows, columns)?;
    if !header.grey {
        return Err(JpegError::NotGrey(header.colour_space.into()));
    }
    let pixels = rows as usize * columns as usize;
    let samples = match header.precision {
        2..=8 => GreySamples::U8(decoder.decode8(stream, pixels)?),
        9..=12 => GreySamples::U16(decoder.decode12(stream, pixels)?),
        13..=16 if header.lossless => GreySamples::U16(decoder.decode16(stream, pixels)?),
        other => return Err(JpegError::Precision(other)),
    };
    Ok(GreyImage {
        precision: header.precision as u8,
        lossless: header.lossless,
        samples,
    })
}

/// Decodes an 8-bit, three-component lossy JPEG frame whose components are R, G and B as stored
/// (the DICOM header says RGB) although the stream carries neither a JFIF nor an Adobe marker.
/// Without one, a JPEG decoder takes three components for YCbCr and shows wrong colours; an Adobe
/// marker saying "no transform" is added to the stream first, as DICOM's header demands.
pub fn decode_untransformed_rgb(
    stream: &[u8],
    rows: u32,
    columns: u32,
) -> Result<Vec<u8>, JpegError> {
    let stream = markers::mend_sequential_scans(stream);
    let stream = markers::with_adobe_no_transform(&stream);
    let (mut decoder, header) = open(&stream, rows, columns)?;
    if header.colour_space != "RGB" || header.precision != 8 || header.lossless {
        return Err(JpegError::NotGrey(format!(
            "{} ({}-bit) where untransformed 8-bit RGB was expected",
            header.colour_space, header.precision
        )));
    }
    decoder.decode8_rgb(&stream, rows as usize * columns as usize)
}

#[cfg(test)]
mod tests;
