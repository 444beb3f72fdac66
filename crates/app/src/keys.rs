//! The home's key store: one file per private key (`keys/<public hex>.key`, 32 bytes, mode
//! 0600) and `identity.json` naming the active key and the profile given at `init`.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use countersign_ledger::roster::AiModelInfo;
use countersign_ledger::{PublicKey, Role, SecretKey};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::{AppError, Result};

/// Who this home signs as, as given at `init` (before the roster may know them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub key: PublicKey,
    pub name: String,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ai_model: Option<AiModelInfo>,
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

    fn key_path(&self, key: &PublicKey) -> PathBuf {
        self.dir.join("keys").join(format!("{}.key", key.to_hex()))
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
        write_durably(&self.profile_path(), &bytes, false)
    }

    /// Stores a private key, readable by the owner only.
    pub fn save(&self, key: &SecretKey) -> Result<()> {
        let seed = key.to_seed();
        write_durably(&self.key_path(&key.public()), seed.as_slice(), true)
    }

    pub fn load(&self, key: &PublicKey) -> Result<SecretKey> {
        let missing = |reason: String| AppError::KeyMissing {
            key: key.to_hex(),
            reason,
        };
        let bytes =
            Zeroizing::new(fs::read(self.key_path(key)).map_err(|e| missing(e.to_string()))?);
        let seed: Zeroizing<[u8; 32]> = Zeroizing::new(
            bytes
                .as_slice()
                .try_into()
                .map_err(|_| missing(format!("key file holds {} bytes, not 32", bytes.len())))?,
        );
        let secret = SecretKey::from_seed(&seed);
        if secret.public() != *key {
            return Err(missing("key file does not match its name".into()));
        }
        Ok(secret)
    }
}

fn write_durably(path: &Path, bytes: &[u8], secret: bool) -> Result<()> {
    let context = || format!("writing {}", path.display());
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(AppError::io(context()))?;
    }
    let tmp = path.with_extension("tmp");
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp).map_err(AppError::io(context()))?;
    file.write_all(bytes).map_err(AppError::io(context()))?;
    file.sync_all().map_err(AppError::io(context()))?;
    fs::rename(&tmp, path).map_err(AppError::io(context()))?;
    Ok(())
}
