//! Node delegations: a member whose key never leaves its holder (a hardware token, an agent)
//! still runs a sync node.
//!
//! libp2p needs its identity key in memory, so such a home's node runs under a fresh ed25519
//! **node key** made in memory for that process (never written anywhere), and the member key —
//! on the token — signs a delegation binding that node key to the member in one network:
//!
//! ```text
//! signed    NODE_DELEGATION_DOMAIN ‖ network[32] ‖ member[32] ‖ node[32]
//! encoding  version:u8 (1) network[32] member[32] node[32] signature[64]      (161 bytes)
//! ```
//!
//! A peer that presents one is served as the member, and only if all of this holds
//! ([`NodeDelegation::verify`], then the roster): the node key is the key the peer proved in its
//! handshake (so a delegation copied off the wire is worth nothing to anyone else), the
//! signature verifies (`verify_strict`), the network is the receiver's, and the member is on
//! the roster and not revoked (the roster's judgement, not this module's). The network id is in
//! the signed bytes, so a delegation given in one department is refused in another; the domain
//! differs from every other signature's (entries, checkpoints, invitations, rotations), so a
//! delegation can never be taken for one of them nor one of them for a delegation.
//!
//! A delegation does not expire: it is worth something only with the node key, which lives and
//! dies with one process, and a revoked member's delegations go with the member.
//!
//! ```
//! use countersign_ledger::delegation::NodeDelegation;
//! use countersign_ledger::{Hash, SecretKey};
//!
//! let member = SecretKey::from_seed(&[1; 32]); // on the token, in real life
//! let node = SecretKey::from_seed(&[2; 32]).public();
//! let network = Hash::of(b"genesis");
//! let d = NodeDelegation::try_sign(network, &member, node).unwrap();
//! let back = NodeDelegation::decode(&d.encode()).unwrap();
//! assert_eq!(back.verify(&network, Some(&node)), Ok(()));
//! assert_eq!(back.member, member.public());
//! ```

use crate::{NetworkId, PublicKey, SignError, Signer};

/// Domain of a node delegation's signature.
pub const NODE_DELEGATION_DOMAIN: &[u8] = b"countersign/node-delegation/v1\0";
pub const DELEGATION_VERSION: u8 = 1;
/// A delegation's length in bytes: every delegation has exactly this many.
pub const DELEGATION_LEN: usize = 1 + 32 * 3 + 64;

/// "Member `member` runs its node for `network` under `node`", signed by the member key.
#[derive(Clone, PartialEq, Eq)]
pub struct NodeDelegation {
    pub network: NetworkId,
    pub member: PublicKey,
    pub node: PublicKey,
    pub signature: [u8; 64],
}

impl std::fmt::Debug for NodeDelegation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeDelegation")
            .field("network", &self.network)
            .field("member", &self.member)
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

/// Why bytes are not a delegation, or a delegation does not hold for the peer presenting it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DelegationError {
    #[error("a node delegation is {DELEGATION_LEN} bytes, not {found}")]
    WrongLength { found: usize },
    #[error("node delegation format version {0} is not supported")]
    UnknownVersion(u8),
    #[error("a key in the node delegation is not a valid ed25519 key")]
    BadKey,
    #[error("a node delegation names a node key other than the member key")]
    SameKey,
    #[error("the node delegation's signature does not verify for its member, network and node")]
    Forged,
    #[error("the node delegation is for another node key than the peer's own")]
    NotThisNode,
    #[error("the node delegation is for another network")]
    OtherNetwork,
}

impl DelegationError {
    /// A stable code, for logs and refusal reasons.
    pub fn code(&self) -> &'static str {
        match self {
            DelegationError::WrongLength { .. }
            | DelegationError::UnknownVersion(_)
            | DelegationError::BadKey
            | DelegationError::SameKey => "delegation_malformed",
            DelegationError::Forged => "delegation_forged",
            DelegationError::NotThisNode => "delegation_not_this_node",
            DelegationError::OtherNetwork => "delegation_other_network",
        }
    }

    /// Whether presenting such a delegation proves the peer misbehaved: bytes that are not a
    /// delegation, a signature that does not verify, or someone else's delegation (copied off
    /// the wire). A delegation for another network proves nothing: a peer of another
    /// department may honestly dial this one, and is refused as any such request is.
    pub fn proves_misbehaviour(&self) -> bool {
        !matches!(self, DelegationError::OtherNetwork)
    }
}

