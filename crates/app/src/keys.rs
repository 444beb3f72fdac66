//! The home's key store: `identity.json` naming the active key and the profile given at `init`,
//! and one sealed file per private key, `keys/<public hex>.sealed` (mode 0600).
//!
//! A sealed key file is 139 bytes:
//!
//! ```text
//! offset  size  field
//!      0     7  magic "CSKEY1\0"
//!      7     4  Argon2id memory, KiB        (u32, little endian)
//!     11     4  Argon2id iterations         (u32, little endian)
//!     15     4  Argon2id lanes              (u32, little endian)
//!     19    16  salt                        (random)
//!     35    24  nonce                       (random)
//!     59    48  XChaCha20-Poly1305 ciphertext of the 32-byte ed25519 seed, then its 16-byte tag
//!    107    32  SHA-256 of bytes 0..107     (a checksum: tells a damaged file from a wrong
//!                                            passphrase; the tag is what protects the key)
//! ```
//!
//! The AEAD key is Argon2id(passphrase, salt) with the parameters of the header; the associated
//! data is the header (bytes 0..59) followed by the 32-byte public key, so a sealed key cannot
//! be renamed onto another key, nor its parameters lowered, without the tag failing. The length,
//! magic, checksum and parameters (within [`KdfParams::SANE`]) are checked before Argon2id
//! allocates anything.
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
use std::sync::Arc;

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{Key, Tag, XChaCha20Poly1305, XNonce};
use countersign_ledger::roster::AiModelInfo;
use countersign_ledger::{PublicKey, Role, SecretKey};
use rand_core::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::{AppError, Result};

pub mod keychain;
mod move_store;

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

/// The passphrase of the `demo` command's homes (documented in the README; a demo home holds no
/// secret worth keeping).
pub const DEMO_PASSPHRASE: &str = "countersign-demo";

/// The shortest passphrase a key is sealed under.
pub const MIN_PASSPHRASE_CHARS: usize = 8;

/// A passphrase: wiped from memory when dropped, never printed (`Debug` shows no byte of it).
#[derive(Clone)]
pub struct Passphrase(Zeroizing<Vec<u8>>);

impl Passphrase {
    pub fn new(text: impl Into<String>) -> Passphrase {
        Passphrase(Zeroizing::new(text.into().into_bytes()))
    }

    /// A passphrase as read from a file or a descriptor: one trailing line break (`\n` or
    /// `\r\n`) is not part of it.
    pub fn from_file_bytes(bytes: Zeroizing<Vec<u8>>) -> Passphrase {
        let mut bytes = bytes;
        if bytes.last() == Some(&b'\n') {
            bytes.pop();
            if bytes.last() == Some(&b'\r') {
                bytes.pop();
            }
        }
        Passphrase(bytes)
    }

    fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// Whether two passphrases are the same (a new one typed twice).
    pub fn same_as(&self, other: &Passphrase) -> bool {
        self.0.as_slice() == other.0.as_slice()
    }

    /// Refuses a passphrase too short to seal a key under.
    pub fn check_new(&self) -> Result<()> {
        let chars = String::from_utf8_lossy(&self.0).chars().count();
        if chars < MIN_PASSPHRASE_CHARS {
            return Err(AppError::InvalidInput(format!(
                "a passphrase needs at least {MIN_PASSPHRASE_CHARS} characters"
            )));
        }
        Ok(())
    }
}

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passphrase(<redacted>)")
    }
}

/// Why a passphrase is asked for: to open the key, or to seal a key under a new one (a terminal
/// asks for a new one twice).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PassphraseUse {
    /// Opening the sealed key.
    Unlock,
    /// Sealing a new key (`init`).
    New,
    /// Sealing a key found unsealed (a home from before keys were sealed).
    Migrate,
    /// The PIN of the hardware token holding the key (logging in to it, asked once).
    Pin,
}

type PassphraseFn = dyn Fn(PassphraseUse) -> Result<Passphrase> + Send + Sync;

/// Where a home gets a passphrase when it needs the secret key: given by the shell (the CLI reads
/// a file, a descriptor or the terminal; tests give a fixed one). Called only when a secret is
/// needed, never at open for a home whose key is sealed.
#[derive(Clone)]
pub struct PassphraseSource {
    get: Arc<PassphraseFn>,
    /// See [`PassphraseSource::locked`].
    locked: bool,
}

impl PassphraseSource {
    pub fn new(f: impl Fn(PassphraseUse) -> Result<Passphrase> + Send + Sync + 'static) -> Self {
        PassphraseSource {
            get: Arc::new(f),
            locked: false,
        }
    }

    /// Always this passphrase.
    pub fn fixed(passphrase: Passphrase) -> Self {
        PassphraseSource::new(move |_| Ok(passphrase.clone()))
    }

