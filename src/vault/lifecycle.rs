//! Deleting credentials and secrets, rotating a secret, changing the master
//! password and taking a backup (DESIGN §10). Each change and its audit entry
//! commit in one transaction.

use std::path::Path;

use uuid::Uuid;

use super::audit::{Event, Written};
use super::format::{open_record, seal_record};
use super::{CredentialRecord, Secret, SecretRecord, Vault, members, now, secret};
use crate::crypto::kdf::KdfParams;
use crate::error::VaultError;
use crate::mask::mask;
use crate::secret::SecretString;
use crate::store::redb::{self as file, RedbStore};
use crate::store::{Store, Table, Write, meta_key, scan_all};

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
                Some(self.index_key(Table::Credentials, &[service, name])?)
            }
            Selector::Id(_) => None,
        };
        let mut txn = self.store.write()?;
        let mut head = self.begin(&mut *txn)?;
        let deleted = {
            let id = match (which, by_name) {
                (Selector::Id(u), _) => u.as_u128(),
                // By name: the index must lead to the record of that name (a
                // redirected entry must not delete another credential).
                (Selector::Name { service, name }, Some(idx)) => {
                    let found = self
                        .indexed::<CredentialRecord>(&*txn, Table::Credentials, &idx, |m| {
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
            let Some(sealed) = txn.get(Table::Credentials, &id.to_be_bytes())? else {
                return Ok(None);
            };
            txn.remove(Table::Credentials, &id.to_be_bytes())?;
            let opened = open_record::<CredentialRecord>(
                self.keys.seal_key(),
                Table::Credentials,
                id,
                &sealed,
            )
            .ok();
            let (service, name) = match &opened {
                Some(o) => (Some(o.meta.service.clone()), o.meta.name.clone()),
                None => (None, String::new()),
            };
            remove_index_entries(&mut *txn, id)?;
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
        self.append(
            &self.keys,
            &mut *txn,
            &mut head,
            &Event::ok("delete", subject, via),
            Some(written),
        )?;
        txn.commit()?;
        Ok(Some(deleted))
    }

    /// Deletes the secret `name`; `Ok(None)` when there is none.
    pub fn delete_secret(&self, name: &str, via: &str) -> Result<Option<Deleted>, VaultError> {
        let idx = self.index_key(Table::Secrets, &[name])?;
        let mut txn = self.store.write()?;
        let mut head = self.begin(&mut *txn)?;
        let id = {
            let found = self
                .indexed::<SecretRecord>(&*txn, Table::Secrets, &idx, |m| m.name == name)
                .map_err(nothing_deleted)?;
            let Some((id, _, _)) = found else {
                return Ok(None);
            };
            txn.remove(Table::Secrets, &id.to_be_bytes())?;
            remove_index_entries(&mut *txn, id)?;
            id
        };
        let written = Written {
            table: Table::Secrets,
            id,
            sealed: None,
        };
        self.append(
            &self.keys,
            &mut *txn,
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

    /// Deletes the secret with id `id`, also one its name no longer finds
    /// (a damaged record, or one put back without its index entry, which
    /// `audit --verify` names by id); `Ok(None)` when there is none.
    pub fn delete_secret_by_id(&self, id: Uuid, via: &str) -> Result<Option<Deleted>, VaultError> {
        let id = id.as_u128();
        let mut txn = self.store.write()?;
        let mut head = self.begin(&mut *txn)?;
        let Some(sealed) = txn.get(Table::Secrets, &id.to_be_bytes())? else {
            return Ok(None);
        };
        txn.remove(Table::Secrets, &id.to_be_bytes())?;
        remove_index_entries(&mut *txn, id)?;
        let name = open_record::<SecretRecord>(self.keys.seal_key(), Table::Secrets, id, &sealed)
            .map(|o| o.meta.name)
            .unwrap_or_default();
        let subject = match name.as_str() {
            "" => Uuid::from_u128(id).to_string(),
            n => n.to_owned(),
        };
        let written = Written {
            table: Table::Secrets,
            id,
            sealed: None,
        };
        let event = Event::ok("secret_delete", subject, via);
        self.append(&self.keys, &mut *txn, &mut head, &event, Some(written))?;
        txn.commit()?;
        Ok(Some(Deleted {
            id: Uuid::from_u128(id),
            service: None,
            name,
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
        let idx = self.index_key(Table::Secrets, &[name])?;
        let key = self.keys.seal_key();
        self.warm_trail_once()?;
        let mut txn = self.store.write()?;
        let mut head = self.begin(&mut *txn)?;
        let (rotated, sealed) = {
            let found =
                self.indexed::<SecretRecord>(&*txn, Table::Secrets, &idx, |m| m.name == name)?;
            let Some((id, current, old)) = found else {
                return Ok(None);
            };
            let what = format!("secret {name}");
            self.check_written(&*txn, Table::Secrets, id, &current, &what)?;
            let record = SecretRecord {
                masked_value: mask(value),
                updated_at: now(),
                last_used_at: None,
                ..old.meta
            };
            let sealed = seal_record(key, Table::Secrets, id, &record, value, None)?;
            txn.put(Table::Secrets, &id.to_be_bytes(), &sealed)?;
            (secret(id, record), sealed)
        };
        let written = Written {
            table: Table::Secrets,
            id: rotated.id.as_u128(),
            sealed: Some(&sealed),
        };
        self.append(
            &self.keys,
            &mut *txn,
            &mut head,
            &Event::ok("secret_rotate", name, via),
            Some(written),
        )?;
        txn.commit()?;
        Ok(Some(rotated))
    }

    /// Re-wraps the data key under `new_password` (fresh salt; `params`, or the
    /// current cost): the file's password, or this member's key slot. One
    /// KDF, one durable commit: a crash leaves the old password or the new one
    /// working, never neither. Records, tokens and running servers (which hold
    /// the data key) are unaffected — and so is the data key: whoever holds
    /// the old password and a copy of the vault from before still has it.
    /// [`Vault::rekey`] with [`super::Relock::NewPassword`] changes both.
    pub fn change_password(
        &self,
        new_password: &SecretString,
        params: Option<KdfParams>,
        via: &str,
    ) -> Result<(), VaultError> {
        if new_password.expose().trim().is_empty() {
            return Err(VaultError::EmptyPassword);
        }
        let vault_id = self.vault_id.as_bytes();
        // What the new password locks: this member's slot, or the file's
        // wrapped key. Derived (one KDF) before the write transaction.
        let lock = match &self.member {
            Some(member) => {
                let (current, vault_box) = {
                    let txn = self.store.read()?;
                    let current = txn.get(Table::Members, member.as_bytes())?.ok_or_else(|| {
                        VaultError::NoMember(format!("member {member} was removed"))
                    })?;
                    (current, super::team::box_key(&*txn, &self.keys)?)
                };
                let params = match params {
                    Some(p) => p,
                    None => members::slot_params(&current)?,
                };
                let slot = members::new_slot(
                    new_password,
                    params,
                    &self.data_key,
                    &vault_box,
                    vault_id,
                    member,
                )?;
                NewLock::Slot(member, slot)
            }
            None => {
                let w = self.wrap_anew(&self.data_key, new_password, params)?;
                NewLock::Password {
                    kdf: w.kdf,
                    wrapped: w.wrapped,
                }
            }
        };
        let mut txn = self.store.write()?;
        let mut head = self.begin(&mut *txn)?;
        match &lock {
            NewLock::Slot(member, slot) => {
                if txn.get(Table::Members, member.as_bytes())?.is_none() {
                    return Err(VaultError::NoMember(format!("member {member} was removed")));
                }
                // A new slot has a new key pair: pinned with it.
                super::team::put_member(&mut *txn, &self.keys, member, slot)?;
            }
            NewLock::Password { kdf, wrapped } => {
                txn.put(Table::Meta, meta_key::KDF.as_bytes(), kdf)?;
                txn.put(Table::Meta, meta_key::WRAPPED_KEY.as_bytes(), wrapped)?;
            }
        }
        let subject = self.member.clone().unwrap_or_default();
        let written = match &lock {
            NewLock::Slot(member, slot) => Some(super::team::slot_written(member, Some(slot))),
            NewLock::Password { .. } => None,
        };
        self.append(
            &self.keys,
            &mut *txn,
            &mut head,
            &Event::ok("passwd", subject, via),
            written,
        )?;
        txn.commit()?;
        Ok(())
    }

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
        let partial = std::path::PathBuf::from(partial);
        if partial.exists() {
            return Err(VaultError::AlreadyExists(format!(
                "{} (a backup in progress, or one cut short: remove it if it is yours)",
                partial.display()
            )));
        }
        let mut txn = self.store.write()?;
        let mut head = self.begin(&mut *txn)?;
        let event = Event::ok("backup", to.display().to_string(), via);
        self.append(&self.keys, &mut *txn, &mut head, &event, None)?;
        txn.commit()?;

        let snapshot = self.store.read()?;
        if !file::create_file(&partial)? {
            return Err(VaultError::AlreadyExists(partial.display().to_string()));
        }
        let copy = RedbStore::new(file::create_db(&partial)?, &partial);
        let mut out = copy.write()?;
        for table in Table::ALL {
            for (k, v) in scan_all(&*snapshot, table)? {
                out.put(table, &k, &v)?;
            }
        }
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
        file::sync_parent(to)?;
        Ok(())
    }
}

/// What `passwd` writes: a member's new slot, or a file's new KDF header and wrapped key.
enum NewLock<'a> {
    Slot(&'a str, Vec<u8>),
    Password {
        kdf: [u8; crate::crypto::kdf::HEADER_LEN],
        wrapped: Vec<u8>,
    },
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
fn remove_index_entries(txn: &mut dyn Write, id: u128) -> Result<(), VaultError> {
    let id = id.to_be_bytes();
    for (k, v) in scan_all(&*txn, Table::Index)? {
        if v == id {
            txn.remove(Table::Index, &k)?;
        }
    }
    Ok(())
}
