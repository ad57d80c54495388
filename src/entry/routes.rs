//! `GET/POST /enter/{token}`: the entry page and its submission.
//!
//! Checked here, on both listeners (the `--http` server's guard runs first
//! there): the peer is loopback, `Host` is a loopback name, and a POST is
//! same-origin. Under `Referrer-Policy: no-referrer` browsers send
//! `Origin: null` on the form's POST, so `null` is accepted when
//! `Sec-Fetch-Site` is `same-origin` or absent; any other `Sec-Fetch-Site`,
//! or an `Origin` other than this page's own, is refused.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use tokio_util::sync::CancellationToken;
use zeroize::Zeroizing;

use super::page;
use crate::app::VaultAccess;
use crate::app::entry_desk::{Lookup, PageStarter, Slot, SlotState, Submit};
use crate::error::ApiError;
use crate::model::{MAX_VALUE_BYTES, SecretValue};
use crate::secret::SecretString;
use crate::usage::destination::{HostEntry, MAX_ALLOWED_HOSTS};

/// Largest form body read (a 16 KiB value percent-encoded, plus hosts).
const MAX_FORM_BYTES: usize = 4 * MAX_VALUE_BYTES + 4096;

/// The CSP of DESIGN §9.
pub const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'";

/// The entry routes over `access` (its desk and vault).
pub fn router(access: VaultAccess) -> Router {
    Router::new()
        .route("/enter/{token}", any(entry))
        .with_state(access)
}

/// What the desk calls to serve the page in stdio mode.
pub fn starter() -> PageStarter {
    std::sync::Arc::new(|access| Box::pin(listen(access)))
}

/// Starts the stdio-mode listener on an ephemeral loopback port; returns its base URL.
async fn listen(access: VaultAccess) -> Result<String, ApiError> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .map_err(|e| {
            ApiError::new(
                500,
                "internal_error",
                format!("could not open the local entry page listener: {e}"),
            )
        })?;
    let addr = listener
        .local_addr()
        .map_err(|e| ApiError::new(500, "internal_error", format!("entry listener: {e}")))?;
    let base = format!("http://{addr}");
    tracing::info!("entry page listening on {base}");
    // The same accept loop as `serve --http`: its header timeout, and its
    // cap at which the longest-idle connection gives way to a newcomer, so
    // sockets another local process holds open cannot keep the person out.
    tokio::spawn(crate::net::server::run(
        listener,
        router(access),
        CancellationToken::new(),
        crate::net::server::connection_cap(),
    ));
    Ok(base)
}

fn html(status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    r
}

fn refuse(why: &str) -> Response {
    tracing::info!("entry page: refused: {why}");
    html(StatusCode::FORBIDDEN, page::refused(why))
}

/// The `Host` header when it names a loopback host.
fn loopback_host(headers: &HeaderMap) -> Option<String> {
    let mut all = headers.get_all(header::HOST).iter();
    let host = all.next()?.to_str().ok()?.to_owned();
    if all.next().is_some() {
        return None;
    }
    crate::net::authority::is_loopback_authority(&host).then_some(host)
}

/// DESIGN §9's same-origin rule for the form's POST.
fn same_origin(headers: &HeaderMap, host: &str) -> Result<(), &'static str> {
    let site = headers
        .get("sec-fetch-site")
        .map(|v| v.to_str().unwrap_or("?"));
    if site.is_some_and(|s| s != "same-origin") {
        return Err("this form only accepts submissions from its own page (Sec-Fetch-Site)");
    }
    match headers.get(header::ORIGIN).map(|v| v.to_str()) {
        None => Ok(()),
        Some(Ok("null")) => Ok(()),
        Some(Ok(o)) if o.eq_ignore_ascii_case(&format!("http://{host}")) => Ok(()),
        Some(_) => Err("this form only accepts submissions from its own page (Origin)"),
    }
}

