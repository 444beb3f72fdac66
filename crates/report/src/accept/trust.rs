//! Which network a home may adopt: only one it was told to trust — by an invitation, or by
//! the auditor's `--network` / `--trust-founder` — never the first one a peer or a bundle
//! shows it. A home that founded its network, or already holds one, is past this gate (the
//! ledger refuses any other network's genesis as `wrong_network`).

use countersign_ledger::{Entry, Kind, NetworkId, PublicKey, Roster};

/// What a home was told to trust before it holds a network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    /// This network, founded by this key (an invitation names both).
    Network {
        network: NetworkId,
        founder: Option<PublicKey>,
    },
    /// Whatever network this key founded.
    Founder(PublicKey),
}

/// Why a network genesis is not adopted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrustError {
    #[error(
        "this home has not joined a network: join with an invitation (`countersign join`), or \
         name the network to trust (`--network ID` or `--trust-founder KEY`)"
    )]
    NotJoined,
    #[error("network {found} is not the network this home was told to trust ({expected})")]
    OtherNetwork {
        expected: NetworkId,
        found: NetworkId,
    },
    #[error("network {network} was founded by {found}, not by {expected} as this home was told")]
    OtherFounder {
        network: NetworkId,
        /// Keys as hex: an error value stays small.
        expected: String,
        found: String,
    },
    #[error(
        "the invitation this home joined by was signed by {inviter}, who is not an admin of \
         this network as its roster says: ask an admin to confirm the department"
    )]
    InviterNotAdmin {
        /// The key as hex: an error value stays small.
        inviter: String,
    },
}

impl TrustError {
    /// A stable code for `{code, message}` errors.
    pub fn code(&self) -> &'static str {
        match self {
            TrustError::NotJoined => "not_joined",
            TrustError::OtherNetwork { .. } | TrustError::OtherFounder { .. } => {
                "untrusted_network"
            }
            TrustError::InviterNotAdmin { .. } => "inviter_not_admin",
        }
    }
}

/// Whether a home with `anchor` (and no network yet) may adopt the network `genesis` founds.
/// Anything but a genesis passes (the ledger judges it against the network it holds).
pub fn admits(anchor: Option<&Anchor>, genesis: &Entry) -> Result<(), TrustError> {
    let h = genesis.header();
    if h.kind != Kind::NetworkGenesis {
        return Ok(());
    }
    let found = genesis.id();
    match anchor {
        None => Err(TrustError::NotJoined),
        Some(Anchor::Network { network, .. }) if *network != found => {
            Err(TrustError::OtherNetwork {
                expected: *network,
                found,
            })
        }
        Some(Anchor::Network {
            founder: Some(f), ..
        })
        | Some(Anchor::Founder(f))
            if *f != h.author =>
        {
            Err(TrustError::OtherFounder {
                network: found,
                expected: f.to_hex(),
                found: h.author.to_hex(),
            })
        }
        Some(_) => Ok(()),
    }
}

/// Whether the key that signed the invitation a home joined by is an admin of the network, as
/// the roster the home now holds says. The invitation's signature proved it unchanged and the
/// genesis proved the network; this is the last claim in it, checkable only once the roster
/// has arrived. Any member ever admitted as an admin counts, revoked or rotated since: whether
/// they still were one when they signed cannot be judged from a date the signer wrote.
pub fn check_inviter(roster: &Roster, inviter: &PublicKey) -> Result<(), TrustError> {
    if roster.member(inviter).is_some_and(|m| m.admin) {
        return Ok(());
    }
    Err(TrustError::InviterNotAdmin {
        inviter: inviter.to_hex(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use countersign_ledger::{Hash, Header, SecretKey};

    fn genesis(seed: u8) -> Entry {
        let k = SecretKey::from_seed(&[seed; 32]);
        let h = Header::new(
            Hash::ZERO,
            Hash::ZERO,
            k.public(),
            1,
            5,
            Kind::NetworkGenesis,
            vec![],
            b"{}",
        );
        Entry::sign(h, &k).unwrap()
    }

    #[test]
    fn only_the_network_a_home_was_told_to_trust_is_adopted() {
        let (ours, theirs) = (genesis(1), genesis(2));
        let founder = ours.header().author;
        assert_eq!(admits(None, &ours), Err(TrustError::NotJoined));
        let invited = Anchor::Network {
            network: ours.id(),
            founder: Some(founder),
        };
        assert_eq!(admits(Some(&invited), &ours), Ok(()));
        assert!(matches!(
            admits(Some(&invited), &theirs),
            Err(TrustError::OtherNetwork { .. })
        ));
        assert_eq!(admits(Some(&Anchor::Founder(founder)), &ours), Ok(()));
        assert!(matches!(
            admits(Some(&Anchor::Founder(founder)), &theirs),
            Err(TrustError::OtherFounder { .. })
        ));
        // A genesis with the right id but another founder cannot exist (the id hashes the
        // header); an anchor naming the wrong founder refuses the right id.
        let wrong_founder = Anchor::Network {
            network: ours.id(),
            founder: Some(theirs.header().author),
        };
        assert!(matches!(
            admits(Some(&wrong_founder), &ours),
            Err(TrustError::OtherFounder { .. })
        ));
        assert_eq!(TrustError::NotJoined.code(), "not_joined");
    }

    #[test]
    fn only_an_admin_of_the_roster_may_have_signed_the_invitation() {
        let dept = crate::fixture::Department::new();
        let roster = dept.ledger.roster();
        assert_eq!(check_inviter(roster, &dept.public("ada")), Ok(()));
        // A member who is not an admin, and a key the roster never named.
        for key in [dept.public("rex"), SecretKey::from_seed(&[99; 32]).public()] {
            let refused = check_inviter(roster, &key).unwrap_err();
            assert_eq!(refused.code(), "inviter_not_admin");
            assert!(refused.to_string().contains(&key.to_hex()));
        }
    }
}
