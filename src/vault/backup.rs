//! `backup`: a consistent copy of the vault in a new file, which the same
//! password (or member password) opens.

use std::path::{Path, PathBuf};

use super::Vault;
use super::audit::Event;
use super::change::{AuditedStore, Unaudited, unaudited};
use crate::error::VaultError;
use crate::store::redb::{self as file, RedbStore};
use crate::store::{Table, scan_all};

impl Vault {
    /// Writes a consistent copy of the vault to the file `to` (which must not
    /// exist): the same password (or member password) opens it. The `backup`
    /// audit entry is committed first, so the copy holds it; every write
    /// acknowledged before the call is in the copy. Written to `<to>.partial`
    /// (0600, exclusive) and hard-linked to `to` when durable, so a file that
    /// appeared at `to` meanwhile is never replaced. A team vault's backup is
    /// a vault file too (open it with `--vault FILE --member NAME`).
    pub fn backup(&self, to: &Path, via: &str) -> Result<(), VaultError> {
        if to.exists() {
            return Err(VaultError::AlreadyExists(to.display().to_string()));
        }
        let mut partial = to.as_os_str().to_owned();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        if partial.exists() {
            return Err(VaultError::AlreadyExists(format!(
                "{} (a backup in progress, or one cut short: remove it if it is yours)",
                partial.display()
            )));
        }
        self.change(|c| c.record(&Event::ok("backup", to.display().to_string(), via), None))?;

        let snapshot = self.store.read()?;
        if !file::create_file(&partial)? {
            return Err(VaultError::AlreadyExists(partial.display().to_string()));
        }
        let copy = RedbStore::new(file::create_db(&partial)?, &partial);
        let copy = AuditedStore::new(Box::new(copy));
        unaudited(&copy, &self.keys, None, Unaudited::BackupCopy, |out| {
            for table in Table::ALL {
                for (k, v) in scan_all(&*snapshot, table)? {
                    out.put(table, &k, &v)?;
                }
            }
            Ok(Some(()))
        })?;
        drop(copy);
        // A hard link cannot replace a file created at `to` meanwhile (a rename would).
        std::fs::hard_link(&partial, to).map_err(|e| {
            VaultError::io(
                format!("linking {} to {}", partial.display(), to.display()),
                e,
            )
        })?;
        let _ = std::fs::remove_file(&partial);
        file::sync_parent(to)?;
        Ok(())
    }
}
