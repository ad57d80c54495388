//! Request guards: Host/Origin (DNS-rebinding protection) on every route, then
//! bearer tokens on every route but `/healthz`.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;

use super::AppState;
use crate::error::ApiError;
use crate::model::Caller;
use crate::net::authority::{host_of, is_loopback_name, strict_host};

/// Hosts and origins accepted besides loopback (`--allow-origin`).
#[derive(Debug, Clone, Default)]
pub struct Allowed {
    hosts: Vec<String>,
    origins: Vec<String>,
}

impl Allowed {
    /// From `--allow-origin` values: `scheme://host[:port]` allows that origin
    /// and its host; a bare `host` allows the host.
    pub fn new(entries: &[String]) -> Self {
        let mut a = Self::default();
        for e in entries {
            let e = e.trim().trim_end_matches('/').to_ascii_lowercase();
            match e.split_once("://") {
                Some((_, rest)) => {
                    a.origins.push(e.clone());
                    a.add_host(host_of(rest));
                }
                None => a.add_host(host_of(&e)),
            }
        }
        a
    }

    /// Accepts `host` (no port) in `Host` headers.
    pub fn add_host(&mut self, host: &str) {
        self.hosts
            .push(host.trim_matches(['[', ']']).to_ascii_lowercase());
    }

    fn host_ok(&self, authority: &str) -> bool {
        let Some(host) = strict_host(authority) else {
            return false;
        };
        is_loopback_name(&host) || self.hosts.contains(&host)
    }

    fn origin_ok(&self, origin: &str) -> bool {
        let origin = origin.trim().to_ascii_lowercase();
        let Some((scheme, rest)) = origin.split_once("://") else {
            return false;
        };
        if !matches!(scheme, "http" | "https") {
            return false;
        }
        let Some(host) = strict_host(rest) else {
            return false;
        };
        is_loopback_name(&host)
            || self
                .origins
                .iter()
                .any(|o| *o == origin || with_default_port(o) == with_default_port(&origin))
    }
}

fn with_default_port(origin: &str) -> String {
    match origin.split_once("://") {
        Some((scheme, rest))
            if !rest.trim_start_matches('[').contains(':') || rest.ends_with(']') =>
        {
            format!("{origin}:{}", if scheme == "https" { 443 } else { 80 })
        }
        _ => origin.to_owned(),
    }
}

