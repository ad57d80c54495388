//! The vault: an unlocked store (the redb file, or a team vault's database)
//! plus the keys that open its records. Everything here is written once,
//! against [`crate::store::Store`]; the stores hold only sealed bytes.
//!
//! Every operation is one short transaction. Writes are durable (fsync) before
//! they return, take the multi-process write lock with a bounded wait, and are
//! never held across key derivation or client I/O. All methods are blocking:
//! call them from `spawn_blocking` in async code.

pub mod audit;
pub mod backend;
pub mod format;
mod lifecycle;
mod listing;
pub mod members;
mod open;
mod rekey;
mod team;
mod tokens;
mod trail;
mod using;
mod verify;

pub use audit::{Entry as AuditEntry, Problem, Verification};
pub use lifecycle::{Deleted, Selector};
pub use listing::{Cursor, DEFAULT_LIMIT, Generation, MAX_LIMIT, Metadata, Page};
pub use open::DEFAULT_MEMBER;
pub use rekey::{Rekeyed, Relock};
pub use team::MemberInfo;
pub use using::{Use, UseStamp};

pub use tokens::{TOKEN_PREFIX, TokenInfo};

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::crypto::keys::VaultKeys;
use crate::error::VaultError;
use crate::mask::mask;
use crate::secret::Key32;
use crate::store::{Store, Table};
use crate::validate::{CreateSecret, CredentialType, StoreCredential};
use audit::{Event, Written};
use format::seal_record;

/// Credential metadata as sealed in its record.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct CredentialRecord {
    service: String,
    service_name: String,
    name: String,
    credential_type: CredentialType,
    created_at: i64,
    updated_at: i64,
    last_used_at: Option<i64>,
    /// Hosts the value may be sent to (empty: the catalog default). Sealed with
    /// the value; only a new store of the value changes it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    allowed_hosts: Vec<String>,
    /// Header a `custom.*` api_key is sent in (default `X-API-Key`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    auth_header: Option<String>,
}

/// Secret metadata as sealed in its record.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SecretRecord {
    name: String,
    provider: String,
    masked_value: String,
    created_at: i64,
    updated_at: i64,
    #[serde(default)]
    last_used_at: Option<i64>,
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

/// An unlocked vault.
pub struct Vault {
    store: Box<dyn Store>,
    keys: VaultKeys,
    /// Kept to re-wrap it under a new password (`passwd`); zeroized on drop.
    data_key: Key32,
    /// Decrypted metadata, proven fresh on each list (listing.rs).
    listing: listing::Listing,
    vault_id: Uuid,
    /// The member whose key slot opened it (team vaults; `None`: one password).
    member: Option<String>,
    /// What the trail last wrote for each record (see [`trail`]).
    trail: std::sync::Mutex<trail::Latest>,
    /// The key-slot bytes it was unlocked with (a file's `kdf ‖ wrapped_key`;
    /// a member's name ‖ slot): a file's rekey refuses to overwrite a
    /// password changed since by another process.
    slot: Vec<u8>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("store", &self.store.location())
            .field("vault_id", &self.vault_id)
            .field("member", &self.member)
            .finish_non_exhaustive()
    }
}

/// Unix seconds now (the timestamps records, entries and links carry).
pub fn now() -> i64 {
    unix_seconds(SystemTime::now())
}

