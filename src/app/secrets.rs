//! Named secrets: create, list, find and delete.

use super::{AppError, VaultAccess};
use crate::model::Caller;
use crate::model::{CreateSecret, ListSecrets};
use crate::secret::SecretString;
use crate::vault::{Deleted, Page, Secret};

/// Creates the secret `input` describes (409 when the name is taken).
pub async fn create_secret(
    access: &VaultAccess,
    caller: &Caller,
    input: CreateSecret,
) -> Result<Secret, AppError> {
    let via = caller.to_string();
    access.run(move |v| v.create_secret(&input, &via)).await
}

/// A page of secrets' metadata (after this process's bookkeeping writes).
pub async fn list_secrets(
    access: &VaultAccess,
    input: ListSecrets,
) -> Result<Page<Secret>, AppError> {
    access.settled().await;
    access
        .run(move |v| v.secrets_page(input.filter.as_deref(), input.cursor, input.limit))
        .await
}

/// Every secret's metadata, oldest first.
pub async fn all_secrets(access: &VaultAccess) -> Result<Vec<Secret>, AppError> {
    access.run(|v| v.list_secrets()).await
}

/// The secret named `name`, as it is now.
pub async fn find_secret(access: &VaultAccess, name: String) -> Result<Option<Secret>, AppError> {
    access
        .run(move |v| Ok(v.metadata()?.find_secret(|s| s.name == name)))
        .await
}

/// Deletes the secret named `name`; `None` when there is none.
pub async fn delete_secret(
    access: &VaultAccess,
    caller: &Caller,
    name: String,
) -> Result<Option<Deleted>, AppError> {
    let via = caller.to_string();
    access.run(move |v| v.delete_secret(&name, &via)).await
}

/// Replaces the value of the secret named `name`; `None` when there is none.
pub async fn rotate_secret(
    access: &VaultAccess,
    caller: &Caller,
    name: String,
    value: SecretString,
) -> Result<Option<Secret>, AppError> {
    let via = caller.to_string();
    access
        .run(move |v| v.rotate_secret(&name, &value, &via))
        .await
}

/// Deletes the secret with id `id` (one its name no longer finds).
pub async fn delete_secret_by_id(
    access: &VaultAccess,
    caller: &Caller,
    id: uuid::Uuid,
) -> Result<Option<Deleted>, AppError> {
    let via = caller.to_string();
    access.run(move |v| v.delete_secret_by_id(id, &via)).await
}
