//! The legacy HTTP+SSE transport (protocol 2024-11-05), which rmcp no longer
//! ships: `GET /sse` opens an event stream whose first `endpoint` event names
//! `/message?sessionId=<uuid>`; the client POSTs JSON-RPC there and replies
//! come back as `message` events. Each session is an rmcp server over a
//! (sink, stream) pair, bound to the token that opened it.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt};
use rmcp::ServiceExt;
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use tokio::sync::mpsc;
use tokio_util::sync::PollSender;

use super::AppState;
use super::guard::TokenId;
use super::reply::envelope;
use crate::error::ApiError;
use crate::mcp::CredVaultServer;
use crate::model::Caller;

struct Session {
    to_server: mpsc::Sender<ClientJsonRpcMessage>,
    token: Option<String>,
}

/// Live SSE sessions by id.
#[derive(Clone, Default)]
pub struct Sessions(Arc<Mutex<HashMap<String, Session>>>);

impl Sessions {
    fn insert(&self, id: String, s: Session) {
        if let Ok(mut m) = self.0.lock() {
            m.insert(id, s);
        }
    }

    fn remove(&self, id: &str) {
        if let Ok(mut m) = self.0.lock() {
            m.remove(id);
        }
    }

    fn sender(
        &self,
        id: &str,
        token: &Option<String>,
    ) -> Option<mpsc::Sender<ClientJsonRpcMessage>> {
        let m = self.0.lock().ok()?;
        let s = m.get(id)?;
        // A session id is never an authenticator: it only works with the token that opened it.
        (s.token == *token).then(|| s.to_server.clone())
    }
}

/// Removes the session when the SSE response (and so this guard) is dropped.
struct Cleanup {
    sessions: Sessions,
    id: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        self.sessions.remove(&self.id);
    }
}

/// `GET /sse`.
pub async fn connect(
    State(state): State<AppState>,
    Extension(token): Extension<TokenId>,
    Extension(caller): Extension<Caller>,
) -> Response {
    let id = uuid::Uuid::new_v4().to_string();
    let (to_server, from_client) = mpsc::channel::<ClientJsonRpcMessage>(64);
    let (to_client, from_server) = mpsc::channel::<ServerJsonRpcMessage>(64);
    state.sse.insert(
        id.clone(),
        Session {
            to_server,
            token: token.0,
        },
    );

    let incoming = Box::pin(futures::stream::unfold(from_client, |mut rx| async move {
        rx.recv().await.map(|m| (m, rx))
    }));
    let server = CredVaultServer::new(state.access.clone()).with_caller(caller);
    let stop = state.shutdown.child_token();
    tokio::spawn(async move {
        match server.serve((PollSender::new(to_client), incoming)).await {
            Ok(running) => {
                let _ = running.waiting().await;
            }
            Err(e) => tracing::debug!("SSE session ended before initialisation: {e}"),
        }
    });

    let cleanup = Cleanup {
        sessions: state.sse.clone(),
        id: id.clone(),
    };
    let endpoint = futures::stream::once(async move {
        Ok::<_, Infallible>(
            Event::default()
                .event("endpoint")
                .data(format!("/message?sessionId={id}")),
        )
    });
    let messages =
        futures::stream::unfold((from_server, cleanup), |(mut rx, cleanup)| async move {
            let msg = rx.recv().await?;
            let data = serde_json::to_string(&msg).unwrap_or_default();
            Some((
                Ok(Event::default().event("message").data(data)),
                (rx, cleanup),
            ))
        });
    let stream: std::pin::Pin<Box<dyn Stream<Item = Result<Event, Infallible>> + Send>> = Box::pin(
        endpoint
            .chain(messages)
            .take_until(async move { stop.cancelled().await }),
    );
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// Query of `POST /message`.
#[derive(serde::Deserialize)]
pub struct MessageQuery {
    #[serde(rename = "sessionId")]
    session_id: String,
}

/// `POST /message?sessionId=…`: one JSON-RPC message from the client.
pub async fn message(
    State(state): State<AppState>,
    Extension(token): Extension<TokenId>,
    query: Result<Query<MessageQuery>, axum::extract::rejection::QueryRejection>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let Ok(Query(q)) = query else {
        return envelope(ApiError::bad_request(
            "sessionId query parameter is required",
        ));
    };
    let Some(tx) = state.sse.sender(&q.session_id, &token.0) else {
        return envelope(ApiError::new(
            404,
            "not_found_error",
            "no such SSE session: open GET /sse first",
        ));
    };
    let body = match super::reply::read_body(body) {
        Ok(b) => b,
        Err(e) => return envelope(e),
    };
    let msg: ClientJsonRpcMessage = match serde_json::from_slice(&body) {
        Ok(m) => m,
        Err(_) => return envelope(ApiError::bad_request("the body is not a JSON-RPC message")),
    };
    match tx.send(msg).await {
        Ok(()) => (StatusCode::ACCEPTED, "Accepted").into_response(),
        Err(_) => envelope(ApiError::new(
            404,
            "not_found_error",
            "the SSE session has ended",
        )),
    }
}