async fn entry(State(access): State<VaultAccess>, req: Request<Body>) -> Response {
    if let Some(ConnectInfo(peer)) = req.extensions().get::<ConnectInfo<SocketAddr>>()
        && !peer.ip().is_loopback()
    {
        return refuse("the entry page only answers this machine");
    }
    let Some(host) = loopback_host(req.headers()) else {
        return refuse("the entry page only answers on 127.0.0.1 or localhost (Host)");
    };
    let token = req
        .uri()
        .path()
        .strip_prefix("/enter/")
        .unwrap_or_default()
        .to_owned();
    let slot = match access.entry().lookup(&token) {
        Lookup::Found(slot) => slot,
        Lookup::Unknown => {
            return html(
                StatusCode::NOT_FOUND,
                page::gone(
                    "This link is not valid: it may be mistyped, or credvault was restarted since it was made (links live only in the running server).",
                ),
            );
        }
    };
    match *req.method() {
        Method::GET | Method::HEAD => show(&slot),
        Method::POST => {
            if let Err(why) = same_origin(req.headers(), &host) {
                return refuse(why);
            }
            submit(&access, &slot, req).await
        }
        _ => {
            let mut r = html(
                StatusCode::METHOD_NOT_ALLOWED,
                page::gone("Only GET and POST are used here."),
            );
            r.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD, POST"));
            r
        }
    }
}

/// 409: another submission of this link is being stored.
fn busy() -> Response {
    html(
        StatusCode::CONFLICT,
        page::gone("This link is being used right now."),
    )
}

/// The page for a slot that is not open (expired, used, declined), if so.
fn not_open(slot: &Slot) -> Option<Response> {
    let why = match slot.state() {
        SlotState::Stored(_) => "This link was already used: the key was stored.",
        SlotState::Declined => "This request was declined: nothing was stored.",
        SlotState::Submitting => return Some(busy()),
        SlotState::Open if !slot.is_open() => "This link expired (links work for 10 minutes).",
        SlotState::Open => return None,
    };
    Some(html(StatusCode::GONE, page::gone(why)))
}

fn show(slot: &Slot) -> Response {
    if let Some(r) = not_open(slot) {
        return r;
    }
    html(
        StatusCode::OK,
        page::form(slot, &slot.spec.allowed_hosts.join("\n"), None),
    )
}

/// The form's fields; `value` goes straight into a [`SecretString`].
#[derive(Default)]
struct Form {
    action: String,
    hosts: String,
    value: Option<SecretString>,
}

fn parse_form(body: &[u8]) -> Form {
    let mut form = Form::default();
    for (k, v) in url::form_urlencoded::parse(body) {
        match &*k {
            "action" => form.action = v.into_owned(),
            "allowed_hosts" => form.hosts = v.into_owned(),
            "value" => form.value = Some(SecretString::new(v.into_owned())),
            _ => {}
        }
    }
    form
}

fn parse_hosts(text: &str) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for entry in text.split(|c: char| c.is_whitespace() || c == ',') {
        if entry.is_empty() {
            continue;
        }
        let h = HostEntry::parse(entry)
            .map_err(|msg| format!("Host {:?} {msg}", crate::validate::bounded(entry, 64)))?
            .to_string();
        if !out.contains(&h) {
            out.push(h);
        }
    }
    if out.len() > MAX_ALLOWED_HOSTS {
        return Err(format!(
            "List at most {MAX_ALLOWED_HOSTS} hosts (got {}).",
            out.len()
        ));
    }
    Ok(out)
}

