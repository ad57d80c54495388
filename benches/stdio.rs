//! Timing runs for the closing notes (never asserted): `cargo bench --bench stdio`.
//!
//! Spawn → tools/list; unlock (Argon2id at the real default) next to
//! `/usr/bin/argon2` at the same parameters; store_credential and
//! list_credentials p50 over 200 sequential stdio calls; list_credentials with
//! 10,000 credentials; the server's peak and steady RSS.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod common;
use common::{bin, pct};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use credvault::crypto::kdf::{KdfHeader, KdfParams, derive_master_key};
use credvault::{SecretString, Vault, validate};
use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::service::RunningService;
use rmcp::transport::TokioChildProcess;
use serde_json::{Value, json};

const PASSWORD: &str = "bench password";

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

struct Server {
    client: RunningService<rmcp::RoleClient, ()>,
    pid: u32,
}

async fn spawn(dir: &Path, vault: &Path, cheap: bool) -> Server {
    let pw = dir.join("pw");
    std::fs::write(&pw, PASSWORD).unwrap();
    let mut cmd = tokio::process::Command::new(bin());
    cmd.arg("serve")
        .env_clear()
        .env("CREDVAULT_PATH", vault)
        .env("CREDVAULT_PASSWORD_FILE", &pw);
    if cheap {
        cmd.env("CREDVAULT_KDF_MEMORY_MIB", "8")
            .env("CREDVAULT_KDF_ITERATIONS", "1");
    }
    let (t, _) = TokioChildProcess::builder(cmd)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = t.id().unwrap();
    let client = ().serve(t).await.unwrap();
    Server { client, pid }
}

async fn call(s: &Server, tool: &str, args: Value) -> Duration {
    let started = Instant::now();
    let r = s
        .client
        .call_tool(
            CallToolRequestParams::new(tool.to_owned())
                .with_arguments(args.as_object().unwrap().clone()),
        )
        .await
        .unwrap();
    let d = started.elapsed();
    assert_ne!(r.is_error, Some(true), "{tool} failed: {:?}", r.content);
    d
}

