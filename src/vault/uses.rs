//! Reading a value to *use* it (call_api, exec) and recording the use.
//!
//! These are the only vault calls that return a value, and they return it as a
//! [`SecretString`] to code that writes it into a request header or a child's
//! environment, never into a reply.

use super::audit::{self, Event, Written};
use super::credentials::{Credential, CredentialRecord, credential};
use super::format::{Opened, open_record, seal_record};
use super::secrets::{Secret, SecretRecord, secret};
use super::{Vault, now};
use crate::error::VaultError;
use crate::secret::SecretString;
use crate::store::{Read, Table, scan_all};

/// Which sealed version of a record a use read: its nonce, fresh on every
/// write. Recording the use compares it, so a value replaced meanwhile (even
/// within the same second) is not marked used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UseStamp([u8; 24]);

impl UseStamp {
    /// The stamp of these sealed bytes.
    pub(super) fn of(sealed: &[u8]) -> Self {
        let mut n = [0u8; 24];
        if let Some(head) = sealed.get(..24) {
            n.copy_from_slice(head);
        }
        Self(n)
    }
}

/// One use of a value, as the audit trail records it.
#[derive(Debug, Clone)]
pub struct Use {
    /// `call_api` or `exec`.
    pub action: &'static str,
    /// `service/name` or the secret's name.
    pub subject: String,
    /// `stdio`, `http:<token name>`, `cli`.
    pub via: String,
    /// The upstream status, an error code, or `started`.
    pub outcome: String,
    /// call_api: `METHOD host`; exec: the program's file name.
    pub detail: Option<String>,
    /// True when the value was sent (the record's `last_used_at` is set).
    pub sent: bool,
}

impl Use {
    fn event(&self) -> Event {
        Event {
            action: self.action,
            subject: self.subject.clone(),
            via: self.via.clone(),
            outcome: self.outcome.clone(),
            detail: self.detail.clone(),
        }
    }
}

impl Vault {
    /// The credential (service, name) with its value, or `None` when there is none.
    pub fn credential_for_use(
        &self,
        service: &str,
        name: &str,
    ) -> Result<Option<(Credential, SecretString, UseStamp)>, VaultError> {
        let found =
            self.for_use::<CredentialRecord>(Table::Credentials, &[service, name], |m| {
                m.service == service && m.name == name
            })?;
        Ok(found.map(|(id, o, stamp)| (credential(id, o.meta), o.value, stamp)))
    }

    /// The secret `name` with its value, or `None` when there is none.
    pub fn secret_for_use(
        &self,
        name: &str,
    ) -> Result<Option<(Secret, SecretString, UseStamp)>, VaultError> {
        let found = self.for_use::<SecretRecord>(Table::Secrets, &[name], |m| m.name == name)?;
        Ok(found.map(|(id, o, stamp)| (secret(id, o.meta), o.value, stamp)))
    }

    /// Looks a record up through the index by its names and opens it;
    /// `matches` confirms the record is the one the index entry claims.
    fn for_use<M: serde::de::DeserializeOwned>(
        &self,
        kind: Table,
        names: &[&str],
        matches: impl Fn(&M) -> bool,
    ) -> Result<Option<(u128, Opened<M>, UseStamp)>, VaultError> {
        let idx = self.index_key(kind, names)?;
        let found = self.reading(|| {
            let txn = self.store.read()?;
            let found = self.indexed(&*txn, kind, &idx, &matches)?;
            if let Some((id, sealed, _)) = &found {
                // Before the value goes anywhere: the version the trail wrote.
                let what = format!("{} {}", audit::noun(kind), names.join("/"));
                self.check_written(&*txn, kind, *id, sealed, &what)?;
            }
            if found.is_none() {
                // After a rekey by another process every name misses under this
                // process's index key: say so rather than "not found".
                self.check_head(
                    txn.get(Table::Meta, crate::store::meta_key::AUDIT_HEAD.as_bytes())?
                        .as_deref(),
                )?;
            }
            Ok(found)
        })?;
        self.checkpoint_if_due();
        Ok(found.map(|(id, sealed, opened)| (id, opened, UseStamp::of(&sealed))))
    }

