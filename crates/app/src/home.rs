//! A home: one directory holding the ledger database and the key store. Every use case is a
//! method on [`Home`].

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use countersign_ledger::roster::{AiModelInfo, GenesisPayload, MemberPayload};
use countersign_ledger::{
    Entry, Hash, Header, Kind, LogId, NetworkId, PublicKey, Role, SecretKey, Signer,
};
use countersign_store::Store;
use serde::Serialize;

use crate::error::Rejection;
use crate::error::{AppError, Result};
use crate::keys::token::{TokenChoice, TokenSigner};
use crate::keys::{
    keychain, KeyHandle, KeyStore, KeyStoreKind, Passphrase, PassphraseSource, PassphraseUse,
    Profile,
};
use crate::state::{LedgerState, Verdict, MAX_LOADED_LOGS};
use countersign_ledger::rules::TIMESTAMP_TOLERANCE_MS;
use countersign_report::Standing;

/// The directory the desktop app uses when `$COUNTERSIGN_HOME` is not set.
pub fn default_home() -> PathBuf {
    if let Some(dir) = std::env::var_os("COUNTERSIGN_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    dirs::data_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join("org.countersign.desktop")
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The answer to `whoami`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WhoAmI {
    pub key: PublicKey,
    pub name: String,
    pub role: Role,
    pub network: Option<NetworkId>,
    pub admin: bool,
    /// Whether this home holds a network or was told which one to trust (by an invitation):
    /// until then it neither syncs nor listens.
    pub joined: bool,
    /// Where the private key is kept: `sealed` (a file under the home, sealed under a
    /// passphrase), `keychain` (the OS keychain) or `token` (a hardware token, unlocked with
    /// its PIN).
    pub key_store: KeyStoreKind,
    /// Whether unlocking the key asks for a passphrase or a PIN (what the desktop's unlock
    /// screen shows).
    pub needs_passphrase: bool,
}

#[derive(Debug)]
struct Cache {
    data_version: i64,
    state: LedgerState,
}

/// An open home.
#[derive(Debug)]
pub struct Home {
    dir: PathBuf,
    pub(crate) store: Store,
    keys: KeyStore,
    /// Validation state, kept across appends and reads; dropped when another connection
    /// commits (SQLite's data_version moves) or this one writes outside `append`.
    cache: Mutex<Option<Cache>>,
    /// Entries whose stored bytes were verified, so reopening a report re-checks only what
    /// changed on disk.
    verified: Mutex<Verified>,
    /// This home's signing key, unsealed once (it is wiped from memory when the home is dropped
    /// or locked).
    pub(crate) signer: Option<KeyHandle>,
    /// Where the passphrase comes from when the signing key is needed and not unsealed yet.
    passphrase: Option<PassphraseSource>,
    /// The agent that signs for this home instead, when one was named.
    agent: Option<PathBuf>,
    /// The decode worker images are checked by (see [`crate::sandbox`]), kept between calls so
    /// that a study imported by an earlier build is checked by one worker, not one per image.
    pub(crate) decoder: Mutex<crate::sandbox::DecodeSandbox>,
}

impl Home {
    /// Opens the home at `dir`, creating the directory and ledger if needed.
    pub fn open(dir: &Path) -> Result<Home> {
        create_private_dir(dir)?;
        let mut store = Store::open(&dir.join("ledger.sqlite3"))?;
        // The report list's rows, rebuilt from the entries if this home has none of this
        // version yet (once, after an upgrade).
        crate::projection::ensure(&mut store)?;
        Ok(Home {
            dir: dir.to_path_buf(),
            store,
            keys: KeyStore::new(dir),
            cache: Mutex::new(None),
            verified: Mutex::new(Verified::default()),
            signer: None,
            passphrase: None,
            agent: None,
            decoder: Mutex::new(crate::sandbox::DecodeSandbox::new()),
        })
    }

    /// Opens the home at `dir` with a passphrase source, asked only when the secret key is
    /// needed. A home whose key is still stored unsealed (from before keys were sealed) is
    /// sealed now if the source gives a passphrase; if it has none (no terminal, no file), the
    /// home opens all the same, for reading, and is sealed the first time a key is needed.
    pub fn open_with(dir: &Path, source: PassphraseSource) -> Result<Home> {
        let mut home = Home::open(dir)?;
        home.passphrase = Some(source);
        if home.key_unsealed()? {
            match home.signer() {
                Ok(_) => {}
                Err(AppError::PassphraseRequired(_)) => {
                    tracing::warn!(
                        "the key is stored unsealed: it is sealed when a passphrase is given"
                    );
                }
                Err(e) => return Err(e),
            }
        }
        Ok(home)
    }

    /// Sets (or with `None`, removes) where the passphrase comes from.
    pub fn set_passphrase_source(&mut self, source: Option<PassphraseSource>) {
        self.passphrase = source;
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
        self.signer = Some(key);
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
    }

    /// Whether the signing key is unsealed in this session.
    pub fn is_unlocked(&self) -> bool {
        self.signer.is_some()
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
        let key = if self.keys.is_plaintext(&profile.key) {
            let new = new()?;
            new.check_new()?;
            self.keys.migrate(&profile.key, &new)?
        } else {
            let old = self.source()?.get(PassphraseUse::Unlock)?;
            let key = self.keys.load(&profile.key, &old)?;
            let new = new()?;
            new.check_new()?;
            self.keys.save(&key, &new)?;
            key
        };
        tracing::info!(key = %profile.key, "passphrase changed");
        self.signer = Some(KeyHandle::memory(key));
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

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub(crate) fn keys(&self) -> &KeyStore {
        &self.keys
    }

    pub(crate) fn profile(&self) -> Result<Profile> {
        self.keys
            .profile()?
            .ok_or_else(|| AppError::NotInitialized {
                home: self.dir.display().to_string(),
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
        self.signer.clone().ok_or_else(|| AppError::NotInitialized {
            home: self.dir.display().to_string(),
        })
    }

    /// Signs as this home's identity (see [`Home::append`]).
    pub(crate) fn append_own(
        &mut self,
        log: Option<LogId>,
        kind: Kind,
        payload: &[u8],
    ) -> Result<Entry> {
        let key = self.signer()?;
        self.append(&key, log, kind, payload)
    }

    /// A fresh read-only view of the validation state (roster and network).
    pub(crate) fn state(&self) -> Result<LedgerState> {
        LedgerState::load(&self.store.db())
    }

    /// Creates this home's identity, its key sealed under a new passphrase from the home's
    /// source; with `found_network`, also founds a department network with this identity as its
    /// admin.
    pub fn init(
        &mut self,
        name: &str,
        role: Role,
        found_network: Option<&str>,
        ai_model: Option<AiModelInfo>,
    ) -> Result<WhoAmI> {
        self.refuse_if_initialized()?;
        if name.trim().is_empty() {
            return Err(AppError::InvalidInput("a name is required".into()));
        }
        let passphrase = self.source()?.get(PassphraseUse::New)?;
        self.init_sealed(name, role, found_network, ai_model, &passphrase)
    }

    fn refuse_if_initialized(&self) -> Result<()> {
        if let Some(existing) = self.keys.profile()? {
            return Err(AppError::AlreadyInitialized {
                home: self.dir.display().to_string(),
                key: existing.key.to_hex(),
            });
        }
        Ok(())
    }

    /// [`Home::init`] with the key sealed under `passphrase` (the desktop's first run).
    pub fn init_sealed(
        &mut self,
        name: &str,
        role: Role,
        found_network: Option<&str>,
        ai_model: Option<AiModelInfo>,
        passphrase: &Passphrase,
    ) -> Result<WhoAmI> {
        passphrase.check_new()?;
        self.check_new_identity(name)?;
        let key = SecretKey::generate(&mut rand_core::OsRng);
        self.keys.save(&key, passphrase)?;
        let profile = new_profile(&key, name, role, ai_model, KeyStoreKind::Sealed);
        self.create_identity(KeyHandle::memory(key), profile, found_network)
    }

    /// [`Home::init`] with the key kept in the OS keychain: no passphrase, and no key bytes
    /// under the home. Fails with `keychain_unavailable` (nothing written) when there is no
    /// keychain to keep it in.
    pub fn init_keychain(
        &mut self,
        name: &str,
        role: Role,
        found_network: Option<&str>,
        ai_model: Option<AiModelInfo>,
    ) -> Result<WhoAmI> {
        self.check_new_identity(name)?;
        let key = SecretKey::generate(&mut rand_core::OsRng);
        keychain::store(&self.dir, &key)?;
        let public = key.public();
        let profile = new_profile(&key, name, role, ai_model, KeyStoreKind::Keychain);
        let created = self.create_identity(KeyHandle::memory(key), profile, found_network);
        if created.is_err() {
            // Not this home's key after all: the keychain keeps no orphan.
            let _ = keychain::remove(&self.dir, &public);
        }
        created
    }

    fn check_new_identity(&self, name: &str) -> Result<()> {
        self.refuse_if_initialized()?;
        if name.trim().is_empty() {
            return Err(AppError::InvalidInput("a name is required".into()));
        }
        Ok(())
    }

    /// [`Home::init`] with the key on a hardware token: generated there (or the existing pair
    /// `choice.key_id`), logging in with the PIN from the home's source. No key file is written.
    pub fn init_token(
        &mut self,
        name: &str,
        role: Role,
        found_network: Option<&str>,
        ai_model: Option<AiModelInfo>,
        choice: &TokenChoice,
    ) -> Result<WhoAmI> {
        self.check_new_identity(name)?;
        let pin = self.source()?.get(PassphraseUse::Pin)?;
        let (token, signer) = TokenSigner::create(choice, &pin, name)?;
        let profile = Profile {
            key: countersign_ledger::Signer::public(&signer),
            name: name.to_string(),
            role,
            ai_model,
            store: KeyStoreKind::Token,
            token: Some(token),
        };
        let handle = KeyHandle::External(std::sync::Arc::new(signer));
        self.create_identity(handle, profile, found_network)
    }

    /// Records the identity of `key` (already in its store): founds the network if asked, then
    /// writes the profile.
    fn create_identity(
        &mut self,
        key: KeyHandle,
        profile: Profile,
        found_network: Option<&str>,
    ) -> Result<WhoAmI> {
        if let Some(network_name) = found_network {
            self.found_network(&key, network_name, &profile)?;
        }
        // The profile is written last: a home without it is not initialised and can be retried.
        self.keys.set_profile(&profile)?;
        tracing::info!(key = %profile.key, role = %profile.role, store = %profile.store, "identity created");
        self.signer = Some(key);
        self.whoami()
    }

    fn found_network(&mut self, key: &KeyHandle, network_name: &str, p: &Profile) -> Result<()> {
        let state = self.state()?;
        if let Ok(n) = state.network() {
            return Err(AppError::InvalidInput(format!(
                "this home already belongs to network {n}"
            )));
        }
        if self.anchor()?.is_some() {
            return Err(AppError::InvalidInput(
                "this home was told which network to trust; it does not found another".into(),
            ));
        }
        let now = now_ms();
        let genesis = GenesisPayload {
            name: network_name.to_string(),
            founder: MemberPayload {
                valid_from: now,
                ai_model: p.ai_model.clone(),
                ..MemberPayload::new(p.key, &p.name, p.role, true)
            },
            policy: None,
        };
        let payload = json(&genesis);
        let header = Header::new(
            Hash::ZERO,
            Hash::ZERO,
            key.public(),
            1,
            now,
            Kind::NetworkGenesis,
            vec![],
            &payload,
        );
        let entry = Entry::sign(header, key)?;
        self.store_checked(&entry, &payload)?;
        tracing::info!(network = %entry.id(), founder = %p.key, "network founded");
        Ok(())
    }

    pub fn whoami(&self) -> Result<WhoAmI> {
        let profile = self.profile()?;
        let state = self.state()?;
        let member = state.roster().member(&profile.key);
        Ok(WhoAmI {
            key: profile.key,
            name: member.map_or(profile.name.clone(), |m| m.name.clone()),
            role: member.map_or(profile.role, |m| m.role),
            network: state.network().ok(),
            admin: member.is_some_and(|m| m.admin),
            joined: state.network().is_ok() || self.anchor()?.is_some(),
            key_store: profile.store,
            needs_passphrase: profile.store.needs_passphrase(),
        })
    }

    /// Checks and stores an entry someone else signed (used for genesis entries).
    fn store_checked(&mut self, entry: &Entry, payload: &[u8]) -> Result<()> {
        let Home { store, cache, .. } = self;
        *lock(cache.get_mut()) = None;
        store.write(|db| {
            let mut state = LedgerState::load(db)?;
            let mark = crate::projection::mark(db, &mut state)?;
            match state.ledger.accept(entry, Some(payload), now_ms())? {
                Verdict::New(Standing::Accepted) => {}
                Verdict::New(Standing::Refused(e)) => return Err(Rejection::Report(*e).into()),
                Verdict::Duplicate | Verdict::Fork { .. } | Verdict::Held { .. } => return Ok(()),
            }
            db.insert_entry(entry, Some(payload))?;
            if entry.header().kind == Kind::NetworkGenesis {
                db.set_meta("network", &entry.id().to_hex())?;
            }
            crate::projection::update(db, &mut state, mark)?;
            Ok(())
        })
    }

    /// Signs `payload` as the next entry of `log` (or as a new log when `log` is `None` and the
    /// kind is a genesis kind) with `key`, checks it against every rule, and stores it durably.
    /// Returns only after the commit: the id printed is an id on disk.
    pub(crate) fn append<S: Signer + ?Sized>(
        &mut self,
        key: &S,
        log: Option<LogId>,
        kind: Kind,
        payload: &[u8],
    ) -> Result<Entry> {
        // The state is kept across appends; a failed commit drops it (it may hold the entry).
        self.write_with_state(|db, state| {
            let network = state.network()?;
            let author = key.public();
            let now = now_ms();
            let (log_field, seq, parents, timestamp) = match log {
                None => (Hash::ZERO, 1, vec![], now),
                Some(log) => {
                    state.load_log(db, &log)?;
                    let (parents, seq) =
                        state.ledger.position_for(&log, &author).ok_or_else(|| {
                            AppError::NotFound {
                                what: format!("report {log}"),
                            }
                        })?;
                    // This clock's time — never a parent's copied forward, which would let one
                    // entry dated in 2099 drag every later one there. A parent at most the
                    // tolerance ahead is within the rule; one further ahead was held back.
                    let latest = state.ledger.latest_timestamp(&log, &parents);
                    let ts = now.max(latest.saturating_sub(TIMESTAMP_TOLERANCE_MS));
                    (log, seq, parents, ts)
                }
            };
            let header = Header::new(
                network, log_field, author, seq, timestamp, kind, parents, payload,
            );
            let entry = Entry::sign(header, key)?;
            // Info, not warn: the caller is told too. The rule's name, never its message (it
            // can quote a field value).
            let refused = |r: &Rejection| {
                tracing::info!(kind = %kind, log = %log_field, rule = %r.code(), "entry refused");
            };
            // Judged by the one acceptance path before anything is stored: what this home
            // would refuse from a peer, it does not sign for its own user either.
            match state
                .ledger
                .judge(&entry, Some(payload), now)
                .inspect_err(refused)?
            {
                Verdict::New(Standing::Accepted) => {}
                Verdict::New(Standing::Refused(e)) => {
                    let r = Rejection::Report(*e);
                    refused(&r);
                    return Err(r.into());
                }
                other => {
                    return Err(AppError::InvalidInput(format!(
                        "a freshly signed entry was not new ({other:?})"
                    )))
                }
            }
            db.insert_entry(&entry, Some(payload))?;
            state.ledger.insert(&entry, Some(payload))?;
            tracing::info!(
                entry = %entry.id(),
                log = %entry.log_id(),
                kind = %kind,
                author = %author,
                seq,
                "entry signed"
            );
            Ok(entry)
        })
    }

    /// Runs `f` in one write transaction with the validation state kept across calls
    /// (reloaded when another connection has committed). If `f` fails, the transaction rolls
    /// back and the state, which may hold what was rolled back, is dropped.
    pub(crate) fn write_with_state<T>(
        &mut self,
        f: impl FnOnce(&countersign_store::Db<'_>, &mut LedgerState) -> Result<T>,
    ) -> Result<T> {
        let Home { store, cache, .. } = self;
        let cache = lock(cache.get_mut());
        let result = store.write(|db| {
            let version = db_data_version(db)?;
            if cache.as_ref().is_none_or(|c| c.data_version != version) {
                *cache = Some(Cache {
                    data_version: version,
                    state: LedgerState::load(db)?,
                });
            }
            let state = &mut cache.as_mut().ok_or(AppError::NoNetwork)?.state;
            state.trim(MAX_LOADED_LOGS);
            // Whatever this write stores — here, by a held entry released, by a bundle or a
            // peer's batch — its reports' rows in the report list are kept in step before it
            // commits.
            let mark = crate::projection::mark(db, state)?;
            // Entries held for later come in with the first write after their time.
            crate::bundle::release_held(db, state)?;
            let out = f(db, state)?;
            crate::projection::update(db, state, mark)?;
            Ok(out)
        });
        if result.is_err() {
            *cache = None;
        }
        result
    }

    pub(crate) fn store_mut(&mut self) -> &mut Store {
        *lock(self.cache.get_mut()) = None;
        &mut self.store
    }

    /// Runs `f` on the validation state with `log` loaded, reusing the state kept across calls
    /// while no other connection has committed.
    pub(crate) fn with_state<T>(
        &self,
        log: &LogId,
        f: impl FnOnce(&mut LedgerState, &countersign_store::Db<'_>) -> Result<T>,
    ) -> Result<T> {
        let db = self.store.db();
        let mut guard = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        let version = db_data_version(&db)?;
        if guard.as_ref().is_none_or(|c| c.data_version != version) {
            *guard = Some(Cache {
                data_version: version,
                state: LedgerState::load(&db)?,
            });
        }
        let state = &mut guard.as_mut().ok_or(AppError::NoNetwork)?.state;
        state.trim(MAX_LOADED_LOGS);
        if let Err(e) = state.load_log(&db, log) {
            // A half-loaded log must not be served next time.
            *guard = None;
            return Err(e);
        }
        f(state, &db)
    }

    pub(crate) fn verified(&self) -> std::sync::MutexGuard<'_, Verified> {
        self.verified.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn lock<T>(r: std::sync::LockResult<T>) -> T {
    r.unwrap_or_else(PoisonError::into_inner)
}

/// Fingerprints of stored rows whose signature, hash and links verified. The fingerprint is
/// SipHash under this process's random key over the row's header, signature and payload: a row
/// changed on disk gets a different one (an attacker cannot aim a collision without the key),
/// so it is verified again.
///
/// Bounded: at most [`MAX_VERIFIED`] rows, in two generations of half as many. Rows go into
/// the newer; when it is full it becomes the older and the older is dropped. A row remembered
/// again (every show of a report remembers its rows) moves to the newer, so what is dropped is
/// what was least recently shown: an LRU in effect, at a map lookup per row and no per-row
/// bookkeeping. A row forgotten is only verified again.
#[derive(Debug)]
pub(crate) struct Verified {
    hasher: std::hash::RandomState,
    newer: std::collections::HashMap<countersign_ledger::EntryId, u64>,
    older: std::collections::HashMap<countersign_ledger::EntryId, u64>,
    capacity: usize,
}

/// Verified rows remembered at most (about 50 bytes each: some 13 MiB), so that a long-running
/// home's memory does not grow with its store; ten reports of 10 000 entries fit many times.
pub(crate) const MAX_VERIFIED: usize = 1 << 18;

impl Default for Verified {
    fn default() -> Self {
        Verified::with_capacity(MAX_VERIFIED)
    }
}

impl Verified {
    pub(crate) fn with_capacity(capacity: usize) -> Verified {
        Verified {
            hasher: std::hash::RandomState::new(),
            newer: std::collections::HashMap::new(),
            older: std::collections::HashMap::new(),
            capacity: capacity.max(2),
        }
    }

    /// How many rows are remembered.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.newer.len() + self.older.len()
    }

    pub(crate) fn fingerprint(&self, row: &countersign_store::StoredEntry) -> u64 {
        use std::hash::{BuildHasher, Hash as _, Hasher};
        let mut h = self.hasher.build_hasher();
        row.header.hash(&mut h);
        row.signature.hash(&mut h);
        row.payload.hash(&mut h);
        h.finish()
    }

    pub(crate) fn is_verified(&self, id: &countersign_ledger::EntryId, fingerprint: u64) -> bool {
        self.newer.get(id).or_else(|| self.older.get(id)) == Some(&fingerprint)
    }

    pub(crate) fn remember(&mut self, id: countersign_ledger::EntryId, fingerprint: u64) {
        if self.newer.len() >= self.capacity / 2 && !self.newer.contains_key(&id) {
            self.older = std::mem::take(&mut self.newer);
        }
        self.older.remove(&id);
        self.newer.insert(id, fingerprint);
    }
}

fn db_data_version(db: &countersign_store::Db<'_>) -> Result<i64> {
    Ok(db.data_version()?)
}

fn new_profile(
    key: &SecretKey,
    name: &str,
    role: Role,
    ai_model: Option<AiModelInfo>,
    store: KeyStoreKind,
) -> Profile {
    Profile {
        key: key.public(),
        name: name.to_string(),
        role,
        ai_model,
        store,
        token: None,
    }
}

pub(crate) fn json<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("payload types serialise to JSON")
}

/// Makes every file and folder this process creates from now on readable by its owner only
/// (umask 077): the ledger, its WAL, images, exports and keys hold PHI or secrets, and a
/// shared reading-room workstation has other local users. Process-wide, so the shells call
/// it first thing, before any thread or file exists.
pub fn owner_only_files() {
    #[cfg(unix)]
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
}

/// Creates the home folder (and any missing parents) as the owner's only, and narrows an
/// existing home to the owner: whatever modes its files have, nobody else can reach them.
fn create_private_dir(dir: &Path) -> Result<()> {
    let context = || format!("creating {}", dir.display());
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(AppError::io(context()))?;
        let mode = std::fs::metadata(dir)
            .map_err(AppError::io(context()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode & 0o700))
                .map_err(AppError::io(context()))?;
        }
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir).map_err(AppError::io(context()))?;
    Ok(())
}
