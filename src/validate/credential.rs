//! store_credential and request_credential arguments (DESIGN §2, §9): the
//! same fields, with or without the value.

use serde_json::{Map, Value};

use super::{CredentialType, FieldError, Fields, StoreCredential, json_type, label, service};
use crate::catalog::Service;
use crate::error::ApiError;
use crate::secret::SecretString;

/// store_credential arguments (DESIGN §2).
pub fn store_credential(args: Map<String, Value>) -> Result<StoreCredential, ApiError> {
    let (spec, value) = credential_fields(args, true)?;
    match value {
        Some(value) => Ok(spec.with_value(value)),
        None => Err(ApiError::bad_request("invalid arguments")),
    }
}

/// request_credential arguments (DESIGN §9): store_credential's without the value.
pub fn request_credential(args: Map<String, Value>) -> Result<CredentialSpec, ApiError> {
    Ok(credential_fields(args, false)?.0)
}

/// Everything a stored credential is but its value: what request_credential
/// holds while the person enters the value.
#[derive(Debug, Clone)]
pub struct CredentialSpec {
    /// The service id as the caller wrote it (trimmed, lower-cased).
    pub service_id: String,
    /// The resolved service.
    pub service: Service,
    /// Bearer or API key.
    pub credential_type: CredentialType,
    /// Label; `default` when absent.
    pub name: String,
    /// Hosts the value may be sent to (normalised; empty: the catalog default).
    pub allowed_hosts: Vec<String>,
    /// Header a `custom.*` api_key is sent in.
    pub auth_header: Option<String>,
}

impl CredentialSpec {
    /// The store request for `value`.
    pub fn with_value(self, value: SecretString) -> StoreCredential {
        StoreCredential {
            service_id: self.service_id,
            service: self.service,
            credential_type: self.credential_type,
            value,
            name: self.name,
            attachment: None,
            allowed_hosts: self.allowed_hosts,
            auth_header: self.auth_header,
        }
    }
}

fn credential_fields(
    args: Map<String, Value>,
    with_value: bool,
) -> Result<(CredentialSpec, Option<SecretString>), ApiError> {
    let allowed: &[&str] = if with_value {
        &[
            "service_id",
            "credential_type",
            "credential_value",
            "name",
            "allowed_hosts",
            "auth_header",
        ]
    } else {
        &[
            "service_id",
            "credential_type",
            "name",
            "allowed_hosts",
            "auth_header",
        ]
    };
    let mut f = Fields::new(args, allowed);
    let raw_service = f.string("service_id", true);
    let service = service(&mut f, "service_id", raw_service);
    let credential_type = match f.string("credential_type", true).as_deref() {
        None => None,
        Some("bearer") => Some(CredentialType::Bearer),
        Some("api_key") => Some(CredentialType::ApiKey),
        Some(_) => {
            f.push("credential_type", "enum", "must be one of: bearer, api_key");
            None
        }
    };
    let value = if with_value {
        f.secret("credential_value")
    } else {
        None
    };
    let name = label(&mut f);
    let allowed_hosts = allowed_hosts(&mut f);
    let auth_header = f.string("auth_header", false).and_then(|h| {
        let custom_key = service.as_ref().is_some_and(|(_, s)| s.id.starts_with("custom."))
            && credential_type == Some(CredentialType::ApiKey);
        let checked = if custom_key {
            crate::usage::check_auth_header(&h)
        } else {
            Err("is only used by api_key credentials of custom.* services (catalog services use their own header, bearer uses Authorization)".to_owned())
        };
        checked.map_err(|msg| f.push("auth_header", "value_error", msg)).ok().map(|()| h)
    });
    f.finish()?;
    match (service, credential_type, name) {
        (Some((service_id, service)), Some(credential_type), Some(name)) => Ok((
            CredentialSpec {
                service_id,
                service,
                credential_type,
                name,
                allowed_hosts,
                auth_header,
            },
            value,
        )),
        _ => Err(ApiError::bad_request("invalid arguments")),
    }
}

/// `allowed_hosts`: an optional array of `host` / `host:port` (normalised).
fn allowed_hosts(f: &mut Fields) -> Vec<String> {
    use crate::usage::destination::{HostEntry, MAX_ALLOWED_HOSTS};
    let field = "allowed_hosts";
    let items = match f.obj.remove(field) {
        None | Some(Value::Null) => return Vec::new(),
        Some(Value::Array(items)) => items,
        Some(other) => {
            let msg = format!("must be an array of host names, not {}", json_type(&other));
            f.push(field, "type_error", msg);
            return Vec::new();
        }
    };
    if items.len() > MAX_ALLOWED_HOSTS {
        let msg = format!(
            "must list at most {MAX_ALLOWED_HOSTS} hosts (got {})",
            items.len()
        );
        f.push(field, "too_long", msg);
        return Vec::new();
    }
    let mut out: Vec<String> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let parsed = match item {
            Value::String(s) => HostEntry::parse(s),
            other => Err(format!("must be a string, not {}", json_type(other))),
        };
        match parsed {
            Ok(h) if !out.contains(&h.to_string()) => out.push(h.to_string()),
            Ok(_) => {}
            Err(msg) => f.errors.push(FieldError {
                loc: vec![field.to_owned(), i.to_string()],
                msg,
                kind: "value_error",
            }),
        }
    }
    out
}
