//! The seeds' REST routes, on the same vault operations and records as the tools.
//!
//! | route | seed | success | errors |
//! |---|---|---|---|
//! | `POST /api/credentials` | 000 | 201 metadata | 400/401/500 `{"error": …}` |
//! | `GET /api/credentials` | 001 | 200 array | 401/500 `{"error": …}` |
//! | `POST /api/v1/user/secrets` | 002 | 201 secret metadata | §3 envelope, status = code |
//! | `GET /api/v1/user/secrets` | (§10) | 200 `{"secrets": […]}` | §3 envelope |
//! | `DELETE /api/v1/user/secrets/{name}` | (§10) | 204 | 404/422 envelope |
//! | `DELETE /api/credentials/{id}` | (§10) | 204 | 400/404 `{"error": …}` |
//! | `POST /api/v1/credentials` | 003 | 200 Flowise credential | 400/412/… envelope |
//! | `POST /v1/credentials/store` | 004 | 200 Danube body | §3 envelope |

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Map, Value, json};

use super::AppState;
use super::reply::{envelope, seed000_error};
use crate::app;
use crate::error::ApiError;
use crate::model::rfc3339;
use crate::model::{Caller, CredentialType};
use crate::secret::SecretString;
use crate::validate::{self, StoreCredential, StoreCredentialArgs};

/// The body as a JSON object, or the error to answer with.
fn object(body: Result<Bytes, BytesRejection>) -> Result<Option<Map<String, Value>>, ApiError> {
    let body = super::reply::read_body(body)?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(m)) => Ok(Some(m)),
        Ok(_) => Err(ApiError::bad_request("the body must be a JSON object")),
        Err(_) => Err(ApiError::bad_request("the body is not valid JSON")),
    }
}

fn created(body: Value) -> Response {
    (StatusCode::CREATED, axum::Json(body)).into_response()
}

/// Seeds 000/001's credential metadata object, serialised straight from the
/// cached metadata (fields in the order a JSON object of them has always had).
#[derive(serde::Serialize)]
struct Seed000Item<'a> {
    created_at: i64,
    #[serde(serialize_with = "as_text")]
    id: uuid::Uuid,
    last_used_at: Option<i64>,
    name: &'a str,
    service: &'a str,
}

fn as_text<S: serde::Serializer>(id: &uuid::Uuid, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(id)
}

impl<'a> From<&'a crate::vault::Credential> for Seed000Item<'a> {
    fn from(c: &'a crate::vault::Credential) -> Self {
        Self {
            created_at: c.created_at,
            id: c.id,
            last_used_at: c.last_used_at,
            name: &c.name,
            service: &c.service,
        }
    }
}

fn seed000_item(c: &crate::vault::Credential) -> Value {
    json!(Seed000Item::from(c))
}

/// Seed 000: `{service, name, key}` → 201 `{id, service, name, created_at, last_used_at}`.
pub async fn create_credential_000(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    const REQUIRED: &str = "service, name, and key are required";
    let mut obj = match object(body) {
        Ok(Some(o)) => o,
        Ok(None) => return seed000_error(400, REQUIRED),
        Err(e) => return seed000_error(e.code, &e.detail),
    };
    let blank = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .is_none_or(|s| s.trim().is_empty())
    };
    if blank(obj.get("service")) || blank(obj.get("name")) || blank(obj.get("key")) {
        return seed000_error(400, REQUIRED);
    }
    // All three are non-blank strings (checked above); moved, not copied.
    let mut take = |k: &str| match obj.remove(k) {
        Some(Value::String(s)) => s,
        _ => String::new(),
    };
    let args = StoreCredentialArgs {
        service_id: take("service"),
        name: Some(take("name")),
        credential_value: SecretString::new(take("key")),
        credential_type: CredentialType::ApiKey,
        allowed_hosts: Vec::new(),
        auth_header: None,
    };
    let req = match args.parse() {
        Ok(r) => r,
        Err(e) => {
            return seed000_error(
                400,
                &e.errors
                    .first()
                    .map(|f| format!("{}: {}", f.loc.join("."), f.msg))
                    .unwrap_or(e.detail),
            );
        }
    };
    match app::credentials::store_credential(&state.access, &caller, req)
        .await
        .map_err(ApiError::from)
    {
        Ok(s) => created(seed000_item(&s.credential)),
        Err(e) => seed000_error(e.code, &e.detail),
    }
}

