//! `call_api`: one HTTPS request with a stored credential injected, performed
//! by this process; the reply comes back redacted and the use is recorded.

use super::{AppError, VaultAccess};
use crate::error::ApiError;
use crate::model::CallApi;
use crate::model::Caller;
use crate::usage::CallApiOutput;
use crate::usage::destination::effective_hosts;
use crate::vault::Use;

/// Sends `input` with its credential (only to hosts bound to it), redacts the
/// reply, and records the use after answering. An upstream 4xx/5xx is a
/// normal result; a refusal is an error and sends nothing.
pub async fn call_api(
    access: &VaultAccess,
    caller: &Caller,
    input: CallApi,
) -> Result<CallApiOutput, AppError> {
    let (service, name) = (input.service.id.clone(), input.name.clone());
    let found = access
        .run(move |v| v.credential_for_use(&service, &name))
        .await?;
    let Some((cred, value, stamp)) = found else {
        return Err(AppError::Api(ApiError::new(
            404,
            "not_found_error",
            format!(
                "no credential {}/{}: store one with store_credential (list_credentials shows what exists)",
                input.service.id, input.name
            ),
        )));
    };
    let host = url::Url::parse(&input.url)
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
    let detail = format!("{} {host}", input.method);
    let out = access.outbound().call(&cred, &value, input).await;
    drop(value);
    let used = Use {
        action: "call_api",
        subject: format!("{}/{}", cred.service, cred.name),
        via: caller.to_string(),
        outcome: match &out {
            Ok(o) => o.status.to_string(),
            Err(e) => format!("{} {}", e.code, e.kind),
        },
        detail: Some(detail),
        sent: out.is_ok(),
    };
    let id = cred.id;
    access
        .run_after("call_api: could not record the use", move |v| {
            v.touch_credential(id, stamp, &used)
        })
        .await;
    Ok(out?)
}
