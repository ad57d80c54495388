//! A throwaway PostgreSQL cluster for the team-vault tests: `initdb` into a
//! temp dir, a server listening only on a Unix socket in that dir, trust
//! authentication for the role `credvault`. One cluster per test (initdb +
//! start take about 0.6 s); [`Drop`] stops it (`-m immediate`) and removes
//! the dir, on success and on panic alike.
//!
//! [`Cluster::start_tls`] also listens on 127.0.0.1 at a free port, with
//! `ssl=on` and the given certificate, and logs each connection (whether it
//! used TLS, and which protocol) to the server log ([`Cluster::server_log`]).
//!
//! When no PostgreSQL server is installed, [`Cluster::start`] prints
//! `skipped: …` and returns `None`, unless `CREDVAULT_PG_REQUIRED=1` (CI),
//! where it panics. `CREDVAULT_PG_BIN` may name the binaries' directory.

#![allow(dead_code)] // not every test uses every helper

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tempfile::TempDir;

/// The role `initdb` creates; trusted, so URLs carry no password.
const ROLE: &str = "credvault";

/// A running PostgreSQL server of its own.
pub struct Cluster {
    /// Holds `data/`, the server log and the socket.
    dir: TempDir,
    /// Where initdb, pg_ctl, postgres, createdb, psql and pg_dump are.
    bin: PathBuf,
    /// Running as root: the server's commands run as the `postgres` user.
    as_postgres: bool,
    /// [`Cluster::start_tls`]: the TCP port on 127.0.0.1 (also the socket's).
    tls_port: Option<u16>,
}

impl Cluster {
    /// None (after printing "skipped: <reason>" to stderr) when no PostgreSQL
    /// server binary exists; panics instead when `CREDVAULT_PG_REQUIRED=1`.
    pub fn start() -> Option<Cluster> {
        Self::start_with(None)
    }

    /// As [`Cluster::start`], and also listening on 127.0.0.1 at a free TCP
    /// port (returned) with `ssl=on`, serving `cert_pem` (the server
    /// certificate, for 127.0.0.1) with `key_pem`, and `log_connections=on`.
    /// initdb's `-A trust` trusts `host` connections from 127.0.0.1 too.
    pub fn start_tls(cert_pem: &str, key_pem: &str) -> Option<(Cluster, u16)> {
        let cluster = Self::start_with(Some((cert_pem, key_pem)))?;
        let port = cluster.tls_port.expect("a TLS cluster has a port");
        Some((cluster, port))
    }

    fn start_with(tls: Option<(&str, &str)>) -> Option<Cluster> {
        let Some(bin) = bin_dir() else {
            let reason = "no PostgreSQL server binaries (initdb, postgres) were found";
            if std::env::var("CREDVAULT_PG_REQUIRED").as_deref() == Ok("1") {
                panic!("CREDVAULT_PG_REQUIRED=1 but {reason}");
            }
            eprintln!("skipped: {reason}");
            return None;
        };
        let root = std::fs::metadata("/proc/self")
            .map(|m| m.uid() == 0)
            .unwrap_or(false);
        // Short and fixed: a socket path must fit in 107 bytes.
        let dir = tempfile::Builder::new()
            .prefix("credvault-pg.")
            .tempdir_in("/tmp")
            .expect("temp dir for PostgreSQL");
        // A free port: the kernel's pick, released for the server to take.
        let tls_port = tls.map(|_| {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("a free TCP port");
            probe.local_addr().expect("its address").port()
        });
        let cluster = Cluster {
            dir,
            bin,
            as_postgres: root,
            tls_port,
        };
        if let Some((cert_pem, key_pem)) = tls {
            std::fs::write(cluster.cert_file(), cert_pem).expect("writing server.crt");
            // PostgreSQL refuses a key group or others may read.
            std::fs::write(cluster.key_file(), key_pem).expect("writing server.key");
            std::fs::set_permissions(cluster.key_file(), std::fs::Permissions::from_mode(0o600))
                .expect("chmod 600 server.key");
        }
        if root {
            // initdb refuses to run as root; the server must own its key.
            run(Command::new("chown")
                .args(["-R", "postgres:"])
                .arg(cluster.dir()));
        }
        let mut initdb = cluster.server_cmd("initdb");
        initdb
            .arg("-D")
            .arg(cluster.data())
            .args(["-A", "trust", "-U", ROLE, "-E", "UTF8", "--locale=C"])
            .args(["--no-sync", "--no-instructions"]);
        run(&mut initdb);
        cluster.pg_ctl_start();
        Some(cluster)
    }

    /// The URL of database `db` over the Unix socket.
    pub fn url(&self, db: &str) -> String {
        let url = format!("postgres://{ROLE}@/{db}?host={}", self.dir().display());
        match self.tls_port {
            // The socket is named after the port.
            Some(port) => format!("{url}&port={port}"),
            None => url,
        }
    }

    /// The URL of database `db` over TCP to 127.0.0.1:`port` (from
    /// [`Cluster::start_tls`]) with `sslmode` (`disable`, `prefer`, `require`).
    pub fn tcp_url(&self, port: u16, db: &str, sslmode: &str) -> String {
        format!("postgres://{ROLE}@127.0.0.1:{port}/{db}?sslmode={sslmode}")
    }

