//! The credential tools: store_credential, list_credentials and
//! delete_credential. Arguments are parsed by [`crate::validate`] into the
//! `model` input each tool serves as its schema, so every bad argument
//! becomes a 422 naming its field (DESIGN §3); the work is `app`'s.

use rmcp::handler::server::tool::{InputResponses, RequestState};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResponse, JsonObject};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::{Json, tool, tool_router};

use super::confirm::{Confirmation, not_found};
use super::rendered::Rendering;
use super::schema::{input_schema, output_schema};
use super::server::{CredVaultServer, ToolError, binding, complete, logged};
use crate::app;
use crate::error::VaultError;
use crate::model::{
    self, Caller, CredentialItem, DeleteCredentialOutput, ListCredentialsOutput,
    StoreCredentialOutput,
};
use crate::validate;
use crate::vault::Selector;

#[tool_router(router = credential_router, vis = "pub(super)")]
impl CredVaultServer {
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

    /// Delete a credential by id or service_id + name (404 if none). The user may be asked to
    /// confirm; declined: 403.
    #[tool(
        input_schema = input_schema::<model::Selector>(),
        output_schema = output_schema::<DeleteCredentialOutput>(),
        annotations(title = "Delete credential", read_only_hint = false, destructive_hint = true, idempotent_hint = true, open_world_hint = false)
    )]
    async fn delete_credential(
        &self,
        Parameters(args): Parameters<JsonObject>,
        RequestState(state): RequestState,
        InputResponses(responses): InputResponses,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ToolError> {
        logged(
            "delete_credential",
            self.delete_cred(args, state, responses, &ctx),
        )
        .await
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
            let value = serde_json::to_value(&out)
                .map_err(|e| VaultError::Storage(format!("encoding the list: {e}")))?;
            let text = value.to_string();
            Ok(Rendering::new(value, text))
        })
        .await?;
        Ok(super::rendered::result(self.handoff.as_deref(), rendering))
    }

    async fn delete_cred(
        &self,
        args: JsonObject,
        state: Option<String>,
        responses: Option<rmcp::model::InputResponses>,
        ctx: &RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ToolError> {
        let bound = binding("delete_credential", &args);
        let which = validate::delete_credential(args)?;
        let found = app::credentials::find_credential(&self.vault, which.clone()).await?;
        let Some(c) = found else {
            return Err(not_found(match &which {
                Selector::Id(id) => {
                    format!("no credential with id {id} (list_credentials shows what exists)")
                }
                Selector::Name { service, name } => {
                    format!("no credential {service}/{name} (list_credentials shows what exists)")
                }
            }));
        };
        // The confirmation is for this record as it is now: a state issued
        // before it was replaced or recreated does not open.
        let mut bound = bound;
        bound.extend_from_slice(c.id.as_bytes());
        bound.extend_from_slice(&c.updated_at.to_be_bytes());
        let message = format!(
            "Delete the {} credential \"{}\" ({}/{}) from credvault? This cannot be undone.",
            c.service_name, c.name, c.service, c.name
        );
        if let Confirmation::Ask(r) = self
            .confirm(ctx, &message, &bound, state, responses)
            .await?
        {
            return Ok(r);
        }
        let deleted =
            app::credentials::delete_credential(&self.vault, &self.caller(ctx), Selector::Id(c.id))
                .await?
                .ok_or_else(|| {
                    not_found(format!(
                        "credential {}/{} is already gone",
                        c.service, c.name
                    ))
                })?;
        complete(&DeleteCredentialOutput {
            deleted: true,
            id: deleted.id.to_string(),
            service: deleted.service.unwrap_or(c.service),
            name: c.name,
        })
    }
}