/// A §3 envelope response with the HTTP status = `code`. A 401 also carries
/// OAuth's `"error": "invalid_token"`, which MCP clients parse on a 401.
pub fn envelope(e: ApiError) -> Response {
    let status = StatusCode::from_u16(e.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = if e.code == 401 {
        let mut v = serde_json::to_value(&e).unwrap_or_default();
        v["error"] = "invalid_token".into();
        v["error_description"] = e.detail.clone().into();
        v.to_string()
    } else {
        e.to_json()
    };
    let mut r = (status, [(header::CONTENT_TYPE, "application/json")], body).into_response();
    if e.code == 401 {
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    r
}

/// The request body, or 413 (over 1 MiB) / 400 (unreadable) as an [`ApiError`].
pub fn read_body(
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<axum::body::Bytes, ApiError> {
    match body {
        Ok(b) => Ok(b),
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(ApiError::new(
            413,
            "payload_too_large",
            "request body over 1 MiB",
        )),
        Err(_) => Err(ApiError::bad_request("could not read the request body")),
    }
}

/// Seeds 000/001 answer errors as `{"error": "<detail>"}`.
pub fn seed000_error(code: u16, detail: &str) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut r = (status, axum::Json(serde_json::json!({ "error": detail }))).into_response();
    if code == 401 {
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    r
}

/// An error in the shape the route's seed documents.
pub fn route_error(path: &str, e: ApiError) -> Response {
    if path == "/api/credentials" {
        seed000_error(e.code, &e.detail)
    } else {
        envelope(e)
    }
}

/// 403 unless `Host` (and `Origin`, when present) is loopback or allowed.
pub async fn check_host_and_origin(
    State(state): State<AppState>,
    req: Request<Body>,
    next: Next,
) -> Response {
    let headers = req.headers();
    if headers.get_all(header::HOST).iter().count() > 1 {
        return route_error(
            req.uri().path(),
            ApiError::bad_request("more than one Host header"),
        );
    }
    let host = match headers.get(header::HOST) {
        // Present but not visible ASCII: foreign, not "absent".
        Some(h) => h.to_str().ok().map(str::to_owned),
        None => req.uri().authority().map(|a| a.to_string()),
    };
    // An absolute-form request target names a host too: it must pass the same check.
    let target_ok = req
        .uri()
        .authority()
        .is_none_or(|a| state.allowed.host_ok(a.as_str()));
    let host_ok = target_ok && host.as_deref().is_some_and(|h| state.allowed.host_ok(h));
    let origin_ok = match headers.get(header::ORIGIN) {
        None => true,
        // A form POST from a no-referrer page: the entry route applies §9's rule.
        Some(o) if o == "null" && crate::entry::is_entry_path(req.uri().path()) => true,
        Some(o) => o.to_str().is_ok_and(|o| state.allowed.origin_ok(o)),
    };
    if !host_ok || !origin_ok {
        tracing::info!(
            host_ok,
            origin_ok,
            "refused a request from a foreign Host or Origin"
        );
        let what = if host_ok { "Origin" } else { "Host" };
        return route_error(
            req.uri().path(),
            ApiError::new(
                403,
                "forbidden",
                format!("{what} not allowed (DNS-rebinding protection); see --allow-origin"),
            ),
        );
    }
    next.run(req).await
}

fn presented_token(headers: &HeaderMap, path: &str) -> Option<String> {
    if let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let (scheme, token) = v.trim().split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim().to_owned());
    }
    if path == "/v1/credentials/store" {
        return headers
            .get("danube-api-key")
            .and_then(|v| v.to_str().ok())
            .map(|t| t.trim().to_owned());
    }
    None
}

const MCP_SESSION_ID: &str = "mcp-session-id";

/// Most Streamable HTTP sessions one token may hold open at once.
pub const MAX_SESSIONS_PER_TOKEN: usize = 64;

type SessionMap = std::collections::HashMap<String, String>;

/// Which token opened each Streamable HTTP session: a session id is never an
/// authenticator, so another token presenting it gets 404. Entries for
/// sessions rmcp has closed (idle expiry, DELETE) are pruned on every new
/// session, and a token at [`MAX_SESSIONS_PER_TOKEN`] gets no new one.
#[derive(Clone)]
pub struct McpSessions {
    owners: std::sync::Arc<std::sync::Mutex<SessionMap>>,
    manager: std::sync::Arc<LocalSessionManager>,
    /// Held across a bind's snapshot of live sessions and its update, so two
    /// binds never prune each other's fresh entries.
    binding: std::sync::Arc<tokio::sync::Mutex<()>>,
}

impl McpSessions {
    /// Session ownership over rmcp's session manager.
    pub fn new(manager: std::sync::Arc<LocalSessionManager>) -> Self {
        Self {
            owners: Default::default(),
            manager,
            binding: Default::default(),
        }
    }

    /// Records `session` as `token`'s; false (and the session closed) when
    /// the token already holds the maximum.
    async fn bind(&self, session: &str, token: &str) -> bool {
        let _binding = self.binding.lock().await;
        let live: std::collections::HashSet<String> = self
            .manager
            .sessions
            .read()
            .await
            .keys()
            .map(|k| k.to_string())
            .collect();
        let admitted = match self.owners.lock() {
            Ok(mut m) => {
                m.retain(|id, _| live.contains(id));
                let held = m.values().filter(|t| *t == token).count();
                if held < MAX_SESSIONS_PER_TOKEN {
                    m.insert(session.to_owned(), token.to_owned());
                }
                held < MAX_SESSIONS_PER_TOKEN
            }
            Err(_) => false,
        };
        if !admitted {
            use rmcp::transport::streamable_http_server::session::SessionManager;
            let _ = self.manager.close_session(&session.into()).await;
        }
        admitted
    }

    fn forget(&self, session: &str) {
        if let Ok(mut m) = self.owners.lock() {
            m.remove(session);
        }
    }

    /// True when the session is unknown here (rmcp answers for it) or was opened by `token`.
    fn belongs_to(&self, session: &str, token: &str) -> bool {
        self.owners
            .lock()
            .map(|m| m.get(session).is_none_or(|t| t == token))
            .unwrap_or(false)
    }
}

/// Routes that speak MCP (and can tell a client why its tools answer 423).
fn is_mcp_route(path: &str) -> bool {
    path == "/mcp" || path.starts_with("/mcp/") || path == "/sse" || path == "/message"
}

/// Reads and drops a refused body the client declared at up to 4 MiB (for
/// at most 2 s), so the client reads the 413 rather than a connection reset
/// mid-upload: closing a socket with unread bytes sends an RST. Larger
/// declarations are not read; their connection just closes.
async fn drain(body: Body, declared: usize) {
    use futures::StreamExt;
    if declared > 4 * super::MAX_BODY_BYTES {
        return;
    }
    let mut chunks = body.into_data_stream();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), async {
        while let Some(Ok(_)) = chunks.next().await {}
    })
    .await;
}