    /// What the server has logged so far (`log_connections=on` for
    /// [`Cluster::start_tls`]: one `connection authorized: …` line each).
    pub fn server_log(&self) -> String {
        let log = self.dir().join("server.log");
        let bytes =
            std::fs::read(&log).unwrap_or_else(|e| panic!("reading {}: {e}", log.display()));
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Creates a fresh, empty database and returns its URL.
    pub fn create_db(&self, name: &str) -> String {
        let mut createdb = self.client_cmd("createdb");
        createdb.arg(name);
        run(&mut createdb);
        self.url(name)
    }

    /// Stops the server (`-m fast`: clients are disconnected).
    pub fn stop(&self) {
        let mut stop = self.server_cmd("pg_ctl");
        stop.arg("-D")
            .arg(self.data())
            .args(["-m", "fast", "-w", "stop"]);
        run(&mut stop);
    }

    /// Starts the server again after [`Cluster::stop`] (or stops it first if
    /// it is running).
    pub fn restart(&self) {
        if self.data().join("postmaster.pid").exists() {
            self.stop();
        }
        self.pg_ctl_start();
    }

    /// Every byte the database holds for `db`, for leak greps: `pg_dump
    /// --data-only` (with `bytea_output=escape`, so printable bytes show as
    /// themselves) followed by a binary `COPY` of each table (bytea raw).
    pub fn dump(&self, db: &str) -> Vec<u8> {
        let mut dump = self.client_cmd("pg_dump");
        dump.env("PGOPTIONS", "-c bytea_output=escape").args([
            "--data-only",
            "--no-owner",
            "-d",
            db,
        ]);
        let mut bytes = run(&mut dump).stdout;
        let mut list = self.client_cmd("psql");
        list.args(["-X", "-At", "-d", db, "-c"])
            .arg("SELECT format('%I.%I', schemaname, tablename) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')");
        let tables = String::from_utf8(run(&mut list).stdout).expect("table names");
        for table in tables.lines().filter(|t| !t.is_empty()) {
            let mut copy = self.client_cmd("psql");
            copy.args(["-X", "-q", "-d", db, "-c"])
                .arg(format!("COPY {table} TO STDOUT (FORMAT binary)"));
            bytes.extend(run(&mut copy).stdout);
        }
        bytes
    }

    /// Runs `sql` in `db` with psql; returns its unaligned output.
    pub fn sql(&self, db: &str, sql: &str) -> String {
        let mut psql = self.client_cmd("psql");
        psql.args([
            "-X",
            "-q",
            "-At",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            db,
            "-c",
            sql,
        ]);
        String::from_utf8_lossy(&run(&mut psql).stdout).into_owned()
    }

    /// The socket directory (also the temp dir).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn data(&self) -> PathBuf {
        self.dir().join("data")
    }

    fn cert_file(&self) -> PathBuf {
        self.dir().join("server.crt")
    }

    fn key_file(&self) -> PathBuf {
        self.dir().join("server.key")
    }

    fn pg_ctl_start(&self) {
        let mut start = self.server_cmd("pg_ctl");
        start
            .arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(self.dir().join("server.log"))
            .args(["-w", "-t", "60", "-o"])
            .arg(self.server_options())
            .arg("start");
        run(&mut start);
    }

    /// The server's command-line options (`pg_ctl -o`).
    fn server_options(&self) -> String {
        let dir = self.dir().display();
        match self.tls_port {
            None => format!("-k {dir} -c listen_addresses='' -c fsync=on"),
            Some(port) => format!(
                "-k {dir} -c listen_addresses=127.0.0.1 -p {port} -c fsync=on \
                 -c ssl=on -c ssl_cert_file={} -c ssl_key_file={} -c log_connections=on",
                self.cert_file().display(),
                self.key_file().display()
            ),
        }
    }

    /// A command of the server's, as the `postgres` user when we are root.
    fn server_cmd(&self, name: &str) -> Command {
        let program = self.bin.join(name);
        if self.as_postgres {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(program);
            cmd
        } else {
            Command::new(program)
        }
    }

    /// A client program connecting to this cluster as `credvault`.
    fn client_cmd(&self, name: &str) -> Command {
        let mut cmd = Command::new(self.bin.join(name));
        cmd.env("PGHOST", self.dir())
            .env("PGUSER", ROLE)
            .env_remove("PGPASSWORD")
            .env_remove("PGDATABASE")
            .env_remove("PGPORT");
        if let Some(port) = self.tls_port {
            cmd.env("PGPORT", port.to_string());
        }
        cmd
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let mut stop = self.server_cmd("pg_ctl");
        stop.arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "-w", "stop"]);
        let _ = stop.output();
        // The TempDir removes the directory.
    }
}

/// Runs `cmd`, panicking with its output when it fails.
fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `CREDVAULT_PG_BIN`, else `pg_config --bindir`, else the newest
/// /usr/lib/postgresql/<version>/bin, if it holds a server.
fn bin_dir() -> Option<PathBuf> {
    let is_server = |dir: &Path| dir.join("initdb").is_file() && dir.join("postgres").is_file();
    if let Some(dir) = std::env::var_os("CREDVAULT_PG_BIN") {
        return Some(PathBuf::from(dir)).filter(|d| is_server(d));
    }
    let from_pg_config = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    if let Some(dir) = from_pg_config.filter(|d| is_server(d)) {
        return Some(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            Some((version, e.path().join("bin")))
        })
        .filter(|(_, dir)| is_server(dir))
        .collect();
    versions.sort();
    versions.pop().map(|(_, dir)| dir)
}
