//! The PostgreSQL store (DESIGN §12): a team vault's sealed records in one
//! database that several credvault processes, on several machines, share.
//!
//! Each [`Table`] is a table `credvault_<name>` of `(k bytea PRIMARY KEY,
//! v bytea NOT NULL)`; `credvault_schema` holds the schema version
//! ([`SCHEMA_VERSION`]). `bytea` compares bytewise, so `ORDER BY k` is the
//! key order [`Read::scan`] promises.
//!
//! * A read is one `REPEATABLE READ, READ ONLY` transaction: one snapshot.
//! * A write first takes a transaction-level advisory lock ([`LOCK_KEY`]), so
//!   the writers of every process are serialised and a read followed by a
//!   write inside one is a compare-and-set. It waits at most 5 s for the lock
//!   ([`StoreError::Busy`] after), and commits with `synchronous_commit = on`.
//!
//! The store keeps one connection, behind a mutex that a transaction holds
//! for its whole life. A connection that breaks is dropped and the next
//! transaction connects again, so the store recovers by itself when the
//! database comes back. Every call blocks: make them from a blocking thread
//! (`tokio::task::spawn_blocking`), never from an async task, where the
//! client's own runtime panics ("Cannot start a runtime from within a runtime").

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use postgres::config::{Host, SslMode};
use postgres::types::ToSql;
use postgres::{Client, Config, NoTls, SimpleQueryMessage, Statement};
use tokio_postgres_rustls::MakeRustlsConnect;

mod connect;

pub use connect::describe;
use connect::{detail, hosts, is_down, location, tls_connector};

use super::{Read, Row, Store, Table, Write};
use crate::store::StoreError;

/// The schema version this build creates and reads.
pub const SCHEMA_VERSION: u32 = 1;

/// The key of the advisory lock every write transaction takes (`b"credvaul"`).
pub const LOCK_KEY: i64 = i64::from_be_bytes(*b"credvaul");

/// Environment variable naming a PEM file of extra trusted root certificates.
pub const CA_ENV: &str = "CREDVAULT_STORE_CA";

/// The connect timeout when the URL sets none.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How soon a silent TCP peer counts as gone (keepalives, `TCP_USER_TIMEOUT`),
/// when the URL does not say.
const DEAD_PEER: Duration = Duration::from_secs(30);

/// Where a URL with no host at all connects (libpq's default on Debian).
const DEFAULT_SOCKET_DIR: &str = "/var/run/postgresql";

const BEGIN_READ: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY";

/// One round trip: begin, bound the lock wait, take the writers' lock.
const BEGIN_WRITE: &str = "BEGIN; SET LOCAL lock_timeout = '5s'; \
     SET LOCAL synchronous_commit = on; SELECT pg_advisory_xact_lock(7165901439257113964)";
const _: () = assert!(LOCK_KEY == 7_165_901_439_257_113_964);

const VERSION_QUERY: &str = "SELECT max(version) FROM credvault_schema";

/// A statement prepared once per connection and table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Op {
    Get,
    ScanFirst,
    ScanAfter,
    Put,
    Remove,
}

impl Op {
    fn sql(self, table: Table) -> String {
        let t = format!("credvault_{}", table.name());
        match self {
            Op::Get => format!("SELECT v FROM {t} WHERE k = $1"),
            Op::ScanFirst => format!("SELECT k, v FROM {t} ORDER BY k LIMIT $1"),
            Op::ScanAfter => format!("SELECT k, v FROM {t} WHERE k > $1 ORDER BY k LIMIT $2"),
            Op::Put => format!(
                "INSERT INTO {t} (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v"
            ),
            Op::Remove => format!("DELETE FROM {t} WHERE k = $1 RETURNING 1"),
        }
    }
}

/// The open connection and what is known about it.
struct Conn {
    client: Client,
    statements: HashMap<(Op, Table), Statement>,
    /// Whether the credvault tables exist (looked up again until they do).
    schema: bool,
}

