//! `request_credential` (DESIGN §9): the person enters a value on a local page
//! and the model never sees it.
//!
//! How the link reaches the person depends on what the client declared, read
//! per call:
//! * URL-mode elicitation on a 2025-11-25 session: an `elicitation/create`
//!   request in URL mode; after `accept` the call waits for the submission,
//!   sends `notifications/elicitation/complete` and returns the metadata.
//! * URL-mode elicitation on 2026-07-28: an `InputRequiredResult` carrying the
//!   same request, with the slot id in a sealed `requestState`; the retried
//!   call completes once the value was submitted.
//! * Anything else: `status: "pending_user_action"` with the link, at once.
//!   Never a form asking for the value (the MCP spec forbids it).

use std::sync::Arc;

use rmcp::handler::server::tool::{InputResponses, RequestState};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CallToolResponse, CustomNotification, ElicitRequest, ElicitRequestParams, ElicitResult,
    ElicitationAction, InputRequest, InputRequests, InputRequiredResult, JsonObject,
    ProtocolVersion, ServerNotification,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::{tool, tool_router};
use serde::Deserialize;

use super::schema::input_schema;
use super::server::{CredVaultServer, ToolError, binding, complete, logged};
use crate::app::entry_desk::{Outcome, Slot};
use crate::error::ApiError;
use crate::model::{self, RequestCredentialOutput, StoreCredentialOutput, rfc3339};
use crate::validate;

/// What the sealed requestState of a 2026-07-28 retry is bound to (with the arguments).
const TOOL: &str = "request_credential";

/// The key of the one input request in an `InputRequiredResult`.
const INPUT_KEY: &str = "credential";

/// The output schema: `status` and the pending fields. Once stored, the
/// result also carries store_credential's fields (its output schema lists
/// them); they are left out here to keep tools/list small, which the schema
/// allows (no `additionalProperties: false`).
fn output_schema() -> Arc<JsonObject> {
    let schema = rmcp::handler::server::common::schema_for_output::<RequestCredentialOutput>();
    let mut schema = (*schema).clone();
    if let Some(serde_json::Value::Object(props)) = schema.get_mut("properties") {
        props
            .retain(|name, _| matches!(name.as_str(), "status" | "url" | "expires_at" | "message"));
    }
    Arc::new(schema)
}

fn declined() -> ToolError {
    ApiError::new(403, "forbidden", "the user declined").into()
}

fn stored_output(slot: &Slot, stored: crate::vault::Stored) -> RequestCredentialOutput {
    RequestCredentialOutput {
        status: "stored".into(),
        url: None,
        expires_at: None,
        message: None,
        stored: Some(StoreCredentialOutput::new(
            slot.spec.service_id.clone(),
            stored,
        )),
    }
}

fn pending(slot: &Slot) -> RequestCredentialOutput {
    RequestCredentialOutput {
        status: "pending_user_action".into(),
        url: Some(slot.url.clone()),
        expires_at: Some(rfc3339(slot.expires_at)),
        message: Some(format!(
            "Ask the user to open this link and enter the key; or run credvault store --service {} in a terminal. \
             The link works once, on this machine, for 10 minutes; list_credentials shows the credential once entered.",
            slot.spec.service.id
        )),
        stored: None,
    }
}

fn prompt(slot: &Slot) -> String {
    format!(
        "Enter your {} key ({}) on this local credvault page. It is stored encrypted on this machine; the agent never sees it.",
        slot.spec.service.service_name, slot.spec.name
    )
}

#[tool_router(router = entry_router, vis = "pub(super)")]
impl CredVaultServer {
    /// Have the user type a key into a one-time local page, not the chat: the model never sees
    /// it. store_credential's fields minus the value. Returns the stored metadata, or status
    /// pending_user_action and a url for the user.
    #[tool(
        input_schema = input_schema::<model::CredentialSpec>(),
        output_schema = output_schema(),
        annotations(title = "Request credential", read_only_hint = false, destructive_hint = true, idempotent_hint = false, open_world_hint = false)
    )]
    async fn request_credential(
        &self,
        Parameters(args): Parameters<JsonObject>,
        RequestState(state): RequestState,
        InputResponses(responses): InputResponses,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ToolError> {
        let call = async {
            match state {
                Some(state) => self.entry_retry(args, &state, responses, &ctx).await,
                None => self.entry_first(args, &ctx).await,
            }
        };
        logged("request_credential", call).await
    }
}

