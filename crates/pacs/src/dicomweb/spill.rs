//! Where a WADO-RS part goes while it is read: memory up to a bound (a slice, handed over
//! without a file), else its staged file, hashed as it is written. Split from `dicomweb` (the
//! requests); used by its `retrieve`.

use std::io::BufWriter;
use std::path::Path;

use crate::{Hashing, PacsError, Result};

/// A part as [`Spill::finish`] gives it: the SHA-256 of one written to its file, or the bytes
/// of one kept in memory.
pub(super) type Finished = (Option<[u8; 32]>, Option<Vec<u8>>);

/// Where one part goes: memory, up to `keep` bytes, then its file (what was kept written to it
/// first) — so a small instance is handed over without a file, and a large one never held
/// whole in memory. A part written to its file is hashed as it is written; one kept in memory
/// is not hashed here (see [`crate::Arrived::sha256`]).
pub(super) enum Spill {
    Memory {
        data: Vec<u8>,
        keep: u64,
        path: std::path::PathBuf,
    },
    File(Hashing<BufWriter<std::fs::File>>),
}

impl Spill {
    /// `like`: the size of the part before, reserved with room to spare (if it fits in
    /// `keep`); the buffer from `buffers` when given.
    pub(super) fn new(
        path: std::path::PathBuf,
        keep: u64,
        like: u64,
        buffers: Option<&crate::Buffers>,
    ) -> Result<Spill> {
        if keep == 0 {
            return Spill::file(&path)
                .map_err(PacsError::io(format!("creating {}", path.display())));
        }
        // With an eighth to spare: slices of a series differ by a few bytes, and one byte more
        // than reserved would double the buffer (fresh memory, a copy of what it holds).
        let capacity = if like <= keep {
            (like + like / 8).min(keep) as usize
        } else {
            0
        };
        Ok(Spill::Memory {
            data: match buffers {
                Some(buffers) => buffers.take(capacity),
                None => Vec::with_capacity(capacity),
            },
            keep,
            path,
        })
    }

    fn file(path: &Path) -> std::io::Result<Spill> {
        let file = std::fs::File::create(path)?;
        Ok(Spill::File(Hashing::new(BufWriter::with_capacity(
            64 * 1024,
            file,
        ))))
    }

    /// Flushes and closes a part written to its file, and gives its SHA-256; or gives the part
    /// kept in memory.
    pub(super) fn finish(self) -> std::io::Result<Finished> {
        match self {
            Spill::Memory { data, .. } => Ok((None, Some(data))),
            Spill::File(file) => {
                let (sha256, _, writer) = file.into_parts()?;
                writer.into_inner().map_err(|e| e.into_error())?;
                Ok((Some(sha256), None))
            }
        }
    }
}

/// A part that fits in memory, and states its length, is read straight into its buffer (see
/// [`crate::multipart`]); one that does not goes through `write`, and to its file past `keep`.
impl crate::multipart::PartSink for Spill {
    fn room(&mut self, n: usize) -> Option<&mut [u8]> {
        match self {
            Spill::Memory { data, keep, .. }
                if data
                    .len()
                    .checked_add(n)
                    .is_some_and(|end| end as u64 <= *keep) =>
            {
                let at = data.len();
                data.resize(at + n, 0);
                Some(&mut data[at..])
            }
            _ => None,
        }
    }
}

impl std::io::Write for Spill {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Spill::Memory { data, keep, path } = self {
            if (data.len() + buf.len()) as u64 <= *keep {
                data.extend_from_slice(buf);
                return Ok(buf.len());
            }
            let mut file = Spill::file(path)?;
            std::io::Write::write_all(&mut file, data)?;
            *self = file;
        }
        match self {
            Spill::File(file) => file.write(buf),
            // Not reached: spilled above.
            Spill::Memory { data, .. } => {
                data.extend_from_slice(buf);
                Ok(buf.len())
            }
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Spill::File(file) => file.flush(),
            Spill::Memory { .. } => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    /// A part of at most `keep` bytes stays in memory, unhashed, and no file is made; a larger
    /// one is written whole to its file (what was kept first, then the rest), none of it kept,
    /// and hashed whole. With `keep` 0, every part goes to its file.
    #[test]
    fn a_part_stays_in_memory_up_to_its_bound_and_spills_whole_past_it() {
        let dir = tempfile::tempdir().unwrap();
        let bytes: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        for (keep, like, len, in_memory) in [
            (4096, 0, 4096, true),
            (4096, 4096, 4097, false),
            (4096, 100_000, 10_000, false),
            (0, 0, 10, false),
        ] {
            let path = dir.path().join(format!("part-{keep}-{len}"));
            let mut sink = Spill::new(path.clone(), keep, like, None).unwrap();
            for chunk in bytes[..len].chunks(1000) {
                sink.write_all(chunk).unwrap();
            }
            match sink.finish().unwrap() {
                (None, Some(data)) => {
                    assert!(in_memory, "{keep} {len}");
                    assert_eq!(data, bytes[..len]);
                    assert!(!path.exists());
                }
                (Some(sha256), None) => {
                    assert!(!in_memory, "{keep} {len}");
                    assert_eq!(std::fs::read(&path).unwrap(), bytes[..len]);
                    // Hashed whole, what was kept before the spill included.
                    let whole: [u8; 32] = sha2::Digest::finalize(
                        <sha2::Sha256 as sha2::Digest>::new_with_prefix(&bytes[..len]),
                    )
                    .into();
                    assert_eq!(sha256, whole, "{keep} {len}");
                }
                other => panic!("{keep} {len}: {other:?}"),
            }
        }
    }
}
