//! HTTP serving (DESIGN §7): `/mcp` (Streamable HTTP via rmcp: 2025-11-25
//! sessions, 2026-07-28 stateless), `/sse` + `/message` (legacy 2024-11-05
//! HTTP+SSE, built here), the seeds' REST routes, and `/healthz`.
//!
//! Two kinds of route group, merged into one router: public ones (`/healthz`,
//! `/.well-known/*`, the entry page) and authenticated ones (MCP, REST) whose
//! bearer-token check is a layer on those groups only. Every group has the
//! Host/Origin check, built with the group's error shape. Bodies are capped at
//! 1 MiB. Accepted sockets set TCP_NODELAY.

mod allowed;
mod guard;
mod reply;
mod rest;
mod routes;
mod sessions;
mod sse;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;

use crate::app::VaultAccess;
use crate::mcp::CredVaultServer;
pub use allowed::Allowed;

/// Why `serve --http` could not start.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// A flag combination that is refused (the CLI exits 2).
    #[error("{0}")]
    Usage(String),
    /// Binding or serving failed.
    #[error("{0}")]
    Io(String),
}

/// Largest request body accepted on any route.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// What `serve --http` was asked for, before it is checked (plain values:
/// the CLI fills this from its flags).
#[derive(Debug, Clone, Default)]
pub struct HttpOptions {
    /// `IP:PORT` to bind, as given.
    pub addr: String,
    /// Binding a non-loopback address was explicitly allowed.
    pub allow_remote: bool,
    /// Serve without bearer tokens.
    pub no_auth: bool,
    /// Origins (`scheme://host[:port]`) or hosts accepted besides loopback.
    pub allow_origin: Vec<String>,
}

/// Resolved `serve --http` settings.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Address to bind.
    pub addr: SocketAddr,
    /// Serve without tokens (loopback only).
    pub no_auth: bool,
    /// Hosts and origins accepted besides loopback.
    pub allowed: Allowed,
}

impl HttpConfig {
    /// Validates the options: a non-loopback bind needs `--allow-remote`, and
    /// `--no-auth` is refused off loopback.
    pub fn resolve(args: &HttpOptions) -> Result<Self, HttpError> {
        let addr = args.addr.as_str();
        let addr: SocketAddr = addr.parse().map_err(|_| {
            HttpError::Usage(format!(
                "--http {addr:?}: expected IP:PORT, e.g. 127.0.0.1:3978"
            ))
        })?;
        let loopback = addr.ip().is_loopback();
        if !loopback && !args.allow_remote {
            return Err(HttpError::Usage(format!(
                "binding {addr} exposes the vault beyond this machine: pass --allow-remote if you mean it"
            )));
        }
        if args.no_auth && !loopback {
            return Err(HttpError::Usage(
                "--no-auth is only allowed on a loopback address".into(),
            ));
        }
        let mut allowed = Allowed::new(&args.allow_origin);
        if !loopback && !addr.ip().is_unspecified() {
            allowed.add_host(&addr.ip().to_string());
        }
        Ok(Self {
            addr,
            no_auth: args.no_auth,
            allowed,
        })
    }
}

/// Shared state of the HTTP routes.
#[derive(Clone)]
pub(crate) struct AppState {
    pub access: VaultAccess,
    pub sse: sse::Sessions,
    pub no_auth: bool,
    pub allowed: Arc<Allowed>,
    pub shutdown: CancellationToken,
    pub mcp_sessions: sessions::McpSessions,
    /// Bound to a loopback address (a locked vault then answers MCP without a token).
    pub loopback: bool,
}

/// Builds the whole router (used by `serve` and by tests).
pub fn router(access: VaultAccess, config: &HttpConfig, shutdown: CancellationToken) -> Router {
    let sessions = Arc::new(LocalSessionManager::default());
    let state = AppState {
        access: access.clone(),
        sse: sse::Sessions::default(),
        no_auth: config.no_auth,
        allowed: Arc::new(config.allowed.clone()),
        shutdown: shutdown.clone(),
        mcp_sessions: sessions::McpSessions::new(sessions.clone()),
        loopback: config.addr.ip().is_loopback(),
    };
    let mcp_config = StreamableHttpServerConfig::default()
        // Stateless (2026-07-28) replies that are one message go back as
        // application/json rather than a one-event SSE stream; a tool that
        // sends anything first (an elicitation) still gets the stream.
        .with_json_response(true)
        // Host and Origin are checked by our own guard for every route.
        .disable_allowed_hosts()
        .with_max_request_body_bytes(MAX_BODY_BYTES)
        .with_cancellation_token(shutdown.child_token());
    let mcp_access = access.clone();
    let mcp = StreamableHttpService::new(
        move || Ok(CredVaultServer::new(mcp_access.clone())),
        sessions,
        mcp_config,
    );
    routes::public(&state, &access)
        .merge(routes::authenticated(&state, mcp))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// Binds, prints `listening on http://ADDR` on stderr, and serves until Ctrl-C.
pub async fn serve(config: HttpConfig, access: VaultAccess) -> Result<(), HttpError> {
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .map_err(|e| HttpError::Io(format!("binding {}: {e}", config.addr)))?;
    let local = listener
        .local_addr()
        .map_err(|e| HttpError::Io(format!("reading the bound address: {e}")))?;
    if config.no_auth {
        tracing::warn!(
            "serving WITHOUT authentication (--no-auth): any local process can use the vault"
        );
    }
    let cap = crate::net::server::connection_cap();
    eprintln!("credvault: listening on http://{local}");
    // request_credential's page is served here when a browser on this machine
    // can reach this listener; otherwise it gets its own loopback listener.
    access.entry().serve_on_demand(crate::entry::starter());
    if local.ip().is_loopback() {
        access.entry().serve_at(format!("http://{local}"));
    } else if local.ip().is_unspecified() {
        let lo = if local.is_ipv4() {
            "127.0.0.1"
        } else {
            "[::1]"
        };
        access
            .entry()
            .serve_at(format!("http://{lo}:{}", local.port()));
    }
    let shutdown = CancellationToken::new();
    let app = router(access, &config, shutdown.clone());
    let stop = shutdown.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        stop.cancel();
    });
    crate::net::server::run(listener, app, shutdown, cap).await;
    Ok(())
}
