//! list_credentials results rendered once per metadata generation, and handed
//! to the stdio writer as bytes.
//!
//! A page of 200 credentials is ~87 KB of JSON (structuredContent plus the
//! same JSON as text). Rendering it again for every call of unchanged metadata
//! costs a deep clone of the structured value and a serialisation of both
//! copies. So the last rendering is kept (in the process's
//! [`crate::app::page_cache::PageCache`], keyed by the
//! metadata generation, which changes with every write by any process), and on
//! stdio, where credvault writes its own bytes, the tool hands the writer a
//! placeholder that names the rendering ([`Handoff`]): the writer sends the
//! rendering's serialised result, made once per wire shape. On HTTP rmcp
//! serialises, so the tool returns the result itself.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use rmcp::model::{
    CallToolResult, ContentBlock, JsonRpcMessage, JsonRpcResponse, MetaObject, ResultType,
    ServerJsonRpcMessage, ServerResult,
};
use serde_json::Value;

/// One result: structuredContent, its text block, and the serialised result
/// per wire shape (without `resultType`, with `resultType: "complete"`).
pub struct Rendering {
    value: Value,
    text: String,
    bytes: [OnceLock<Vec<u8>>; 2],
}

impl Rendering {
    /// The result as rmcp carries it.
    fn result(&self, result_type: Option<ResultType>) -> CallToolResult {
        let mut out = CallToolResult::success(vec![ContentBlock::text(self.text.clone())]);
        out.structured_content = Some(self.value.clone());
        out.result_type = result_type;
        out
    }

    /// The serialised result, in the shape rmcp gave the placeholder.
    fn bytes(&self, result_type: Option<ResultType>) -> serde_json::Result<Cow<'_, [u8]>> {
        let slot = match &result_type {
            None => &self.bytes[0],
            Some(t) if t.is_complete() => &self.bytes[1],
            Some(_) => return serde_json::to_vec(&self.result(result_type)).map(Cow::Owned),
        };
        if let Some(b) = slot.get() {
            return Ok(Cow::Borrowed(b));
        }
        let b = serde_json::to_vec(&self.result(result_type))?;
        Ok(Cow::Borrowed(slot.get_or_init(|| b)))
    }
}

impl Rendering {
    /// A rendering of `value`, whose JSON text is `text`.
    pub fn new(value: Value, text: String) -> Self {
        Self {
            value,
            text,
            bytes: Default::default(),
        }
    }
}

/// The `_meta` key of a placeholder result.
const PLACEHOLDER: &str = "credvault/rendering";

/// Renderings on their way from a tool to the stdio writer, by ticket. An
/// entry lives as long as its response message is in flight (rmcp holds the
/// message meanwhile anyway, and a pipelining client can have thousands in
/// flight); renderings of one page share one allocation.
#[derive(Default)]
pub struct Handoff {
    next: AtomicU64,
    waiting: Mutex<HashMap<u64, Arc<Rendering>>>,
}

/// The result a tool returns for `r`: `r` itself, or on stdio a placeholder
/// the writer replaces with `r`'s bytes.
pub fn result(handoff: Option<&Handoff>, r: Arc<Rendering>) -> CallToolResult {
    match handoff {
        Some(h) => h.placeholder(r),
        None => r.result(Some(ResultType::COMPLETE)),
    }
}

impl Handoff {
    fn placeholder(&self, r: Arc<Rendering>) -> CallToolResult {
        let ticket = self.next.fetch_add(1, Ordering::Relaxed);
        self.waiting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(ticket, r);
        let mut meta = MetaObject::default();
        meta.0.insert(PLACEHOLDER.into(), ticket.into());
        let mut out = CallToolResult::success(Vec::new());
        out.meta = Some(meta);
        out
    }

