//! The MCP server: [`CredVaultServer`], its tool routers put together, how a
//! tool's error and result are shaped, and the methods it answers besides
//! tools (each a -32601 naming it).

use std::sync::Arc;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{
    ContentBlock, ErrorData, Implementation, IntoContents, JsonObject, PaginatedRequestParams,
    ServerCapabilities, ServerConfig,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::{ServerHandler, tool_handler};
use serde::Serialize;

use super::rendered::Handoff;
use crate::app::VaultAccess;
use crate::error::ApiError;
use crate::model::Caller;

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
    pub(super) handoff: Option<Arc<Handoff>>,
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
        let mut tool_router = Self::credential_router()
            + Self::secret_router()
            + Self::call_router()
            + Self::entry_router();
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
