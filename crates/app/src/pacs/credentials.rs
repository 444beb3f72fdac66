//! An archive's credentials at rest: never on disk unsealed.
//!
//! The archive's configuration says that it has credentials (`auth`: Basic or Bearer, the
//! user, whether plain http to another host is allowed) and is listed as it is; the secret
//! (password or token) is kept beside it under its own meta key, sealed the way the home keeps
//! report data keys:
//!
//! ```text
//! data key  32 random bytes, wrapped under the home's KEK (countersign_ledger::Kek::wrap) for
//!           the pseudo-log SHA-256(b"countersign archive credential v1\0" ‖ archive name)
//! secret    b"CAS1" ‖ nonce[24] ‖ XChaCha20-Poly1305(data key, nonce, aad, secret) ‖ tag[16]
//! aad       b"countersign archive secret v1\0" ‖ name ‖ 0 ‖ kind ‖ 0 ‖ user
//! ```
//!
//! The KEK exists only while the member key is unlocked (see `home::key_session`), so a copy
//! of the home (a backup, a stolen disk) does not give the archive's password. The AAD binds
//! the secret to its archive, kind and user: a blob moved to another archive, or a user name
//! edited in the configuration, does not open. A data key of its own per archive (rather than
//! the secret wrapped under the KEK directly) keeps the KEK's one wrapping format, and lets a
//! rotation re-wrap 32 bytes as it does for reports.

use base64::Engine as _;
use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{Key, Tag, XChaCha20Poly1305, XNonce};
use countersign_ledger::{DataKey, Hash, Kek, LogId};
use countersign_pacs::auth::MAX_SECRET_LEN;
use countersign_pacs::Credentials;
use rand_core::RngCore;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// That an archive has credentials, and which (never the secret): part of its configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveAuth {
    /// `basic` or `bearer`.
    pub kind: String,
    /// Basic's user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The operator allowed the credentials over plain http to a host other than this machine.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_cleartext: bool,
}

/// The credentials to add an archive with.
#[derive(Debug, Clone)]
pub struct ArchiveLogin {
    pub credentials: Credentials,
    /// Send them over plain `http://` to a host other than this machine (a finding in any
    /// security review; for a lab network only).
    pub allow_cleartext: bool,
}

/// The secret as stored (base64 of the wrapped data key and of the sealed secret).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SealedSecret {
    key: String,
    secret: String,
}

const LOG_DOMAIN: &[u8] = b"countersign archive credential v1\0";
const AAD_DOMAIN: &[u8] = b"countersign archive secret v1\0";
const MAGIC: &[u8; 4] = b"CAS1";
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
/// The longest sealed secret read (base64 of the largest secret sealed), checked before
/// decoding.
const MAX_SEALED_B64: usize = (MAGIC.len() + NONCE_LEN + MAX_SECRET_LEN + TAG_LEN).div_ceil(3) * 4;

/// The meta key an archive's sealed secret is kept under.
pub(crate) fn meta_key(archive: &str) -> String {
    format!("pacs.secret.{archive}")
}

fn pseudo_log(archive: &str) -> LogId {
    Hash::of(&[LOG_DOMAIN, archive.as_bytes()].concat())
}

fn aad(archive: &str, auth: &ArchiveAuth) -> Vec<u8> {
    let mut aad = Vec::with_capacity(AAD_DOMAIN.len() + archive.len() + 16);
    aad.extend_from_slice(AAD_DOMAIN);
    aad.extend_from_slice(archive.as_bytes());
    aad.push(0);
    aad.extend_from_slice(auth.kind.as_bytes());
    aad.push(0);
    aad.extend_from_slice(auth.user.as_deref().unwrap_or_default().as_bytes());
    aad
}

impl ArchiveAuth {
    pub(crate) fn of(login: &ArchiveLogin) -> ArchiveAuth {
        ArchiveAuth {
            kind: login.credentials.kind().to_string(),
            user: login.credentials.user().map(String::from),
            allow_cleartext: login.allow_cleartext,
        }
    }
}

