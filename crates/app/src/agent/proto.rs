//! The agent's wire format and what it agrees to sign: pure functions over bytes, so that the
//! decoder of untrusted frames is fuzzed (`fuzz/fuzz_targets/agent_request.rs`) and the signing
//! policy is tested without a socket.
//!
//! Every frame is a 4-byte big-endian length, then that many bytes of body (at most
//! [`MAX_FRAME`]). A request body is an operation byte and its data:
//!
//! ```text
//! 0x01 hello              → 0x00, protocol version (1), the agent's 32-byte public key
//! 0x02 sign  MESSAGE      → 0x00, the 64-byte ed25519 signature of MESSAGE
//! any refusal             → 0x01, a UTF-8 reason of at most 512 bytes
//! any, key put away        → 0x02, a UTF-8 reason of at most 512 bytes
//! ```
//!
//! `0x02` says the agent put its key away for good and is exiting (the key is no longer its
//! home's to sign with: see [`super`]'s *Lifetime*), so that the client reports what the user
//! must do (`key_rotated`) rather than a signer's failure; a client from before it knew it
//! fails on an unknown status, which is still a refusal.
//!
//! The agent signs only what a home signs as its user: an entry whose header (after the entry
//! signature domain) decodes and names the agent's key as author, or an invitation issued by
//! that key. Never an arbitrary message, a checkpoint or anything of another key: a process that
//! reaches the socket (the owner's own processes only, checked by peer credentials) can make the
//! agent sign entries, as it could with the passphrase, but cannot turn it into a signing oracle
//! for other protocols.

use countersign_ledger::header::{self, MAX_HEADER_LEN};
use countersign_ledger::invitation::INVITATION_DOMAIN;
use countersign_ledger::{PublicKey, KEK_MESSAGE_DOMAIN, SIGNATURE_DOMAIN};

/// The protocol version a hello answers with.
pub const VERSION: u8 = 1;
/// The longest message a sign request carries: the longest entry header with its domain, with
/// room to spare (an invitation is shorter).
pub const MAX_MESSAGE: usize = 8 * 1024;
/// The longest frame body either side sends (a sign request: the operation and its message).
pub const MAX_FRAME: usize = 1 + MAX_MESSAGE;
/// The longest reason a refusal carries.
pub const MAX_REASON: usize = 512;

const _: () = assert!(SIGNATURE_DOMAIN.len() + MAX_HEADER_LEN <= MAX_MESSAGE);

const OP_HELLO: u8 = 1;
const OP_SIGN: u8 = 2;
const OK: u8 = 0;
const REFUSED: u8 = 1;
const RETIRED: u8 = 2;

/// What a client asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Hello,
    Sign(Vec<u8>),
}

/// What the agent answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    Hello {
        version: u8,
        key: [u8; 32],
    },
    Signature([u8; 64]),
    Refused(String),
    /// The agent put its key away for good and is exiting; why.
    Retired(String),
}

/// Why bytes are not a frame of this protocol.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("a frame of {0} bytes is longer than {MAX_FRAME}")]
    TooLong(usize),
    #[error("an empty frame")]
    Empty,
    #[error("unknown operation {0}")]
    UnknownOp(u8),
    #[error("a {what} of {found} bytes; expected {expected}")]
    Length {
        what: &'static str,
        found: usize,
        expected: usize,
    },
    #[error("a sign request with no message")]
    NoMessage,
    #[error("a refusal that is not UTF-8 or longer than {MAX_REASON} bytes")]
    BadReason,
}

/// The body length a frame's 4-byte prefix announces, checked before anything is allocated.
pub fn frame_len(prefix: [u8; 4]) -> Result<usize, FrameError> {
    let len = u32::from_be_bytes(prefix) as usize;
    if len > MAX_FRAME {
        return Err(FrameError::TooLong(len));
    }
    if len == 0 {
        return Err(FrameError::Empty);
    }
    Ok(len)
}

/// A whole frame: prefix and body.
fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + body.len());
    // Bodies are built here and bounded by MAX_FRAME, far below u32::MAX.
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(body);
    out
}

