//! delete_credential, list_secrets, delete_secret (DESIGN §10).
//!
//! A delete first asks the person, where the client supports form
//! elicitation (a yes/no question naming what goes; form mode is allowed for a
//! confirmation, never for a value): `elicitation/create` on 2025-11-25, an
//! `InputRequiredResult` with a sealed `requestState` on 2026-07-28. Declined
//! → 403 and nothing is deleted. Clients without form elicitation delete at once.

use std::time::Duration;

use rmcp::handler::server::tool::{InputResponses, RequestState};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CallToolResponse, ElicitRequest, ElicitRequestParams, ElicitResult, ElicitationAction,
    ElicitationSchema, InputRequest, InputRequests, InputRequiredResult, JsonObject,
    ProtocolVersion,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::{Json, tool, tool_router};
use serde::Deserialize;

use super::schema::{input_schema, output_schema};
use super::tools::{CredVaultServer, ToolError, binding, complete, logged};
use crate::app;
use crate::error::ApiError;
use crate::model::{
    self, DeleteCredentialOutput, DeleteSecretOutput, ListSecretsOutput, SecretItem,
};
use crate::validate;
use crate::vault::Selector;

fn not_found(what: String) -> ToolError {
    ApiError::new(404, "not_found_error", what).into()
}

fn declined() -> ToolError {
    ApiError::new(403, "forbidden", "the user declined: nothing was deleted").into()
}

/// The key of the confirmation in an `InputRequiredResult`.
const CONFIRM_KEY: &str = "confirm";
/// How long a 2026-07-28 confirmation may take.
const CONFIRM_TTL: Duration = Duration::from_secs(600);

/// What the confirmation step decided.
enum Confirmation {
    /// Go ahead.
    Yes,
    /// Ask first (2026-07-28): return this.
    Ask(CallToolResponse),
}

fn question(message: &str) -> Result<ElicitRequestParams, ToolError> {
    let schema = ElicitationSchema::builder()
        .required_bool_with(CONFIRM_KEY, |b| {
            b.title("Delete")
                .description(message.to_owned())
                .with_default(false)
        })
        .build()
        .map_err(|e| ApiError::new(500, "internal_error", format!("confirmation form: {e}")))?;
    Ok(ElicitRequestParams::FormElicitationParams {
        meta: None,
        message: message.to_owned(),
        requested_schema: schema,
    })
}

fn yes(r: &ElicitResult) -> bool {
    r.action == ElicitationAction::Accept
        && r.content
            .as_ref()
            .and_then(|c| c.get("confirm"))
            .and_then(serde_json::Value::as_bool)
            == Some(true)
}

#[tool_router(router = lifecycle_router, vis = "pub(super)")]
impl CredVaultServer {
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

    /// Asks the person to confirm `message` where the client supports form
    /// elicitation; `Err(403)` when they decline.
    async fn confirm(
        &self,
        ctx: &RequestContext<RoleServer>,
        message: &str,
        bound: &[u8],
        state: Option<String>,
        responses: Option<rmcp::model::InputResponses>,
    ) -> Result<Confirmation, ToolError> {
        let Some(e) = ctx.client_capabilities().and_then(|c| c.elicitation) else {
            return Ok(Confirmation::Yes);
        };
        // An empty elicitation capability means form mode (2025-06-18 style).
        if e.form.is_none() && e.url.is_some() {
            return Ok(Confirmation::Yes);
        }
        let modern = ctx
            .protocol_version()
            .is_some_and(|v| v >= ProtocolVersion::V_2026_07_28);
        if !modern {
            return match ctx.peer.create_elicitation(question(message)?).await {
                Ok(r) if yes(&r) => Ok(Confirmation::Yes),
                Ok(_) => Err(declined()),
                Err(e) => Err(ApiError::new(
                    403,
                    "forbidden",
                    format!("could not ask the user to confirm ({e}): nothing was deleted"),
                )
                .into()),
            };
        }
        let desk = self.vault.entry();
        let ask = || -> Result<Confirmation, ToolError> {
            let mut requests = InputRequests::new();
            requests.insert(
                CONFIRM_KEY.to_owned(),
                InputRequest::Elicitation(ElicitRequest::new(question(message)?)),
            );
            let sealed = desk.seal_state(b"confirm", bound, CONFIRM_TTL);
            Ok(Confirmation::Ask(
                InputRequiredResult::new(Some(requests), Some(sealed)).into(),
            ))
        };
        let Some(state) = state else {
            return ask();
        };
        if desk.open_state_bytes(&state, bound).as_deref() != Some(b"confirm".as_slice()) {
            return Err(ApiError::bad_request(
                "requestState is not one this server issued for these arguments and this record as it is now (or it expired): call again without it",
            )
            .into());
        }
        let answer = responses
            .as_ref()
            .and_then(|r| r.get(CONFIRM_KEY))
            .and_then(|v| ElicitResult::deserialize(v).ok());
        match answer {
            Some(r) if yes(&r) => Ok(Confirmation::Yes),
            Some(_) => Err(declined()),
            None => ask(),
        }
    }
}
