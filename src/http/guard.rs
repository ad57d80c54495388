//! Request guards, each a layer on the route group it protects (the route table
//! in `routes.rs` says which group gets which): the Host/Origin check
//! (DNS-rebinding protection) on every group, bearer tokens on the
//! authenticated ones. Neither looks at the request's path: what differs
//! between groups (the error shape, whether `Origin: null` is left to the
//! entry page, whether a locked vault still lets the MCP handshake through,
//! a second header a token may come in) is set when the layer is built.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::Response;

use super::AppState;
use super::allowed::Allowed;
use super::reply::{ErrorShape, envelope};
use super::sessions::{MAX_SESSIONS_PER_TOKEN, MCP_SESSION_ID};
use crate::error::ApiError;
use crate::model::Caller;

/// The Host/Origin check of one route group: 403 unless `Host` (and
/// `Origin`, when present) is loopback or allowed.
#[derive(Clone)]
pub struct HostCheck {
    allowed: Arc<Allowed>,
    shape: ErrorShape,
    /// `Origin: null` is let through for the group's own routes to judge.
    null_origin_to_route: bool,
}

impl HostCheck {
    /// The check over `allowed`, answering in `shape`.
    pub fn new(allowed: Arc<Allowed>, shape: ErrorShape) -> Self {
        Self {
            allowed,
            shape,
            null_origin_to_route: false,
        }
    }

    /// Lets `Origin: null` through: a form POST from a no-referrer page
    /// sends it, and the entry page applies §9's rule to it itself.
    pub fn null_origin_to_route(mut self) -> Self {
        self.null_origin_to_route = true;
        self
    }
}

/// The middleware of a [`HostCheck`].
pub async fn check_host_and_origin(
    State(check): State<HostCheck>,
    req: Request<Body>,
    next: Next,
) -> Response {
    let headers = req.headers();
    if headers.get_all(header::HOST).iter().count() > 1 {
        return check
            .shape
            .reply(ApiError::bad_request("more than one Host header"));
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
        .is_none_or(|a| check.allowed.host_ok(a.as_str()));
    let host_ok = target_ok && host.as_deref().is_some_and(|h| check.allowed.host_ok(h));
    let origin_ok = match headers.get(header::ORIGIN) {
        None => true,
        Some(o) if o == "null" && check.null_origin_to_route => true,
        Some(o) => o.to_str().is_ok_and(|o| check.allowed.origin_ok(o)),
    };
    if !host_ok || !origin_ok {
        tracing::info!(
            host_ok,
            origin_ok,
            "refused a request from a foreign Host or Origin"
        );
        let what = if host_ok { "Origin" } else { "Host" };
        return check.shape.reply(ApiError::new(
            403,
            "forbidden",
            format!("{what} not allowed (DNS-rebinding protection); see --allow-origin"),
        ));
    }
    next.run(req).await
}

/// Bearer-token authentication of one route group: 401 +
/// `WWW-Authenticate: Bearer` unless a live token is presented.
#[derive(Clone)]
pub struct Auth {
    state: AppState,
    shape: ErrorShape,
    /// The group speaks MCP: with a locked vault (no tokens to check) on a
    /// loopback bind, a request passes without one.
    mcp: bool,
    /// A header the token may come in when `Authorization` is absent.
    key_header: Option<&'static str>,
}

impl Auth {
    /// Token checks against `state`'s vault, answering in `shape`.
    pub fn new(state: AppState, shape: ErrorShape) -> Self {
        Self {
            state,
            shape,
            mcp: false,
            key_header: None,
        }
    }

    /// For the MCP routes, which can tell a client why its tools answer 423:
    /// a locked vault lets the handshake complete on a loopback bind.
    pub fn mcp(mut self) -> Self {
        self.mcp = true;
        self
    }

    /// Also takes the token from `name` (seed 004's `danube-api-key`) when
    /// no `Authorization` header is sent.
    pub fn key_header(mut self, name: &'static str) -> Self {
        self.key_header = Some(name);
        self
    }

    fn presented_token(&self, headers: &HeaderMap) -> Option<String> {
        if let Some(v) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        {
            let (scheme, token) = v.trim().split_once(' ')?;
            return scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| token.trim().to_owned());
        }
        headers
            .get(self.key_header?)
            .and_then(|v| v.to_str().ok())
            .map(|t| t.trim().to_owned())
    }
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

/// The middleware of an [`Auth`].
pub async fn authenticate(
    State(auth): State<Auth>,
    mut req: Request<Body>,
    next: Next,
) -> Response {
    let state = &auth.state;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if let Some(len) = declared.filter(|&len| len > super::MAX_BODY_BYTES) {
        drain(req.into_body(), len).await;
        return auth.shape.reply(ApiError::new(
            413,
            "payload_too_large",
            "request body over 1 MiB",
        ));
    }
    if state.no_auth {
        req.extensions_mut().insert(TokenId(None));
        req.extensions_mut().insert(Caller::Http(None));
        return next.run(req).await;
    }
    let unauthorized = |detail: &str| {
        auth.shape
            .reply(ApiError::new(401, "authentication_error", detail))
    };
    let Some(token) = auth.presented_token(req.headers()) else {
        return unauthorized(
            "Authentication failed: send Authorization: Bearer <token> (credvault token create)",
        );
    };
    // One keyed-hash lookup: on this task for the vault file.
    let checked = crate::app::tokens::check_token(&state.access, token)
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
        Err(e) if e.code == 423 && auth.mcp && state.loopback => {
            req.extensions_mut().insert(TokenId(None));
            req.extensions_mut().insert(Caller::Http(None));
            next.run(req).await
        }
        Err(e) => auth.shape.reply(e),
    }
}