    /// Every secret with its value (`exec --all-secrets`), oldest first.
    pub fn all_secrets_for_use(&self) -> Result<Vec<(Secret, SecretString, UseStamp)>, VaultError> {
        let mut out = self.reading(|| {
            let mut out = Vec::new();
            let txn = self.store.read()?;
            for (id, sealed) in scan_all(&*txn, Table::Secrets)? {
                let id = super::id_of(&id)?;
                let opened: Opened<SecretRecord> =
                    open_record(self.keys.seal_key(), Table::Secrets, id, &sealed)?;
                let what = format!("secret {}", opened.meta.name);
                self.check_written(&*txn, Table::Secrets, id, &sealed, &what)?;
                let stamp = UseStamp::of(&sealed);
                out.push((secret(id, opened.meta), opened.value, stamp));
            }
            Ok(out)
        })?;
        self.checkpoint_if_due();
        out.sort_by_key(|(s, _, _)| (s.created_at, s.id));
        Ok(out)
    }

    /// Records a use of the credential `id`: an audit entry, and when the
    /// value was sent, `last_used_at` = now — unless the record was written
    /// since `stamp` was read (a new value has not been used). Durable; returns
    /// whether `last_used_at` was set.
    pub fn touch_credential(
        &self,
        id: uuid::Uuid,
        stamp: UseStamp,
        used: &Use,
    ) -> Result<bool, VaultError> {
        self.touch::<CredentialRecord>(Table::Credentials, id.as_u128(), stamp, used)
    }

    /// Records a use of the secret `id` (as above).
    pub fn touch_secret(
        &self,
        id: uuid::Uuid,
        stamp: UseStamp,
        used: &Use,
    ) -> Result<bool, VaultError> {
        self.touch::<SecretRecord>(Table::Secrets, id.as_u128(), stamp, used)
    }

    fn touch<M: serde::Serialize + serde::de::DeserializeOwned + Stamped>(
        &self,
        table: Table,
        id: u128,
        stamp: UseStamp,
        used: &Use,
    ) -> Result<bool, VaultError> {
        let key = self.keys.seal_key();
        if used.sent {
            self.warm_trail_once()?;
        }
        self.change(|c| {
            let resealed = match c.get(table, &id.to_be_bytes())? {
                Some(sealed) if used.sent && UseStamp::of(&sealed) == stamp => {
                    let what = format!("{} {}", audit::noun(table), used.subject);
                    self.check_written(&*c, table, id, &sealed, &what)?;
                    let mut opened: Opened<M> = open_record(key, table, id, &sealed)?;
                    opened.meta.set_last_used(now());
                    let resealed = seal_record(
                        key,
                        table,
                        id,
                        &opened.meta,
                        &opened.value,
                        opened.attachment.as_ref(),
                    )?;
                    c.put(table, &id.to_be_bytes(), &resealed)?;
                    Some(resealed)
                }
                _ => None,
            };
            let written = resealed.as_deref().map(|sealed| Written {
                table,
                id,
                sealed: Some(sealed),
            });
            c.record(&used.event(), written)?;
            Ok(resealed.is_some())
        })
    }
}

/// Records with a `last_used_at`.
trait Stamped {
    fn set_last_used(&mut self, at: i64);
}

impl Stamped for CredentialRecord {
    fn set_last_used(&mut self, at: i64) {
        self.last_used_at = Some(at);
    }
}

impl Stamped for SecretRecord {
    fn set_last_used(&mut self, at: i64) {
        self.last_used_at = Some(at);
    }
}

#[cfg(test)]
mod tests {
    use crate::crypto::kdf::KdfParams;
    use crate::model::{CredentialType, DEFAULT_NAME, StoreCredential};
    use crate::secret::SecretString;
    use crate::vault::Vault;

    fn store(v: &Vault, value: &str) {
        let input = StoreCredential {
            service_id: "openai".into(),
            service: crate::catalog::resolve("openai").unwrap(),
            credential_type: CredentialType::Bearer,
            value: SecretString::from(value),
            name: DEFAULT_NAME.into(),
            allowed_hosts: Vec::new(),
            auth_header: None,
            attachment: None,
        };
        v.store_credential(&input, "test").unwrap();
    }

    fn used() -> super::Use {
        super::Use {
            action: "call_api",
            subject: "openai/default".into(),
            via: "test".into(),
            outcome: "200".into(),
            detail: None,
            sent: true,
        }
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
            !v.touch_credential(c.id, stamp, &used()).unwrap(),
            "the new value was not used"
        );
        assert_eq!(v.list_credentials(None).unwrap()[0].last_used_at, None);
        let (c, _, stamp) = v.credential_for_use("openai", "default").unwrap().unwrap();
        assert!(v.touch_credential(c.id, stamp, &used()).unwrap());
        assert!(v.list_credentials(None).unwrap()[0].last_used_at.is_some());
    }
}
