//! The home's signing key in this session: opening it from its store (a sealed file, the OS
//! keychain, a token, or an agent), locking it, re-authenticating for sign-off, and changing
//! the passphrase.
//!
//! And the key-encryption key the home's data keys are wrapped under at rest
//! ([`countersign_ledger::Kek`]): made from a signature by the signing key whenever that key is
//! opened, installed on the store for this session, wiped when the key is locked. Reading a
//! sealed report opens the key on demand from the home's passphrase source when it can
//! ([`Home::open_keys`]); without one the report shows as not readable because the home is
//! locked.

use std::path::PathBuf;

use countersign_ledger::PublicKey;

use super::{Home, WhoAmI};
use crate::error::{AppError, Result};
use crate::keys::token::TokenSigner;
use crate::keys::{
    keychain, KeyHandle, KeyStoreKind, Passphrase, PassphraseSource, PassphraseUse, Profile,
};

/// This home's data keys held open (its key-encryption key), to share with another handle on the
/// same home that holds no key itself: the desktop's read handles. Opaque; wiped when the last
/// holder drops it; `Debug` redacted.
#[derive(Clone, Debug)]
pub struct DataKeys(std::sync::Arc<countersign_ledger::Kek>);

impl Home {
    /// The data keys as this home holds them open now (`None`: locked).
    pub fn data_keys(&self) -> Option<DataKeys> {
        self.store.kek().map(DataKeys)
    }

    /// Opens this home's data keys with `keys` from another handle on the same home (`None`:
    /// locks them). The state kept across calls is reloaded when that changes what it can read.
    pub fn use_data_keys(&self, keys: Option<DataKeys>) {
        let now = self.store.kek();
        let same = match (&now, &keys) {
            (Some(a), Some(b)) => std::sync::Arc::ptr_eq(a, &b.0),
            (None, None) => true,
            _ => false,
        };
        if !same {
            self.store.set_kek(keys.map(|k| k.0));
            self.forget_state();
        }
    }

    /// Whether this home's key is still stored unsealed (a home from before keys were sealed,
    /// not migrated yet).
    pub fn key_unsealed(&self) -> Result<bool> {
        Ok(match self.keys.profile()? {
            Some(p) => self.keys.is_plaintext(&p.key),
            None => false,
        })
    }

    /// Opens the signing key with `passphrase` (sealing it under that passphrase first if it
    /// was stored unsealed) and keeps it for this session. Opening again checks the passphrase
    /// again: signing a final re-authenticates this way. A key kept in the OS keychain is read
    /// from the keychain again (the passphrase is not used).
    pub fn unlock(&mut self, passphrase: &Passphrase) -> Result<WhoAmI> {
        self.unlock_with(Some(passphrase))
    }

