//! The home's key store: `identity.json` naming the active key and the profile given at `init`,
//! and one sealed file per private key, `keys/<public hex>.sealed` (mode 0600; its format is in
//! [`sealed`], passphrases in [`passphrase`]).
//!
//! Homes written before keys were sealed hold `keys/<public hex>.key`, the bare 32-byte seed;
//! [`KeyStore::migrate`] seals it and wipes the plaintext file.
//!
//! A home whose profile names another store holds no key file at all: with `keychain` its key is
//! in the OS keychain (see [`keychain`]); with `token` it is on a hardware token (see [`token`])
//! and the passphrase its source gives is the token's PIN.

use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use countersign_ledger::roster::AiModelInfo;
use countersign_ledger::{PublicKey, Role, SecretKey};
use rand_core::RngCore;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::{AppError, Result};

pub mod keychain;
pub(crate) mod lock;
mod move_store;
pub mod passphrase;
pub mod sealed;

pub use passphrase::{
    Passphrase, PassphraseSource, PassphraseUse, DEMO_PASSPHRASE, MIN_PASSPHRASE_CHARS,
};
#[cfg(debug_assertions)]
pub use sealed::use_fast_kdf_for_tests;
pub use sealed::{seal, sealed_params, unseal, KdfParams, OpenError, SEALED_LEN};

pub use move_store::KeyMoved;

/// Who this home signs as, as given at `init` (before the roster may know them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub key: PublicKey,
    pub name: String,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ai_model: Option<AiModelInfo>,
    /// Where the private key is kept. Absent (a home from before there was a choice) is the
    /// sealed file, and a sealed home writes none, so its `identity.json` reads as before.
    #[serde(default, skip_serializing_if = "KeyStoreKind::is_sealed")]
    pub store: KeyStoreKind,
    /// For the `token` store: which module, token and key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<token::TokenRef>,
}

impl Profile {
    /// The token holding the key, for a profile of the `token` store.
    pub(crate) fn token(&self) -> Result<Option<&token::TokenRef>> {
        match (self.store, &self.token) {
            (KeyStoreKind::Token, Some(t)) => Ok(Some(t)),
            (KeyStoreKind::Token, None) => Err(AppError::KeyDamaged {
                key: self.key.to_hex(),
                reason: "identity.json names the token store but no token".into(),
            }),
            _ => Ok(None),
        }
    }
}

/// Where a home keeps its private key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyStoreKind {
    /// `keys/<public hex>.sealed`, sealed under a passphrase (the default).
    #[default]
    Sealed,
    /// The OS keychain (the Secret Service on Linux); nothing under the home.
    Keychain,
    /// On a hardware token (PKCS#11), never leaving it; the passphrase is the token's PIN.
    Token,
}

impl KeyStoreKind {
    pub fn is_sealed(&self) -> bool {
        *self == KeyStoreKind::Sealed
    }

    /// Whether opening the key asks the user for a passphrase or a PIN (the desktop's unlock
    /// screen asks this rather than knowing the stores).
    pub fn needs_passphrase(&self) -> bool {
        match self {
            KeyStoreKind::Sealed | KeyStoreKind::Token => true,
            KeyStoreKind::Keychain => false,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            KeyStoreKind::Sealed => "sealed",
            KeyStoreKind::Keychain => "keychain",
            KeyStoreKind::Token => "token",
        }
    }
}

impl fmt::Display for KeyStoreKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for KeyStoreKind {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "sealed" => Ok(KeyStoreKind::Sealed),
            "keychain" => Ok(KeyStoreKind::Keychain),
            "token" => Ok(KeyStoreKind::Token),
            other => Err(format!(
                "unknown key store {other:?}: sealed (a file sealed under a passphrase), \
                 keychain (the OS keychain) or token (a PKCS#11 hardware token)"
            )),
        }
    }
}

#[derive(Debug, Clone)]
pub struct KeyStore {
    dir: PathBuf,
}

impl KeyStore {
    pub fn new(home: &Path) -> Self {
        KeyStore {
            dir: home.to_path_buf(),
        }
    }

    fn keys_dir(&self) -> PathBuf {
        self.dir.join("keys")
    }