    /// No passphrase, ever (`locked`): the key is opened only by an explicit
    /// [`crate::Home::unlock`], whichever store holds it; a key in the OS keychain is not read
    /// on demand either. The desktop's source: its key stays locked until the user unlocks it,
    /// and again after the idle time.
    pub fn locked() -> Self {
        PassphraseSource {
            get: Arc::new(|_| Err(AppError::Locked)),
            locked: true,
        }
    }

    /// Whether a key this source does not open may be opened on demand all the same (a key in
    /// the keychain, which asks nothing of this source).
    pub(crate) fn opens_on_demand(&self) -> bool {
        !self.locked
    }

    pub(crate) fn get(&self, why: PassphraseUse) -> Result<Passphrase> {
        (self.get)(why)
    }
}

impl fmt::Debug for PassphraseSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PassphraseSource")
    }
}

/// Argon2id's cost parameters, as a sealed file records them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct KdfParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub lanes: u32,
}

impl KdfParams {
    /// What new keys are sealed with: one unlock takes 0.3–1 s on the machine the README names
    /// (see the README's "Keys").
    pub const DEFAULT: KdfParams = KdfParams {
        memory_kib: 256 * 1024,
        iterations: 3,
        lanes: 1,
    };

    /// The cheapest parameters a file may carry (8 MiB, one pass): what a debug build seals with
    /// when `COUNTERSIGN_TEST_FAST_KDF=1`, so that the test suite's thousands of unlocks stay
    /// fast. Release builds ignore that variable.
    pub const FAST_FOR_TESTS: KdfParams = KdfParams {
        memory_kib: 8 * 1024,
        iterations: 1,
        lanes: 1,
    };

    /// The range a file's parameters must lie in (inclusive): memory 8 MiB to 1 GiB, 1 to 16
    /// iterations, 1 to 4 lanes. A file outside it is damaged, refused before anything is
    /// allocated.
    pub const SANE: (KdfParams, KdfParams) = (
        KdfParams {
            memory_kib: 8 * 1024,
            iterations: 1,
            lanes: 1,
        },
        KdfParams {
            memory_kib: 1024 * 1024,
            iterations: 16,
            lanes: 4,
        },
    );

    /// The parameters new keys are sealed with here.
    pub fn for_new_keys() -> KdfParams {
        #[cfg(debug_assertions)]
        if FAST_KDF_FOR_TESTS.load(std::sync::atomic::Ordering::Relaxed)
            || std::env::var_os("COUNTERSIGN_TEST_FAST_KDF").is_some_and(|v| v == "1")
        {
            return KdfParams::FAST_FOR_TESTS;
        }
        KdfParams::DEFAULT
    }

    fn is_sane(&self) -> bool {
        let (lo, hi) = KdfParams::SANE;
        (lo.memory_kib..=hi.memory_kib).contains(&self.memory_kib)
            && (lo.iterations..=hi.iterations).contains(&self.iterations)
            && (lo.lanes..=hi.lanes).contains(&self.lanes)
    }
}

#[cfg(debug_assertions)]
static FAST_KDF_FOR_TESTS: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// Tests in a debug build: seal new keys in this process with [`KdfParams::FAST_FOR_TESTS`]
/// (a release build ignores this, as it ignores `COUNTERSIGN_TEST_FAST_KDF`).
#[doc(hidden)]
pub fn use_fast_kdf_for_tests() {
    #[cfg(debug_assertions)]
    FAST_KDF_FOR_TESTS.store(true, std::sync::atomic::Ordering::Relaxed);
}

const MAGIC: &[u8; 7] = b"CSKEY1\0";
const HEADER_LEN: usize = 7 + 12 + 16 + 24;
/// Header, ciphertext and tag: what the checksum covers.
const BODY_LEN: usize = HEADER_LEN + 32 + 16;
/// The whole sealed file's length.
pub const SEALED_LEN: usize = BODY_LEN + 32;

/// Why a sealed key did not open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenError {
    /// The passphrase is not the one the key was sealed under.
    WrongPassphrase,
    /// Not a sealed key of this format, or changed since it was sealed.
    Damaged(String),
}

