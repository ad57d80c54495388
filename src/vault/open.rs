//! Creating and unlocking a vault. The redb file keeps its careful creation
//! (a marker, exclusive 0600 file, a read-only password check that leaves a
//! wrong guess byte-identical); unlocking itself is written once, over any
//! [`Store`], through a key slot: the file's one password, or a member's slot
//! in a team vault (one KDF either way, never one per slot).

use std::path::Path;

use uuid::Uuid;

use super::audit::member_id;
use super::change::{AuditedStore, Unaudited, unaudited};
use super::format::{self, FORMAT_VERSION};
use super::membership::{put_member, slot_written};
use super::{Vault, audit, members, trail};
use crate::crypto::kdf::{self, KdfHeader, KdfParams};
use crate::crypto::keys::VaultKeys;
use crate::error::VaultError;
use crate::secret::{Key32, SecretString};
use crate::store::postgres::PgStore;
use crate::store::redb::{self as file, RedbStore};
use crate::store::{Location, Read, Store, StoreError, Table, meta_key};

/// The name `init` gives a team vault's first member unless told otherwise.
pub const DEFAULT_MEMBER: &str = "owner";

/// How the data key is reached.
enum Slot {
    /// One password (a vault file): the KDF header and wrapped key in `meta`.
    Password { kdf: Vec<u8>, wrapped: Vec<u8> },
    /// A member's key slot (team vaults).
    Member { name: String, slot: Vec<u8> },
}

impl Slot {
    /// The bytes a derived key is valid for: a key found on a read-only
    /// handle is reused only while these are unchanged.
    fn fingerprint(&self) -> Vec<u8> {
        match self {
            Slot::Password { kdf, wrapped } => [kdf.as_slice(), wrapped].concat(),
            Slot::Member { name, slot } => [name.as_bytes(), slot].concat(),
        }
    }
}

struct Meta {
    vault_id: [u8; 16],
    slot: Slot,
}

fn not_initialised() -> VaultError {
    VaultError::Corrupt("the store holds no initialised credvault vault".into())
}

/// The format version of an initialised vault (newer than this build: refused).
pub(super) fn format_of(txn: &(impl Read + ?Sized)) -> Result<u32, VaultError> {
    let v = txn
        .get(Table::Meta, meta_key::FORMAT.as_bytes())?
        .ok_or_else(|| VaultError::Corrupt("format version missing".into()))?;
    let b: [u8; 4] = v
        .as_slice()
        .try_into()
        .map_err(|_| VaultError::Corrupt("format version length".into()))?;
    Ok(u32::from_le_bytes(b))
}

fn read_meta(txn: &dyn Read, member: Option<&str>) -> Result<Option<Meta>, VaultError> {
    let get = |k: &str| txn.get(Table::Meta, k.as_bytes());
    let Some(vault_id) = get(meta_key::VAULT_ID)? else {
        return Ok(None);
    };
    let found = format_of(txn)?;
    if found > FORMAT_VERSION {
        return Err(VaultError::NewerFormat {
            found,
            supported: FORMAT_VERSION,
        });
    }
    let vault_id: [u8; 16] = vault_id
        .as_slice()
        .try_into()
        .map_err(|_| VaultError::Corrupt("vault id length".into()))?;
    let slot = match get(meta_key::WRAPPED_KEY)? {
        Some(wrapped) => {
            if let Some(m) = member {
                return Err(VaultError::NoMember(format!(
                    "this vault has one password and no members: open it without --member {m} (unset CREDVAULT_MEMBER)"
                )));
            }
            let kdf = get(meta_key::KDF)?
                .ok_or_else(|| VaultError::Corrupt("KDF header missing".into()))?;
            Slot::Password { kdf, wrapped }
        }
        None => {
            let name = match member {
                Some(m) => m.to_owned(),
                None => get(meta_key::DEFAULT_MEMBER)?
                    .and_then(|b| String::from_utf8(b).ok())
                    .unwrap_or_else(|| DEFAULT_MEMBER.to_owned()),
            };
            let slot = txn
                .get(Table::Members, name.as_bytes())?
                .ok_or_else(|| {
                    VaultError::NoMember(format!(
                        "this team vault has no member named {name}: name yours with --member or CREDVAULT_MEMBER (credvault member list shows them)"
                    ))
                })?;
            Slot::Member { name, slot }
        }
    };
    Ok(Some(Meta { vault_id, slot }))
}

