//! Key rotation use cases: a person moves their home to a new key and stays one person; an
//! admin applies the move, or replaces a lost key alone.
//!
//! - [`Home::key_rotate`] (`countersign key rotate`), on the person's own home: generates the
//!   new key and seals it as the current one is sealed (same key store, same passphrase),
//!   signs the old-key part (the consent, [`countersign_ledger::rotation`]) and the new key's
//!   proof of possession, and keeps the request in the store's meta until it is applied. An
//!   admin's home applies it at once (the admin signs the `roster.rotate` with the old key);
//!   anyone else's prints the request for an admin. Asked again before it is applied, it gives
//!   the same request (no second new key).
//! - [`Home::roster_rotate`] (`countersign roster rotate REQUEST`), on an admin's home: checks
//!   the request (both signatures, this network) and signs the `roster.rotate`, naming as the
//!   old key's frontier its last entry in every report this home holds — as a revocation does.
//! - [`Home::roster_replace`] (`countersign roster replace --key OLD --new-key NEW`): a lost
//!   key, replaced by an admin alone (no consent, no proof of possession).
//! - [`Home::adopt_rotation`]: once the rotation stands in this home's ledger (signed here,
//!   or arrived by `sync` or `bundle import`), the home switches its active key to the new one
//!   and deletes the old sealed key (the old key can sign nothing that counts any more; kept,
//!   it could only sign a second entry at an old position and void the person's honest entries
//!   there as a fork). The CLI asks on every command; `sync` and `bundle import` ask when they
//!   end.
//!
//! Whether a rotation stands is the roster's to judge, on every home the same way; this module
//! only signs and adapts.

use countersign_ledger::roster::RotatePayload;
use countersign_ledger::rotation::RotationRequest;
use countersign_ledger::{EntryId, Kind, PublicKey, SecretKey};
use serde::Serialize;

use crate::error::{AppError, Result};
use crate::home::{json, Home};
use crate::keys::{PassphraseUse, Profile};

/// Where a rotation waiting for an admin is kept: the request's text, in the store's meta.
const PENDING: &str = "rotation.pending";

/// What `key rotate` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyRotation {
    pub old: PublicKey,
    pub new: PublicKey,
    /// The request to pass to an admin (`roster rotate REQUEST`).
    pub request: String,
    /// The `roster.rotate` entry, when this home signed it (an admin rotating their own key).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<EntryId>,
    /// The key this home signs with now.
    pub active: PublicKey,
    /// Whether the rotation still waits for an admin.
    pub pending: bool,
}

impl Home {
    /// The rotation this home asked for and that has not taken effect here yet: its request.
    fn pending_request(&self) -> Result<Option<RotationRequest>> {
        let Some(text) = self.store().db().meta(PENDING)? else {
            return Ok(None);
        };
        RotationRequest::parse(&text)
            .map(Some)
            .map_err(AppError::from)
    }

    /// The new key of a rotation this home asked for and has not adopted yet.
    pub fn pending_rotation(&self) -> Result<Option<PublicKey>> {
        let profile = self.profile()?;
        Ok(self
            .pending_request()?
            .filter(|r| r.old == profile.key)
            .map(|r| r.new))
    }

    /// The new key of a pending rotation, unsealed (for a sync node that the department's peers
    /// know only by the new key once the rotation is applied).
    pub(crate) fn pending_secret(&self) -> Result<Option<SecretKey>> {
        let Some(new) = self.pending_rotation()? else {
            return Ok(None);
        };
        let passphrase = self.source()?.get(PassphraseUse::Unlock)?;
        Ok(Some(self.keys().load(&new, &passphrase)?))
    }

    /// Rotates this home's key (see the module docs).
    pub fn key_rotate(&mut self) -> Result<KeyRotation> {
        let profile = self.profile()?;
        let state = self.state()?;
        let network = state.network()?;
        let roster = state.roster();
        let old = profile.key;
        let Some(member) = roster.member(&old) else {
            return Err(AppError::RotationRefused(format!(
                "key {old} is not on this department's roster: there is nothing to rotate"
            )));
        };
        if let Some(r) = roster.rotation_of(&old) {
            return Err(AppError::RotationRefused(format!(
                "key {old} was already rotated to {} (entry {}); run `countersign sync` or \
                 import the department's bundle to switch to it",
                r.new, r.entry
            )));
        }
        if member.revoked.is_some() {
            return Err(AppError::RotationRefused(format!(
                "key {old} is revoked: an admin replaces it (`roster replace`)"
            )));
        }
        let admin = member.admin;
        let request = match self.pending_request()?.filter(|r| r.old == old) {
            Some(r) => r,
            None => {
                // One passphrase for both: it opens the old key (a wrong one stops here,
                // nothing written) and seals the new one, as the old one is sealed.
                let passphrase = self.source()?.get(PassphraseUse::Unlock)?;
                let old_secret = self.keys().load(&old, &passphrase)?;
                let new = SecretKey::generate(&mut rand_core::OsRng);
                self.keys().save(&new, &passphrase)?;
                let request = RotationRequest::sign(network, &old_secret, &new);
                let text = request.to_text();
                self.store_mut()
                    .write(|db| db.set_meta(PENDING, &text).map_err(AppError::from))?;
                tracing::info!(old = %old, new = %new.public(), "key rotation requested");
                request
            }
        };
        let mut entry = None;
        if admin {
            entry = Some(self.rotate_entry(
                &request.old,
                &request.new,
                Some(request.consent),
                Some(request.possession),
                "rotated by its holder",
            )?);
            self.adopt_rotation()?;
        }
        let active = self.profile()?.key;
        Ok(KeyRotation {
            old,
            new: request.new,
            request: request.to_text(),
            entry,
            active,
            pending: active == old,
        })
    }

