//! Whose key the data keys are wrapped under: the member key that made the key-encryption key
//! (`countersign_ledger::Kek::member`), kept in `meta` beside the keys and changed in the same
//! transaction as they are.
//!
//! A process opens the member's key once and keeps its key-encryption key in memory (a
//! serving node for days, the desktop while unlocked). When another process on the same home
//! adopts a key rotation, it wraps every data key again under the new key's and deletes the old
//! key; a data key the first process then stored under the old key's would never open again,
//! and every report it projected would read as unopened. So a write that wraps a key, or that
//! reads keys to project reports, first holds the installed key-encryption key to this record
//! ([`StoreError::KeysRotated`]: the process must open the home again).

use countersign_ledger::PublicKey;

use crate::{Db, Result, StoreError};

/// The `meta` key naming (hex) the member key the data keys are wrapped under. Absent in a
/// home that never stored a wrapped key (or from a build before it): the first key-encryption
/// key that wraps one claims it.
const KEK_MEMBER_META: &str = "kek_member";

impl Db<'_> {
    /// The member key (hex) the data keys are recorded as wrapped under, if any is recorded.
    pub fn kek_member(&self) -> Result<Option<String>> {
        self.meta(KEK_MEMBER_META)
    }

    /// Refuses `kek` when the data keys are recorded as wrapped under another member key's
    /// (rotated by another process since this one opened its key), and records its member when
    /// none is: call it in the write that wraps a key under it.
    pub(crate) fn claim_kek(&self, kek: &countersign_ledger::Kek) -> Result<()> {
        match self.kek_member()? {
            Some(hex) if hex != kek.member().to_hex() => Err(StoreError::KeysRotated),
            Some(_) => Ok(()),
            None => self.set_meta(KEK_MEMBER_META, &kek.member().to_hex()),
        }
    }

    /// Records that the data keys are (from this transaction on) wrapped under `member`'s
    /// key-encryption key: a rotation's switch, in the transaction that re-wraps them (or, when
    /// the home holds none, in the one that checked so).
    pub fn set_kek_member(&self, member: &PublicKey) -> Result<()> {
        self.set_meta(KEK_MEMBER_META, &member.to_hex())
    }
}
