//! The secret tools: create_secret, list_secrets and delete_secret.

use rmcp::handler::server::tool::{InputResponses, RequestState};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResponse, JsonObject};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::{Json, tool, tool_router};

use super::confirm::{Confirmation, not_found};
use super::schema::{input_schema, output_schema};
use super::server::{CredVaultServer, ToolError, binding, complete, logged};
use crate::app;
use crate::model::{
    self, Caller, CreateSecretOutput, DeleteSecretOutput, ListSecretsOutput, SecretItem,
};
use crate::validate;

#[tool_router(router = secret_router, vis = "pub(super)")]
impl CredVaultServer {
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

    /// List named secrets (metadata and masked value only, never values), oldest first.
    #[tool(
        input_schema = input_schema::<model::ListSecrets>(),
        annotations(title = "List secrets", read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn list_secrets(
        &self,
        Parameters(args): Parameters<JsonObject>,
    ) -> Result<Json<ListSecretsOutput>, ToolError> {
        logged("list_secrets", self.secrets(args)).await
    }

    /// Delete a named secret (404 if none). The user may be asked to confirm; declined: 403.
    #[tool(
        input_schema = input_schema::<model::DeleteSecret>(),
        output_schema = output_schema::<DeleteSecretOutput>(),
        annotations(title = "Delete secret", read_only_hint = false, destructive_hint = true, idempotent_hint = true, open_world_hint = false)
    )]
    async fn delete_secret(
        &self,
        Parameters(args): Parameters<JsonObject>,
        RequestState(state): RequestState,
        InputResponses(responses): InputResponses,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ToolError> {
        logged(
            "delete_secret",
            self.delete_sec(args, state, responses, &ctx),
        )
        .await
    }
}

impl CredVaultServer {
    async fn secret(
        &self,
        args: JsonObject,
        caller: Caller,
    ) -> Result<Json<CreateSecretOutput>, ToolError> {
        let req = validate::create_secret(args)?;
        let created = app::secrets::create_secret(&self.vault, &caller, req).await?;
        Ok(Json(CreateSecretOutput::from(&created)))
    }

    async fn secrets(&self, args: JsonObject) -> Result<Json<ListSecretsOutput>, ToolError> {
        let req = validate::list_secrets(args)?;
        let page = app::secrets::list_secrets(&self.vault, req).await?;
        Ok(Json(ListSecretsOutput {
            secrets: page.items.iter().map(SecretItem::from).collect(),
            next_cursor: page.next.map(|c| c.encode()),
        }))
    }

    async fn delete_sec(
        &self,
        args: JsonObject,
        state: Option<String>,
        responses: Option<rmcp::model::InputResponses>,
        ctx: &RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ToolError> {
        let bound = binding("delete_secret", &args);
        let name = validate::delete_secret(args)?.name;
        let found = app::secrets::find_secret(&self.vault, name.clone()).await?;
        let Some(s) = found else {
            return Err(not_found(format!(
                "no secret named {name} (list_secrets shows what exists)"
            )));
        };
        let mut bound = bound;
        bound.extend_from_slice(s.id.as_bytes());
        bound.extend_from_slice(&s.updated_at.to_be_bytes());
        let message = format!(
            "Delete the secret {} ({}, {}) from credvault? This cannot be undone.",
            s.name, s.provider, s.masked_value
        );
        if let Confirmation::Ask(r) = self
            .confirm(ctx, &message, &bound, state, responses)
            .await?
        {
            return Ok(r);
        }
        let deleted = app::secrets::delete_secret(&self.vault, &self.caller(ctx), name)
            .await?
            .ok_or_else(|| not_found(format!("secret {} is already gone", s.name)))?;
        complete(&DeleteSecretOutput {
            deleted: true,
            id: deleted.id.to_string(),
            name: deleted.name,
        })
    }
}
