//! Argument validation: trim, check every field, and collect *all* failures into
//! a 422 (DESIGN §3) instead of stopping at the first. Values are moved into
//! [`SecretString`] as soon as they are read and are never echoed in a message.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::catalog::{self, SERVICE_HELP, Service};
use crate::error::{ApiError, FieldError};
use crate::secret::SecretString;

/// Largest credential or secret value accepted, in bytes after trimming.
pub const MAX_VALUE_BYTES: usize = 16 * 1024;
/// Longest credential name, in characters.
pub const MAX_NAME_CHARS: usize = 128;
/// Longest service id: `custom.` and a 64-character name.
pub const MAX_SERVICE_ID_CHARS: usize = 7 + 64;
/// Default credential name.
pub const DEFAULT_NAME: &str = "default";

/// How a credential is presented to its service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CredentialType {
    /// `Authorization: Bearer <value>`.
    Bearer,
    /// An API key sent in the service's own header.
    ApiKey,
}

impl CredentialType {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bearer => "bearer",
            Self::ApiKey => "api_key",
        }
    }
}

/// A validated store_credential request.
#[derive(Debug)]
pub struct StoreCredential {
    /// The service id as the caller wrote it (trimmed, lower-cased), echoed as `service_id`.
    pub service_id: String,
    /// The resolved service.
    pub service: Service,
    /// Bearer or API key.
    pub credential_type: CredentialType,
    /// The value, trimmed.
    pub value: SecretString,
    /// Label, trimmed; `default` when absent.
    pub name: String,
    /// Optional extra sealed payload stored with the value (Flowise `plainDataObj`).
    pub attachment: Option<SecretString>,
    /// Hosts the value may be sent to (normalised; empty: the catalog default).
    pub allowed_hosts: Vec<String>,
    /// Header a `custom.*` api_key is sent in.
    pub auth_header: Option<String>,
}

/// A validated create_secret request.
#[derive(Debug)]
pub struct CreateSecret {
    /// Environment-variable style name.
    pub name: String,
    /// Provider id or slug, lower-cased.
    pub provider: String,
    /// The value, trimmed.
    pub value: SecretString,
}

/// Most unknown field names echoed in one 422.
pub const MAX_ECHOED_FIELDS: usize = 10;
/// Longest field name echoed, in characters (longer ones are cut with `…`).
pub const MAX_ECHOED_CHARS: usize = 64;

/// `s` cut to `max` characters, with `…` when cut.
pub fn bounded(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(max).collect();
        out.push('…');
        out
    }
}

/// Invisible or direction-changing characters that make two different names
/// look the same (`prod` and `prod\u{200b}`): zero-width and joiner
/// characters, bidirectional marks, embeddings, overrides and isolates, the
/// byte-order mark, soft hyphen and other format characters.
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{17B4}'
            | '\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{E0000}'..='\u{E007F}'
    )
}

/// The message for a string that is empty after trimming.
const BLANK: &str = "must not be empty or only white space";

/// Field reader that records every failure.
pub(crate) struct Fields {
    pub(crate) obj: Map<String, Value>,
    pub(crate) errors: Vec<FieldError>,
}

impl Fields {
    pub(crate) fn new(obj: Map<String, Value>, allowed: &[&str]) -> Self {
        let mut errors = Vec::new();
        let mut extra: Vec<&String> = obj
            .keys()
            .filter(|k| !allowed.contains(&k.as_str()))
            .collect();
        extra.sort();
        // Echo a bounded number of bounded names: an argument object may hold
        // thousands of keys, or a value pasted as a key.
        let more = extra.len().saturating_sub(MAX_ECHOED_FIELDS);
        for key in extra.into_iter().take(MAX_ECHOED_FIELDS) {
            errors.push(FieldError {
                loc: vec![bounded(key, MAX_ECHOED_CHARS)],
                msg: format!("unknown field; allowed fields are {}", allowed.join(", ")),
                kind: "extra_forbidden",
            });
        }
        if more > 0 {
            errors.push(FieldError {
                loc: vec!["…".to_owned()],
                msg: format!("…and {more} more unknown fields"),
                kind: "extra_forbidden",
            });
        }
        Self { obj, errors }
    }

