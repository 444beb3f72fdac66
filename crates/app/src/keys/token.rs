//! A hardware token as the key store, through PKCS#11 (the `cryptoki` bindings): the Ed25519
//! key pair is generated on the token (or an existing one is named by its `CKA_ID`), the private
//! half is marked sensitive and not extractable, and every signature is made by the token with
//! `CKM_EDDSA` (pure Ed25519, no parameters). Nothing under the home holds key bytes: its
//! `identity.json` records the module's path, the token's label and serial, the key's `CKA_ID`
//! and the public key ([`TokenRef`]).
//!
//! The PIN comes from the home's passphrase source (`PassphraseUse::Pin`), is held only in
//! wiped buffers for the `C_Login` call and never logged. A PKCS#11 login belongs to the whole
//! process (every session of the module shares it), so checking a PIN again — the
//! re-authentication a final asks for — logs out first: a wrong PIN then leaves the key locked.
//!
//! What comes back from the token is checked: the public key's encoding ([`ed25519_point`]) and
//! curve, the private key's flags, and every signature (`verify_strict` against the profile's
//! key) before it is used.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use countersign_ledger::{PublicKey, SignError, Signer};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as P11Error, RvError};
use cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::{Slot, TokenInfo};
use cryptoki::types::RawAuthPin;
use rand_core::RngCore;
use serde::{Deserialize, Serialize};

use super::Passphrase;
use crate::error::{AppError, Result};

/// Where a token identity's key is, as `identity.json` records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRef {
    /// The PKCS#11 module (a shared library) the token is reached through, as an absolute path.
    pub module: PathBuf,
    /// The token's label (`CKA_LABEL` of the token, as `softhsm2-util --init-token --label`).
    pub label: String,
    /// The token's serial number: a token with the same label but another serial is not this one.
    pub serial: String,
    /// The key pair's `CKA_ID`, in hex.
    pub key_id: String,
}

impl TokenRef {
    fn describe(&self) -> String {
        format!("'{}' (serial {})", self.label, self.serial)
    }
}

/// What `init --key-store token` is told: the module, the token's label, and optionally an
/// existing key pair on it (its `CKA_ID`) to use instead of generating one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenChoice {
    pub module: PathBuf,
    pub label: String,
    pub key_id: Option<Vec<u8>>,
}

/// DER of the OID 1.3.101.112 (id-Ed25519, RFC 8410): `CKA_EC_PARAMS` of an Ed25519 key.
pub const ED25519_OID: &[u8] = &[0x06, 0x03, 0x2B, 0x65, 0x70];
/// The other `CKA_EC_PARAMS` PKCS#11 3.0 allows for Ed25519: the PrintableString
/// "edwards25519".
pub const ED25519_PRINTABLE: &[u8] = b"\x13\x0cedwards25519";

/// Whether a key's `CKA_EC_PARAMS` names Ed25519 (either form the standard allows).
pub fn is_ed25519_params(params: &[u8]) -> bool {
    params == ED25519_OID || params == ED25519_PRINTABLE
}

/// The 32 bytes of an Ed25519 public key from a token's `CKA_EC_POINT`: the DER OCTET STRING
/// around them (`04 20` and the 32 bytes), as PKCS#11 3.0 specifies and SoftHSM2 gives, or the
/// bare 32 bytes some tokens give instead. Anything else is refused: another tag, a long-form
/// length (DER writes 32 in one byte), a length that disagrees with the bytes that follow, or
/// bytes after the value. The caller still checks that the bytes are a usable key
/// ([`PublicKey::from_bytes`]).
pub fn ed25519_point(bytes: &[u8]) -> std::result::Result<[u8; 32], String> {
    let value = match bytes {
        [0x04, len, rest @ ..] if bytes.len() != 32 => {
            if *len & 0x80 != 0 {
                return Err("EC_POINT: a long-form length where DER has one byte".into());
            }
            if usize::from(*len) != rest.len() {
                return Err(format!(
                    "EC_POINT: the OCTET STRING says {len} bytes and {} follow",
                    rest.len()
                ));
            }
            rest
        }
        _ if bytes.len() == 32 => bytes,
        [tag, ..] if bytes.len() > 32 => {
            return Err(format!(
                "EC_POINT: tag {tag:#04x} where an OCTET STRING (0x04) is expected"
            ))
        }
        _ => return Err(format!("EC_POINT: {} bytes is too short", bytes.len())),
    };
    value
        .try_into()
        .map_err(|_| format!("EC_POINT holds {} bytes; Ed25519 has 32", value.len()))
}

