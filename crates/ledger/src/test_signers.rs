//! Signers for tests of anything signed through [`Signer`]: fixed keys, and holders outside the
//! process that misbehave (a token holding another pair, a token pulled out).

use crate::{Hash, NetworkId, PublicKey, SecretKey, SignError, Signer};

/// Two fixed keys and a network: (old or member, new or node, network).
pub(crate) fn keys() -> (SecretKey, SecretKey, NetworkId) {
    (
        SecretKey::from_seed(&[1; 32]),
        SecretKey::from_seed(&[2; 32]),
        Hash::of(b"network"),
    )
}

/// A holder that signs with another key than it claims (a token holding a different pair).
pub(crate) struct Impostor(pub PublicKey, pub SecretKey);

impl Signer for Impostor {
    fn public(&self) -> PublicKey {
        self.0
    }
    fn try_sign(&self, message: &[u8]) -> Result<[u8; 64], SignError> {
        Signer::try_sign(&self.1, message)
    }
}

/// A holder that cannot sign now (the token was pulled out).
pub(crate) struct Gone(pub PublicKey);

impl Signer for Gone {
    fn public(&self) -> PublicKey {
        self.0
    }
    fn try_sign(&self, _: &[u8]) -> Result<[u8; 64], SignError> {
        Err(SignError::Failed("the token is gone".into()))
    }
}
