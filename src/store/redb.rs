//! The redb file store (the default): creation with safe permissions,
//! opening in multi-writer mode, short write transactions with a bounded wait
//! for other processes, and [`RedbStore`], the [`Store`] over one file.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::ops::Bound;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use redb::{
    ConcurrencyMode, Database, ReadOnlyDatabase, ReadableDatabase, ReadableTable, TableDefinition,
    TableError, TransactionError, WriteTransaction,
};

use super::StoreError;
use super::{Read, Row, Store, Table, Write, meta_key};

/// `meta`: format version, KDF header, wrapped key, vault id.
pub const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// `credentials`: record id → sealed credential.
pub const CREDENTIALS: TableDefinition<u128, &[u8]> = TableDefinition::new("credentials");
/// `secrets`: record id → sealed secret.
pub const SECRETS: TableDefinition<u128, &[u8]> = TableDefinition::new("secrets");
/// `index`: keyed hash of (kind, names) → record id.
pub const INDEX: TableDefinition<&[u8], u128> = TableDefinition::new("index");
/// `tokens`: keyed hash of a bearer token → sealed token metadata.
pub const TOKENS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("tokens");
/// `audit`: sequence number (from 1) → sealed entry.
pub const AUDIT: TableDefinition<u64, &[u8]> = TableDefinition::new("audit");
/// `members`: member name → key slot (team vaults).
pub const MEMBERS: TableDefinition<&str, &[u8]> = TableDefinition::new("members");

/// How long a write waits for another process's transaction before `vault_busy`.
pub const WRITE_RETRY_WINDOW: Duration = Duration::from_secs(2);
/// redb page cache; the default (1 GiB) is far more than a vault needs.
const CACHE_BYTES: usize = 16 * 1024 * 1024;

fn builder() -> redb::Builder {
    let mut b = Database::builder();
    b.set_concurrency_mode(ConcurrencyMode::MultiWriter);
    b.set_cache_size(CACHE_BYTES);
    b
}

/// Creates the parent directory of `path` (0700) when it is missing.
fn create_parent_dir(path: &Path) -> Result<(), StoreError> {
    if let Some(dir) = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty() && !d.exists())
    {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| StoreError::io(format!("creating {}", dir.display()), e))?;
    }
    Ok(())
}

/// Creates the parent directory (0700) and an empty vault file (0600) ourselves,
/// so redb never creates it with its 0644 default, then fsyncs both.
/// Returns false when the file already existed (another process won the race).
pub fn create_file(path: &Path) -> Result<bool, StoreError> {
    create_parent_dir(path)?;
    // Exclusive and without following links: an existing file or a link
    // planted at the path is never opened as a new vault.
    let file = match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(false),
        Err(e) => return Err(StoreError::io(format!("creating {}", path.display()), e)),
    };
    file.sync_all()
        .map_err(|e| StoreError::io("syncing the new vault file", e))?;
    sync_parent(path)?;
    Ok(true)
}

/// Fsyncs the directory holding `path` (after creating or renaming a file in it).
pub fn sync_parent(path: &Path) -> Result<(), StoreError> {
    let dir = match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(d) => d,
        None => Path::new("."),
    };
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::io(format!("syncing {}", dir.display()), e))
}

/// The marker credvault writes next to a vault file before creating it and
/// removes once the vault is initialised: proof that a half-made file at
/// `path` is credvault's own, so it may be reclaimed. Without it, a file that
/// is not a vault is never touched.
pub fn creation_marker(path: &Path) -> std::path::PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".creating");
    path.with_file_name(name)
}