impl Request {
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Request::Hello => frame(&[OP_HELLO]),
            Request::Sign(message) => frame(&[&[OP_SIGN], message.as_slice()].concat()),
        }
    }

    /// Decodes a request body (the bytes after the prefix) from an untrusted client.
    pub fn decode(body: &[u8]) -> Result<Request, FrameError> {
        if body.len() > MAX_FRAME {
            return Err(FrameError::TooLong(body.len()));
        }
        let (&op, data) = body.split_first().ok_or(FrameError::Empty)?;
        match op {
            OP_HELLO if data.is_empty() => Ok(Request::Hello),
            OP_HELLO => Err(FrameError::Length {
                what: "hello",
                found: body.len(),
                expected: 1,
            }),
            OP_SIGN if data.is_empty() => Err(FrameError::NoMessage),
            OP_SIGN => Ok(Request::Sign(data.to_vec())),
            other => Err(FrameError::UnknownOp(other)),
        }
    }
}

impl Response {
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Response::Hello { version, key } => frame(&[&[OK, *version], key.as_slice()].concat()),
            Response::Signature(s) => frame(&[&[OK], s.as_slice()].concat()),
            Response::Refused(reason) => reason_frame(REFUSED, reason),
            Response::Retired(reason) => reason_frame(RETIRED, reason),
        }
    }

    /// Decodes the agent's answer to `asked` (the client knows which answer shape to expect).
    pub fn decode(asked: &Request, body: &[u8]) -> Result<Response, FrameError> {
        let (&status, data) = body.split_first().ok_or(FrameError::Empty)?;
        if status == REFUSED || status == RETIRED {
            let reason = std::str::from_utf8(data).map_err(|_| FrameError::BadReason)?;
            if reason.len() > MAX_REASON {
                return Err(FrameError::BadReason);
            }
            let reason = reason.to_string();
            return Ok(if status == RETIRED {
                Response::Retired(reason)
            } else {
                Response::Refused(reason)
            });
        }
        if status != OK {
            return Err(FrameError::UnknownOp(status));
        }
        let length = |what, expected| FrameError::Length {
            what,
            found: data.len(),
            expected,
        };
        match asked {
            Request::Hello => {
                let (&version, key) = data.split_first().ok_or(length("hello answer", 33))?;
                let key: [u8; 32] = key.try_into().map_err(|_| length("hello answer", 33))?;
                Ok(Response::Hello { version, key })
            }
            Request::Sign(_) => Ok(Response::Signature(
                data.try_into().map_err(|_| length("signature", 64))?,
            )),
        }
    }
}

/// A refusal's frame: `status`, then `reason` cut at a character boundary so that it stays
/// UTF-8 within its bound.
fn reason_frame(status: u8, reason: &str) -> Vec<u8> {
    let mut end = reason.len().min(MAX_REASON);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    frame(&[&[status], &reason.as_bytes()[..end]].concat())
}

/// Why the agent does not sign a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the agent signs only entries and invitations of its own key")]
    NotAnEntry,
    #[error("the entry header does not decode: {0}")]
    BadHeader(String),
    #[error("the entry's author {0} is not the agent's key")]
    OtherAuthor(String),
    #[error("the invitation's issuer is not the agent's key")]
    OtherIssuer,
    #[error("the data-key wrapping message names another key than the agent's")]
    OtherMember,
}

/// What the agent holding `key` may sign: an entry authored by `key`, an invitation issued by
/// it, or the fixed message that makes its home's data-key wrapping key
/// ([`countersign_ledger::kek_message`] of `key`, exactly: the home reading its own sealed
/// reports through the agent needs it, and anyone who may ask the agent to sign entries may
/// read them anyway). A short description of what is signed (kind and log, never payload text) comes back
/// for the agent's log.
pub fn may_sign(message: &[u8], key: &PublicKey) -> Result<String, Refusal> {
    if let Some(header_bytes) = message.strip_prefix(SIGNATURE_DOMAIN) {
        let header = header::decode(header_bytes).map_err(|e| Refusal::BadHeader(e.to_string()))?;
        if &header.author != key {
            return Err(Refusal::OtherAuthor(header.author.to_hex()));
        }
        return Ok(format!("{} in log {}", header.kind, header.log));
    }
    // Exactly the key's own message, nothing longer or for another key: no other bytes with
    // this prefix get signed.
    if message.starts_with(KEK_MESSAGE_DOMAIN) {
        if message == countersign_ledger::kek_message(key).as_slice() {
            return Ok("the data-key wrapping key".into());
        }
        return Err(Refusal::OtherMember);
    }
    if let Some(body) = message.strip_prefix(INVITATION_DOMAIN) {
        // The issuer's key closes the signed bytes (see `Invitation::try_sign`).
        let issuer = body
            .len()
            .checked_sub(32)
            .map(|at| &body[at..])
            .ok_or(Refusal::NotAnEntry)?;
        if issuer != key.as_bytes() {
            return Err(Refusal::OtherIssuer);
        }
        return Ok("an invitation".into());
    }
    Err(Refusal::NotAnEntry)
}