/// One loaded and initialised context per module, for the life of the process: `C_Initialize`
/// is process-wide, so a second context on the same module would be refused, and finalising one
/// would close the other's sessions.
fn context(module: &Path) -> Result<Pkcs11> {
    static CONTEXTS: Mutex<Vec<(PathBuf, Pkcs11)>> = Mutex::new(Vec::new());
    let mut loaded = CONTEXTS.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((_, ctx)) = loaded.iter().find(|(path, _)| path == module) {
        return Ok(ctx.clone());
    }
    let ctx = Pkcs11::new(module).map_err(|e| {
        AppError::TokenMissing(format!(
            "the PKCS#11 module {} cannot be loaded: {e}",
            module.display()
        ))
    })?;
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(P11Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => {
            return Err(AppError::TokenMissing(format!(
                "the PKCS#11 module {} did not initialise: {}",
                module.display(),
                short(&e)
            )))
        }
    }
    loaded.push((module.to_path_buf(), ctx.clone()));
    Ok(ctx)
}

/// A PKCS#11 error in a few words (the crate's own text for a return value is a paragraph).
fn short(e: &P11Error) -> String {
    match e {
        P11Error::Pkcs11(rv, function) => format!("{function}: {rv:?}"),
        other => other.to_string(),
    }
}

/// A PKCS#11 error as the app's: a wrong or locked PIN, a token gone, or anything else.
fn app_error(token: &str, e: P11Error) -> AppError {
    match e {
        P11Error::Pkcs11(RvError::PinIncorrect | RvError::PinLenRange | RvError::PinInvalid, _) => {
            AppError::WrongPin {
                token: token.to_string(),
            }
        }
        P11Error::Pkcs11(RvError::PinLocked, _) => AppError::PinLocked {
            token: token.to_string(),
        },
        P11Error::Pkcs11(
            RvError::TokenNotPresent
            | RvError::TokenNotRecognized
            | RvError::DeviceRemoved
            | RvError::DeviceError
            | RvError::SlotIdInvalid
            | RvError::SessionHandleInvalid
            | RvError::SessionClosed,
            _,
        ) => AppError::TokenMissing(format!(
            "the token {token} is not present or was removed ({})",
            short(&e)
        )),
        other => AppError::Token(format!("token {token}: {}", short(&other))),
    }
}

/// The one slot holding a token labelled `label` (and, when given, with that serial).
fn find_slot(
    ctx: &Pkcs11,
    module: &Path,
    label: &str,
    serial: Option<&str>,
) -> Result<(Slot, TokenInfo)> {
    let named = || match serial {
        Some(s) => format!("'{label}' (serial {s})"),
        None => format!("'{label}'"),
    };
    let slots = ctx
        .get_slots_with_token()
        .map_err(|e| app_error(&named(), e))?;
    let mut found = Vec::new();
    for slot in slots {
        let Ok(info) = ctx.get_token_info(slot) else {
            continue;
        };
        if info.label().trim_end() == label
            && serial.is_none_or(|s| info.serial_number().trim_end() == s)
        {
            found.push((slot, info));
        }
    }
    match found.len() {
        0 => Err(AppError::TokenMissing(format!(
            "no token {} is present in {}: insert it, or check the label",
            named(),
            module.display()
        ))),
        1 => Ok(found.remove(0)),
        n => Err(AppError::InvalidInput(format!(
            "{n} tokens are labelled {} in {}: give each its own label",
            named(),
            module.display()
        ))),
    }
}

/// Logs the user in with `pin`. The login is the whole process's: a user already logged in is
/// logged out first, so that the PIN given is always checked, never waved through.
fn login(session: &Session, pin: &Passphrase, token: &str) -> Result<()> {
    match session.logout() {
        Ok(()) | Err(P11Error::Pkcs11(RvError::UserNotLoggedIn, _)) => {}
        Err(e) => return Err(app_error(token, e)),
    }
    // A copy the secrecy crate wipes when it is dropped.
    let raw = RawAuthPin::new(Box::new(pin.bytes().to_vec()));
    session.login_with_raw(UserType::User, &raw).map_err(|e| {
        let e = app_error(token, e);
        if matches!(e, AppError::WrongPin { .. }) {
            tracing::info!("wrong PIN for the token");
        }
        e
    })
}

