//! Tool arguments as the other front ends have them (CLI flags, the REST
//! seeds' own field names): typed fields, put into the tool's argument object
//! here, in one place, and checked by the same parser as an MCP call, so the
//! 422 (every failing field at once, §3) and its messages are the tool's.

use serde_json::{Map, Value, json};

use crate::error::ApiError;
use crate::model::{
    CreateSecret, CredentialType, ListCredentials, ListSecrets, Selector, StoreCredential,
};
use crate::secret::SecretString;

/// store_credential's fields.
pub struct StoreCredentialArgs {
    /// Service id as given.
    pub service_id: String,
    /// Bearer or API key.
    pub credential_type: CredentialType,
    /// The value.
    pub credential_value: SecretString,
    /// Label (`None`: the default).
    pub name: Option<String>,
    /// Hosts (empty: the catalog default).
    pub allowed_hosts: Vec<String>,
    /// A custom.* api_key's header.
    pub auth_header: Option<String>,
}

impl StoreCredentialArgs {
    /// Checked as store_credential checks its arguments.
    pub fn parse(self) -> Result<StoreCredential, ApiError> {
        let mut args = Map::new();
        args.insert("service_id".into(), json!(self.service_id));
        args.insert(
            "credential_type".into(),
            json!(self.credential_type.as_str()),
        );
        if let Some(name) = self.name {
            args.insert("name".into(), json!(name));
        }
        if !self.allowed_hosts.is_empty() {
            args.insert("allowed_hosts".into(), json!(self.allowed_hosts));
        }
        if let Some(h) = self.auth_header {
            args.insert("auth_header".into(), json!(h));
        }
        // The parser moves this string into a new SecretString; the one here
        // is wiped when it drops.
        args.insert(
            "credential_value".into(),
            Value::String(self.credential_value.expose().to_owned()),
        );
        super::store_credential(args)
    }
}

/// create_secret's fields.
pub struct CreateSecretArgs {
    /// Environment-variable style name.
    pub name: String,
    /// Provider id or slug.
    pub provider: String,
    /// The value.
    pub value: SecretString,
}

impl CreateSecretArgs {
    /// Checked as create_secret checks its arguments.
    pub fn parse(self) -> Result<CreateSecret, ApiError> {
        let mut args = Map::new();
        args.insert("name".into(), json!(self.name));
        args.insert("provider".into(), json!(self.provider));
        args.insert(
            "value".into(),
            Value::String(self.value.expose().to_owned()),
        );
        super::create_secret(args)
    }
}

/// delete_credential's fields: an id, or a service and a label.
pub enum DeleteCredentialArgs {
    /// By id, as given.
    Id(String),
    /// By service id and label, as given.
    Name {
        /// Service id.
        service_id: String,
        /// Label.
        name: String,
    },
}

impl DeleteCredentialArgs {
    /// Checked as delete_credential checks its arguments.
    pub fn parse(self) -> Result<Selector, ApiError> {
        let mut args = Map::new();
        match self {
            Self::Id(id) => {
                args.insert("id".into(), json!(id));
            }
            Self::Name { service_id, name } => {
                args.insert("service_id".into(), json!(service_id));
                args.insert("name".into(), json!(name));
            }
        }
        super::delete_credential(args)
    }
}

/// list_credentials with only a service filter (every page at once).
pub fn list_credentials_of(service_id: Option<String>) -> Result<ListCredentials, ApiError> {
    let mut args = Map::new();
    if let Some(service) = service_id {
        args.insert("service_id".into(), json!(service));
    }
    super::list_credentials(args)
}

/// list_secrets with only a provider filter.
pub fn list_secrets_of(provider: Option<String>) -> Result<ListSecrets, ApiError> {
    let mut args = Map::new();
    if let Some(p) = provider {
        args.insert("provider".into(), json!(p));
    }
    super::list_secrets(args)
}

/// A secret's name, checked as delete_secret checks its `name`.
pub fn secret_name(name: &str) -> Result<String, ApiError> {
    let mut args = Map::new();
    args.insert("name".into(), json!(name));
    Ok(super::delete_secret(args)?.name)
}
