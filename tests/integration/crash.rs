//! kill -9 at random moments: `credvault serve` is SIGKILLed while a continuous
//! stream of writes is in flight. After every kill the vault reopens, every
//! write whose success reply had arrived is there (same id, record opens), and
//! nothing else — no half-written record, no index entry without its record.
//!
//! Trials: `CREDVAULT_CRASH_TRIALS` (default 50); `scripts/crash-soak.sh` runs
//! many more. The seed is printed; `CREDVAULT_CRASH_SEED` replays a run.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use credvault::store::redb::{CREDENTIALS, INDEX, SECRETS};
use credvault::{SecretString, Vault};
use redb::{ReadableDatabase, ReadableTableMetadata};
use serde_json::{Value, json};

use crate::common::{Env, MARKER, PASSWORD};
use crate::raw::{Raw, tool_error, tool_ok};

/// A small deterministic PRNG (xorshift64*), so a failing run can be replayed.
pub struct Rng(u64);

impl Rng {
    pub fn from_env(var: &str) -> Self {
        let seed = std::env::var(var)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
            })
            | 1;
        eprintln!("{var}={seed}");
        Self(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

pub fn trials(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// What the client had been told when the server died.
#[derive(Default)]
struct Acked {
    /// credential name → id from its success reply.
    creds: HashMap<String, String>,
    /// secret names whose creation was acknowledged.
    secrets: HashSet<String>,
    /// Every credential / secret name ever sent (acknowledged or not).
    sent_creds: HashSet<String>,
    sent_secrets: HashSet<String>,
}

enum Pending {
    Cred(String, Option<String>),
    Secret(String),
}

/// Opens the vault with the library after a kill and checks it against `acked`.
fn verify(env: &Env, acked: &Acked, trial: usize) -> (usize, usize) {
    // Killed before the first run finished creating the vault (the unlock and
    // creation take longer on a loaded machine): nothing can have been
    // acknowledged, and the next run finishes the creation.
    if !credvault::store::redb::exists(&env.vault) {
        assert!(
            acked.creds.is_empty() && acked.secrets.is_empty(),
            "trial {trial}: writes were acknowledged but there is no vault"
        );
        return (0, 0);
    }
    let v = Vault::open(&env.vault, &SecretString::from(PASSWORD))
        .unwrap_or_else(|e| panic!("trial {trial}: the vault does not reopen: {e}"));
    // Listing opens (authenticates and parses) every record.
    let creds = v
        .list_credentials(None)
        .unwrap_or_else(|e| panic!("trial {trial}: a record does not open: {e}"));
    let secrets = v.list_secrets().unwrap();
    let by_name: HashMap<&str, String> = creds
        .iter()
        .map(|c| (c.name.as_str(), c.id.to_string()))
        .collect();
    assert_eq!(by_name.len(), creds.len(), "trial {trial}: duplicate names");
    for (name, id) in &acked.creds {
        assert_eq!(
            by_name.get(name.as_str()),
            Some(id),
            "trial {trial}: acknowledged credential {name} lost or changed id"
        );
    }
    for c in &creds {
        assert!(
            acked.sent_creds.contains(&c.name),
            "trial {trial}: unknown credential {}",
            c.name
        );
    }
    let secret_names: HashSet<&str> = secrets.iter().map(|s| s.name.as_str()).collect();
    for s in &acked.secrets {
        assert!(
            secret_names.contains(s.as_str()),
            "trial {trial}: acknowledged secret {s} lost"
        );
    }
    assert!(secret_names.iter().all(|s| acked.sent_secrets.contains(*s)));
    drop(v);
    // Every index entry has its record and vice versa (each write is one transaction).
    let db = redb::Database::builder()
        .set_concurrency_mode(redb::ConcurrencyMode::MultiWriter)
        .open(&env.vault)
        .unwrap();
    let txn = db.begin_read().unwrap();
    let n_index = txn.open_table(INDEX).unwrap().len().unwrap();
    let n_creds = txn.open_table(CREDENTIALS).unwrap().len().unwrap();
    let n_secrets = txn.open_table(SECRETS).unwrap().len().unwrap();
    assert_eq!(
        n_index,
        n_creds + n_secrets,
        "trial {trial}: index and records disagree"
    );
    (creds.len(), secrets.len())
}

/// One server life: stream writes (at most `window` outstanding) until `kill_at`.
async fn run_until_killed(
    env: &Env,
    rng: &mut Rng,
    acked: &mut Acked,
    trial: usize,
    kill_after: Duration,
) -> usize {
    const WINDOW: usize = 4;
    let mut raw = Raw::start(env).await;
    let kill_at = tokio::time::Instant::now() + kill_after;
    let mut pending: HashMap<u64, Pending> = HashMap::new();
    let mut next_id = 0u64;
    let mut replies = 0;
    loop {
        while pending.len() < WINDOW {
            next_id += 1;
            let id = next_id;
            let roll = rng.below(10);
            let msg = if roll < 2 && !acked.creds.is_empty() {
                // Replace an acknowledged credential: its id must survive.
                let k = rng.below(acked.creds.len() as u64) as usize;
                let (name, cid) = acked.creds.iter().nth(k).unwrap();
                let (name, cid) = (name.clone(), cid.clone());
                let m = Raw::call_msg(
                    id,
                    "store_credential",
                    json!({"service_id": "custom.crash", "credential_type": "bearer",
                           "credential_value": format!("{MARKER}-r{trial}-{id}"), "name": name}),
                );
                pending.insert(id, Pending::Cred(name, Some(cid)));
                m
            } else if roll < 3 {
                let name = format!("CRASH_T{trial}_{id}");
                acked.sent_secrets.insert(name.clone());
                let m = Raw::call_msg(
                    id,
                    "create_secret",
                    json!({"name": name, "provider": "openai", "value": format!("{MARKER}-s{trial}-{id}")}),
                );
                pending.insert(id, Pending::Secret(name));
                m
            } else {
                let name = format!("t{trial}-{id}");
                acked.sent_creds.insert(name.clone());
                let m = Raw::call_msg(
                    id,
                    "store_credential",
                    json!({"service_id": "custom.crash", "credential_type": "api_key",
                           "credential_value": format!("{MARKER}-c{trial}-{id}"), "name": name}),
                );
                pending.insert(id, Pending::Cred(name, None));
                m
            };
            raw.send(&msg).await;
        }
        tokio::select! {
            line = raw.lines.next_line() => {
                let line = line.unwrap().expect("server exited before it was killed");
                crate::common::assert_no_values(&raw.sent, "a reply", line.as_bytes());
                let resp: Value = serde_json::from_str(&line).unwrap();
                let id = resp["id"].as_u64().unwrap_or_else(|| panic!("unexpected {resp}"));
                let what = pending.remove(&id).unwrap();
                if let Some(err) = tool_error(&resp) {
                    panic!("trial {trial}: a write failed: {err}");
                }
                let body = tool_ok(&resp).unwrap_or_else(|| panic!("not a tool result: {resp}"));
                replies += 1;
                match what {
                    Pending::Cred(name, expect) => {
                        let got = body["id"].as_str().unwrap().to_owned();
                        if let Some(old) = expect {
                            assert_eq!(got, old, "a replace changed the id");
                            assert_eq!(body["replaced"], true);
                        }
                        acked.creds.insert(name, got);
                    }
                    Pending::Secret(name) => {
                        acked.secrets.insert(name);
                    }
                }
            }
            _ = tokio::time::sleep_until(kill_at) => break,
        }
    }
    raw.kill9().await;
    replies
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_writes_loses_no_acknowledged_write() {
    let n = trials("CREDVAULT_CRASH_TRIALS", 50);
    let mut rng = Rng::from_env("CREDVAULT_CRASH_SEED");
    // A fresh vault every 100 kills keeps a long soak linear in time.
    let mut env = Env::new();
    let mut acked = Acked::default();
    let started = Instant::now();
    let mut total_replies = 0;
    for trial in 0..n {
        if trial > 0 && trial % 100 == 0 {
            verify(&env, &acked, trial);
            env = Env::new();
            acked = Acked::default();
        }
        // Mostly within the first ~150 ms of a server's life (unlock, first
        // commits), sometimes later, with a stream of writes all along.
        let ms = match rng.below(4) {
            0 => rng.below(30),
            1 | 2 => 30 + rng.below(150),
            _ => 180 + rng.below(400),
        };
        total_replies +=
            run_until_killed(&env, &mut rng, &mut acked, trial, Duration::from_millis(ms)).await;
        verify(&env, &acked, trial);
    }
    let (creds, secrets) = verify(&env, &acked, n);
    eprintln!(
        "crash: {n} kills, {total_replies} acknowledged writes, {creds} credentials + {secrets} secrets in the last vault, {:.1}s",
        started.elapsed().as_secs_f64()
    );
    assert!(total_replies > 0 || n == 0);
    // A server started on the crashed-into vault keeps working.
    let mut raw = Raw::start(&env).await;
    // Page through them (1,000 at a time).
    let mut listed = 0;
    let mut cursor = Value::Null;
    for page in 0.. {
        let r = raw
            .call(
                format!("last-{page}"),
                "list_credentials",
                json!({"service_id": "custom.crash", "limit": 1000, "cursor": cursor}),
            )
            .await;
        let body = tool_ok(&r).unwrap();
        listed += body["credentials"].as_array().unwrap().len();
        cursor = body["next_cursor"].clone();
        if cursor.is_null() {
            break;
        }
    }
    assert_eq!(listed, creds);
    raw.finish().await;
}

/// A kill during the very first run (the vault being created) must not leave a
/// file that no later run can open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_first_run_creation_leaves_a_usable_vault() {
    let n = trials("CREDVAULT_CRASH_TRIALS", 50).div_ceil(5);
    let mut rng = Rng::from_env("CREDVAULT_CRASH_SEED");
    for trial in 0..n {
        let env = Env::new();
        let mut raw = Raw::start(&env).await;
        raw.send(&Raw::call_msg(
            1,
            "store_credential",
            json!({"service_id": "openai", "credential_type": "bearer", "credential_value": format!("{MARKER}-first")}),
        ))
        .await;
        tokio::time::sleep(Duration::from_millis(rng.below(60))).await;
        raw.kill9().await;
        let mut raw = Raw::start(&env).await;
        let r = raw
            .call(
                2,
                "store_credential",
                json!({"service_id": "openai", "credential_type": "bearer", "credential_value": format!("{MARKER}-second")}),
            )
            .await;
        assert!(
            tool_ok(&r).is_some(),
            "trial {trial}: the vault is unusable after a kill during creation: {r}"
        );
        raw.finish().await;
    }
}
