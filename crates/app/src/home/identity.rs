//! Creating this home's identity: its key in the chosen store, its profile, and — for a
//! founder — the network's genesis.

use countersign_ledger::roster::{AiModelInfo, GenesisPayload, MemberPayload, Policy};
use countersign_ledger::{Entry, Hash, Header, Kind, Role, SecretKey};

use super::{json, now_ms, Home, WhoAmI};
use crate::error::{AppError, Result};
use crate::keys::token::{TokenChoice, TokenSigner};
use crate::keys::{keychain, KeyHandle, KeyStoreKind, Passphrase, PassphraseUse, Profile};

impl Home {
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
        self.check_new_identity(name, found_network, ai_model.as_ref())?;
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
        self.check_new_identity(name, found_network, ai_model.as_ref())?;
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
        self.check_new_identity(name, found_network, ai_model.as_ref())?;
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

    /// Before any key is made: the home is new, and the name, the network's name and the model
    /// details are ones every home can show as written ([`crate::roster::check_shown`]).
    fn check_new_identity(
        &self,
        name: &str,
        found_network: Option<&str>,
        ai_model: Option<&AiModelInfo>,
    ) -> Result<()> {
        self.refuse_if_initialized()?;
        if name.trim().is_empty() {
            return Err(AppError::InvalidInput("a name is required".into()));
        }
        crate::roster::check_shown("the name", name)?;
        if let Some(network) = found_network {
            crate::roster::check_shown("the network's name", network)?;
        }
        if let Some(m) = ai_model {
            crate::roster::check_model(m)?;
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
        self.check_new_identity(name, found_network, ai_model.as_ref())?;
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
            // Every report of a network founded here must be sealed: a client that does not
            // seal cannot open a report in clear that honest homes would then write into.
            // (A benchmark's clear baseline founds its network as one from before sealing.)
            policy: Some(Policy {
                sealed_reports: self.seal_new_reports,
                ..Policy::default()
            }),
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