    /// Where `key`'s sealed file is.
    pub fn sealed_path(&self, key: &PublicKey) -> PathBuf {
        self.keys_dir().join(format!("{}.sealed", key.to_hex()))
    }

    /// Where a home from before sealed keys kept `key` in plaintext.
    fn plaintext_path(&self, key: &PublicKey) -> PathBuf {
        self.keys_dir().join(format!("{}.key", key.to_hex()))
    }

    /// Waits for this home's key lock and takes it (see [`lock`]).
    pub(crate) fn lock_keys(&self) -> Result<lock::KeyLock> {
        lock::lock(&self.dir)
    }

    fn profile_path(&self) -> PathBuf {
        self.dir.join("identity.json")
    }

    pub fn profile(&self) -> Result<Option<Profile>> {
        let path = self.profile_path();
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| AppError::InvalidInput(format!("{} is damaged: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(AppError::io(format!("reading {}", path.display()))(e)),
        }
    }

    pub fn set_profile(&self, profile: &Profile) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(profile)
            .map_err(|e| AppError::InvalidInput(e.to_string()))?;
        write_durably(&self.profile_path(), &bytes)
    }

    /// Seals `key` under `passphrase` and stores it (replacing its sealed file atomically: the
    /// old file or the new one is on disk, never a mix).
    ///
    /// The file it replaces is overwritten with zeros once the new one is in its place: it
    /// holds the same key sealed under the old passphrase, and a passphrase is changed because
    /// someone may know it, who could otherwise open the key from the file's old blocks. Held
    /// open from before the rename, so a crash at any point leaves one whole sealed file.
    pub fn save(&self, key: &SecretKey, passphrase: &Passphrase) -> Result<()> {
        passphrase.check_new()?;
        let public = key.public();
        let sealed = seal(
            &key.to_seed(),
            &public,
            passphrase,
            KdfParams::for_new_keys(),
            &mut rand_core::OsRng,
        )?;
        let path = self.sealed_path(&public);
        let replaced = open_to_wipe(&path);
        write_durably(&path, &sealed)?;
        if let Some(old) = replaced {
            // The new file is in place whatever happens here: a failure is said, not returned.
            if let Err(e) = zero_and_sync(old) {
                tracing::warn!(
                    key = %public,
                    error = %e,
                    "the replaced sealed key file could not be overwritten"
                );
            }
        }
        Ok(())
    }

    /// Whether `key` is still stored unsealed (and not sealed yet).
    pub fn is_plaintext(&self, key: &PublicKey) -> bool {
        !self.sealed_path(key).exists() && self.plaintext_path(key).exists()
    }

    /// Opens `key`'s sealed file with `passphrase`.
    pub fn load(&self, key: &PublicKey, passphrase: &Passphrase) -> Result<SecretKey> {
        let path = self.sealed_path(key);
        let bytes = Zeroizing::new(fs::read(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound && self.plaintext_path(key).exists() {
                AppError::KeyMissing {
                    key: key.to_hex(),
                    reason: "the key is still stored unsealed; give a passphrase to seal it".into(),
                }
            } else {
                AppError::KeyMissing {
                    key: key.to_hex(),
                    reason: e.to_string(),
                }
            }
        })?);
        match unseal(&bytes, key, passphrase) {
            Ok(seed) => Ok(SecretKey::from_seed(&seed)),
            Err(OpenError::WrongPassphrase) => {
                tracing::info!(key = %key, "wrong passphrase");
                Err(AppError::WrongPassphrase { key: key.to_hex() })
            }
            Err(OpenError::Damaged(reason)) => Err(AppError::KeyDamaged {
                key: key.to_hex(),
                reason,
            }),
        }
    }

    /// Overwrites `key`'s sealed file (and any plaintext file from before keys were sealed) with
    /// zeros and removes it: the key has moved to another store.
    pub fn remove_files(&self, key: &PublicKey) -> Result<()> {
        for path in [self.sealed_path(key), self.plaintext_path(key)] {
            match fs::metadata(&path) {
                Ok(meta) => wipe(&path, meta.len() as usize)?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(AppError::io(format!("reading {}", path.display()))(e)),
            }
        }
        Ok(())
    }

    /// Seals a key found in plaintext (`keys/<hex>.key`, from before keys were sealed) under
    /// `passphrase`, then overwrites the plaintext file with zeros, syncs and removes it. The
    /// sealed file is on disk (synced, directory too) before the plaintext is touched.
    pub fn migrate(&self, key: &PublicKey, passphrase: &Passphrase) -> Result<SecretKey> {
        let path = self.plaintext_path(key);
        let context = || format!("reading {}", path.display());
        let bytes = Zeroizing::new(fs::read(&path).map_err(AppError::io(context()))?);
        let damaged = |reason: String| AppError::KeyDamaged {
            key: key.to_hex(),
            reason,
        };
        let seed: Zeroizing<[u8; 32]> = Zeroizing::new(
            bytes
                .as_slice()
                .try_into()
                .map_err(|_| damaged(format!("key file holds {} bytes, not 32", bytes.len())))?,
        );
        let secret = SecretKey::from_seed(&seed);
        if secret.public() != *key {
            return Err(damaged("key file does not match its name".into()));
        }
        self.save(&secret, passphrase)?;
        wipe(&path, bytes.len())?;
        tracing::info!(key = %key, "unsealed key sealed under a passphrase");
        Ok(secret)
    }
}

