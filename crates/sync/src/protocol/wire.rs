//! The encoding's two halves shared by every message: a reader that never reads past its end
//! and checks each count against its bound before allocating, and the writers that keep to
//! the same bounds (so whatever is encoded decodes).

use countersign_ledger::{Hash, PublicKey};

use super::{DecodeError, VersionVector, MAX_AUTHORS};

/// A cursor that never reads past its end.
pub(super) struct Reader<'a>(pub(super) &'a [u8]);

impl<'a> Reader<'a> {
    pub(super) fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.0.len() < n {
            return Err(DecodeError::Truncated);
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    pub(super) fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }
    pub(super) fn u16(&mut self) -> Result<usize, DecodeError> {
        let b = self.take(2)?;
        Ok(usize::from(u16::from_be_bytes([b[0], b[1]])))
    }
    pub(super) fn u32(&mut self) -> Result<u32, DecodeError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    pub(super) fn u64(&mut self) -> Result<u64, DecodeError> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_be_bytes(a))
    }
    pub(super) fn hash(&mut self) -> Result<Hash, DecodeError> {
        let mut a = [0u8; 32];
        a.copy_from_slice(self.take(32)?);
        Ok(Hash(a))
    }
    pub(super) fn key(&mut self) -> Result<PublicKey, DecodeError> {
        let mut a = [0u8; 32];
        a.copy_from_slice(self.take(32)?);
        PublicKey::from_bytes(&a).map_err(|_| DecodeError::BadKey)
    }
    /// A count, refused beyond `max` before anything is allocated for it; also refused when
    /// fewer bytes remain than `min_each` per item.
    pub(super) fn count(
        &mut self,
        n: usize,
        what: &'static str,
        max: usize,
        min_each: usize,
    ) -> Result<usize, DecodeError> {
        if n > max {
            return Err(DecodeError::TooMany {
                what,
                count: n,
                max,
            });
        }
        if n.saturating_mul(min_each) > self.0.len() {
            return Err(DecodeError::Truncated);
        }
        Ok(n)
    }
    pub(super) fn vector(&mut self) -> Result<VersionVector, DecodeError> {
        let n = self.u16()?;
        let n = self.count(n, "authors", MAX_AUTHORS, 40)?;
        (0..n).map(|_| Ok((self.key()?, self.u64()?))).collect()
    }
    pub(super) fn hashes(
        &mut self,
        n: usize,
        what: &'static str,
        max: usize,
    ) -> Result<Vec<Hash>, DecodeError> {
        let n = self.count(n, what, max, 32)?;
        (0..n).map(|_| self.hash()).collect()
    }
    /// A u32 length, refused beyond `max`, then that many bytes.
    pub(super) fn bytes_u32(
        &mut self,
        what: &'static str,
        max: usize,
    ) -> Result<Vec<u8>, DecodeError> {
        let n = self.u32()? as usize;
        let n = self.count(n, what, max, 1)?;
        Ok(self.take(n)?.to_vec())
    }
    pub(super) fn finish(self) -> Result<(), DecodeError> {
        match self.0.len() {
            0 => Ok(()),
            n => Err(DecodeError::TrailingBytes(n)),
        }
    }
}

pub(super) fn put_vector(out: &mut Vec<u8>, v: &VersionVector) {
    out.extend_from_slice(&(v.len().min(MAX_AUTHORS) as u16).to_be_bytes());
    for (key, seq) in v.iter().take(MAX_AUTHORS) {
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(&seq.to_be_bytes());
    }
}

/// Bytes beyond `max` are cut, so whatever is encoded decodes (the sender keeps to `max`).
pub(super) fn put_bytes_u32(out: &mut Vec<u8>, bytes: &[u8], max: usize) {
    let n = bytes.len().min(max);
    out.extend_from_slice(&(n as u32).to_be_bytes());
    out.extend_from_slice(&bytes[..n]);
}

pub(super) fn put_hashes_u16(out: &mut Vec<u8>, hashes: &[Hash], max: usize) {
    let n = hashes.len().min(max);
    out.extend_from_slice(&(n as u16).to_be_bytes());
    for h in &hashes[..n] {
        out.extend_from_slice(h.as_bytes());
    }
}
