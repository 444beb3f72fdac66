//! Image use cases: what a file is, a rendered frame as PNG, and the studies and images the
//! home's store holds.

use std::path::Path;

use countersign_imaging::{DicomImage, ImageInfo, ImagingError, WindowChoice};
use countersign_store::image_path;
use serde::Serialize;

use crate::error::{AppError, Result};
use crate::home::now_ms;
use crate::sandbox::{DecodeSandbox, RenderRequest, Verdict};

/// Metadata of a DICOM file, including non-image objects (named, not treated as broken).
pub fn image_info(path: &Path) -> Result<ImageInfo> {
    Ok(countersign_imaging::open(path)?.info)
}

/// Renders frame `frame` of a file to PNG bytes; with `max_side`, as a thumbnail no larger.
///
/// Pixels that reach a C codec (libjpeg-turbo for greyscale lossy JPEG and untransformed RGB,
/// CharLS, OpenJPEG: see [`countersign_imaging::DicomImage::render_in_rust`], which decides
/// before any of them runs) are decoded and presented only in the sandboxed worker (see
/// [`crate::sandbox`]): one that crashes it, hangs or runs out of memory is refused, and this
/// process decodes nothing of it. Native, deflated and RLE pixel data, single-component
/// lossless JPEG and other colour JPEG are read by Rust code alone, every length checked
/// against the DICOM header before allocating and a panic caught, so they are rendered here:
/// one decode, not two, and no worker to start.
pub fn image_render_png(
    path: &Path,
    frame: u32,
    window: WindowChoice,
    max_side: Option<u32>,
) -> Result<Vec<u8>> {
    let bytes = countersign_imaging::read_file(path)?;
    let image = countersign_imaging::from_bytes(&bytes)?;
    if let Some(mut rendered) = image.render_in_rust(frame, window)? {
        if let Some(side) = max_side {
            rendered = countersign_imaging::thumbnail(&rendered, side);
        }
        return Ok(countersign_imaging::to_png(&rendered)?);
    }
    // The header is read here (it is Rust), so an out-of-range frame is told as such.
    if frame >= image.info.frames {
        return Err(ImagingError::NoSuchFrame {
            frame,
            frames: image.info.frames,
        }
        .into());
    }
    let request = RenderRequest {
        frame,
        window,
        max_side,
    };
    // The worker sends pixels of the shape asked for (checked before they are read); the PNG
    // is made here, so what is written out is this crate's own encoding.
    match DecodeSandbox::new().render(&bytes, &image.info, request)? {
        Ok(rendered) => Ok(countersign_imaging::to_png(&rendered)?),
        Err(
            Verdict::Harmless {
                error: Some(message),
                ..
            }
            | Verdict::Refused { message, .. },
        ) => Err(AppError::ImageRefused(message)),
        Err(Verdict::Harmless { error: None, .. }) => Err(AppError::ImageRefused(
            "the decode worker gave no image".into(),
        )),
    }
}

impl From<ImagingError> for AppError {
    fn from(e: ImagingError) -> Self {
        AppError::Image(e)
    }
}

/// One line of `studies`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StudySummary {
    pub study: String,
    pub patient: Option<String>,
    pub date: Option<String>,
    pub modality: Option<String>,
    pub description: Option<String>,
    pub instances: u64,
}

impl crate::home::Home {
    /// The imported studies, newest first.
    pub fn studies(&self) -> Result<Vec<StudySummary>> {
        let mut out: Vec<StudySummary> = Vec::new();
        for i in self.store().db().instances(None)? {
            match out.last_mut() {
                Some(s) if s.study == i.study => s.instances += 1,
                _ => out.push(StudySummary {
                    study: i.study,
                    patient: i.patient,
                    date: i.study_date,
                    modality: i.modality,
                    description: i.study_description.or(i.series_description),
                    instances: 1,
                }),
            }
        }
        out.sort_by(|a, b| b.date.cmp(&a.date).then(a.study.cmp(&b.study)));
        Ok(out)
    }

    /// SHA-256 (hex) of every imported instance of `study`.
    pub fn study_images(&self, study: &str) -> Result<Vec<String>> {
        Ok(self
            .store()
            .db()
            .instances(Some(study))?
            .iter()
            .map(|i| hex::encode(i.sha256))
            .collect())
    }

    /// Opens an imported image by the SHA-256 a report names, re-checking the file's hash: for
    /// its metadata. To decode its pixels, [`Home::image_for_decoding`].
    ///
    /// [`Home::image_for_decoding`]: crate::Home::image_for_decoding
    pub fn open_image(&self, sha256_hex: &str) -> Result<DicomImage> {
        let (_, bytes) = self.image_bytes(sha256_hex)?;
        Ok(countersign_imaging::from_bytes(&bytes)?)
    }

    /// Opens an imported image whose pixels may be decoded in this process: one whose every
    /// frame the sandboxed worker decoded (by this build's decoders). An image it has not seen —
    /// imported by an earlier build, or checked by other decoders — is checked now; one it
    /// refused, or a frame of which it could not decode, gives the worker's words instead.
    pub fn image_for_decoding(&self, sha256_hex: &str) -> Result<DicomImage> {
        let (sha, bytes) = self.image_bytes(sha256_hex)?;
        let known = self
            .store()
            .db()
            .decode_check(&sha.0)?
            .filter(|c| c.decoder == crate::sandbox::DECODER);
        let check = match known {
            Some(check) => check,
            None => {
                let verdict = self
                    .decoder
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .check(&bytes)?;
                let check = verdict.to_check();
                // A timeout or a kill may be the machine's doing: tried again next time.
                if verdict.lasting() {
                    self.store()
                        .db()
                        .put_decode_check(&sha.0, &check, now_ms())?;
                }
                check
            }
        };
        match (check.refused, check.message) {
            (None, None) => Ok(countersign_imaging::from_bytes(&bytes)?),
            (_, message) => Err(AppError::ImageRefused(message.unwrap_or_default())),
        }
    }

    /// The bytes of an imported image, checked against the SHA-256 they are stored by.
    pub(crate) fn image_bytes(
        &self,
        sha256_hex: &str,
    ) -> Result<(countersign_ledger::Hash, Vec<u8>)> {
        let sha = countersign_ledger::Hash::from_hex(sha256_hex)
            .map_err(|e| AppError::InvalidInput(format!("image hash {sha256_hex:?}: {e}")))?;
        let path = image_path(self.dir(), &sha.0);
        let bytes = countersign_imaging::read_file(&path)?;
        let found = countersign_ledger::Hash::of(&bytes);
        if found != sha {
            return Err(AppError::ImageChanged {
                expected: sha.to_hex(),
                found: found.to_hex(),
            });
        }
        Ok((sha, bytes))
    }
}
