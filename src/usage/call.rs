//! `call_api`: one HTTPS request with a stored credential injected, the
//! response returned with the value (in every encoding) redacted.
//!
//! The client is built once per process (rustls with the ring provider; the
//! platform's roots plus `--ca-file` / `CREDVAULT_CA_FILE`), never follows
//! redirects, never uses a proxy, and resolves names through
//! [`CheckedResolver`] so the connection goes to the addresses that were checked.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;
use zeroize::Zeroizing;

use super::destination::{self, CheckedResolver, Refusal, refused_in};
use super::redact::Redactor;
use super::{auth_header_for, refused_header};
use crate::error::ApiError;
use crate::model::{Body, CallApi as CallRequest};
use crate::secret::SecretString;
use crate::vault::Credential;

/// Largest response body read; beyond it the result says `truncated`.
pub const MAX_RESPONSE_BODY: usize = 1024 * 1024;

/// Result of `call_api`. Never contains the credential's value.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct CallApiOutput {
    /// HTTP status (API errors are normal results).
    pub status: u16,
    /// Lower-case names; set-cookie removed.
    pub headers: BTreeMap<String, String>,
    /// Content-Type, if any.
    pub content_type: Option<String>,
    /// Text body; null when not text.
    pub body: Option<String>,
    /// Body bytes received.
    pub body_bytes: u64,
    /// Body cut at 1 MiB.
    pub truncated: bool,
    /// The credential was found in the reply and replaced.
    pub redacted: bool,
    /// Milliseconds.
    pub elapsed_ms: u64,
}

/// The outbound HTTPS client, built on first use.
#[derive(Debug)]
pub struct Outbound {
    ca_file: Option<PathBuf>,
    client: OnceCell<Result<reqwest::Client, String>>,
}

impl Outbound {
    /// A client that also trusts the PEM certificates in `ca_file`.
    pub fn new(ca_file: Option<PathBuf>) -> Self {
        Self {
            ca_file,
            client: OnceCell::new(),
        }
    }

    async fn client(&self) -> Result<reqwest::Client, ApiError> {
        let ca = self.ca_file.clone();
        let built = self
            .client
            .get_or_init(|| async move {
                tokio::task::spawn_blocking(move || build_client(ca.as_deref()))
                    .await
                    .unwrap_or_else(|_| Err("building the HTTPS client stopped".into()))
            })
            .await;
        built
            .clone()
            .map_err(|e| ApiError::new(500, "internal_error", e))
    }

    /// Sends `req` with `value` injected as `cred` prescribes, and returns the
    /// redacted response. `hosts` is the credential's effective allowed list.
    pub async fn call(
        &self,
        cred: &Credential,
        value: &SecretString,
        req: CallRequest,
    ) -> Result<CallApiOutput, ApiError> {
        let hosts = destination::effective_hosts(&cred.service, &cred.allowed_hosts);
        let mut url =
            destination::target(&cred.service, &hosts, &req.url).map_err(|r| match r {
                Refusal::Invalid(msg) => ApiError::validation(vec![crate::error::FieldError::new(
                    "url",
                    "value_error",
                    msg,
                )]),
                Refusal::NotAllowed(msg) => ApiError::new(403, "forbidden", msg),
            })?;
        if !req.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&req.query);
        }
        let (auth_name, prefix) = auth_header_for(
            &cred.service,
            cred.credential_type,
            cred.auth_header.as_deref(),
        );
        let mut headers = HeaderMap::new();
        let mut refused = Vec::new();
        for (name, value) in req.headers {
            match refused_header(name.as_str(), &auth_name) {
                Some(why) => {
                    refused.push(crate::error::FieldError::new("headers", "value_error", why))
                }
                None => {
                    headers.append(name, value);
                }
            }
        }
        if !refused.is_empty() {
            return Err(ApiError::validation(refused));
        }
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("identity"),
        );
        let caller_content_type = headers.contains_key(header::CONTENT_TYPE);
        // Built before anything is sent: a redactor that cannot be built
        // fails the call rather than let a reply through unredacted.
        let label = format!("{}/{}", cred.service, cred.name);
        let redactor = Redactor::new([(label.as_str(), value.expose().as_bytes())])
            .map_err(|e| ApiError::new(500, "internal_error", e))?;
        let auth_value = {
            let text = Zeroizing::new(format!("{prefix}{}", value.expose()));
            let mut v = HeaderValue::from_str(&text).map_err(|_| {
                ApiError::new(
                    422,
                    "validation_error",
                    format!("the stored value of {label} cannot be sent in an HTTP header (it holds characters a header cannot carry)"),
                )
            })?;
            v.set_sensitive(true);
            v
        };
        let auth_name = HeaderName::from_bytes(auth_name.as_bytes()).map_err(|_| {
            ApiError::new(
                500,
                "internal_error",
                "the stored auth header name is invalid",
            )
        })?;
        headers.insert(auth_name, auth_value);

        let client = self.client().await?;
        let host = url.host_str().unwrap_or_default().to_owned();
        let mut builder = client
            .request(req.method.clone(), url)
            .headers(headers)
            .timeout(req.timeout);
        match req.body {
            Some(Body::Json(b)) => {
                if !caller_content_type {
                    builder = builder.header(header::CONTENT_TYPE, "application/json");
                }
                builder = builder.body(b);
            }
            Some(Body::Raw(b)) => builder = builder.body(b),
            None => {}
        }
        let started = Instant::now();
        let upstream = |e: reqwest::Error| upstream_error(&e, &host, req.timeout);
        let mut resp = builder.send().await.map_err(upstream)?;
        let mut body = Zeroizing::new(Vec::new());
        let mut truncated = false;
        while let Some(chunk) = resp.chunk().await.map_err(upstream)? {
            let room = MAX_RESPONSE_BODY - body.len();
            if chunk.len() > room {
                body.extend_from_slice(&chunk[..room]);
                truncated = true;
                break;
            }
            body.extend_from_slice(&chunk);
        }
        let elapsed_ms = started.elapsed().as_millis() as u64;
        Ok(shape(&resp, &body, truncated, elapsed_ms, &redactor))
    }
}