    /// Takes a string field, trimmed. `None` when absent, null, or invalid (error recorded).
    pub(crate) fn string(&mut self, field: &str, required: bool) -> Option<String> {
        match self.obj.remove(field) {
            None | Some(Value::Null) => {
                if required {
                    self.errors
                        .push(FieldError::new(field, "missing", "is required"));
                }
                None
            }
            Some(Value::String(s)) => {
                let t = s.trim();
                if t.is_empty() {
                    self.push(field, "missing", BLANK);
                    None
                } else {
                    Some(t.to_owned())
                }
            }
            Some(other) => {
                self.errors.push(FieldError::new(
                    field,
                    "type_error",
                    format!("must be a string, not {}", json_type(&other)),
                ));
                None
            }
        }
    }

    /// Takes a secret string field without copying it into a plain `String`.
    fn secret(&mut self, field: &str) -> Option<SecretString> {
        match self.obj.remove(field) {
            None | Some(Value::Null) => {
                self.errors
                    .push(FieldError::new(field, "missing", "is required"));
                None
            }
            Some(Value::String(s)) => {
                let mut v = SecretString::new(s);
                v.trim_in_place();
                if v.is_empty() {
                    self.push(field, "missing", BLANK);
                    None
                } else if v.len() > MAX_VALUE_BYTES {
                    self.errors.push(FieldError::new(
                        field,
                        "too_long",
                        format!(
                            "must be at most {MAX_VALUE_BYTES} bytes after trimming (got {} bytes)",
                            v.len()
                        ),
                    ));
                    None
                } else {
                    Some(v)
                }
            }
            Some(other) => {
                self.errors.push(FieldError::new(
                    field,
                    "type_error",
                    format!("must be a string, not {}", json_type(&other)),
                ));
                None
            }
        }
    }

    pub(crate) fn push(&mut self, field: &str, kind: &'static str, msg: impl Into<String>) {
        self.errors.push(FieldError::new(field, kind, msg));
    }

    pub(crate) fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::validation(self.errors))
        }
    }
}

pub(crate) fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Resolves a trimmed service id; records a 422 naming `field` when unknown.
pub(crate) fn service(
    fields: &mut Fields,
    field: &str,
    raw: Option<String>,
) -> Option<(String, Service)> {
    let id = raw?.to_lowercase();
    match catalog::resolve(&id) {
        Some(s) => Some((id, s)),
        // Not echoed: no valid id is this long, and an argument this long may
        // be a value pasted into the wrong field (or megabytes of it).
        None if id.chars().count() > MAX_SERVICE_ID_CHARS => {
            fields.push(
                field,
                "too_long",
                format!(
                    "must be at most {MAX_SERVICE_ID_CHARS} characters (got {}): {SERVICE_HELP}",
                    id.chars().count()
                ),
            );
            None
        }
        None => {
            fields.push(
                field,
                "value_error",
                format!("unknown service {id:?}: {SERVICE_HELP}"),
            );
            None
        }
    }
}

/// Validates a credential label.
pub fn check_name(name: &str) -> Result<(), String> {
    let n = name.chars().count();
    if n > MAX_NAME_CHARS {
        return Err(format!(
            "must be at most {MAX_NAME_CHARS} characters (got {n})"
        ));
    }
    if name.chars().any(char::is_control) {
        return Err("must not contain control characters".to_owned());
    }
    if name.chars().any(is_invisible) {
        return Err(
            "must not contain invisible or bidirectional-control characters (zero-width spaces, joiners, direction marks)"
                .to_owned(),
        );
    }
    Ok(())
}

