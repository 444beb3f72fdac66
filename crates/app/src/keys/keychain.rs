//! The OS keychain as a key store: on Linux, the freedesktop Secret Service API (GNOME Keyring,
//! KWallet, KeePassXC) over the D-Bus session bus. A home whose profile names this store holds no
//! key bytes at all: no `keys/*.sealed`, no `keys/*.key`.
//!
//! One item per home and key, created in the keychain's default collection:
//!
//! ```text
//! label        Countersign signing key <first 16 hex digits>… (<home>)
//! attributes   application = countersign
//!              key         = <public key, 64 hex digits>
//!              home        = <the home's canonical path>
//! secret       the 32-byte ed25519 seed as 64 lowercase hex digits, content type text/plain
//! ```
//!
//! The keychain's own encryption protects the secret at rest (GNOME Keyring: the login
//! collection, sealed under the login password). An item is found by `application` and `key`
//! alone, so a home moved or restored to another folder still finds its key; `home` tells items
//! apart in a keychain viewer (Seahorse) and is what [`remove`] matches, so that removing one
//! home's item never takes the key from a copy of that home elsewhere.
//!
//! The session with the Secret Service is opened without its Diffie-Hellman transport
//! encryption: the bus is the user's own socket, any process that can read it can ask the
//! service for the item anyway, and the one Rust implementation of that exchange available to us
//! draws its private value from a non-cryptographic generator, so it would only obscure.
//!
//! Never a hang: with no session bus the connection fails at once; every D-Bus call has a 2 s
//! deadline; an unlock prompt (a locked collection) is waited on for at most
//! [`PROMPT_SECS`], and a prompt that cannot be shown (no display) is dismissed at once.
//!
//! The secret read back is held in [`Zeroizing`] buffers (wiped when dropped) and never logged;
//! errors name the key and the reason, never a byte of the item's content.

use std::path::Path;

use countersign_ledger::{PublicKey, SecretKey};
use zeroize::Zeroizing;

use crate::error::{AppError, Result};

/// The `application` attribute of every item this store writes.
pub const APPLICATION: &str = "countersign";

/// How long an unlock prompt (the keychain asking the user for its password) is waited on.
pub const PROMPT_SECS: u64 = 120;

