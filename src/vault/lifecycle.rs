//! Deleting credentials and secrets, rotating a secret, changing the master
//! password and taking a backup (DESIGN §10). Each change and its audit entry
//! commit in one transaction.

use std::path::Path;

use redb::{ReadableDatabase, ReadableTable, TableHandle};
use uuid::Uuid;

use super::audit::{self, AUDIT, Event, Table, Written};
use super::format::{self, Kind, open_record, seal_record};
use super::store::{self, CREDENTIALS, INDEX, META, SECRETS, TOKENS, begin_write, meta_key};
use super::{CredentialRecord, Secret, SecretRecord, Vault, now, secret};
use crate::crypto::kdf::{self, KdfHeader, KdfParams};
use crate::error::VaultError;
use crate::mask::mask;
use crate::secret::SecretString;

/// Which credential to delete.
#[derive(Debug, Clone)]
pub enum Selector {
    /// By id.
    Id(Uuid),
    /// By canonical service id and label.
    Name {
        /// Canonical service id.
        service: String,
        /// Label.
        name: String,
    },
}

/// What a delete removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deleted {
    /// Its id.
    pub id: Uuid,
    /// Its service (credentials; `None` for secrets).
    pub service: Option<String>,
    /// Its label or secret name (empty when the record no longer opened).
    pub name: String,
}

impl Vault {
    /// Deletes a credential; `Ok(None)` when there is none. A record that no
    /// longer opens (damaged) can still be deleted by id.
    pub fn delete_credential(
        &self,
        which: &Selector,
        via: &str,
    ) -> Result<Option<Deleted>, VaultError> {
        let by_name = match which {
            Selector::Name { service, name } => {
                Some(self.index_key(Kind::Credential, &[service, name])?)
            }
            Selector::Id(_) => None,
        };
        let txn = begin_write(&self.db)?;
        let mut head = audit::begin(&self.keys, &txn)?;
        let deleted = {
            let mut index = txn.open_table(INDEX)?;
            let mut creds = txn.open_table(CREDENTIALS)?;
            let id = match (which, by_name) {
                (Selector::Id(u), _) => u.as_u128(),
                // By name: the index must lead to the record of that name (a
                // redirected entry must not delete another credential).
                (Selector::Name { service, name }, Some(idx)) => {
                    let found = self
                        .indexed::<CredentialRecord>(&index, &creds, Kind::Credential, &idx, |m| {
                            m.service == *service && m.name == *name
                        })
                        .map_err(nothing_deleted)?;
                    match found {
                        Some((id, _, _)) => id,
                        None => return Ok(None),
                    }
                }
                _ => return Ok(None),
            };
            let Some(sealed) = creds.remove(id)?.map(|g| g.value().to_vec()) else {
                return Ok(None);
            };
            let opened = open_record::<CredentialRecord>(
                self.keys.seal_key(),
                Kind::Credential,
                id,
                &sealed,
            )
            .ok();
            let (service, name) = match &opened {
                Some(o) => (Some(o.meta.service.clone()), o.meta.name.clone()),
                None => (None, String::new()),
            };
            remove_index_entries(&mut index, id)?;
            Deleted {
                id: Uuid::from_u128(id),
                service,
                name,
            }
        };
        let subject = match &deleted.service {
            Some(s) => format!("{s}/{}", deleted.name),
            None => deleted.id.to_string(),
        };
        let written = Written {
            table: Table::Credentials,
            id: deleted.id.as_u128(),
            sealed: None,
        };
        audit::append(
            &self.keys,
            &txn,
            &mut head,
            &Event::ok("delete", subject, via),
            Some(written),
        )?;
        txn.commit()?;
        Ok(Some(deleted))
    }

