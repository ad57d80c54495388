//! #20.5: the entry page cannot be starved. Another local process (the port is
//! in /proc/net/tcp) holds connections to it — silent ones, and ones that
//! trickle a request line a byte at a time — and reopens each one the server
//! closes; the person's link must still open and take the value, on stdio
//! mode's own listener and on `serve --http`'s.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use reqwest::StatusCode;
use rmcp::ServiceExt;
use rmcp::transport::TokioChildProcess;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

use crate::common::{BIN, Client, Env, credential_names, marked_value};
use crate::http::{Http, call};

/// Lowers credvault's descriptor limit so its connection cap is 192 (256
/// less the 64 it keeps back): the crowd's 220 sockets are more than that.
const PRLIMIT: [&str; 3] = ["prlimit", "--nofile=96:256", "--"];

/// How long the person may wait, generously: a starved page never answers
/// within it (the crowd's sockets are held for 10 s each, and reopened).
const PATIENCE: Duration = Duration::from_secs(10);

/// Sockets another local process holds on `addr`, each reopened (after a
/// short pause) as soon as the server closes it; all closed when dropped.
struct Crowd {
    _held: JoinSet<()>,
}

impl Crowd {
    /// `silent` sockets that send nothing, `trickling` ones that send a
    /// request line a byte every 250 ms; returns once all are connected.
    async fn hold(addr: SocketAddr, silent: usize, trickling: usize) -> Self {
        let mut set = JoinSet::new();
        for i in 0..silent + trickling {
            let first = TcpStream::connect(addr).await.unwrap();
            let trickle = i >= silent;
            set.spawn(async move {
                let mut s = Some(first);
                loop {
                    let tcp = match s.take() {
                        Some(t) => t,
                        None => match TcpStream::connect(addr).await {
                            Ok(t) => t,
                            Err(_) => {
                                tokio::time::sleep(Duration::from_millis(25)).await;
                                continue;
                            }
                        },
                    };
                    if trickle {
                        trickle_until_closed(tcp).await;
                    } else {
                        silent_until_closed(tcp).await;
                    }
                    tokio::time::sleep(Duration::from_millis(25)).await;
                }
            });
        }
        Self { _held: set }
    }
}

async fn silent_until_closed(mut tcp: TcpStream) {
    let mut b = [0u8; 64];
    while let Ok(n) = tcp.read(&mut b).await {
        if n == 0 {
            return;
        }
    }
}

async fn trickle_until_closed(mut tcp: TcpStream) {
    if tcp.write_all(b"GET /enter/").await.is_err() {
        return;
    }
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        if tcp.write_all(b"A").await.is_err() {
            return;
        }
    }
}

fn port_of(url: &str) -> SocketAddr {
    let u = url::Url::parse(url).unwrap();
    SocketAddr::from(([127, 0, 0, 1], u.port().unwrap()))
}

/// The person opens `url` and stores a value, each on a new connection, as
/// a browser does after the minutes it takes to find the key.
async fn person_enters(env: &Env, url: &str, tag: &str) {
    let v = marked_value(tag);
    env.sent.lock().unwrap().push(v.clone());
    let started = std::time::Instant::now();
    let entered = tokio::time::timeout(PATIENCE, async {
        let page = fresh().get(url).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        assert!(page.text().await.unwrap().contains("type=\"password\""));
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs([("allowed_hosts", ""), ("value", v.as_str())])
            .finish();
        let done = fresh()
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("origin", "null")
            .header("sec-fetch-site", "same-origin")
            .body(body)
            .send()
            .await
            .unwrap();
        (done.status(), done.text().await.unwrap())
    })
    .await;
    let (status, page) = entered.unwrap_or_else(|_| {
        panic!("the entry page did not answer within {PATIENCE:?} while the crowd held it")
    });
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Key stored"), "{page}");
    eprintln!("{tag}: opened and stored in {:?}", started.elapsed());
}

/// A client with no pooled connection.
fn fresh() -> reqwest::Client {
    crate::common::install_tls_provider();
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

/// `credvault serve` (stdio) under `wrapper`, with rmcp's client.
async fn client_under(env: &Env, wrapper: &[&str]) -> Client {
    let stderr_path = env.dir.path().join("stderr-wrapped.log");
    let (program, args) = wrapper.split_first().unwrap();
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .arg(BIN)
        .arg("serve")
        .env_clear()
        .envs(env.envs());
    let (transport, _) = TokioChildProcess::builder(cmd)
        .stderr(Stdio::from(std::fs::File::create(&stderr_path).unwrap()))
        .spawn()
        .unwrap();
    Client {
        service: ().serve(transport).await.expect("MCP handshake"),
        stderr_path,
        sent: env.sent.clone(),
    }
}

#[tokio::test]
async fn the_stdio_entry_page_answers_while_another_process_holds_connections() {
    let env = Env::new();
    let c = client_under(&env, &PRLIMIT).await;
    // 70 (the count: more than the 64 the listener used to take),
    // then more than the cap.
    for (i, (silent, trickling)) in [(70, 10), (200, 20)].into_iter().enumerate() {
        let name = format!("crowd{i}");
        let r = c
            .ok(
                "request_credential",
                json!({"service_id": "openai", "credential_type": "bearer", "name": name}),
            )
            .await;
        let url = r["url"].as_str().unwrap().to_owned();
        let crowd = Crowd::hold(port_of(&url), silent, trickling).await;
        person_enters(&env, &url, &name).await;
        drop(crowd);
        assert!(
            credential_names(&c)
                .await
                .contains(&format!("openai/{name}"))
        );
    }
    c.stop().await;
}

#[tokio::test]
async fn the_http_entry_page_answers_while_another_process_holds_connections() {
    let h = Http::start_full(Env::new(), &[], &PRLIMIT, |_| {});
    let m = h.mcp(rmcp::ClientLifecycleMode::Initialize).await;
    for (i, (silent, trickling)) in [(70, 10), (200, 20)].into_iter().enumerate() {
        let name = format!("crowd{i}");
        let r = call(
            &m,
            "request_credential",
            json!({"service_id": "openai", "credential_type": "bearer", "name": name}),
        )
        .await;
        assert!(!r.is_error, "{}", r.raw);
        let url = r.body["url"].as_str().unwrap().to_owned();
        assert!(url.starts_with(&h.base), "{url}");
        let crowd = Crowd::hold(port_of(&url), silent, trickling).await;
        person_enters(&h.env, &url, &name).await;
        drop(crowd);
    }
    let listed = call(&m, "list_credentials", json!({})).await;
    let text = listed.body.to_string();
    assert!(text.contains("crowd0") && text.contains("crowd1"), "{text}");
    let _ = m.cancel().await;
}
