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

/// Which sealed version of a record a use read: its nonce, fresh on every
/// write. Recording the use compares it, so a value replaced meanwhile (even
/// within the same second) is not marked used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UseStamp([u8; 24]);

impl UseStamp {
    fn of(sealed: &[u8]) -> Self {
        let mut n = [0u8; 24];
        if let Some(head) = sealed.get(..24) {
            n.copy_from_slice(head);
        }
        Self(n)
    }
}

impl Vault {
    /// The credential (service, name) with its value, or `None` when there is none.
    pub fn credential_for_use(
        &self,
        service: &str,
        name: &str,
    ) -> Result<Option<(Credential, SecretString, UseStamp)>, VaultError> {
        let found = self.for_use::<CredentialRecord>(
            Kind::Credential,
            CREDENTIALS,
            &[service, name],
            |m| m.service == service && m.name == name,
        )?;
        Ok(found.map(|(id, o, stamp)| (credential(id, o.meta), o.value, stamp)))
    }

    /// The secret `name` with its value, or `None` when there is none.
    pub fn secret_for_use(
        &self,
        name: &str,
    ) -> Result<Option<(Secret, SecretString, UseStamp)>, VaultError> {
        let found =
            self.for_use::<SecretRecord>(Kind::Secret, SECRETS, &[name], |m| m.name == name)?;
        Ok(found.map(|(id, o, stamp)| (secret(id, o.meta), o.value, stamp)))
    }

    /// Looks a record up through the index by its names and opens it;
    /// `matches` confirms the record is the one the index entry claims.
    fn for_use<M: serde::de::DeserializeOwned>(
        &self,
        kind: Kind,
        table: redb::TableDefinition<u128, &[u8]>,
        names: &[&str],
        matches: impl FnOnce(&M) -> bool,
    ) -> Result<Option<(u128, Opened<M>, UseStamp)>, VaultError> {
        let idx = self.index_key(kind, names)?;
        let txn = self.db.begin_read()?;
        let Some(id) = txn
            .open_table(INDEX)?
            .get(idx.as_slice())?
            .map(|g| g.value())
        else {
            return Ok(None);
        };
        let table = txn.open_table(table)?;
        let sealed = table.get(id)?.ok_or_else(|| {
            VaultError::Corrupt("an index entry points to a missing record".into())
        })?;
        let opened: Opened<M> = open_record(self.keys.seal_key(), kind, id, sealed.value())?;
        if !matches(&opened.meta) {
            return Err(VaultError::Corrupt(
                "an index entry does not match its record".into(),
            ));
        }
        Ok(Some((id, opened, UseStamp::of(sealed.value()))))
    }

    /// Every secret with its value (`exec --all-secrets`), oldest first.
    pub fn all_secrets_for_use(&self) -> Result<Vec<(Secret, SecretString, UseStamp)>, VaultError> {
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
            let stamp = UseStamp::of(sealed.value());
            out.push((secret(id.value(), opened.meta), opened.value, stamp));
        }
        out.sort_by_key(|(s, _, _)| (s.created_at, s.id));
        Ok(out)
    }

    /// Sets `last_used_at` of the credential `id` to now, durably, unless the
    /// record was written since `stamp` was read (a new value has not been
    /// used). Returns whether the record was touched.
    pub fn touch_credential(&self, id: uuid::Uuid, stamp: UseStamp) -> Result<bool, VaultError> {
        self.touch::<CredentialRecord>(CREDENTIALS, Kind::Credential, id.as_u128(), stamp, |m| {
            m.last_used_at = Some(now())
        })
    }

    /// Sets `last_used_at` of the secret `id` to now, durably (as above).
    pub fn touch_secret(&self, id: uuid::Uuid, stamp: UseStamp) -> Result<bool, VaultError> {
        self.touch::<SecretRecord>(SECRETS, Kind::Secret, id.as_u128(), stamp, |m| {
            m.last_used_at = Some(now())
        })
    }

    fn touch<M: serde::Serialize + serde::de::DeserializeOwned>(
        &self,
        table: redb::TableDefinition<u128, &[u8]>,
        kind: Kind,
        id: u128,
        stamp: UseStamp,
        update: impl FnOnce(&mut M),
    ) -> Result<bool, VaultError> {
        let key = self.keys.seal_key();
        let txn = begin_write(&self.db)?;
        let touched = {
            let mut records = txn.open_table(table)?;
            let Some(sealed) = records.get(id)?.map(|g| g.value().to_vec()) else {
                return Ok(false);
            };
            if UseStamp::of(&sealed) != stamp {
                return Ok(false);
            }
            let mut opened: Opened<M> = open_record(key, kind, id, &sealed)?;
            update(&mut opened.meta);
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

#[cfg(test)]
mod tests {
    use crate::crypto::kdf::KdfParams;
    use crate::secret::SecretString;
    use crate::validate;
    use crate::vault::Vault;

    fn store(v: &Vault, value: &str) {
        let mut args = serde_json::Map::new();
        args.insert("service_id".into(), "openai".into());
        args.insert("credential_type".into(), "bearer".into());
        args.insert("credential_value".into(), value.into());
        v.store_credential(&validate::store_credential(args).unwrap())
            .unwrap();
    }

    #[test]
    fn a_value_replaced_in_the_same_second_is_not_marked_used() {
        let dir = tempfile::tempdir().unwrap();
        let cheap = KdfParams {
            m_kib: KdfParams::MIN_M_KIB,
            t: 1,
            p: 1,
        };
        let v =
            Vault::create(&dir.path().join("v.redb"), &SecretString::from("pw"), cheap).unwrap();
        store(&v, "sk-first-value");
        let (c, _, stamp) = v.credential_for_use("openai", "default").unwrap().unwrap();
        store(&v, "sk-second-value");
        assert!(
            !v.touch_credential(c.id, stamp).unwrap(),
            "the new value was not used"
        );
        assert_eq!(v.list_credentials(None).unwrap()[0].last_used_at, None);
        let (c, _, stamp) = v.credential_for_use("openai", "default").unwrap().unwrap();
        assert!(v.touch_credential(c.id, stamp).unwrap());
        assert!(v.list_credentials(None).unwrap()[0].last_used_at.is_some());
    }
}
