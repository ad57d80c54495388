//! `status`: which vault this process serves and how much it holds.

use super::{AppError, VaultAccess};
use crate::model::VaultStatus;

/// The vault's random id (seed 003's `workspaceId`), once it is unlocked.
pub async fn vault_id(access: &VaultAccess) -> Result<String, AppError> {
    Ok(access.vault().await?.id().to_string())
}

/// The member whose password opened the vault (`None` for a vault file).
pub async fn member(access: &VaultAccess) -> Result<Option<String>, AppError> {
    Ok(access.vault().await?.member().map(str::to_owned))
}

/// The vault's id, store and counts (after this process's bookkeeping writes).
pub async fn status(access: &VaultAccess) -> Result<VaultStatus, AppError> {
    access.settled().await;
    access
        .run(|v| {
            let metadata = v.metadata()?;
            Ok(VaultStatus {
                vault_id: v.id().to_string(),
                store: v.store_kind().to_owned(),
                location: v.location(),
                member: v.member().map(str::to_owned),
                credentials: metadata.credentials().len(),
                secrets: metadata.secret_count(),
            })
        })
        .await
}