/// A vault store in a PostgreSQL database.
pub struct PgStore {
    config: Config,
    /// `None` when no server is reached over TCP, or with `sslmode=disable`.
    tls: Option<MakeRustlsConnect>,
    location: String,
    conn: Mutex<Option<Conn>>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("location", &self.location)
            .finish()
    }
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://user:pw@host:port/db?…`,
    /// `postgres://user@/db?host=/socket/dir`, or libpq's `key=value` form)
    /// and checks its schema version. TLS follows `sslmode` (`disable`,
    /// `prefer` — the default — or `require`) and verifies the server against
    /// the system's roots and those in [`CA_ENV`]; a Unix socket has no TLS.
    pub fn connect(url: &str) -> Result<PgStore, StoreError> {
        let mut config: Config = url
            .parse()
            .map_err(|e| StoreError::Engine(format!("invalid store URL: {}", detail(&e))))?;
        if config.get_hosts().is_empty() && config.get_hostaddrs().is_empty() {
            config.host_path(DEFAULT_SOCKET_DIR);
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_tcp_user_timeout().is_none() {
            config.tcp_user_timeout(DEAD_PEER);
        }
        if config.get_keepalives_idle() == Duration::from_secs(2 * 60 * 60) {
            config.keepalives_idle(DEAD_PEER);
        }
        if config.get_application_name().is_none() {
            config.application_name("credvault");
        }
        let tcp = config.get_hosts().iter().any(|h| matches!(h, Host::Tcp(_)))
            || !config.get_hostaddrs().is_empty();
        // Over TCP, TLS unless the URL says otherwise: libpq's `prefer`
        // falls back to plaintext when the server (or someone on the path)
        // declines TLS, which would let that someone read and write the rows.
        if tcp && !url.contains("sslmode") {
            config.ssl_mode(SslMode::Require);
        }
        let tls = (tcp && config.get_ssl_mode() != SslMode::Disable)
            .then(tls_connector)
            .transpose()?;
        let location = location(&config);
        let conn = Mutex::new(None);
        let store = PgStore {
            config,
            tls,
            location,
            conn,
        };
        *store.lock() = Some(store.open()?);
        Ok(store)
    }

    /// Creates the tables that are missing and records the schema version, in
    /// one transaction under the writers' lock (so concurrent `init`s do not
    /// collide). Fails with [`StoreError::NewerSchema`] on a newer schema.
    pub fn ensure_schema(&self) -> Result<(), StoreError> {
        let txn = self.begin(BEGIN_WRITE)?;
        let mut sql = String::from(
            "CREATE TABLE IF NOT EXISTS credvault_schema (version integer NOT NULL);\n",
        );
        for table in Table::ALL {
            let t = table.name();
            sql += &format!(
                "CREATE TABLE IF NOT EXISTS credvault_{t} (k bytea PRIMARY KEY, v bytea NOT NULL);\n"
            );
        }
        sql += &format!(
            "INSERT INTO credvault_schema SELECT {SCHEMA_VERSION} \
             WHERE NOT EXISTS (SELECT 1 FROM credvault_schema);\n{VERSION_QUERY}"
        );
        check_version(&txn.run(|c| c.client.simple_query(&sql))?)?;
        Box::new(txn).commit()?;
        if let Some(conn) = self.lock().as_mut() {
            conn.schema = true;
        }
        Ok(())
    }

    /// The connection; after a panic mid-transaction, a fresh one.
    fn lock(&self) -> MutexGuard<'_, Option<Conn>> {
        self.conn.lock().unwrap_or_else(|poisoned| {
            self.conn.clear_poison();
            let mut guard = poisoned.into_inner();
            *guard = None;
            guard
        })
    }

    /// Opens a connection and looks up the schema.
    fn open(&self) -> Result<Conn, StoreError> {
        let client = match &self.tls {
            Some(tls) => self.config.connect(tls.clone()),
            None => self.config.connect(NoTls),
        };
        let client = client.map_err(|e| self.error(&e))?;
        let statements = HashMap::new();
        let mut conn = Conn {
            client,
            statements,
            schema: false,
        };
        conn.check_schema().map_err(|e| self.error(&e))??;
        Ok(conn)
    }

    /// Begins a transaction with `begin`, connecting first if need be, and
    /// again once if the connection turns out to have died while idle.
    fn begin(&self, begin: &str) -> Result<PgTxn<'_>, StoreError> {
        // The connection's mutex is held for a transaction's life: a second
        // one from the same thread would wait for itself forever.
        let id = self as *const PgStore as usize;
        if OPEN.with(|open| open.borrow().contains(&id)) {
            return Err(StoreError::Engine(
                "a second transaction on one store from one thread (it would wait for itself): a bug in credvault".into(),
            ));
        }
        let mut guard = self.lock();
        let mut retried = false;
        loop {
            let fresh = guard.as_ref().is_none_or(|c| c.client.is_closed());
            if fresh {
                *guard = None;
                *guard = Some(self.open()?);
            }
            let Some(conn) = guard.as_mut() else { continue };
            let err = match conn.start(begin) {
                Ok(Ok(())) => {
                    let (guard, failed) = (RefCell::new(guard), Cell::new(false));
                    OPEN.with(|open| open.borrow_mut().push(id));
                    return Ok(PgTxn {
                        store: self,
                        guard,
                        failed,
                        done: false,
                    });
                }
                Ok(Err(e)) => {
                    let _ = conn.client.batch_execute("ROLLBACK");
                    return Err(e);
                }
                Err(e) => e,
            };
            if is_down(&err) || conn.client.batch_execute("ROLLBACK").is_err() {
                *guard = None;
                if !fresh && !retried && is_down(&err) {
                    retried = true;
                    continue;
                }
            }
            return Err(self.error(&err));
        }
    }

    /// Maps a client error to the vault's, naming the server but never the
    /// password: lock timeout, serialization failure and deadlock are
    /// [`StoreError::Busy`]; an unreachable or departing server is
    /// [`StoreError::Unavailable`].
    fn error(&self, e: &postgres::Error) -> StoreError {
        match e.code() {
            Some(c) if ["55P03", "40001", "40P01"].contains(&c.code()) => StoreError::Busy,
            _ if is_down(e) => {
                let servers = hosts(&self.config, true).join(", ");
                StoreError::Unavailable(format!("{} ({servers})", detail(e)))
            }
            _ => StoreError::Engine(format!("PostgreSQL: {}", detail(e))),
        }
    }
}

