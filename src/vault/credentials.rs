//! Credentials: storing one (or replacing the one with the same service and
//! label), deleting one, and the metadata lists and uses show.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::audit::{Event, Written};
use super::format::{open_record, seal_record};
use super::index::{nothing_deleted, remove_index_entries};
use super::{Vault, now};
use crate::error::VaultError;
use crate::model::{CredentialType, StoreCredential};
use crate::store::{Read, Table};

/// Credential metadata as sealed in its record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct CredentialRecord {
    pub(super) service: String,
    pub(super) service_name: String,
    pub(super) name: String,
    pub(super) credential_type: CredentialType,
    pub(super) created_at: i64,
    pub(super) updated_at: i64,
    pub(super) last_used_at: Option<i64>,
    /// Hosts the value may be sent to (empty: the catalog default). Sealed with
    /// the value; only a new store of the value changes it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) allowed_hosts: Vec<String>,
    /// Header a `custom.*` api_key is sent in (default `X-API-Key`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) auth_header: Option<String>,
}

/// Metadata of a stored credential. Never carries the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// Record id.
    pub id: Uuid,
    /// Canonical service id (`openai`, `custom.acme`).
    pub service: String,
    /// Display name of the service.
    pub service_name: String,
    /// Label.
    pub name: String,
    /// Bearer or API key.
    pub credential_type: CredentialType,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
    /// Unix seconds of last use, if ever used.
    pub last_used_at: Option<i64>,
    /// Hosts the value may be sent to as stored (empty: the catalog default).
    pub allowed_hosts: Vec<String>,
    /// Header a `custom.*` api_key is sent in, when one was named.
    pub auth_header: Option<String>,
}

/// What store_credential did.
#[derive(Debug, Clone)]
pub struct Stored {
    /// The credential as now stored.
    pub credential: Credential,
    /// True when an existing (service, name) credential was replaced.
    pub replaced: bool,
    /// The sealed record as written (ciphertext; seed 003 returns it as `encryptedData`).
    pub sealed: Vec<u8>,
}

pub use crate::model::Selector;

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

pub(super) fn credential(id: u128, r: CredentialRecord) -> Credential {
    Credential {
        id: Uuid::from_u128(id),
        service: r.service,
        service_name: r.service_name,
        name: r.name,
        credential_type: r.credential_type,
        created_at: r.created_at,
        updated_at: r.updated_at,
        last_used_at: r.last_used_at,
        allowed_hosts: r.allowed_hosts,
        auth_header: r.auth_header,
    }
}

impl Vault {
    /// Stores a credential; replaces the one with the same (service, name),
    /// keeping its id and `created_at`. Durable (with its audit entry, made
    /// by `via`) before it returns.
    pub fn store_credential(&self, req: &StoreCredential, via: &str) -> Result<Stored, VaultError> {
        let idx = self.index_key(Table::Credentials, &[&req.service.id, &req.name])?;
        let key = self.keys.seal_key();
        // A replacement checks the record it replaces: read the trail first,
        // outside the write lock (only a process that has not read it yet,
        // and only when there is a record to replace).
        if !self.latest().anchored() && self.store.read()?.get(Table::Index, &idx)?.is_some() {
            self.warm_trail()?;
        }
        self.change(|c| {
            let existing =
                self.indexed::<CredentialRecord>(&*c, Table::Credentials, &idx, |m| {
                    m.service == req.service.id && m.name == req.name
                })?;
            if let Some((id, sealed, _)) = &existing {
                // Replacing keeps the id and created_at (and, later, its
                // rules): the record replaced must be the one the trail wrote.
                let what = format!("credential {}/{}", req.service.id, req.name);
                self.check_written(&*c, Table::Credentials, *id, sealed, &what)?;
            }
            let now = now();
            let (id, created_at) = match &existing {
                Some((id, _, old)) => (*id, old.meta.created_at),
                None => (Uuid::new_v4().as_u128(), now),
            };
            let record = CredentialRecord {
                service: req.service.id.clone(),
                service_name: req.service.service_name.clone(),
                name: req.name.clone(),
                credential_type: req.credential_type,
                created_at,
                updated_at: now,
                last_used_at: None,
                allowed_hosts: req.allowed_hosts.clone(),
                auth_header: req.auth_header.clone(),
            };
            let sealed = seal_record(
                key,
                Table::Credentials,
                id,
                &record,
                &req.value,
                req.attachment.as_ref(),
            )?;
            c.put(Table::Credentials, &id.to_be_bytes(), &sealed)?;
            c.put(Table::Index, &idx, &id.to_be_bytes())?;
            let stored = Stored {
                credential: credential(id, record),
                replaced: existing.is_some(),
                sealed,
            };
            let action = if stored.replaced { "replace" } else { "store" };
            let cred = &stored.credential;
            let event = Event::ok(action, format!("{}/{}", cred.service, cred.name), via);
            let written = Written {
                table: Table::Credentials,
                id: cred.id.as_u128(),
                sealed: Some(&stored.sealed),
            };
            c.record(&event, Some(written))?;
            Ok(stored)
        })
    }

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
        self.change(|c| {
            let id = match (which, by_name) {
                (Selector::Id(u), _) => u.as_u128(),
                // By name: the index must lead to the record of that name (a
                // redirected entry must not delete another credential).
                (Selector::Name { service, name }, Some(idx)) => {
                    let found = self
                        .indexed::<CredentialRecord>(&*c, Table::Credentials, &idx, |m| {
                            m.service == *service && m.name == *name
                        })
                        .map_err(nothing_deleted)?;
                    match found {
                        Some((id, _, _)) => id,
                        None => return Ok(None),
                    }
                }
                (Selector::Name { .. }, None) => return Ok(None),
            };
            let Some(sealed) = c.get(Table::Credentials, &id.to_be_bytes())? else {
                return Ok(None);
            };
            c.remove(Table::Credentials, &id.to_be_bytes())?;
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
            remove_index_entries(c, id)?;
            let deleted = Deleted {
                id: Uuid::from_u128(id),
                service,
                name,
            };
            let subject = match &deleted.service {
                Some(s) => format!("{s}/{}", deleted.name),
                None => deleted.id.to_string(),
            };
            let written = Written {
                table: Table::Credentials,
                id,
                sealed: None,
            };
            c.record(&Event::ok("delete", subject, via), Some(written))?;
            Ok(Some(deleted))
        })
    }
}
