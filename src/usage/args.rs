//! call_api arguments (DESIGN §8): every field checked, every failure listed
//! in one 422, nothing echoed beyond a bounded name.

use std::time::Duration;

use reqwest::Method;
use reqwest::header::{HeaderName, HeaderValue};
use serde_json::{Map, Value};

use super::{is_header_token, refused_header};
use crate::catalog::Service;
use crate::error::ApiError;
use crate::validate::{self, Fields, json_type};

/// Largest request body, in bytes.
pub const MAX_REQUEST_BODY: usize = 1024 * 1024;
/// Longest URL accepted, in bytes.
pub const MAX_URL: usize = 8192;
/// Default and largest timeout.
pub const DEFAULT_TIMEOUT_MS: u64 = 30_000;
/// Largest `timeout_ms`.
pub const MAX_TIMEOUT_MS: u64 = 120_000;
/// Most entries in `query` or `headers`.
pub const MAX_ENTRIES: usize = 64;

/// A request body and its content type.
#[derive(Debug)]
pub enum Body {
    /// `json`: serialized, sent as application/json.
    Json(Vec<u8>),
    /// `body`: sent as given.
    Raw(Vec<u8>),
}

/// A validated call_api request.
#[derive(Debug)]
pub struct CallRequest {
    /// The resolved service.
    pub service: Service,
    /// Credential label.
    pub name: String,
    /// HTTP method.
    pub method: Method,
    /// `https://…` or `/path`.
    pub url: String,
    /// Query pairs appended to the URL.
    pub query: Vec<(String, String)>,
    /// Extra headers (reserved ones refused already; the credential's own
    /// header is checked once it is known).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Body, if any.
    pub body: Option<Body>,
    /// Whole-request timeout.
    pub timeout: Duration,
}

const FIELDS: &[&str] = &[
    "service_id",
    "name",
    "method",
    "url",
    "query",
    "headers",
    "json",
    "body",
    "timeout_ms",
];

/// Validates call_api arguments.
pub fn call_api(args: Map<String, Value>) -> Result<CallRequest, ApiError> {
    let mut f = Fields::new(args, FIELDS);
    let raw = f.string("service_id", true);
    let service = validate::service(&mut f, "service_id", raw);
    let name = validate::label(&mut f);
    let method = f
        .string("method", true)
        .and_then(|m| match m.to_ascii_uppercase().as_str() {
            "GET" => Some(Method::GET),
            "POST" => Some(Method::POST),
            "PUT" => Some(Method::PUT),
            "PATCH" => Some(Method::PATCH),
            "DELETE" => Some(Method::DELETE),
            "HEAD" => Some(Method::HEAD),
            _ => {
                f.push(
                    "method",
                    "enum",
                    "must be one of: GET, POST, PUT, PATCH, DELETE, HEAD",
                );
                None
            }
        });
    let url = f.string("url", true).and_then(|u| {
        if u.len() > MAX_URL {
            f.push(
                "url",
                "too_long",
                format!("must be at most {MAX_URL} bytes (got {})", u.len()),
            );
            None
        } else if (!u.starts_with('/') || u.starts_with("//")) && !u.contains("://") {
            f.push(
                "url",
                "value_error",
                "must be an absolute https:// URL or a path starting with /",
            );
            None
        } else {
            Some(u)
        }
    });
    let query = pairs(&mut f, "query");
    let headers = pairs(&mut f, "headers")
        .into_iter()
        .filter_map(|(k, v)| header(&mut f, k, v))
        .collect();
    let json = f.obj.remove("json").filter(|v| !v.is_null());
    let raw_body = match f.obj.remove("body") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.into_bytes()),
        Some(other) => {
            let msg = format!("must be a string, not {}", json_type(&other));
            f.push("body", "type_error", msg);
            None
        }
    };
    let body = match (json, raw_body) {
        (Some(_), Some(_)) => {
            f.push("body", "value_error", "give json or body, not both");
            None
        }
        (Some(j), None) => Some(Body::Json(serde_json::to_vec(&j).unwrap_or_default())),
        (None, Some(b)) => Some(Body::Raw(b)),
        (None, None) => None,
    };
    if let Some(Body::Json(b) | Body::Raw(b)) = &body
        && b.len() > MAX_REQUEST_BODY
    {
        let field = if matches!(body, Some(Body::Json(_))) {
            "json"
        } else {
            "body"
        };
        let msg = format!("must be at most {MAX_REQUEST_BODY} bytes (got {})", b.len());
        f.push(field, "too_long", msg);
    }
    let timeout = match f.obj.remove("timeout_ms") {
        None | Some(Value::Null) => Some(DEFAULT_TIMEOUT_MS),
        Some(Value::Number(n)) => match n.as_u64().filter(|t| (1..=MAX_TIMEOUT_MS).contains(t)) {
            Some(t) => Some(t),
            None => {
                f.push(
                    "timeout_ms",
                    "value_error",
                    format!("must be an integer 1..={MAX_TIMEOUT_MS}"),
                );
                None
            }
        },
        Some(other) => {
            let msg = format!("must be an integer, not {}", json_type(&other));
            f.push("timeout_ms", "type_error", msg);
            None
        }
    };
    f.finish()?;
    match (service, name, method, url, timeout) {
        (Some((_, service)), Some(name), Some(method), Some(url), Some(ms)) => Ok(CallRequest {
            service,
            name,
            method,
            url,
            query,
            headers,
            body,
            timeout: Duration::from_millis(ms),
        }),
        _ => Err(ApiError::bad_request("invalid arguments")),
    }
}

