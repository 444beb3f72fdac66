//! The sealed key file: a private key sealed under a passphrase.
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

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{Key, Tag, XChaCha20Poly1305, XNonce};
use countersign_ledger::{PublicKey, SecretKey};
use rand_core::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::Passphrase;
use crate::error::{AppError, Result};

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

    pub(crate) fn is_sane(&self) -> bool {
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
pub(crate) const BODY_LEN: usize = HEADER_LEN + 32 + 16;
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