/// Refuses a path that holds something other than a vault credvault may
/// create or finish creating: a symbolic link that leads nowhere (creating
/// through it would put the vault wherever it points), a non-regular file, or
/// a file credvault did not start creating (no marker). Nothing is changed.
pub fn check_creatable(path: &Path) -> Result<(), StoreError> {
    let shown = path.display();
    // Another process may have finished creating it meanwhile: opening it is fine.
    if exists(path) {
        return Ok(());
    }
    let meta = match fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(StoreError::io(format!("inspecting {shown}"), e)),
        Ok(m) => m,
    };
    if meta.file_type().is_symlink() {
        return Err(StoreError::Unsafe(format!(
            "{shown} is a symbolic link that does not lead to a vault: remove it or choose another --vault (nothing was changed)"
        )));
    }
    if !meta.is_file() {
        return Err(StoreError::Unsafe(format!(
            "{shown} is not a regular file: choose another --vault"
        )));
    }
    check_owner(path, &meta)?;
    // Another process's creation may have finished (and removed its marker)
    // since the first look: read the marker first, then the file again.
    if !creation_marker(path).exists() && !exists(path) {
        return Err(StoreError::Unsafe(format!(
            "{shown} exists but is not a credvault vault (nor one credvault was creating): move it away or choose another --vault (nothing was changed)"
        )));
    }
    Ok(())
}

/// Refuses a vault file owned by another user or writable by group or others
/// (whoever can write it can replace records or roll them back); warns when
/// others can read it, naming the fix.
pub fn check_owner(path: &Path, meta: &fs::Metadata) -> Result<(), StoreError> {
    crate::fileperm::check_private(path, meta, "vault file", false)
        .map_err(|why| StoreError::Unsafe(format!("{} is {why}", path.display())))
}

/// Writes the creation marker (0600) and fsyncs the directory, creating the
/// directory (0700) first when needed.
pub fn begin_creation(path: &Path) -> Result<(), StoreError> {
    create_parent_dir(path)?;
    let marker = creation_marker(path);
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(&marker)
        .and_then(|f| f.sync_all())
        .map_err(|e| StoreError::io(format!("creating {}", marker.display()), e))?;
    sync_parent(path)
}

