//! Opening a vault over a caller-supplied redb [`StorageBackend`] instead of a
//! file path. Used by tests that interpose on storage (a power-cut simulation
//! that records the durable image at every sync, sync counting); the
//! production path, [`Vault::open`], is not involved and unchanged.

use std::path::Path;

use redb::StorageBackend;

use super::Vault;
use crate::error::VaultError;
use crate::secret::SecretString;
use crate::store::redb::{RedbStore, open_backend};

impl Vault {
    /// Opens and unlocks an existing, initialised vault stored in `backend`
    /// (multi-writer mode, integrity check on open, as [`Vault::open`] does).
    /// `label` is what [`Vault::location`] reports. Unlike [`Vault::open`] there is
    /// no separate read-only password check: a backend is not a shared file.
    pub fn open_with_backend(
        backend: impl StorageBackend,
        label: &Path,
        password: &SecretString,
    ) -> Result<Self, VaultError> {
        let store = RedbStore::new(open_backend(backend, label)?, label);
        Vault::unlock(Box::new(store), password, None, None)
    }
}
