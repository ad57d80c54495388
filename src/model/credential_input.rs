//! The arguments of the credential tools, each one type that is both the
//! JSON Schema `tools/list` serves and what the parser (`validate`) returns.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use uuid::Uuid;

use super::fields::{CredentialType, HostList, Label, SecretValue, ServiceId};
use super::paging::{Cursor, PageSize};
use crate::catalog::Service;
use crate::secret::SecretString;

/// `store_credential` (DESIGN §2).
#[derive(Debug, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct StoreCredential {
    /// Catalog id (openai, anthropic, azure-openai, binance, cohere, github, gitlab, google, groq,
    /// huggingface, mistral, openrouter, pinecone, slack, stripe) or custom.<name>.
    #[schemars(with = "ServiceId")]
    pub service_id: String,
    /// The service `service_id` resolves to.
    #[schemars(skip)]
    pub service: Service,
    /// bearer: Authorization: Bearer <value>; api_key: the service's key header.
    pub credential_type: CredentialType,
    /// The key or token; never shown again.
    #[schemars(rename = "credential_value", with = "SecretValue")]
    pub value: SecretString,
    /// Label, default "default" (e.g. prod, backup).
    #[schemars(with = "Option<Label>")]
    pub name: String,
    /// Hosts (host[:port]) call_api may send it to. Default: the catalog API host; needed for
    /// custom.* and azure-openai.
    #[schemars(with = "Option<HostList>")]
    pub allowed_hosts: Vec<String>,
    /// custom.* api_key only: its header (default X-API-Key).
    pub auth_header: Option<String>,
    /// Optional extra sealed payload stored with the value (Flowise `plainDataObj`).
    #[schemars(skip)]
    pub attachment: Option<SecretString>,
}

/// `request_credential` (DESIGN §9): everything a stored credential is but
/// its value, held while the person enters the value.
#[derive(Debug, Clone, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct CredentialSpec {
    /// As for store_credential.
    #[schemars(with = "ServiceId")]
    pub service_id: String,
    /// The service `service_id` resolves to.
    #[schemars(skip)]
    pub service: Service,
    /// bearer or api_key.
    pub credential_type: CredentialType,
    /// Label, default "default".
    #[schemars(with = "Option<Label>")]
    pub name: String,
    /// Hosts to propose; the user confirms or edits them.
    #[schemars(with = "Option<HostList>")]
    pub allowed_hosts: Vec<String>,
    /// custom.* api_key only: its header.
    pub auth_header: Option<String>,
}

impl CredentialSpec {
    /// The store request for `value` (trimmed and checked by the caller).
    pub fn with_value(self, value: SecretString) -> StoreCredential {
        StoreCredential {
            service_id: self.service_id,
            service: self.service,
            credential_type: self.credential_type,
            value,
            name: self.name,
            allowed_hosts: self.allowed_hosts,
            auth_header: self.auth_header,
            attachment: None,
        }
    }
}

/// `list_credentials` (DESIGN §11).
#[derive(Debug, Clone, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ListCredentials {
    /// Only this service.
    #[schemars(rename = "service_id", with = "Option<String>")]
    pub filter: Option<Service>,
    /// Page size (default 200).
    #[schemars(with = "Option<PageSize>")]
    pub limit: usize,
    /// next_cursor of the previous page.
    pub cursor: Option<Cursor>,
}

/// Which credential an operation means; as the `delete_credential`
/// arguments (DESIGN §10): an id, or a service and a label (default
/// "default"), not both.
#[derive(Debug, Clone)]
pub enum Selector {
    /// By id.
    Id(Uuid),
    /// By canonical service id and label.
    Name {
        /// Canonical service id.
        service: String,
        /// Label.
        name: String,
    },
}

impl JsonSchema for Selector {
    fn schema_name() -> Cow<'static, str> {
        "DeleteCredential".into()
    }

    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        let described = |mut s: Schema, text: &str| {
            s.insert("description".into(), text.into());
            s
        };
        let id = described(
            g.subschema_for::<Option<String>>(),
            "Credential id; or service_id and name.",
        );
        let service_id = described(g.subschema_for::<Option<ServiceId>>(), "Service.");
        let name = described(
            g.subschema_for::<Option<Label>>(),
            "Label, default \"default\".",
        );
        json_schema!({
            "type": "object",
            "properties": { "id": id, "service_id": service_id, "name": name },
            "additionalProperties": false
        })
    }
}