    /// [`Home::unlock`] for whichever store holds the key: a sealed key needs `passphrase`
    /// (`passphrase_required` without one); a key in the keychain needs none, and the keychain
    /// asks the user itself if its collection is locked.
    pub fn unlock_with(&mut self, passphrase: Option<&Passphrase>) -> Result<WhoAmI> {
        let profile = self.profile()?;
        // The token's login is this process's, not the handle's: checking the PIN again logs
        // the old one out, so a wrong PIN leaves the key locked (the old handle goes first).
        self.signer = None;
        let key = self.open_key(&profile, |_| {
            passphrase.cloned().ok_or_else(|| {
                AppError::PassphraseRequired(
                    "the key is sealed under a passphrase and none was given".into(),
                )
            })
        })?;
        self.install_kek(&key)?;
        self.signer = Some(key);
        // A rotation this home asked for that stands here now but could not be adopted when
        // it arrived (the key was locked, and the data keys move to the new key only with it
        // open): adopted now, as the CLI does before every command, and the new key opened
        // with the same passphrase or PIN. Not adopted, this home would go on signing with a
        // key its department no longer takes entries from. Before the report list's pending
        // rebuild: after a crash between the data keys' move and the switch, those keys open
        // only under the new key.
        match self.adopt_rotation_with(passphrase) {
            Ok(Some(new)) => {
                tracing::info!(new = %new, "unlocked: this home's rotation adopted");
                return self.unlock_with(passphrase);
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(
                error = e.code(),
                "a rotation could not be adopted at unlock"
            ),
        }
        self.finish_projection()?;
        self.whoami()
    }

    /// Re-authentication before signing a report off as final, whatever was unlocked before: a
    /// sealed key is opened again with `passphrase` and a token logged in to again with it as
    /// the PIN (`reauth_required` without one); a key in the keychain is read from the keychain
    /// again, which asks the user only if its collection is locked.
    pub fn reauthenticate(&mut self, passphrase: Option<&Passphrase>) -> Result<WhoAmI> {
        if passphrase.is_none() && self.profile()?.store.needs_passphrase() {
            return Err(AppError::ReauthRequired);
        }
        self.unlock_with(passphrase)
    }

    /// Signs through the agent on `socket` (see [`Home::use_agent`]).
    pub(crate) fn set_agent(&mut self, socket: PathBuf) {
        self.signer = None;
        self.agent = Some(socket);
    }

    /// The signing key from the store the profile names: the OS keychain; a token logged in to
    /// with the PIN `passphrase` gives; or the sealed file opened with a passphrase from
    /// `passphrase` (a key still stored unsealed is sealed under it).
    pub(crate) fn open_key(
        &self,
        profile: &Profile,
        passphrase: impl FnOnce(PassphraseUse) -> Result<Passphrase>,
    ) -> Result<KeyHandle> {
        let key = match profile.store {
            KeyStoreKind::Token => {
                let token = profile.token()?.ok_or_else(|| AppError::KeyDamaged {
                    key: profile.key.to_hex(),
                    reason: "identity.json names the token store but no token".into(),
                })?;
                let pin = passphrase(PassphraseUse::Pin)?;
                let signer = TokenSigner::open(token, profile.key, &pin)?;
                return Ok(KeyHandle::External(std::sync::Arc::new(signer)));
            }
            KeyStoreKind::Keychain => keychain::load(&profile.key)?,
            KeyStoreKind::Sealed if self.keys.is_plaintext(&profile.key) => {
                let passphrase = passphrase(PassphraseUse::Migrate)?;
                self.keys.migrate(&profile.key, &passphrase)?
            }
            KeyStoreKind::Sealed => {
                let passphrase = passphrase(PassphraseUse::Unlock)?;
                self.keys.load(&profile.key, &passphrase)?
            }
        };
        Ok(KeyHandle::memory(key))
    }

    /// Forgets the unsealed signing key (wiped from memory); signing asks for the passphrase
    /// again.
    pub fn lock(&mut self) {
        if self.signer.take().is_some() {
            tracing::info!("key locked");
        }
        // The data keys' key-encryption key goes with it, and every data key the validation
        // state holds in memory.
        if self.store.kek().is_some() {
            self.store.set_kek(None);
            self.forget_state();
        }
        // The desktop locks when idle or when the screen locks: the moment a laptop is left.
        // Drafts saved since the last truncation are in WAL frames, older versions too.
        self.forget_wal("locking the key");
    }

    /// Whether this home's data keys can be opened now (its key-encryption key is installed).
    pub fn keys_open(&self) -> bool {
        self.store.kek().is_some()
    }

    /// Makes the key-encryption key from `key` and installs it on the store: a signature of
    /// the fixed wrapping message, checked against the member's public key before use (a
    /// token or an agent answering with anything else fails here, loudly). Data keys still
    /// stored in clear by an older build are wrapped now, and the validation state is
    /// reloaded so the reports it held unreadable read. A no-op when this key's is installed.
    pub(crate) fn install_kek(&self, key: &KeyHandle) -> Result<()> {
        if self
            .store
            .kek()
            .is_some_and(|k| *k.member() == key.public())
        {
            return Ok(());
        }
        // Only the home's active key: the rows are wrapped under its KEK. (A sync retried as
        // the new key of a rotation not adopted yet signs with that key, and keeps the KEK
        // the rows are under until the home adopts the rotation and re-wraps them.)
        if key.public() != self.profile()?.key {
            return Ok(());
        }
        self.store
            .set_kek(Some(std::sync::Arc::new(super::kek_of(key)?)));
        self.forget_state();
        let db = self.store.db();
        if db.report_key_counts()?.1 > 0 {
            // A record of another key (a ledger restored or copied in) is corrected first.
            crate::rotation::hold_kek(&db, self.store.kek().as_deref(), &self.keys)?;
            // One row at a time (each an atomic statement; wrapping again is a no-op), so
            // that a reader holding the home by shared reference can do it too.
            let wrapped = db.wrap_clear_report_keys()?;
            // The clear bytes were overwritten in place (`secure_delete`); their older page
            // versions leave the WAL with this checkpoint.
            self.store.truncate_wal()?;
            tracing::info!(keys = wrapped, "data keys stored in clear wrapped");
        }
        Ok(())
    }

    /// Opens the data keys for reading when this home holds any and they are not open: with
    /// the key already unlocked, the agent, or the key opened from the passphrase source (a
    /// file, a descriptor, the terminal) — never a locked source's (the desktop: only an
    /// explicit unlock opens the key). When none can be had the home stays locked and sealed
    /// reports read as not readable (`locked` in their view); with `required`, that is an
    /// error instead (`passphrase_required`, or `locked` on the desktop). A wrong passphrase
    /// is an error either way.
    pub(crate) fn open_keys(&self, required: bool) -> Result<()> {
        if self.store.kek().is_some() || !self.store.db().holds_report_keys()? {
            return Ok(());
        }
        self.open_kek(required)
    }

    /// Runs `read` with the data keys open as [`Home::open_keys`] opens them, and once more
    /// when a data key arrived after that check: another process on this home (a serving
    /// node pulling from a peer) stored it, so the check found none and left the
    /// key-encryption key closed, and `read` met a wrapped key it could not open
    /// (`KeysLocked`). The second time the home holds a key, so the key is opened from the
    /// passphrase source, or the error is the one `open_keys` gives a home that holds keys.
    /// Without it `verify` run beside a syncing node failed `locked` although its passphrase
    /// was at hand (`sync_trust::a_busy_store_retries_the_pull_instead_of_cutting_the_peer_off`,
    /// 2026-12-04).
    pub(crate) fn with_keys_open<T>(
        &self,
        required: bool,
        mut read: impl FnMut() -> Result<T>,
    ) -> Result<T> {
        self.open_keys(required)?;
        match read() {
            Err(AppError::Store(countersign_store::StoreError::KeysLocked))
                if self.store.kek().is_none() =>
            {
                self.open_keys(required)?;
                read()
            }
            other => other,
        }
    }

    /// Runs `write` in one write transaction with the data keys open when the home holds any,
    /// judged under the write lock: a check made before the lock leaves a window in which
    /// another process (a serving node pulling a sealed report) stores the home's first data
    /// key, and `write` would then meet that key closed. When the home holds a key and this
    /// session's are closed, the transaction ends without writing, the key is opened outside
    /// it (opening can ask for a passphrase, which must not happen while the write lock is
    /// held) and `write` runs in a second transaction; keys, once open, stay open for it.
    /// `reindex` rebuilt a sealed report's row without what only its payload says when the
    /// key arrived in that window (found by review, 2026-12-04).
    pub(crate) fn write_with_keys_open<T>(
        &mut self,
        required: bool,
        write: impl Fn(&countersign_store::Db<'_>) -> Result<T>,
    ) -> Result<T> {
        let closed = self.store.kek().is_none();
        let first = self.write_holding_kek(|db| {
            if closed && db.holds_report_keys()? {
                return Ok(None);
            }
            write(db).map(Some)
        })?;
        if let Some(out) = first {
            return Ok(out);
        }
        self.open_keys(required)?;
        self.write_holding_kek(write)
    }

    /// Runs `write` in one write transaction, the key-encryption key installed here first held
    /// to the member key the data keys are recorded under ([`crate::rotation::hold_kek`]): what
    /// wraps keys or projects reports with them must not do it with the key of before a
    /// rotation another process adopted. Such a key is put away ([`Home::unless_rotated`]).
    pub(crate) fn write_holding_kek<T>(
        &mut self,
        write: impl FnOnce(&countersign_store::Db<'_>) -> Result<T>,
    ) -> Result<T> {
        let kek = self.store.kek();
        let Home { store, keys, .. } = &mut *self;
        let out = store.write(|db| {
            crate::rotation::hold_kek(db, kek.as_deref(), keys)?;
            write(db)
        });
        self.unless_rotated(out)
    }

    /// `out`, with the key put away when it says the key is from before a rotation another
    /// process adopted (`key_rotated`): the next use opens the key the home's profile names now
    /// (the desktop asks for it again; a home with a passphrase source opens it itself).
    pub(crate) fn unless_rotated<T>(&mut self, out: Result<T>) -> Result<T> {
        if let Err(AppError::Store(countersign_store::StoreError::KeysRotated)) = &out {
            self.lock();
        }
        out
    }

    /// The key-encryption key, whether or not this home holds a data key yet: taking one in
    /// (a bundle carrying keys) needs it — never stored in clear. `passphrase_required` (the
    /// CLI without a source) or `locked` (the desktop) when the key cannot be opened.
    pub(crate) fn need_keys(&self) -> Result<()> {
        if self.store.kek().is_some() {
            return Ok(());
        }
        self.open_kek(true)
    }

    fn open_kek(&self, required: bool) -> Result<()> {
        if let Some(key) = &self.signer {
            return self.install_kek(key);
        }
        let profile = match self.profile() {
            Ok(p) => p,
            // No identity, no key: the keys it holds (in clear, from an older build) read as
            // they are, and wrapped ones stay sealed.
            Err(AppError::NotInitialized { .. }) if !required => return Ok(()),
            Err(e) => return Err(e),
        };
        #[cfg(unix)]
        if let Some(socket) = &self.agent {
            return match crate::agent::signer(socket, &profile.key) {
                Ok(key) => self.install_kek(&key),
                // Reading goes on locked when the agent is gone.
                Err(AppError::AgentUnavailable(_)) if !required => Ok(()),
                Err(e) => Err(e),
            };
        }
        let source = match &self.passphrase {
            Some(s) if s.opens_on_demand() => s,
            Some(_) if required => return Err(AppError::Locked),
            Some(_) => return Ok(()),
            None if required => {
                return Err(AppError::PassphraseRequired(
                    "this home's data keys are sealed under its key, and no passphrase was \
                     given to open it"
                        .into(),
                ))
            }
            None => return Ok(()),
        };
        match self.open_key(&profile, |why| source.get(why)) {
            Ok(key) => self.install_kek(&key),
            Err(AppError::PassphraseRequired(_)) if !required => Ok(()),
            // Reading goes on without the keys when the key's holder cannot be reached.
            Err(
                AppError::KeychainUnavailable(_)
                | AppError::KeychainLocked { .. }
                | AppError::TokenMissing(_),
            ) if !required => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Whether the signing key is unsealed in this session.
    pub fn is_unlocked(&self) -> bool {
        self.signer.is_some()
    }

    /// The key this handle holds unlocked, if any (the key it signs with, which may no longer
    /// be the profile's when another process adopted a rotation since).
    pub fn unlocked_as(&self) -> Option<PublicKey> {
        self.signer.as_ref().map(|s| s.public())
    }

    /// Seals this home's key under a new passphrase, replacing the sealed file atomically. The
    /// current passphrase comes from the home's source and is checked first; only then is
    /// `new` asked for the new one. A key still stored unsealed is sealed under the new one.
    pub fn change_passphrase(&mut self, new: impl FnOnce() -> Result<Passphrase>) -> Result<()> {
        let profile = self.profile()?;
        match profile.store {
            KeyStoreKind::Token => {
                return Err(AppError::InvalidInput(
                    "this home's key is on a hardware token: change the token's PIN with its \
                     own tools (e.g. `pkcs11-tool --change-pin`)"
                        .into(),
                ))
            }
            KeyStoreKind::Keychain => {
                return Err(AppError::InvalidInput(
                    "this home's key is kept in the OS keychain, not sealed under a passphrase: \
                     there is no passphrase to change (the keychain's own password protects it; \
                     `key move --to sealed` moves the key to a sealed file)"
                        .into(),
                ))
            }
            KeyStoreKind::Sealed => {}
        }
        // Asking took a while: another program may have adopted a rotation or moved the key
        // meanwhile and deleted the current key, which saving it now would bring back (and
        // with it a key that can only void the member's honest entries as a fork).
        let changed = || {
            AppError::InvalidInput(
                "this home's key changed while the new passphrase was asked for (another \
                 program adopted its rotation or moved it): nothing was changed; change it again"
                    .into(),
            )
        };
        let key = if self.keys.is_plaintext(&profile.key) {
            let new = new()?;
            new.check_new()?;
            let _held = self.keys.lock_keys()?;
            if self.profile()? != profile {
                return Err(changed());
            }
            self.keys.migrate(&profile.key, &new)?
        } else {
            let old = self.source()?.get(PassphraseUse::Unlock)?;
            let key = self.keys.load(&profile.key, &old)?;
            // The new key of a rotation asked for and not adopted yet is sealed under the same
            // passphrase, and adopting it opens it with the one the current key opens with:
            // left under the old passphrase, the rotation could never be adopted (found by
            // review, 2026-12-04). Resealed first, so a failure leaves both as they were or
            // the pending key ahead — which a second try finds under the new passphrase.
            let next = self.pending_rotation()?;
            let pending = match next {
                Some(next) => match self.keys.load(&next, &old) {
                    Ok(k) => Some(Ok(k)),
                    Err(AppError::WrongPassphrase { .. }) => Some(Err(next)),
                    Err(e) => return Err(e),
                },
                None => None,
            };
            let new = new()?;
            new.check_new()?;
            // Both passphrases had, the key lock is held from the look at the key below to the
            // last save: without it, an adoption in another program between the two (each save
            // an Argon2id seal, up to a second) deleted the current key, and the save below
            // wrote it back for good, this handle signing with it (found by review,
            // 2026-12-05). An adoption waiting for the lock runs after, under the new
            // passphrase.
            let _held = self.keys.lock_keys()?;
            if self.profile()? != profile || self.pending_rotation()? != next {
                return Err(changed());
            }
            crate::keys::lock::reached("passphrase.resealing");
            match pending {
                Some(Ok(pending)) => self.keys.save(&pending, &new)?,
                Some(Err(next)) => {
                    if let Err(e) = self.keys.load(&next, &new) {
                        return Err(match e {
                            AppError::WrongPassphrase { .. } => AppError::InvalidInput(format!(
                                "the new key {next} of the rotation this home asked for is \
                                 sealed under neither the current passphrase nor the new one \
                                 (a passphrase changed before it was resealed with it): \
                                 change the passphrase back to the one it is sealed under, \
                                 or ask for the rotation again"
                            )),
                            other => other,
                        });
                    }
                }
                None => {}
            }
            self.keys.save(&key, &new)?;
            key
        };
        tracing::info!(key = %profile.key, "passphrase changed");
        let key = KeyHandle::memory(key);
        self.install_kek(&key)?;
        self.signer = Some(key);
        Ok(())
    }

    /// Where this home's sealed key file is.
    pub fn sealed_key_path(&self) -> Result<PathBuf> {
        Ok(self.keys.sealed_path(&self.profile()?.key))
    }

    /// Another handle on this home (its own database connection) holding the same unsealed key:
    /// the desktop's background sync node runs on one.
    pub fn open_again(&mut self) -> Result<Home> {
        let signer = self.signer()?;
        let mut other = Home::open(&self.dir)?;
        other.store.set_kek(self.store.kek());
        other.signer = Some(signer);
        other.passphrase = self.passphrase.clone();
        other.agent = self.agent.clone();
        Ok(other)
    }

    pub(crate) fn source(&self) -> Result<&PassphraseSource> {
        self.passphrase.as_ref().ok_or_else(|| {
            AppError::PassphraseRequired(
                "the key is sealed under a passphrase and none was given".into(),
            )
        })
    }

    /// This home's signing key, unsealed with a passphrase from the home's source the first
    /// time it is needed (a key still stored unsealed is sealed under it then).
    /// A key in the OS keychain is read from it then, unless the source is
    /// [`PassphraseSource::locked`] (the desktop: only an explicit unlock opens the key).
    pub(crate) fn signer(&mut self) -> Result<KeyHandle> {
        #[cfg(unix)]
        if let (None, Some(socket)) = (&self.signer, &self.agent) {
            let key = self.profile()?.key;
            self.signer = Some(crate::agent::signer(socket, &key)?);
        }
        if self.signer.is_none() {
            let profile = self.profile()?;
            if profile.store == KeyStoreKind::Keychain
                && self
                    .passphrase
                    .as_ref()
                    .is_some_and(|s| !s.opens_on_demand())
            {
                return Err(AppError::Locked);
            }
            let key = self.open_key(&profile, |why| self.source()?.get(why))?;
            self.signer = Some(key);
        }
        let key = self
            .signer
            .clone()
            .ok_or_else(|| AppError::NotInitialized {
                home: self.dir.display().to_string(),
            })?;
        // Whatever the key signs next may store a data key: its wrapping key is made now.
        self.install_kek(&key)?;
        Ok(key)
    }
}
