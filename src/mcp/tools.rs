//! The three core tools: their argument types (served as schemas, see
//! [`super::schema`]), output shapes, and the calls. Arguments are parsed by
//! [`crate::validate`], not by serde, so every bad argument becomes a 422
//! naming its field (DESIGN §3).

use std::sync::Arc;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    ContentBlock, ErrorData, Implementation, IntoContents, JsonObject, PaginatedRequestParams,
    ServerCapabilities, ServerConfig,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::{Json, ServerHandler, tool, tool_handler, tool_router};
use serde::Serialize;

use super::rendered::{Handoff, Rendering};
use super::schema::{input_schema, output_schema};
use crate::app::{self, VaultAccess};
use crate::error::ApiError;
use crate::model::{
    self, Caller, CreateSecretOutput, CredentialItem, ListCredentialsOutput, StoreCredentialOutput,
};
use crate::validate;

/// A tool failure: one text block holding the §3 envelope, no structuredContent.
#[derive(Debug)]
pub struct ToolError(pub ApiError);

impl From<ApiError> for ToolError {
    fn from(e: ApiError) -> Self {
        Self(e)
    }
}

impl From<crate::app::AppError> for ToolError {
    fn from(e: crate::app::AppError) -> Self {
        Self(e.into())
    }
}

impl IntoContents for ToolError {
    fn into_contents(self) -> Vec<ContentBlock> {
        vec![ContentBlock::text(self.0.to_json())]
    }
}

/// A successful result: `out` as structuredContent and as one text block.
pub(super) fn complete<T: Serialize>(out: &T) -> Result<rmcp::model::CallToolResponse, ToolError> {
    let value = serde_json::to_value(out)
        .map_err(|_| ApiError::new(500, "internal_error", "could not encode the result"))?;
    Ok(rmcp::model::CallToolResult::structured(value).into())
}

/// What a sealed 2026-07-28 `requestState` of `tool` is bound to: the
/// tool's name and its arguments, so it cannot be replayed on other ones.
pub(super) fn binding(tool: &str, args: &JsonObject) -> Vec<u8> {
    let mut ad = format!("credvault {tool}\0").into_bytes();
    ad.extend_from_slice(
        serde_json::Value::Object(args.clone())
            .to_string()
            .as_bytes(),
    );
    ad
}

/// The MCP server: the vault's tools over one vault.
#[derive(Clone)]
pub struct CredVaultServer {
    pub(super) vault: VaultAccess,
    tool_router: Arc<ToolRouter<Self>>,
    /// Who this server's calls come from, for the audit trail (stdio, or
    /// the token of an SSE session); Streamable HTTP requests carry their own.
    caller: Caller,
    /// On stdio, where list results go to the writer as rendered bytes.
    handoff: Option<Arc<Handoff>>,
}

/// Runs a tool's call and logs its outcome and duration (never its arguments).
pub(super) async fn logged<T>(
    tool: &'static str,
    call: impl std::future::Future<Output = Result<T, ToolError>>,
) -> Result<T, ToolError> {
    let started = std::time::Instant::now();
    let r = call.await;
    let ms = started.elapsed().as_secs_f64() * 1e3;
    match &r {
        Ok(_) => tracing::debug!(tool, ms, "tool call ok"),
        Err(ToolError(e)) => {
            tracing::info!(tool, ms, code = e.code, kind = e.kind, "tool call failed")
        }
    }
    r
}

#[tool_router]
impl CredVaultServer {
    /// A server over `vault` (which may still be unlocking).
    pub fn new(vault: VaultAccess) -> Self {
        // Built and compacted once per process: stateless HTTP (2026-07-28)
        // makes a server per request, which shares the router (one Arc).
        static ROUTER: std::sync::OnceLock<Arc<ToolRouter<CredVaultServer>>> =
            std::sync::OnceLock::new();
        let tool_router = ROUTER
            .get_or_init(|| Arc::new(Self::compacted_router()))
            .clone();
        Self {
            vault,
            tool_router,
            caller: Caller::Stdio,
            handoff: None,
        }
    }

    /// The same server, its list results handed to the stdio writer as bytes.
    pub fn with_handoff(mut self, handoff: Arc<Handoff>) -> Self {
        self.handoff = Some(handoff);
        self
    }

    fn compacted_router() -> ToolRouter<Self> {
        let mut tool_router = Self::tool_router()
            + Self::use_router()
            + Self::entry_router()
            + Self::lifecycle_router();
        for route in tool_router.map.values_mut() {
            super::schema::as_served(&mut route.attr);
        }
        tool_router
    }

    /// The same server, its calls recorded as made by `caller`.
    pub fn with_caller(mut self, caller: Caller) -> Self {
        self.caller = caller;
        self
    }

    /// Who made this call: the HTTP request's token (set by the guard), else this server's.
    pub(super) fn caller(&self, ctx: &RequestContext<RoleServer>) -> Caller {
        ctx.extensions
            .get::<axum::http::request::Parts>()
            .and_then(|p| p.extensions.get::<Caller>())
            .cloned()
            .unwrap_or_else(|| self.caller.clone())
    }

