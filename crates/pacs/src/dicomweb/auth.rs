//! HTTP authentication of a DICOMweb archive: the credentials (Basic or Bearer), the
//! `Authorization` header made from them, and where they may be sent.
//!
//! The secret is held zeroized on drop and never printed (`Debug` shows the user only). The
//! header is made per request and marked sensitive (the HTTP library keeps it out of its own
//! `Debug`); it is sent to the archive's own URL only: redirects are not followed (see
//! [`super::DicomWeb::new`]), so a 3xx naming another host never receives it. Over plain
//! `http://` it is refused unless the host is this machine (loopback) or the operator said
//! so explicitly ([`check_transport`]): a password in clear on a hospital LAN is readable by
//! anything on the path.

use base64::Engine as _;
use zeroize::Zeroizing;

use crate::{PacsError, Result};

/// The longest user name taken (RFC 7617 sets none; LDAP-backed archives use short ones).
pub const MAX_USER_LEN: usize = 256;
/// The longest password or token taken: a JWT with many claims is a few KiB.
pub const MAX_SECRET_LEN: usize = 8 * 1024;

/// What a DICOMweb archive is told in every request's `Authorization` header.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// HTTP Basic (RFC 7617): a user and a password.
    Basic {
        user: String,
        password: Zeroizing<String>,
    },
    /// A bearer token (RFC 6750), as an OAuth proxy in front of the archive issues.
    Bearer { token: Zeroizing<String> },
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The user names who logs in (it is shown in `pacs list`); the secret never.
        match self {
            Credentials::Basic { user, .. } => f
                .debug_struct("Basic")
                .field("user", user)
                .field("password", &"<redacted>")
                .finish(),
            Credentials::Bearer { .. } => f
                .debug_struct("Bearer")
                .field("token", &"<redacted>")
                .finish(),
        }
    }
}

impl Credentials {
    /// Basic credentials, checked: a user of 1 to [`MAX_USER_LEN`] bytes without `:` (RFC 7617
    /// splits on the first colon) or control characters, a password of 1 to
    /// [`MAX_SECRET_LEN`] bytes without control characters.
    pub fn basic(user: &str, password: Zeroizing<String>) -> Result<Credentials> {
        if user.is_empty()
            || user.len() > MAX_USER_LEN
            || user.contains(':')
            || user.chars().any(char::is_control)
        {
            return Err(PacsError::InvalidInput(format!(
                "a user name is 1 to {MAX_USER_LEN} bytes without ':' or control characters"
            )));
        }
        check_secret("a password", &password)?;
        Ok(Credentials::Basic {
            user: user.to_string(),
            password,
        })
    }

    /// A bearer token, checked: 1 to [`MAX_SECRET_LEN`] bytes of RFC 6750's token characters.
    pub fn bearer(token: Zeroizing<String>) -> Result<Credentials> {
        check_secret("a token", &token)?;
        if !token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b))
        {
            return Err(PacsError::InvalidInput(
                "a bearer token is letters, digits and -._~+/= only".into(),
            ));
        }
        Ok(Credentials::Bearer { token })
    }

    /// `basic` or `bearer`.
    pub fn kind(&self) -> &'static str {
        match self {
            Credentials::Basic { .. } => "basic",
            Credentials::Bearer { .. } => "bearer",
        }
    }

    /// The user name, for Basic.
    pub fn user(&self) -> Option<&str> {
        match self {
            Credentials::Basic { user, .. } => Some(user),
            Credentials::Bearer { .. } => None,
        }
    }

    /// The secret (password or token), to seal it.
    pub fn secret(&self) -> &Zeroizing<String> {
        match self {
            Credentials::Basic { password, .. } => password,
            Credentials::Bearer { token } => token,
        }
    }

    /// The `Authorization` header's value, marked sensitive. The text it is made from is
    /// wiped here; the header's own copy lives as long as the request.
    pub(crate) fn header(&self) -> ureq::http::HeaderValue {
        let text = Zeroizing::new(match self {
            Credentials::Basic { user, password } => {
                let pair = Zeroizing::new(format!("{user}:{}", password.as_str()));
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(pair.as_bytes())
                )
            }
            Credentials::Bearer { token } => format!("Bearer {}", token.as_str()),
        });
        // Checked on entry: no control characters, so a header value.
        let mut value = ureq::http::HeaderValue::from_str(&text)
            .unwrap_or_else(|_| ureq::http::HeaderValue::from_static(""));
        value.set_sensitive(true);
        value
    }
}

