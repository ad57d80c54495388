//! HTTP timing runs for the closing notes (never asserted): `cargo bench --bench http`.
//!
//! list_credentials p50/p99 over 2,000 sequential calls on Streamable HTTP
//! (2025-11-25 session, 2026-07-28 stateless), legacy SSE and stdio, and calls/s
//! with 16 concurrent clients, all against one vault in one run.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod common;
use common::{bin, pct};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use rmcp::model::{CallToolRequestParams, ProtocolVersion};
use rmcp::service::RunningService;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{ClientLifecycleMode, RoleClient, ServiceExt, serve_client_with_lifecycle};
use serde_json::{Value, json};

const CALLS: usize = 2000;
const CLIENTS: usize = 16;
const PER_CLIENT: usize = 100;

type Client = RunningService<RoleClient, ()>;

fn report(name: &str, mut v: Vec<Duration>) {
    let p50 = pct(&mut v, 0.5);
    let p99 = pct(&mut v, 0.99);
    println!(
        "{name:<34} p50 {:>7.3} ms   p99 {:>7.3} ms",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3
    );
}

async fn list(c: &Client) {
    let r = c
        .call_tool(CallToolRequestParams::new("list_credentials"))
        .await
        .unwrap();
    assert_ne!(r.is_error, Some(true));
}

async fn sequential(c: &Client) -> Vec<Duration> {
    let mut v = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let t = Instant::now();
        list(c).await;
        v.push(t.elapsed());
    }
    v
}

