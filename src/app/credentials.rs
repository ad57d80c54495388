//! Credentials: store, list, find and delete. Each front end (MCP, REST, the
//! CLI, the entry page through [`super::entry_desk::submit`]) calls these.

use std::sync::Arc;

use super::page_cache::PageKey;
use super::{AppError, VaultAccess};
use crate::error::VaultError;
use crate::model::Caller;
use crate::model::{ListCredentials, Selector, StoreCredential};
use crate::vault::{Credential, Deleted, Metadata, Page, Stored};

/// Stores `input` (replacing the credential of the same service and name).
pub async fn store_credential(
    access: &VaultAccess,
    caller: &Caller,
    input: StoreCredential,
) -> Result<Stored, AppError> {
    let via = caller.to_string();
    access.run(move |v| v.store_credential(&input, &via)).await
}

/// A page of credentials' metadata, rendered by `render` once per metadata
/// generation and request: repeated lists of unchanged metadata reuse the
/// rendering kept in the process's page cache (one read of the audit head
/// proves it current). Waits for this process's bookkeeping writes first, so
/// the page shows every use already answered.
pub async fn list_credentials<T, R>(
    access: &VaultAccess,
    input: ListCredentials,
    render: R,
) -> Result<Arc<T>, AppError>
where
    T: Send + Sync + 'static,
    R: FnOnce(&Page<Credential>) -> Result<T, VaultError> + Send + 'static,
{
    access.settled().await;
    let service = input.filter.map(|s| s.id);
    let key = move |m: &Metadata| -> PageKey {
        (m.generation(), service.clone(), input.cursor, input.limit)
    };
    let (quick_key, quick) = (key.clone(), access.clone());
    let hit = access
        .read(move |v| {
            Ok(v.current_metadata()?
                .and_then(|m| quick.pages().get::<T>(&quick_key(&m))))
        })
        .await?;
    if let Some(hit) = hit {
        return Ok(hit);
    }
    let cache = access.clone();
    access
        .run(move |v| {
            // One snapshot for both the key and, on a miss, the page.
            let metadata = v.metadata()?;
            let key = key(&metadata);
            if let Some(hit) = cache.pages().get::<T>(&key) {
                return Ok(hit);
            }
            let page = metadata.credentials_page(key.1.as_deref(), key.2, key.3);
            Ok(cache.pages().put(key, Arc::new(render(&page)?)))
        })
        .await
}

/// Every credential's metadata, oldest first, rendered by `render` from the
/// snapshot itself (no copy of the list is made).
pub async fn render_all<T, R>(access: &VaultAccess, render: R) -> Result<T, AppError>
where
    T: Send + 'static,
    R: FnOnce(&[Credential]) -> Result<T, VaultError> + Send + 'static,
{
    access
        .run(move |v| render(v.metadata()?.credentials()))
        .await
}

/// Every credential's metadata (of `service` only, when given), oldest first.
pub async fn all_credentials(
    access: &VaultAccess,
    service: Option<crate::catalog::Service>,
) -> Result<Vec<Credential>, AppError> {
    access
        .run(move |v| v.list_credentials(service.as_ref().map(|s| s.id.as_str())))
        .await
}

/// The credential `which` names, as it is now.
pub async fn find_credential(
    access: &VaultAccess,
    which: Selector,
) -> Result<Option<Credential>, AppError> {
    access.settled().await;
    access
        .run(move |v| {
            Ok(v.metadata()?.find_credential(|c| match &which {
                Selector::Id(id) => c.id == *id,
                Selector::Name { service, name } => c.service == *service && c.name == *name,
            }))
        })
        .await
}

/// Deletes the credential `which` names; `None` when there is none.
pub async fn delete_credential(
    access: &VaultAccess,
    caller: &Caller,
    which: Selector,
) -> Result<Option<Deleted>, AppError> {
    let via = caller.to_string();
    access.run(move |v| v.delete_credential(&which, &via)).await
}