/// The one object of `class` with `CKA_ID` `id`, if any.
fn find_key(
    session: &Session,
    class: ObjectClass,
    id: &[u8],
    token: &str,
) -> Result<Option<ObjectHandle>> {
    let found = session
        .find_objects(&[Attribute::Class(class), Attribute::Id(id.to_vec())])
        .map_err(|e| app_error(token, e))?;
    match found.len() {
        0 => Ok(None),
        1 => Ok(Some(found[0])),
        n => Err(AppError::InvalidInput(format!(
            "{n} {class} objects on token {token} have the id {}: the key is ambiguous",
            hex::encode(id)
        ))),
    }
}

/// The public key of the pair `id`, read from its public-key object: Ed25519 parameters and a
/// well-formed, usable point.
fn public_of(session: &Session, id: &[u8], token: &str) -> Result<Option<PublicKey>> {
    let Some(object) = find_key(session, ObjectClass::PUBLIC_KEY, id, token)? else {
        return Ok(None);
    };
    let attrs = session
        .get_attributes(object, &[AttributeType::EcParams, AttributeType::EcPoint])
        .map_err(|e| app_error(token, e))?;
    let (mut params, mut point) = (None, None);
    for a in attrs {
        match a {
            Attribute::EcParams(p) => params = Some(p),
            Attribute::EcPoint(p) => point = Some(p),
            _ => {}
        }
    }
    let unsupported = |why: String| {
        AppError::TokenUnsupported(format!(
            "the key {} on token {token} {why}",
            hex::encode(id)
        ))
    };
    match params {
        Some(p) if is_ed25519_params(&p) => {}
        Some(p) => {
            return Err(unsupported(format!(
                "is not an Ed25519 key (EC_PARAMS {})",
                hex::encode(p)
            )))
        }
        None => return Err(unsupported("has no EC_PARAMS".into())),
    }
    let point = point.ok_or_else(|| unsupported("has no EC_POINT".into()))?;
    let bytes = ed25519_point(&point).map_err(|e| unsupported(format!("gives a bad {e}")))?;
    let key = PublicKey::from_bytes(&bytes)
        .map_err(|e| unsupported(format!("gives an unusable key: {e}")))?;
    Ok(Some(key))
}

/// Refuses a private key this store must not use: not Ed25519, or one that can leave the token.
fn check_private(session: &Session, key: ObjectHandle, id: &[u8], token: &str) -> Result<()> {
    let attrs = session
        .get_attributes(
            key,
            &[
                AttributeType::KeyType,
                AttributeType::Sensitive,
                AttributeType::Extractable,
            ],
        )
        .map_err(|e| app_error(token, e))?;
    let (mut key_type, mut sensitive, mut extractable) = (None, None, None);
    for a in attrs {
        match a {
            Attribute::KeyType(t) => key_type = Some(t),
            Attribute::Sensitive(s) => sensitive = Some(s),
            Attribute::Extractable(e) => extractable = Some(e),
            _ => {}
        }
    }
    let id = hex::encode(id);
    if key_type != Some(KeyType::EC_EDWARDS) {
        return Err(AppError::TokenUnsupported(format!(
            "the private key {id} on token {token} is not an EdDSA key ({key_type:?})"
        )));
    }
    if sensitive != Some(true) || extractable != Some(false) {
        return Err(AppError::InvalidInput(format!(
            "the private key {id} on token {token} could leave the token (sensitive \
             {sensitive:?}, extractable {extractable:?}): use a key that is sensitive and not \
             extractable"
        )));
    }
    Ok(())
}

/// Signs with an Ed25519 key held on a token. The session (and with it the login) lasts as long
/// as this signer: dropping it closes the session.
pub(crate) struct TokenSigner {
    public: PublicKey,
    /// The token's label and serial, for messages.
    token: String,
    /// The pair's `CKA_ID`, to find the private key again (see [`TokenSigner::try_sign`]).
    id: Vec<u8>,
    /// One call at a time: a PKCS#11 session must not be used by two threads at once. The
    /// handle of the private key is this session's and is kept with it.
    session: Mutex<(Session, ObjectHandle)>,
}

