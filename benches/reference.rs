//! credvault next to the official reference server, on one harness, in one
//! run (never asserted): `cargo bench --bench reference`.
//!
//! The reference is `@modelcontextprotocol/server-memory` (a knowledge graph
//! kept in a JSON file), installed with npm into
//! `~/.cache/credvault-ci/reference` as this bench's own setup step. Both
//! servers are spawned over stdio and driven by the same rmcp client, one call
//! at a time:
//! * write: 200 × `create_entities` (one entity each) vs 200 × `store_credential`
//!   (sealed, fsynced);
//! * read: 200 × `read_graph` (200 entities) vs 200 × `list_credentials`
//!   (200 credentials, the default page).
//!
//! The reads are timed again on a second harness, a plain line client (write
//! the request line, read the reply line, parse it into a `serde_json::Value`),
//! which leaves out rmcp's typed decoding of the reply (most of the rmcp
//! client's time for an 87 KB reply); it also reports the time to the
//! reply's last byte, before the client parses anything.
//!
//! Prints medians, p99s and the ratios, with the machine's core count.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod common;
use common::{bin, pct};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::service::RunningService;
use rmcp::transport::TokioChildProcess;
use serde_json::{Value, json};

const CALLS: usize = 200;
const REFERENCE: &str = "@modelcontextprotocol/server-memory";

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Installs the reference server once; returns its entry script.
fn install_reference() -> PathBuf {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    let prefix = home.join(".cache/credvault-ci/reference");
    let entry = prefix.join("node_modules/@modelcontextprotocol/server-memory/dist/index.js");
    if !entry.exists() {
        std::fs::create_dir_all(&prefix).unwrap();
        let ok = std::process::Command::new("npm")
            .args(["install", "--silent", "--no-audit", "--no-fund", "--prefix"])
            .arg(&prefix)
            .arg(REFERENCE)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok && entry.exists(), "npm install {REFERENCE} failed");
    }
    entry
}

type Client = RunningService<rmcp::RoleClient, ()>;

async fn call(c: &Client, tool: &str, args: Value) -> Duration {
    let t = Instant::now();
    let r = c
        .call_tool(
            CallToolRequestParams::new(tool.to_owned())
                .with_arguments(args.as_object().unwrap().clone()),
        )
        .await
        .unwrap();
    let d = t.elapsed();
    assert_ne!(r.is_error, Some(true), "{tool}: {:?}", r.content);
    d
}

async fn spawn(cmd: tokio::process::Command) -> Client {
    let (t, _) = TokioChildProcess::builder(cmd)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    ().serve(t).await.unwrap()
}

/// The plain line client: `reads` calls of `method`/`params` after the
/// handshake, each timed from writing the request to the reply's last byte
/// (first vector) and to the reply parsed (second).
fn line_client(
    mut cmd: std::process::Command,
    tool: &str,
    reads: usize,
) -> (Vec<Duration>, Vec<Duration>) {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let mut output = BufReader::with_capacity(1 << 20, child.stdout.take().unwrap());
    let mut line = Vec::new();
    let mut rpc = |id: usize, method: &str, params: Value| -> (Duration, Duration) {
        let msg = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let mut msg = serde_json::to_vec(&msg).unwrap();
        msg.push(b'\n');
        line.clear();
        let t = Instant::now();
        input.write_all(&msg).unwrap();
        output.read_until(b'\n', &mut line).unwrap();
        let read = t.elapsed();
        let reply: Value = serde_json::from_slice(&line).unwrap();
        let parsed = t.elapsed();
        assert!(
            reply.get("error").is_none() && reply["result"]["isError"] != json!(true),
            "{method}: {reply}"
        );
        (read, parsed)
    };
    rpc(
        0,
        "initialize",
        json!({"protocolVersion": "2025-11-25", "capabilities": {},
               "clientInfo": {"name": "bench", "version": "1"}}),
    );
    // The first call waits for credvault's unlock.
    rpc(1, "tools/call", json!({"name": tool, "arguments": {}}));
    let v = (0..reads)
        .map(|i| rpc(i + 2, "tools/call", json!({"name": tool, "arguments": {}})))
        .unzip();
    drop(input);
    let _ = child.wait();
    v
}

async fn reference(entry: &Path, dir: &Path) -> (Vec<Duration>, Vec<Duration>, usize) {
    let mut cmd = tokio::process::Command::new("node");
    cmd.arg(entry)
        .env("MEMORY_FILE_PATH", dir.join("memory.jsonl"));
    let c = spawn(cmd).await;
    let mut writes = Vec::new();
    for i in 0..CALLS {
        writes.push(
            call(
                &c,
                "create_entities",
                json!({"entities": [{"name": format!("credential-{i}"), "entityType": "api_key",
                       "observations": [format!("service custom.bench, name n{i}, created {i}")]}]}),
            )
            .await,
        );
    }
    let mut reads = Vec::new();
    let mut size = 0;
    for _ in 0..CALLS {
        let t = Instant::now();
        let r = c
            .call_tool(CallToolRequestParams::new("read_graph"))
            .await
            .unwrap();
        reads.push(t.elapsed());
        size = serde_json::to_string(&r).unwrap().len();
    }
    let _ = c.cancel().await;
    (writes, reads, size)
}