/// Seals `secret` for `archive` under a fresh data key wrapped under `kek`.
pub(crate) fn seal(kek: &Kek, archive: &str, auth: &ArchiveAuth, secret: &str) -> SealedSecret {
    let mut key = Zeroizing::new([0u8; 32]);
    let mut wrap_nonce = [0u8; countersign_ledger::WRAP_NONCE_LEN];
    let mut nonce = [0u8; NONCE_LEN];
    rand_core::OsRng.fill_bytes(key.as_mut_slice());
    rand_core::OsRng.fill_bytes(&mut wrap_nonce);
    rand_core::OsRng.fill_bytes(&mut nonce);
    let data_key = DataKey::from_bytes(*key);
    let wrapped = kek.wrap(&pseudo_log(archive), &data_key, &wrap_nonce);
    let mut buffer = Zeroizing::new(secret.as_bytes().to_vec());
    let tag = XChaCha20Poly1305::new(Key::from_slice(data_key.as_bytes()))
        .encrypt_in_place_detached(XNonce::from_slice(&nonce), &aad(archive, auth), &mut buffer)
        .expect("a bounded secret is within XChaCha20-Poly1305's length limit");
    let mut sealed = Vec::with_capacity(MAGIC.len() + NONCE_LEN + buffer.len() + TAG_LEN);
    sealed.extend_from_slice(MAGIC);
    sealed.extend_from_slice(&nonce);
    sealed.extend_from_slice(&buffer);
    sealed.extend_from_slice(&tag);
    let b64 = base64::engine::general_purpose::STANDARD;
    SealedSecret {
        key: b64.encode(wrapped),
        secret: b64.encode(sealed),
    }
}

/// Opens what [`seal`] sealed for `archive`; the reason it does not, without any of it.
pub(crate) fn open(
    kek: &Kek,
    archive: &str,
    auth: &ArchiveAuth,
    sealed: &SealedSecret,
) -> Result<Zeroizing<String>, String> {
    if sealed.key.len() > 128 || sealed.secret.len() > MAX_SEALED_B64 {
        return Err("its sealed secret is larger than any this home seals".into());
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let wrapped = b64
        .decode(&sealed.key)
        .map_err(|_| "its wrapped key is not base64".to_string())?;
    let bytes = b64
        .decode(&sealed.secret)
        .map_err(|_| "its sealed secret is not base64".to_string())?;
    let data_key = kek.unwrap(&pseudo_log(archive), &wrapped).map_err(|e| {
        format!(
            "{e} — sealed under another member key (after a key rotation) or damaged: \
             remove the archive and add it again with its credentials"
        )
    })?;
    let body = bytes
        .strip_prefix(MAGIC)
        .filter(|b| b.len() >= NONCE_LEN + TAG_LEN)
        .ok_or_else(|| "its sealed secret is malformed".to_string())?;
    let (nonce, rest) = body.split_at(NONCE_LEN);
    let (ciphertext, tag) = rest.split_at(rest.len() - TAG_LEN);
    let mut buffer = Zeroizing::new(ciphertext.to_vec());
    XChaCha20Poly1305::new(Key::from_slice(data_key.as_bytes()))
        .decrypt_in_place_detached(
            XNonce::from_slice(nonce),
            &aad(archive, auth),
            &mut buffer,
            Tag::from_slice(tag),
        )
        .map_err(|_| {
            "its sealed secret does not open (damaged, or moved from another archive or user)"
                .to_string()
        })?;
    let text = std::str::from_utf8(&buffer).map_err(|_| "its secret is not text".to_string())?;
    Ok(Zeroizing::new(text.to_string()))
}

/// `sealed`'s data key wrapped under `new` instead of `old` (a key rotation); `None` when it
/// opens under `new` already (a rotation run again after a crash). The secret's blob is
/// unchanged: only its 32-byte key is re-wrapped.
pub(crate) fn rewrap(
    old: &Kek,
    new: &Kek,
    archive: &str,
    sealed: &SealedSecret,
) -> Result<Option<SealedSecret>, String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    if sealed.key.len() > 128 {
        return Err("its wrapped key is larger than any this home wraps".into());
    }
    let wrapped = b64
        .decode(&sealed.key)
        .map_err(|_| "its wrapped key is not base64".to_string())?;
    let log = pseudo_log(archive);
    if new.unwrap(&log, &wrapped).is_ok() {
        return Ok(None);
    }
    let data_key = old.unwrap(&log, &wrapped).map_err(|e| e.to_string())?;
    let mut nonce = [0u8; countersign_ledger::WRAP_NONCE_LEN];
    rand_core::OsRng.fill_bytes(&mut nonce);
    Ok(Some(SealedSecret {
        key: b64.encode(new.wrap(&log, &data_key, &nonce)),
        secret: sealed.secret.clone(),
    }))
}

/// The credentials from what was opened.
pub(crate) fn credentials(
    auth: &ArchiveAuth,
    secret: Zeroizing<String>,
) -> Result<Credentials, String> {
    let made = match (auth.kind.as_str(), &auth.user) {
        ("basic", Some(user)) => Credentials::basic(user, secret),
        ("bearer", None) => Credentials::bearer(secret),
        _ => return Err(format!("{:?} is not a kind of credentials", auth.kind)),
    };
    made.map_err(|e| e.to_string())
}

