//! The only unsafe code in the workspace: calls into the TurboJPEG 3 API.
//!
//! Every call goes through a [`Decoder`] that owns one `tjhandle` and frees it on drop; every
//! output buffer is allocated here, at exactly the size the call will write, before the call.
#![allow(unsafe_code)]

use std::ffi::CStr;

use turbojpeg_sys as tj;

use crate::JpegError;

/// What the JPEG header says, read before any pixel buffer is allocated.
#[derive(Debug)]
pub(crate) struct Header {
    pub rows: u32,
    pub columns: u32,
    pub precision: i32,
    pub lossless: bool,
    pub grey: bool,
    pub colour_space: &'static str,
}

/// An owned TurboJPEG decompression instance.
#[derive(Debug)]
pub(crate) struct Decoder(tj::tjhandle);

impl Drop for Decoder {
    fn drop(&mut self) {
        // SAFETY: the handle came from tj3Init, is non-null and is destroyed exactly once.
        unsafe { tj::tj3Destroy(self.0) }
    }
}

/// Working memory libjpeg-turbo may use beyond the output (progressive or lossless buffers).
const MAX_MEMORY_MB: i32 = 512;
/// Progressive scans allowed before a stream is judged hostile.
const MAX_SCANS: i32 = 500;

impl Decoder {
    pub fn new() -> Result<Self, JpegError> {
        // SAFETY: tj3Init has no preconditions; a null result is checked.
        let handle = unsafe { tj::tj3Init(tj::TJINIT_TJINIT_DECOMPRESS as i32) };
        if handle.is_null() {
            return Err(JpegError::Init);
        }
        let decoder = Decoder(handle);
        // A warning means a corrupt or truncated stream: libjpeg-turbo would fill the rest with
        // grey and carry on. A wrong picture is worse than an error. (The one harmless warning
        // common in DICOM files is removed from the stream beforehand: see `markers`.)
        decoder.set(tj::TJPARAM_TJPARAM_STOPONWARNING, 1)?;
        decoder.set(tj::TJPARAM_TJPARAM_MAXMEMORY, MAX_MEMORY_MB)?;
        decoder.set(tj::TJPARAM_TJPARAM_SCANLIMIT, MAX_SCANS)?;
        Ok(decoder)
    }

    fn set(&self, param: tj::TJPARAM, value: i32) -> Result<(), JpegError> {
        // SAFETY: the handle is live; tj3Set only reads its arguments.
        let status = unsafe { tj::tj3Set(self.0, param as i32, value) };
        if status != 0 {
            return Err(JpegError::Header(self.error()));
        }
        Ok(())
    }

    fn get(&self, param: tj::TJPARAM) -> i32 {
        // SAFETY: the handle is live; tj3Get only reads.
        unsafe { tj::tj3Get(self.0, param as i32) }
    }

    fn error(&self) -> String {
        // SAFETY: tj3GetErrorStr returns a pointer to a NUL-terminated string owned by the
        // handle (or a static one), valid until the next call on this handle; it is copied now.
        unsafe {
            let message = tj::tj3GetErrorStr(self.0);
            if message.is_null() {
                return "unknown error".into();
            }
            CStr::from_ptr(message).to_string_lossy().into_owned()
        }
    }

