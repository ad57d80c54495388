//! What `status` answers: which vault this is and how much it holds.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Which vault a process serves, and its counts. Never a value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct VaultStatus {
    /// The vault's random id (two processes serve the same vault when equal).
    pub vault_id: String,
    /// `file` or `postgres`.
    pub store: String,
    /// The vault file, or the database URL without its password.
    pub location: String,
    /// The member whose password opened a team vault; null for a vault file.
    pub member: Option<String>,
    /// Credentials stored.
    pub credentials: usize,
    /// Named secrets stored.
    pub secrets: usize,
}
