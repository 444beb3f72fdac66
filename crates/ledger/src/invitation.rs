//! Invitations: how a new home learns which department to trust. An admin signs "join network
//! N, founded by key F, as key K, dialling these peers, before T"; the new home accepts only
//! that network's genesis from then on, so a stranger on the LAN who dials it first cannot
//! make it adopt another network. The invitation is passed out of band (read aloud, a
//! message, a QR code), so the text is short.
//!
//! ```text
//! version:u8 (1) network[32] founder[32] invitee[32] issued_ms:u64 expires_ms:u64
//! n:u8 (len:u16 peer[len] UTF-8)×n   (n ≤ MAX_INVITE_PEERS, len ≤ MAX_PEER_LEN)
//! issuer[32] signature[64]
//! ```
//! The signature (`verify_strict`) by `issuer` covers [`INVITATION_DOMAIN`] and every byte
//! before it. As text: [`INVITATION_PREFIX`] then the bytes in unpadded base64url.
//!
//! ```
//! use countersign_ledger::invitation::Invitation;
//! use countersign_ledger::{Hash, SecretKey};
//!
//! let admin = SecretKey::from_seed(&[1; 32]);
//! let newcomer = SecretKey::from_seed(&[2; 32]).public();
//! let invite = Invitation {
//!     network: Hash::of(b"genesis"),
//!     founder: admin.public(),
//!     invitee: newcomer,
//!     issued_ms: 1_000,
//!     expires_ms: 2_000,
//!     peers: vec!["/ip4/10.0.0.5/tcp/4001/p2p/12D3KooW...".into()],
//! };
//! let text = invite.sign(&admin);
//! let (back, issuer) = Invitation::parse(&text).unwrap();
//! assert_eq!((back, issuer), (invite, admin.public()));
//! ```

use base64::Engine;
use ed25519_dalek::Signature;

use crate::{NetworkId, PublicKey, SecretKey, SignError, Signer};

/// Domain separation: an invitation's signature is never an entry's or a checkpoint's.
pub const INVITATION_DOMAIN: &[u8] = b"countersign invitation v1\0";
/// How an invitation's text starts.
pub const INVITATION_PREFIX: &str = "countersign-invite:";
pub const INVITATION_VERSION: u8 = 1;
/// Peer addresses one invitation names at most.
pub const MAX_INVITE_PEERS: usize = 8;
/// The longest peer address (a multiaddr with its `/p2p/` id is about 100 bytes).
pub const MAX_PEER_LEN: usize = 256;
/// The longest invitation text.
pub const MAX_INVITATION_TEXT: usize = 4096;
const FIXED_LEN: usize = 1 + 32 * 3 + 8 + 8;

/// What an admin invites a new member to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    pub network: NetworkId,
    /// The key that founded the network (its genesis's author).
    pub founder: PublicKey,
    /// The key the new home signs with.
    pub invitee: PublicKey,
    pub issued_ms: u64,
    pub expires_ms: u64,
    /// Addresses of the department's nodes, for the first sync.
    pub peers: Vec<String>,
}

/// Why text is not an invitation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvitationError {
    #[error("an invitation starts with {INVITATION_PREFIX}")]
    NoPrefix,
    #[error("the invitation is {0} characters; at most {MAX_INVITATION_TEXT}")]
    TooLong(usize),
    #[error("the invitation is not base64url")]
    NotBase64,
    #[error("the invitation is truncated")]
    Truncated,
    #[error("invitation format version {0} is not supported")]
    UnknownVersion(u8),
    #[error("the invitation names {0} peers; at most {MAX_INVITE_PEERS}")]
    TooManyPeers(usize),
    #[error("a peer address in the invitation is {0} bytes; at most {MAX_PEER_LEN}")]
    PeerTooLong(usize),
    #[error("a peer address in the invitation is not UTF-8")]
    NotUtf8,
    #[error("a key in the invitation is not a valid ed25519 key")]
    BadKey,
    #[error("the invitation's signature does not verify: it was changed or forged")]
    BadSignature,
    #[error("{0} bytes after the invitation")]
    TrailingBytes(usize),
}