/// A data key as its slot gave it.
pub(super) struct Derived {
    key: Key32,
    /// The slot says the vault keeps an audit trail (a member's slot: team
    /// vaults always do; a file's wrap from this version on).
    binds_trail: bool,
    /// A file's wrap from before the trail was bound, made again under the
    /// same master key with the binding: written once the vault has a trail.
    rewrapped: Option<Vec<u8>>,
}

/// The data key, from the password (one KDF).
fn data_key(meta: &Meta, password: &SecretString) -> Result<Derived, VaultError> {
    match &meta.slot {
        Slot::Password { kdf, wrapped } => {
            let master = kdf::derive_master_key(password, &KdfHeader::decode(kdf)?)?;
            let (key, binds_trail) = format::unwrap_key(&master, wrapped, kdf, &meta.vault_id)?;
            let rewrapped = match binds_trail {
                true => None,
                false => {
                    let header = <[u8; kdf::HEADER_LEN]>::try_from(kdf.as_slice())
                        .map_err(|_| VaultError::Corrupt("KDF header length".into()))?;
                    Some(format::wrap_key(&master, &key, &header, &meta.vault_id)?)
                }
            };
            Ok(Derived {
                key,
                binds_trail,
                rewrapped,
            })
        }
        Slot::Member { name, slot } => Ok(Derived {
            key: members::open_slot(slot, password, &meta.vault_id, name)?,
            binds_trail: true,
            rewrapped: None,
        }),
    }
}

/// Writes `rewrapped` over the file's wrapped key `was` (unless a passwd
/// replaced it meanwhile): from now on the trail cannot be removed unseen.
/// Best effort: a vault busy now gets it at a later unlock.
fn bind_trail(
    store: &AuditedStore,
    keys: &VaultKeys,
    was: &[u8],
    rewrapped: &[u8],
) -> Option<Vec<u8>> {
    let done = unaudited(store, keys, None, Unaudited::BindTrail, |c| {
        let key = meta_key::WRAPPED_KEY.as_bytes();
        if c.get(Table::Meta, key)?.as_deref() != Some(was) {
            return Ok(None);
        }
        c.put(Table::Meta, key, rewrapped)?;
        Ok(Some(()))
    });
    match done {
        Ok(Some(())) => Some(rewrapped.to_vec()),
        Ok(None) => None,
        Err(e) => {
            tracing::warn!("could not bind the audit trail to the wrapped key yet: {e}");
            None
        }
    }
}