    /// Deletes the secret `name`; `Ok(None)` when there is none.
    pub fn delete_secret(&self, name: &str, via: &str) -> Result<Option<Deleted>, VaultError> {
        let idx = self.index_key(Kind::Secret, &[name])?;
        let txn = begin_write(&self.db)?;
        let mut head = audit::begin(&self.keys, &txn)?;
        let id = {
            let mut index = txn.open_table(INDEX)?;
            let mut secrets = txn.open_table(SECRETS)?;
            let found = self
                .indexed::<SecretRecord>(&index, &secrets, Kind::Secret, &idx, |m| m.name == name)
                .map_err(nothing_deleted)?;
            let Some((id, _, _)) = found else {
                return Ok(None);
            };
            secrets.remove(id)?;
            remove_index_entries(&mut index, id)?;
            id
        };
        let written = Written {
            table: Table::Secrets,
            id,
            sealed: None,
        };
        audit::append(
            &self.keys,
            &txn,
            &mut head,
            &Event::ok("secret_delete", name, via),
            Some(written),
        )?;
        txn.commit()?;
        Ok(Some(Deleted {
            id: Uuid::from_u128(id),
            service: None,
            name: name.to_owned(),
        }))
    }

    /// Gives the secret `name` a new value, keeping its id, provider and
    /// `created_at`; `Ok(None)` when there is none.
    pub fn rotate_secret(
        &self,
        name: &str,
        value: &SecretString,
        via: &str,
    ) -> Result<Option<Secret>, VaultError> {
        let idx = self.index_key(Kind::Secret, &[name])?;
        let key = self.keys.seal_key();
        let txn = begin_write(&self.db)?;
        let mut head = audit::begin(&self.keys, &txn)?;
        let (rotated, sealed) = {
            let mut secrets = txn.open_table(SECRETS)?;
            let found = self.indexed::<SecretRecord>(
                &txn.open_table(INDEX)?,
                &secrets,
                Kind::Secret,
                &idx,
                |m| m.name == name,
            )?;
            let Some((id, _, old)) = found else {
                return Ok(None);
            };
            let record = SecretRecord {
                masked_value: mask(value),
                updated_at: now(),
                last_used_at: None,
                ..old.meta
            };
            let sealed = seal_record(key, Kind::Secret, id, &record, value, None)?;
            secrets.insert(id, sealed.as_slice())?;
            (secret(id, record), sealed)
        };
        let written = Written {
            table: Table::Secrets,
            id: rotated.id.as_u128(),
            sealed: Some(&sealed),
        };
        audit::append(
            &self.keys,
            &txn,
            &mut head,
            &Event::ok("secret_rotate", name, via),
            Some(written),
        )?;
        txn.commit()?;
        Ok(Some(rotated))
    }

    /// Re-wraps the data key under `new_password` (fresh salt; `params`, or the
    /// current cost). One KDF, one durable commit of two meta entries: a crash
    /// leaves the old password or the new one working, never neither. Records,
    /// tokens and running servers (which hold the data key) are unaffected.
    pub fn change_password(
        &self,
        new_password: &SecretString,
        params: Option<KdfParams>,
        via: &str,
    ) -> Result<(), VaultError> {
        if new_password.expose().trim().is_empty() {
            return Err(VaultError::EmptyPassword);
        }
        let current = {
            let txn = self.db.begin_read()?;
            let meta = txn.open_table(META)?;
            let kdf = meta
                .get(meta_key::KDF)?
                .ok_or_else(|| VaultError::Corrupt("KDF header missing".into()))?;
            KdfHeader::decode(kdf.value())?
        };
        let header = KdfHeader::generate(params.unwrap_or(current.params))?;
        let master = kdf::derive_master_key(new_password, &header)?;
        let header_bytes = header.encode();
        let wrapped = format::wrap_key(
            &master,
            &self.data_key,
            &header_bytes,
            self.vault_id.as_bytes(),
        )?;
        let txn = begin_write(&self.db)?;
        let mut head = audit::begin(&self.keys, &txn)?;
        {
            let mut meta = txn.open_table(META)?;
            meta.insert(meta_key::KDF, header_bytes.as_slice())?;
            meta.insert(meta_key::WRAPPED_KEY, wrapped.as_slice())?;
        }
        audit::append(
            &self.keys,
            &txn,
            &mut head,
            &Event::ok("passwd", "", via),
            None,
        )?;
        txn.commit()?;
        Ok(())
    }