/// The optional `name` label: absent or null means [`DEFAULT_NAME`].
pub(crate) fn label(f: &mut Fields) -> Option<String> {
    let name = match f.obj.get("name") {
        None => Some(DEFAULT_NAME.to_owned()),
        Some(Value::Null) => {
            f.obj.remove("name");
            Some(DEFAULT_NAME.to_owned())
        }
        _ => f.string("name", true),
    };
    name.and_then(|n| match check_name(&n) {
        Ok(()) => Some(n),
        Err(msg) => {
            let kind = if msg.starts_with("must be at most") {
                "too_long"
            } else {
                "value_error"
            };
            f.push("name", kind, msg);
            None
        }
    })
}

mod credential;
pub use credential::{CredentialSpec, request_credential, store_credential};

/// list_credentials arguments: an optional service filter, resolved like store's.
pub fn list_credentials(args: Map<String, Value>) -> Result<Listing<Service>, ApiError> {
    let mut f = Fields::new(args, &["service_id", "limit", "cursor"]);
    let raw = f.string("service_id", false);
    let service = service(&mut f, "service_id", raw);
    let (limit, cursor) = paging(&mut f);
    f.finish()?;
    Ok(Listing {
        filter: service.map(|(_, s)| s),
        limit,
        cursor,
    })
}

/// A validated list request (DESIGN §11).
#[derive(Debug, Clone)]
pub struct Listing<F> {
    /// The filter (service or provider), if any.
    pub filter: Option<F>,
    /// Page size, 1..=1000 (default 200).
    pub limit: usize,
    /// Where to continue, from a previous `next_cursor`.
    pub cursor: Option<crate::vault::Cursor>,
}

/// `limit` (1..=1000, default 200) and `cursor` (opaque, from `next_cursor`).
pub(crate) fn paging(f: &mut Fields) -> (usize, Option<crate::vault::Cursor>) {
    use crate::vault::{Cursor, DEFAULT_LIMIT, MAX_LIMIT};
    let limit = match f.obj.remove("limit") {
        None | Some(Value::Null) => DEFAULT_LIMIT,
        Some(Value::Number(n)) => match n.as_u64() {
            Some(l) if (1..=MAX_LIMIT as u64).contains(&l) => l as usize,
            _ => {
                f.push(
                    "limit",
                    "value_error",
                    format!("must be an integer from 1 to {MAX_LIMIT}"),
                );
                DEFAULT_LIMIT
            }
        },
        Some(other) => {
            let msg = format!("must be an integer, not {}", json_type(&other));
            f.push("limit", "type_error", msg);
            DEFAULT_LIMIT
        }
    };
    let cursor = match f.string("cursor", false) {
        None => None,
        Some(c) => match Cursor::decode(&c) {
            Some(c) => Some(c),
            None => {
                f.push(
                    "cursor",
                    "value_error",
                    "is not a next_cursor this server returned: start again without cursor",
                );
                None
            }
        },
    };
    (limit, cursor)
}

mod lifecycle;
pub use lifecycle::{delete_credential, list_secrets, secret_name};

/// `^[A-Za-z_][A-Za-z0-9_]{0,127}$`.
pub fn is_env_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphabetic() || b[0] == b'_')
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

/// A catalog id or `[a-z0-9][a-z0-9._-]{0,63}`.
pub fn is_provider(p: &str) -> bool {
    let b = p.as_bytes();
    catalog::provider(p).is_some()
        || (!b.is_empty()
            && b.len() <= 64
            && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
            && b.iter().all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'.' | b'_' | b'-')
            }))
}