/// The attributes an item of `key` carries (the `home` one is added when writing).
fn lookup_attributes(key_hex: &str) -> [(&'static str, &str); 2] {
    [("application", APPLICATION), ("key", key_hex)]
}

fn canonical_home(home: &Path) -> String {
    std::fs::canonicalize(home)
        .unwrap_or_else(|_| home.to_path_buf())
        .display()
        .to_string()
}

/// The item's label: what a keychain viewer lists.
fn label(home: &str, key_hex: &str) -> String {
    format!("Countersign signing key {}… ({home})", &key_hex[..16])
}

/// The seed an item's secret holds: 64 hex digits (surrounding white space ignored, in case the
/// item was written by hand with a line break), which must derive `public`.
fn seed_of(secret: &[u8], public: &PublicKey) -> Result<SecretKey> {
    let damaged = |reason: String| AppError::KeyDamaged {
        key: public.to_hex(),
        reason,
    };
    let text = secret.trim_ascii();
    if text.len() != 64 {
        return Err(damaged(format!(
            "the keychain item holds {} bytes, not the 64 hex digits of a seed",
            text.len()
        )));
    }
    let mut seed = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(text, seed.as_mut_slice())
        .map_err(|_| damaged("the keychain item is not a hex seed".into()))?;
    let key = SecretKey::from_seed(&seed);
    if key.public() != *public {
        return Err(damaged(
            "the keychain item holds the seed of another key".into(),
        ));
    }
    Ok(key)
}

#[cfg(target_os = "linux")]
mod secret_service {
    use std::collections::HashMap;

    use dbus_secret_service::{EncryptionType, Error, SecretService};

    use super::*;

    /// A D-Bus error as words (its name and message: about the bus, never about a secret).
    fn dbus_words(e: &dbus_secret_service::Error) -> String {
        match e {
            Error::Dbus(d) => match (d.name(), d.message()) {
                (Some(n), Some(m)) => format!("{n}: {m}"),
                (Some(n), None) => n.to_string(),
                (None, Some(m)) => m.to_string(),
                (None, None) => "D-Bus error".to_string(),
            },
            other => other.to_string(),
        }
    }

    /// What a failed call means for the user.
    fn classify(e: Error, key_hex: &str, doing: &str) -> AppError {
        match &e {
            Error::Locked | Error::Prompt => AppError::KeychainLocked {
                key: key_hex.to_string(),
            },
            Error::Dbus(d) if d.name() == Some("org.freedesktop.Secret.Error.IsLocked") => {
                AppError::KeychainLocked {
                    key: key_hex.to_string(),
                }
            }
            _ => AppError::KeychainUnavailable(format!("{doing}: {}", dbus_words(&e))),
        }
    }

    pub(super) fn connect() -> Result<SecretService> {
        SecretService::connect_with_max_prompt_timeout(EncryptionType::Plain, PROMPT_SECS).map_err(
            |e| {
                AppError::KeychainUnavailable(format!(
                    "no Secret Service on the D-Bus session bus ({})",
                    dbus_words(&e)
                ))
            },
        )
    }

    pub(super) fn store(home: &Path, key: &SecretKey) -> Result<()> {
        let public = key.public().to_hex();
        let home = canonical_home(home);
        let service = connect()?;
        let collection = service.get_default_collection().map_err(|e| match e {
            Error::NoResult => AppError::KeychainUnavailable(
                "the keychain has no default collection to keep the key in (create one, e.g. \
                 \"Login\" in Seahorse)"
                    .into(),
            ),
            e => classify(e, &public, "finding the default collection"),
        })?;
        collection
            .ensure_unlocked()
            .map_err(|e| classify(e, &public, "unlocking the default collection"))?;
        let mut attributes: HashMap<&str, &str> = lookup_attributes(&public).into_iter().collect();
        attributes.insert("home", &home);
        let secret = Zeroizing::new(hex::encode(key.to_seed().as_slice()));
        collection
            .create_item(
                &label(&home, &public),
                attributes,
                secret.as_bytes(),
                true,
                "text/plain",
            )
            .map_err(|e| classify(e, &public, "storing the key"))?;
        Ok(())
    }

    pub(super) fn load(public: &PublicKey) -> Result<SecretKey> {
        let key_hex = public.to_hex();
        let service = connect()?;
        let found = service
            .search_items(lookup_attributes(&key_hex).into_iter().collect())
            .map_err(|e| classify(e, &key_hex, "searching the keychain"))?;
        if found.unlocked.is_empty() && found.locked.is_empty() {
            return Err(AppError::KeyMissing {
                key: key_hex,
                reason: format!(
                    "the OS keychain holds no item with application={APPLICATION} and this key"
                ),
            });
        }
        // The unlocked items first; only if none of them holds the key, the locked ones, after
        // one unlock for all of them (the keychain asks for its password, if it can).
        let mut damage = None;
        for item in &found.unlocked {
            match read(item, public) {
                Ok(key) => return Ok(key),
                Err(e) => damage = Some(e),
            }
        }
        if !found.locked.is_empty() {
            let locked: Vec<_> = found.locked.iter().collect();
            service
                .unlock_all(&locked)
                .map_err(|e| classify(e, &key_hex, "unlocking the keychain"))?;
            for item in &found.locked {
                match read(item, public) {
                    Ok(key) => return Ok(key),
                    Err(e) => damage = Some(e),
                }
            }
        }
        Err(damage.unwrap_or(AppError::KeyMissing {
            key: key_hex,
            reason: "no readable item in the OS keychain".into(),
        }))
    }

    fn read(item: &dbus_secret_service::Item<'_>, public: &PublicKey) -> Result<SecretKey> {
        let secret = Zeroizing::new(
            item.get_secret()
                .map_err(|e| classify(e, &public.to_hex(), "reading the key"))?,
        );
        seed_of(&secret, public)
    }

    pub(super) fn remove(home: &Path, public: &PublicKey) -> Result<usize> {
        let key_hex = public.to_hex();
        let home = canonical_home(home);
        let service = connect()?;
        let mut attributes: HashMap<&str, &str> = lookup_attributes(&key_hex).into_iter().collect();
        attributes.insert("home", &home);
        let found = service
            .search_items(attributes)
            .map_err(|e| classify(e, &key_hex, "searching the keychain"))?;
        let mut removed = 0;
        for item in found.unlocked.iter().chain(found.locked.iter()) {
            item.delete()
                .map_err(|e| classify(e, &key_hex, "removing the key"))?;
            removed += 1;
        }
        Ok(removed)
    }
}

#[cfg(not(target_os = "linux"))]
mod secret_service {
    use super::*;

    fn unsupported() -> AppError {
        AppError::KeychainUnavailable(
            "the OS keychain store is implemented for Linux (Secret Service) only".into(),
        )
    }

    pub(super) fn store(_home: &Path, _key: &SecretKey) -> Result<()> {
        Err(unsupported())
    }

    pub(super) fn load(_public: &PublicKey) -> Result<SecretKey> {
        Err(unsupported())
    }

    fn read(item: &dbus_secret_service::Item<'_>, public: &PublicKey) -> Result<SecretKey> {
        let secret = Zeroizing::new(
            item.get_secret()
                .map_err(|e| classify(e, &public.to_hex(), "reading the key"))?,
        );
        seed_of(&secret, public)
    }

    pub(super) fn remove(_home: &Path, _public: &PublicKey) -> Result<usize> {
        Err(unsupported())
    }
}

/// Puts `key` in the keychain as `home`'s signing key (replacing an item with the same
/// attributes), then reads it back: an error if the keychain does not give back the same key.
pub fn store(home: &Path, key: &SecretKey) -> Result<()> {
    secret_service::store(home, key)?;
    let back = secret_service::load(&key.public())?;
    if back.public() != key.public() {
        return Err(AppError::KeyDamaged {
            key: key.public().to_hex(),
            reason: "the keychain did not give back the key just stored".into(),
        });
    }
    tracing::info!(key = %key.public(), "key stored in the OS keychain");
    Ok(())
}

/// The secret key of `public`, from the keychain (which may ask the user to unlock it).
pub fn load(public: &PublicKey) -> Result<SecretKey> {
    secret_service::load(public)
}

/// Removes `home`'s item of `public` from the keychain; how many were removed.
pub fn remove(home: &Path, public: &PublicKey) -> Result<usize> {
    let removed = secret_service::remove(home, public)?;
    tracing::info!(key = %public, removed, "key removed from the OS keychain");
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_items_secret_is_the_hex_seed_of_exactly_that_key() {
        let key = SecretKey::from_seed(&[7u8; 32]);
        let public = key.public();
        let hex = hex::encode([7u8; 32]);
        assert_eq!(seed_of(hex.as_bytes(), &public).unwrap().public(), public);
        // A line break after it (an item written by hand) is not part of it.
        assert!(seed_of(format!("{hex}\n").as_bytes(), &public).is_ok());
        for (secret, why) in [
            (hex[..62].to_string(), "31 bytes"),
            (format!("{}zz", &hex[..62]), "not hex"),
            (hex::encode([8u8; 32]), "another key's seed"),
            (String::new(), "empty"),
        ] {
            let e = seed_of(secret.as_bytes(), &public).unwrap_err();
            assert_eq!(e.code(), "key_damaged", "{why}: {e}");
            assert!(
                !e.to_string().contains(&secret) || secret.is_empty(),
                "{why}: {e}"
            );
        }
    }

    #[test]
    fn the_label_names_the_key_and_the_home() {
        let hex = "ab".repeat(32);
        assert_eq!(
            label("/home/ada/cs", &hex),
            format!("Countersign signing key {}… (/home/ada/cs)", &hex[..16])
        );
    }
}