/// The id of the token that authenticated a request (absent with `--no-auth`).
#[derive(Debug, Clone)]
pub struct TokenId(pub Option<String>);

/// 401 + `WWW-Authenticate: Bearer` unless a live token is presented.
pub async fn authenticate(
    State(state): State<AppState>,
    mut req: Request<Body>,
    next: Next,
) -> Response {
    let path = req.uri().path().to_owned();
    // OAuth discovery (clients probe it before sending a token): a plain 404
    // tells them this server takes a configured bearer token instead.
    // The entry page is reached by a person's browser, without a token: its
    // one-time link is the credential (DESIGN §9).
    if path == "/healthz" || path.starts_with("/.well-known/") || crate::entry::is_entry_path(&path)
    {
        return next.run(req).await;
    }
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if let Some(len) = declared.filter(|&len| len > super::MAX_BODY_BYTES) {
        drain(req.into_body(), len).await;
        return route_error(
            &path,
            ApiError::new(413, "payload_too_large", "request body over 1 MiB"),
        );
    }
    if state.no_auth {
        req.extensions_mut().insert(TokenId(None));
        req.extensions_mut().insert(Caller::Http(None));
        return next.run(req).await;
    }
    let unauthorized =
        |detail: &str| route_error(&path, ApiError::new(401, "authentication_error", detail));
    let Some(token) = presented_token(req.headers(), &path) else {
        return unauthorized(
            "Authentication failed: send Authorization: Bearer <token> (credvault token create)",
        );
    };
    // One keyed-hash lookup: on this task for the vault file.
    let checked = state
        .access
        .read(move |v| v.check_token(&token))
        .await
        .map_err(ApiError::from);
    match checked {
        Ok(Some(info)) => {
            // A Streamable HTTP session belongs to the token that opened it.
            let session = req
                .headers()
                .get(MCP_SESSION_ID)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            if session
                .as_deref()
                .is_some_and(|id| !state.mcp_sessions.belongs_to(id, &info.id))
            {
                return envelope(ApiError::new(404, "not_found_error", "no such MCP session"));
            }
            let is_delete = req.method() == axum::http::Method::DELETE;
            req.extensions_mut().insert(TokenId(Some(info.id.clone())));
            req.extensions_mut()
                .insert(Caller::Http(Some(info.name.clone())));
            let response = next.run(req).await;
            let created = response
                .headers()
                .get(MCP_SESSION_ID)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            match (&session, created) {
                (None, Some(created)) if !state.mcp_sessions.bind(&created, &info.id).await => {
                    tracing::info!("refused a new MCP session: token at its session limit");
                    return envelope(ApiError::new(
                        429,
                        "too_many_sessions",
                        format!(
                            "this token already holds {MAX_SESSIONS_PER_TOKEN} open MCP sessions: close some (DELETE /mcp) or wait for idle ones to expire"
                        ),
                    ));
                }
                (Some(id), _) if is_delete && response.status().is_success() => {
                    state.mcp_sessions.forget(id)
                }
                _ => {}
            }
            response
        }
        Ok(None) => unauthorized("Authentication failed"),
        // A locked vault holds no tokens to check, and every tool answers 423:
        // let the MCP handshake complete so the client can show that reason
        // instead of "failed to connect". Nothing can be read or written.
        Err(e) if e.code == 423 && is_mcp_route(&path) && state.loopback => {
            req.extensions_mut().insert(TokenId(None));
            req.extensions_mut().insert(Caller::Http(None));
            next.run(req).await
        }
        Err(e) => route_error(&path, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_origins() {
        let a = Allowed::new(&["https://app.example.com".into(), "lan.local".into()]);
        for ok in [
            "localhost:3978",
            "127.0.0.1",
            "[::1]:80",
            "app.example.com",
            "lan.local:1",
        ] {
            assert!(a.host_ok(ok), "{ok}");
        }
        for bad in [
            "evil.com",
            "127.0.0.1.evil.com",
            "localhost.evil.com:3978",
            "",
            "localhost:evil.com",
            "[::1]evil",
            "[::1]:",
            "localhost:",
            "user@localhost",
            "localhost:123456",
            "[evil]:80",
        ] {
            assert!(!a.host_ok(bad), "{bad}");
        }
        for ok in [
            "http://localhost:5173",
            "http://127.0.0.1",
            "https://app.example.com",
            "https://app.example.com:443",
        ] {
            assert!(a.origin_ok(ok), "{ok}");
        }
        for bad in [
            "https://evil.com",
            "null",
            "file://x",
            "https://app.example.com:8443",
            "http://localhost.evil.com",
        ] {
            assert!(!a.origin_ok(bad), "{bad}");
        }
    }
}