    /// Store an API key or token for a service, encrypted; no tool returns it. The same
    /// service_id + name replaces it (same id, replaced: true); another name keeps several.
    #[tool(
        input_schema = input_schema::<model::StoreCredential>(),
        annotations(title = "Store credential", read_only_hint = false, destructive_hint = true, idempotent_hint = true, open_world_hint = false)
    )]
    async fn store_credential(
        &self,
        Parameters(args): Parameters<JsonObject>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<StoreCredentialOutput>, ToolError> {
        logged("store_credential", self.store(args, self.caller(&ctx))).await
    }

    /// List stored credentials (metadata, never values), oldest first, a page at a time.
    #[tool(
        input_schema = input_schema::<model::ListCredentials>(),
        output_schema = output_schema::<ListCredentialsOutput>(),
        annotations(title = "List credentials", read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn list_credentials(
        &self,
        Parameters(args): Parameters<JsonObject>,
    ) -> Result<rmcp::model::CallToolResult, ToolError> {
        logged("list_credentials", self.list(args)).await
    }

    /// Create a named secret (env-var name, e.g. OPENAI_API_KEY), encrypted; only a masked
    /// value is returned. An existing name fails with 409.
    #[tool(
        input_schema = input_schema::<model::CreateSecret>(),
        annotations(title = "Create secret", read_only_hint = false, destructive_hint = false, idempotent_hint = false, open_world_hint = false)
    )]
    async fn create_secret(
        &self,
        Parameters(args): Parameters<JsonObject>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<CreateSecretOutput>, ToolError> {
        logged("create_secret", self.secret(args, self.caller(&ctx))).await
    }
}

impl CredVaultServer {
    async fn store(
        &self,
        args: JsonObject,
        caller: Caller,
    ) -> Result<Json<StoreCredentialOutput>, ToolError> {
        let req = validate::store_credential(args)?;
        let service_id = req.service_id.clone();
        let stored = app::credentials::store_credential(&self.vault, &caller, req).await?;
        Ok(Json(StoreCredentialOutput::new(service_id, stored)))
    }

    /// A page, rendered once per (metadata generation, request): repeated
    /// lists of unchanged metadata reuse the rendering (on stdio its bytes)
    /// instead of building and serialising it again. That common case runs
    /// on this task (one read of the audit head proves the metadata current).
    async fn list(&self, args: JsonObject) -> Result<rmcp::model::CallToolResult, ToolError> {
        let req = validate::list_credentials(args)?;
        let rendering = app::credentials::list_credentials(&self.vault, req, |page| {
            let out = ListCredentialsOutput {
                credentials: page.items.iter().map(CredentialItem::from).collect(),
                next_cursor: page.next.map(|c| c.encode()),
            };
            let value = serde_json::to_value(&out).map_err(|e| {
                ApiError::from(crate::error::VaultError::Storage(format!(
                    "encoding the list: {e}"
                )))
            })?;
            let text = value.to_string();
            Ok(Rendering::new(value, text))
        })
        .await?;
        Ok(super::rendered::result(self.handoff.as_deref(), rendering))
    }

    async fn secret(
        &self,
        args: JsonObject,
        caller: Caller,
    ) -> Result<Json<CreateSecretOutput>, ToolError> {
        let req = validate::create_secret(args)?;
        let created = app::secrets::create_secret(&self.vault, &caller, req).await?;
        Ok(Json(CreateSecretOutput::from(&created)))
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for CredVaultServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("credvault", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Local encrypted credential vault. Use store_credential to save API keys or tokens the user gives you, \
                 list_credentials to see what is stored (never values), create_secret for named env-var secrets, \
                 call_api to make an HTTPS request with a stored credential (it is injected for you and redacted from the reply), \
                 request_credential to have the user type a key into a local page instead of pasting it into the chat. \
                 Values can be written and used but never read back.",
            )
    }

    // credvault serves tools only: every other method is a -32601 whose
    // message names it ("method not found: prompts/list").
    async fn on_custom_request(
        &self,
        request: rmcp::model::CustomRequest,
        _: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::CustomResult, ErrorData> {
        Err(not_found(&request.method))
    }

    async fn list_prompts(
        &self,
        _: Option<PaginatedRequestParams>,
        _: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::ListPromptsResult, ErrorData> {
        Err(not_found("prompts/list"))
    }

    async fn get_prompt(
        &self,
        _: rmcp::model::GetPromptRequestParams,
        _: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::GetPromptResponse, ErrorData> {
        Err(not_found("prompts/get"))
    }

    async fn list_resources(
        &self,
        _: Option<PaginatedRequestParams>,
        _: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::ListResourcesResult, ErrorData> {
        Err(not_found("resources/list"))
    }

    async fn list_resource_templates(
        &self,
        _: Option<PaginatedRequestParams>,
        _: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::ListResourceTemplatesResult, ErrorData> {
        Err(not_found("resources/templates/list"))
    }

    async fn read_resource(
        &self,
        _: rmcp::model::ReadResourceRequestParams,
        _: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::ReadResourceResponse, ErrorData> {
        Err(not_found("resources/read"))
    }
}

/// A -32601 JSON-RPC error naming the method (bounded: it is the caller's text).
fn not_found(method: &str) -> ErrorData {
    ErrorData::new(
        rmcp::model::ErrorCode::METHOD_NOT_FOUND,
        format!(
            "method not found: {} (credvault serves tools: tools/list, tools/call)",
            crate::validate::bounded(method, 64)
        ),
        None,
    )
}
