//! The team vault on PostgreSQL (DESIGN §12) through the real binary: several
//! servers sharing one database, members and rekey, what the database
//! administrator can see, an unreachable store, and many concurrent writers.
//! Each test starts a throwaway cluster (tests/integration/pgcluster.rs) and
//! returns early, after its printed reason, when no PostgreSQL server exists.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{Client, Env, MARKER, Outcome, contains, marked_value, run_with, stdout_ok};
use crate::pgcluster::Cluster;
use crate::upstream::{Ca, Upstream};

/// `credvault` on the team vault at `url` (CREDVAULT_PATH would be a usage error).
pub(crate) fn team_cmd(env: &Env, url: &str) -> Command {
    let mut c = env.cmd();
    c.env_remove("CREDVAULT_PATH").env("CREDVAULT_STORE", url);
    c
}

pub(crate) fn run_team(env: &Env, url: &str, args: &[&str], stdin: &str) -> Output {
    run_with(team_cmd(env, url), args, stdin)
}

/// As member `member` with the password in `pw`.
pub(crate) fn run_as(env: &Env, url: &str, member: &str, pw: &Path, args: &[&str]) -> Output {
    let mut c = team_cmd(env, url);
    c.env("CREDVAULT_MEMBER", member)
        .env("CREDVAULT_PASSWORD_FILE", pw);
    run_with(c, args, "")
}

/// `credvault serve` (stdio) on the team vault at `url`.
pub(crate) async fn team_client(env: &Env, url: &str) -> Client {
    env.client_with(|c| {
        c.env_remove("CREDVAULT_PATH").env("CREDVAULT_STORE", url);
    })
    .await
}

/// A fresh cluster and the URL of an initialised team vault in it.
pub(crate) fn team(env: &Env, db: &str) -> Option<(Cluster, String)> {
    let pg = Cluster::start()?;
    let url = pg.create_db(db);
    stdout_ok(&run_team(env, &url, &["init"], ""));
    Some((pg, url))
}

pub(crate) fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `(id, service/name)` of every credential, sorted.
pub(crate) async fn listing(c: &Client) -> Vec<(String, String)> {
    let l = c.ok("list_credentials", json!({"limit": 1000})).await;
    let mut v: Vec<(String, String)> = l["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["id"].as_str().unwrap().to_owned(),
                format!(
                    "{}/{}",
                    i["service"].as_str().unwrap(),
                    i["name"].as_str().unwrap()
                ),
            )
        })
        .collect();
    v.sort();
    v
}

/// `s` as it could appear encoded: hex both cases, and every base64 (standard
/// and URL-safe) rendering at each of the three byte alignments, cut to the
/// characters that depend on `s` alone.
#[tokio::test]
async fn three_servers_share_one_team_vault() {
    let mut env = Env::new();
    let ca = Ca::new(env.dir.path());
    env.extra_env.push((
        "CREDVAULT_CA_FILE".into(),
        ca.pem_path.display().to_string(),
    ));
    let Some((_pg, url)) = team(&env, "team_three") else {
        return;
    };
    let up = Upstream::start(&ca).await;
    let hosts = vec![up.host()];
    let servers = [
        team_client(&env, &url).await,
        team_client(&env, &url).await,
        team_client(&env, &url).await,
    ];
    // (service, type, extra, header the upstream must receive, its prefix)
    let creds = [
        ("openai", "bearer", json!({}), "authorization", "Bearer "),
        ("anthropic", "api_key", json!({}), "x-api-key", ""),
        (
            "custom.acme",
            "api_key",
            json!({"auth_header": "X-Acme-Key"}),
            "x-acme-key",
            "",
        ),
    ];
    let mut stored = Vec::new();
    let mut values = Vec::new();
    for (server, (service, kind, extra, _, _)) in servers.iter().zip(&creds) {
        let v = marked_value(service);
        let mut args = json!({"service_id": service, "credential_type": kind,
            "credential_value": v, "allowed_hosts": hosts});
        for (k, x) in extra.as_object().unwrap() {
            args[k] = x.clone();
        }
        let r = server.ok("store_credential", args).await;
        stored.push((
            r["id"].as_str().unwrap().to_owned(),
            format!("{service}/default"),
        ));
        values.push(v);
    }
    stored.sort();
    for (i, server) in servers.iter().enumerate() {
        assert_eq!(listing(server).await, stored, "server {i} sees all three");
    }
    // Each server uses the credential the next one stored.
    for (i, server) in servers.iter().enumerate() {
        let j = (i + 1) % 3;
        let (service, _, _, header, prefix) = &creds[j];
        let before = up.requests().len();
        let r = server
            .ok(
                "call_api",
                json!({"service_id": service, "method": "GET", "url": up.url("/echo")}),
            )
            .await;
        assert_eq!(r["status"], 200, "{r}");
        let reqs = up.requests();
        assert_eq!(reqs.len(), before + 1, "one request reached the upstream");
        assert_eq!(
            reqs[before].header(header),
            Some(format!("{prefix}{}", values[j]).as_str()),
            "server {i} sent {service}'s value, stored by server {j}"
        );
        assert!(!r.to_string().contains(&values[j]));
    }
    for s in servers {
        let log = s.stop().await;
        assert!(!log.contains(MARKER), "a value in a server log: {log}");
    }
}