impl fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "TokenSigner(token {}, public {})",
            self.token, self.public
        )
    }
}

impl TokenSigner {
    /// Opens a session on the token `token`, logs in with `pin`, and finds the private key of
    /// the pair `token.key_id`, which must be `public`'s.
    pub(crate) fn open(token: &TokenRef, public: PublicKey, pin: &Passphrase) -> Result<Self> {
        let name = token.describe();
        let ctx = context(&token.module)?;
        let (slot, _) = find_slot(&ctx, &token.module, &token.label, Some(&token.serial))?;
        let session = ctx.open_ro_session(slot).map_err(|e| app_error(&name, e))?;
        login(&session, pin, &name)?;
        let id = hex::decode(&token.key_id).map_err(|_| AppError::KeyDamaged {
            key: public.to_hex(),
            reason: format!("identity.json's key id {:?} is not hex", token.key_id),
        })?;
        let missing = |reason: String| AppError::KeyMissing {
            key: public.to_hex(),
            reason,
        };
        let key = find_key(&session, ObjectClass::PRIVATE_KEY, &id, &name)?.ok_or_else(|| {
            missing(format!(
                "the token {name} holds no private key with id {}",
                token.key_id
            ))
        })?;
        // The public half, when the token still has it, must be this identity's key (each
        // signature is checked against the profile's key in any case).
        if let Some(on_token) = public_of(&session, &id, &name)? {
            if on_token != public {
                return Err(missing(format!(
                    "the key with id {} on token {name} is another key ({on_token})",
                    token.key_id
                )));
            }
        }
        tracing::info!(key = %public, "key opened on its token");
        Ok(TokenSigner {
            public,
            token: name,
            id,
            session: Mutex::new((session, key)),
        })
    }

    /// `init --key-store token`: logs in to the token `choice` names with `pin`, checks that it
    /// offers Ed25519, and generates a key pair on it (sensitive, never extractable, kept on the
    /// token) or takes the existing pair `choice.key_id`. A test signature is made and verified
    /// before anything is recorded; a pair generated here is destroyed again if any check fails.
    pub(crate) fn create(
        choice: &TokenChoice,
        pin: &Passphrase,
        label: &str,
    ) -> Result<(TokenRef, TokenSigner)> {
        let module = std::path::absolute(&choice.module).map_err(AppError::io(format!(
            "resolving {}",
            choice.module.display()
        )))?;
        let ctx = context(&module)?;
        let (slot, info) = find_slot(&ctx, &module, &choice.label, None)?;
        let serial = info.serial_number().trim_end().to_string();
        let name = format!("'{}' (serial {serial})", choice.label);
        let mechanisms = ctx
            .get_mechanism_list(slot)
            .map_err(|e| app_error(&name, e))?;
        let mut needed = vec![(MechanismType::EDDSA, "CKM_EDDSA")];
        if choice.key_id.is_none() {
            needed.push((
                MechanismType::ECC_EDWARDS_KEY_PAIR_GEN,
                "CKM_EC_EDWARDS_KEY_PAIR_GEN",
            ));
        }
        for (mechanism, what) in needed {
            if !mechanisms.contains(&mechanism) {
                return Err(AppError::TokenUnsupported(format!(
                    "the token {name} ({} {}) does not offer {what}: it cannot hold an Ed25519 \
                     key (see the README, Keys, for the tokens that can)",
                    info.manufacturer_id().trim_end(),
                    info.model().trim_end()
                )));
            }
        }
        let session = ctx.open_rw_session(slot).map_err(|e| app_error(&name, e))?;
        login(&session, pin, &name)?;
        let (id, generated) = match &choice.key_id {
            Some(id) => (id.clone(), None),
            None => {
                let mut id = vec![0u8; 16];
                rand_core::OsRng.fill_bytes(&mut id);
                let pair = generate(&session, &id, label).map_err(|e| app_error(&name, e))?;
                (id, Some(pair))
            }
        };
        let checked = (|| {
            let key =
                find_key(&session, ObjectClass::PRIVATE_KEY, &id, &name)?.ok_or_else(|| {
                    AppError::NotFound {
                        what: format!("a private key with id {} on token {name}", hex::encode(&id)),
                    }
                })?;
            check_private(&session, key, &id, &name)?;
            let public = public_of(&session, &id, &name)?.ok_or_else(|| AppError::NotFound {
                what: format!(
                    "the public key of the pair {} on token {name}",
                    hex::encode(&id)
                ),
            })?;
            let signer = TokenSigner {
                public,
                token: name.clone(),
                id: id.clone(),
                session: Mutex::new((session, key)),
            };
            // The pair signs, and its signature verifies for its public key.
            let mut probe = b"countersign token key check ".to_vec();
            probe.extend_from_slice(&rand_core::OsRng.next_u64().to_le_bytes());
            signer
                .try_sign(&probe)
                .map_err(|e| AppError::TokenUnsupported(e.to_string()))?;
            Ok(signer)
        })();
        let signer = match checked {
            Ok(signer) => signer,
            Err(e) => {
                if let Some((public, private)) = generated {
                    if let Ok(s) = ctx.open_rw_session(slot) {
                        let _ = s.destroy_object(private);
                        let _ = s.destroy_object(public);
                    }
                }
                return Err(e);
            }
        };
        tracing::info!(key = %signer.public, generated = generated.is_some(), "key on a token");
        let token = TokenRef {
            module,
            label: choice.label.clone(),
            serial,
            key_id: hex::encode(&id),
        };
        Ok((token, signer))
    }
}