/// What a secret looks like when it is stored unsealed in some encoding: its bytes, hex, and
/// base64 at each of the three alignments a longer blob could hold it at (without the first
/// and last groups, which the neighbouring bytes change).
#[cfg(test)]
pub(crate) fn clear_forms(secret: &str) -> Vec<Vec<u8>> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut all = vec![secret.as_bytes().to_vec(), hex::encode(secret).into_bytes()];
    for k in 0..3 {
        let mut bytes = vec![0u8; k];
        bytes.extend_from_slice(secret.as_bytes());
        let text = b64.encode(&bytes);
        all.push(text.as_bytes()[4..text.len() - 4].to_vec());
    }
    all
}

#[cfg(test)]
pub(crate) fn holds_clear(haystack: &[u8], secret: &str) -> bool {
    clear_forms(secret)
        .iter()
        .any(|f| haystack.windows(f.len()).any(|w| w == f.as_slice()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kek(seed: u8) -> Kek {
        use countersign_ledger::Signer as _;
        let key = countersign_ledger::SecretKey::from_seed(&[seed; 32]);
        let member = key.public();
        let sig = key
            .try_sign(&countersign_ledger::kek_message(&member))
            .unwrap();
        Kek::from_signature(&member, &sig).unwrap()
    }

    fn basic(user: &str) -> ArchiveAuth {
        ArchiveAuth {
            kind: "basic".into(),
            user: Some(user.into()),
            allow_cleartext: false,
        }
    }

    /// The sealed secret opens to what was sealed, and holds none of it in clear.
    #[test]
    fn a_sealed_secret_round_trips_and_is_not_in_clear() {
        let k = kek(1);
        let sealed = seal(&k, "orthanc", &basic("alice"), "correct horse battery");
        let json = serde_json::to_string(&sealed).unwrap();
        assert!(
            !holds_clear(json.as_bytes(), "correct horse battery"),
            "{json}"
        );
        let opened = open(&k, "orthanc", &basic("alice"), &sealed).unwrap();
        assert_eq!(opened.as_str(), "correct horse battery");
        let made = credentials(&basic("alice"), opened).unwrap();
        assert_eq!(made.user(), Some("alice"));
        // Sealed twice: fresh keys and nonces, nothing alike.
        let again = seal(&k, "orthanc", &basic("alice"), "correct horse battery");
        assert_ne!((again.key, again.secret), (sealed.key, sealed.secret));
    }

    /// A rotation re-wraps the data key: the secret opens under the new KEK only, and doing
    /// it again changes nothing.
    #[test]
    fn a_rotation_rewraps_the_key_and_is_idempotent() {
        let (old, new) = (kek(1), kek(2));
        let sealed = seal(&old, "orthanc", &basic("alice"), "pw");
        let moved = rewrap(&old, &new, "orthanc", &sealed).unwrap().unwrap();
        assert_eq!(moved.secret, sealed.secret);
        assert_eq!(
            open(&new, "orthanc", &basic("alice"), &moved)
                .unwrap()
                .as_str(),
            "pw"
        );
        assert!(open(&old, "orthanc", &basic("alice"), &moved).is_err());
        assert!(rewrap(&old, &new, "orthanc", &moved).unwrap().is_none());
        assert!(rewrap(&kek(3), &new, "orthanc", &sealed).is_err());
    }

    /// A flipped byte, another archive, another user, another member key: refused, said why.
    #[test]
    fn a_tampered_or_moved_secret_is_refused() {
        let k = kek(1);
        let sealed = seal(&k, "orthanc", &basic("alice"), "pw");
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut bytes = b64.decode(&sealed.secret).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let tampered = SealedSecret {
            key: sealed.key.clone(),
            secret: b64.encode(&bytes),
        };
        let err = open(&k, "orthanc", &basic("alice"), &tampered).unwrap_err();
        assert!(err.contains("does not open"), "{err}");
        assert!(open(&k, "other", &basic("alice"), &sealed).is_err());
        assert!(open(&k, "orthanc", &basic("mallory"), &sealed)
            .unwrap_err()
            .contains("does not open"));
        assert!(open(&kek(2), "orthanc", &basic("alice"), &sealed)
            .unwrap_err()
            .contains("another member key"));
        let huge = SealedSecret {
            key: sealed.key.clone(),
            secret: "A".repeat(MAX_SEALED_B64 + 4),
        };
        assert!(open(&k, "orthanc", &basic("alice"), &huge)
            .unwrap_err()
            .contains("larger"));
    }
}