#[tokio::test]
async fn members_and_rekey() {
    let env = Env::new();
    let Some((pg, url)) = team(&env, "team_members") else {
        return;
    };
    let v = marked_value("owner");
    env.sent.lock().unwrap().push(v.clone());
    stdout_ok(&run_team(
        &env,
        &url,
        &["store", "--service", "openai", "--type", "bearer"],
        &v,
    ));
    let alice_pw = env.with_password("alice's own password, not the owner's");
    let alice_pw_str = alice_pw.display().to_string();
    stdout_ok(&run_team(
        &env,
        &url,
        &[
            "member",
            "add",
            "alice",
            "--new-password-file",
            &alice_pw_str,
        ],
        "",
    ));

    // Alice opens the vault with her own password and sees what is in it.
    let list = stdout_ok(&run_as(&env, &url, "alice", &alice_pw, &["list", "--json"]));
    let list: Value = serde_json::from_str(&list).unwrap();
    let names: Vec<&str> = list["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["service"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["openai"]);
    // The owner's password does not open alice's slot.
    let o = run_as(&env, &url, "alice", &env.pw_file, &["list", "--json"]);
    assert_eq!(o.status.code(), Some(3), "{o:?}");
    assert!(o.stdout.is_empty(), "{o:?}");

    let members = stdout_ok(&run_team(&env, &url, &["member", "list"], ""));
    let rows: BTreeSet<Vec<&str>> = members
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows,
        BTreeSet::from([vec!["alice"], vec!["owner", "default"]]),
        "{members}"
    );

    // A bearer token made before the rekey.
    stdout_ok(&run_team(
        &env,
        &url,
        &["token", "create", "--name", "laptop"],
        "",
    ));
    let tokens = stdout_ok(&run_team(&env, &url, &["token", "list"], ""));
    assert!(tokens.contains("laptop"), "{tokens}");

    // What someone who kept alice's slot holds.
    let old_slot = pg.sql(
        "team_members",
        "SELECT encode(v, 'hex') FROM credvault_members WHERE k = convert_to('alice', 'UTF8')",
    );
    let old_slot = old_slot.trim().to_owned();
    assert!(old_slot.len() > 64, "alice's slot row: {old_slot:?}");

    stdout_ok(&run_team(&env, &url, &["member", "remove", "alice"], ""));
    let o = run_as(&env, &url, "alice", &alice_pw, &["list", "--json"]);
    assert_eq!(o.status.code(), Some(3), "{o:?}");
    assert!(stderr(&o).contains("no member named alice"), "{o:?}");
    assert!(o.stdout.is_empty(), "{o:?}");

    let o = run_team(&env, &url, &["rekey"], "");
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let tokens = stdout_ok(&run_team(&env, &url, &["token", "list"], ""));
    assert_eq!(tokens.lines().count(), 1, "only the header: {tokens}");
    assert!(!tokens.contains("laptop"), "{tokens}");

    // The owner carries on under the new key.
    let list = stdout_ok(&run_team(&env, &url, &["list", "--json"], ""));
    assert!(list.contains("\"openai\""), "{list}");
    let v2 = marked_value("after");
    env.sent.lock().unwrap().push(v2.clone());
    stdout_ok(&run_team(
        &env,
        &url,
        &["store", "--service", "anthropic"],
        &v2,
    ));
    let list = stdout_ok(&run_team(&env, &url, &["list", "--json"], ""));
    let list: Value = serde_json::from_str(&list).unwrap();
    let mut services: Vec<&str> = list["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["service"].as_str().unwrap())
        .collect();
    services.sort();
    assert_eq!(services, ["anthropic", "openai"]);
    let o = run_team(&env, &url, &["audit", "--verify"], "");
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    // The trail says which member did what.
    let o = run_team(&env, &url, &["audit", "--json"], "");
    let trail: Vec<Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let by = |action: &str, subject: &str| {
        trail
            .iter()
            .filter(|e| e["action"] == action && e["subject"] == subject)
            .map(|e| e["via"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(by("member_add", "alice"), ["cli:owner"], "{trail:?}");
    assert_eq!(by("member_remove", "alice"), ["cli:owner"], "{trail:?}");

    // The kept slot, written back: it unlocks only the old key, which opens nothing now.
    pg.sql(
        "team_members",
        &format!(
            "INSERT INTO credvault_members (k, v) VALUES (convert_to('alice', 'UTF8'), decode('{old_slot}', 'hex'))"
        ),
    );
    let o = run_as(&env, &url, "alice", &alice_pw, &["list", "--json"]);
    assert!(!o.status.success(), "{o:?}");
    assert!(
        stderr(&o).contains("does not open this vault"),
        "{}",
        stderr(&o)
    );
    for out in [&o.stdout, &o.stderr] {
        for name in ["openai", "anthropic", "default"] {
            assert!(!contains(out, name), "{name} printed: {o:?}");
        }
    }
    // The owner is unaffected, and the trail (which covers member slots
    // since format 3) names the slot put back after its removal.
    stdout_ok(&run_team(&env, &url, &["list"], ""));
    let o = run_team(&env, &url, &["audit", "--verify"], "");
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert!(
        stderr(&o).contains("member key slot alice") && stderr(&o).contains("present again"),
        "{}",
        stderr(&o)
    );
}

fn is_error(o: &Outcome, code: u64, kind: &str) -> bool {
    o.is_error && o.body["code"].as_u64() == Some(code) && o.body["type"] == kind
}

#[tokio::test]
async fn unreachable_store_answers_503_and_recovers() {
    let env = Env::new();
    let Some((pg, url)) = team(&env, "team_down") else {
        return;
    };
    let c = team_client(&env, &url).await;
    let store = |service: &str, name: &str| {
        json!({"service_id": service, "credential_type": "bearer",
            "credential_value": marked_value(name), "name": name})
    };
    c.ok("store_credential", store("openai", "first")).await;

    pg.stop();
    for (tool, args) in [
        ("store_credential", store("custom.down", "lost")),
        ("list_credentials", json!({})),
        ("store_credential", store("openai", "second")),
    ] {
        let o = c.call(tool, args).await;
        assert!(is_error(&o, 503, "store_unavailable"), "{tool}: {}", o.raw);
        let detail = o.body["detail"].as_str().unwrap_or_default();
        assert!(!detail.is_empty(), "{}", o.raw);
    }

    pg.restart();
    let started = Instant::now();
    loop {
        let o = c.call("store_credential", store("openai", "second")).await;
        if !o.is_error {
            break;
        }
        assert!(is_error(&o, 503, "store_unavailable"), "{}", o.raw);
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "still unavailable 10 s after the restart: {}",
            o.raw
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!("recovered {:?} after the restart", started.elapsed());
    let names: Vec<String> = listing(&c).await.into_iter().map(|(_, n)| n).collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert_eq!(
        names.into_iter().collect::<BTreeSet<_>>(),
        BTreeSet::from(["openai/first".to_owned(), "openai/second".to_owned()])
    );
    let o = run_team(&env, &url, &["audit", "--verify"], "");
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    c.stop().await;
}

/// Four `serve` processes on the team vault at `url`.
async fn four_clients(env: &Env, url: &str) -> [Client; 4] {
    [
        team_client(env, url).await,
        team_client(env, url).await,
        team_client(env, url).await,
        team_client(env, url).await,
    ]
}

#[tokio::test]
async fn four_processes_hundred_stores_each() {
    let env = Env::new();
    let Some((_pg, url)) = team(&env, "team_four") else {
        return;
    };
    let clients = four_clients(&env, &url).await;
    // Unlock all four before the clock starts.
    for c in &clients {
        c.ok("list_credentials", json!({})).await;
    }
    let started = Instant::now();
    let run = |p: usize| {
        let c = &clients[p];
        async move {
            let mut busy = 0u32;
            for i in 0..100 {
                let args = json!({"service_id": "custom.load", "credential_type": "api_key",
                    "credential_value": marked_value("load"), "name": format!("p{p}-{i}")});
                loop {
                    let o = c.call("store_credential", args.clone()).await;
                    if !o.is_error {
                        break;
                    }
                    assert!(
                        is_error(&o, 503, "vault_busy"),
                        "process {p}, store {i}: {}",
                        o.raw
                    );
                    busy += 1;
                }
            }
            busy
        }
    };
    let (a, b, c, d) = tokio::join!(run(0), run(1), run(2), run(3));
    let elapsed = started.elapsed();
    println!(
        "400 stores from 4 processes in {elapsed:?}; vault_busy answers retried: {}",
        a + b + c + d
    );
    let names: BTreeSet<String> = listing(&clients[0])
        .await
        .into_iter()
        .map(|(_, n)| n)
        .collect();
    assert_eq!(names.len(), 400);
    for p in 0..4 {
        for i in 0..100 {
            assert!(names.contains(&format!("custom.load/p{p}-{i}")));
        }
    }
    for c in clients {
        c.stop().await;
    }
}

/// Uniqueness across processes: four servers race to create one secret name
/// and to store one (service, name) at once, again and again.
#[tokio::test]
async fn names_stay_unique_across_processes() {
    let env = Env::new();
    let Some((_pg, url)) = team(&env, "team_unique") else {
        return;
    };
    let clients = four_clients(&env, &url).await;
    for round in 0..10 {
        let create = |p: usize| {
            let c = &clients[p];
            async move {
                let args = json!({"name": format!("SHARED_{round}"), "provider": "acme",
                    "value": marked_value("shared")});
                c.call("create_secret", args).await
            }
        };
        let (a, b, c, d) = tokio::join!(create(0), create(1), create(2), create(3));
        let outcomes = [a, b, c, d];
        let created = outcomes.iter().filter(|o| !o.is_error).count();
        assert_eq!(created, 1, "round {round}: exactly one create wins");
        for o in outcomes.iter().filter(|o| o.is_error) {
            assert!(is_error(o, 409, "conflict_error"), "{}", o.raw);
        }
        let store = |p: usize| {
            let c = &clients[p];
            async move {
                let args = json!({"service_id": "openai", "credential_type": "bearer",
                    "credential_value": marked_value("same"), "name": format!("same-{round}")});
                c.ok("store_credential", args).await["id"].clone()
            }
        };
        let (a, b, c, d) = tokio::join!(store(0), store(1), store(2), store(3));
        assert!(
            [&b, &c, &d].iter().all(|id| **id == a),
            "one id for one (service, name)"
        );
    }
    let names = listing(&clients[0]).await;
    assert_eq!(
        names.len(),
        10,
        "one credential per (service, name): {names:?}"
    );
    let secrets = clients[0].ok("list_secrets", json!({})).await;
    assert_eq!(
        secrets["secrets"].as_array().unwrap().len(),
        10,
        "{secrets}"
    );
    for c in clients {
        c.stop().await;
    }
}
