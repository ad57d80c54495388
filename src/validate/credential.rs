//! store_credential and request_credential arguments (DESIGN §2, §9): the
//! same fields, with or without the value; and delete_credential's (§10).

use serde_json::{Map, Value};

use super::{FieldError, Fields, json_type, label, service};
use crate::error::ApiError;
use crate::model::{CredentialSpec, CredentialType, MAX_ALLOWED_HOSTS, Selector, StoreCredential};
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

/// `delete_credential {id?, service_id?, name?}`: an id, or a service and a
/// label (default "default"), not both.
pub fn delete_credential(args: Map<String, Value>) -> Result<Selector, ApiError> {
    let mut f = Fields::new(args, &["id", "service_id", "name"]);
    let id = f.string("id", false);
    let has_name = f.obj.get("name").is_some_and(|v| !v.is_null());
    let raw = f.string("service_id", false);
    let svc = service(&mut f, "service_id", raw.clone());
    let name = label(&mut f);
    let parsed_id = id.as_deref().map(uuid::Uuid::parse_str);
    if let Some(Err(_)) = parsed_id {
        f.push(
            "id",
            "value_error",
            "must be a credential id (UUID) as list_credentials shows it",
        );
    }
    match (&id, &raw) {
        (None, None) => f.push(
            "service_id",
            "missing",
            "give id, or service_id (and name) of the credential to delete",
        ),
        (Some(_), Some(_)) => f.push(
            "service_id",
            "value_error",
            "give id, or service_id and name, not both",
        ),
        (Some(_), None) if has_name => f.push(
            "name",
            "value_error",
            "name selects with service_id; with id, leave it out",
        ),
        _ => {}
    }
    f.finish()?;
    match (parsed_id, svc, name) {
        (Some(Ok(id)), _, _) => Ok(Selector::Id(id)),
        (None, Some((_, s)), Some(name)) => Ok(Selector::Name {
            service: s.id,
            name,
        }),
        _ => Err(ApiError::bad_request("invalid arguments")),
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
    let credential_type = f.string("credential_type", true).and_then(|t| {
        let parsed = CredentialType::parse(&t);
        if parsed.is_none() {
            let all: Vec<&str> = CredentialType::ALL.iter().map(|t| t.as_str()).collect();
            f.push(
                "credential_type",
                "enum",
                format!("must be one of: {}", all.join(", ")),
            );
        }
        parsed
    });
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
    use crate::usage::destination::HostEntry;
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
