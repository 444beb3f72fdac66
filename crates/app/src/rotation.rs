//! Key rotation use cases: a person moves their home to a new key and stays one person; an
//! admin applies the move, or replaces a lost key alone.
//!
//! - [`Home::key_rotate`] (`countersign key rotate`), on the person's own home: generates the
//!   new key in the store the current one is in (a sealed file under the same passphrase, a
//!   keychain item, or a new pair on the same token, logged in to with the same PIN), signs the
//!   old-key part (the consent, [`countersign_ledger::rotation`]) and the new key's
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
//!   and deletes the old key from its store (the old key can sign nothing that counts any more;
//!   kept, it could only sign a second entry at an old position and void the person's honest
//!   entries there as a fork). On a token the old pair stays: deleting it needs a login the
//!   switch does not ask for (the README says how to remove it). The CLI asks on every command; `sync` and `bundle import` ask when they
//!   end.
//!
//! Adopting, `key rotate`, a passphrase change and `key move` hold the home's key lock (see
//! [`crate::keys::lock`]) while they read the key's state and change it.
//!
//! Whether a rotation stands is the roster's to judge, on every home the same way; this module
//! only signs and adapts.

use countersign_ledger::roster::RotatePayload;
use countersign_ledger::rotation::RotationRequest;
use countersign_ledger::{EntryId, Kind, PublicKey, SecretKey};
use serde::Serialize;

use crate::error::{AppError, Result};
use crate::home::{json, Home};
use crate::keys::token::{TokenChoice, TokenRef, TokenSigner};
use crate::keys::{keychain, KeyHandle, KeyStoreKind, Passphrase, PassphraseUse, Profile};