async fn concurrent(clients: Vec<Arc<Client>>) -> f64 {
    let t = Instant::now();
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|c| {
            tokio::spawn(async move {
                for _ in 0..PER_CLIENT {
                    list(&c).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    (CLIENTS * PER_CLIENT) as f64 / t.elapsed().as_secs_f64()
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn env(cmd: &mut Command, dir: &std::path::Path) {
    cmd.env_clear()
        .env("CREDVAULT_PATH", dir.join("v.redb"))
        .env("CREDVAULT_PASSWORD_FILE", dir.join("pw"))
        .env("CREDVAULT_KDF_MEMORY_MIB", "8")
        .env("CREDVAULT_KDF_ITERATIONS", "1");
}

async fn http_client(base: &str, token: &str, modern: bool) -> Client {
    let t = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(format!("{base}/mcp"))
            .auth_header(token.to_owned()),
    );
    let mode = if modern {
        ClientLifecycleMode::Discover {
            preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        }
    } else {
        ClientLifecycleMode::Initialize
    };
    serve_client_with_lifecycle((), t, mode).await.unwrap()
}

/// Legacy SSE, driven by hand: POST a request, read its reply event.
struct Sse {
    events: std::pin::Pin<Box<dyn futures::Stream<Item = String> + Send>>,
    endpoint: String,
    http: reqwest::Client,
    token: String,
    next_id: u64,
}

impl Sse {
    async fn open(base: &str, token: &str) -> Self {
        let http = reqwest::Client::new();
        let r = http
            .get(format!("{base}/sse"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let events = futures::stream::unfold(
            (r.bytes_stream(), String::new()),
            |(mut bytes, mut buf)| async move {
                loop {
                    if let Some(end) = buf.find("\n\n") {
                        let block: String = buf.drain(..end + 2).collect();
                        let data: String = block
                            .lines()
                            .filter_map(|l| l.strip_prefix("data:"))
                            .map(str::trim_start)
                            .collect();
                        if data.is_empty() {
                            continue;
                        }
                        return Some((data, (bytes, buf)));
                    }
                    let chunk = bytes.next().await?.ok()?;
                    buf.push_str(&String::from_utf8_lossy(&chunk));
                }
            },
        );
        let mut events: std::pin::Pin<Box<dyn futures::Stream<Item = String> + Send>> =
            Box::pin(events);
        let endpoint = format!("{base}{}", events.next().await.unwrap());
        let mut s = Self {
            events,
            endpoint,
            http,
            token: token.to_owned(),
            next_id: 1,
        };
        s.request("initialize", json!({"protocolVersion": "2024-11-05", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}})).await;
        s.http
            .post(&s.endpoint)
            .bearer_auth(&s.token)
            .json(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .send()
            .await
            .unwrap();
        s
    }

    async fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let msg = json!({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params});
        self.http
            .post(&self.endpoint)
            .bearer_auth(&self.token)
            .json(&msg)
            .send()
            .await
            .unwrap();
        serde_json::from_str(&self.events.next().await.unwrap()).unwrap()
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // reqwest is built without a default TLS provider (credvault brings its own).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pw"), "bench").unwrap();
    std::fs::set_permissions(
        dir.path().join("pw"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let mut init = Command::new(bin());
    env(&mut init, dir.path());
    assert!(init.arg("init").status().unwrap().success());
    let mut tok = Command::new(bin());
    env(&mut tok, dir.path());
    let token = String::from_utf8(
        tok.args(["token", "create"])
            .stderr(Stdio::null())
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .to_owned();
    // 20 credentials so list_credentials does real work.
    let mut serve = Command::new(bin());
    env(&mut serve, dir.path());
    let mut child = serve
        .args(["serve", "--http", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let base = loop {
        let l = lines.next().unwrap().unwrap();
        if let Some(u) = l.strip_prefix("credvault: listening on ") {
            break u.to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    let _server = Server(child);
    let http = reqwest::Client::new();
    for i in 0..20 {
        http.post(format!("{base}/v1/credentials/store"))
            .bearer_auth(&token)
            .json(&json!({"service_id": "custom.bench", "credential_type": "api_key", "credential_value": "v", "name": format!("n{i}")}))
            .send()
            .await
            .unwrap();
    }
    println!(
        "credvault HTTP bench: {CALLS} sequential list_credentials calls (20 credentials), one run\n"
    );

    let mut cmd = tokio::process::Command::new(bin());
    cmd.arg("serve")
        .env_clear()
        .env("CREDVAULT_PATH", dir.path().join("v.redb"))
        .env("CREDVAULT_PASSWORD_FILE", dir.path().join("pw"));
    let stdio = ()
        .serve(
            TokioChildProcess::builder(cmd)
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
                .0,
        )
        .await
        .unwrap();
    list(&stdio).await;
    report("stdio", sequential(&stdio).await);

    let legacy = http_client(&base, &token, false).await;
    report(
        "Streamable HTTP 2025-11-25 session",
        sequential(&legacy).await,
    );
    let modern = http_client(&base, &token, true).await;
    report("Streamable HTTP 2026-07-28", sequential(&modern).await);

    // The same stateless call from a plain HTTP client (one POST, one JSON
    // reply): the server's share of the line above without rmcp's client.
    let mut v = Vec::with_capacity(CALLS);
    for id in 0..CALLS {
        let t = Instant::now();
        let r: Value = http
            .post(format!("{base}/mcp"))
            .bearer_auth(&token)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", "tools/call")
            .header("mcp-name", "list_credentials")
            .json(
                &json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
                    "name": "list_credentials", "arguments": {},
                    "_meta": {
                        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                        "io.modelcontextprotocol/clientCapabilities": {},
                        "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "1"},
                    },
                }}),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v.push(t.elapsed());
        assert!(
            r["result"]["structuredContent"]["credentials"].is_array(),
            "{r}"
        );
    }
    report("  the same, plain POST client", v);

    let mut sse = Sse::open(&base, &token).await;
    let mut v = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let t = Instant::now();
        let r = sse
            .request(
                "tools/call",
                json!({"name": "list_credentials", "arguments": {}}),
            )
            .await;
        v.push(t.elapsed());
        assert!(r["result"]["isError"] != json!(true));
    }
    report("legacy SSE (2024-11-05)", v);

    println!("\n{CLIENTS} concurrent clients x {PER_CLIENT} calls:");
    let stdio = Arc::new(stdio);
    println!(
        "  stdio (16 tasks, one connection):  {:>8.0} calls/s",
        concurrent(vec![stdio.clone(); CLIENTS]).await
    );
    let mut sessions = Vec::new();
    for _ in 0..CLIENTS {
        sessions.push(Arc::new(http_client(&base, &token, false).await));
    }
    println!(
        "  Streamable HTTP 2025-11-25:        {:>8.0} calls/s",
        concurrent(sessions).await
    );
    let mut stateless = Vec::new();
    for _ in 0..CLIENTS {
        stateless.push(Arc::new(http_client(&base, &token, true).await));
    }
    println!(
        "  Streamable HTTP 2026-07-28:        {:>8.0} calls/s",
        concurrent(stateless).await
    );
}
