//! HTTP regression tests for the hardening issue (#12): each failed before its fix.

use std::time::{Duration, Instant};

use rmcp::ClientLifecycleMode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::Env;
use crate::http::{Http, call};

fn addr(h: &Http) -> String {
    h.base.trim_start_matches("http://").to_owned()
}

/// Writes `request` on a fresh connection; returns the status code.
async fn raw_status(addr: &str, request: &str) -> u16 {
    raw_status_within(addr, request, Duration::from_secs(10))
        .await
        .expect("an answer within 10 s")
}

/// The status code, or `None` when no answer came within `wait`.
async fn raw_status_within(addr: &str, request: &str, wait: Duration) -> Option<u16> {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 512];
    let n = tokio::time::timeout(wait, s.read(&mut buf))
        .await
        .ok()?
        .unwrap();
    let head = String::from_utf8_lossy(&buf[..n]).into_owned();
    Some(
        head.split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("{head}")),
    )
}

/// #12.8: one Host header; an absolute-form target's host is checked like
/// Host; malformed authorities are foreign.
#[tokio::test]
async fn host_headers_are_parsed_strictly() {
    let h = Http::start();
    let a = addr(&h);
    let get = |target: &str, hosts: &[&str]| {
        let mut r = format!("GET {target} HTTP/1.1\r\n");
        for host in hosts {
            r.push_str(&format!("Host: {host}\r\n"));
        }
        r.push_str("Connection: close\r\n\r\n");
        r
    };
    assert_eq!(raw_status(&a, &get("/healthz", &[&a])).await, 200);
    assert_eq!(
        raw_status(&a, &get("/healthz", &[&a, "evil.com"])).await,
        400
    );
    assert_eq!(raw_status(&a, &get("/healthz", &[&a, &a])).await, 400);
    assert_eq!(
        raw_status(&a, &get("http://evil.com/healthz", &[&a])).await,
        403
    );
    for bad in [
        "localhost:evil.com",
        "[::1]evil",
        "127.0.0.1:",
        "127.0.0.1:80:80",
        "user@localhost",
    ] {
        assert_eq!(raw_status(&a, &get("/healthz", &[bad])).await, 403, "{bad}");
    }
}

/// #12.9b: OAuth discovery gets 404; a 401 carries OAuth's `error` field.
#[tokio::test]
async fn oauth_discovery_is_404_and_401_says_invalid_token() {
    let h = Http::start();
    for path in [
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
    ] {
        let r = Http::client().get(h.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
    }
    let r = Http::client()
        .post(h.url("/mcp"))
        .header("accept", "application/json, text/event-stream")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        (body["error"].as_str(), body["code"].as_u64()),
        (Some("invalid_token"), Some(401)),
        "{body}"
    );
}

/// #12.9a: with a locked vault the MCP handshake over HTTP succeeds and each
/// tool answers 423 with the reason, as over stdio; REST stays 423.
#[tokio::test]
async fn a_locked_vault_completes_the_http_handshake() {
    let h = Http::start_full(Env::new(), &[], &[], |env| {
        env.pw_file = env.with_password("not the password");
    });
    let m = h.mcp(ClientLifecycleMode::Initialize).await;
    assert_eq!(m.list_all_tools().await.unwrap().len(), 8);
    let o = call(&m, "list_credentials", json!({})).await;
    assert!(o.is_error);
    assert_eq!(o.body["code"], 423, "{}", o.raw);
    let _ = m.cancel().await;
    let r = Http::client()
        .get(h.url("/api/credentials"))
        .bearer_auth(&h.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 423);
}

/// #12.7: a token holds at most 64 Streamable HTTP sessions; closing one
/// makes room.
#[tokio::test]
async fn sessions_per_token_are_capped() {
    let h = Http::start();
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
    let open = || async {
        Http::client()
            .post(h.url("/mcp"))
            .bearer_auth(&h.token)
            .header("accept", "application/json, text/event-stream")
            .json(&init)
            .send()
            .await
            .unwrap()
    };
    let mut ids = Vec::new();
    for _ in 0..64 {
        let r = open().await;
        assert!(r.status().is_success(), "{}", r.status());
        ids.push(r.headers()["mcp-session-id"].to_str().unwrap().to_owned());
    }
    let r = open().await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().get("mcp-session-id").is_none());
    let r = Http::client()
        .delete(h.url("/mcp"))
        .bearer_auth(&h.token)
        .header("mcp-session-id", &ids[0])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    assert!(
        open().await.status().is_success(),
        "a closed session frees its slot"
    );
}

/// #12.5: sockets that never send a request head no longer lock clients out:
/// with the server's soft descriptor limit lowered to 96 (hard 256), 200
/// half-open connections still leave /healthz answering (the limit is raised,
/// connections are capped below it, silent ones close after 5 s, and at the
/// cap the longest-idle one gives way to a newcomer: #20.5).
#[tokio::test]
async fn half_open_connections_do_not_lock_clients_out() {
    let h = Http::start_full(
        Env::new(),
        &[],
        &["prlimit", "--nofile=96:256", "--"],
        |_| {},
    );
    let a = addr(&h);
    let mut idle = Vec::new();
    for _ in 0..200 {
        idle.push(TcpStream::connect(&a).await.unwrap());
    }
    let started = Instant::now();
    let status = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            // Before #20.5 this queued behind the silent sockets until the
            // header timeout closed them: wait longer than that per attempt.
            let request =
                format!("GET /healthz HTTP/1.1\r\nHost: {a}\r\nConnection: close\r\n\r\n");
            if let Some(s) = raw_status_within(&a, &request, Duration::from_secs(20)).await {
                return s;
            }
        }
    })
    .await
    .expect("/healthz answered despite 200 half-open sockets");
    assert_eq!(status, 200);
    eprintln!(
        "healthz answered after {:?} with 200 half-open sockets",
        started.elapsed()
    );
    // The silent sockets were closed by the server.
    let mut closed = 0;
    for mut s in idle {
        let mut b = [0u8; 1];
        if let Ok(Ok(0)) = tokio::time::timeout(Duration::from_secs(15), s.read(&mut b)).await {
            closed += 1;
        }
    }
    assert!(
        closed >= 150,
        "only {closed} of 200 silent sockets were closed"
    );
}