    /// Reads the header; frames larger than `max_pixels` are refused by libjpeg-turbo itself.
    pub fn header(&mut self, stream: &[u8], max_pixels: u64) -> Result<Header, JpegError> {
        let max_pixels = i32::try_from(max_pixels).unwrap_or(i32::MAX).max(1);
        self.set(tj::TJPARAM_TJPARAM_MAXPIXELS, max_pixels)?;
        // SAFETY: the pointer and length describe `stream`, which outlives the call.
        let status =
            unsafe { tj::tj3DecompressHeader(self.0, stream.as_ptr(), stream.len() as tj::size_t) };
        if status != 0 {
            return Err(JpegError::Header(self.error()));
        }
        let colour_space = self.get(tj::TJPARAM_TJPARAM_COLORSPACE);
        let dimension = |v: i32| u32::try_from(v).unwrap_or(0);
        Ok(Header {
            rows: dimension(self.get(tj::TJPARAM_TJPARAM_JPEGHEIGHT)),
            columns: dimension(self.get(tj::TJPARAM_TJPARAM_JPEGWIDTH)),
            precision: self.get(tj::TJPARAM_TJPARAM_PRECISION),
            lossless: self.get(tj::TJPARAM_TJPARAM_LOSSLESS) == 1,
            grey: colour_space == tj::TJCS_TJCS_GRAY as i32,
            colour_space: match colour_space as u32 {
                tj::TJCS_TJCS_RGB => "RGB",
                tj::TJCS_TJCS_YCbCr => "YCbCr",
                tj::TJCS_TJCS_CMYK => "CMYK",
                tj::TJCS_TJCS_YCCK => "YCCK",
                _ => "unknown",
            },
        })
    }

    /// Decodes a frame whose header was read by [`Decoder::header`] into `pixels` grey bytes.
    pub fn decode8(&mut self, stream: &[u8], pixels: usize) -> Result<Vec<u8>, JpegError> {
        self.decode8_as(stream, pixels, 1, tj::TJPF_TJPF_GRAY)
    }

    /// As [`Decoder::decode8`], into `pixels` RGB triplets.
    pub fn decode8_rgb(&mut self, stream: &[u8], pixels: usize) -> Result<Vec<u8>, JpegError> {
        self.decode8_as(stream, pixels, 3, tj::TJPF_TJPF_RGB)
    }

    fn decode8_as(
        &mut self,
        stream: &[u8],
        pixels: usize,
        channels: usize,
        format: tj::TJPF,
    ) -> Result<Vec<u8>, JpegError> {
        let mut out = vec![0u8; pixels * channels];
        // SAFETY: `out` holds width × height samples of `channels` bytes, exactly what a decode
        // to `format` with pitch 0 writes; the header (and so the size) was checked on this
        // handle.
        let status = unsafe {
            tj::tj3Decompress8(
                self.0,
                stream.as_ptr(),
                stream.len() as tj::size_t,
                out.as_mut_ptr(),
                0,
                format,
            )
        };
        self.finish(status, out)
    }

    /// As [`Decoder::decode8`], for 9–12 bit samples.
    pub fn decode12(&mut self, stream: &[u8], pixels: usize) -> Result<Vec<u16>, JpegError> {
        let mut out = vec![0i16; pixels];
        // SAFETY: as decode8, with one i16 per sample.
        let status = unsafe {
            tj::tj3Decompress12(
                self.0,
                stream.as_ptr(),
                stream.len() as tj::size_t,
                out.as_mut_ptr(),
                0,
                tj::TJPF_TJPF_GRAY,
            )
        };
        // 12-bit samples are 0..=4095: the i16 → u16 reinterpretation never changes a value.
        let out = self.finish(status, out)?;
        Ok(out.into_iter().map(|v| v as u16).collect())
    }

    /// As [`Decoder::decode8`], for 13–16 bit lossless samples.
    pub fn decode16(&mut self, stream: &[u8], pixels: usize) -> Result<Vec<u16>, JpegError> {
        let mut out = vec![0u16; pixels];
        // SAFETY: as decode8, with one u16 per sample.
        let status = unsafe {
            tj::tj3Decompress16(
                self.0,
                stream.as_ptr(),
                stream.len() as tj::size_t,
                out.as_mut_ptr(),
                0,
                tj::TJPF_TJPF_GRAY,
            )
        };
        self.finish(status, out)
    }

    fn finish<T>(&self, status: i32, out: Vec<T>) -> Result<Vec<T>, JpegError> {
        if status != 0 {
            return Err(JpegError::Data(self.error()));
        }
        Ok(out)
    }
}