impl Conn {
    /// Sends `begin` and checks the schema version in the same round trip
    /// (looking the schema up first while it is missing). The outer error is
    /// the client's, the inner the vault's.
    fn start(&mut self, begin: &str) -> Result<Result<(), StoreError>, postgres::Error> {
        if !self.schema {
            self.client.batch_execute(begin)?;
            return self.check_schema();
        }
        let messages = self
            .client
            .simple_query(&format!("{begin}; {VERSION_QUERY}"))?;
        Ok(check_version(&messages))
    }

    /// Notes whether the credvault tables exist, and refuses a newer schema.
    fn check_schema(&mut self) -> Result<Result<(), StoreError>, postgres::Error> {
        let exists = "SELECT to_regclass('credvault_schema') IS NOT NULL";
        if !self.client.query_one(exists, &[])?.try_get::<_, bool>(0)? {
            return Ok(Ok(()));
        }
        let checked = check_version(&self.client.simple_query(VERSION_QUERY)?);
        self.schema = checked.is_ok();
        Ok(checked)
    }

    fn statement(&mut self, op: Op, table: Table) -> Result<Statement, postgres::Error> {
        if let Some(statement) = self.statements.get(&(op, table)) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(&op.sql(table))?;
        self.statements.insert((op, table), statement.clone());
        Ok(statement)
    }
}

/// Checks the version that the last row of a [`VERSION_QUERY`] holds.
fn check_version(messages: &[SimpleQueryMessage]) -> Result<(), StoreError> {
    let version = messages.iter().rev().find_map(|m| match m {
        SimpleQueryMessage::Row(row) => row.get(0),
        _ => None,
    });
    match version.map(str::parse::<u32>) {
        Some(Ok(found)) if found <= SCHEMA_VERSION => Ok(()),
        Some(Ok(found)) => Err(StoreError::NewerSchema {
            found,
            supported: SCHEMA_VERSION,
        }),
        _ => Err(StoreError::Corrupt(
            "credvault_schema holds no valid version".into(),
        )),
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        // Closing the client blocks on its own runtime, which panics inside an
        // async task (where the last owner may drop the store): close it on a
        // thread of its own.
        let conn = self
            .conn
            .get_mut()
            .map_or_else(|p| p.into_inner().take(), Option::take);
        if let Some(conn) = conn {
            let _ = std::thread::spawn(move || drop(conn)).join();
        }
    }
}

/// A transaction: holds the connection until it commits or is dropped.
struct PgTxn<'a> {
    store: &'a PgStore,
    guard: RefCell<MutexGuard<'a, Option<Conn>>>,
    /// A statement failed, so the server has aborted the transaction.
    failed: Cell<bool>,
    /// Committed (or the commit was attempted): nothing to roll back.
    done: bool,
}

