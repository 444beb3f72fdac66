//! Passphrases: held in wiped buffers and never printed, and where a home gets one when its
//! key is needed (a file, a descriptor, a terminal, or refused at once).

use std::fmt;
use std::sync::Arc;

use zeroize::Zeroizing;

use crate::error::{AppError, Result};

/// The passphrase of the `demo` command's homes (documented in the README; a demo home holds no
/// secret worth keeping).
pub const DEMO_PASSPHRASE: &str = "countersign-demo";

/// The shortest passphrase a key is sealed under.
pub const MIN_PASSPHRASE_CHARS: usize = 8;

/// A passphrase: wiped from memory when dropped, never printed (`Debug` shows no byte of it).
#[derive(Clone)]
pub struct Passphrase(Zeroizing<Vec<u8>>);

impl Passphrase {
    pub fn new(text: impl Into<String>) -> Passphrase {
        Passphrase(Zeroizing::new(text.into().into_bytes()))
    }

    /// A passphrase as read from a file or a descriptor: one trailing line break (`\n` or
    /// `\r\n`) is not part of it.
    pub fn from_file_bytes(bytes: Zeroizing<Vec<u8>>) -> Passphrase {
        let mut bytes = bytes;
        if bytes.last() == Some(&b'\n') {
            bytes.pop();
            if bytes.last() == Some(&b'\r') {
                bytes.pop();
            }
        }
        Passphrase(bytes)
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// Whether two passphrases are the same (a new one typed twice).
    pub fn same_as(&self, other: &Passphrase) -> bool {
        self.0.as_slice() == other.0.as_slice()
    }

    /// Refuses a passphrase too short to seal a key under.
    pub fn check_new(&self) -> Result<()> {
        let chars = String::from_utf8_lossy(&self.0).chars().count();
        if chars < MIN_PASSPHRASE_CHARS {
            return Err(AppError::InvalidInput(format!(
                "a passphrase needs at least {MIN_PASSPHRASE_CHARS} characters"
            )));
        }
        Ok(())
    }
}

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passphrase(<redacted>)")
    }
}

/// Why a passphrase is asked for: to open the key, or to seal a key under a new one (a terminal
/// asks for a new one twice).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PassphraseUse {
    /// Opening the sealed key.
    Unlock,
    /// Sealing a new key (`init`).
    New,
    /// Sealing a key found unsealed (a home from before keys were sealed).
    Migrate,
    /// The PIN of the hardware token holding the key (logging in to it, asked once).
    Pin,
}

type PassphraseFn = dyn Fn(PassphraseUse) -> Result<Passphrase> + Send + Sync;

/// Where a home gets a passphrase when it needs the secret key: given by the shell (the CLI reads
/// a file, a descriptor or the terminal; tests give a fixed one). Called only when a secret is
/// needed, never at open for a home whose key is sealed.
#[derive(Clone)]
pub struct PassphraseSource {
    get: Arc<PassphraseFn>,
    /// See [`PassphraseSource::locked`].
    locked: bool,
}

impl PassphraseSource {
    pub fn new(f: impl Fn(PassphraseUse) -> Result<Passphrase> + Send + Sync + 'static) -> Self {
        PassphraseSource {
            get: Arc::new(f),
            locked: false,
        }
    }

    /// Always this passphrase.
    pub fn fixed(passphrase: Passphrase) -> Self {
        PassphraseSource::new(move |_| Ok(passphrase.clone()))
    }

    /// No passphrase, ever (`locked`): the key is opened only by an explicit
    /// [`crate::Home::unlock`], whichever store holds it; a key in the OS keychain is not read
    /// on demand either. The desktop's source: its key stays locked until the user unlocks it,
    /// and again after the idle time.
    pub fn locked() -> Self {
        PassphraseSource {
            get: Arc::new(|_| Err(AppError::Locked)),
            locked: true,
        }
    }

    /// Whether a key this source does not open may be opened on demand all the same (a key in
    /// the keychain, which asks nothing of this source).
    pub(crate) fn opens_on_demand(&self) -> bool {
        !self.locked
    }

    pub(crate) fn get(&self, why: PassphraseUse) -> Result<Passphrase> {
        (self.get)(why)
    }
}

impl fmt::Debug for PassphraseSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PassphraseSource")
    }
}