/// Where a rotation waiting for an admin is kept: the request's text, in the store's meta.
const PENDING: &str = "rotation.pending";
/// For a home whose key is on a token: where the pending new pair is (JSON of [`TokenRef`]).
const PENDING_TOKEN: &str = "rotation.pending_token";

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

    /// Where the pending rotation's new pair is, for a home whose key is on a token.
    fn pending_token(&self) -> Result<Option<TokenRef>> {
        let Some(text) = self.store().db().meta(PENDING_TOKEN)? else {
            return Ok(None);
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| AppError::KeyDamaged {
                key: self.profile().map(|p| p.key.to_hex()).unwrap_or_default(),
                reason: format!("the pending rotation's token record is not readable: {e}"),
            })
    }

    /// The new key of a pending rotation, opened from the home's store (for a sync node that
    /// the department's peers know only by the new key once the rotation is applied).
    pub(crate) fn pending_signer(&self) -> Result<Option<KeyHandle>> {
        let Some(new) = self.pending_rotation()? else {
            return Ok(None);
        };
        self.open_new_key(&self.profile()?, new, None).map(Some)
    }

    /// The new key `new` of a rotation of the key `profile` names, opened from the home's
    /// store with `secret` (the passphrase or PIN the current key opens with, which the new
    /// key is sealed under too) when given, else with the home's passphrase source. Checked to
    /// be `new`: the key adopted is the one the request that stands names, whatever the store
    /// gives (a token's pending record of another pair).
    fn open_new_key(
        &self,
        profile: &Profile,
        new: PublicKey,
        secret: Option<&Passphrase>,
    ) -> Result<KeyHandle> {
        let mut profile = profile.clone();
        profile.key = new;
        if profile.store == KeyStoreKind::Token {
            profile.token = self.pending_token()?;
        }
        let key = self.open_key(&profile, |why| match secret {
            Some(secret) => Ok(secret.clone()),
            None => self.source()?.get(why),
        })?;
        if key.public() != new {
            return Err(AppError::KeyDamaged {
                key: new.to_hex(),
                reason: format!(
                    "the rotation's new key in this home's store is another key ({})",
                    key.public()
                ),
            });
        }
        Ok(key)
    }

    /// Generates the new key of a rotation in the store `profile` names, beside the current
    /// one: sealed under `secret` (the passphrase), in the keychain, or as a new pair on the
    /// same token logged in to with `secret` (the PIN), recorded for when the rotation stands.
    fn new_key_in_store(&mut self, profile: &Profile, secret: &Passphrase) -> Result<KeyHandle> {
        match profile.store {
            KeyStoreKind::Sealed => {
                let new = SecretKey::generate(&mut rand_core::OsRng);
                self.keys().save(&new, secret)?;
                Ok(KeyHandle::memory(new))
            }
            KeyStoreKind::Keychain => {
                let new = SecretKey::generate(&mut rand_core::OsRng);
                keychain::store(self.dir(), &new)?;
                Ok(KeyHandle::memory(new))
            }
            KeyStoreKind::Token => {
                let current = profile.token()?.ok_or_else(|| AppError::KeyDamaged {
                    key: profile.key.to_hex(),
                    reason: "identity.json names the token store but no token".into(),
                })?;
                let choice = TokenChoice {
                    module: current.module.clone(),
                    label: current.label.clone(),
                    key_id: None,
                };
                let (token, signer) = TokenSigner::create(&choice, secret, &profile.name)?;
                if token.serial != current.serial {
                    return Err(AppError::TokenMissing(format!(
                        "the token labelled '{}' is another one (serial {}, not {}): insert \
                         the token this home's key is on",
                        current.label, token.serial, current.serial
                    )));
                }
                let record = serde_json::to_string(&token).expect("a token record serialises");
                self.store_mut()
                    .write(|db| db.set_meta(PENDING_TOKEN, &record).map_err(AppError::from))?;
                Ok(KeyHandle::External(std::sync::Arc::new(signer)))
            }
        }
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
        // One passphrase (or PIN) for both: it opens the old key from its store, never through
        // an agent (which signs only entries), so a wrong one stops with nothing written; then
        // the new key is made in the same store with it. Asked for before the key lock is
        // taken (see `keys::lock`), and only when there is no request to give again.
        let secret = match self.pending_request()?.filter(|r| r.old == old) {
            Some(_) => None,
            None => match profile.store {
                KeyStoreKind::Sealed => Some(self.source()?.get(PassphraseUse::Unlock)?),
                KeyStoreKind::Token => Some(self.source()?.get(PassphraseUse::Pin)?),
                KeyStoreKind::Keychain => None,
            },
        };
        // Under the key lock, looked at again: two `key rotate`s at once made two new keys,
        // and one running beside an adoption asked to rotate a key being deleted. The lock
        // goes before an admin's own adoption below, which takes it itself.
        let held = self.keys().lock_keys()?;
        let changed = || {
            AppError::RotationRefused(
                "this home's key changed while the rotation was asked for (another program \
                 adopted a rotation or moved the key): nothing was done; run it again"
                    .into(),
            )
        };
        if self.profile()? != profile {
            return Err(changed());
        }
        let request = match self.pending_request()?.filter(|r| r.old == old) {
            Some(r) => r,
            None => {
                if secret.is_none() && profile.store.needs_passphrase() {
                    return Err(changed());
                }
                let given = |_| {
                    secret.clone().ok_or_else(|| {
                        AppError::PassphraseRequired("no passphrase was given".into())
                    })
                };
                let old_key = self.open_key(&profile, given)?;
                let secret = secret.unwrap_or_else(|| Passphrase::new(""));
                let new = self.new_key_in_store(&profile, &secret)?;
                let request =
                    RotationRequest::try_sign(network, &old_key, &new).map_err(AppError::from)?;
                let text = request.to_text();
                self.store_mut()
                    .write(|db| db.set_meta(PENDING, &text).map_err(AppError::from))?;
                tracing::info!(old = %old, new = %new.public(), "key rotation requested");
                request
            }
        };
        drop(held);
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
        self.adopt_rotation_with(None)
    }

    /// [`Home::adopt_rotation`], the new key opened with `secret` when given (see
    /// [`Home::open_new_key`]): at unlock, whose passphrase the home's source may not
    /// give (the desktop's).
    pub(crate) fn adopt_rotation_with(
        &mut self,
        secret: Option<&Passphrase>,
    ) -> Result<Option<PublicKey>> {
        // A first look without the key lock: most calls (the CLI asks before every command)
        // find nothing to do, and take no lock.
        let Some((request, profile)) = self.rotation_to_adopt()? else {
            return Ok(None);
        };
        // The passphrase (or PIN) the new key opens with, had before the lock is taken: asked
        // for with the lock held, every other program's key operation on this home would wait
        // for the user to type. (The CLI's source keeps what it read: opening the current key
        // for the data keys below asks nothing more.)
        let secret = match secret {
            Some(secret) => Some(secret.clone()),
            None if profile.key == request.old && profile.store.needs_passphrase() => {
                let why = match profile.store {
                    KeyStoreKind::Token => PassphraseUse::Pin,
                    _ => PassphraseUse::Unlock,
                };
                match self.source().and_then(|s| s.get(why)) {
                    Ok(secret) => Some(secret),
                    Err(e) => return adopted_later(e),
                }
            }
            None => None,
        };
        let _held = self.keys().lock_keys()?;
        self.adopt_holding_lock(secret.as_ref())
    }

    /// The pending request and the profile, when there is a rotation to adopt or to finish.
    fn rotation_to_adopt(&mut self) -> Result<Option<(RotationRequest, Profile)>> {
        let Some(request) = self.pending_request()? else {
            return Ok(None);
        };
        let Some(profile) = self.keys().profile()? else {
            return Ok(None);
        };
        if profile.key == request.new {
            return Ok(Some((request, profile)));
        }
        if profile.key != request.old {
            return Ok(None);
        }
        let stands = self
            .state()?
            .roster()
            .rotation_of(&request.old)
            .is_some_and(|r| r.new == request.new);
        Ok(stands.then_some((request, profile)))
    }

    /// [`Home::adopt_rotation_with`] once the key lock is held: the request, the profile and
    /// the roster read again, and the request read then is the one adopted throughout — the
    /// key opened, the data keys' new wrapping, the profile and what is forgotten. Read before
    /// the lock, another program could adopt it and ask for the next rotation meanwhile, and
    /// this one then deleted that request, or switched the profile to one key with the data
    /// keys wrapped under another (found by review, 2026-12-05).
    pub(crate) fn adopt_holding_lock(
        &mut self,
        secret: Option<&Passphrase>,
    ) -> Result<Option<PublicKey>> {
        let Some((request, profile)) = self.rotation_to_adopt()? else {
            return Ok(None);
        };
        if profile.key == request.new {
            // Switched already (the process stopped before it cleared the request).
            self.forget_rotated(&request)?;
            return Ok(None);
        }
        if secret.is_none() && profile.store.needs_passphrase() {
            // What the look before the lock found needed no secret (another program has
            // changed the state since): asked for now, it would be typed with the lock held,
            // every other key operation on the home waiting (found by review, 2026-12-05).
            tracing::info!("the rotation is adopted at the next command or unlock");
            return Ok(None);
        }
        crate::keys::lock::reached("adoption.opening");
        // The new key is opened before anything changes, whatever else there is to do: a home
        // switched to a key it cannot open (sealed under another passphrase, a token's pair
        // gone) would be stranded, its old key deleted (found by review, 2026-12-04: a home
        // holding no data key switched without opening it). A key that cannot be opened now
        // (no passphrase at hand: a node, a locked desktop) leaves the home on the old key
        // until it can be, at the next unlock or command.
        let new = match self.open_new_key(&profile, request.new, secret) {
            Ok(new) => new,
            Err(e) => return adopted_later(e),
        };
        // The data keys are wrapped under a key-encryption key made by the member key: before
        // the old key goes, every one is wrapped again under the new key's (see
        // `countersign_ledger::Kek`), in one transaction. A crash after it leaves rows under the
        // new key and the profile on the old: this runs again, and rows that open under the new
        // key already are left as they are. Keys that cannot be opened now (no passphrase) keep
        // the home on the old key until they can: switching would lose every report's key.
        // Archives' sealed credentials likewise (their keys are wrapped the same way).
        // Whether there are keys to move is judged under the write lock, and a home that
        // holds none records the new key as theirs in that same transaction: a serving node
        // storing the home's first data key under the old key meanwhile would have it
        // wrapped under a key about to be deleted (it is refused, `key_rotated`, once the
        // record names the new key).
        let keys_to_move = self.store_mut().write(|db| -> Result<bool> {
            if db.holds_report_keys()? || crate::pacs::holds_archive_secrets(db)? {
                return Ok(true);
            }
            db.set_kek_member(&request.new)?;
            Ok(false)
        })?;
        if keys_to_move {
            if let Err(e) = self.need_keys() {
                tracing::warn!(
                    error = e.code(),
                    "the rotation is adopted once the key is unlocked (the data keys move to the new key)"
                );
                return Ok(None);
            }
            let kek = crate::home::kek_of(&new)?;
            let moved = self
                .store_mut()
                .write(|db| db.rewrap_report_keys(&kek).map_err(AppError::from))?;
            self.store().truncate_wal()?;
            let archives = self.rewrap_archive_secrets(&kek)?;
            tracing::info!(
                keys = moved,
                archives,
                "data keys wrapped under the rotated key"
            );
        }
        // The profile first (written durably): a crash after it leaves a home on the new key
        // that clears the rest next time.
        let token = match profile.store {
            KeyStoreKind::Token => {
                Some(self.pending_token()?.ok_or_else(|| AppError::KeyMissing {
                    key: request.new.to_hex(),
                    reason: "the rotation's new pair on the token was not recorded".into(),
                })?)
            }
            _ => profile.token.clone(),
        };
        self.keys().set_profile(&Profile {
            key: request.new,
            token,
            ..profile
        })?;
        self.lock();
        tracing::info!(old = %request.old, new = %request.new, "switched to the rotated key");
        // Switched: what is left (deleting the old key and the request) is finished by the
        // next adoption if it fails now, and the caller opens the new key either way.
        if let Err(e) = self.forget_rotated(&request) {
            tracing::warn!(
                error = e.code(),
                "the rotated-away key is deleted next time (it could not be now)"
            );
        }
        Ok(Some(request.new))
    }

    /// Deletes the rotated-away key of `request` from the home's store (a sealed file wiped, a
    /// keychain item removed; a token's pair stays, see the module docs) and the pending
    /// request — only if it is still `request`: one asked for since is the next rotation's
    /// (`key rotate` of the new key), and deleting it would leave the home unable to adopt
    /// that one once an admin applies it (found by review, 2026-12-05).
    fn forget_rotated(&mut self, request: &RotationRequest) -> Result<()> {
        match self.profile()?.store {
            KeyStoreKind::Sealed => self.keys().remove_files(&request.old)?,
            KeyStoreKind::Keychain => {
                keychain::remove(self.dir(), &request.old)?;
            }
            KeyStoreKind::Token => {}
        }
        self.store_mut().write(|db| -> Result<()> {
            let pending = db.meta(PENDING)?;
            if pending
                .and_then(|text| RotationRequest::parse(&text).ok())
                .as_ref()
                == Some(request)
            {
                db.delete_meta(PENDING)?;
                db.delete_meta(PENDING_TOKEN)?;
            }
            Ok(())
        })
    }
}

