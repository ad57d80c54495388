//! The tools that use a credential: `call_api`.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::JsonObject;
use rmcp::service::{RequestContext, RoleServer};
use rmcp::{Json, tool, tool_router};

use super::schema::input_schema;
use super::server::{CredVaultServer, ToolError, logged};
use crate::app;
use crate::model;
use crate::model::Caller;
use crate::usage::CallApiOutput;
use crate::validate;

#[tool_router(router = call_router, vis = "pub(super)")]
impl CredVaultServer {
    /// One HTTPS request with a stored credential injected; status, headers and body come back
    /// redacted. Only hosts bound to the credential are reachable; redirects are not
    /// followed; upstream 4xx/5xx are normal results.
    #[tool(
        input_schema = input_schema::<model::CallApi>(),
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
        let req = validate::call_api(args)?;
        Ok(Json(app::calls::call_api(&self.vault, &caller, req).await?))
    }
}