/// An optional object of string → string.
fn pairs(f: &mut Fields, field: &str) -> Vec<(String, String)> {
    let map = match f.obj.remove(field) {
        None | Some(Value::Null) => return Vec::new(),
        Some(Value::Object(m)) => m,
        Some(other) => {
            let msg = format!("must be an object of strings, not {}", json_type(&other));
            f.push(field, "type_error", msg);
            return Vec::new();
        }
    };
    if map.len() > MAX_ENTRIES {
        f.push(
            field,
            "too_long",
            format!(
                "must have at most {MAX_ENTRIES} entries (got {})",
                map.len()
            ),
        );
        return Vec::new();
    }
    let mut out = Vec::new();
    for (k, v) in map {
        match v {
            Value::String(s) => out.push((k, s)),
            other => {
                let msg = format!(
                    "{}: must be a string, not {}",
                    bounded(&k),
                    json_type(&other)
                );
                f.push(field, "type_error", msg);
            }
        }
    }
    out
}

fn header(f: &mut Fields, name: String, value: String) -> Option<(HeaderName, HeaderValue)> {
    if !is_header_token(&name) {
        f.push(
            "headers",
            "value_error",
            format!("{}: not a valid header name", bounded(&name)),
        );
        return None;
    }
    if let Some(why) = refused_header(&name, "") {
        f.push("headers", "value_error", why);
        return None;
    }
    match (
        HeaderName::from_bytes(name.as_bytes()),
        HeaderValue::from_str(value.trim()),
    ) {
        (Ok(n), Ok(v)) => Some((n, v)),
        _ => {
            f.push(
                "headers",
                "value_error",
                format!(
                    "{}: the value must be one line of visible text",
                    bounded(&name)
                ),
            );
            None
        }
    }
}

/// A caller's name, cut for echoing.
fn bounded(s: &str) -> String {
    validate::bounded(s, validate::MAX_ECHOED_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn call(v: Value) -> Result<CallRequest, ApiError> {
        call_api(v.as_object().unwrap().clone())
    }

    #[test]
    fn a_minimal_call_gets_defaults() {
        let r = call(json!({"service_id": "openai", "method": "get", "url": "/models"})).unwrap();
        assert_eq!(
            (r.service.id.as_str(), r.name.as_str(), r.method.as_str()),
            ("openai", "default", "GET")
        );
        assert_eq!(r.timeout, Duration::from_secs(30));
        assert!(r.body.is_none());
    }

    #[test]
    fn every_bad_field_is_listed() {
        let e = call(json!({
            "service_id": "nope", "method": "TRACE", "url": "models", "query": [1],
            "headers": {"Authorization": "x", "Cookie": "a", "bad name": "v", "X-Ok": "a\nb"},
            "json": {"a": 1}, "body": "x", "timeout_ms": 120001, "extra": true
        }))
        .unwrap_err();
        assert_eq!(e.code, 422);
        let locs: Vec<_> = e.errors.iter().map(|e| e.loc[0].as_str()).collect();
        assert_eq!(
            locs,
            [
                "extra",
                "service_id",
                "method",
                "url",
                "query",
                "headers",
                "headers",
                "headers",
                "headers",
                "body",
                "timeout_ms"
            ]
        );
        let e = call(json!({"service_id": "openai", "method": "GET", "url": "/x", "body": "a".repeat(MAX_REQUEST_BODY + 1)})).unwrap_err();
        assert_eq!(e.errors[0].kind, "too_long");
        assert!(!e.to_json().contains("aaaa"));
    }
}
