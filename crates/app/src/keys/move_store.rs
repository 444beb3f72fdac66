//! `key move`: a home's key between the sealed file and the OS keychain. A key on a hardware
//! token never leaves it, so it is not moved off one; and none is moved onto one (a new
//! identity is made on the token instead).
//!
//! The key is opened from the store it is in (the passphrase checked, or the keychain read),
//! written to the new store and read back from it, and only then does the profile name the new
//! store; the old copy is removed last (a sealed file overwritten with zeros, synced and
//! unlinked; a keychain item deleted). A crash in between leaves the key in both stores, never
//! in neither.

use serde::Serialize;

use super::{keychain, KeyHandle, KeyStoreKind, Passphrase};
use crate::error::{AppError, Result};
use crate::Home;
use countersign_ledger::PublicKey;

/// The answer to `key move`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyMoved {
    pub key: PublicKey,
    pub from: KeyStoreKind,
    pub to: KeyStoreKind,
}

impl Home {
    /// Moves this home's key to the store `to`. For a sealed file, `new` gives the passphrase
    /// to seal it under (asked only after the key was opened).
    pub fn key_move(
        &mut self,
        to: KeyStoreKind,
        new: impl FnOnce() -> Result<Passphrase>,
    ) -> Result<KeyMoved> {
        let mut profile = self.profile()?;
        let from = profile.store;
        if from == to {
            return Err(AppError::InvalidInput(format!(
                "this home's key is already kept in the {} store",
                to
            )));
        }
        if to == KeyStoreKind::Token {
            return Err(AppError::InvalidInput(
                "a key is not moved onto a hardware token (it would have existed outside it); \
                 make a new identity on the token with `init --key-store token`"
                    .into(),
            ));
        }
        // Opened from where it is now, not through an agent: the passphrase checked, or the
        // keychain read.
        let key = match self.open_key(&profile, |why| self.source()?.get(why))? {
            KeyHandle::Memory(key) => key,
            KeyHandle::External(_) => {
                return Err(AppError::KeyNotExportable(
                    "this home's key is on a hardware token and never leaves it".into(),
                ))
            }
        };
        let public = key.public();
        let moved = (|| {
            match to {
                KeyStoreKind::Keychain => keychain::store(self.dir(), &key)?,
                KeyStoreKind::Token => unreachable!("refused above"),
                KeyStoreKind::Sealed => {
                    let passphrase = new()?;
                    passphrase.check_new()?;
                    self.keys().save(&key, &passphrase)?;
                    self.keys().load(&public, &passphrase)?;
                }
            }
            profile.store = to;
            self.keys().set_profile(&profile)
        })();
        moved?;
        self.signer = Some(KeyHandle::Memory(key));
        match from {
            KeyStoreKind::Sealed => self.keys().remove_files(&public)?,
            KeyStoreKind::Keychain => {
                keychain::remove(self.dir(), &public)?;
            }
            KeyStoreKind::Token => unreachable!("a token's key is not exportable"),
        }
        tracing::info!(key = %public, %from, %to, "key moved");
        Ok(KeyMoved {
            key: public,
            from,
            to,
        })
    }
}