/// Seals `seed` (the secret of `public`) under `passphrase`: the file's bytes.
pub fn seal(
    seed: &[u8; 32],
    public: &PublicKey,
    passphrase: &Passphrase,
    params: KdfParams,
    rng: &mut impl RngCore,
) -> Result<Vec<u8>> {
    if !params.is_sane() {
        return Err(AppError::InvalidInput(format!(
            "Argon2id parameters {params:?} are outside the accepted range"
        )));
    }
    let mut salt = [0u8; 16];
    let mut nonce = [0u8; 24];
    rng.fill_bytes(&mut salt);
    rng.fill_bytes(&mut nonce);
    let mut out = Vec::with_capacity(SEALED_LEN);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&params.memory_kib.to_le_bytes());
    out.extend_from_slice(&params.iterations.to_le_bytes());
    out.extend_from_slice(&params.lanes.to_le_bytes());
    out.extend_from_slice(&salt);
    out.extend_from_slice(&nonce);
    let key = derive(passphrase, &salt, params)
        .map_err(|e| AppError::InvalidInput(format!("deriving the sealing key: {e}")))?;
    let aad = associated_data(&out, public);
    let mut buffer = Zeroizing::new(*seed);
    let tag = XChaCha20Poly1305::new(Key::from_slice(key.as_slice()))
        .encrypt_in_place_detached(XNonce::from_slice(&nonce), &aad, buffer.as_mut_slice())
        .map_err(|_| AppError::InvalidInput("sealing the key failed".into()))?;
    out.extend_from_slice(buffer.as_slice());
    out.extend_from_slice(&tag);
    let checksum = Sha256::digest(&out);
    out.extend_from_slice(&checksum);
    debug_assert_eq!(out.len(), SEALED_LEN);
    Ok(out)
}

/// The parameters a sealed file names, if it is one (its length and magic right, the parameters
/// within [`KdfParams::SANE`]).
pub fn sealed_params(bytes: &[u8]) -> std::result::Result<KdfParams, OpenError> {
    if bytes.len() != SEALED_LEN {
        return Err(OpenError::Damaged(format!(
            "a sealed key is {SEALED_LEN} bytes, this file is {}",
            bytes.len()
        )));
    }
    if bytes[..7] != MAGIC[..] {
        return Err(OpenError::Damaged("not a sealed key (bad magic)".into()));
    }
    if Sha256::digest(&bytes[..BODY_LEN])[..] != bytes[BODY_LEN..] {
        return Err(OpenError::Damaged(
            "the file changed since it was sealed (checksum)".into(),
        ));
    }
    let u32_at =
        |at: usize| u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    let params = KdfParams {
        memory_kib: u32_at(7),
        iterations: u32_at(11),
        lanes: u32_at(15),
    };
    if !params.is_sane() {
        return Err(OpenError::Damaged(format!(
            "Argon2id parameters {params:?} are outside the accepted range"
        )));
    }
    Ok(params)
}

/// Opens a sealed key: the seed, if `passphrase` is the one it was sealed under and nothing in
/// the file (or its public key) changed.
pub fn unseal(
    bytes: &[u8],
    public: &PublicKey,
    passphrase: &Passphrase,
) -> std::result::Result<Zeroizing<[u8; 32]>, OpenError> {
    let params = sealed_params(bytes)?;
    let salt = &bytes[19..35];
    let nonce = &bytes[35..HEADER_LEN];
    let key = derive(passphrase, salt, params).map_err(|e| OpenError::Damaged(e.to_string()))?;
    let aad = associated_data(&bytes[..HEADER_LEN], public);
    let mut seed = Zeroizing::new([0u8; 32]);
    seed.copy_from_slice(&bytes[HEADER_LEN..HEADER_LEN + 32]);
    let tag = Tag::from_slice(&bytes[HEADER_LEN + 32..BODY_LEN]);
    // The checksum matched, so the bytes are as sealed: a failing tag is a wrong passphrase
    // (or a file renamed onto another key, or rewritten with its checksum recomputed).
    XChaCha20Poly1305::new(Key::from_slice(key.as_slice()))
        .decrypt_in_place_detached(XNonce::from_slice(nonce), &aad, seed.as_mut_slice(), tag)
        .map_err(|_| OpenError::WrongPassphrase)?;
    if SecretKey::from_seed(&seed).public() != *public {
        return Err(OpenError::Damaged("the key does not match its name".into()));
    }
    Ok(seed)
}

fn derive(
    passphrase: &Passphrase,
    salt: &[u8],
    p: KdfParams,
) -> std::result::Result<Zeroizing<[u8; 32]>, argon2::Error> {
    let params = Params::new(p.memory_kib, p.iterations, p.lanes, Some(32))?;
    let mut key = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params).hash_password_into(
        passphrase.bytes(),
        salt,
        key.as_mut_slice(),
    )?;
    Ok(key)
}

fn associated_data(header: &[u8], public: &PublicKey) -> Vec<u8> {
    let mut aad = Vec::with_capacity(HEADER_LEN + 32);
    aad.extend_from_slice(&header[..HEADER_LEN]);
    aad.extend_from_slice(public.as_bytes());
    aad
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
        write_durably(&self.sealed_path(&public), &sealed)
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
