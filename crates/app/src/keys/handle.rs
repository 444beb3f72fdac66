//! The key a home signs with, wherever it is held: in this process's memory (unsealed from its
//! file) or in another holder that signs on request and never gives the key out (a hardware
//! token, an agent).

use std::fmt;
use std::sync::Arc;

use countersign_ledger::{PublicKey, SecretKey, SignError, Signer};
use zeroize::Zeroizing;

/// A signing key as the home holds it. Cloning shares it (the desktop's sync node and its
/// report commands sign with one key); a key in memory is wiped when the last clone is dropped.
#[derive(Clone)]
pub(crate) enum KeyHandle {
    /// The secret key itself, unsealed in this process.
    Memory(Arc<SecretKey>),
    /// A holder outside this process. It checks each signature it returns (see [`Signer`]).
    External(Arc<dyn Signer + Send + Sync>),
}

impl KeyHandle {
    pub(crate) fn memory(key: SecretKey) -> KeyHandle {
        KeyHandle::Memory(Arc::new(key))
    }

    pub(crate) fn public(&self) -> PublicKey {
        match self {
            KeyHandle::Memory(k) => k.public(),
            KeyHandle::External(s) => s.public(),
        }
    }

    /// The seed, only for a key in memory (a sync node's peer identity is then the member key
    /// itself). A key that never leaves its holder cannot be a libp2p identity: its node runs
    /// under a node key the member key delegates to it instead (`crate::sync`).
    pub(crate) fn seed(&self) -> Option<Zeroizing<[u8; 32]>> {
        match self {
            KeyHandle::Memory(k) => Some(k.to_seed()),
            KeyHandle::External(_) => None,
        }
    }
}

impl Signer for KeyHandle {
    fn public(&self) -> PublicKey {
        KeyHandle::public(self)
    }

    fn try_sign(&self, message: &[u8]) -> Result<[u8; 64], SignError> {
        match self {
            KeyHandle::Memory(k) => Signer::try_sign(k.as_ref(), message),
            KeyHandle::External(s) => s.try_sign(message),
        }
    }
}

impl fmt::Debug for KeyHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let held = match self {
            KeyHandle::Memory(_) => "memory",
            KeyHandle::External(_) => "external",
        };
        write!(f, "KeyHandle({held}, public {})", self.public())
    }
}