impl PgTxn<'_> {
    /// Runs `f` on the connection, mapping its error and dropping a
    /// connection that broke.
    fn run<T>(
        &self,
        f: impl FnOnce(&mut Conn) -> Result<T, postgres::Error>,
    ) -> Result<T, StoreError> {
        let mut guard = self.guard.borrow_mut();
        let Some(conn) = guard.as_mut() else {
            let lost = "the connection was lost mid-transaction";
            return Err(StoreError::Unavailable(lost.into()));
        };
        let e = match f(conn) {
            Ok(value) => return Ok(value),
            Err(e) => e,
        };
        self.failed.set(true);
        conn.statements.clear(); // in case the tables were dropped and made again
        if is_down(&e) || conn.client.is_closed() {
            **guard = None;
        }
        Err(self.store.error(&e))
    }

    /// Whether the tables exist: `false` in a database never initialised.
    fn has_schema(&self) -> bool {
        self.guard.borrow().as_ref().is_none_or(|c| c.schema)
    }

    /// Runs the prepared `op` (which needs the tables to exist).
    fn query(
        &self,
        op: Op,
        table: Table,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<postgres::Row>, StoreError> {
        if !self.has_schema() {
            let why = "the database has no credvault tables: initialise the vault first";
            return Err(StoreError::Engine(why.into()));
        }
        self.run(|c| {
            let statement = c.statement(op, table)?;
            c.client.query(&statement, params)
        })
    }
}

fn bytes(row: &postgres::Row, i: usize) -> Result<Vec<u8>, StoreError> {
    row.try_get(i)
        .map_err(|e| StoreError::Engine(format!("PostgreSQL: {}", detail(&e))))
}

impl Read for PgTxn<'_> {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        if !self.has_schema() {
            return Ok(None);
        }
        let rows = self.query(Op::Get, table, &[&key])?;
        rows.first().map(|row| bytes(row, 0)).transpose()
    }

    fn scan(
        &self,
        table: Table,
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<Row>, StoreError> {
        if !self.has_schema() {
            return Ok(Vec::new());
        }
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = match after {
            Some(after) => self.query(Op::ScanAfter, table, &[&after, &limit])?,
            None => self.query(Op::ScanFirst, table, &[&limit])?,
        };
        rows.iter()
            .map(|row| Ok((bytes(row, 0)?, bytes(row, 1)?)))
            .collect()
    }
}

impl Write for PgTxn<'_> {
    fn put(&mut self, table: Table, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.query(Op::Put, table, &[&key, &value]).map(drop)
    }

    fn remove(&mut self, table: Table, key: &[u8]) -> Result<bool, StoreError> {
        Ok(!self.query(Op::Remove, table, &[&key])?.is_empty())
    }

    fn commit(mut self: Box<Self>) -> Result<(), StoreError> {
        if self.failed.get() {
            // The server would answer COMMIT with a silent ROLLBACK.
            let why = "a statement of the transaction failed: nothing was written";
            return Err(StoreError::Engine(why.into()));
        }
        self.done = true;
        self.run(|c| c.client.batch_execute("COMMIT")).map_err(|e| match e {
            StoreError::Unavailable(why) => StoreError::Engine(format!(
                "the connection failed during COMMIT, which may or may not have been applied: {why}"
            )),
            e => e,
        })
    }
}

thread_local! {
    /// The stores (by address) this thread has a transaction open on.
    static OPEN: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

impl Drop for PgTxn<'_> {
    fn drop(&mut self) {
        let id = self.store as *const PgStore as usize;
        OPEN.with(|open| open.borrow_mut().retain(|o| *o != id));
        let guard = self.guard.get_mut();
        let mut rolled_back = || {
            guard
                .as_mut()
                .is_some_and(|c| c.client.batch_execute("ROLLBACK").is_ok())
        };
        if !self.done && !rolled_back() {
            **guard = None;
        }
    }
}

impl Store for PgStore {
    fn read(&self) -> Result<Box<dyn Read + '_>, StoreError> {
        Ok(Box::new(self.begin(BEGIN_READ)?))
    }

    fn write(&self) -> Result<Box<dyn Write + '_>, StoreError> {
        Ok(Box::new(self.begin(BEGIN_WRITE)?))
    }

    fn location(&self) -> String {
        self.location.clone()
    }

    fn kind(&self) -> &'static str {
        "postgres"
    }
}
