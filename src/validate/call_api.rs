//! call_api arguments (DESIGN §8): every field checked, every failure listed
//! in one 422, nothing echoed beyond a bounded name.

use reqwest::header::{HeaderName, HeaderValue};
use serde_json::{Map, Value};

use super::{Fields, json_type};
use crate::error::ApiError;
use crate::model::{
    Body, CallApi, DEFAULT_TIMEOUT_MS, HttpMethod, Invalid, MAX_ENTRIES, MAX_REQUEST_BODY, METHODS,
    RequestUrl, TimeoutMs,
};
use crate::usage::{is_header_token, refused_header};

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
pub fn call_api(args: Map<String, Value>) -> Result<CallApi, ApiError> {
    let mut f = Fields::new(args, FIELDS);
    let raw = f.string("service_id", true);
    let service = super::service(&mut f, "service_id", raw);
    let name = super::label(&mut f);
    let method = f
        .string("method", true)
        .and_then(|m| match HttpMethod::parse(&m) {
            Some(m) => Some(m),
            None => {
                f.push(
                    "method",
                    "enum",
                    format!("must be one of: {}", METHODS.join(", ")),
                );
                None
            }
        });
    let url = f
        .string("url", true)
        .and_then(|u| match RequestUrl::check(&u) {
            Ok(()) => Some(u),
            Err(Invalid { kind, msg }) => {
                f.push("url", kind, msg);
                None
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
        None | Some(Value::Null) => TimeoutMs::parse(DEFAULT_TIMEOUT_MS),
        Some(Value::Number(n)) => match n.as_u64().and_then(TimeoutMs::parse) {
            Some(t) => Some(t),
            None => {
                f.push(
                    "timeout_ms",
                    "value_error",
                    format!("must be an integer 1..={}", crate::model::MAX_TIMEOUT_MS),
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
        (Some((_, service)), Some(name), Some(method), Some(url), Some(timeout)) => Ok(CallApi {
            service,
            name,
            method,
            url,
            query,
            headers,
            body,
            timeout,
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
    super::bounded(s, super::MAX_ECHOED_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use std::time::Duration;

    fn call(v: Value) -> Result<CallApi, ApiError> {
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
