//! Opening a vault over a caller-supplied redb [`StorageBackend`] instead of a
//! file path. Used by tests that interpose on storage (a power-cut simulation
//! that records the durable image at every sync, sync counting); the
//! production path, [`Vault::open`], is not involved and unchanged.

use std::path::Path;

use redb::{ReadableDatabase, StorageBackend};

use super::{Vault, read_meta, store, unlock};
use crate::crypto::kdf::{self, KdfHeader};
use crate::crypto::keys::VaultKeys;
use crate::error::VaultError;
use crate::secret::SecretString;

impl Vault {
    /// Opens and unlocks an existing, initialised vault stored in `backend`
    /// (multi-writer mode, integrity check on open, as [`Vault::open`] does).
    /// `label` is what [`Vault::path`] reports. Unlike [`Vault::open`] there is
    /// no separate read-only password check: a backend is not a shared file.
    pub fn open_with_backend(
        backend: impl StorageBackend,
        label: &Path,
        password: &SecretString,
    ) -> Result<Self, VaultError> {
        let db = store::open_backend(backend, label)?;
        let meta = read_meta(&db.begin_read()?)?.ok_or_else(|| {
            VaultError::Corrupt("the storage does not hold an initialised credvault vault".into())
        })?;
        let master = kdf::derive_master_key(password, &KdfHeader::decode(&meta.kdf)?)?;
        let (data_key, vault_id) = unlock(&master, &meta)?;
        let keys = VaultKeys::derive(&data_key)?;
        Ok(Self {
            db,
            keys,
            vault_id,
            path: label.to_owned(),
        })
    }
}
