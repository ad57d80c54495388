//! The vault: an unlocked redb file plus the keys that open its records.
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
pub mod store;
mod tokens;
mod using;
mod verify;

pub use audit::{Entry as AuditEntry, Problem, Verification};
pub use lifecycle::{Deleted, Selector};
pub use listing::{Cursor, DEFAULT_LIMIT, Generation, MAX_LIMIT, Metadata, Page};
pub use using::{Use, UseStamp};

pub use tokens::{TOKEN_PREFIX, TokenInfo};

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use redb::{Database, ReadableDatabase, ReadableTable, TableError};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::crypto::kdf::{self, KdfHeader, KdfParams};
use crate::crypto::keys::VaultKeys;
use crate::error::VaultError;
use crate::mask::mask;
use crate::secret::{Key32, SecretString};
use crate::validate::{CreateSecret, CredentialType, StoreCredential};
use audit::{Event, Table, Written};
use format::{FORMAT_VERSION, Kind, seal_record};
use store::{CREDENTIALS, INDEX, META, SECRETS, TOKENS, begin_write, meta_key};

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
    db: Database,
    keys: VaultKeys,
    /// Kept to re-wrap it under a new password (`passwd`); zeroized on drop.
    data_key: Key32,
    /// Decrypted metadata, proven fresh on each list (listing.rs).
    listing: listing::Listing,
    vault_id: Uuid,
    path: PathBuf,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("path", &self.path)
            .field("vault_id", &self.vault_id)
            .finish_non_exhaustive()
    }
}

