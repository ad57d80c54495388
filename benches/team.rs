//! Timing runs for the closing notes (never asserted): `cargo bench --bench team`.
//!
//! The same stdio client drives `credvault serve` on the vault file and on a
//! team vault in PostgreSQL (a throwaway cluster on a Unix socket, started
//! here as the tests start theirs), in one run: store_credential p50/p99 over
//! 200 sequential durable calls, then list_credentials of those 200, and the
//! ratio of each to the file.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

#[path = "../tests/integration/pgcluster.rs"]
mod pgcluster;

mod common;
use common::{bin, pct};
use std::process::Stdio;
use std::time::{Duration, Instant};

use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::service::RunningService;
use rmcp::transport::TokioChildProcess;
use serde_json::{Value, json};

const CALLS: usize = 200;

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

fn command(envs: &[(&str, String)]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(bin());
    cmd.env_clear()
        .env("CREDVAULT_KDF_MEMORY_MIB", "8")
        .env("CREDVAULT_KDF_ITERATIONS", "1");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd
}

async fn call(c: &RunningService<rmcp::RoleClient, ()>, tool: &str, args: Value) -> Duration {
    let started = Instant::now();
    let r = c
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

/// (store p50, store p99, list p50, list p99) on the vault `envs` name.
async fn run(envs: &[(&str, String)]) -> [Duration; 4] {
    let mut cmd = command(envs);
    cmd.arg("serve");
    let (t, _) = TokioChildProcess::builder(cmd)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let c = ().serve(t).await.unwrap();
    let mut stores = Vec::with_capacity(CALLS);
    for i in 0..CALLS {
        let args = json!({"service_id": "openai", "credential_type": "bearer",
            "credential_value": format!("sk-bench-value-{i:06}"), "name": format!("k{i}")});
        stores.push(call(&c, "store_credential", args).await);
    }
    let mut lists = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        lists.push(call(&c, "list_credentials", json!({})).await);
    }
    let _ = c.cancel().await;
    [
        pct(&mut stores, 0.5),
        pct(&mut stores, 0.99),
        pct(&mut lists, 0.5),
        pct(&mut lists, 0.99),
    ]
}

#[tokio::main]
async fn main() {
    let Some(cluster) = pgcluster::Cluster::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "bench password").unwrap();
    let pw = pw.display().to_string();
    let url = cluster.create_db("bench");
    let team = [
        ("CREDVAULT_STORE", url.clone()),
        ("CREDVAULT_PASSWORD_FILE", pw.clone()),
    ];
    let out = command(&team).arg("init").output().await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file = [
        (
            "CREDVAULT_PATH",
            dir.path().join("v.redb").display().to_string(),
        ),
        ("CREDVAULT_PASSWORD_FILE", pw),
    ];
    let f = run(&file).await;
    let p = run(&team).await;
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("team vault vs vault file, {CALLS} sequential stdio calls each, {cores} cores");
    println!(
        "{:<34} {:>11} {:>11} {:>7}",
        "", "file", "postgres", "ratio"
    );
    for (i, what) in [
        "store_credential p50",
        "store_credential p99",
        "list_credentials @200 p50",
        "list_credentials @200 p99",
    ]
    .iter()
    .enumerate()
    {
        println!(
            "{what:<34} {:>11} {:>11} {:>6.2}x",
            ms(f[i]),
            ms(p[i]),
            p[i].as_secs_f64() / f[i].as_secs_f64()
        );
    }
}
