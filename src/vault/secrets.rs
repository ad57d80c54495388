//! Named secrets: creating one (never over an existing name), rotating its
//! value, deleting it by name or by id, and the metadata lists show.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::audit::{Event, Written};
use super::credentials::Deleted;
use super::format::{open_record, seal_record};
use super::index::{nothing_deleted, remove_index_entries};
use super::{Vault, now};
use crate::error::VaultError;
use crate::mask::mask;
use crate::model::CreateSecret;
use crate::secret::SecretString;
use crate::store::{Read, Table};

/// Secret metadata as sealed in its record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct SecretRecord {
    pub(super) name: String,
    pub(super) provider: String,
    pub(super) masked_value: String,
    pub(super) created_at: i64,
    pub(super) updated_at: i64,
    #[serde(default)]
    pub(super) last_used_at: Option<i64>,
}

/// Metadata of a named secret. Never carries the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secret {
    /// Record id.
    pub id: Uuid,
    /// Environment-variable style name.
    pub name: String,
    /// Provider id or slug.
    pub provider: String,
    /// The value masked by the §2 rule.
    pub masked_value: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
    /// Unix seconds of last use (exec), if ever used.
    pub last_used_at: Option<i64>,
}

pub(super) fn secret(id: u128, r: SecretRecord) -> Secret {
    Secret {
        id: Uuid::from_u128(id),
        name: r.name,
        provider: r.provider,
        masked_value: r.masked_value,
        created_at: r.created_at,
        updated_at: r.updated_at,
        last_used_at: r.last_used_at,
    }
}

impl Vault {
    /// Creates a named secret. An existing name is [`VaultError::SecretExists`]
    /// and changes nothing. Durable before it returns.
    pub fn create_secret(&self, req: &CreateSecret, via: &str) -> Result<Secret, VaultError> {
        let idx = self.index_key(Table::Secrets, &[&req.name])?;
        self.change(|c| {
            if c.get(Table::Index, &idx)?.is_some() {
                return Err(VaultError::SecretExists(req.name.clone()));
            }
            let id = Uuid::new_v4().as_u128();
            let now = now();
            let record = SecretRecord {
                name: req.name.clone(),
                provider: req.provider.clone(),
                masked_value: mask(&req.value),
                created_at: now,
                updated_at: now,
                last_used_at: None,
            };
            let sealed = seal_record(
                self.keys.seal_key(),
                Table::Secrets,
                id,
                &record,
                &req.value,
                None,
            )?;
            c.put(Table::Secrets, &id.to_be_bytes(), &sealed)?;
            c.put(Table::Index, &idx, &id.to_be_bytes())?;
            let created = secret(id, record);
            let event = Event::ok("secret_create", created.name.clone(), via);
            let written = Written {
                table: Table::Secrets,
                id,
                sealed: Some(&sealed),
            };
            c.record(&event, Some(written))?;
            Ok(created)
        })
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
        self.change(|c| {
            let found =
                self.indexed::<SecretRecord>(&*c, Table::Secrets, &idx, |m| m.name == name)?;
            let Some((id, current, old)) = found else {
                return Ok(None);
            };
            let what = format!("secret {name}");
            self.check_written(&*c, Table::Secrets, id, &current, &what)?;
            let record = SecretRecord {
                masked_value: mask(value),
                updated_at: now(),
                last_used_at: None,
                ..old.meta
            };
            let sealed = seal_record(key, Table::Secrets, id, &record, value, None)?;
            c.put(Table::Secrets, &id.to_be_bytes(), &sealed)?;
            let written = Written {
                table: Table::Secrets,
                id,
                sealed: Some(&sealed),
            };
            c.record(&Event::ok("secret_rotate", name, via), Some(written))?;
            Ok(Some(secret(id, record)))
        })
    }

    /// Deletes the secret `name`; `Ok(None)` when there is none.
    pub fn delete_secret(&self, name: &str, via: &str) -> Result<Option<Deleted>, VaultError> {
        let idx = self.index_key(Table::Secrets, &[name])?;
        self.change(|c| {
            let found = self
                .indexed::<SecretRecord>(&*c, Table::Secrets, &idx, |m| m.name == name)
                .map_err(nothing_deleted)?;
            let Some((id, _, _)) = found else {
                return Ok(None);
            };
            c.remove(Table::Secrets, &id.to_be_bytes())?;
            remove_index_entries(c, id)?;
            let written = Written {
                table: Table::Secrets,
                id,
                sealed: None,
            };
            c.record(&Event::ok("secret_delete", name, via), Some(written))?;
            Ok(Some(Deleted {
                id: Uuid::from_u128(id),
                service: None,
                name: name.to_owned(),
            }))
        })
    }

    /// Deletes the secret with id `id`, also one its name no longer finds
    /// (a damaged record, or one put back without its index entry, which
    /// `audit --verify` names by id); `Ok(None)` when there is none.
    pub fn delete_secret_by_id(&self, id: Uuid, via: &str) -> Result<Option<Deleted>, VaultError> {
        let id = id.as_u128();
        self.change(|c| {
            let Some(sealed) = c.get(Table::Secrets, &id.to_be_bytes())? else {
                return Ok(None);
            };
            c.remove(Table::Secrets, &id.to_be_bytes())?;
            remove_index_entries(c, id)?;
            let name =
                open_record::<SecretRecord>(self.keys.seal_key(), Table::Secrets, id, &sealed)
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
            c.record(&Event::ok("secret_delete", subject, via), Some(written))?;
            Ok(Some(Deleted {
                id: Uuid::from_u128(id),
                service: None,
                name,
            }))
        })
    }
}