fn rss(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
            / 1024
    };
    (field("VmHWM:"), field("VmRSS:"))
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    println!("credvault stdio bench (medians from one run)\n");

    // 1. Unlock: Argon2id at the product default, ours vs the reference CLI.
    let header = KdfHeader::generate(KdfParams::DEFAULT).unwrap();
    let pw = SecretString::from(PASSWORD);
    let ours = median(
        (0..5)
            .map(|_| {
                let t = Instant::now();
                derive_master_key(&pw, &header).unwrap();
                t.elapsed()
            })
            .collect(),
    );
    println!("argon2id m=256MiB t=3 p=1, credvault:      {}", ms(ours));
    if Path::new("/usr/bin/argon2").exists() {
        let times: Vec<Duration> = (0..5)
            .map(|_| {
                let t = Instant::now();
                let mut child = std::process::Command::new("/usr/bin/argon2")
                    .args([
                        "saltsaltsaltsalt",
                        "-id",
                        "-t",
                        "3",
                        "-k",
                        "262144",
                        "-p",
                        "1",
                        "-l",
                        "32",
                        "-r",
                    ])
                    .stdin(Stdio::piped())
                    .stdout(Stdio::null())
                    .spawn()
                    .unwrap();
                use std::io::Write;
                child
                    .stdin
                    .take()
                    .unwrap()
                    .write_all(PASSWORD.as_bytes())
                    .unwrap();
                child.wait().unwrap();
                t.elapsed()
            })
            .collect();
        println!(
            "argon2id m=256MiB t=3 p=1, /usr/bin/argon2: {}",
            ms(median(times))
        );
    } else {
        println!("/usr/bin/argon2 not installed (apt-get install argon2) — reference skipped");
    }

    // 2. Spawn → tools/list on an existing vault (default KDF: unlock runs beside it).
    let vault = dir.path().join("v.redb");
    Vault::open_or_create(&vault, &pw, KdfParams::DEFAULT).unwrap();
    let mut spawns = Vec::new();
    for _ in 0..10 {
        let t = Instant::now();
        let s = spawn(dir.path(), &vault, false).await;
        s.client.list_all_tools().await.unwrap();
        spawns.push(t.elapsed());
        let first_call = Instant::now();
        call(&s, "list_credentials", json!({})).await;
        if spawns.len() == 1 {
            println!(
                "first tool call after spawn (waits for unlock): {}",
                ms(first_call.elapsed())
            );
        }
        let _ = s.client.cancel().await;
    }
    println!(
        "spawn → initialize → tools/list:            {}",
        ms(median(spawns))
    );

    // 3. 200 sequential stores and lists on stdio.
    let s = spawn(dir.path(), &vault, false).await;
    let mut stores = Vec::new();
    for i in 0..200 {
        stores.push(
            call(
                &s,
                "store_credential",
                json!({"service_id": "custom.bench", "credential_type": "api_key",
                 "credential_value": format!("value-{i}"), "name": format!("n{i}")}),
            )
            .await,
        );
    }
    let mut lists = Vec::new();
    for _ in 0..200 {
        lists.push(call(&s, "list_credentials", json!({})).await);
    }
    println!(
        "store_credential p50 (200 calls, fsync each): {}  p99 {}",
        ms(pct(&mut stores, 0.5)),
        ms(pct(&mut stores, 0.99))
    );
    println!(
        "list_credentials p50 (200 calls, 200 creds):  {}  p99 {}",
        ms(pct(&mut lists, 0.5)),
        ms(pct(&mut lists, 0.99))
    );
    let (peak, steady) = rss(s.pid);
    println!("server RSS after 400 calls: peak {peak} MiB, now {steady} MiB");
    let _ = s.client.cancel().await;

    // 4. list_credentials with 10,000 credentials (filled through the library:
    //    same sealing and one durable transaction per credential).
    let big = dir.path().join("big.redb");
    let v = Vault::open_or_create(
        &big,
        &pw,
        KdfParams {
            m_kib: 8192,
            t: 1,
            p: 1,
        },
    )
    .unwrap()
    .0;
    let fill = Instant::now();
    for i in 0..10_000 {
        let req = validate::store_credential(
            json!({"service_id": "custom.bulk", "credential_type": "api_key",
                   "credential_value": format!("bulk-value-{i:05}"), "name": format!("c{i:05}")})
            .as_object()
            .unwrap()
            .clone(),
        )
        .unwrap();
        v.store_credential(&req, "test").unwrap();
    }
    drop(v);
    println!(
        "\nfilled 10,000 credentials in {:.1} s",
        fill.elapsed().as_secs_f64()
    );
    let size = std::fs::metadata(&big).unwrap().len();
    println!(
        "vault file with 10,000 credentials: {:.1} MiB",
        size as f64 / 1048576.0
    );
    let s = spawn(dir.path(), &big, true).await;
    let first = Instant::now();
    call(&s, "list_credentials", json!({})).await;
    println!(
        "first list after start, 10,000 credentials (decrypts all): {}",
        ms(first.elapsed())
    );
    let mut big_lists = Vec::new();
    for _ in 0..50 {
        big_lists.push(call(&s, "list_credentials", json!({})).await);
    }
    println!(
        "list_credentials first page (200) p50 with 10,000 credentials: {}",
        ms(median(big_lists))
    );
    let (peak, steady) = rss(s.pid);
    println!("server RSS with 10,000 credentials listed: peak {peak} MiB, now {steady} MiB");
    let _ = s.client.cancel().await;

    // 5. The seed-001 REST route returns all 10,000 (its contract), over HTTP.
    let pwf = dir.path().join("pw");
    let token = {
        let o = std::process::Command::new(bin())
            .args(["token", "create", "--name", "bench"])
            .env_clear()
            .env("CREDVAULT_PATH", &big)
            .env("CREDVAULT_PASSWORD_FILE", &pwf)
            .output()
            .unwrap();
        String::from_utf8(o.stdout).unwrap().trim().to_owned()
    };
    let mut server = std::process::Command::new(bin())
        .args(["serve", "--http", "127.0.0.1:0"])
        .env_clear()
        .env("CREDVAULT_PATH", &big)
        .env("CREDVAULT_PASSWORD_FILE", &pwf)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let base = {
        use std::io::BufRead;
        let mut lines = std::io::BufReader::new(server.stderr.take().unwrap()).lines();
        loop {
            let line = lines.next().unwrap().unwrap();
            if let Some(u) = line.strip_prefix("credvault: listening on ") {
                break u.to_owned();
            }
        }
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let mut rest = Vec::new();
    let mut bytes = 0;
    for _ in 0..30 {
        let t = Instant::now();
        let body = http
            .get(format!("{base}/api/credentials"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        rest.push(t.elapsed());
        bytes = body.len();
    }
    println!(
        "GET /api/credentials (all 10,000, {:.1} MB) p50, loopback round trip: {}",
        bytes as f64 / 1e6,
        ms(median(rest))
    );
    let _ = server.kill();
    let _ = server.wait();
}