/// Builds the redacted result from a response and the body read.
fn shape(
    resp: &reqwest::Response,
    body: &[u8],
    truncated: bool,
    elapsed_ms: u64,
    redactor: &Redactor,
) -> CallApiOutput {
    let mut redacted = false;
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in resp.headers() {
        if name == header::SET_COOKIE {
            continue;
        }
        let (n, hit_n) = redactor.redact_str(name.as_str());
        let (v, hit_v) = redactor.redact(value.as_bytes());
        redacted |= hit_n | hit_v;
        let v = String::from_utf8_lossy(&v).into_owned();
        headers
            .entry(n)
            .and_modify(|e| {
                e.push_str(", ");
                e.push_str(&v);
            })
            .or_insert(v);
    }
    let content_type = headers.get("content-type").cloned();
    let (out, hit) = if truncated {
        // A cut body may end inside a value. Give up a fixed tail (as long as
        // the longest form, minus one) whatever it holds: dropping only what
        // looks like the start of a value would tell, by its length, how much
        // of the value matched.
        redactor.redact_prefix(body, body.len().saturating_sub(redactor.lookahead()))
    } else {
        redactor.redact(body)
    };
    redacted |= hit;
    // A compressed body (from a server that ignored Accept-Encoding: identity)
    // is not text redaction can see into: its size only.
    let encoded = headers
        .get("content-encoding")
        .is_some_and(|e| !e.trim().eq_ignore_ascii_case("identity"));
    let text = !encoded && content_type.as_deref().is_none_or(is_text);
    CallApiOutput {
        status: resp.status().as_u16(),
        headers,
        content_type,
        body: text.then(|| String::from_utf8_lossy(&out).into_owned()),
        body_bytes: body.len() as u64,
        truncated,
        redacted,
        elapsed_ms,
    }
}

/// Whether a content type is text a model can read.
fn is_text(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence.starts_with("text/")
        || essence.ends_with("/json")
        || essence.ends_with("+json")
        || essence.ends_with("/xml")
        || essence.ends_with("+xml")
        || matches!(
            essence.as_str(),
            "application/javascript"
                | "application/x-www-form-urlencoded"
                | "application/x-ndjson"
                | "application/graphql"
                | "application/yaml"
        )
}

/// Maps a failure to get a response: 403 for a refused address, 504 for a
/// timeout, else 502 naming the cause (never a header or value).
fn upstream_error(e: &reqwest::Error, host: &str, timeout: Duration) -> ApiError {
    if let Some(r) = refused_in(e) {
        return ApiError::new(403, "forbidden", format!("{r}; nothing was sent"));
    }
    if e.is_timeout() {
        return ApiError::new(
            504,
            "upstream_timeout",
            format!(
                "{host} did not answer within {} ms (timeout_ms raises the limit, up to {})",
                timeout.as_millis(),
                crate::model::MAX_TIMEOUT_MS
            ),
        );
    }
    let mut cause: &(dyn std::error::Error + 'static) = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    let mut why = cause.to_string();
    if why.len() > 200 {
        why.truncate(
            why.char_indices()
                .take_while(|(i, _)| *i < 200)
                .last()
                .map_or(0, |(i, c)| i + c.len_utf8()),
        );
    }
    ApiError::new(
        502,
        "upstream_error",
        format!("could not get a response from {host}: {why}"),
    )
}

fn build_client(ca_file: Option<&std::path::Path>) -> Result<reqwest::Client, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    if let Some(path) = ca_file {
        let shown = path.display();
        let pem = std::fs::read(path).map_err(|e| format!("reading the CA file {shown}: {e}"))?;
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|e| format!("the CA file {shown} is not PEM: {e}"))?;
            roots
                .add(cert)
                .map_err(|e| format!("a certificate in {shown} is unusable: {e}"))?;
            added += 1;
        }
        if added == 0 {
            return Err(format!("the CA file {shown} holds no certificate"));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .referer(false)
        .dns_resolver(CheckedResolver)
        .connect_timeout(Duration::from_secs(10))
        .pool_idle_timeout(Duration::from_secs(60))
        .user_agent(concat!("credvault/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("building the HTTPS client: {e}"))
}
