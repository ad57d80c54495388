//! Error responses in the shapes the routes document: the §3 envelope, and
//! seeds 000/001's `{"error": …}`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// The shape a group of routes answers errors in, including the errors its
/// guards raise before a handler runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorShape {
    /// The §3 envelope, HTTP status = `code`.
    Envelope,
    /// Seeds 000/001: `{"error": "<detail>"}`.
    Seed000,
}

impl ErrorShape {
    /// `e` as a response in this shape.
    pub fn reply(self, e: ApiError) -> Response {
        match self {
            Self::Envelope => envelope(e),
            Self::Seed000 => seed000_error(e.code, &e.detail),
        }
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
