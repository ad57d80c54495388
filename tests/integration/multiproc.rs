//! Several `credvault serve` processes on one vault (DESIGN §5): 2 and 4 servers
//! writing at once keep every acknowledged write and fail with nothing but the
//! documented `503 vault_busy`; a peer SIGKILLed inside a write transaction
//! releases the lock at once (measured and printed).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use credvault::store::redb::CREDENTIALS;
use credvault::{SecretString, Vault};
use serde_json::json;

use crate::common::{Env, MARKER, PASSWORD};
use crate::raw::{Raw, tool_error, tool_ok};

/// Each server streams `n` stores (4 in flight); returns name → id of the
/// acknowledged ones and the names answered `vault_busy`.
async fn writer(mut raw: Raw, tag: usize, n: usize) -> (HashMap<String, String>, Vec<String>) {
    const WINDOW: u64 = 4;
    let mut acked = HashMap::new();
    let mut busy = Vec::new();
    let (mut sent, mut got) = (0u64, 0u64);
    let name = |i: u64| format!("p{tag}-{i}");
    while got < n as u64 {
        while sent < n as u64 && sent - got < WINDOW {
            raw.send(&Raw::call_msg(
                sent,
                "store_credential",
                json!({"service_id": "custom.multi", "credential_type": "api_key",
                       "credential_value": format!("{MARKER}-{tag}-{sent}"), "name": name(sent)}),
            ))
            .await;
            sent += 1;
        }
        let r = raw.response().await;
        let id = r["id"].as_u64().unwrap();
        got += 1;
        if let Some(body) = tool_ok(&r) {
            acked.insert(name(id), body["id"].as_str().unwrap().to_owned());
        } else {
            let err = tool_error(&r).unwrap_or_else(|| panic!("not a tool result: {r}"));
            assert_eq!(err["code"], 503, "only vault_busy is allowed: {err}");
            assert_eq!(err["type"], "vault_busy");
            busy.push(name(id));
        }
    }
    let stderr = raw.finish().await;
    assert!(!stderr.contains("panicked"), "{stderr}");
    (acked, busy)
}

