//! A home: one directory holding the ledger database and the key store. Every use case is a
//! method on [`Home`]. This file holds the home itself and opening it; the rest is split by
//! what it does:
//!
//! - `state_cache`: the validation state kept across calls, the write transaction that runs
//!   with it ([`Home::write_with_state`], [`Home::with_state`]) and the cache of verified
//!   entries;
//! - `append`: signing, judging and storing an entry ([`Home::append`]);
//! - `sealing`: sealing a payload under its report's data key ([`seal_payload`]) and the
//!   key-encryption key ([`kek_of`]);
//! - `key_session`: the key of the session; `identity`: creating an identity; `verified`: what
//!   the verified-entries cache holds;
//! - `process`: the set-up of the process both shells call first thing
//!   ([`owner_only_files`], [`no_core_dumps`], [`no_library_backtraces`], [`no_huge_pages`]).

mod append;
mod identity;
mod key_session;
mod process;
mod sealing;
mod state_cache;
mod verified;
pub(crate) use verified::Verified;

pub use key_session::DataKeys;
pub use process::{no_core_dumps, no_huge_pages, no_library_backtraces, owner_only_files};
pub(crate) use sealing::{kek_of, seal_payload};

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use countersign_ledger::{NetworkId, PublicKey, Role};
use countersign_store::Store;
use serde::Serialize;

use crate::error::{AppError, Result};
use crate::keys::{KeyHandle, KeyStore, KeyStoreKind, PassphraseSource, Profile};
use crate::state::LedgerState;

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
    pub(crate) passphrase: Option<PassphraseSource>,
    /// The agent that signs for this home instead, when one was named.
    agent: Option<PathBuf>,
    /// The decode worker images are checked by (see [`crate::sandbox`]), kept between calls so
    /// that a study imported by an earlier build is checked by one worker, not one per image.
    pub(crate) decoder: Mutex<crate::sandbox::DecodeSandbox>,
    /// Whether reports created here are sealed (always, but in the benchmarks' baseline).
    seal_new_reports: bool,
    /// The report list's rows need a rebuild that waits for the data keys (see
    /// [`Home::open`]).
    projection_pending: bool,
}

impl Home {
    /// Opens the home at `dir`, creating the directory and ledger if needed.
    pub fn open(dir: &Path) -> Result<Home> {
        create_private_dir(dir)?;
        let mut store = Store::open(&dir.join("ledger.sqlite3"))?;
        // The image store's prefix folders, made once (see `prepare_image_folders`).
        countersign_store::prepare_image_folders(dir).map_err(AppError::io(format!(
            "preparing the image store in {}",
            dir.display()
        )))?;
        // The report list's rows, rebuilt from the entries if this home has none of this
        // version yet (once, after an upgrade). A home holding data keys rebuilds them once its
        // key is unlocked (see `finish_projection`): rebuilt locked, every sealed report's row
        // would lose its study and template.
        let projection_pending = crate::projection::ensure(&mut store)?;
        let mut home = Home {
            dir: dir.to_path_buf(),
            store,
            keys: KeyStore::new(dir),
            cache: Mutex::new(None),
            verified: Mutex::new(Verified::default()),
            signer: None,
            passphrase: None,
            agent: None,
            decoder: Mutex::new(crate::sandbox::DecodeSandbox::new()),
            seal_new_reports: true,
            projection_pending,
        };
        // An erasure not finished after its commit (a crash, a step that failed, a reader
        // that held the WAL) is finished now.
        if home.store.db().meta(crate::erasure::UNFINISHED)?.is_some()
            || !home.store.db().erased_image_files()?.is_empty()
        {
            // Not every command's failure if it cannot be now (another process holds the
            // write lock through a long intake): tried again at the next open.
            if let Err(e) = crate::erasure::after_commit(&mut home) {
                tracing::warn!(
                    error = e.code(),
                    "what is left after an erasure is finished at the next open"
                );
            }
        }
        // The working folders model runs killed midway left (copies of a report's images and
        // what the model said of them): nothing else would remove them. Tried at every open.
        match crate::ai::sweep_work(dir) {
            Ok(swept) if swept.removed > 0 => {
                tracing::info!(
                    removed = swept.removed,
                    "leftovers of stopped model runs removed"
                );
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(
                error = e.code(),
                "leftovers of stopped model runs are removed at the next open"
            ),
        }
        Ok(home)
    }

    /// Opens the home at `dir` with a passphrase source, asked only when the secret key is
    /// needed. A home whose key is still stored unsealed (from before keys were sealed) is
    /// sealed now if the source gives a passphrase; if it has none (no terminal, no file), the
    /// home opens all the same, for reading, and is sealed the first time a key is needed.
    pub fn open_with(dir: &Path, source: PassphraseSource) -> Result<Home> {
        let mut home = Home::open(dir)?;
        home.passphrase = Some(source);
        if home.projection_pending {
            home.open_keys(false)?;
            home.finish_projection()?;
        }
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

    /// Whether reports created from now on are sealed (and, before `init`, whether the network
    /// this home founds requires sealed reports). For the benchmarks only, which measure the
    /// same work with and without sealing in one run: a report created clear is one from
    /// before sealing existed, whose text no erasure shreds.
    #[doc(hidden)]
    pub fn set_seal_new_reports(&mut self, on: bool) {
        self.seal_new_reports = on;
    }

    /// Sets (or with `None`, removes) where the passphrase comes from.
    pub fn set_passphrase_source(&mut self, source: Option<PassphraseSource>) {
        self.passphrase = source;
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
}

pub(crate) fn json<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("payload types serialise to JSON")
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
