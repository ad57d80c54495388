//! Bearer tokens for `serve --http`: create, list, revoke.

use super::{AppError, VaultAccess};
use crate::model::Caller;
use crate::secret::SecretString;
use crate::vault::TokenInfo;

/// A new token named `name`: its value (shown once) and its metadata.
pub async fn create_token(
    access: &VaultAccess,
    caller: &Caller,
    name: String,
) -> Result<(SecretString, TokenInfo), AppError> {
    let via = caller.to_string();
    access.run(move |v| v.create_token(&name, &via)).await
}

/// The token `presented` is, if it is one (a keyed-hash lookup; on the
/// caller's task for a vault file).
pub async fn check_token(
    access: &VaultAccess,
    presented: String,
) -> Result<Option<TokenInfo>, AppError> {
    access.read(move |v| v.check_token(&presented)).await
}

/// Every token's metadata (never a value).
pub async fn list_tokens(access: &VaultAccess) -> Result<Vec<TokenInfo>, AppError> {
    access.run(|v| v.list_tokens()).await
}

/// Revokes the tokens whose id or name is `which`; how many there were.
pub async fn revoke_token(
    access: &VaultAccess,
    caller: &Caller,
    which: String,
) -> Result<usize, AppError> {
    let via = caller.to_string();
    access.run(move |v| v.revoke_token(&which, &via)).await
}
