//! The tools that use a credential: `call_api`.

use std::collections::BTreeMap;

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::JsonObject;
use rmcp::service::{RequestContext, RoleServer};
use rmcp::{Json, tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;

use super::schema::input_schema;
use super::tools::{CredVaultServer, ToolError, logged};
use crate::app;
use crate::model::Caller;
use crate::usage::{CallApiOutput, args};

/// Arguments of `call_api`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct CallApiInput {
    /// Service.
    #[schemars(length(min = 1, max = 71))]
    pub service_id: String,
    /// Label, default "default".
    #[schemars(length(min = 1, max = 128))]
    pub name: Option<String>,
    /// HTTP method.
    #[schemars(with = "String", extend("enum" = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]))]
    pub method: String,
    /// https:// URL on an allowed host, or a /path on the service's API base.
    #[schemars(length(min = 1, max = 8192))]
    pub url: String,
    /// Query parameters.
    pub query: Option<BTreeMap<String, String>>,
    /// Extra headers (not Authorization, Cookie, Host, Proxy-*).
    pub headers: Option<BTreeMap<String, String>>,
    /// JSON body.
    pub json: Option<serde_json::Value>,
    /// Raw body (or json).
    pub body: Option<String>,
    /// Timeout in ms (default 30000).
    #[schemars(range(min = 1, max = 120000))]
    pub timeout_ms: Option<u64>,
}

#[tool_router(router = use_router, vis = "pub(super)")]
impl CredVaultServer {
    /// One HTTPS request with a stored credential injected; status, headers and body come back
    /// redacted. Only hosts bound to the credential are reachable; redirects are not
    /// followed; upstream 4xx/5xx are normal results.
    #[tool(
        input_schema = input_schema::<CallApiInput>(),
        annotations(title = "Call API", read_only_hint = false, destructive_hint = true, idempotent_hint = false, open_world_hint = true)
    )]
    async fn call_api(
        &self,
        Parameters(args): Parameters<JsonObject>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<CallApiOutput>, ToolError> {
        logged("call_api", self.use_credential(args, self.caller(&ctx))).await
    }
}

impl CredVaultServer {
    async fn use_credential(
        &self,
        args: JsonObject,
        caller: Caller,
    ) -> Result<Json<CallApiOutput>, ToolError> {
        let req = args::call_api(args)?;
        Ok(Json(app::calls::call_api(&self.vault, &caller, req).await?))
    }
}
