//! Argument validation: trim, check every field, and collect *all* failures into
//! a 422 (DESIGN §3) instead of stopping at the first. Values are moved into
//! [`SecretString`] as soon as they are read and are never echoed in a message.

use serde_json::{Map, Value};

use crate::catalog::Service;
use crate::error::{ApiError, FieldError};
use crate::model::{
    BLANK, Cursor, Invalid, Label, ListCredentials, PageSize, Provider, SecretName, SecretValue,
    ServiceId,
};
use crate::secret::SecretString;

pub use crate::model::{
    CreateSecret, CredentialSpec, CredentialType, DEFAULT_NAME, MAX_NAME_CHARS,
    MAX_SERVICE_ID_CHARS, MAX_VALUE_BYTES, StoreCredential, is_invisible,
};

/// Most unknown field names echoed in one 422.
pub const MAX_ECHOED_FIELDS: usize = 10;
/// Longest field name echoed, in characters (longer ones are cut with `…`).
pub const MAX_ECHOED_CHARS: usize = 64;

pub use crate::model::bounded;

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
            Some(Value::String(s)) => match SecretValue::new(SecretString::new(s)) {
                Ok(v) => Some(v.into_secret()),
                Err(Invalid { kind, msg }) => {
                    self.push(field, kind, msg);
                    None
                }
            },
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
    match ServiceId::resolve(&raw?) {
        Ok(id) => Some((id.given, id.service)),
        Err(Invalid { kind, msg }) => {
            fields.push(field, kind, msg);
            None
        }
    }
}

/// Validates a credential label.
pub fn check_name(name: &str) -> Result<(), String> {
    Label::parse(name).map(drop).map_err(|e| e.msg)
}

/// The optional `name` label: absent or null means [`DEFAULT_NAME`].
pub(crate) fn label(f: &mut Fields) -> Option<String> {
    let name = match f.obj.get("name") {
        None => return Some(Label::default().into_string()),
        Some(Value::Null) => {
            f.obj.remove("name");
            return Some(Label::default().into_string());
        }
        _ => f.string("name", true)?,
    };
    match Label::parse(&name) {
        Ok(l) => Some(l.into_string()),
        Err(Invalid { kind, msg }) => {
            f.push("name", kind, msg);
            None
        }
    }
}

mod credential;
pub use credential::{delete_credential, request_credential, store_credential};

/// list_credentials arguments: an optional service filter, resolved like store's.
pub fn list_credentials(args: Map<String, Value>) -> Result<ListCredentials, ApiError> {
    let mut f = Fields::new(args, &["service_id", "limit", "cursor"]);
    let raw = f.string("service_id", false);
    let service = service(&mut f, "service_id", raw);
    let (limit, cursor) = paging(&mut f);
    f.finish()?;
    Ok(ListCredentials {
        filter: service.map(|(_, s)| s),
        limit,
        cursor,
    })
}

/// `limit` (a [`PageSize`], default 200) and `cursor` (opaque, from `next_cursor`).
pub(crate) fn paging(f: &mut Fields) -> (usize, Option<Cursor>) {
    let limit = match f.obj.remove("limit") {
        None | Some(Value::Null) => PageSize::default(),
        Some(Value::Number(n)) => match n.as_u64().and_then(PageSize::new) {
            Some(l) => l,
            None => {
                f.push(
                    "limit",
                    "value_error",
                    format!("must be an integer from 1 to {}", crate::model::MAX_LIMIT),
                );
                PageSize::default()
            }
        },
        Some(other) => {
            let msg = format!("must be an integer, not {}", json_type(&other));
            f.push("limit", "type_error", msg);
            PageSize::default()
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
    (limit.get(), cursor)
}

mod secret;
pub use secret::{delete_secret, list_secrets};

mod args;
pub use args::{
    CreateSecretArgs, DeleteCredentialArgs, StoreCredentialArgs, list_credentials_of,
    list_secrets_of, secret_name,
};

mod call_api;
pub use call_api::call_api;

#[cfg(test)]
mod bounds;

/// Whether `name` is an environment-variable style secret name ([`SecretName`]).
pub fn is_env_name(name: &str) -> bool {
    SecretName::is_valid(name)
}

/// Whether `p` is a catalog provider id or a lower-case slug ([`Provider`]).
pub fn is_provider(p: &str) -> bool {
    Provider::is_valid(p)
}

/// create_secret arguments (DESIGN §2).
pub fn create_secret(args: Map<String, Value>) -> Result<CreateSecret, ApiError> {
    let mut f = Fields::new(args, &["name", "provider", "value"]);
    let name = f
        .string("name", true)
        .and_then(|n| match SecretName::parse(&n) {
            Some(n) => Some(n.into_string()),
            None => {
                f.push(
                    "name",
                    "value_error",
                    format!(
                        "must be an environment variable name matching {}, e.g. OPENAI_API_KEY",
                        SecretName::pattern()
                    ),
                );
                None
            }
        });
    let provider = f
        .string("provider", true)
        .and_then(|p| match Provider::parse(&p) {
            Some(p) => Some(p.into_string()),
            None => {
                f.push(
                    "provider",
                    "value_error",
                    format!(
                        "must be a catalog provider id (e.g. openai) or a slug matching {}",
                        Provider::slug()
                    ),
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