fn check_secret(what: &str, secret: &str) -> Result<()> {
    if secret.is_empty() || secret.len() > MAX_SECRET_LEN || secret.chars().any(char::is_control) {
        return Err(PacsError::InvalidInput(format!(
            "{what} is 1 to {MAX_SECRET_LEN} bytes without control characters"
        )));
    }
    Ok(())
}

/// The host of a DICOMweb base URL (`http[s]://host[:port]/...`), without brackets for IPv6.
pub(crate) fn host(base: &str) -> &str {
    let rest = base
        .strip_prefix("http://")
        .or_else(|| base.strip_prefix("https://"))
        .unwrap_or(base);
    let authority = rest.split('/').next().unwrap_or_default();
    match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    }
}

/// Whether `host` is this machine: `localhost` or a loopback address.
pub(crate) fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Credentials go over `https://`, or over `http://` to this machine; over `http://` to
/// another host only when the operator allowed it (`allow_cleartext`).
pub fn check_transport(base: &str, allow_cleartext: bool) -> Result<()> {
    if base.starts_with("https://") || allow_cleartext || is_loopback(host(base)) {
        return Ok(());
    }
    Err(PacsError::InvalidInput(format!(
        "credentials are not sent in clear to {}: use an https:// URL, or allow plain http \
         explicitly (--allow-cleartext-credentials)",
        host(base)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> Zeroizing<String> {
        Zeroizing::new(s.to_string())
    }

    #[test]
    fn debug_shows_the_user_and_never_the_secret() {
        let basic = Credentials::basic("alice", secret("s3cret-pw")).unwrap();
        let bearer = Credentials::bearer(secret("tok.EN-123")).unwrap();
        for c in [&basic, &bearer] {
            let shown = format!("{c:?} {c:#?}");
            assert!(
                !shown.contains("s3cret") && !shown.contains("tok.EN"),
                "{shown}"
            );
            assert!(shown.contains("redacted"), "{shown}");
        }
        assert!(format!("{basic:?}").contains("alice"));
        // The header carries it, and says it is sensitive (its Debug is redacted too).
        let header = basic.header();
        assert!(header.is_sensitive());
        assert_eq!(header.to_str().unwrap(), "Basic YWxpY2U6czNjcmV0LXB3");
        assert!(!format!("{header:?}").contains("YWxp"));
        assert_eq!(bearer.header().to_str().unwrap(), "Bearer tok.EN-123");
    }

    #[test]
    fn bad_credentials_are_refused_before_use() {
        assert!(Credentials::basic("", secret("x")).is_err());
        assert!(Credentials::basic("a:b", secret("x")).is_err());
        assert!(Credentials::basic("a", secret("")).is_err());
        assert!(Credentials::basic("a", secret("x\r\nHost: evil")).is_err());
        assert!(Credentials::basic("a", secret(&"x".repeat(MAX_SECRET_LEN + 1))).is_err());
        assert!(Credentials::bearer(secret("a b")).is_err());
    }

    #[test]
    fn credentials_go_in_clear_only_to_this_machine_unless_allowed() {
        for ok in [
            "https://pacs.example.org/dicom-web",
            "http://127.0.0.1:8042/dicom-web",
            "http://localhost/dicom-web",
            "http://[::1]:8042/dicom-web",
            "http://127.8.9.10/x",
        ] {
            assert!(check_transport(ok, false).is_ok(), "{ok}");
        }
        for clear in [
            "http://pacs.example.org/dicom-web",
            "http://10.0.0.5:8042/dicom-web",
            "http://[fe80::1]/x",
            "http://localhost.example.org/x",
            "http://127.0.0.1.example.org/x",
        ] {
            assert!(check_transport(clear, false).is_err(), "{clear}");
            assert!(check_transport(clear, true).is_ok(), "{clear}");
        }
    }
}
