//! The tools that use a credential: `call_api`.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::JsonObject;
use rmcp::service::{RequestContext, RoleServer};
use rmcp::{Json, tool, tool_router};

use super::schema::input_schema;
use super::tools::{CredVaultServer, ToolError, logged};
use crate::error::ApiError;
use crate::model;
use crate::usage::CallApiOutput;
use crate::usage::destination::effective_hosts;
use crate::validate;
use crate::vault::Use;

#[tool_router(router = use_router, vis = "pub(super)")]
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
        logged("call_api", self.use_credential(args, self.via(&ctx))).await
    }
}

impl CredVaultServer {
    async fn use_credential(
        &self,
        args: JsonObject,
        via: String,
    ) -> Result<Json<CallApiOutput>, ToolError> {
        let req = validate::call_api(args)?;
        let (service, name) = (req.service.id.clone(), req.name.clone());
        let found = self
            .vault
            .run(move |v| v.credential_for_use(&service, &name))
            .await?;
        let Some((cred, value, stamp)) = found else {
            return Err(ApiError::new(
                404,
                "not_found_error",
                format!(
                    "no credential {}/{}: store one with store_credential (list_credentials shows what exists)",
                    req.service.id, req.name
                ),
            )
            .into());
        };
        let host = url::Url::parse(&req.url)
            .ok()
            .and_then(|u| {
                let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
                u.host_str().map(|h| format!("{h}{port}"))
            })
            .or_else(|| {
                effective_hosts(&cred.service, &cred.allowed_hosts)
                    .into_iter()
                    .next()
            })
            .unwrap_or_default();
        let detail = format!("{} {host}", req.method);
        let out = self.vault.outbound().call(&cred, &value, req).await;
        drop(value);
        let used = Use {
            action: "call_api",
            subject: format!("{}/{}", cred.service, cred.name),
            via,
            outcome: match &out {
                Ok(o) => o.status.to_string(),
                Err(e) => format!("{} {}", e.code, e.kind),
            },
            detail: Some(detail),
            sent: out.is_ok(),
        };
        let id = cred.id;
        self.vault
            .run_after("call_api: could not record the use", move |v| {
                v.touch_credential(id, stamp, &used)
            })
            .await;
        Ok(Json(out?))
    }
}