/// Generates an Ed25519 pair on the token: both halves token objects with `CKA_ID` `id` and
/// `CKA_LABEL` "countersign: NAME"; the private half private, sensitive and not extractable.
fn generate(
    session: &Session,
    id: &[u8],
    name: &str,
) -> std::result::Result<(ObjectHandle, ObjectHandle), P11Error> {
    let label = format!("countersign: {name}").into_bytes();
    let public = [
        Attribute::Token(true),
        Attribute::Private(false),
        Attribute::Verify(true),
        Attribute::EcParams(ED25519_OID.to_vec()),
        Attribute::Id(id.to_vec()),
        Attribute::Label(label.clone()),
    ];
    let private = [
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Sign(true),
        Attribute::Id(id.to_vec()),
        Attribute::Label(label),
    ];
    session.generate_key_pair(&Mechanism::EccEdwardsKeyPairGen, &public, &private)
}

impl Signer for TokenSigner {
    fn public(&self) -> PublicKey {
        self.public
    }

    /// `CKM_EDDSA` (pure Ed25519) on the token; the signature is returned only if it verifies
    /// for this key.
    fn try_sign(&self, message: &[u8]) -> std::result::Result<[u8; 64], SignError> {
        let mut held = self.session.lock().unwrap_or_else(PoisonError::into_inner);
        let (session, key) = &mut *held;
        let mechanism = Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Pure));
        let failed = |e: &P11Error| {
            SignError::Failed(format!(
                "the token {} did not sign: {}",
                self.token,
                short(e)
            ))
        };
        let signature = match session.sign(&mechanism, *key, message) {
            // A login is the whole process's: another login since (a second key opened on the
            // same token, as a rotation does) may have made this session's handle of the
            // private key stale. The key is found again by its id, once.
            Err(P11Error::Pkcs11(RvError::ObjectHandleInvalid | RvError::KeyHandleInvalid, _)) => {
                *key = find_key(session, ObjectClass::PRIVATE_KEY, &self.id, &self.token)
                    .map_err(|e| SignError::Failed(e.to_string()))?
                    .ok_or_else(|| {
                        SignError::Failed(format!(
                            "the token {} no longer holds the private key {}",
                            self.token,
                            hex::encode(&self.id)
                        ))
                    })?;
                session.sign(&mechanism, *key, message)
            }
            other => other,
        }
        .map_err(|e| failed(&e))?;
        let signature: [u8; 64] = signature.as_slice().try_into().map_err(|_| {
            SignError::Failed(format!(
                "the token {} returned {} bytes, not a 64-byte Ed25519 signature",
                self.token,
                signature.len()
            ))
        })?;
        if !self.public.verifies(message, &signature) {
            return Err(SignError::Failed(format!(
                "the token {} returned a signature that does not verify for key {}",
                self.token, self.public
            )));
        }
        Ok(signature)
    }
}

#[cfg(test)]
mod tests;
