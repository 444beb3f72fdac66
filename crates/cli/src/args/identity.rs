//! Arguments of the roster's commands and of the key store a new identity uses.

use super::*;

#[derive(Subcommand, Debug)]
pub(crate) enum RosterCommand {
    /// Add a member (or update their details).
    Add {
        #[arg(long)]
        key: String,
        #[arg(long)]
        name: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Make the member an admin too.
        #[arg(long)]
        admin: bool,
        #[command(flatten)]
        model: ModelArgs,
    },
    /// Revoke a member. What of theirs this home holds stays valid (their frontier); anything
    /// else they sign is refused everywhere, whatever date it carries.
    Revoke {
        #[arg(long)]
        key: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Vouch for one more entry of a member: an honest entry written before a revocation or
    /// role change that arrived after it (and their entries before it in that report).
    Readmit {
        #[arg(long)]
        entry: String,
        /// The change it came before: a revocation, or a role change that took authority
        /// away; by default the member's revocation, else their latest such change. Only the
        /// change's author or a more senior admin may amend it.
        #[arg(long)]
        change: Option<String>,
    },
    /// Apply a member's key rotation request (`key rotate` printed it): their new key takes
    /// over their name, role and grants; their old key signs nothing after it (what of theirs
    /// this home holds stays valid, as for a revocation).
    Rotate {
        /// The request's text (`countersign-rotate:…`).
        request: String,
    },
    /// Replace a member's lost key by a new one, as an admin alone: the old key is revoked (what
    /// of theirs this home holds stays valid) and the new key is the same person.
    Replace {
        /// The lost key.
        #[arg(long)]
        key: String,
        /// The key of the member's new home (`countersign init` there prints it).
        #[arg(long)]
        new_key: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// List the members.
    List,
    /// Sign an invitation for a new member's key to join this department (admin only):
    /// print it and pass it on; they run `countersign join INVITATION`.
    Invite {
        #[arg(long)]
        key: String,
        /// A department node to dial first (repeatable; default: this home's `peer list`).
        #[arg(long = "peer")]
        peers: Vec<String>,
        /// Days the invitation is good for (1 to 90).
        #[arg(long, default_value_t = countersign_app::INVITATION_DAYS)]
        days: u64,
    },
}

/// Where `init` keeps the new identity's private key.
#[derive(Args, Debug)]
pub(crate) struct KeyStoreArgs {
    /// Where the private key is held: `sealed`, a file under the home sealed under a
    /// passphrase; `keychain`, the OS keychain (the Secret Service on Linux; no passphrase,
    /// nothing under the home); or `token`, a PKCS#11 hardware token it never leaves (the
    /// passphrase options then give the token's user PIN).
    #[arg(long, value_enum, default_value = "sealed")]
    pub(crate) key_store: KeyStoreChoice,
    /// With --key-store token: the token's PKCS#11 module, e.g.
    /// /usr/lib/softhsm/libsofthsm2.so.
    #[arg(long, value_name = "PATH", required_if_eq("key_store", "token"))]
    pub(crate) pkcs11_module: Option<PathBuf>,
    /// With --key-store token: the token's label.
    #[arg(long, value_name = "LABEL", required_if_eq("key_store", "token"))]
    pub(crate) token_label: Option<String>,
    /// With --key-store token: use the Ed25519 key pair already on the token with this CKA_ID
    /// (hex) instead of generating one.
    #[arg(long, value_name = "HEX")]
    pub(crate) pkcs11_key_id: Option<String>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyStoreChoice {
    Sealed,
    Keychain,
    Token,
}

/// The store `init` puts a new key in, with what it needs to reach it.
pub(crate) enum NewKeyStore {
    Sealed,
    Keychain,
    Token(TokenChoice),
}

impl KeyStoreArgs {
    /// The store to hold the key; token options given with another store are refused rather
    /// than ignored.
    pub(crate) fn choice(self) -> Result<NewKeyStore, AppError> {
        match (self.key_store, self.pkcs11_module, self.token_label) {
            (KeyStoreChoice::Token, Some(module), Some(label)) => {
                let key_id = self
                    .pkcs11_key_id
                    .map(|id| {
                        hex::decode(&id)
                            .ok()
                            .filter(|b| !b.is_empty())
                            .ok_or_else(|| {
                                AppError::InvalidInput(format!(
                                    "--pkcs11-key-id {id:?} is not a key id in hex"
                                ))
                            })
                    })
                    .transpose()?;
                Ok(NewKeyStore::Token(TokenChoice {
                    module,
                    label,
                    key_id,
                }))
            }
            (KeyStoreChoice::Token, _, _) => Err(AppError::InvalidInput(
                "--key-store token needs --pkcs11-module and --token-label".into(),
            )),
            (KeyStoreChoice::Sealed, None, None) if self.pkcs11_key_id.is_none() => {
                Ok(NewKeyStore::Sealed)
            }
            (KeyStoreChoice::Keychain, None, None) if self.pkcs11_key_id.is_none() => {
                Ok(NewKeyStore::Keychain)
            }
            (KeyStoreChoice::Sealed | KeyStoreChoice::Keychain, _, _) => {
                Err(AppError::InvalidInput(
                    "--pkcs11-module, --token-label and --pkcs11-key-id go with --key-store token"
                        .into(),
                ))
            }
        }
    }
}

/// What an `ai-model` member is: the roster records it, and every entry it signs shows it.
#[derive(Args, Debug)]
pub(crate) struct ModelArgs {
    /// The model's vendor (with --role ai-model).
    #[arg(long)]
    pub(crate) vendor: Option<String>,
    /// The model's name (default: the member's name).
    #[arg(long)]
    pub(crate) model: Option<String>,
    /// The model's version (with --role ai-model).
    #[arg(long)]
    pub(crate) model_version: Option<String>,
    /// A regulatory clearance id (e.g. a 510(k) or CE number).
    #[arg(long)]
    pub(crate) regulatory_id: Option<String>,
}

impl ModelArgs {
    /// The model details an `ai-model` member needs, and nobody else may carry.
    pub(crate) fn for_member(
        self,
        role: Role,
        name: &str,
    ) -> Result<Option<AiModelInfo>, AppError> {
        match (role, self.vendor, self.model_version) {
            (Role::AiModel, Some(vendor), Some(version)) => Ok(Some(AiModelInfo {
                vendor,
                model: self.model.unwrap_or_else(|| name.to_string()),
                version,
                regulatory_id: self.regulatory_id,
            })),
            (Role::AiModel, _, _) => Err(AppError::InvalidInput(
                "an ai-model member needs --vendor and --model-version".into(),
            )),
            (_, None, None) if self.model.is_none() && self.regulatory_id.is_none() => Ok(None),
            _ => Err(AppError::InvalidInput(
                "--vendor, --model, --model-version and --regulatory-id are for --role ai-model"
                    .into(),
            )),
        }
    }
}