/// Holds the key-encryption key installed on this process's store (`kek`) to the member key the
/// data keys are recorded as wrapped under (`Db::kek_member`), inside the
/// write `db` is in. The record names another key when another process adopted (or is
/// adopting) a rotation since this one opened its key — then this process must not wrap keys
/// nor project reports with the old key's (`key_rotated`) — or when the record is what is
/// wrong: a ledger restored from a backup, or copied into this home, while this process holds
/// the key the home's profile names and no rotation is under way. Then the record is
/// corrected, as this home's own keys are wrapped under the profile's key, rather than every
/// write of the home refused for good. The profile is read under the lock: a process adopting
/// a rotation switches it before it clears its request.
pub(crate) fn hold_kek(
    db: &countersign_store::Db<'_>,
    kek: Option<&countersign_ledger::Kek>,
    keys: &crate::keys::KeyStore,
) -> Result<()> {
    let Some(kek) = kek else {
        return Ok(());
    };
    let recorded = match db.kek_member()? {
        Some(hex) if hex != kek.member().to_hex() => hex,
        _ => return Ok(()),
    };
    let rotating_to = db
        .meta(PENDING)?
        .and_then(|text| RotationRequest::parse(&text).ok())
        .map(|r| r.new.to_hex());
    let profile = keys.profile()?.map(|p| p.key);
    if rotating_to.as_deref() != Some(recorded.as_str()) && profile == Some(*kek.member()) {
        tracing::warn!(
            "the data keys were recorded under another member key than this home's (a ledger \
             restored or copied in): recorded under this home's key again"
        );
        db.set_kek_member(kek.member())?;
        return Ok(());
    }
    Err(countersign_store::StoreError::KeysRotated.into())
}

/// A new key that cannot be opened now for want of a passphrase (a node, a locked desktop)
/// leaves the home on the old key, the rotation adopted at the next unlock or command; any
/// other failure is said.
fn adopted_later(e: AppError) -> Result<Option<PublicKey>> {
    if matches!(e.code(), "locked" | "passphrase_required") {
        tracing::warn!(
            error = e.code(),
            "the rotation is adopted once its new key can be opened (at the next unlock)"
        );
        Ok(None)
    } else {
        Err(e)
    }
}