    /// Applies a member's rotation request (admins only; see the module docs).
    pub fn roster_rotate(&mut self, text: &str) -> Result<EntryId> {
        let request = RotationRequest::parse(text)?;
        let network = self.state()?.network()?;
        if request.network != network {
            return Err(AppError::RotationRefused(format!(
                "the request is for network {}; this home's is {network}",
                request.network
            )));
        }
        let id = self.rotate_entry(
            &request.old,
            &request.new,
            Some(request.consent),
            Some(request.possession),
            "rotated at its holder's request",
        )?;
        // An admin applying their own request (from another home of theirs, or this one).
        self.adopt_rotation()?;
        Ok(id)
    }

    /// Replaces a lost key by `new`, as an admin alone (see the module docs).
    pub fn roster_replace(
        &mut self,
        old: PublicKey,
        new: PublicKey,
        reason: &str,
    ) -> Result<EntryId> {
        if old == self.profile()?.key {
            return Err(AppError::RotationRefused(
                "this is this home's own key: rotate it with `countersign key rotate`".into(),
            ));
        }
        let reason = if reason.trim().is_empty() {
            "lost key replaced"
        } else {
            reason
        };
        self.rotate_entry(&old, &new, None, None, reason)
    }

    /// Signs a `roster.rotate` of `old` to `new` as this home's admin key, naming `old`'s
    /// entries this home holds as its frontier. Refused by the roster's rules like any entry
    /// (`not_admin`, `not_senior`, `rotation_key_known`, …), before anything is stored.
    fn rotate_entry(
        &mut self,
        old: &PublicKey,
        new: &PublicKey,
        consent: Option<countersign_ledger::rotation::RotationSignature>,
        possession: Option<countersign_ledger::rotation::RotationSignature>,
        reason: &str,
    ) -> Result<EntryId> {
        let state = self.state()?;
        let network = state.network()?;
        if state.roster().member(old).is_none() {
            return Err(AppError::NotFound {
                what: format!("member {old}"),
            });
        }
        let payload = json(&RotatePayload {
            old: *old,
            new: *new,
            consent,
            possession,
            reason: reason.to_string(),
            frontier: self.frontier_of(old, &network)?,
        });
        let entry = self.append_own(Some(network), Kind::RosterRotate, &payload)?;
        tracing::info!(old = %old, new = %new, entry = %entry.id(), "key rotated");
        Ok(entry.id())
    }

    /// Switches this home to the new key of the rotation it asked for, once that rotation
    /// stands in its ledger; the new key, if it switched now (see the module docs).
    pub fn adopt_rotation(&mut self) -> Result<Option<PublicKey>> {
        let Some(request) = self.pending_request()? else {
            return Ok(None);
        };
        let Some(profile) = self.keys().profile()? else {
            return Ok(None);
        };
        if profile.key == request.new {
            // Switched already (the process stopped before it cleared the request).
            self.forget_rotated(&request.old)?;
            return Ok(None);
        }
        if profile.key != request.old {
            return Ok(None);
        }
        let stands = self
            .state()?
            .roster()
            .rotation_of(&request.old)
            .is_some_and(|r| r.new == request.new);
        if !stands {
            return Ok(None);
        }
        // The profile first (written durably): a crash after it leaves a home on the new key
        // that clears the rest next time.
        self.keys().set_profile(&Profile {
            key: request.new,
            ..profile
        })?;
        self.lock();
        self.forget_rotated(&request.old)?;
        tracing::info!(old = %request.old, new = %request.new, "switched to the rotated key");
        Ok(Some(request.new))
    }

    /// Deletes the rotated-away key's sealed file and the pending request.
    fn forget_rotated(&mut self, old: &PublicKey) -> Result<()> {
        let path = self.keys().sealed_path(old);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(AppError::io(format!("removing {}", path.display()))(e)),
        }
        self.store_mut()
            .write(|db| db.delete_meta(PENDING).map_err(AppError::from))
    }
}