/// For the fuzz target: decoding any body never panics, and a request that decodes encodes
/// back to the same frame.
#[doc(hidden)]
pub fn fuzz_check(data: &[u8]) {
    if let Ok(request) = Request::decode(data) {
        let framed = request.encode();
        assert_eq!(&framed[4..], data);
    }
    let _ = Response::decode(&Request::Hello, data);
    let _ = Response::decode(&Request::Sign(vec![1]), data);
    // The key of seed [1; 32], whose entries the corpus's seeds are.
    let key = countersign_ledger::SecretKey::from_seed(&[1; 32]).public();
    if let Ok(Request::Sign(message)) = Request::decode(data) {
        let _ = may_sign(&message, &key);
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use countersign_ledger::invitation::Invitation;
    use countersign_ledger::{Entry, Hash, Header, Kind, SecretKey};

    fn key(n: u8) -> SecretKey {
        SecretKey::from_seed(&[n; 32])
    }

    /// The bytes an entry signature covers, for a header by `author`.
    /// The bytes an entry signature covers, for a header by `author`: what any of the
    /// owner's processes may ask the agent to sign (the agent's tests use it too).
    pub(in crate::agent) fn entry_message(author: &PublicKey) -> Vec<u8> {
        let h = Header::new(
            Hash::of(b"net"),
            Hash::of(b"log"),
            *author,
            2,
            1_000,
            Kind::SectionWrite,
            vec![Hash::of(b"parent")],
            b"{}",
        );
        [SIGNATURE_DOMAIN, &h.encode()].concat()
    }

    #[test]
    fn requests_round_trip_and_golden_bytes() {
        assert_eq!(Request::Hello.encode(), vec![0, 0, 0, 1, 1]);
        assert_eq!(
            Request::Sign(vec![9, 8]).encode(),
            vec![0, 0, 0, 3, 2, 9, 8]
        );
        for r in [Request::Hello, Request::Sign(vec![7; MAX_MESSAGE])] {
            let framed = r.encode();
            let len = frame_len(framed[..4].try_into().unwrap()).unwrap();
            assert_eq!(Request::decode(&framed[4..4 + len]).unwrap(), r);
        }
    }

    #[test]
    fn frames_are_bounded_before_anything_is_read() {
        assert_eq!(
            frame_len((MAX_FRAME as u32 + 1).to_be_bytes()),
            Err(FrameError::TooLong(MAX_FRAME + 1))
        );
        assert_eq!(
            frame_len([0xff; 4]),
            Err(FrameError::TooLong(u32::MAX as usize))
        );
        assert_eq!(frame_len([0; 4]), Err(FrameError::Empty));
        assert_eq!(
            Request::decode(&vec![2; MAX_FRAME + 1]),
            Err(FrameError::TooLong(MAX_FRAME + 1))
        );
    }

    #[test]
    fn malformed_requests_are_named() {
        assert_eq!(Request::decode(&[]), Err(FrameError::Empty));
        assert_eq!(Request::decode(&[2]), Err(FrameError::NoMessage));
        assert_eq!(Request::decode(&[9, 1]), Err(FrameError::UnknownOp(9)));
        assert!(matches!(
            Request::decode(&[1, 0]),
            Err(FrameError::Length { .. })
        ));
    }

    #[test]
    fn responses_round_trip() {
        let hello = Response::Hello {
            version: VERSION,
            key: [4; 32],
        };
        let sig = Response::Signature([5; 64]);
        let no = Response::Refused("no".into());
        let gone = Response::Retired("rotated".into());
        assert_eq!(gone.encode(), [&[0, 0, 0, 8, 2][..], b"rotated"].concat());
        for (asked, r) in [
            (Request::Hello, hello),
            (Request::Sign(vec![1]), sig),
            (Request::Hello, no),
            (Request::Sign(vec![1]), gone),
        ] {
            assert_eq!(Response::decode(&asked, &r.encode()[4..]).unwrap(), r);
        }
        // A signature answer of the wrong length is not a signature.
        assert!(Response::decode(&Request::Sign(vec![1]), &[0; 64]).is_err());
    }

    #[test]
    fn a_long_refusal_is_cut_at_a_character_boundary() {
        let long = "é".repeat(MAX_REASON);
        let framed = Response::Refused(long).encode();
        let Response::Refused(cut) = Response::decode(&Request::Hello, &framed[4..]).unwrap()
        else {
            panic!("not a refusal");
        };
        assert!(cut.len() <= MAX_REASON && cut.chars().all(|c| c == 'é'));
    }

    #[test]
    fn signs_only_its_own_entries_and_invitations() {
        let me = key(1);
        let other = key(2);
        assert!(may_sign(&entry_message(&me.public()), &me.public()).is_ok());
        assert_eq!(
            may_sign(&entry_message(&other.public()), &me.public()),
            Err(Refusal::OtherAuthor(other.public().to_hex()))
        );
        // An entry that signs fine with the key is one the agent would sign.
        let message = entry_message(&me.public());
        let header = header::decode(&message[SIGNATURE_DOMAIN.len()..]).unwrap();
        assert!(Entry::sign(header, &me).is_ok());
        // Arbitrary bytes, a checkpoint, a truncated header: refused.
        assert_eq!(may_sign(b"hello", &me.public()), Err(Refusal::NotAnEntry));
        let checkpoint = [countersign_ledger::checkpoint::CHECKPOINT_DOMAIN, &[0; 100]].concat();
        assert_eq!(
            may_sign(&checkpoint, &me.public()),
            Err(Refusal::NotAnEntry)
        );
        let truncated = &message[..message.len() - 1];
        assert!(matches!(
            may_sign(truncated, &me.public()),
            Err(Refusal::BadHeader(_))
        ));
    }

    #[test]
    fn the_wrapping_message_only_its_own_and_exactly() {
        let me = key(1);
        let mine = countersign_ledger::kek_message(&me.public());
        assert_eq!(
            may_sign(&mine, &me.public()).as_deref(),
            Ok("the data-key wrapping key")
        );
        // Another member's message, one byte more or less, the bare prefix: refused.
        let theirs = countersign_ledger::kek_message(&key(2).public());
        assert_eq!(may_sign(&theirs, &me.public()), Err(Refusal::OtherMember));
        let longer = [mine.as_slice(), b"x"].concat();
        assert_eq!(may_sign(&longer, &me.public()), Err(Refusal::OtherMember));
        assert_eq!(
            may_sign(&mine[..mine.len() - 1], &me.public()),
            Err(Refusal::OtherMember)
        );
        assert_eq!(
            may_sign(KEK_MESSAGE_DOMAIN, &me.public()),
            Err(Refusal::OtherMember)
        );
        // Still nothing arbitrary, nor a near miss of the domain.
        assert_eq!(
            may_sign(b"countersign data-key wrapping v2\0", &me.public()),
            Err(Refusal::NotAnEntry)
        );
        assert_eq!(may_sign(&[0; 64], &me.public()), Err(Refusal::NotAnEntry));
    }

    #[test]
    fn an_invitation_only_by_the_agents_key() {
        let me = key(1);
        let invitation = Invitation {
            network: Hash::of(b"net"),
            founder: me.public(),
            invitee: key(3).public(),
            issued_ms: 1,
            expires_ms: 2,
            peers: vec![],
        };
        // What `try_sign` hands a signer is exactly what the agent accepts.
        struct Capture<'a>(&'a SecretKey, std::cell::RefCell<Vec<u8>>);
        impl countersign_ledger::Signer for Capture<'_> {
            fn public(&self) -> PublicKey {
                self.0.public()
            }
            fn try_sign(&self, message: &[u8]) -> Result<[u8; 64], countersign_ledger::SignError> {
                *self.1.borrow_mut() = message.to_vec();
                countersign_ledger::Signer::try_sign(self.0, message)
            }
        }
        let capture = Capture(&me, Default::default());
        invitation.try_sign(&capture).unwrap();
        let message = capture.1.take();
        assert!(may_sign(&message, &me.public()).is_ok());
        assert_eq!(
            may_sign(&message, &key(2).public()),
            Err(Refusal::OtherIssuer)
        );
    }
}
