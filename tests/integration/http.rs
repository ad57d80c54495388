//! HTTP serving on 127.0.0.1:0: rmcp's Streamable HTTP client (both lifecycles),
//! the legacy SSE routes, every seed REST route, auth and Host/Origin matrices,
//! the body limit, and one vault seen from every transport.

use std::process::{Child, Stdio};

use futures::StreamExt;
use reqwest::StatusCode;
use rmcp::model::{CallToolRequestParams, ProtocolVersion};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{ClientLifecycleMode, ServiceExt, serve_client_with_lifecycle};
use serde_json::{Value, json};

use crate::common::{Env, contains, outcome};

/// A running `credvault serve --http 127.0.0.1:0` and a token for it.
pub struct Http {
    pub env: Env,
    pub base: String,
    pub token: String,
    child: Child,
}

impl Drop for Http {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Http {
    pub fn start() -> Self {
        Self::start_with(Env::new(), &[])
    }

    pub fn start_with(env: Env, extra: &[&str]) -> Self {
        Self::start_full(env, extra, &[], |_| {})
    }

    /// Like [`Self::start_with`], with the server run under `wrapper` (e.g.
    /// `prlimit …`) and `before` applied to the Env after the token is made.
    pub fn start_full(
        mut env: Env,
        extra: &[&str],
        wrapper: &[&str],
        before: impl FnOnce(&mut Env),
    ) -> Self {
        crate::common::install_tls_provider();
        assert!(env.run(&["init"], "").status.success());
        let token = token(&env, "test");
        before(&mut env);
        let mut cmd = match wrapper.split_first() {
            None => env.cmd(),
            Some((program, args)) => {
                let mut c = std::process::Command::new(program);
                c.args(args)
                    .arg(crate::common::BIN)
                    .env_clear()
                    .envs(env.envs())
                    .stdin(Stdio::null());
                c
            }
        };
        // `extra` may name the address itself (`--http ADDR` first).
        if extra.first() == Some(&"--http") {
            cmd.arg("serve");
        } else {
            cmd.args(["serve", "--http", "127.0.0.1:0"]);
        }
        cmd.args(extra).stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let base = crate::common::listening_base(&mut child);
        Self {
            env,
            base,
            token,
            child,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn client() -> reqwest::Client {
        crate::common::install_tls_provider();
        reqwest::Client::new()
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let r = Self::client()
            .post(self.url(path))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn mcp(
        &self,
        lifecycle: ClientLifecycleMode,
    ) -> rmcp::service::RunningService<rmcp::RoleClient, ()> {
        let t = StreamableHttpClientTransport::from_config(
            StreamableHttpClientTransportConfig::with_uri(self.url("/mcp"))
                .auth_header(self.token.clone()),
        );
        serve_client_with_lifecycle((), t, lifecycle)
            .await
            .expect("MCP over Streamable HTTP")
    }
}

pub fn token(env: &Env, name: &str) -> String {
    let o = env.run(&["token", "create", "--name", name], "");
    assert!(o.status.success(), "{o:?}");
    let t = String::from_utf8(o.stdout).unwrap().trim().to_owned();
    assert!(
        t.len() >= 40
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
        "{t}"
    );
    t
}

pub async fn call(
    c: &rmcp::service::RunningService<rmcp::RoleClient, ()>,
    tool: &str,
    args: Value,
) -> crate::common::Outcome {
    let r = c
        .call_tool(
            CallToolRequestParams::new(tool.to_owned())
                .with_arguments(args.as_object().unwrap().clone()),
        )
        .await
        .unwrap();
    outcome(r)
}

async fn all_three_tools(c: &rmcp::service::RunningService<rmcp::RoleClient, ()>, tag: &str) {
    assert_eq!(c.list_all_tools().await.unwrap().len(), 8);
    let s = call(c, "store_credential", json!({"service_id": "openai", "credential_type": "bearer", "credential_value": "sk-http", "name": tag})).await;
    assert!(!s.is_error, "{}", s.raw);
    let l = call(c, "list_credentials", json!({})).await;
    assert!(
        l.body["credentials"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["name"] == tag)
    );
    let name = format!("HTTP_{}", tag.to_uppercase().replace('-', "_"));
    let sec = call(
        c,
        "create_secret",
        json!({"name": name, "provider": "openai", "value": "sk-proj-abcdefghijklm0123456789"}),
    )
    .await;
    assert_eq!(sec.body["masked_value"], "sk-pro••••789");
    let bad = call(c, "store_credential", json!({"service_id": "openai"})).await;
    assert_eq!(bad.body["code"], 422);
}

#[tokio::test]
async fn streamable_http_serves_2025_11_25_sessions_and_2026_07_28_stateless() {
    let h = Http::start();
    let legacy = h.mcp(ClientLifecycleMode::Initialize).await;
    assert_eq!(
        legacy.peer_info().unwrap().protocol_version,
        ProtocolVersion::V_2025_11_25
    );
    all_three_tools(&legacy, "sessions").await;
    let _ = legacy.cancel().await;

    // A session id is not an authenticator: another valid token cannot use it.
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
    let accept = "application/json, text/event-stream";
    let r = Http::client()
        .post(h.url("/mcp"))
        .bearer_auth(&h.token)
        .header("accept", accept)
        .json(&init)
        .send()
        .await
        .unwrap();
    let session = r.headers()["mcp-session-id"].to_str().unwrap().to_owned();
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});
    let other = token(&h.env, "other");
    let r = Http::client()
        .post(h.url("/mcp"))
        .bearer_auth(&other)
        .header("accept", accept)
        .header("mcp-session-id", &session)
        .header("mcp-protocol-version", "2025-11-25")
        .json(&list)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = Http::client()
        .post(h.url("/mcp"))
        .bearer_auth(&h.token)
        .header("accept", accept)
        .header("mcp-session-id", &session)
        .header("mcp-protocol-version", "2025-11-25")
        .json(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let modern = h
        .mcp(ClientLifecycleMode::Discover {
            preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        })
        .await;
    assert_eq!(
        modern.peer_info().unwrap().protocol_version,
        ProtocolVersion::V_2026_07_28
    );
    all_three_tools(&modern, "stateless").await;
    let _ = modern.cancel().await;
}

/// A minimal legacy SSE client: the event stream plus the announced endpoint.
pub struct Sse {
    events: std::pin::Pin<Box<dyn futures::Stream<Item = (String, String)> + Send>>,
    endpoint: String,
}

impl Sse {
    pub async fn open(h: &Http, token: &str) -> Self {
        let r = Http::client()
            .get(h.url("/sse"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/event-stream")
        );
        let mut buf = String::new();
        let bytes = r.bytes_stream();
        let events = futures::stream::unfold(
            (bytes, buf.split_off(0)),
            |(mut bytes, mut buf)| async move {
                loop {
                    if let Some(end) = buf.find("\n\n") {
                        let block: String = buf.drain(..end + 2).collect();
                        let mut event = String::from("message");
                        let mut data = String::new();
                        for line in block.lines() {
                            if let Some(e) = line.strip_prefix("event:") {
                                event = e.trim().to_owned();
                            } else if let Some(d) = line.strip_prefix("data:") {
                                data.push_str(d.trim_start());
                            }
                        }
                        if data.is_empty() {
                            continue; // keep-alive comment
                        }
                        return Some(((event, data), (bytes, buf)));
                    }
                    let chunk = bytes.next().await?.ok()?;
                    buf.push_str(&String::from_utf8_lossy(&chunk));
                }
            },
        );
        let mut events: std::pin::Pin<Box<dyn futures::Stream<Item = (String, String)> + Send>> =
            Box::pin(events);
        let (kind, endpoint) = events.next().await.unwrap();
        assert_eq!(kind, "endpoint");
        Self { events, endpoint }
    }

    pub async fn send(&self, h: &Http, token: &str, msg: Value) -> StatusCode {
        Http::client()
            .post(h.url(&self.endpoint))
            .bearer_auth(token)
            .json(&msg)
            .send()
            .await
            .unwrap()
            .status()
    }

    pub async fn reply(&mut self) -> Value {
        let (kind, data) =
            tokio::time::timeout(std::time::Duration::from_secs(10), self.events.next())
                .await
                .unwrap()
                .unwrap();
        assert_eq!(kind, "message");
        serde_json::from_str(&data).unwrap()
    }

    pub async fn handshake(&mut self, h: &Http, token: &str) {
        let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2024-11-05", "capabilities": {}, "clientInfo": {"name": "sse-test", "version": "1"}}});
        assert_eq!(self.send(h, token, init).await, StatusCode::ACCEPTED);
        let r = self.reply().await;
        assert_eq!(r["result"]["protocolVersion"], "2024-11-05");
        assert_eq!(
            self.send(
                h,
                token,
                json!({"jsonrpc": "2.0", "method": "notifications/initialized"})
            )
            .await,
            StatusCode::ACCEPTED
        );
    }
}

#[tokio::test]
async fn legacy_sse_transport_serves_all_tools_without_cross_talk() {
    let h = Http::start();
    let mut a = Sse::open(&h, &h.token).await;
    let mut b = Sse::open(&h, &h.token).await;
    assert_ne!(a.endpoint, b.endpoint);
    let id = a.endpoint.split("sessionId=").nth(1).unwrap();
    assert!(
        uuid::Uuid::parse_str(id).is_ok_and(|u| u.get_version_num() == 4),
        "session ids are random UUIDs"
    );
    a.handshake(&h, &h.token).await;
    b.handshake(&h, &h.token).await;
    let call = |id: u32, name: &str, args: Value| json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": name, "arguments": args}});
    a.send(&h, &h.token, call(7, "store_credential", json!({"service_id": "cohere", "credential_type": "api_key", "credential_value": "co-1"}))).await;
    b.send(&h, &h.token, call(8, "list_credentials", json!({})))
        .await;
    let ra = a.reply().await;
    let rb = b.reply().await;
    assert_eq!(ra["id"], 7, "session a got only its own reply");
    assert_eq!(rb["id"], 8, "session b got only its own reply");
    assert_eq!(ra["result"]["structuredContent"]["service_name"], "Cohere");
    b.send(
        &h,
        &h.token,
        json!({"jsonrpc": "2.0", "id": 9, "method": "tools/list"}),
    )
    .await;
    assert_eq!(
        b.reply().await["result"]["tools"].as_array().unwrap().len(),
        8
    );
    b.send(
        &h,
        &h.token,
        call(
            10,
            "create_secret",
            json!({"name": "SSE_SECRET", "provider": "cohere", "value": "abcdefgh"}),
        ),
    )
    .await;
    assert_eq!(
        b.reply().await["result"]["structuredContent"]["masked_value"],
        "ab••••h"
    );

    // A session id is not an authenticator: another token cannot post into it.
    let other = token(&h.env, "other");
    assert_eq!(
        a.send(&h, &other, call(11, "list_credentials", json!({})))
            .await,
        StatusCode::NOT_FOUND
    );
    let r = Http::client()
        .post(h.url("/message?sessionId=00000000-0000-4000-8000-000000000000"))
        .bearer_auth(&h.token)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = Http::client()
        .post(h.url(&a.endpoint))
        .bearer_auth(&h.token)
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn every_seed_route_answers_as_documented() {
    let h = Http::start();
    // Seed 000.
    let (s, b) = h
        .post(
            "/api/credentials",
            json!({"service": "openai", "name": "production", "key": "sk-proj-..."}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(b.as_object().unwrap().len(), 5, "{b}");
    assert_eq!(
        (
            b["service"].as_str(),
            b["name"].as_str(),
            &b["last_used_at"]
        ),
        (Some("openai"), Some("production"), &Value::Null)
    );
    assert!(b["created_at"].is_i64() && uuid::Uuid::parse_str(b["id"].as_str().unwrap()).is_ok());
    for bad in [
        json!({"service": "openai", "name": "x"}),
        json!({"service": " ", "name": "x", "key": "k"}),
        json!({}),
    ] {
        let (s, b) = h.post("/api/credentials", bad).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert_eq!(b, json!({"error": "service, name, and key are required"}));
    }
    let (s, b) = h
        .post(
            "/api/credentials",
            json!({"service": "nope", "name": "x", "key": "k"}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(b["error"].as_str().unwrap().contains("custom.<name>"));
    // Seed 001.
    let r = Http::client()
        .get(h.url("/api/credentials"))
        .bearer_auth(&h.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let list: Value = r.json().await.unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0].as_object().unwrap().len(), 5);
    // Seed 002.
    let (s, b) = h
        .post(
            "/api/v1/user/secrets",
            json!({"name": "OPENAI_API_KEY", "provider": "openai", "value": "example"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(
        (b["masked_value"].as_str(), b["name"].as_str()),
        (Some("e••••"), Some("OPENAI_API_KEY"))
    );
    let (s, b) = h
        .post(
            "/api/v1/user/secrets",
            json!({"name": "OPENAI_API_KEY", "provider": "openai", "value": "example"}),
        )
        .await;
    assert_eq!(
        (s, b["code"].as_i64(), b["type"].as_str()),
        (StatusCode::CONFLICT, Some(409), Some("conflict_error"))
    );
    let (s, b) = h
        .post(
            "/api/v1/user/secrets",
            json!({"name": "1BAD", "provider": "openai"}),
        )
        .await;
    assert_eq!(
        (s, b["code"].as_i64()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some(422))
    );
    assert_eq!(b["errors"].as_array().unwrap().len(), 2);
    // Seed 003.
    let (s, b) = h
        .post("/api/v1/credentials", json!({"name": "My OpenAI Key", "credentialName": "openAIApi", "plainDataObj": {"openAIApiKey": "sk-flowise-1"}}))
        .await;
    assert_eq!(s, StatusCode::OK);
    for k in [
        "id",
        "name",
        "credentialName",
        "encryptedData",
        "createdDate",
        "updatedDate",
        "workspaceId",
    ] {
        assert!(b.get(k).is_some(), "{k} missing: {b}");
    }
    assert_eq!(b["credentialName"], "openAIApi");
    assert!(
        !b.to_string().contains("sk-flowise-1"),
        "encryptedData is sealed"
    );
    let (s, _) = h.post("/api/v1/credentials", json!({"name": "P", "credentialName": "pineconeApi", "plainDataObj": {"pineconeApiKey": "pcsk_1"}})).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = h
        .post(
            "/api/v1/credentials",
            json!({"name": "Z", "credentialName": "zapierNLA", "plainDataObj": {"k": "v"}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let r = Http::client()
        .post(h.url("/api/v1/credentials"))
        .bearer_auth(&h.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PRECONDITION_FAILED);
    let (s, _) = h
        .post(
            "/api/v1/credentials",
            json!({"name": "x", "credentialName": "openAIApi"}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // Seed 004, with its own header.
    let r = Http::client()
        .post(h.url("/v1/credentials/store"))
        .header("danube-api-key", &h.token)
        .json(&json!({"service_id": "svc_openai_001", "credential_type": "bearer", "credential_value": "sk-proj-abc123..."}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let b: Value = r.json().await.unwrap();
    assert_eq!(
        (
            b["success"].as_bool(),
            b["service_id"].as_str(),
            b["service_name"].as_str(),
            b["credential_type"].as_str()
        ),
        (
            Some(true),
            Some("svc_openai_001"),
            Some("OpenAI"),
            Some("bearer")
        )
    );
    let (s, b) = h
        .post(
            "/v1/credentials/store",
            json!({"service_id": "openai", "credential_type": "oauth", "credential_value": "x"}),
        )
        .await;
    assert_eq!(
        (s, b["errors"][0]["loc"][0].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("credential_type"))
    );

    // Everything stored over REST is listed by the tools, by every route's record.
    let c = h.mcp(ClientLifecycleMode::Initialize).await;
    let listed = call(&c, "list_credentials", json!({})).await;
    let services: Vec<&str> = listed.body["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["service"].as_str().unwrap())
        .collect();
    for s in ["openai", "pinecone", "custom.zapiernla"] {
        assert!(services.contains(&s), "{s} not in {services:?}");
    }
    let _ = c.cancel().await;
    assert!(!contains(&h.env.file_bytes(), "sk-flowise-1"));
}

#[tokio::test]
async fn no_wrong_or_revoked_tokens_get_401_everywhere_but_healthz() {
    let h = Http::start();
    let routes: [(&str, &str); 8] = [
        ("POST", "/mcp"),
        ("GET", "/sse"),
        ("POST", "/message?sessionId=x"),
        ("POST", "/api/credentials"),
        ("GET", "/api/credentials"),
        ("POST", "/api/v1/user/secrets"),
        ("POST", "/api/v1/credentials"),
        ("POST", "/v1/credentials/store"),
    ];
    for token in [None, Some("cvt_wrong"), Some("")] {
        for (method, path) in routes {
            let mut req = Http::client()
                .request(method.parse().unwrap(), h.url(path))
                .body("{}");
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            let r = req.send().await.unwrap();
            assert_eq!(
                r.status(),
                StatusCode::UNAUTHORIZED,
                "{method} {path} {token:?}"
            );
            assert_eq!(r.headers()["www-authenticate"], "Bearer");
        }
    }
    let r = Http::client().get(h.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // Revocation from another process takes effect at once.
    let (s, _) = h
        .post(
            "/v1/credentials/store",
            json!({"service_id": "openai", "credential_type": "bearer", "credential_value": "x"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let o = h.env.run(&["token", "revoke", "test"], "");
    assert!(o.status.success(), "{o:?}");
    let (s, _) = h
        .post(
            "/v1/credentials/store",
            json!({"service_id": "openai", "credential_type": "bearer", "credential_value": "x"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let o = h.env.run(&["token", "list"], "");
    assert!(!String::from_utf8_lossy(&o.stdout).contains("test"));
}

#[tokio::test]
async fn foreign_host_or_origin_gets_403_on_every_route() {
    let h = Http::start();
    let routes = [
        "/mcp",
        "/sse",
        "/message?sessionId=x",
        "/api/credentials",
        "/api/v1/user/secrets",
        "/api/v1/credentials",
        "/v1/credentials/store",
        "/healthz",
    ];
    for path in routes {
        for (name, value) in [
            ("host", "evil.example"),
            ("host", "localhost.evil.example:3978"),
            ("origin", "https://evil.example"),
            ("origin", "null"),
        ] {
            let r = Http::client()
                .post(h.url(path))
                .bearer_auth(&h.token)
                .header(name, value)
                .body("{}")
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path} {name}: {value}");
        }
    }
    // Loopback origins (a local browser tool) pass the guard.
    let r = Http::client()
        .get(h.url("/api/credentials"))
        .bearer_auth(&h.token)
        .header("origin", "http://localhost:6274")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let h2 = Http::start_with(Env::new(), &["--allow-origin", "https://app.example.com"]);
    let r = Http::client()
        .get(h2.url("/healthz"))
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn bodies_over_one_mib_get_413() {
    let h = Http::start();
    let big = json!({"service_id": "openai", "credential_type": "bearer", "credential_value": "x".repeat(1024 * 1024)});
    for path in [
        "/v1/credentials/store",
        "/api/v1/user/secrets",
        "/api/credentials",
        "/mcp",
    ] {
        let r = Http::client()
            .post(h.url(path))
            .bearer_auth(&h.token)
            .json(&big)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE, "{path}");
    }
    // Chunked, with no Content-Length.
    let stream =
        futures::stream::iter((0..20).map(|_| Ok::<_, std::io::Error>(vec![b' '; 64 * 1024])));
    let r = Http::client()
        .post(h.url("/v1/credentials/store"))
        .bearer_auth(&h.token)
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn one_vault_across_stdio_and_http_processes() {
    let h = Http::start();
    let stdio = h.env.client().await;
    stdio.ok("store_credential", json!({"service_id": "mistral", "credential_type": "bearer", "credential_value": "m-1", "name": "from-stdio"})).await;
    let r = Http::client()
        .get(h.url("/api/credentials"))
        .bearer_auth(&h.token)
        .send()
        .await
        .unwrap();
    let list: Value = r.json().await.unwrap();
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|i| i["name"] == "from-stdio")
    );
    let (s, _) = h
        .post(
            "/api/credentials",
            json!({"service": "anthropic", "name": "from-rest", "key": "k"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let listed = stdio.ok("list_credentials", json!({})).await;
    assert!(
        listed["credentials"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["name"] == "from-rest")
    );
    stdio.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_concurrent_http_clients_lose_no_write() {
    let h = Http::start();
    let mut tasks = Vec::new();
    for i in 0..16 {
        let url = h.url("/v1/credentials/store");
        let token = h.token.clone();
        tasks.push(tokio::spawn(async move {
            for j in 0..10 {
                let r = Http::client()
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&json!({"service_id": "custom.conc", "credential_type": "api_key", "credential_value": "v", "name": format!("c{i}-{j}")}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), StatusCode::OK);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let r = Http::client()
        .get(h.url("/api/credentials"))
        .bearer_auth(&h.token)
        .send()
        .await
        .unwrap();
    let list: Value = r.json().await.unwrap();
    assert_eq!(list.as_array().unwrap().len(), 160);
}

#[test]
fn remote_binds_and_no_auth_are_refused_without_consent() {
    let env = Env::new();
    env.run(&["init"], "");
    let o = env.run(&["serve", "--http", "0.0.0.0:0"], "");
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--allow-remote"));
    let o = env.run(
        &[
            "serve",
            "--http",
            "0.0.0.0:0",
            "--allow-remote",
            "--no-auth",
        ],
        "",
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("loopback"));
}

#[tokio::test]
async fn logs_never_carry_a_token_or_a_value() {
    let mut env = Env::new();
    env.extra_env.push(("RUST_LOG".into(), "trace".into()));
    let log = env.dir.path().join("http-stderr.log");
    assert!(env.run(&["init"], "").status.success());
    let token = token(&env, "logcheck");
    let mut cmd = env.cmd();
    cmd.args(["serve", "--http", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(&log).unwrap()));
    let mut child = cmd.spawn().unwrap();
    let base = loop {
        let text = std::fs::read_to_string(&log).unwrap();
        if let Some(line) = text
            .lines()
            .find_map(|l| l.strip_prefix("credvault: listening on "))
        {
            break line.to_owned();
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let value = "HTTPMARKERVALUE42x";
    let c = Http::client();
    c.post(format!("{base}/v1/credentials/store")).bearer_auth(&token)
        .json(&json!({"service_id": "openai", "credential_type": "bearer", "credential_value": value})).send().await.unwrap();
    c.post(format!("{base}/api/credentials"))
        .bearer_auth("cvt_wrongtoken")
        .json(&json!({"service": "openai", "name": "n", "key": value}))
        .send()
        .await
        .unwrap();
    let t = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(format!("{base}/mcp"))
            .auth_header(token.clone()),
    );
    let mcp = ().serve(t).await.unwrap();
    let r = call(&mcp, "store_credential", json!({"service_id": "openai", "credential_type": "bearer", "credential_value": value, "name": "m"})).await;
    assert!(!r.raw.contains(value));
    let _ = mcp.cancel().await;
    let _ = child.kill();
    let _ = child.wait();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("TRACE") || text.contains("DEBUG"));
    for marker in [value, token.as_str(), &token[4..20], "cvt_wrongtoken"] {
        assert!(!text.contains(marker), "{marker} in the server's log");
    }
}