    /// The line to write for `message` when it is a placeholder's response
    /// (`None`: serialise `message` as it is). A placeholder whose rendering
    /// is gone is answered with an internal error, never with the placeholder.
    pub fn line(&self, message: &ServerJsonRpcMessage) -> Option<Vec<u8>> {
        let JsonRpcMessage::Response(JsonRpcResponse {
            id,
            result: ServerResult::CallToolResult(r),
            ..
        }) = message
        else {
            return None;
        };
        let ticket = r.meta.as_ref()?.0.get(PLACEHOLDER)?.as_u64()?;
        let rendering = self
            .waiting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&ticket);
        let bytes = rendering.as_ref().map(|x| x.bytes(r.result_type.clone()));
        let id = serde_json::to_string(id).unwrap_or_else(|_| "null".into());
        Some(match bytes {
            Some(Ok(bytes)) => {
                let mut line = Vec::with_capacity(bytes.len() + id.len() + 40);
                line.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":");
                line.extend_from_slice(id.as_bytes());
                line.extend_from_slice(b",\"result\":");
                line.extend_from_slice(&bytes);
                line.push(b'}');
                line
            }
            _ => {
                tracing::error!("a rendered list result was lost before it was written");
                format!(
                    r#"{{"jsonrpc":"2.0","id":{id},"error":{{"code":-32603,"message":"Internal error: the result was lost; call the tool again"}}}}"#
                )
                .into_bytes()
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmcp::model::{NumberOrString, RequestId};

    fn rendering() -> Arc<Rendering> {
        let value = serde_json::json!({"credentials": [{"id": "a\"b", "name": "ü\n"}], "next_cursor": null});
        let text = value.to_string();
        Arc::new(Rendering::new(value.clone(), text))
    }

    fn response(id: RequestId, r: CallToolResult) -> ServerJsonRpcMessage {
        JsonRpcMessage::response(ServerResult::CallToolResult(r), id)
    }

    #[test]
    fn the_handed_off_line_is_what_rmcp_would_have_written() {
        let h = Handoff::default();
        for id in [
            NumberOrString::Number(7),
            NumberOrString::String("req-\"x\"".into()),
        ] {
            for result_type in [None, Some(ResultType::COMPLETE)] {
                let r = rendering();
                let mut placeholder = h.placeholder(r.clone());
                placeholder.result_type = result_type.clone();
                let line = h.line(&response(id.clone(), placeholder)).unwrap();
                let expected =
                    serde_json::to_vec(&response(id.clone(), r.result(result_type))).unwrap();
                assert_eq!(
                    String::from_utf8(line).unwrap(),
                    String::from_utf8(expected).unwrap()
                );
            }
        }
        assert!(h.waiting.lock().unwrap().is_empty());
    }

    #[test]
    fn other_messages_pass_and_a_lost_rendering_is_an_error_not_a_placeholder() {
        let h = Handoff::default();
        let plain = CallToolResult::success(vec![ContentBlock::text("hi")]);
        assert!(
            h.line(&response(NumberOrString::Number(1), plain))
                .is_none()
        );
        let placeholder = h.placeholder(rendering());
        h.waiting.lock().unwrap().clear();
        let line = h
            .line(&response(NumberOrString::Number(2), placeholder))
            .unwrap();
        let v: Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(
            (v["id"].as_i64(), v["error"]["code"].as_i64()),
            (Some(2), Some(-32603))
        );
    }

    #[test]
    fn thousands_in_flight_are_all_delivered() {
        let h = Handoff::default();
        let r = rendering();
        let placeholders: Vec<_> = (0..5000).map(|_| h.placeholder(r.clone())).collect();
        for (i, p) in placeholders.into_iter().enumerate().rev() {
            let line = h
                .line(&response(NumberOrString::Number(i as i64), p))
                .unwrap();
            let v: Value = serde_json::from_slice(&line).unwrap();
            assert_eq!(v["result"]["structuredContent"], r.value, "{i}");
        }
        assert!(h.waiting.lock().unwrap().is_empty());
    }
}
