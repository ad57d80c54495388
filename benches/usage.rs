//! Timing runs for the closing notes (never asserted): `cargo bench --bench usage`.
//!
//! 1. call_api overhead: p50 of call_api (stdio, release binary) against a local
//!    HTTPS server vs a direct keep-alive request from this process to the same
//!    server, same TLS stack.
//! 2. exec redaction throughput: `credvault exec --secret … -- cat BIGFILE` vs
//!    `cat BIGFILE`, both read through a pipe by this process; BIGFILE is
//!    plain text, then HTML with seven character references a line (to
//!    characters the key's forms lack, then to `=` and `-`, which they have).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

#[allow(dead_code)]
#[path = "../tests/integration/upstream.rs"]
mod upstream;

mod common;
use common::{bin, pct};
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::TokioChildProcess;
use serde_json::json;

const CALLS: usize = 1000;

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault.redb");
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "bench password").unwrap();
    std::fs::set_permissions(&pw, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let ca = upstream::Ca::new(dir.path());
    let up = upstream::Upstream::start(&ca).await;
    let env = |c: &mut Command| {
        c.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("CREDVAULT_PATH", &vault)
            .env("CREDVAULT_PASSWORD_FILE", &pw)
            .env("CREDVAULT_KDF_MEMORY_MIB", "8")
            .env("CREDVAULT_KDF_ITERATIONS", "1");
    };
    let mut init = Command::new(bin());
    env(&mut init);
    assert!(init.arg("init").status().unwrap().success());
    let key = format!("sk-bench-{}", uuid::Uuid::new_v4().simple());

    // --- call_api vs direct
    let mut cmd = tokio::process::Command::new(bin());
    cmd.arg("serve")
        .env_clear()
        .env("CREDVAULT_PATH", &vault)
        .env("CREDVAULT_PASSWORD_FILE", &pw)
        .env("CREDVAULT_CA_FILE", &ca.pem_path);
    let (t, _) = TokioChildProcess::builder(cmd)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let client = ().serve(t).await.unwrap();
    eprintln!("server up");
    let call = |tool: &str, args: serde_json::Value| {
        CallToolRequestParams::new(tool.to_owned())
            .with_arguments(args.as_object().unwrap().clone())
    };
    let r = client
        .call_tool(call("store_credential", json!({"service_id": "custom.bench", "credential_type": "bearer", "credential_value": key, "allowed_hosts": [up.host()]})))
        .await
        .unwrap();
    assert_ne!(r.is_error, Some(true));
    let args = json!({"service_id": "custom.bench", "method": "GET", "url": "/ok"});
    let mut via = Vec::with_capacity(CALLS);
    for i in 0..CALLS + 50 {
        let t = Instant::now();
        let r = client
            .call_tool(call("call_api", args.clone()))
            .await
            .unwrap();
        if i >= 50 {
            via.push(t.elapsed());
        }
        assert_ne!(r.is_error, Some(true), "{r:?}");
    }
    let mut list = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let t = Instant::now();
        client
            .call_tool(call("list_credentials", json!({})))
            .await
            .unwrap();
        list.push(t.elapsed());
    }
    let _ = client.cancel().await;
    eprintln!("call_api done");

    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(&ca.pem_path).unwrap();
    use rustls::pki_types::{CertificateDer, pem::PemObject};
    for c in CertificateDer::pem_slice_iter(&pem) {
        roots.add(c.unwrap()).unwrap();
    }
    let tls = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let direct_client = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .build()
        .unwrap();
    let mut direct = Vec::with_capacity(CALLS);
    for i in 0..CALLS + 50 {
        let t = Instant::now();
        let r = direct_client
            .get(up.url("/ok"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        let _ = r.bytes().await.unwrap();
        if i >= 50 {
            direct.push(t.elapsed());
        }
    }
    eprintln!("direct done");
    let (v50, d50) = (pct(&mut via, 0.5), pct(&mut direct, 0.5));
    println!(
        "call_api vs direct HTTPS GET ({CALLS} sequential calls each, keep-alive, same local server):"
    );
    println!(
        "  call_api over stdio   p50 {}  p99 {}",
        ms(v50),
        ms(pct(&mut via, 0.99))
    );
    println!(
        "  direct reqwest        p50 {}  p99 {}",
        ms(d50),
        ms(pct(&mut direct, 0.99))
    );
    println!(
        "  (list_credentials, same server: p50 {}: the MCP round trip alone)",
        ms(pct(&mut list, 0.5))
    );
    println!(
        "  overhead p50 {} (ratio {:.2})",
        ms(v50.saturating_sub(d50)),
        v50.as_secs_f64() / d50.as_secs_f64()
    );

    // --- exec throughput
    let write = |name: &str, line: &[u8], mib: usize| {
        use std::io::Write;
        let path = dir.path().join(name);
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        for _ in 0..(mib << 20) / line.len() {
            f.write_all(line).unwrap();
        }
        path
    };
    let big = write(
        "big.txt",
        b"The quick brown fox jumps over the lazy dog; 0123456789 abcdefghijklmnopqrstuvwxyz\n",
        256,
    );
    // References to characters no form of the key has (decided and left as
    // they are), then to `=` and `-`, which its forms have (decoded, and the
    // decoded view searched as well).
    let html = write(
        "big.html",
        b"<tr><td>AT&amp;T</td><td>&lt;b&gt;caf&eacute; &#43;1&#x2F;2 &quot;q&quot;</td></tr>\n",
        64,
    );
    let html_key_chars = write(
        "big-key-chars.html",
        b"<tr><td>AT&amp;T</td><td>a&#61;b x&#45;y&#45;z &#x3D;&#X2d; &quot;q&quot;</td></tr>\n",
        64,
    );
    let mut secret = Command::new(bin());
    env(&mut secret);
    let mut child = secret
        .args([
            "secret",
            "create",
            "--name",
            "BENCH_TOKEN",
            "--provider",
            "bench",
        ])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), key.as_bytes()).unwrap();
    assert!(child.wait().unwrap().success());
    let run = |through_credvault: bool, big: &std::path::Path| -> Duration {
        let size = std::fs::metadata(big).unwrap().len();
        let mut c = if through_credvault {
            let mut c = Command::new(bin());
            env(&mut c);
            c.args(["exec", "--secret", "BENCH_TOKEN", "--", "cat"])
                .arg(big);
            c
        } else {
            let mut c = Command::new("cat");
            c.arg(big);
            c
        };
        let t = Instant::now();
        let mut child = c.stdout(Stdio::piped()).spawn().unwrap();
        let mut out = child.stdout.take().unwrap();
        let mut buf = vec![0u8; 1 << 20];
        let mut n = 0u64;
        loop {
            let k = out.read(&mut buf).unwrap();
            if k == 0 {
                break;
            }
            n += k as u64;
        }
        assert!(child.wait().unwrap().success());
        assert_eq!(n, size);
        t.elapsed()
    };
    for (what, file) in [
        ("plain text", &big),
        ("HTML", &html),
        ("HTML with references to `=` and `-`", &html_key_chars),
    ] {
        let size = std::fs::metadata(file).unwrap().len();
        let mut plain: Vec<Duration> = (0..5).map(|_| run(false, file)).collect();
        let mut masked: Vec<Duration> = (0..5).map(|_| run(true, file)).collect();
        let rate = |d: Duration| size as f64 / d.as_secs_f64() / 1e6;
        let (p, m) = (pct(&mut plain, 0.5), pct(&mut masked, 0.5));
        println!(
            "exec redaction throughput ({} MiB of {what}, median of 5, read through a pipe):",
            size >> 20
        );
        println!("  cat                       {:.0} MB/s", rate(p));
        println!(
            "  credvault exec -- cat     {:.0} MB/s (whole run, vault unlock included)",
            rate(m)
        );
    }
}
