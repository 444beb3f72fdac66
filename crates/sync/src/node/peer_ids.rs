//! Which key a peer is: the ed25519 key inside a libp2p peer id and back, and the node
//! identities a home runs under (its member key, or a node key made in memory for one process
//! when the member key never leaves its token).

use libp2p::{identity, PeerId};

use countersign_ledger::PublicKey;

/// The ed25519 key inside a peer id (Countersign peers' ids are their member keys).
pub fn peer_key(peer: &PeerId) -> Option<PublicKey> {
    let mh = peer.as_ref();
    if mh.code() != 0 {
        return None;
    }
    let key = identity::PublicKey::try_decode_protobuf(mh.digest()).ok()?;
    let bytes = key.try_into_ed25519().ok()?.to_bytes();
    PublicKey::from_bytes(&bytes).ok()
}

/// The key inside a libp2p identity (`None` for a key that is not ed25519).
pub fn identity_key(identity: &identity::Keypair) -> Option<PublicKey> {
    let bytes = identity.public().try_into_ed25519().ok()?.to_bytes();
    PublicKey::from_bytes(&bytes).ok()
}

/// A fresh ed25519 node identity, made in memory from the operating system's randomness, for a
/// home whose member key cannot be its node's identity. Never written anywhere: it lives and
/// dies with the process (a new one, and a new delegation, each time a node starts).
pub fn node_identity() -> (identity::Keypair, PublicKey) {
    let keypair = identity::Keypair::generate_ed25519();
    let key = identity_key(&keypair).expect("a generated ed25519 key is a valid public key");
    (keypair, key)
}

/// The libp2p identity of a member key.
pub fn keypair(seed: &[u8; 32]) -> identity::Keypair {
    let mut seed = *seed;
    identity::Keypair::ed25519_from_bytes(&mut seed).expect("32 bytes are an ed25519 secret")
}

/// The peer id a member key has on the network.
pub fn peer_id(key: &PublicKey) -> PeerId {
    let public = identity::ed25519::PublicKey::try_from_bytes(key.as_bytes())
        .expect("ledger keys are valid ed25519 keys");
    identity::PublicKey::from(public).to_peer_id()
}