/// The bytes a delegation's signature covers.
pub fn signed_message(network: &NetworkId, member: &PublicKey, node: &PublicKey) -> Vec<u8> {
    let mut m = Vec::with_capacity(NODE_DELEGATION_DOMAIN.len() + 96);
    m.extend_from_slice(NODE_DELEGATION_DOMAIN);
    m.extend_from_slice(network.as_bytes());
    m.extend_from_slice(member.as_bytes());
    m.extend_from_slice(node.as_bytes());
    m
}

impl NodeDelegation {
    /// Has `member` (wherever its key is held) sign a delegation to `node` in `network`. The
    /// signature is checked (`verify_strict`) before the delegation is returned: a holder that
    /// signs wrongly gives an error, never a delegation every peer would cut this node off for.
    pub fn try_sign<S: Signer + ?Sized>(
        network: NetworkId,
        member: &S,
        node: PublicKey,
    ) -> Result<NodeDelegation, SignError> {
        let key = member.public();
        if key == node {
            return Err(SignError::Failed(DelegationError::SameKey.to_string()));
        }
        let signature = member.try_sign(&signed_message(&network, &key, &node))?;
        let d = NodeDelegation {
            network,
            member: key,
            node,
            signature,
        };
        d.verify(&network, Some(&node))
            .map_err(|e| SignError::Failed(format!("the node delegation's signature: {e}")))?;
        Ok(d)
    }

    /// The delegation's bytes (see the module docs).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(DELEGATION_LEN);
        out.push(DELEGATION_VERSION);
        out.extend_from_slice(self.network.as_bytes());
        out.extend_from_slice(self.member.as_bytes());
        out.extend_from_slice(self.node.as_bytes());
        out.extend_from_slice(&self.signature);
        out
    }

    /// Decodes untrusted bytes: exactly [`DELEGATION_LEN`], this version, two valid keys (not
    /// weak) that differ. The signature is not checked here: [`NodeDelegation::verify`] does,
    /// once the receiver knows which peer presented it.
    pub fn decode(bytes: &[u8]) -> Result<NodeDelegation, DelegationError> {
        if bytes.len() != DELEGATION_LEN {
            return Err(DelegationError::WrongLength { found: bytes.len() });
        }
        if bytes[0] != DELEGATION_VERSION {
            return Err(DelegationError::UnknownVersion(bytes[0]));
        }
        let array32 = |at: usize| -> [u8; 32] {
            let mut a = [0u8; 32];
            a.copy_from_slice(&bytes[at..at + 32]);
            a
        };
        let key =
            |at: usize| PublicKey::from_bytes(&array32(at)).map_err(|_| DelegationError::BadKey);
        let (member, node) = (key(33)?, key(65)?);
        if member == node {
            return Err(DelegationError::SameKey);
        }
        let mut signature = [0u8; 64];
        signature.copy_from_slice(&bytes[97..161]);
        Ok(NodeDelegation {
            network: crate::Hash(array32(1)),
            member,
            node,
            signature,
        })
    }

    /// Whether this delegation holds for a peer whose handshake proved `presenter` (`None`: its
    /// identity is no ed25519 key) in `network`: the node key is the presenter's, the signature
    /// verifies (`verify_strict`), the network is `network`. Checked in that order, so what
    /// proves misbehaviour is found before what does not. Membership is the roster's to judge.
    pub fn verify(
        &self,
        network: &NetworkId,
        presenter: Option<&PublicKey>,
    ) -> Result<(), DelegationError> {
        if presenter != Some(&self.node) {
            return Err(DelegationError::NotThisNode);
        }
        let m = signed_message(&self.network, &self.member, &self.node);
        if !self.member.verifies(&m, &self.signature) {
            return Err(DelegationError::Forged);
        }
        if &self.network != network {
            return Err(DelegationError::OtherNetwork);
        }
        Ok(())
    }
}

