//! The route table: public groups (no token) and authenticated groups, each
//! behind its own guard layers ([`guarded`]). A group is a set of routes
//! that answer errors in one shape and need the same checks; a new route
//! joins the group it belongs to, and no guard reads the path.

use axum::Router;
use axum::response::IntoResponse;
use axum::routing::{any, delete, get, post};
use rmcp::transport::streamable_http_server::StreamableHttpService;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;

use super::guard::{self, Auth, HostCheck};
use super::reply::{self, ErrorShape};
use super::{AppState, rest, sse};
use crate::app::VaultAccess;
use crate::mcp::CredVaultServer;

type McpService = StreamableHttpService<CredVaultServer, LocalSessionManager>;

/// Routes without a token: `/healthz`, OAuth discovery, the entry page.
pub(super) fn public(state: &AppState, access: &VaultAccess) -> Router<AppState> {
    let host = |shape| HostCheck::new(state.allowed.clone(), shape);
    // OAuth discovery (clients probe it before sending a token): a plain
    // 404 tells them this server takes a configured bearer token instead.
    let probes = Router::new()
        .route("/healthz", get(healthz))
        .route("/.well-known/", any(not_found))
        .route("/.well-known/{*rest}", any(not_found));
    // A person's browser reaches the entry page without a token, its
    // one-time link being the credential (DESIGN §9); the page judges its
    // form POST's `Origin: null` itself.
    let entry = Router::new()
        .route("/enter/", any(not_found))
        .route_service(
            "/enter/{*rest}",
            crate::entry::router(access.clone()).fallback(not_found),
        );
    guarded(probes, host(ErrorShape::Envelope), None).merge(guarded(
        entry,
        host(ErrorShape::Envelope).null_origin_to_route(),
        None,
    ))
}

/// Routes that need a bearer token: MCP, the seeds' REST routes, and any
/// unknown path.
pub(super) fn authenticated(state: &AppState, mcp: McpService) -> Router<AppState> {
    let host = |shape| HostCheck::new(state.allowed.clone(), shape);
    let auth = |shape| Auth::new(state.clone(), shape);
    let mcp = Router::new()
        .nest_service("/mcp", mcp)
        .route("/sse", get(sse::connect))
        .route("/message", post(sse::message));
    // Seeds 000/001 document `{"error": …}` for every error of this route.
    let seed000 = Router::new().route(
        "/api/credentials",
        post(rest::create_credential_000).get(rest::list_credentials_001),
    );
    // Seed 004's clients send their key as `danube-api-key`.
    let seed004 = Router::new().route("/v1/credentials/store", post(rest::store_credential_004));
    let api = Router::new()
        .route("/api/credentials/{id}", delete(rest::delete_credential))
        .route(
            "/api/v1/user/secrets",
            post(rest::create_secret_002).get(rest::list_secrets_002),
        )
        .route(
            "/api/v1/user/secrets/{name}",
            delete(rest::delete_secret_002),
        )
        .route("/api/v1/credentials", post(rest::create_credential_003))
        .route("/api/v1/status", get(rest::status))
        .fallback(not_found);
    guarded(
        mcp,
        host(ErrorShape::Envelope),
        Some(auth(ErrorShape::Envelope).mcp()),
    )
    .merge(guarded(
        seed000,
        host(ErrorShape::Seed000),
        Some(auth(ErrorShape::Seed000)),
    ))
    .merge(guarded(
        seed004,
        host(ErrorShape::Envelope),
        Some(auth(ErrorShape::Envelope).key_header("danube-api-key")),
    ))
    .merge(guarded(
        api,
        host(ErrorShape::Envelope),
        Some(auth(ErrorShape::Envelope)),
    ))
}

/// `group` behind its guards: the Host/Origin check first, then (for an
/// authenticated group) the token check.
fn guarded(group: Router<AppState>, host: HostCheck, auth: Option<Auth>) -> Router<AppState> {
    let group = match auth {
        Some(auth) => group.layer(axum::middleware::from_fn_with_state(
            auth,
            guard::authenticate,
        )),
        None => group,
    };
    group.layer(axum::middleware::from_fn_with_state(
        host,
        guard::check_host_and_origin,
    ))
}

async fn healthz() -> impl IntoResponse {
    axum::Json(serde_json::json!({"status": "ok"}))
}

async fn not_found() -> impl IntoResponse {
    reply::envelope(crate::error::ApiError::new(
        404,
        "not_found_error",
        "no such route",
    ))
}
