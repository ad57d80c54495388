//! The arguments of `call_api` (DESIGN §8): one type that is both the JSON
//! Schema `tools/list` serves and what the parser returns.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::Method;
use reqwest::header::{HeaderName, HeaderValue};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

use super::fields::{Invalid, Label, ServiceId, inline_schema};
use crate::catalog::Service;

/// Largest request body, in bytes.
pub const MAX_REQUEST_BODY: usize = 1024 * 1024;
/// Longest URL accepted, in bytes.
pub const MAX_URL: usize = 8192;
/// Default timeout.
pub const DEFAULT_TIMEOUT_MS: u64 = 30_000;
/// Largest `timeout_ms`.
pub const MAX_TIMEOUT_MS: u64 = 120_000;
/// Most entries in `query` or `headers`.
pub const MAX_ENTRIES: usize = 64;
/// The methods call_api sends.
pub const METHODS: [&str; 6] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"];

/// A method in [`METHODS`].
pub struct HttpMethod;

inline_schema!(
    HttpMethod,
    "HttpMethod",
    json_schema!({ "type": "string", "enum": METHODS })
);

impl HttpMethod {
    /// The method spelled `m` (any case), when call_api sends it.
    pub fn parse(m: &str) -> Option<Method> {
        let upper = m.to_ascii_uppercase();
        METHODS
            .contains(&upper.as_str())
            .then(|| Method::from_bytes(upper.as_bytes()).ok())
            .flatten()
    }
}

/// A request URL: `https://…` or a `/path`, at most [`MAX_URL`] bytes.
pub struct RequestUrl;

inline_schema!(
    RequestUrl,
    "RequestUrl",
    json_schema!({ "type": "string", "minLength": 1, "maxLength": MAX_URL })
);

impl RequestUrl {
    /// Checks a trimmed URL: an absolute URL or a path starting with `/`.
    pub fn check(u: &str) -> Result<(), Invalid> {
        if u.len() > MAX_URL {
            Err(Invalid {
                kind: "too_long",
                msg: format!("must be at most {MAX_URL} bytes (got {})", u.len()),
            })
        } else if (!u.starts_with('/') || u.starts_with("//")) && !u.contains("://") {
            Err(Invalid {
                kind: "value_error",
                msg: "must be an absolute https:// URL or a path starting with /".into(),
            })
        } else {
            Ok(())
        }
    }
}

/// A whole-request timeout in milliseconds, 1..=[`MAX_TIMEOUT_MS`].
pub struct TimeoutMs;

inline_schema!(
    TimeoutMs,
    "TimeoutMs",
    json_schema!({ "type": "integer", "minimum": 1, "maximum": MAX_TIMEOUT_MS })
);

impl TimeoutMs {
    /// The timeout of `ms`, when in range.
    pub fn parse(ms: u64) -> Option<Duration> {
        (1..=MAX_TIMEOUT_MS)
            .contains(&ms)
            .then(|| Duration::from_millis(ms))
    }
}

/// A request body and its content type: the `json` or the `body` argument.
#[derive(Debug)]
pub enum Body {
    /// `json`: serialized, sent as application/json.
    Json(Vec<u8>),
    /// `body`: sent as given.
    Raw(Vec<u8>),
}

impl JsonSchema for Body {
    fn schema_name() -> Cow<'static, str> {
        "Body".into()
    }

    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        let mut json = g.subschema_for::<Option<serde_json::Value>>();
        json.insert("description".into(), "JSON body.".into());
        let mut body = g.subschema_for::<Option<String>>();
        body.insert("description".into(), "Raw body (or json).".into());
        json_schema!({ "type": "object", "properties": { "json": json, "body": body } })
    }
}

/// `call_api` arguments, checked.
#[derive(Debug, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct CallApi {
    /// Service.
    #[schemars(rename = "service_id", with = "ServiceId")]
    pub service: Service,
    /// Label, default "default".
    #[schemars(with = "Option<Label>")]
    pub name: String,
    /// HTTP method.
    #[schemars(with = "HttpMethod")]
    pub method: Method,
    /// https:// URL on an allowed host, or a /path on the service's API base.
    #[schemars(with = "RequestUrl")]
    pub url: String,
    /// Query parameters.
    #[schemars(with = "Option<BTreeMap<String, String>>")]
    pub query: Vec<(String, String)>,
    /// Extra headers (not Authorization, Cookie, Host, Proxy-*).
    #[schemars(with = "Option<BTreeMap<String, String>>")]
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The body, if any.
    #[schemars(flatten)]
    pub body: Option<Body>,
    /// Timeout in ms (default 30000).
    #[schemars(rename = "timeout_ms", with = "Option<TimeoutMs>")]
    pub timeout: Duration,
}
