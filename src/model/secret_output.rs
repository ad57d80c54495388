//! What the secret operations answer: metadata and a masked value, never a value.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Result of `create_secret`. Never contains the value.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct CreateSecretOutput {
    /// Secret id (UUID).
    pub id: String,
    /// The secret's name.
    pub name: String,
    /// Provider.
    pub provider: String,
    /// At most 3/8 of the value around "••••", for recognising it.
    pub masked_value: String,
    /// RFC 3339 UTC.
    #[schemars(extend("format" = "date-time"))]
    pub created_at: String,
    /// RFC 3339 UTC.
    #[schemars(extend("format" = "date-time"))]
    pub updated_at: String,
}

/// One secret's metadata.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct SecretItem {
    /// Secret id (UUID).
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its provider.
    pub provider: String,
    /// At most 3/8 of the value around "••••".
    pub masked_value: String,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// RFC 3339 UTC.
    pub updated_at: String,
    /// RFC 3339 UTC of last use (exec), or null.
    pub last_used_at: Option<String>,
}

/// Result of `list_secrets`.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct ListSecretsOutput {
    /// Oldest first.
    pub secrets: Vec<SecretItem>,
    /// Pass as cursor for the next page; null at the end.
    pub next_cursor: Option<String>,
}

/// Result of `delete_secret`.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct DeleteSecretOutput {
    /// Always true.
    pub deleted: bool,
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
}