impl InvitationError {
    /// A stable code for `{code, message}` errors.
    pub fn code(&self) -> &'static str {
        match self {
            InvitationError::BadSignature => "invitation_forged",
            _ => "invitation_malformed",
        }
    }
}

impl Invitation {
    fn body(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(FIXED_LEN + 1 + 64 * self.peers.len());
        out.push(INVITATION_VERSION);
        out.extend_from_slice(self.network.as_bytes());
        out.extend_from_slice(self.founder.as_bytes());
        out.extend_from_slice(self.invitee.as_bytes());
        out.extend_from_slice(&self.issued_ms.to_be_bytes());
        out.extend_from_slice(&self.expires_ms.to_be_bytes());
        // Bounded here as on decoding: what is signed is what a reader accepts.
        let peers: Vec<&String> = self
            .peers
            .iter()
            .filter(|p| p.len() <= MAX_PEER_LEN)
            .take(MAX_INVITE_PEERS)
            .collect();
        out.push(peers.len() as u8);
        for p in peers {
            out.extend_from_slice(&(p.len() as u16).to_be_bytes());
            out.extend_from_slice(p.as_bytes());
        }
        out
    }

    /// Signs the invitation as `issuer` and returns its text.
    pub fn sign(&self, issuer: &SecretKey) -> String {
        let mut bytes = self.body();
        bytes.extend_from_slice(issuer.public().as_bytes());
        let signature = issuer.sign(&[INVITATION_DOMAIN, &bytes].concat());
        self.text(bytes, signature)
    }

    /// [`Invitation::sign`] with a signer that may fail (a token, an agent).
    pub fn try_sign<S: Signer + ?Sized>(&self, issuer: &S) -> Result<String, SignError> {
        let mut bytes = self.body();
        bytes.extend_from_slice(issuer.public().as_bytes());
        let signature = issuer.try_sign(&[INVITATION_DOMAIN, &bytes].concat())?;
        Ok(self.text(bytes, signature))
    }

    /// The text of the signed bytes `bytes` (body and issuer) and their signature.
    fn text(&self, mut bytes: Vec<u8>, signature: [u8; 64]) -> String {
        bytes.extend_from_slice(&signature);
        format!(
            "{INVITATION_PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
        )
    }

    /// Parses untrusted text and checks its signature: the invitation and who signed it (the
    /// caller decides whether that key may invite, once it holds the roster).
    pub fn parse(text: &str) -> Result<(Invitation, PublicKey), InvitationError> {
        let text = text.trim();
        if text.len() > MAX_INVITATION_TEXT {
            return Err(InvitationError::TooLong(text.len()));
        }
        let b64 = text
            .strip_prefix(INVITATION_PREFIX)
            .ok_or(InvitationError::NoPrefix)?;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(b64)
            .map_err(|_| InvitationError::NotBase64)?;
        Self::decode(&bytes)
    }

    fn decode(bytes: &[u8]) -> Result<(Invitation, PublicKey), InvitationError> {
        let mut r = Cursor { bytes, at: 0 };
        let version = r.take(1)?[0];
        if version != INVITATION_VERSION {
            return Err(InvitationError::UnknownVersion(version));
        }
        let network = crate::Hash(r.array()?);
        let founder = r.key()?;
        let invitee = r.key()?;
        let issued_ms = u64::from_be_bytes(r.array()?);
        let expires_ms = u64::from_be_bytes(r.array()?);
        let n = usize::from(r.take(1)?[0]);
        if n > MAX_INVITE_PEERS {
            return Err(InvitationError::TooManyPeers(n));
        }
        let mut peers = Vec::with_capacity(n);
        for _ in 0..n {
            let len = usize::from(u16::from_be_bytes(r.array()?));
            if len > MAX_PEER_LEN {
                return Err(InvitationError::PeerTooLong(len));
            }
            let p = std::str::from_utf8(r.take(len)?).map_err(|_| InvitationError::NotUtf8)?;
            peers.push(p.to_string());
        }
        let signed_len = r.at + 32;
        let issuer = r.key()?;
        let signature: [u8; 64] = r.array()?;
        if r.at != bytes.len() {
            return Err(InvitationError::TrailingBytes(bytes.len() - r.at));
        }
        issuer
            .verifying_key()
            .verify_strict(
                &[INVITATION_DOMAIN, &bytes[..signed_len]].concat(),
                &Signature::from_bytes(&signature),
            )
            .map_err(|_| InvitationError::BadSignature)?;
        Ok((
            Invitation {
                network,
                founder,
                invitee,
                issued_ms,
                expires_ms,
                peers,
            },
            issuer,
        ))
    }
}