/// The regular file at `path` opened for writing, never through a symlink; `None` when
/// there is none (a first save) or it cannot be opened (then it is only replaced, as before).
fn open_to_wipe(path: &Path) -> Option<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW);
    }
    let file = options.open(path).ok()?;
    file.metadata().ok()?.is_file().then_some(file)
}

/// Overwrites the whole of an open file with zeros, where its bytes lie, and syncs it — but
/// only a file no name points to any more: one still linked elsewhere (a copy the owner made
/// with `cp -al` or `ln`) is theirs, and is left as it is.
fn zero_and_sync(mut file: fs::File) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if file.metadata()?.nlink() > 0 {
            return Ok(());
        }
    }
    let len = usize::try_from(file.metadata()?.len()).unwrap_or(usize::MAX);
    // A sealed key file is a few hundred bytes; anything far larger is not one.
    if len > 1 << 20 {
        return Err(std::io::Error::other(format!(
            "{len} bytes is not a sealed key file"
        )));
    }
    file.write_all(&vec![0u8; len])?;
    file.sync_all()
}

/// Overwrites a file with zeros, syncs it, removes it and syncs its directory.
fn wipe(path: &Path, len: usize) -> Result<()> {
    let context = || format!("wiping {}", path.display());
    let mut file = fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(AppError::io(context()))?;
    file.write_all(&vec![0u8; len])
        .map_err(AppError::io(context()))?;
    file.sync_all().map_err(AppError::io(context()))?;
    drop(file);
    fs::remove_file(path).map_err(AppError::io(context()))?;
    sync_dir(path)
}

fn sync_dir(path: &Path) -> Result<()> {
    if let Some(parent) = path.parent() {
        fs::File::open(parent)
            .and_then(|d| d.sync_all())
            .map_err(AppError::io(format!("syncing {}", parent.display())))?;
    }
    Ok(())
}

/// Writes `bytes` to `path` so that a crash or power cut leaves the old file or the new one: a
/// temporary file created new (owner-only from its creation, never through a symlink), synced,
/// renamed over `path`, and the directory synced.
fn write_durably(path: &Path, bytes: &[u8]) -> Result<()> {
    let context = || format!("writing {}", path.display());
    let parent = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(AppError::io(context()))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = parent.join(format!(".{name}.{:016x}.tmp", rand_core::OsRng.next_u64()));
    let mut options = fs::OpenOptions::new();
    // create_new is O_CREAT|O_EXCL: it fails on any existing path, a symlink included.
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp).map_err(AppError::io(context()))?;
    let written = file
        .write_all(bytes)
        .and_then(|()| file.sync_all())
        .and_then(|()| fs::rename(&tmp, path));
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(AppError::io(context())(e));
    }
    sync_dir(path)
}

mod handle;
pub(crate) use handle::KeyHandle;
pub mod token;

#[cfg(test)]
mod tests;
