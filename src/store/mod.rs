//! Where sealed records live (DESIGN §12): one record-level trait, [`Store`],
//! with one module per store — the redb file ([`redb`]) and PostgreSQL
//! ([`postgres`]). A store sees only what the vault file shows: sealed bytes,
//! keyed hashes, counts, sizes and times. Sealing, the index, the audit chain
//! and every rule about records stay above it, in `crate::vault`, written once.
//!
//! The shape is the narrowest the vault needs:
//! * [`Store::read`]: a consistent snapshot (one redb read transaction, one
//!   PostgreSQL `REPEATABLE READ` transaction) with `get` and an ordered `scan`;
//! * [`Store::write`]: a write transaction that is **serialised with every
//!   other write transaction of every process on every machine** (redb's
//!   single writer; a transaction-level advisory lock in PostgreSQL), so a
//!   read followed by a write inside it is a compare-and-set; `commit` returns
//!   once the change is durable. Dropping it without `commit` writes nothing.
//!
//! Keys and values are bytes. Key conventions (shared by both stores): record
//! ids are 16 bytes big-endian, audit sequence numbers 8 bytes big-endian,
//! meta keys and member names UTF-8, index and token keys 32-byte keyed
//! hashes; index values are 16-byte record ids. Scans are in byte order of
//! the key (so numeric order for ids and sequence numbers).
//!
//! Every call fails with a [`StoreError`] (busy, unavailable, damaged, …),
//! never with the vault's error: the vault maps it in one place.

mod error;
pub mod postgres;
pub mod redb;
mod table;

pub use error::StoreError;
pub use table::Table;

/// Meta keys.
pub mod meta_key {
    /// u32 LE format version.
    pub const FORMAT: &str = "format_version";
    /// Encoded KDF header.
    pub const KDF: &str = "kdf";
    /// Sealed data key.
    pub const WRAPPED_KEY: &str = "wrapped_key";
    /// 16-byte vault id.
    pub const VAULT_ID: &str = "vault_id";
    /// Sealed audit head: entry count and the keyed hash of the last entry.
    pub const AUDIT_HEAD: &str = "audit_head";
    /// Team vaults: the vault's box key (secret half sealed under the data key).
    pub const BOX_KEY: &str = "box_key";
    /// Team vaults: the member a process opens when none is named.
    pub const DEFAULT_MEMBER: &str = "default_member";
    /// A sealed summary of the trail up to some entry (see `vault::trail`):
    /// a process starts from it instead of reading every entry.
    pub const TRAIL_CHECKPOINT: &str = "trail_checkpoint";
}

/// Where a vault lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A redb file (the default).
    File(std::path::PathBuf),
    /// A team vault in PostgreSQL (a libpq-style URL).
    Postgres(String),
}

impl Location {
    /// For messages: the path, or the URL without its password.
    pub fn describe(&self) -> String {
        match self {
            Location::File(p) => p.display().to_string(),
            Location::Postgres(url) => postgres::describe(url),
        }
    }
}

/// One row of a scan.
pub type Row = (Vec<u8>, Vec<u8>);

/// A consistent view of the store.
pub trait Read {
    /// The value under `key`, if any.
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// Up to `limit` rows with keys strictly after `after` (from the first
    /// when `None`), in key byte order.
    fn scan(
        &self,
        table: Table,
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<Row>, StoreError>;
}

/// A write transaction: serialised with all others, durable on commit.
pub trait Write: Read {
    /// Inserts or replaces the value under `key`.
    fn put(&mut self, table: Table, key: &[u8], value: &[u8]) -> Result<(), StoreError>;
    /// Removes `key`; true when it was there.
    fn remove(&mut self, table: Table, key: &[u8]) -> Result<bool, StoreError>;
    /// Makes every change durable, or none of them.
    fn commit(self: Box<Self>) -> Result<(), StoreError>;
}

/// A place a vault's records live.
pub trait Store: Send + Sync {
    /// Begins a consistent read.
    fn read(&self) -> Result<Box<dyn Read + '_>, StoreError>;
    /// Begins a write transaction, waiting a bounded time for other writers
    /// ([`StoreError::Busy`] after it).
    fn write(&self) -> Result<Box<dyn Write + '_>, StoreError>;
    /// Where it is, for messages (a path, or a URL without its password).
    fn location(&self) -> String;
    /// Which engine: `file` (redb) or `postgres`.
    fn kind(&self) -> &'static str;
    /// Whether a short read is cheap enough to run on an async task (a local
    /// file: page-cache reads, at most waiting out another process's commit)
    /// rather than a blocking thread (a database over a connection).
    fn reads_are_local(&self) -> bool {
        false
    }
}

/// Every row of `table`.
pub fn scan_all(txn: &(impl Read + ?Sized), table: Table) -> Result<Vec<Row>, StoreError> {
    txn.scan(table, None, usize::MAX)
}