/// A reader that never reads past the end.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], InvitationError> {
        let s = self
            .bytes
            .get(self.at..self.at.saturating_add(n))
            .ok_or(InvitationError::Truncated)?;
        self.at += n;
        Ok(s)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], InvitationError> {
        self.take(N)?
            .try_into()
            .map_err(|_| InvitationError::Truncated)
    }
    fn key(&mut self) -> Result<PublicKey, InvitationError> {
        PublicKey::from_bytes(&self.array::<32>()?).map_err(|_| InvitationError::BadKey)
    }
}

/// The invariant the invitation fuzz target checks: parsing never panics, and what parses
/// was signed over exactly its bytes.
#[doc(hidden)]
pub fn fuzz_check(data: &[u8]) {
    if let Ok((invite, _)) = Invitation::decode(data) {
        assert!(invite.peers.len() <= MAX_INVITE_PEERS);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Invitation::parse(text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Hash;

    fn invite() -> (Invitation, SecretKey) {
        let admin = SecretKey::from_seed(&[1; 32]);
        (
            Invitation {
                network: Hash::of(b"n"),
                founder: admin.public(),
                invitee: SecretKey::from_seed(&[2; 32]).public(),
                issued_ms: 10,
                expires_ms: 20,
                peers: vec!["/ip4/127.0.0.1/tcp/4001".into(), "/dns4/pacs/tcp/1".into()],
            },
            admin,
        )
    }

    #[test]
    fn an_invitation_round_trips_and_every_flipped_bit_is_refused() {
        let (i, admin) = invite();
        let text = i.sign(&admin);
        assert!(text.len() < 500, "short enough to pass on: {}", text.len());
        assert_eq!(Invitation::parse(&text).unwrap(), (i, admin.public()));
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text.strip_prefix(INVITATION_PREFIX).unwrap())
            .unwrap();
        for at in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[at] ^= 1;
            let t = format!(
                "{INVITATION_PREFIX}{}",
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bad)
            );
            assert!(Invitation::parse(&t).is_err(), "bit at byte {at}");
        }
    }

    #[test]
    fn malformed_text_is_refused_with_a_reason() {
        let (i, admin) = invite();
        let text = i.sign(&admin);
        assert_eq!(
            Invitation::parse(&text[INVITATION_PREFIX.len()..]),
            Err(InvitationError::NoPrefix)
        );
        assert_eq!(
            Invitation::parse(&format!("{text}!")),
            Err(InvitationError::NotBase64)
        );
        assert_eq!(
            Invitation::parse(&"x".repeat(MAX_INVITATION_TEXT + 1)),
            Err(InvitationError::TooLong(MAX_INVITATION_TEXT + 1))
        );
        let short = &text[..text.len() - 8];
        assert!(Invitation::parse(short).is_err());
        // Signed by someone else than it claims: the issuer key swapped.
        let mut bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text.strip_prefix(INVITATION_PREFIX).unwrap())
            .unwrap();
        let issuer_at = bytes.len() - 96;
        bytes[issuer_at..issuer_at + 32]
            .copy_from_slice(SecretKey::from_seed(&[9; 32]).public().as_bytes());
        let t = format!(
            "{INVITATION_PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes)
        );
        assert_eq!(Invitation::parse(&t), Err(InvitationError::BadSignature));
    }
}