/// Fails unless `slot`, which just opened, is the slot the trail last wrote
/// for `name` (format 3): a slot put back from before a `passwd` or a
/// removal must not unlock. Returns the trail as read, for the vault to keep.
fn slot_in_trail(
    store: &AuditedStore,
    keys: &VaultKeys,
    name: &str,
    slot: &[u8],
) -> Result<trail::Latest, VaultError> {
    let txn = store.read()?;
    if txn.get(Table::Members, name.as_bytes())?.as_deref() != Some(slot) {
        return Err(VaultError::Refused(format!(
            "member {name}'s key slot changed while it was being unlocked (a passwd or removal at the same moment): start again"
        )));
    }
    let mut latest = trail::Latest::default();
    latest.sync(keys, &*txn)?;
    if format_of(&*txn)? >= 3 || latest.covers_members() {
        let then = "refusing to unlock with it (a slot put back from before a passwd or a removal would undo it); run credvault audit --verify";
        let what = format!("member {name}'s key slot");
        latest.check(keys, (Table::Members, member_id(name)), slot, &what, then)?;
    }
    Ok(latest)
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
        if file::exists(path) {
            return Ok((Self::open(path, password)?, false));
        }
        // One empty variable in an MCP client's config must not create a
        // vault that anyone can open.
        if password.expose().trim().is_empty() {
            return Err(VaultError::EmptyPassword);
        }
        file::check_creatable(path)?;
        let header = KdfHeader::generate(params)?;
        let master = kdf::derive_master_key(password, &header)?;
        let data_key = Key32::random().map_err(|_| crate::crypto::CryptoError::Random)?;
        let vault_id = Uuid::new_v4();
        let header_bytes = header.encode();
        let wrapped = format::wrap_key(&master, &data_key, &header_bytes, vault_id.as_bytes())?;
        // Again, right before creating: the derivation above took seconds, in
        // which a link or a foreign file may have been planted.
        file::check_creatable(path)?;
        file::begin_creation(path)?;
        if !file::create_file(path)? {
            // Someone else's file appeared since: only a vault, or a creation
            // credvault started (its marker), may be continued.
            if !file::exists(path) {
                file::check_creatable(path)?;
            }
        }
        let db = if file::exists(path) {
            file::open_rw(path)?
        } else {
            file::create_db(path)?
        };
        let store = AuditedStore::new(Box::new(RedbStore::new(db, path)));
        let keys = VaultKeys::derive(&data_key)?;
        let created = unaudited(&store, &keys, None, Unaudited::Creation, |c| {
            if c.get(Table::Meta, meta_key::VAULT_ID.as_bytes())?.is_some() {
                return Ok(None);
            }
            let mut meta = |k: &str, v: &[u8]| c.put(Table::Meta, k.as_bytes(), v);
            meta(meta_key::FORMAT, &FORMAT_VERSION.to_le_bytes())?;
            meta(meta_key::KDF, &header_bytes)?;
            meta(meta_key::WRAPPED_KEY, &wrapped)?;
            meta(meta_key::VAULT_ID, vault_id.as_bytes())?;
            // Every table exists from the first commit (a write opens it).
            for t in Table::ALL {
                c.scan(t, None, 0)?;
            }
            c.start_trail()?;
            Ok(Some(()))
        })?;
        if created.is_none() {
            // Another process initialised it between our checks: open theirs.
            drop(store);
            file::end_creation(path);
            return Ok((Self::open(path, password)?, false));
        }
        file::end_creation(path);
        Ok((
            Self {
                store,
                keys,
                data_key,
                listing: Default::default(),
                trail: Default::default(),
                vault_id,
                member: None,
                slot: [header_bytes.as_slice(), &wrapped].concat(),
            },
            true,
        ))
    }

    /// Opens and unlocks an existing vault file.
    ///
    /// The password is checked on a read-only handle first: a wrong password
    /// ([`VaultError::WrongPassword`]) leaves the file byte-identical.
    pub fn open(path: &Path, password: &SecretString) -> Result<Self, VaultError> {
        Self::open_as(path, password, None)
    }

    /// [`Vault::open`] as `member` (a team vault copied to a file by `backup`).
    pub fn open_as(
        path: &Path,
        password: &SecretString,
        member: Option<&str>,
    ) -> Result<Self, VaultError> {
        let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => VaultError::Missing(path.display().to_string()),
            _ => VaultError::io(format!("inspecting {}", path.display()), e),
        })?;
        file::check_owner(path, &meta)?;
        let known = match file::open_ro(path) {
            Ok(ro) => {
                let meta = read_meta(&file::reader(&ro)?, member)?.ok_or_else(not_initialised)?;
                drop(ro);
                let derived = data_key(&meta, password)?;
                Some((meta.slot.fingerprint(), derived))
            }
            // A file left mid-recovery by a killed writer cannot be opened
            // read-only; the read-write open below repairs it first.
            Err(StoreError::Missing(p)) => return Err(VaultError::Missing(p)),
            Err(_) => None,
        };
        let store = RedbStore::new(file::open_rw(path)?, path);
        let vault = Self::unlock(Box::new(store), password, member, known)?;
        // A creator killed after its first commit leaves its marker behind.
        if file::creation_marker(path).exists() {
            file::end_creation(path);
        }
        Ok(vault)
    }

    /// Opens the vault at `location` as `member` (a team vault's default when `None`).
    pub fn open_at(
        location: &Location,
        password: &SecretString,
        member: Option<&str>,
    ) -> Result<Self, VaultError> {
        match location {
            Location::File(path) => Self::open_as(path, password, member),
            Location::Postgres(url) => {
                Self::open_store(Box::new(PgStore::connect(url)?), password, member)
            }
        }
    }

    /// Opens the vault at `location`, creating a vault file on first run (a
    /// team vault is created by `credvault init --store …`, never implicitly).
    pub fn open_or_create_at(
        location: &Location,
        password: &SecretString,
        params: KdfParams,
        member: Option<&str>,
    ) -> Result<(Self, bool), VaultError> {
        match (location, member) {
            (Location::File(path), None) => Self::open_or_create(path, password, params),
            _ => Ok((Self::open_at(location, password, member)?, false)),
        }
    }

    /// Opens and unlocks the vault in `store` as `member` (`None`: the file's
    /// password, or a team vault's default member). One KDF.
    pub fn open_store(
        store: Box<dyn Store>,
        password: &SecretString,
        member: Option<&str>,
    ) -> Result<Self, VaultError> {
        Self::unlock(store, password, member, None)
    }

    /// Reads the slot and unlocks. `known` is a data key already derived for
    /// the slot bytes it names; it is reused while those are unchanged (else
    /// the password may have changed meanwhile).
    pub(super) fn unlock(
        store: Box<dyn Store>,
        password: &SecretString,
        member: Option<&str>,
        known: Option<(Vec<u8>, Derived)>,
    ) -> Result<Self, VaultError> {
        let store = AuditedStore::new(store);
        let (meta, head) = {
            let txn = store.read()?;
            let meta =
                read_meta(&*txn, member)?.ok_or_else(|| VaultError::Missing(store.location()))?;
            (meta, txn.get(Table::Meta, meta_key::AUDIT_HEAD.as_bytes())?)
        };
        let mut latest = trail::Latest::default();
        let derived = match known {
            Some((fingerprint, derived)) if fingerprint == meta.slot.fingerprint() => derived,
            _ => data_key(&meta, password)?,
        };
        let data_key = derived.key;
        let keys = VaultKeys::derive(&data_key)?;
        let mut slot = meta.slot.fingerprint();
        // A key that says the vault keeps a trail, and no trail: lists and
        // `audit --verify` still work; every use and write is refused.
        latest.bind_trail(derived.binds_trail);
        if let (Some(rewrapped), Some(_), Slot::Password { kdf, wrapped }) =
            (&derived.rewrapped, &head, &meta.slot)
            && bind_trail(&store, &keys, wrapped, rewrapped).is_some()
        {
            slot = [kdf.as_slice(), rewrapped].concat();
        }
        let member = match meta.slot {
            Slot::Member { name, slot } => {
                // Prove the key is the vault's current one (a slot saved from
                // before a rekey holds an old one). Team vaults always have a head.
                let current = head.is_some_and(|h| audit::open_head(&keys, &h).is_ok());
                if !current {
                    return Err(VaultError::Corrupt(format!(
                        "member {name}'s key slot holds a key that does not open this vault (a slot from before a rekey?)"
                    )));
                }
                latest = slot_in_trail(&store, &keys, &name, &slot)?;
                latest.bind_trail(true);
                Some(name)
            }
            Slot::Password { .. } => None,
        };
        let vault = Self {
            keys,
            data_key,
            listing: Default::default(),
            store,
            vault_id: Uuid::from_bytes(meta.vault_id),
            member,
            trail: std::sync::Mutex::new(latest),
            slot,
        };
        // A team vault read its trail to check the slot: save what it read.
        vault.checkpoint_if_due();
        Ok(vault)
    }

    /// Creates a team vault in `store` (already holding the store's schema),
    /// with `member` as its first member and default. Fails with
    /// [`VaultError::AlreadyExists`] when the store holds a vault.
    pub fn create_in(
        store: Box<dyn Store>,
        password: &SecretString,
        params: KdfParams,
        member: &str,
        via: &str,
    ) -> Result<Self, VaultError> {
        if password.expose().trim().is_empty() {
            return Err(VaultError::EmptyPassword);
        }
        members::check_member_name(member).map_err(VaultError::BadMemberName)?;
        let data_key = Key32::random().map_err(|_| crate::crypto::CryptoError::Random)?;
        let vault_id = Uuid::new_v4();
        let vault_box = members::BoxKey::generate()?;
        let slot = members::new_slot(
            password,
            params,
            &data_key,
            &vault_box,
            vault_id.as_bytes(),
            member,
        )?;
        let keys = VaultKeys::derive(&data_key)?;
        let store = AuditedStore::new(store);
        unaudited(&store, &keys, Some(member), Unaudited::Creation, |c| {
            if c.get(Table::Meta, meta_key::VAULT_ID.as_bytes())?.is_some() {
                return Err(VaultError::AlreadyExists(store.location()));
            }
            let mut meta = |k: &str, v: &[u8]| c.put(Table::Meta, k.as_bytes(), v);
            meta(meta_key::FORMAT, &FORMAT_VERSION.to_le_bytes())?;
            meta(meta_key::VAULT_ID, vault_id.as_bytes())?;
            meta(meta_key::DEFAULT_MEMBER, member.as_bytes())?;
            meta(meta_key::BOX_KEY, &vault_box.sealed(keys.seal_key())?)?;
            put_member(c, &keys, member, &slot)?;
            c.start_trail()?;
            let event = audit::Event::ok("member_add", member, via);
            c.record(&event, Some(slot_written(member, Some(&slot))))?;
            Ok(Some(()))
        })?;
        Ok(Self {
            store,
            keys,
            data_key,
            listing: Default::default(),
            trail: Default::default(),
            vault_id,
            member: Some(member.to_owned()),
            slot: [member.as_bytes(), &slot].concat(),
        })
    }
}