/// Removes the creation marker once the vault is initialised.
pub fn end_creation(path: &Path) {
    let marker = creation_marker(path);
    match fs::remove_file(&marker) {
        Ok(()) => {
            let _ = sync_parent(path);
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!("could not remove {}: {e}", marker.display()),
    }
}

/// Whether `path` holds an initialised vault: a non-empty file whose `meta`
/// table has a vault id (written with the key in the first commit). A file left by a first run killed before its first
/// commit (empty, or a redb file without the vault's meta) is not one, so the
/// next run finishes creating it instead of refusing it for good. A file that
/// cannot be read as redb counts as a vault: opening it reports what is wrong.
pub fn exists(path: &Path) -> bool {
    let non_empty = fs::metadata(path)
        .map(|m| m.is_file() && m.len() > 0)
        .unwrap_or(false);
    non_empty && !unfinished_init(path) && initialised(path).unwrap_or(true)
}

/// redb writes its 9-byte magic number last when it initialises a file; a file
/// that is non-empty, small, and still all zeros there is an initialisation
/// cut short (or one in progress in another process), never a database.
const REDB_MAGIC_LEN: usize = 9;
/// redb's freshly initialised file is about 1 MiB; anything larger is not one.
const MAX_UNFINISHED_LEN: u64 = 16 * 1024 * 1024;

fn unfinished_init(path: &Path) -> bool {
    use std::io::Read;
    let Ok(mut file) = File::open(path) else {
        return false;
    };
    match file.metadata() {
        Ok(m) if m.is_file() && m.len() > 0 && m.len() <= MAX_UNFINISHED_LEN => {}
        _ => return false,
    }
    let mut magic = [0u8; REDB_MAGIC_LEN];
    file.read_exact(&mut magic).is_ok() && magic == [0u8; REDB_MAGIC_LEN]
}

/// `Some(has a wrapped key)`, or `None` when the file cannot be read as redb.
fn initialised(path: &Path) -> Option<bool> {
    fn check(txn: redb::ReadTransaction) -> Option<bool> {
        match txn.open_table(META) {
            Ok(t) => Some(t.get(meta_key::VAULT_ID).ok()?.is_some()),
            Err(TableError::TableDoesNotExist(_)) => Some(false),
            Err(_) => None,
        }
    }
    match open_ro(path) {
        Ok(db) => check(db.begin_read().ok()?),
        // Left mid-commit by a killed writer: a read-write open repairs it first.
        Err(_) => check(open_rw(path).ok()?.begin_read().ok()?),
    }
}

/// Opens read-write, multi-writer, with redb's integrity check.
pub fn open_rw(path: &Path) -> Result<Database, StoreError> {
    let mut b = builder();
    b.set_check_integrity_on_open(true);
    b.open(path).map_err(|e| map_open_error(path, e))
}

/// Opens an existing database held by `backend` (multi-writer, integrity check),
/// for [`crate::vault::Vault::open_with_backend`]. `label` names it in errors.
pub fn open_backend(
    backend: impl redb::StorageBackend,
    label: &Path,
) -> Result<Database, StoreError> {
    let mut b = builder();
    b.set_check_integrity_on_open(true);
    b.create_with_backend(backend)
        .map_err(|e| map_open_error(label, e))
}

/// Opens an empty file as a new database (multi-writer).
///
/// A file whose redb initialisation was cut short (a first run killed in
/// redb's own setup) is reclaimed: after waiting [`WRITE_RETRY_WINDOW`] for a
/// creator that may still be running to write redb's magic number, it is
/// emptied and initialised again. Without this such a file could never be
/// opened nor created again.
pub fn create_db(path: &Path) -> Result<Database, StoreError> {
    let deadline = Instant::now() + WRITE_RETRY_WINDOW;
    while unfinished_init(path) {
        if Instant::now() >= deadline {
            OpenOptions::new()
                .write(true)
                .open(path)
                .and_then(|f| {
                    f.set_len(0)?;
                    f.sync_all()
                })
                .map_err(|e| StoreError::io("emptying an unfinished vault file", e))?;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    builder().create(path).map_err(|e| map_open_error(path, e))
}

/// Opens read-only: used to check the password without changing a byte.
pub fn open_ro(path: &Path) -> Result<ReadOnlyDatabase, StoreError> {
    builder()
        .open_read_only(path)
        .map_err(|e| map_open_error(path, e))
}

fn map_open_error(path: &Path, e: redb::DatabaseError) -> StoreError {
    match e {
        redb::DatabaseError::Storage(redb::StorageError::Io(io))
            if io.kind() == std::io::ErrorKind::NotFound =>
        {
            StoreError::Missing(path.display().to_string())
        }
        redb::DatabaseError::Storage(redb::StorageError::Corrupted(what)) => {
            StoreError::Corrupt(format!("the vault file is damaged ({what})"))
        }
        other => StoreError::Engine(format!("opening {}: {other}", path.display())),
    }
}

/// Write transactions this process has begun. A waiter that sees it move knows
/// the lock is changing hands here (calls of this process queued behind each
/// other, e.g. a client pipelining writes), not held by a stuck process.
static WRITES_BEGUN: AtomicU64 = AtomicU64::new(0);

/// Begins a write transaction, waiting while another process holds the write
/// lock: [`StoreError::Busy`] once [`WRITE_RETRY_WINDOW`] passes without this
/// process getting it. The window restarts whenever another call of this
/// process got the lock meanwhile, so this process's own queue of writes never
/// turns into `vault_busy`.
pub fn begin_write(db: &Database) -> Result<WriteTransaction, StoreError> {
    let mut deadline = Instant::now() + WRITE_RETRY_WINDOW;
    let mut seen = WRITES_BEGUN.load(Ordering::Relaxed);
    let mut pause = Duration::from_millis(1);
    loop {
        match db.try_begin_write() {
            Ok(txn) => {
                WRITES_BEGUN.fetch_add(1, Ordering::Relaxed);
                return Ok(txn);
            }
            Err(TransactionError::WouldBlock) => {
                let now = WRITES_BEGUN.load(Ordering::Relaxed);
                if now != seen {
                    seen = now;
                    deadline = Instant::now() + WRITE_RETRY_WINDOW;
                }
                if Instant::now() >= deadline {
                    return Err(StoreError::Busy);
                }
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(25));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// A consistent read of a read-only handle.
pub fn reader(db: &ReadOnlyDatabase) -> Result<impl Read + use<>, StoreError> {
    Ok(ReadTxn(db.begin_read()?))
}

/// A vault file as a [`Store`].
pub struct RedbStore {
    db: Database,
    path: PathBuf,
}

impl RedbStore {
    /// The store over an opened database; `path` names it in messages.
    pub fn new(db: Database, path: &Path) -> Self {
        Self {
            db,
            path: path.to_owned(),
        }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Store for RedbStore {
    fn read(&self) -> Result<Box<dyn Read + '_>, StoreError> {
        Ok(Box::new(ReadTxn(self.db.begin_read()?)))
    }

    fn write(&self) -> Result<Box<dyn Write + '_>, StoreError> {
        Ok(Box::new(WriteTxn(begin_write(&self.db)?)))
    }

    fn location(&self) -> String {
        self.path.display().to_string()
    }

    fn kind(&self) -> &'static str {
        "file"
    }

    fn reads_are_local(&self) -> bool {
        true
    }
}

struct ReadTxn(redb::ReadTransaction);
struct WriteTxn(WriteTransaction);

fn bad_key(t: Table) -> StoreError {
    StoreError::Corrupt(format!("a key of the wrong shape for table {}", t.name()))
}

fn id_key(t: Table, k: &[u8]) -> Result<u128, StoreError> {
    Ok(u128::from_be_bytes(k.try_into().map_err(|_| bad_key(t))?))
}

fn seq_key(t: Table, k: &[u8]) -> Result<u64, StoreError> {
    Ok(u64::from_be_bytes(k.try_into().map_err(|_| bad_key(t))?))
}

fn str_key(t: Table, k: &[u8]) -> Result<&str, StoreError> {
    std::str::from_utf8(k).map_err(|_| bad_key(t))
}

fn after<K>(k: Option<K>) -> (Bound<K>, Bound<K>) {
    (
        k.map_or(Bound::Unbounded, Bound::Excluded),
        Bound::Unbounded,
    )
}

fn bytes(v: &[u8]) -> Vec<u8> {
    v.to_vec()
}

fn id_bytes(v: u128) -> Vec<u8> {
    v.to_be_bytes().to_vec()
}

fn seq_bytes(v: u64) -> Vec<u8> {
    v.to_be_bytes().to_vec()
}

fn str_bytes(v: &str) -> Vec<u8> {
    v.as_bytes().to_vec()
}

/// `get` on one typed table (`None` when the table does not exist yet).
macro_rules! get_in {
    ($txn:ident, $def:expr, $key:expr, $val:expr) => {
        match $txn.open($def)? {
            None => None,
            Some(tab) => tab.get($key)?.map(|g| $val(g.value())),
        }
    };
}

/// An ordered scan of one typed table.
macro_rules! scan_in {
    ($txn:ident, $def:expr, $kty:ty, $from:expr, $limit:expr, $key:expr, $val:expr) => {{
        let mut out: Vec<Row> = Vec::new();
        if let Some(tab) = $txn.open($def)? {
            for row in tab.range::<$kty>(after($from))? {
                if out.len() >= $limit {
                    break;
                }
                let (k, v) = row?;
                out.push(($key(k.value()), $val(v.value())));
            }
        }
        out
    }};
}

macro_rules! impl_read {
    ($ty:ty) => {
        impl Read for $ty {
            fn get(&self, t: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
                let txn = self;
                Ok(match t {
                    Table::Meta => get_in!(txn, META, str_key(t, key)?, bytes),
                    Table::Members => get_in!(txn, MEMBERS, str_key(t, key)?, bytes),
                    Table::Credentials => get_in!(txn, CREDENTIALS, id_key(t, key)?, bytes),
                    Table::Secrets => get_in!(txn, SECRETS, id_key(t, key)?, bytes),
                    Table::Audit => get_in!(txn, AUDIT, seq_key(t, key)?, bytes),
                    Table::Tokens => get_in!(txn, TOKENS, key, bytes),
                    Table::Index => get_in!(txn, INDEX, key, id_bytes),
                })
            }

            fn scan(
                &self,
                t: Table,
                from: Option<&[u8]>,
                limit: usize,
            ) -> Result<Vec<Row>, StoreError> {
                let txn = self;
                Ok(match t {
                    Table::Meta | Table::Members => {
                        let def = if t == Table::Meta { META } else { MEMBERS };
                        let from = from.map(|k| str_key(t, k)).transpose()?;
                        scan_in!(txn, def, &str, from, limit, str_bytes, bytes)
                    }
                    Table::Credentials | Table::Secrets => {
                        let def = if t == Table::Credentials {
                            CREDENTIALS
                        } else {
                            SECRETS
                        };
                        let from = from.map(|k| id_key(t, k)).transpose()?;
                        scan_in!(txn, def, u128, from, limit, id_bytes, bytes)
                    }
                    Table::Audit => {
                        let from = from.map(|k| seq_key(t, k)).transpose()?;
                        scan_in!(txn, AUDIT, u64, from, limit, seq_bytes, bytes)
                    }
                    Table::Tokens => scan_in!(txn, TOKENS, &[u8], from, limit, bytes, bytes),
                    Table::Index => scan_in!(txn, INDEX, &[u8], from, limit, bytes, id_bytes),
                })
            }
        }
    };
}

impl ReadTxn {
    fn open<K: redb::Key + 'static, V: redb::Value + 'static>(
        &self,
        def: TableDefinition<K, V>,
    ) -> Result<Option<redb::ReadOnlyTable<K, V>>, StoreError> {
        match self.0.open_table(def) {
            Ok(t) => Ok(Some(t)),
            Err(TableError::TableDoesNotExist(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

impl WriteTxn {
    fn open<K: redb::Key + 'static, V: redb::Value + 'static>(
        &self,
        def: TableDefinition<K, V>,
    ) -> Result<Option<redb::Table<'_, K, V>>, StoreError> {
        Ok(Some(self.0.open_table(def)?))
    }
}

impl_read!(ReadTxn);
impl_read!(WriteTxn);

impl Write for WriteTxn {
    fn put(&mut self, t: Table, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        let txn = &self.0;
        match t {
            Table::Meta => {
                txn.open_table(META)?.insert(str_key(t, key)?, value)?;
            }
            Table::Members => {
                txn.open_table(MEMBERS)?.insert(str_key(t, key)?, value)?;
            }
            Table::Credentials => {
                txn.open_table(CREDENTIALS)?
                    .insert(id_key(t, key)?, value)?;
            }
            Table::Secrets => {
                txn.open_table(SECRETS)?.insert(id_key(t, key)?, value)?;
            }
            Table::Audit => {
                txn.open_table(AUDIT)?.insert(seq_key(t, key)?, value)?;
            }
            Table::Tokens => {
                txn.open_table(TOKENS)?.insert(key, value)?;
            }
            Table::Index => {
                txn.open_table(INDEX)?.insert(key, id_key(t, value)?)?;
            }
        }
        Ok(())
    }

    fn remove(&mut self, t: Table, key: &[u8]) -> Result<bool, StoreError> {
        let txn = &self.0;
        Ok(match t {
            Table::Meta => txn.open_table(META)?.remove(str_key(t, key)?)?.is_some(),
            Table::Members => txn.open_table(MEMBERS)?.remove(str_key(t, key)?)?.is_some(),
            Table::Credentials => txn
                .open_table(CREDENTIALS)?
                .remove(id_key(t, key)?)?
                .is_some(),
            Table::Secrets => txn.open_table(SECRETS)?.remove(id_key(t, key)?)?.is_some(),
            Table::Audit => txn.open_table(AUDIT)?.remove(seq_key(t, key)?)?.is_some(),
            Table::Tokens => txn.open_table(TOKENS)?.remove(key)?.is_some(),
            Table::Index => txn.open_table(INDEX)?.remove(key)?.is_some(),
        })
    }

    fn commit(self: Box<Self>) -> Result<(), StoreError> {
        Ok(self.0.commit()?)
    }
}