async fn submit(access: &VaultAccess, slot: &Slot, req: Request<Body>) -> Response {
    if let Some(r) = not_open(slot) {
        return r;
    }
    let form_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| {
            t.split(';').next().is_some_and(|m| {
                m.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
        });
    if !form_type {
        return html(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            page::gone("Submit the form on the page."),
        );
    }
    let body = match axum::body::to_bytes(req.into_body(), MAX_FORM_BYTES).await {
        Ok(b) => Zeroizing::new(Vec::from(b)),
        Err(_) => {
            return html(
                StatusCode::PAYLOAD_TOO_LARGE,
                page::form(
                    slot,
                    "",
                    Some("That was too long: a key is at most 16 KiB."),
                ),
            );
        }
    };
    let form = parse_form(&body);
    drop(body);
    if form.action == "decline" {
        if !slot.decline() {
            return not_open(slot).unwrap_or_else(busy);
        }
        tracing::info!(slot = %slot.id, "entry declined on the page");
        return html(StatusCode::OK, page::declined());
    }
    let hosts = match parse_hosts(&form.hosts) {
        Ok(h) => h,
        Err(msg) => {
            return html(
                StatusCode::UNPROCESSABLE_ENTITY,
                page::form(slot, &form.hosts, Some(&msg)),
            );
        }
    };
    // The value's checks are store_credential's own (model::SecretValue);
    // only their wording is the page's.
    let value = match SecretValue::new(form.value.unwrap_or_default()) {
        Ok(v) => v.into_secret(),
        Err(invalid) => {
            let msg = if invalid.kind == "too_long" {
                format!("A key is at most {MAX_VALUE_BYTES} bytes.")
            } else {
                "Enter the key.".to_owned()
            };
            return html(
                StatusCode::UNPROCESSABLE_ENTITY,
                page::form(slot, &form.hosts, Some(&msg)),
            );
        }
    };
    // A key pasted into the hosts box would be stored as a place to send it.
    let v = value.expose();
    if v.len() >= 8
        && hosts
            .iter()
            .any(|h| h.contains(v) || v.contains(h.as_str()))
    {
        return html(
            StatusCode::UNPROCESSABLE_ENTITY,
            page::form(
                slot,
                &form.hosts,
                Some("A host looks like the key itself: put the key in the Key field only."),
            ),
        );
    }
    match crate::app::entry_desk::submit(access, slot, value, hosts.clone()).await {
        Ok(stored) => {
            tracing::info!(slot = %slot.id, "credential entered on the page and stored");
            html(StatusCode::OK, page::stored(slot, stored.replaced, &hosts))
        }
        Err(Submit::NotOpen) => not_open(slot).unwrap_or_else(busy),
        Err(Submit::Failed(e)) => {
            let status = StatusCode::from_u16(e.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            html(
                status,
                page::form(
                    slot,
                    &form.hosts,
                    Some(&format!("Not stored: {}", e.detail)),
                ),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn same_origin_rule() {
        let host = "127.0.0.1:4000";
        assert!(same_origin(&headers(&[]), host).is_ok());
        assert!(same_origin(&headers(&[("origin", "null")]), host).is_ok());
        assert!(
            same_origin(
                &headers(&[("origin", "null"), ("sec-fetch-site", "same-origin")]),
                host
            )
            .is_ok()
        );
        assert!(same_origin(&headers(&[("origin", "http://127.0.0.1:4000")]), host).is_ok());
        assert!(same_origin(&headers(&[("origin", "http://127.0.0.1:4001")]), host).is_err());
        assert!(same_origin(&headers(&[("origin", "https://evil.example")]), host).is_err());
        assert!(
            same_origin(
                &headers(&[("origin", "null"), ("sec-fetch-site", "cross-site")]),
                host
            )
            .is_err()
        );
        assert!(same_origin(&headers(&[("sec-fetch-site", "same-site")]), host).is_err());
    }

    #[test]
    fn hosts_are_parsed_and_bounded() {
        assert_eq!(
            parse_hosts("api.example.com\n api.example.com:8443, api.example.com").ok(),
            Some(vec![
                "api.example.com".into(),
                "api.example.com:8443".into()
            ])
        );
        assert_eq!(parse_hosts("  ").ok(), Some(vec![]));
        assert!(parse_hosts("https://x.example/").is_err());
        let many: Vec<String> = (0..17).map(|i| format!("h{i}.example")).collect();
        assert!(parse_hosts(&many.join("\n")).is_err());
    }
}
