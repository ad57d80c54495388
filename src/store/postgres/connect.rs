//! Reaching the server: what a connection error means, where a URL points
//! (for messages, never with its password), and the TLS connector.

use std::error::Error as _;
use std::sync::Arc;

use postgres::Config;
use postgres::config::{Host, SslMode};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::CA_ENV;
use crate::store::StoreError;

/// Whether the error means the server is gone or cannot be reached: no
/// SQLSTATE (I/O, refused, timeout, closed), class 08, or 57P01–57P03
/// (admin shutdown, crash shutdown, cannot connect now).
pub(super) fn is_down(e: &postgres::Error) -> bool {
    e.code().is_none_or(|c| {
        let c = c.code();
        c.starts_with("08") || ["57P01", "57P02", "57P03"].contains(&c)
    })
}

/// The error and its causes, on one line.
pub(super) fn detail(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{} (SQLSTATE {})", db.message(), db.code().code());
    }
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text += &format!(": {cause}");
        source = cause.source();
    }
    text
}

/// Each server: `host:port`, or for a socket directory either its socket
/// file (`socket_file`) or a `?host=<dir>[&port=<port>]` query.
pub(super) fn hosts(config: &Config, socket_file: bool) -> Vec<String> {
    let ports = config.get_ports();
    let hosts = config.get_hosts().iter().enumerate();
    let host = |(i, host): (usize, &Host)| {
        let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
        match host {
            Host::Tcp(name) if name.contains(':') => format!("[{name}]:{port}"),
            Host::Tcp(name) => format!("{name}:{port}"),
            Host::Unix(dir) if socket_file => format!("{}/.s.PGSQL.{port}", dir.display()),
            Host::Unix(dir) if port == 5432 => format!("?host={}", dir.display()),
            Host::Unix(dir) => format!("?host={}&port={port}", dir.display()),
        }
    };
    hosts.map(host).collect()
}

/// The URL for messages, rebuilt from the parsed configuration so that no
/// password (from the authority or a `password=` parameter) can be in it.
/// A store URL as messages show it: rebuilt from what parses, never with
/// its password (`an invalid store URL` when it does not parse).
pub fn describe(url: &str) -> String {
    match url.parse::<Config>() {
        Ok(config) => location(&config),
        Err(_) => "an invalid store URL".into(),
    }
}

pub(super) fn location(config: &Config) -> String {
    let (mut tcp, mut params) = (Vec::new(), Vec::new());
    for host in hosts(config, false) {
        match host.strip_prefix('?') {
            Some(param) => params.push(param.to_owned()),
            None => tcp.push(host),
        }
    }
    match config.get_ssl_mode() {
        SslMode::Disable => params.push("sslmode=disable".into()),
        SslMode::Require => params.push("sslmode=require".into()),
        _ => {}
    }
    let query = if params.is_empty() {
        String::new()
    } else {
        format!("?{}", params.join("&"))
    };
    let (user, db) = (
        config.get_user().unwrap_or(""),
        config.get_dbname().unwrap_or(""),
    );
    format!("postgres://{user}@{}/{db}{query}", tcp.join(","))
}

/// The TLS connector: rustls with the ring provider, trusting the system's
/// roots and any in [`CA_ENV`].
pub(super) fn tls_connector() -> Result<MakeRustlsConnect, StoreError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    if let Some(path) = std::env::var_os(CA_ENV) {
        let shown = std::path::Path::new(&path).display().to_string();
        let bad = |e: &dyn std::fmt::Display| StoreError::Engine(format!("{CA_ENV} {shown}: {e}"));
        let certs = CertificateDer::pem_file_iter(&path)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| bad(&e))?;
        if certs.is_empty() {
            return Err(bad(&"no certificate in the file"));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| bad(&e))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Engine(format!("TLS setup: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}
