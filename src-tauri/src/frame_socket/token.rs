//! This run's token: made at start, named in the handshake's path, compared in constant time.

/// This run's token, as it appears in the path (64 hex digits); held only in memory, wiped when
/// dropped.
pub(super) struct Token(pub(super) String);

impl Drop for Token {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.0.zeroize();
    }
}

impl Token {
    pub(super) fn new() -> Self {
        use rand_core::{OsRng, RngCore};
        let mut bytes = [0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        let mut hex = String::with_capacity(64);
        for b in &bytes {
            use std::fmt::Write;
            let _ = write!(hex, "{b:02x}");
        }
        zeroize::Zeroize::zeroize(&mut bytes);
        Token(hex)
    }

    /// Whether `path` is `/frames/<this token>`, compared in constant time.
    pub(super) fn admits(&self, path: &str) -> bool {
        let Some(given) = path.strip_prefix("/frames/") else {
            return false;
        };
        let (a, b) = (given.as_bytes(), self.0.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}
