//! The arguments of the named-secret tools, each one type that is both the
//! JSON Schema `tools/list` serves and what the parser (`validate`) returns.

use schemars::JsonSchema;

use super::fields::{Provider, SecretName, SecretValue};
use super::paging::{Cursor, PageSize};
use crate::secret::SecretString;

/// `create_secret` (DESIGN §2).
#[derive(Debug, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct CreateSecret {
    /// Unused env-var style name, e.g. OPENAI_API_KEY.
    #[schemars(with = "SecretName")]
    pub name: String,
    /// Issuer: catalog id or lower-case slug.
    #[schemars(with = "Provider")]
    pub provider: String,
    /// The value; only a masked form is returned.
    #[schemars(with = "SecretValue")]
    pub value: SecretString,
}

/// `list_secrets` (DESIGN §11).
#[derive(Debug, Clone, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ListSecrets {
    /// Only this provider.
    #[schemars(rename = "provider", with = "Option<String>")]
    pub filter: Option<String>,
    /// Page size (default 200).
    #[schemars(with = "Option<PageSize>")]
    pub limit: usize,
    /// next_cursor of the previous page.
    pub cursor: Option<Cursor>,
}

/// `delete_secret` (DESIGN §10).
#[derive(Debug, Clone, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct DeleteSecret {
    /// The secret's name.
    pub name: String,
}
