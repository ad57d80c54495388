//! The vault: an unlocked store (the redb file, or a team vault's database)
//! plus the keys that open its records. Everything here is written once,
//! against [`crate::store::Store`]; the stores hold only sealed bytes.
//!
//! Every operation is one short transaction. Writes are durable (fsync) before
//! they return, take the multi-process write lock with a bounded wait, and are
//! never held across key derivation or client I/O; each goes through the one
//! audited-write primitive (`change`). All methods are blocking: call them
//! from `spawn_blocking` in async code.
//!
//! By concept: `credentials` and `secrets` (storing, replacing, deleting),
//! `uses` (reading a value to use it, recording the use), `tokens`,
//! `membership` (a team vault's members), `master_password`, `backup`,
//! `rekey`; the name `index`, the audit `trail` as this process has read it,
//! `listing` metadata, `open` (unlocking and creating a vault); the sealed
//! layouts in [`format`], [`audit`] and [`members`].

pub mod audit;
pub mod backend;
mod backup;
mod change;
mod credentials;
pub mod format;
mod index;
mod listing;
mod master_password;
pub mod members;
mod membership;
mod open;
mod rekey;
mod secrets;
mod tokens;
mod trail;
mod uses;
mod verify;

pub use audit::{Entry as AuditEntry, Problem, Verification};
pub use credentials::{Credential, Deleted, Selector, Stored};
pub use listing::{Cursor, DEFAULT_LIMIT, Generation, MAX_LIMIT, Metadata, Page};
pub use membership::MemberInfo;
pub use open::DEFAULT_MEMBER;
pub use rekey::{Rekeyed, Relock};
pub use secrets::Secret;
pub use tokens::{TOKEN_PREFIX, TokenInfo};
pub use uses::{Use, UseStamp};

use std::time::{SystemTime, UNIX_EPOCH};

use uuid::Uuid;

use crate::crypto::keys::VaultKeys;
use crate::error::VaultError;
use crate::secret::Key32;

/// An unlocked vault.
pub struct Vault {
    store: change::AuditedStore,
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

    /// Which store holds it: `file` or `postgres`.
    pub fn store_kind(&self) -> &'static str {
        self.store.kind()
    }

    /// Whether short reads may run on an async task (see
    /// [`crate::store::Store::reads_are_local`]).
    pub fn reads_are_local(&self) -> bool {
        self.store.reads_are_local()
    }

    /// The member whose key slot opened the vault (team vaults).
    pub fn member(&self) -> Option<&str> {
        self.member.as_deref()
    }

    /// Fails when the audit head (`None`: a format-1 vault, which passes)
    /// does not open with this process's key: rekeyed since it unlocked.
    fn check_head(&self, head: Option<&[u8]>) -> Result<(), VaultError> {
        match head {
            Some(head) => audit::open_current_head(&self.keys, head).map(drop),
            None => Ok(()),
        }
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