/// The invariant the delegation fuzz target checks: decoding never panics, what decodes is
/// exactly [`DELEGATION_LEN`] bytes and re-encodes to them, and verifying it (for its own node
/// and network) never panics and passes only with a signature that verifies.
#[doc(hidden)]
pub fn fuzz_check(data: &[u8]) {
    if let Ok(d) = NodeDelegation::decode(data) {
        assert_eq!(data.len(), DELEGATION_LEN);
        assert_eq!(d.encode(), data, "a decoded delegation is not canonical");
        let verified = d.verify(&d.network, Some(&d.node));
        let m = signed_message(&d.network, &d.member, &d.node);
        assert_eq!(verified.is_ok(), d.member.verifies(&m, &d.signature));
        // Never for another node.
        assert_eq!(
            d.verify(&d.network, Some(&d.member)),
            Err(DelegationError::NotThisNode)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_signers::{keys, Gone, Impostor};
    use crate::{Hash, SecretKey};

    /// The bytes signed and a whole delegation, fixed: a change to either breaks every node of
    /// a token home talking to a peer of another build.
    #[test]
    fn golden_vector() {
        let (member, node, network) = keys();
        let m = signed_message(&network, &member.public(), &node.public());
        assert_eq!(
            &m[..NODE_DELEGATION_DOMAIN.len()],
            b"countersign/node-delegation/v1\0"
        );
        let d = NodeDelegation::try_sign(network, &member, node.public()).unwrap();
        let bytes = d.encode();
        assert_eq!(bytes.len(), DELEGATION_LEN);
        assert_eq!(hex::encode(&bytes), GOLDEN);
        assert_eq!(
            NodeDelegation::decode(&hex::decode(GOLDEN).unwrap()),
            Ok(d.clone())
        );
        assert_eq!(d.verify(&network, Some(&node.public())), Ok(()));
    }

    /// Written by an independent implementation (Python's `cryptography` Ed25519, `hashlib`)
    /// from the layout in the module docs, not by this code: version 1, SHA-256("network"), the
    /// public keys of seeds [1; 32] (member) and [2; 32] (node), the member's signature.
    const GOLDEN: &str = concat!(
        "013009be769fb8f956e8413ee9f3e0836e34968bc40457d0a10c549d2edcf00cc18a88e3dd7409f195fd52db2d3cba5d",
        "72ca6709bf1d94121bf3748801b40f6f5c8139770ea87d175f56a35466c34c7ecccb8d8a91b4ee37a25df60f5b8fc9b3",
        "94af71acf25973b5c547c522348fcf2ab77b95af3f6f149e194fe6af87803dc03b847521489a96d40528a48cd15bffea",
        "4de7c7150bd8b655903a19fb21aae4e407",
    );

    #[test]
    fn try_sign_refuses_a_holder_that_signs_with_another_key_or_cannot_sign() {
        let (member, node, network) = keys();
        let wrong = Impostor(member.public(), SecretKey::from_seed(&[9; 32]));
        assert!(NodeDelegation::try_sign(network, &wrong, node.public()).is_err());
        let gone = Gone(member.public());
        assert_eq!(
            NodeDelegation::try_sign(network, &gone, node.public()),
            Err(SignError::Failed("the token is gone".into()))
        );
        // A member delegating to its own key is no delegation.
        assert!(NodeDelegation::try_sign(network, &member, member.public()).is_err());
    }

    #[test]
    fn a_delegation_holds_only_for_its_node_its_network_and_its_member() {
        let (member, node, network) = keys();
        let d = NodeDelegation::try_sign(network, &member, node.public()).unwrap();
        assert_eq!(d.verify(&network, Some(&node.public())), Ok(()));
        // Presented by another peer (copied off the wire), or a peer with no ed25519 key.
        let thief = SecretKey::from_seed(&[7; 32]).public();
        assert_eq!(
            d.verify(&network, Some(&thief)),
            Err(DelegationError::NotThisNode)
        );
        assert_eq!(d.verify(&network, None), Err(DelegationError::NotThisNode));
        // In another department.
        let other = Hash::of(b"another department");
        assert_eq!(
            d.verify(&other, Some(&node.public())),
            Err(DelegationError::OtherNetwork)
        );
        // Moved onto another network, member or node without a new signature: forged.
        let mut moved = d.clone();
        moved.network = other;
        assert_eq!(
            moved.verify(&other, Some(&node.public())),
            Err(DelegationError::Forged)
        );
        let mut claimed = d.clone();
        claimed.member = thief;
        assert_eq!(
            claimed.verify(&network, Some(&node.public())),
            Err(DelegationError::Forged)
        );
        let mut renoded = d.clone();
        renoded.node = thief;
        assert_eq!(
            renoded.verify(&network, Some(&thief)),
            Err(DelegationError::Forged)
        );
        // Another domain's signature over the same bytes (a rotation consent) is not one.
        let consent = crate::rotation::consent(&network, &member, &node.public());
        let mut other_domain = d.clone();
        other_domain.signature = consent.0;
        assert_eq!(
            other_domain.verify(&network, Some(&node.public())),
            Err(DelegationError::Forged)
        );
        assert!(DelegationError::Forged.proves_misbehaviour());
        assert!(DelegationError::NotThisNode.proves_misbehaviour());
        assert!(!DelegationError::OtherNetwork.proves_misbehaviour());
    }

    #[test]
    fn every_flipped_bit_is_refused_or_fails_verification() {
        let (member, node, network) = keys();
        let bytes = NodeDelegation::try_sign(network, &member, node.public())
            .unwrap()
            .encode();
        for at in 0..bytes.len() {
            for bit in [0, 7] {
                let mut bad = bytes.clone();
                bad[at] ^= 1 << bit;
                let held = NodeDelegation::decode(&bad)
                    .is_ok_and(|d| d.verify(&network, Some(&node.public())).is_ok());
                assert!(!held, "bit {bit} of byte {at}");
            }
        }
    }

    #[test]
    fn malformed_bytes_are_refused_with_a_reason_and_a_code() {
        let (member, node, network) = keys();
        let bytes = NodeDelegation::try_sign(network, &member, node.public())
            .unwrap()
            .encode();
        assert_eq!(
            NodeDelegation::decode(&bytes[..160]),
            Err(DelegationError::WrongLength { found: 160 })
        );
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(
            NodeDelegation::decode(&long),
            Err(DelegationError::WrongLength { found: 162 })
        );
        let mut v2 = bytes.clone();
        v2[0] = 2;
        assert_eq!(
            NodeDelegation::decode(&v2),
            Err(DelegationError::UnknownVersion(2))
        );
        // A small-order point as the node key.
        let mut weak = bytes.clone();
        weak[65..97].copy_from_slice(&[0; 32]);
        weak[65] = 1;
        assert_eq!(NodeDelegation::decode(&weak), Err(DelegationError::BadKey));
        let mut same = bytes.clone();
        same.copy_within(33..65, 65);
        assert_eq!(NodeDelegation::decode(&same), Err(DelegationError::SameKey));
        assert_eq!(
            DelegationError::WrongLength { found: 0 }.code(),
            "delegation_malformed"
        );
        assert_eq!(DelegationError::Forged.code(), "delegation_forged");
        assert_eq!(
            DelegationError::NotThisNode.code(),
            "delegation_not_this_node"
        );
        assert_eq!(
            DelegationError::OtherNetwork.code(),
            "delegation_other_network"
        );
        // The signature is never printed.
        let d = NodeDelegation::decode(&bytes).unwrap();
        assert!(!format!("{d:?}").contains(&hex::encode(&d.signature[..8])));
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig {
                cases: 128,
                rng_seed: proptest::test_runner::RngSeed::Fixed(0x5EED_0021),
                ..ProptestConfig::default()
            })]

            /// Any two keys and any network: one encoding, read back to the same delegation,
            /// which verifies for its node and for no other.
            #[test]
            fn every_delegation_has_one_encoding_that_reads_back_and_verifies(
                member in any::<[u8; 32]>(),
                node in any::<[u8; 32]>(),
                network in any::<[u8; 32]>(),
            ) {
                prop_assume!(member != node);
                let member = SecretKey::from_seed(&member);
                let node = SecretKey::from_seed(&node).public();
                let d = NodeDelegation::try_sign(Hash(network), &member, node).unwrap();
                let bytes = d.encode();
                prop_assert_eq!(bytes.len(), DELEGATION_LEN);
                prop_assert_eq!(NodeDelegation::decode(&bytes), Ok(d.clone()));
                prop_assert_eq!(d.verify(&Hash(network), Some(&node)), Ok(()));
                prop_assert_eq!(
                    d.verify(&Hash(network), Some(&member.public())),
                    Err(DelegationError::NotThisNode)
                );
                fuzz_check(&bytes);
            }

            /// Arbitrary bytes (around the right length, too): refused or read, never a panic.
            #[test]
            fn arbitrary_input_never_panics(bytes in prop::collection::vec(any::<u8>(), 150..170)) {
                fuzz_check(&bytes);
            }
        }
    }
}