/// Seed 001: 200 `[{id, service, name, created_at, last_used_at}]`.
/// The whole list is serialised once, from the metadata snapshot itself.
pub async fn list_credentials_001(State(state): State<AppState>) -> Response {
    let body = app::credentials::render_all(&state.access, |all| {
        let items: Vec<Seed000Item> = all.iter().map(Into::into).collect();
        serde_json::to_vec(&items)
            .map_err(|e| crate::error::VaultError::Storage(format!("encoding the list: {e}")))
    })
    .await
    .map_err(ApiError::from);
    match body {
        Ok(body) => (
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response(),
        Err(e) => seed000_error(e.code, &e.detail),
    }
}

/// Seed 002: `{name, provider, value}` → 201 secret metadata with `masked_value`.
pub async fn create_secret_002(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let args = match object(body) {
        Ok(o) => o.unwrap_or_default(),
        Err(e) => return envelope(e),
    };
    let req = match validate::create_secret(args) {
        Ok(r) => r,
        Err(e) => return envelope(e),
    };
    match app::secrets::create_secret(&state.access, &caller, req)
        .await
        .map_err(ApiError::from)
    {
        Ok(s) => created(json!(crate::model::CreateSecretOutput::from(&s))),
        Err(e) => envelope(e),
    }
}

/// Flowise credential names → catalog ids.
fn flowise_service(credential_name: &str) -> String {
    match credential_name {
        "openAIApi" => "openai".into(),
        "anthropicApi" => "anthropic".into(),
        "azureOpenAIApi" => "azure-openai".into(),
        "pineconeApi" => "pinecone".into(),
        "cohereApi" => "cohere".into(),
        "huggingFaceApi" => "huggingface".into(),
        other => format!("custom.{}", other.to_lowercase()),
    }
}

/// Seed 003 (Flowise): `{name, credentialName, plainDataObj}` → a credential of
/// the mapped service under `name`; the first field of `plainDataObj` is the
/// value and the whole object is sealed with it.
pub async fn create_credential_003(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let mut obj = match object(body) {
        Ok(Some(o)) if !o.is_empty() => o,
        Ok(_) => {
            return envelope(ApiError::new(
                412,
                "precondition_failed",
                "Request body not provided",
            ));
        }
        Err(e) => return envelope(e),
    };
    let name = obj
        .get("name")
        .and_then(Value::as_str)
        .map(str::trim)
        .unwrap_or("")
        .to_owned();
    let credential_name = obj
        .get("credentialName")
        .and_then(Value::as_str)
        .map(str::trim)
        .unwrap_or("")
        .to_owned();
    let plain = match obj.remove("plainDataObj") {
        Some(Value::Object(m)) => Some(m),
        _ => None,
    };
    let first = plain
        .as_ref()
        .and_then(|m| m.values().next())
        .and_then(Value::as_str)
        .map(str::to_owned);
    let mut missing = Vec::new();
    if name.is_empty() {
        missing.push(crate::error::FieldError::new(
            "name",
            "missing",
            "is required",
        ));
    }
    if credential_name.is_empty() {
        missing.push(crate::error::FieldError::new(
            "credentialName",
            "missing",
            "is required",
        ));
    }
    if first.as_deref().is_none_or(|v| v.trim().is_empty()) {
        missing.push(crate::error::FieldError::new(
            "plainDataObj",
            "missing",
            "must be an object whose first field is the non-empty key, e.g. {\"openAIApiKey\": \"sk-...\"}",
        ));
    }
    if !missing.is_empty() {
        let mut e = ApiError::validation(missing);
        e.code = 400;
        e.kind = "bad_request";
        return envelope(e);
    }
    let args = StoreCredentialArgs {
        service_id: flowise_service(&credential_name),
        credential_type: CredentialType::ApiKey,
        credential_value: SecretString::new(first.unwrap_or_default()),
        name: Some(name.clone()),
        allowed_hosts: Vec::new(),
        auth_header: None,
    };
    let mut req: StoreCredential = match args.parse() {
        Ok(r) => r,
        Err(mut e) => {
            e.code = 400;
            e.kind = "bad_request";
            return envelope(e);
        }
    };
    req.attachment = plain.map(|m| SecretString::new(Value::Object(m).to_string()));
    let workspace = app::status::vault_id(&state.access)
        .await
        .map_err(ApiError::from);
    match (
        app::credentials::store_credential(&state.access, &caller, req)
            .await
            .map_err(ApiError::from),
        workspace,
    ) {
        (Ok(s), Ok(workspace)) => {
            let c = s.credential;
            axum::Json(json!({
                "id": c.id.to_string(), "name": c.name, "credentialName": credential_name,
                "encryptedData": base64::engine::general_purpose::STANDARD.encode(&s.sealed),
                "createdDate": rfc3339(c.created_at), "updatedDate": rfc3339(c.updated_at),
                "workspaceId": workspace,
            }))
            .into_response()
        }
        (Err(e), _) | (_, Err(e)) => envelope(e),
    }
}

/// Seed 004 (Danube): `{service_id, credential_type, credential_value, name?}` →
/// 200 `{success, service_id, service_name, credential_type, …}`.
pub async fn store_credential_004(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let args = match object(body) {
        Ok(o) => o.unwrap_or_default(),
        Err(e) => return envelope(e),
    };
    let req = match validate::store_credential(args) {
        Ok(r) => r,
        Err(e) => return envelope(e),
    };
    let service_id = req.service_id.clone();
    match app::credentials::store_credential(&state.access, &caller, req)
        .await
        .map_err(ApiError::from)
    {
        Ok(s) => {
            axum::Json(crate::model::StoreCredentialOutput::new(service_id, s)).into_response()
        }
        Err(e) => envelope(e),
    }
}

/// `DELETE /api/credentials/{id}` → 204; 404/400 `{"error": …}` (seed 000's shape).
pub async fn delete_credential(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Response {
    let Ok(id) = uuid::Uuid::parse_str(id.trim()) else {
        return seed000_error(400, "id must be a credential id (UUID)");
    };
    let which = crate::vault::Selector::Id(id);
    match app::credentials::delete_credential(&state.access, &caller, which)
        .await
        .map_err(ApiError::from)
    {
        Ok(Some(_)) => StatusCode::NO_CONTENT.into_response(),
        Ok(None) => seed000_error(404, &format!("no credential with id {id}")),
        Err(e) => seed000_error(e.code, &e.detail),
    }
}

/// `GET /api/v1/user/secrets` → 200 `{"secrets": [...]}`, every secret's metadata.
pub async fn list_secrets_002(State(state): State<AppState>) -> Response {
    match app::secrets::all_secrets(&state.access)
        .await
        .map_err(ApiError::from)
    {
        Ok(all) => {
            let items: Vec<crate::model::SecretItem> = all.iter().map(Into::into).collect();
            axum::Json(json!({ "secrets": items })).into_response()
        }
        Err(e) => envelope(e),
    }
}

/// `DELETE /api/v1/user/secrets/{name}` → 204; 404 envelope.
pub async fn delete_secret_002(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    axum::extract::Path(name): axum::extract::Path<String>,
) -> Response {
    let name = match validate::secret_name(&name) {
        Ok(n) => n,
        Err(e) => return envelope(e),
    };
    let shown = name.clone();
    match app::secrets::delete_secret(&state.access, &caller, name)
        .await
        .map_err(ApiError::from)
    {
        Ok(Some(_)) => StatusCode::NO_CONTENT.into_response(),
        Ok(None) => envelope(ApiError::new(
            404,
            "not_found_error",
            format!("no secret named {shown}"),
        )),
        Err(e) => envelope(e),
    }
}

/// `GET /api/v1/status` → 200 the vault's id, store and counts.
pub async fn status(State(state): State<AppState>) -> Response {
    match app::status::status(&state.access).await {
        Ok(s) => axum::Json(s).into_response(),
        Err(e) => envelope(e.into()),
    }
}