/// The meta entries needed to unlock.
struct Meta {
    kdf: Vec<u8>,
    wrapped: Vec<u8>,
    vault_id: Vec<u8>,
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

fn read_meta(txn: &impl ReadTxn) -> Result<Option<Meta>, VaultError> {
    let Some(table) = txn.meta()? else {
        return Ok(None);
    };
    let get = |k: &str| -> Result<Option<Vec<u8>>, VaultError> {
        Ok(table.get(k)?.map(|v| v.value().to_vec()))
    };
    let Some(wrapped) = get(meta_key::WRAPPED_KEY)? else {
        return Ok(None);
    };
    let format = get(meta_key::FORMAT)?
        .ok_or_else(|| VaultError::Corrupt("format version missing".into()))?;
    let format: [u8; 4] = format
        .as_slice()
        .try_into()
        .map_err(|_| VaultError::Corrupt("format version length".into()))?;
    let found = u32::from_le_bytes(format);
    if found > FORMAT_VERSION {
        return Err(VaultError::NewerFormat {
            found,
            supported: FORMAT_VERSION,
        });
    }
    let kdf =
        get(meta_key::KDF)?.ok_or_else(|| VaultError::Corrupt("KDF header missing".into()))?;
    let vault_id =
        get(meta_key::VAULT_ID)?.ok_or_else(|| VaultError::Corrupt("vault id missing".into()))?;
    Ok(Some(Meta {
        kdf,
        wrapped,
        vault_id,
    }))
}

/// Read access to the meta table from a read-only or read-write handle.
trait ReadTxn {
    fn meta(&self) -> Result<Option<redb::ReadOnlyTable<&'static str, &'static [u8]>>, VaultError>;
}

impl ReadTxn for redb::ReadTransaction {
    fn meta(&self) -> Result<Option<redb::ReadOnlyTable<&'static str, &'static [u8]>>, VaultError> {
        match self.open_table(META) {
            Ok(t) => Ok(Some(t)),
            Err(TableError::TableDoesNotExist(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

fn not_initialised() -> VaultError {
    VaultError::Corrupt("the file is not an initialised credvault vault".into())
}

fn unlock(master: &Key32, meta: &Meta) -> Result<(Key32, Uuid), VaultError> {
    let data_key = format::unwrap_key(master, &meta.wrapped, &meta.kdf, &meta.vault_id)?;
    let id: [u8; 16] = meta
        .vault_id
        .as_slice()
        .try_into()
        .map_err(|_| VaultError::Corrupt("vault id length".into()))?;
    Ok((data_key, Uuid::from_bytes(id)))
}

impl Vault {
    /// Creates a new vault at `path` (directory 0700, file 0600).
    ///
    /// Fails with [`VaultError::AlreadyExists`] when one is there already.
    pub fn create(
        path: &Path,
        password: &SecretString,
        params: KdfParams,
    ) -> Result<Self, VaultError> {
        match Self::open_or_create(path, password, params)? {
            (vault, true) => Ok(vault),
            (_, false) => Err(VaultError::AlreadyExists(path.display().to_string())),
        }
    }

    /// Opens the vault at `path`, or creates it when there is none (first run).
    /// Returns the vault and whether it was created. When two processes race to
    /// create one vault, exactly one creates it and the other opens it.
    pub fn open_or_create(
        path: &Path,
        password: &SecretString,
        params: KdfParams,
    ) -> Result<(Self, bool), VaultError> {
        if store::exists(path) {
            return Ok((Self::open(path, password)?, false));
        }
        // One empty variable in an MCP client's config must not create a
        // vault that anyone can open.
        if password.expose().trim().is_empty() {
            return Err(VaultError::EmptyPassword);
        }
        store::check_creatable(path)?;
        let header = KdfHeader::generate(params)?;
        let master = kdf::derive_master_key(password, &header)?;
        let data_key = Key32::random().map_err(|_| crate::crypto::CryptoError::Random)?;
        let vault_id = Uuid::new_v4();
        let header_bytes = header.encode();
        let wrapped = format::wrap_key(&master, &data_key, &header_bytes, vault_id.as_bytes())?;
        // Again, right before creating: the derivation above took seconds, in
        // which a link or a foreign file may have been planted.
        store::check_creatable(path)?;
        store::begin_creation(path)?;
        if !store::create_file(path)? {
            // Someone else's file appeared since: only a vault, or a creation
            // credvault started (its marker), may be continued.
            if !store::exists(path) {
                store::check_creatable(path)?;
            }
        }
        let db = if store::exists(path) {
            store::open_rw(path)?
        } else {
            store::create_db(path)?
        };
        let txn = begin_write(&db)?;
        {
            let mut meta = txn.open_table(META)?;
            if meta.get(meta_key::WRAPPED_KEY)?.is_some() {
                // Another process initialised it between our checks: open theirs.
                drop(meta);
                txn.abort()?;
                drop(db);
                store::end_creation(path);
                return Ok((Self::open(path, password)?, false));
            }
            meta.insert(meta_key::FORMAT, FORMAT_VERSION.to_le_bytes().as_slice())?;
            meta.insert(meta_key::KDF, header_bytes.as_slice())?;
            meta.insert(meta_key::WRAPPED_KEY, wrapped.as_slice())?;
            meta.insert(meta_key::VAULT_ID, vault_id.as_bytes().as_slice())?;
            txn.open_table(CREDENTIALS)?;
            txn.open_table(SECRETS)?;
            txn.open_table(INDEX)?;
            txn.open_table(TOKENS)?;
        }
        let keys = VaultKeys::derive(&data_key)?;
        audit::init(&keys, &txn)?;
        txn.commit()?;
        store::end_creation(path);
        Ok((
            Self {
                db,
                keys,
                data_key,
                listing: Default::default(),
                vault_id,
                path: path.to_owned(),
            },
            true,
        ))
    }

    /// Opens and unlocks an existing vault.
    ///
    /// The password is checked on a read-only handle first: a wrong password
    /// ([`VaultError::WrongPassword`]) leaves the file byte-identical.
    pub fn open(path: &Path, password: &SecretString) -> Result<Self, VaultError> {
        let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => VaultError::Missing(path.display().to_string()),
            _ => VaultError::io(format!("inspecting {}", path.display()), e),
        })?;
        store::check_owner(path, &meta)?;
        let checked = match store::open_ro(path) {
            Ok(ro) => {
                let meta = read_meta(&ro.begin_read()?)?;
                drop(ro);
                Some(meta.ok_or_else(not_initialised)?)
            }
            // A file left mid-recovery by a killed writer cannot be opened
            // read-only; the read-write open below repairs it first.
            Err(VaultError::Missing(p)) => return Err(VaultError::Missing(p)),
            Err(_) => None,
        };
        let master = match &checked {
            Some(meta) => {
                let key = kdf::derive_master_key(password, &KdfHeader::decode(&meta.kdf)?)?;
                unlock(&key, meta)?;
                Some((key, meta.kdf.as_slice()))
            }
            None => None,
        };
        let vault = Self::unlock_db(store::open_rw(path)?, path, password, master)?;
        // A creator killed after its first commit leaves its marker behind.
        if store::creation_marker(path).exists() {
            store::end_creation(path);
        }
        Ok(vault)
    }

    /// Reads the meta of an opened database and unlocks it. `master` is a key
    /// already derived for the KDF header it names; it is reused when the
    /// header is still the same (else the password may have changed meanwhile).
    fn unlock_db(
        db: Database,
        path: &Path,
        password: &SecretString,
        master: Option<(Key32, &[u8])>,
    ) -> Result<Self, VaultError> {
        let meta = read_meta(&db.begin_read()?)?.ok_or_else(not_initialised)?;
        let master = match master {
            Some((key, kdf)) if kdf == meta.kdf.as_slice() => key,
            _ => kdf::derive_master_key(password, &KdfHeader::decode(&meta.kdf)?)?,
        };
        let (data_key, vault_id) = unlock(&master, &meta)?;
        Ok(Self {
            keys: VaultKeys::derive(&data_key)?,
            data_key,
            listing: Default::default(),
            db,
            vault_id,
            path: path.to_owned(),
        })
    }

    /// The vault's random id (seed 003's `workspaceId`).
    pub fn id(&self) -> Uuid {
        self.vault_id
    }

    /// The file this vault lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn index_key(&self, kind: Kind, parts: &[&str]) -> Result<[u8; 32], VaultError> {
        let tag = [kind as u8];
        let mut all: Vec<&[u8]> = vec![&tag];
        all.extend(parts.iter().map(|p| p.as_bytes()));
        Ok(self.keys.index_mac(&all)?)
    }

    /// Stores a credential; replaces the one with the same (service, name),
    /// keeping its id and `created_at`. Durable (with its audit entry, made
    /// by `via`) before it returns.
    pub fn store_credential(&self, req: &StoreCredential, via: &str) -> Result<Stored, VaultError> {
        let idx = self.index_key(Kind::Credential, &[&req.service.id, &req.name])?;
        let key = self.keys.seal_key();
        let txn = begin_write(&self.db)?;
        let mut head = audit::begin(&self.keys, &txn)?;
        let stored = {
            let mut index = txn.open_table(INDEX)?;
            let mut creds = txn.open_table(CREDENTIALS)?;
            let existing =
                self.indexed::<CredentialRecord>(&index, &creds, Kind::Credential, &idx, |m| {
                    m.service == req.service.id && m.name == req.name
                })?;
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
                Kind::Credential,
                id,
                &record,
                &req.value,
                req.attachment.as_ref(),
            )?;
            creds.insert(id, sealed.as_slice())?;
            index.insert(idx.as_slice(), id)?;
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
        audit::append(&self.keys, &txn, &mut head, &event, Some(written))?;
        txn.commit()?;
        Ok(stored)
    }

    /// Creates a named secret. An existing name is [`VaultError::SecretExists`]
    /// and changes nothing. Durable before it returns.
    pub fn create_secret(&self, req: &CreateSecret, via: &str) -> Result<Secret, VaultError> {
        let idx = self.index_key(Kind::Secret, &[&req.name])?;
        let txn = begin_write(&self.db)?;
        let mut head = audit::begin(&self.keys, &txn)?;
        let (created, sealed) = {
            let mut index = txn.open_table(INDEX)?;
            if index.get(idx.as_slice())?.is_some() {
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
                Kind::Secret,
                id,
                &record,
                &req.value,
                None,
            )?;
            txn.open_table(SECRETS)?.insert(id, sealed.as_slice())?;
            index.insert(idx.as_slice(), id)?;
            (secret(id, record), sealed)
        };
        let event = Event::ok("secret_create", created.name.clone(), via);
        let written = Written {
            table: Table::Secrets,
            id: created.id.as_u128(),
            sealed: Some(&sealed),
        };
        audit::append(&self.keys, &txn, &mut head, &event, Some(written))?;
        txn.commit()?;
        Ok(created)
    }
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
