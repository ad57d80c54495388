//! What the credential operations answer: metadata, never a value.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::CredentialType;

/// Result of `store_credential`. Never contains the value.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct StoreCredentialOutput {
    /// Always true on success.
    pub success: bool,
    /// Credential id (UUID); kept when a credential is replaced.
    pub id: String,
    /// The service id as given (trimmed, lower-cased).
    pub service_id: String,
    /// Canonical service id.
    pub service: String,
    /// Display name of the service.
    pub service_name: String,
    /// Credential label.
    pub name: String,
    /// How the value is presented: bearer or api_key.
    pub credential_type: CredentialType,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
    /// Unix seconds of last use; null until used.
    pub last_used_at: Option<i64>,
    /// True when an existing credential with this service and name was replaced.
    pub replaced: bool,
}

/// One stored credential's metadata.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct CredentialItem {
    /// Credential id (UUID).
    pub id: String,
    /// Service id.
    pub service: String,
    /// Credential label.
    pub name: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds of last use, or null.
    pub last_used_at: Option<i64>,
    /// Display name of the service.
    pub service_name: String,
    /// How the value is presented: bearer or api_key.
    pub credential_type: CredentialType,
    /// Unix seconds.
    pub updated_at: i64,
}

/// Result of `list_credentials`.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct ListCredentialsOutput {
    /// Oldest first.
    pub credentials: Vec<CredentialItem>,
    /// Pass as cursor for the next page; null at the end.
    pub next_cursor: Option<String>,
}

/// Result of `delete_credential`.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct DeleteCredentialOutput {
    /// Always true.
    pub deleted: bool,
    /// Its id.
    pub id: String,
    /// Its service.
    pub service: String,
    /// Its label.
    pub name: String,
}

/// Result of `request_credential`: store_credential's metadata once the person
/// entered the value, or the link to relay while it waits for them.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct RequestCredentialOutput {
    /// stored, or pending_user_action (relay `url` to the user).
    #[schemars(with = "String", extend("enum" = ["stored", "pending_user_action"]))]
    pub status: String,
    /// Pending: the one-time local link for the user (carries no value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Pending: when the link expires (RFC 3339 UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// Pending: what to tell the user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Stored: store_credential's result fields.
    #[serde(flatten)]
    pub stored: Option<StoreCredentialOutput>,
}