impl CredVaultServer {
    async fn entry_first(
        &self,
        args: JsonObject,
        ctx: &RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ToolError> {
        let ad = binding(TOOL, &args);
        let spec = validate::request_credential(args)?;
        // A locked vault could not store what the person enters: say so now.
        self.vault.vault().await?;
        let desk = self.vault.entry();
        let slot = desk.open(spec, self.caller(ctx), &self.vault).await?;
        let elicitation = ctx.client_capabilities().and_then(|c| c.elicitation);
        let url_mode = elicitation.as_ref().is_some_and(|e| e.url.is_some());
        let version = ctx.protocol_version();
        let modern = version
            .as_ref()
            .is_some_and(|v| *v >= ProtocolVersion::V_2026_07_28);
        // What the client declared decides the path; say which, for the person debugging it.
        tracing::info!(
            slot = %slot.id,
            client = ctx.client_info().map(|i| i.name).unwrap_or_default(),
            protocol = version.map(|v| v.to_string()).unwrap_or_default(),
            elicitation = serde_json::to_string(&elicitation).unwrap_or_default(),
            "entry link opened ({})",
            match (url_mode, modern) {
                (false, _) => "no URL elicitation declared: returning the link to the agent",
                (true, true) => "URL elicitation through InputRequiredResult",
                (true, false) => "URL elicitation through elicitation/create",
            }
        );
        if !url_mode {
            return complete(&pending(&slot));
        }
        if modern {
            let mut requests = InputRequests::new();
            requests.insert(
                INPUT_KEY.to_owned(),
                InputRequest::Elicitation(url_request(&slot)),
            );
            let sealed = desk.seal(&slot, &ad);
            return Ok(InputRequiredResult::new(Some(requests), Some(sealed)).into());
        }
        let left = slot
            .expires
            .saturating_duration_since(std::time::Instant::now());
        let url = url::Url::parse(&slot.url)
            .map_err(|_| ApiError::new(500, "internal_error", "could not form the entry link"))?;
        let asked = ctx
            .peer
            .elicit_url_with_timeout(prompt(&slot), url, slot.id.clone(), Some(left))
            .await;
        match asked {
            Ok(ElicitationAction::Accept) => self.await_entry(&slot, ctx).await,
            // The person may have submitted on the page already: that wins.
            Ok(_) if !slot.decline() => self.await_entry(&slot, ctx).await,
            Ok(_) => Err(declined()),
            Err(e) => {
                // The client could not show the link: hand it to the agent instead.
                tracing::info!(slot = %slot.id, "URL elicitation failed ({e}); returning the link");
                complete(&pending(&slot))
            }
        }
    }

    async fn entry_retry(
        &self,
        args: JsonObject,
        state: &str,
        responses: Option<rmcp::model::InputResponses>,
        ctx: &RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ToolError> {
        let desk = self.vault.entry();
        let slot = desk.open_state(state, &binding(TOOL, &args))?;
        let answer = responses
            .as_ref()
            .and_then(|r| r.get(INPUT_KEY))
            .and_then(|v| ElicitResult::deserialize(v).ok());
        match answer.map(|a| a.action) {
            Some(ElicitationAction::Accept) => self.await_entry(&slot, ctx).await,
            Some(_) if !slot.decline() => self.await_entry(&slot, ctx).await,
            Some(_) => Err(declined()),
            None => {
                // No answer to our request: ask again (same link, same state).
                let mut requests = InputRequests::new();
                requests.insert(
                    INPUT_KEY.to_owned(),
                    InputRequest::Elicitation(url_request(&slot)),
                );
                Ok(InputRequiredResult::new(Some(requests), Some(state.to_owned())).into())
            }
        }
    }

    /// After the person accepted: waits for the submission (bounded by the
    /// link's expiry, cancellable), then answers with the stored metadata.
    async fn await_entry(
        &self,
        slot: &Slot,
        ctx: &RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ToolError> {
        match slot.wait(&ctx.ct).await {
            Outcome::Stored(stored) => {
                let done = CustomNotification::new(
                    "notifications/elicitation/complete",
                    Some(serde_json::json!({ "elicitationId": slot.id })),
                );
                // 2026-07-28 forbids server-to-client messages outside a request's
                // stream; a 2025-11-25 session gets the notification.
                if ctx
                    .protocol_version()
                    .is_none_or(|v| v < ProtocolVersion::V_2026_07_28)
                    && let Err(e) = ctx
                        .peer
                        .send_notification(ServerNotification::CustomNotification(done))
                        .await
                {
                    tracing::debug!("elicitation/complete not sent: {e}");
                }
                complete(&stored_output(slot, *stored))
            }
            Outcome::Declined => Err(declined()),
            Outcome::Expired => Err(ApiError::new(
                408,
                "request_timeout",
                "the link expired before a key was entered: call request_credential again",
            )
            .into()),
            Outcome::Cancelled => Err(ApiError::new(
                499,
                "cancelled",
                "the request was cancelled; the link stays usable until it expires",
            )
            .into()),
        }
    }
}

fn url_request(slot: &Slot) -> ElicitRequest {
    ElicitRequest::new(ElicitRequestParams::UrlElicitationParams {
        meta: None,
        message: prompt(slot),
        url: slot.url.clone(),
        elicitation_id: slot.id.clone(),
    })
}