/// `t` as Unix seconds (0 before the epoch).
pub fn unix_seconds(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl Vault {
    /// The vault's random id (seed 003's `workspaceId`).
    pub fn id(&self) -> Uuid {
        self.vault_id
    }

    /// Where the vault lives: its file, or its database URL without a password.
    pub fn location(&self) -> String {
        self.store.location()
    }

    /// Whether short reads may run on an async task (see [`Store::reads_are_local`]).
    pub fn reads_are_local(&self) -> bool {
        self.store.reads_are_local()
    }

    /// The member whose key slot opened the vault (team vaults).
    pub fn member(&self) -> Option<&str> {
        self.member.as_deref()
    }

    /// Appends `event` to the trail under `keys`; in a team vault its `via`
    /// names the member too (`stdio:alice`), so every entry says who.
    fn append(
        &self,
        keys: &VaultKeys,
        txn: &mut dyn crate::store::Write,
        head: &mut audit::Head,
        event: &Event,
        written: Option<Written<'_>>,
    ) -> Result<(), VaultError> {
        match &self.member {
            Some(member) => {
                let mut event = event.clone();
                event.via = format!("{}:{member}", event.via);
                audit::append(keys, txn, head, &event, written)
            }
            None => audit::append(keys, txn, head, event, written),
        }
    }

    /// Fails when the audit head (`None`: a format-1 vault, which passes)
    /// does not open with this process's key: rekeyed since it unlocked.
    fn check_head(&self, head: Option<&[u8]>) -> Result<(), VaultError> {
        match head {
            Some(head) => audit::open_current_head(&self.keys, head).map(drop),
            None => Ok(()),
        }
    }

    /// Fails with [`VaultError::Tampered`] unless `sealed` is the version of
    /// record `id` that the trail, as `txn` sees it, last wrote: run before a
    /// record is used or re-sealed, so a replayed or planted one is never sent
    /// anywhere nor laundered into the trail. `what` names it in the error.
    fn check_written(
        &self,
        txn: &(impl crate::store::Read + ?Sized),
        table: Table,
        id: u128,
        sealed: &[u8],
        what: &str,
    ) -> Result<(), VaultError> {
        let mut latest = self.latest();
        latest.sync(&self.keys, txn)?;
        let then = "refused, nothing was sent or written; run credvault audit --verify, and to recover delete it and store it again";
        latest.check(&self.keys, (table, id), sealed, what, then)?;
        // A trail that covers member slots under a lowered format version
        // would make the use's own entry fail after the value was sent.
        if latest.covers_members() && open::format_of(txn)? < format::FORMAT_VERSION {
            return Err(VaultError::Tampered(
                "the format version was lowered below 3 while the trail covers member key slots: refused; run credvault audit --verify".into(),
            ));
        }
        Ok(())
    }

    fn latest(&self) -> std::sync::MutexGuard<'_, trail::Latest> {
        self.trail
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Reads the audit trail now (a server does, right after it unlocks), so
    /// that later checks read only what is appended, and a trail cut back or
    /// replaced under this process from here on is refused.
    pub fn warm_trail(&self) -> Result<(), VaultError> {
        self.reading(|| {
            let txn = self.store.read()?;
            self.latest().sync(&self.keys, &*txn)
        })?;
        self.checkpoint_if_due();
        Ok(())
    }

    /// Runs `read` (a read transaction that checks against the trail)
    /// again while its snapshot turns out older than what another thread of
    /// this process has already read ([`VaultError::Stale`]). Each try opens a
    /// new snapshot, which sees the newest commit: an older head that stays
    /// is not a stale snapshot but the trail put back to a state this process
    /// had passed, and is refused as such.
    fn reading<T>(&self, mut read: impl FnMut() -> Result<T, VaultError>) -> Result<T, VaultError> {
        for _ in 0..16 {
            match read() {
                Err(VaultError::Stale) => std::thread::yield_now(),
                done => return done,
            }
        }
        match read() {
            Err(VaultError::Stale) => Err(trail::rolled_back()),
            done => done,
        }
    }

    /// Saves the trail's checkpoint when this process has read enough
    /// entries past the last one (see [`trail`]), so the next process starts
    /// there. Best effort, in a transaction of its own: call it with no other
    /// transaction open.
    fn checkpoint_if_due(&self) {
        let Some((count, sealed)) = self.latest().checkpoint_due(&self.keys) else {
            return;
        };
        let saved = (|| -> Result<(), VaultError> {
            let mut txn = self.store.write()?;
            let key = crate::store::meta_key::TRAIL_CHECKPOINT.as_bytes();
            txn.put(Table::Meta, key, &sealed)?;
            Ok(txn.commit()?)
        })();
        match saved {
            Ok(()) => self.latest().saved_at(count),
            Err(e) => tracing::debug!("the trail's checkpoint was not saved: {e}"),
        }
    }

    /// [`Self::warm_trail`] unless it has read the trail already: before a
    /// write transaction that will check a record, so the write lock is never
    /// held across a read of the whole trail.
    fn warm_trail_once(&self) -> Result<(), VaultError> {
        if self.latest().anchored() {
            return Ok(());
        }
        self.warm_trail()
    }

    /// Begins an audited change in `txn`: first checks that the trail still
    /// extends what this process has read (never cut back or replaced under
    /// it), then opens the head (see [`audit::begin`]).
    fn begin(&self, txn: &mut dyn crate::store::Write) -> Result<audit::Head, VaultError> {
        {
            let mut latest = self.latest();
            if latest.anchored() {
                latest.sync(&self.keys, &*txn)?;
            } else if latest.bound()
                && txn
                    .get(Table::Meta, crate::store::meta_key::AUDIT_HEAD.as_bytes())?
                    .is_none()
            {
                // Never start a new trail (a baseline) over a removed one.
                return Err(trail::removed());
            }
        }
        audit::begin(&self.keys, txn)
    }

    fn index_key(&self, kind: Table, parts: &[&str]) -> Result<[u8; 32], VaultError> {
        index_key(&self.keys, kind, parts)
    }

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
        let mut txn = self.store.write()?;
        let mut head = self.begin(&mut *txn)?;
        let stored = {
            let existing =
                self.indexed::<CredentialRecord>(&*txn, Table::Credentials, &idx, |m| {
                    m.service == req.service.id && m.name == req.name
                })?;
            if let Some((id, sealed, _)) = &existing {
                // Replacing keeps the id and created_at (and, later, its
                // rules): the record replaced must be the one the trail wrote.
                let what = format!("credential {}/{}", req.service.id, req.name);
                self.check_written(&*txn, Table::Credentials, *id, sealed, &what)?;
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
            txn.put(Table::Credentials, &id.to_be_bytes(), &sealed)?;
            txn.put(Table::Index, &idx, &id.to_be_bytes())?;
            Stored {
                credential: credential(id, record),
                replaced: existing.is_some(),
                sealed,
            }
        };
        let action = if stored.replaced { "replace" } else { "store" };
        let c = &stored.credential;
        let event = Event::ok(action, format!("{}/{}", c.service, c.name), via);
        let written = Written {
            table: Table::Credentials,
            id: c.id.as_u128(),
            sealed: Some(&stored.sealed),
        };
        self.append(&self.keys, &mut *txn, &mut head, &event, Some(written))?;
        txn.commit()?;
        Ok(stored)
    }

    /// Creates a named secret. An existing name is [`VaultError::SecretExists`]
    /// and changes nothing. Durable before it returns.
    pub fn create_secret(&self, req: &CreateSecret, via: &str) -> Result<Secret, VaultError> {
        let idx = self.index_key(Table::Secrets, &[&req.name])?;
        let mut txn = self.store.write()?;
        let mut head = self.begin(&mut *txn)?;
        let (created, sealed) = {
            if txn.get(Table::Index, &idx)?.is_some() {
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
            txn.put(Table::Secrets, &id.to_be_bytes(), &sealed)?;
            txn.put(Table::Index, &idx, &id.to_be_bytes())?;
            (secret(id, record), sealed)
        };
        let event = Event::ok("secret_create", created.name.clone(), via);
        let written = Written {
            table: Table::Secrets,
            id: created.id.as_u128(),
            sealed: Some(&sealed),
        };
        self.append(&self.keys, &mut *txn, &mut head, &event, Some(written))?;
        txn.commit()?;
        Ok(created)
    }
}

/// The metadata fields whose values name a record of `table` in the index
/// (in order); none for a table whose records are not looked up by name.
pub(super) fn index_fields(table: Table) -> &'static [&'static str] {
    match table {
        Table::Credentials => &["service", "name"],
        Table::Secrets => &["name"],
        Table::Tokens | Table::Members | Table::Audit | Table::Meta | Table::Index => &[],
    }
}

/// The index key of a record of `kind` named `parts` under `keys`.
fn index_key(keys: &VaultKeys, kind: Table, parts: &[&str]) -> Result<[u8; 32], VaultError> {
    let tag = [format::tag_of(kind)?];
    let mut all: Vec<&[u8]> = vec![&tag];
    all.extend(parts.iter().map(|p| p.as_bytes()));
    Ok(keys.index_mac(&all)?)
}

/// A record id from its 16-byte key.
pub(super) fn id_of(key: &[u8]) -> Result<u128, VaultError> {
    Ok(u128::from_be_bytes(key.try_into().map_err(|_| {
        VaultError::Corrupt("a record id of the wrong length".into())
    })?))
}

/// An audit sequence number from its 8-byte key.
pub(super) fn seq_of(key: &[u8]) -> Result<u64, VaultError> {
    Ok(u64::from_be_bytes(key.try_into().map_err(|_| {
        VaultError::Corrupt("an audit sequence number of the wrong length".into())
    })?))
}

fn credential(id: u128, r: CredentialRecord) -> Credential {
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

fn secret(id: u128, r: SecretRecord) -> Secret {
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
