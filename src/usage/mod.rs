//! Using a credential without showing it: `call_api` (an HTTPS request with the
//! value injected, the response redacted) and `credvault exec` (a program run
//! with values in its environment, its output redacted).
//!
//! The rules both share live here: [`redact`] (every encoding of a value),
//! [`destination`] (the hosts bound to a value and the address rule), and how a
//! value is presented to its service ([`auth_header_for`]).

pub mod call;
pub mod destination;
pub mod exec;
pub mod redact;

use crate::catalog::{self, AuthScheme};
use crate::model::CredentialType;

pub use call::{CallApiOutput, Outbound};

/// Header a `custom.*` api_key is sent in when none was named.
pub const DEFAULT_AUTH_HEADER: &str = "X-API-Key";

/// Headers that credvault sets or that would change how the request is framed
/// or routed; a caller may not set them, and `auth_header` may not name them
/// (`authorization` is allowed as an `auth_header`, but never from a caller).
const RESERVED_HEADERS: &[&str] = &[
    "host",
    "cookie",
    "connection",
    "content-length",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "keep-alive",
    "accept-encoding",
];

/// Whether a header name is an RFC 9110 token of at most 64 characters.
pub fn is_header_token(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Checks an `auth_header` given with a stored value.
pub fn check_auth_header(name: &str) -> Result<(), String> {
    let lower = name.to_ascii_lowercase();
    if !is_header_token(name) {
        return Err(
            "must be an HTTP header name of at most 64 characters (letters, digits, -)".into(),
        );
    }
    if RESERVED_HEADERS.contains(&lower.as_str()) || lower.starts_with("proxy-") {
        return Err(format!("{lower} cannot carry a credential"));
    }
    Ok(())
}

/// Why a caller-supplied header is refused, or `None` when it may be sent.
/// `auth` is the header the credential itself goes in.
pub fn refused_header(name: &str, auth: &str) -> Option<String> {
    let lower = name.to_ascii_lowercase();
    if lower == "authorization"
        || lower.starts_with("proxy-")
        || RESERVED_HEADERS.contains(&lower.as_str())
    {
        return Some(format!("{lower} is set by credvault and cannot be given"));
    }
    if lower.eq_ignore_ascii_case(auth) {
        return Some(format!(
            "{lower} carries this credential and cannot be given"
        ));
    }
    None
}

/// The header a credential is presented in and the text before the value:
/// `("Authorization", "Bearer ")` or `("x-api-key", "")`.
pub fn auth_header_for(
    service: &str,
    credential_type: CredentialType,
    custom_header: Option<&str>,
) -> (String, &'static str) {
    let bearer = || ("Authorization".to_owned(), "Bearer ");
    match (credential_type, catalog::provider(service).map(|p| p.auth)) {
        (CredentialType::Bearer, _) => bearer(),
        (CredentialType::ApiKey, Some(AuthScheme::Header(h))) => (h.to_owned(), ""),
        (CredentialType::ApiKey, Some(AuthScheme::Bearer)) => bearer(),
        (CredentialType::ApiKey, None) => {
            (custom_header.unwrap_or(DEFAULT_AUTH_HEADER).to_owned(), "")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn injection_follows_type_and_catalog() {
        use CredentialType::{ApiKey, Bearer};
        assert_eq!(
            auth_header_for("openai", Bearer, None),
            ("Authorization".into(), "Bearer ")
        );
        assert_eq!(
            auth_header_for("openai", ApiKey, None),
            ("Authorization".into(), "Bearer ")
        );
        assert_eq!(
            auth_header_for("anthropic", ApiKey, None),
            ("x-api-key".into(), "")
        );
        assert_eq!(
            auth_header_for("gitlab", ApiKey, None),
            ("PRIVATE-TOKEN".into(), "")
        );
        assert_eq!(
            auth_header_for("custom.a", ApiKey, None),
            ("X-API-Key".into(), "")
        );
        assert_eq!(
            auth_header_for("custom.a", ApiKey, Some("X-Acme-Key")),
            ("X-Acme-Key".into(), "")
        );
        assert_eq!(
            auth_header_for("custom.a", Bearer, None),
            ("Authorization".into(), "Bearer ")
        );
    }

    #[test]
    fn caller_headers_cannot_touch_auth_or_framing() {
        for h in [
            "Authorization",
            "proxy-authorization",
            "Cookie",
            "HOST",
            "x-api-key",
            "Transfer-Encoding",
        ] {
            assert!(refused_header(h, "x-api-key").is_some(), "{h}");
        }
        assert!(refused_header("Accept", "x-api-key").is_none());
        assert!(check_auth_header("X-Acme-Key").is_ok());
        assert!(check_auth_header("Authorization").is_ok());
        for bad in [
            "",
            "a b",
            "Cookie",
            "Proxy-Authorization",
            "x:y",
            &"a".repeat(65),
        ] {
            assert!(check_auth_header(bad).is_err(), "{bad}");
        }
    }
}
