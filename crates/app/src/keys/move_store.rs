//! `key move`: a home's key between the sealed file and the OS keychain. A key on a hardware
//! token never leaves it, so it is not moved off one; and none is moved onto one (a new
//! identity is made on the token instead).
//!
//! The key is opened from the store it is in (the passphrase checked, or the keychain read),
//! written to the new store and read back from it, and only then does the profile name the new
//! store; the old copy is removed last (a sealed file overwritten with zeros, synced and
//! unlinked; a keychain item deleted). A crash in between leaves the key in both stores, never
//! in neither.
//!
//! Not while a rotation of the key waits for an admin: its new key was made in the store the
//! current one is in, and adopting the rotation looks for it in the store the profile names,
//! so a moved home could never adopt it (`key_missing` at every try). Refused
//! (`rotation_pending`) rather than moving the new key too: the wait is short (until an admin
//! applies the request), moving two keys doubles the states a crash can leave, and the new
//! key is moved like any other once adopted.

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
        self.refuse_pending_rotation()?;
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
        let passphrase = match to {
            KeyStoreKind::Sealed => {
                let passphrase = new()?;
                passphrase.check_new()?;
                Some(passphrase)
            }
            _ => None,
        };
        // Both secrets had, the key lock (see `keys::lock`) is held to the end, and what was
        // looked at above is looked at again under it: a rotation asked for, or adopted, by
        // another program meanwhile.
        let _held = self.keys().lock_keys()?;
        if self.profile()? != profile {
            return Err(AppError::InvalidInput(
                "this home's key changed while the move was asked for (another program \
                 adopted a rotation or moved it): nothing was moved; move it again"
                    .into(),
            ));
        }
        self.refuse_pending_rotation()?;
        match (to, &passphrase) {
            (KeyStoreKind::Keychain, _) => keychain::store(self.dir(), &key)?,
            (KeyStoreKind::Sealed, Some(passphrase)) => {
                self.keys().save(&key, passphrase)?;
                self.keys().load(&public, passphrase)?;
            }
            _ => unreachable!("a token refused above, a sealed file's passphrase had above"),
        }
        profile.store = to;
        self.keys().set_profile(&profile)?;
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

    /// `rotation_pending` when a rotation of the current key waits (see the module docs).
    fn refuse_pending_rotation(&self) -> Result<()> {
        match self.pending_rotation()? {
            Some(new) => Err(AppError::RotationPending {
                new: new.to_hex(),
                what: "move the key".into(),
            }),
            None => Ok(()),
        }
    }
}
