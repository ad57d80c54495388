//! Asking the person to confirm a delete (DESIGN §10).
//!
//! A delete first asks the person, where the client supports form
//! elicitation (a yes/no question naming what goes; form mode is allowed for a
//! confirmation, never for a value): `elicitation/create` on 2025-11-25, an
//! `InputRequiredResult` with a sealed `requestState` on 2026-07-28. Declined
//! → 403 and nothing is deleted. Clients without form elicitation delete at once.

use std::time::Duration;

use rmcp::model::{
    CallToolResponse, ElicitRequest, ElicitRequestParams, ElicitResult, ElicitationAction,
    ElicitationSchema, InputRequest, InputRequests, InputRequiredResult, ProtocolVersion,
};
use rmcp::service::{RequestContext, RoleServer};
use serde::Deserialize;

use super::server::{CredVaultServer, ToolError};
use crate::error::ApiError;

pub(super) fn not_found(what: String) -> ToolError {
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
pub(super) enum Confirmation {
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

impl CredVaultServer {
    /// Asks the person to confirm `message` where the client supports form
    /// elicitation; `Err(403)` when they decline.
    pub(super) async fn confirm(
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
