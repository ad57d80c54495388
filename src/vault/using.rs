//! Reading a value to *use* it (call_api, exec) and recording the use.
//!
//! These are the only vault calls that return a value, and they return it as a
//! [`SecretString`] to code that writes it into a request header or a child's
//! environment, never into a reply.

use redb::{ReadableDatabase, ReadableTable};

use super::format::{Kind, Opened, open_record, seal_record};
use super::store::{CREDENTIALS, INDEX, SECRETS, begin_write};
use super::{Credential, CredentialRecord, Secret, SecretRecord, Vault, credential, now, secret};
use crate::error::VaultError;
use crate::secret::SecretString;

impl Vault {
    /// The credential (service, name) with its value, or `None` when there is none.
    pub fn credential_for_use(
        &self,
        service: &str,
        name: &str,
    ) -> Result<Option<(Credential, SecretString)>, VaultError> {
        let idx = self.index_key(Kind::Credential, &[service, name])?;
        let txn = self.db.begin_read()?;
        let Some(id) = txn
            .open_table(INDEX)?
            .get(idx.as_slice())?
            .map(|g| g.value())
        else {
            return Ok(None);
        };
        let table = txn.open_table(CREDENTIALS)?;
        let sealed = table.get(id)?.ok_or_else(|| {
            VaultError::Corrupt("an index entry points to a missing record".into())
        })?;
        let opened: Opened<CredentialRecord> =
            open_record(self.keys.seal_key(), Kind::Credential, id, sealed.value())?;
        if opened.meta.service != service || opened.meta.name != name {
            return Err(VaultError::Corrupt(
                "an index entry does not match its record".into(),
            ));
        }
        Ok(Some((credential(id, opened.meta), opened.value)))
    }

    /// The secret `name` with its value, or `None` when there is none.
    pub fn secret_for_use(&self, name: &str) -> Result<Option<(Secret, SecretString)>, VaultError> {
        let idx = self.index_key(Kind::Secret, &[name])?;
        let txn = self.db.begin_read()?;
        let Some(id) = txn
            .open_table(INDEX)?
            .get(idx.as_slice())?
            .map(|g| g.value())
        else {
            return Ok(None);
        };
        let table = txn.open_table(SECRETS)?;
        let sealed = table.get(id)?.ok_or_else(|| {
            VaultError::Corrupt("an index entry points to a missing record".into())
        })?;
        let opened: Opened<SecretRecord> =
            open_record(self.keys.seal_key(), Kind::Secret, id, sealed.value())?;
        if opened.meta.name != name {
            return Err(VaultError::Corrupt(
                "an index entry does not match its record".into(),
            ));
        }
        Ok(Some((secret(id, opened.meta), opened.value)))
    }

    /// Every secret with its value (`exec --all-secrets`), oldest first.
    pub fn all_secrets_for_use(&self) -> Result<Vec<(Secret, SecretString)>, VaultError> {
        let txn = self.db.begin_read()?;
        let mut out = Vec::new();
        for entry in txn.open_table(SECRETS)?.iter()? {
            let (id, sealed) = entry?;
            let opened: Opened<SecretRecord> = open_record(
                self.keys.seal_key(),
                Kind::Secret,
                id.value(),
                sealed.value(),
            )?;
            out.push((secret(id.value(), opened.meta), opened.value));
        }
        out.sort_by_key(|(s, _)| (s.created_at, s.id));
        Ok(out)
    }

    /// Sets `last_used_at` of the credential `id` to now, durably, unless it was
    /// replaced since it was read (`updated_at` differs): a new value has not
    /// been used. Returns whether the record was touched.
    pub fn touch_credential(&self, id: uuid::Uuid, updated_at: i64) -> Result<bool, VaultError> {
        self.touch::<CredentialRecord>(CREDENTIALS, Kind::Credential, id.as_u128(), |m| {
            (m.updated_at == updated_at).then(|| m.last_used_at = Some(now()))
        })
    }

    /// Sets `last_used_at` of the secret `id` to now, durably.
    pub fn touch_secret(&self, id: uuid::Uuid, updated_at: i64) -> Result<bool, VaultError> {
        self.touch::<SecretRecord>(SECRETS, Kind::Secret, id.as_u128(), |m| {
            (m.updated_at == updated_at).then(|| m.last_used_at = Some(now()))
        })
    }

    fn touch<M: serde::Serialize + serde::de::DeserializeOwned>(
        &self,
        table: redb::TableDefinition<u128, &[u8]>,
        kind: Kind,
        id: u128,
        update: impl FnOnce(&mut M) -> Option<()>,
    ) -> Result<bool, VaultError> {
        let key = self.keys.seal_key();
        let txn = begin_write(&self.db)?;
        let touched = {
            let mut records = txn.open_table(table)?;
            let Some(sealed) = records.get(id)?.map(|g| g.value().to_vec()) else {
                return Ok(false);
            };
            let mut opened: Opened<M> = open_record(key, kind, id, &sealed)?;
            if update(&mut opened.meta).is_none() {
                return Ok(false);
            }
            let resealed = seal_record(
                key,
                kind,
                id,
                &opened.meta,
                &opened.value,
                opened.attachment.as_ref(),
            )?;
            records.insert(id, resealed.as_slice())?;
            true
        };
        txn.commit()?;
        Ok(touched)
    }
}
