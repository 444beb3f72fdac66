//! What can go wrong with an image, in words a radiologist can act on.

/// Why a file cannot be opened, decoded or presented.
#[derive(Debug, thiserror::Error)]
pub enum ImagingError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("file is {size} bytes; the limit is {limit}")]
    TooLarge { size: u64, limit: u64 },
    #[error("not a readable DICOM file: {reason}")]
    NotDicom { reason: String },
    #[error("{description}: no pixel data to show")]
    NoPixelData { description: String },
    #[error("unsupported transfer syntax {uid} ({name})")]
    UnsupportedTransferSyntax { uid: String, name: String },
    #[error("attribute {attribute} is missing or invalid: {reason}")]
    BadAttribute {
        attribute: &'static str,
        reason: String,
    },
    #[error("image claims {claimed} bytes of pixel data but holds {present}")]
    PixelDataTooShort { claimed: u64, present: u64 },
    #[error("image dimensions {rows}×{columns}×{frames} with {samples} samples of {bits} bits exceed the limit")]
    TooBig {
        rows: u32,
        columns: u32,
        frames: u32,
        samples: u16,
        bits: u16,
    },
    #[error("frame {frame} does not exist; the image has {frames}")]
    NoSuchFrame { frame: u32, frames: u32 },
    #[error("cannot decode the pixel data: {0}")]
    Decode(String),
    #[error("unsupported image: {0}")]
    Unsupported(String),
    #[error("cannot write PNG: {0}")]
    Png(String),
}

pub type Result<T, E = ImagingError> = std::result::Result<T, E>;