/// create_secret arguments (DESIGN §2).
pub fn create_secret(args: Map<String, Value>) -> Result<CreateSecret, ApiError> {
    let mut f = Fields::new(args, &["name", "provider", "value"]);
    let name = f.string("name", true).and_then(|n| {
        if is_env_name(&n) {
            Some(n)
        } else {
            f.push(
                "name",
                "value_error",
                "must be an environment variable name matching ^[A-Za-z_][A-Za-z0-9_]{0,127}$, e.g. OPENAI_API_KEY",
            );
            None
        }
    });
    let provider = f.string("provider", true).map(|p| p.to_lowercase()).and_then(|p| {
        if is_provider(&p) {
            Some(p)
        } else {
            f.push(
                "provider",
                "value_error",
                "must be a catalog provider id (e.g. openai) or a slug matching [a-z0-9][a-z0-9._-]{0,63}",
            );
            None
        }
    });
    let value = f.secret("value");
    f.finish()?;
    match (name, provider, value) {
        (Some(name), Some(provider), Some(value)) => Ok(CreateSecret {
            name,
            provider,
            value,
        }),
        _ => Err(ApiError::bad_request("invalid arguments")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn err(r: Result<impl std::fmt::Debug, ApiError>) -> ApiError {
        r.unwrap_err()
    }

    #[test]
    fn store_trims_lowercases_and_defaults_the_name() {
        let r = store_credential(obj(json!({
            "service_id": "  OpenAI ", "credential_type": " bearer", "credential_value": "  sk-1 \n"
        })))
        .unwrap();
        assert_eq!(r.service.id, "openai");
        assert_eq!(r.value.expose(), "sk-1");
        assert_eq!(r.name, "default");
        assert_eq!(r.credential_type, CredentialType::Bearer);
    }

    #[test]
    fn store_reports_every_failing_field() {
        let e = err(store_credential(obj(json!({}))));
        assert_eq!(e.code, 422);
        assert_eq!(
            e.detail,
            "service_id, credential_type and credential_value are required"
        );
        let e = err(store_credential(obj(json!({
            "service_id": 5, "credential_type": "password", "credential_value": "   ", "name": "a\u{7}b", "extra": 1
        }))));
        let locs: Vec<_> = e
            .errors
            .iter()
            .map(|e| (e.loc[0].as_str(), e.kind))
            .collect();
        assert_eq!(
            locs,
            [
                ("extra", "extra_forbidden"),
                ("service_id", "type_error"),
                ("credential_type", "enum"),
                ("credential_value", "missing"),
                ("name", "value_error")
            ]
        );
    }

    #[test]
    fn store_limits_and_unknown_services() {
        let big = "x".repeat(MAX_VALUE_BYTES + 1);
        let e = err(store_credential(obj(json!({
            "service_id": "nope", "credential_type": "api_key", "credential_value": big, "name": "n".repeat(129)
        }))));
        let kinds: Vec<_> = e.errors.iter().map(|e| e.kind).collect();
        assert_eq!(kinds, ["value_error", "too_long", "too_long"]);
        assert!(e.errors[0].msg.contains("custom.<name>"));
        assert!(!e.to_json().contains("xxxxxxxx"), "value echoed");
        let ok = store_credential(obj(json!({
            "service_id": "custom.acme", "credential_type": "api_key",
            "credential_value": "x".repeat(MAX_VALUE_BYTES), "name": null
        })))
        .unwrap();
        assert_eq!(ok.service.service_name, "acme");
    }

    #[test]
    fn secret_names_and_providers() {
        assert!(
            is_env_name("OPENAI_API_KEY")
                && is_env_name("_x")
                && !is_env_name("1A")
                && !is_env_name("A-B")
        );
        assert!(is_env_name(&"A".repeat(128)) && !is_env_name(&"A".repeat(129)));
        assert!(
            is_provider("openai")
                && is_provider("my.prov-1")
                && !is_provider("Bad")
                && !is_provider(".x")
        );
        let e = err(create_secret(obj(
            json!({"name": "1BAD", "provider": "x y", "value": 3}),
        )));
        let locs: Vec<_> = e.errors.iter().map(|e| e.loc[0].as_str()).collect();
        assert_eq!(locs, ["name", "provider", "value"]);
    }
}