    /// Writes a consistent copy of the vault to `to` (which must not exist):
    /// the same password opens it. The `backup` audit entry is committed
    /// first, so the copy holds it; every write acknowledged before the call
    /// is in the copy. Written to `<to>.partial` (0600, exclusive) and hard-linked
    /// to `to` when durable, so a file that appeared at `to` meanwhile is never replaced.
    pub fn backup(&self, to: &Path, via: &str) -> Result<(), VaultError> {
        if to.exists() {
            return Err(VaultError::AlreadyExists(to.display().to_string()));
        }
        let mut partial = to.as_os_str().to_owned();
        partial.push(".partial");
        let partial = std::path::PathBuf::from(partial);
        if partial.exists() {
            return Err(VaultError::AlreadyExists(format!(
                "{} (a backup in progress, or one cut short: remove it if it is yours)",
                partial.display()
            )));
        }
        let txn = begin_write(&self.db)?;
        let mut head = audit::begin(&self.keys, &txn)?;
        let event = Event::ok("backup", to.display().to_string(), via);
        audit::append(&self.keys, &txn, &mut head, &event, None)?;
        txn.commit()?;

        let snapshot = self.db.begin_read()?;
        if !store::create_file(&partial)? {
            return Err(VaultError::AlreadyExists(partial.display().to_string()));
        }
        let copy = store::create_db(&partial)?;
        let out = copy.begin_write()?;
        copy_table(&snapshot, &out, META)?;
        copy_table(&snapshot, &out, CREDENTIALS)?;
        copy_table(&snapshot, &out, SECRETS)?;
        copy_table(&snapshot, &out, INDEX)?;
        copy_table(&snapshot, &out, TOKENS)?;
        copy_table(&snapshot, &out, AUDIT)?;
        out.commit()?;
        drop(copy);
        // A hard link cannot replace a file created at `to` meanwhile (a rename would).
        std::fs::hard_link(&partial, to).map_err(|e| {
            VaultError::io(
                format!("linking {} to {}", partial.display(), to.display()),
                e,
            )
        })?;
        let _ = std::fs::remove_file(&partial);
        store::sync_parent(to)?;
        Ok(())
    }
}

/// A lookup by name that found the index and its record disagreeing: the
/// error says nothing was deleted and where to look.
fn nothing_deleted(e: VaultError) -> VaultError {
    match e {
        VaultError::Corrupt(m) => VaultError::Corrupt(format!(
            "{m} (run credvault audit --verify); nothing was deleted"
        )),
        other => other,
    }
}

/// Removes every index entry that points to `id`.
fn remove_index_entries(index: &mut redb::Table<&[u8], u128>, id: u128) -> Result<(), VaultError> {
    let mut doomed = Vec::new();
    for row in index.iter()? {
        let (k, v) = row?;
        if v.value() == id {
            doomed.push(k.value().to_vec());
        }
    }
    for k in doomed {
        index.remove(k.as_slice())?;
    }
    Ok(())
}

fn copy_table<K, V>(
    from: &redb::ReadTransaction,
    to: &redb::WriteTransaction,
    def: redb::TableDefinition<K, V>,
) -> Result<(), VaultError>
where
    K: redb::Key + 'static,
    V: redb::Value + 'static,
    for<'a> K::SelfType<'a>: std::borrow::Borrow<K::SelfType<'a>>,
{
    let source = match from.open_table(def) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let mut target = to.open_table(def)?;
    for row in source.iter()? {
        let (k, v) = row?;
        target.insert(k.value(), v.value())?;
    }
    let _ = def.name();
    Ok(())
}