async fn credvault(dir: &Path) -> (Vec<Duration>, Vec<Duration>, usize) {
    let pw = dir.join("pw");
    std::fs::write(&pw, "bench password").unwrap();
    let mut cmd = tokio::process::Command::new(bin());
    cmd.arg("serve")
        .env_clear()
        .env("CREDVAULT_PATH", dir.join("vault.redb"))
        .env("CREDVAULT_PASSWORD_FILE", &pw);
    let c = spawn(cmd).await;
    // The first call waits for the unlock (Argon2id at the product default).
    call(&c, "list_credentials", json!({})).await;
    let mut writes = Vec::new();
    for i in 0..CALLS {
        writes.push(
            call(
                &c,
                "store_credential",
                json!({"service_id": "custom.bench", "credential_type": "api_key",
                       "credential_value": format!("value-{i}-0123456789"), "name": format!("n{i}")}),
            )
            .await,
        );
    }
    let mut reads = Vec::new();
    let mut size = 0;
    for _ in 0..CALLS {
        let t = Instant::now();
        let r = c
            .call_tool(CallToolRequestParams::new("list_credentials"))
            .await
            .unwrap();
        reads.push(t.elapsed());
        size = serde_json::to_string(&r).unwrap().len();
    }
    if std::env::var_os("CREDVAULT_BENCH_DETAIL").is_some() {
        for limit in [1, 50, 200] {
            let mut v = Vec::new();
            for _ in 0..CALLS {
                v.push(call(&c, "list_credentials", json!({"limit": limit})).await);
            }
            println!(
                "detail: list_credentials limit {limit}: p50 {:.3} ms",
                ms(pct(&mut v, 0.5))
            );
        }
        let mut v = Vec::new();
        for _ in 0..CALLS {
            let t = Instant::now();
            c.list_all_tools().await.unwrap();
            v.push(t.elapsed());
        }
        println!("detail: tools/list p50 {:.3} ms", ms(pct(&mut v, 0.5)));
    }
    let _ = c.cancel().await;
    (writes, reads, size)
}

#[tokio::main]
async fn main() {
    let entry = install_reference();
    let version = std::fs::read_to_string(
        entry
            .parent()
            .and_then(Path::parent)
            .unwrap()
            .join("package.json"),
    )
    .ok()
    .and_then(|p| serde_json::from_str::<Value>(&p).ok())
    .and_then(|p| p["version"].as_str().map(str::to_owned))
    .unwrap_or_default();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let dir = tempfile::tempdir().unwrap();
    let (rw, rr, rsize) = reference(&entry, dir.path()).await;
    let (cw, cr, csize) = credvault(dir.path()).await;
    // The same reads on the plain line client, against the same data.
    let mut cmd = std::process::Command::new("node");
    cmd.arg(&entry)
        .env("MEMORY_FILE_PATH", dir.path().join("memory.jsonl"));
    let (lr_read, lr) = line_client(cmd, "read_graph", CALLS);
    let mut cmd = std::process::Command::new(bin());
    cmd.arg("serve")
        .env_clear()
        .env("CREDVAULT_PATH", dir.path().join("vault.redb"))
        .env("CREDVAULT_PASSWORD_FILE", dir.path().join("pw"));
    let (lc_read, lc) = line_client(cmd, "list_credentials", CALLS);
    println!(
        "credvault vs {REFERENCE} {version}: same rmcp stdio client, {CALLS} sequential calls each, one run, {cores} cores\n"
    );
    println!("{:<44} {:>9} {:>9}", "", "p50 ms", "p99 ms");
    let row = |name: &str, v: &Vec<Duration>| {
        println!(
            "{name:<44} {:>9.3} {:>9.3}",
            ms(pct(&mut v.clone(), 0.5)),
            ms(pct(&mut v.clone(), 0.99))
        )
    };
    row("reference create_entities (write, no fsync)", &rw);
    row("credvault store_credential (write, fsync)", &cw);
    row(
        &format!("reference read_graph (200 entities, {rsize} B)"),
        &rr,
    );
    row(&format!("credvault list_credentials (200, {csize} B)"), &cr);
    row("line client: reference read_graph", &lr);
    row("line client: credvault list_credentials", &lc);
    row("  to the reply's last byte: reference", &lr_read);
    row("  to the reply's last byte: credvault", &lc_read);
    let ratio = |a: &Vec<Duration>, b: &Vec<Duration>| {
        ms(pct(&mut a.clone(), 0.5)) / ms(pct(&mut b.clone(), 0.5))
    };
    println!(
        "\nwrite: credvault is {:.2}x the reference's speed; read: {:.2}x, {:.2}x on the line client, {:.2}x to the reply's last byte (reference p50 / credvault p50)",
        ratio(&rw, &cw),
        ratio(&rr, &cr),
        ratio(&lr, &lc),
        ratio(&lr_read, &lc_read)
    );
}