async fn servers_writing_at_once(servers: usize, per_server: usize) {
    let env = Env::new();
    let started = Instant::now();
    // All start on a missing vault: one creates it, the others open it.
    let mut raws = Vec::new();
    for _ in 0..servers {
        raws.push(Raw::start(&env).await);
    }
    let tasks: Vec<_> = raws
        .into_iter()
        .enumerate()
        .map(|(tag, raw)| tokio::spawn(writer(raw, tag, per_server)))
        .collect();
    let mut acked = HashMap::new();
    let mut busy = Vec::new();
    for t in tasks {
        let (a, b) = t.await.unwrap();
        acked.extend(a);
        busy.extend(b);
    }
    let v = Vault::open(&env.vault, &SecretString::from(PASSWORD)).unwrap();
    let listed: HashMap<String, String> = v
        .list_credentials(Some("custom.multi"))
        .unwrap()
        .into_iter()
        .map(|c| (c.name, c.id.to_string()))
        .collect();
    for (name, id) in &acked {
        assert_eq!(listed.get(name), Some(id), "{name} lost");
    }
    // A vault_busy answer changed nothing.
    for name in &busy {
        assert!(!listed.contains_key(name), "{name} was busy yet stored");
    }
    assert_eq!(listed.len(), acked.len());
    eprintln!(
        "multiproc: {servers} servers x {per_server} stores: {} kept, {} vault_busy, {:.1}s",
        acked.len(),
        busy.len(),
        started.elapsed().as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_storing_at_once_keep_every_acknowledged_write() {
    servers_writing_at_once(2, 100).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_servers_storing_at_once_keep_every_acknowledged_write() {
    servers_writing_at_once(4, 50).await;
}

const HOLD_ENV: &str = "CREDVAULT_TEST_HOLD_WRITE";

/// Not a test on its own: re-invoked by `a_peer_killed_inside_a_write...` with
/// `CREDVAULT_TEST_HOLD_WRITE=<vault>` to play a peer that opens the vault in
/// multi-writer mode, begins a write transaction, writes into it, says so on
/// stdout, and sleeps until it is killed. Ignored in normal runs (it is a
/// helper process, not a check).
#[test]
#[ignore = "helper process for the multiproc tests, run by them with --ignored"]
fn holder_helper() {
    let Ok(path) = std::env::var(HOLD_ENV) else {
        return;
    };
    let db = redb::Database::builder()
        .set_concurrency_mode(redb::ConcurrencyMode::MultiWriter)
        .open(path)
        .unwrap();
    let txn = db.begin_write().unwrap();
    txn.open_table(CREDENTIALS)
        .unwrap()
        .insert(u128::MAX, b"half-written".as_slice())
        .unwrap();
    println!("HOLDING");
    std::io::stdout().flush().unwrap();
    std::thread::sleep(Duration::from_secs(120));
    drop(txn);
}

fn spawn_holder(env: &Env) -> Child {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "multiproc::holder_helper",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(HOLD_ENV, &env.vault)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = BufReader::new(child.stdout.take().unwrap());
    for line in out.lines() {
        if line.unwrap().contains("HOLDING") {
            return child;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the holder never began its write transaction");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_killed_inside_a_write_transaction_unblocks_the_others_at_once() {
    let env = Env::new();
    // Two servers, the vault created and unlocked.
    let mut a = Raw::start(&env).await;
    let mut b = Raw::start(&env).await;
    for (i, r) in [&mut a, &mut b].into_iter().enumerate() {
        let resp = r.call(i, "list_credentials", json!({})).await;
        assert!(tool_ok(&resp).is_some(), "{resp}");
    }
    let mut holder = spawn_holder(&env);
    // Both servers start a store; each waits for the holder's write lock.
    for (i, r) in [&mut a, &mut b].into_iter().enumerate() {
        r.send(&Raw::call_msg(
            "w",
            "store_credential",
            json!({"service_id": "custom.multi", "credential_type": "bearer",
                   "credential_value": format!("{MARKER}-wait-{i}"), "name": format!("waiter-{i}")}),
        ))
        .await;
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    // Still blocked: no reply yet.
    let early = tokio::time::timeout(Duration::from_millis(50), a.lines.next_line()).await;
    assert!(
        early.is_err(),
        "a store answered while the lock was held: {early:?}"
    );
    let killed = Instant::now();
    holder.kill().unwrap();
    holder.wait().unwrap();
    let mut waits = Vec::new();
    for r in [&mut a, &mut b] {
        let resp = r.response().await;
        waits.push(killed.elapsed());
        assert!(tool_ok(&resp).is_some(), "{resp}");
    }
    eprintln!(
        "multiproc: after SIGKILL of a peer holding the write lock, the waiting servers answered in {:?} and {:?}",
        waits[0], waits[1]
    );
    for w in &waits {
        assert!(*w < Duration::from_secs(5), "unblocked only after {w:?}");
    }
    a.finish().await;
    b.finish().await;
    // The dead peer's uncommitted write is not visible; both waiters' are.
    let v = Vault::open(&env.vault, &SecretString::from(PASSWORD)).unwrap();
    let names: Vec<String> = v
        .list_credentials(None)
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_holding_the_write_lock_past_the_window_is_vault_busy_and_changes_nothing() {
    let env = Env::new();
    let mut a = Raw::start(&env).await;
    let resp = a.call(0, "list_credentials", json!({})).await;
    assert!(tool_ok(&resp).is_some(), "{resp}");
    let mut holder = spawn_holder(&env);
    let asked = Instant::now();
    let store = json!({"service_id": "custom.multi", "credential_type": "bearer",
                       "credential_value": format!("{MARKER}-busy"), "name": "busy"});
    let resp = a.call(1, "store_credential", store.clone()).await;
    let waited = asked.elapsed();
    holder.kill().unwrap();
    holder.wait().unwrap();
    let err = tool_error(&resp).unwrap_or_else(|| panic!("expected vault_busy: {resp}"));
    assert_eq!(
        (err["code"].as_u64(), err["type"].as_str()),
        (Some(503), Some("vault_busy"))
    );
    eprintln!("multiproc: vault_busy after {waited:?}");
    assert!(
        waited >= Duration::from_millis(1900) && waited < Duration::from_secs(6),
        "{waited:?}"
    );
    let resp = a.call(2, "list_credentials", json!({})).await;
    assert_eq!(
        tool_ok(&resp).unwrap()["credentials"],
        json!([]),
        "busy stored something"
    );
    // With the peer gone the same call succeeds.
    let resp = a.call(3, "store_credential", store).await;
    assert!(tool_ok(&resp).is_some(), "{resp}");
    a.finish().await;
}
