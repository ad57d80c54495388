//! The audit trail (DESIGN §10): every action leaves exactly one entry, sealed
//! and chained, and `credvault audit --verify` catches each kind of tampering
//! with the trail or with the live records, naming what it found.

use std::path::Path;

use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use serde_json::{Value, json};

use crate::common::{Env, MARKER, contains, marked_value, stdout_ok};
use crate::http::Http;
use crate::netns::{self, Namespace};
use crate::tamper::{raw_db, records};
use crate::upstream::{Ca, Upstream};

const AUDIT: TableDefinition<u64, &[u8]> = TableDefinition::new("audit");
const CREDENTIALS: TableDefinition<u128, &[u8]> = TableDefinition::new("credentials");
const INDEX: TableDefinition<&[u8], u128> = TableDefinition::new("index");

fn trail(env: &Env) -> Vec<Value> {
    stdout_ok(&env.run(&["audit", "--json"], ""))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Runs in its own network namespace (`netns`): its refused call names a
/// public host.
#[tokio::test]
async fn every_action_leaves_exactly_one_entry() {
    if !netns::isolated(
        "audit::every_action_leaves_exactly_one_entry",
        Namespace::default(),
    ) {
        return;
    }
    let mut env = Env::new();
    let ca = Ca::new(env.dir.path());
    env.extra_env.push((
        "CREDVAULT_CA_FILE".into(),
        ca.pem_path.display().to_string(),
    ));
    let up = Upstream::start(&ca).await;
    assert!(env.run(&["init"], "").status.success());
    assert!(trail(&env).is_empty(), "a new vault has an empty trail");
    let token = crate::http::token(&env, "laptop");
    let (v1, v2) = (marked_value("one"), marked_value("two"));
    let c = env.client().await;
    let store = json!({"service_id": "custom.acme", "credential_type": "bearer", "credential_value": v1, "allowed_hosts": [up.host()]});
    c.ok("store_credential", store.clone()).await;
    let mut again = store.clone();
    again["credential_value"] = json!(v2);
    c.ok("store_credential", again).await;
    c.ok(
        "create_secret",
        json!({"name": "AUDIT_SECRET", "provider": "acme", "value": marked_value("secret")}),
    )
    .await;
    c.ok(
        "call_api",
        json!({"service_id": "custom.acme", "method": "GET", "url": "/echo"}),
    )
    .await;
    let refused = c
        .call("call_api", json!({"service_id": "custom.acme", "method": "POST", "url": "https://elsewhere.example/x"}))
        .await;
    assert!(refused.is_error);
    c.ok("delete_credential", json!({"service_id": "custom.acme"}))
        .await;
    c.stop().await;
    // One store over HTTP: via names the token.
    {
        let (base, _server) = crate::common::serve_http(&env, None);
        let r = Http::client()
            .post(format!("{base}/api/credentials"))
            .bearer_auth(&token)
            .json(&json!({"service": "openai", "name": "http", "key": marked_value("http")}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), reqwest::StatusCode::CREATED);
        // And over MCP (Streamable HTTP): the same token names the change.
        let t = rmcp::transport::StreamableHttpClientTransport::from_config(
            rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig::with_uri(
                format!("{base}/mcp"),
            )
            .auth_header(token.clone()),
        );
        let m = rmcp::serve_client_with_lifecycle((), t, rmcp::ClientLifecycleMode::Initialize)
            .await
            .unwrap();
        let o = crate::http::call(
            &m,
            "create_secret",
            json!({"name": "HTTP_SECRET", "provider": "openai", "value": marked_value("mcp")}),
        )
        .await;
        assert!(!o.is_error, "{}", o.raw);
        let _ = m.cancel().await;
    }

    stdout_ok(&env.run(&["exec", "--secret", "AUDIT_SECRET", "--", "true"], ""));
    stdout_ok(&env.run(
        &["secret", "rotate", "AUDIT_SECRET"],
        &marked_value("rotated"),
    ));
    stdout_ok(&env.run(&["secret", "delete", "AUDIT_SECRET"], ""));
    stdout_ok(&env.run(&["token", "revoke", "laptop"], ""));
    let copy = env.dir.path().join("audit-backup.redb");
    stdout_ok(&env.run(&["backup", copy.to_str().unwrap()], ""));
    let new_pw = env.with_password("audit new password");
    stdout_ok(&env.run(
        &["passwd", "--new-password-file", new_pw.to_str().unwrap()],
        "",
    ));
    env.pw_file = new_pw;
    let got: Vec<(String, String, String, String)> = trail(&env)
        .iter()
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or_default().to_owned();
            (s("action"), s("subject"), s("via"), s("outcome"))
        })
        .collect();
    let want = [
        ("token_create", "laptop", "cli", "ok"),
        ("store", "custom.acme/default", "stdio", "ok"),
        ("replace", "custom.acme/default", "stdio", "ok"),
        ("secret_create", "AUDIT_SECRET", "stdio", "ok"),
        ("call_api", "custom.acme/default", "stdio", "200"),
        ("call_api", "custom.acme/default", "stdio", "403 forbidden"),
        ("delete", "custom.acme/default", "stdio", "ok"),
        ("store", "openai/http", "http:laptop", "ok"),
        ("secret_create", "HTTP_SECRET", "http:laptop", "ok"),
        ("exec", "AUDIT_SECRET", "cli", "started"),
        ("secret_rotate", "AUDIT_SECRET", "cli", "ok"),
        ("secret_delete", "AUDIT_SECRET", "cli", "ok"),
        ("token_revoke", "laptop", "cli", "ok"),
        ("backup", copy.to_str().unwrap(), "cli", "ok"),
        ("passwd", "", "cli", "ok"),
    ];
    let want: Vec<(String, String, String, String)> = want
        .iter()
        .map(|(a, b, c, d)| (a.to_string(), b.to_string(), c.to_string(), d.to_string()))
        .collect();
    assert_eq!(got, want);
    let entries = trail(&env);
    assert_eq!(entries[4]["detail"], format!("GET {}", up.host()));
    assert_eq!(entries[5]["detail"], "POST elsewhere.example");
    assert_eq!(
        entries[9]["detail"], "true",
        "exec: the program's file name only"
    );
    assert!(
        entries
            .iter()
            .enumerate()
            .all(|(i, e)| e["seq"] == i as u64 + 1)
    );
    let table = stdout_ok(&env.run(&["audit"], ""));
    assert!(
        table.starts_with("#") && table.contains("secret_rotate"),
        "{table}"
    );
    let recent = stdout_ok(&env.run(&["audit", "--json", "--since", "1h"], ""));
    assert_eq!(recent.lines().count(), want.len());
    assert_eq!(
        stdout_ok(&env.run(&["audit", "--json", "--since", "2999-01-01T00:00:00Z"], "")),
        ""
    );
    assert!(stdout_ok(&env.run(&["audit", "--verify"], "")).starts_with("ok: 15 entries"));
    // No value, in any encoding the sweep knows, in the trail's output.
    let all = stdout_ok(&env.run(&["audit", "--json"], ""));
    assert!(!contains(all.as_bytes(), MARKER));
}

fn with_write(path: &Path, f: impl FnOnce(&redb::WriteTransaction)) {
    let db = raw_db(path);
    let txn = db.begin_write().unwrap();
    f(&txn);
    txn.commit().unwrap();
}

fn audit_rows(path: &Path) -> Vec<(u64, Vec<u8>)> {
    let db = raw_db(path);
    let txn = db.begin_read().unwrap();
    let t = txn.open_table(AUDIT).unwrap();
    t.iter()
        .unwrap()
        .map(|e| e.unwrap())
        .map(|(k, v)| (k.value(), v.value().to_vec()))
        .collect()
}

/// `audit --verify` on `env`: exit code and stderr.
fn verify(env: &Env) -> (i32, String) {
    let o = env.run(&["audit", "--verify"], "");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn verify_catches_each_kind_of_tampering() {
    let base = Env::new();
    assert!(base.run(&["init"], "").status.success());
    for name in ["a", "b", "c"] {
        stdout_ok(&base.run(
            &["store", "--service", "openai", "--name", name],
            &marked_value(name),
        ));
    }
    // The sealed record of openai/a as first written, for the replay below.
    let first_a = records(&base.vault);
    stdout_ok(&base.run(
        &["store", "--service", "openai", "--name", "a"],
        &marked_value("a2"),
    ));
    stdout_ok(&base.run(
        &["secret", "create", "--name", "S1", "--provider", "openai"],
        &marked_value("s"),
    ));
    assert_eq!(verify(&base).0, 0);
    let n = audit_rows(&base.vault).len() as u64;
    assert_eq!(n, 5);

    let ids: Vec<u128> = records(&base.vault).into_iter().map(|(k, _)| k).collect();
    let a_id = ids
        .iter()
        .copied()
        .find(|id| {
            first_a.iter().any(|(k, _)| k == id) && {
                // openai/a is the one whose bytes changed since.
                let now = records(&base.vault);
                now.iter().find(|(k, _)| k == id).map(|x| &x.1)
                    != first_a.iter().find(|(k, _)| k == id).map(|x| &x.1)
            }
        })
        .unwrap();
    let a_shown = uuid::Uuid::from_u128(a_id).to_string();

    type Tamper = Box<dyn Fn(&redb::WriteTransaction)>;
    let old_a = first_a.iter().find(|(k, _)| *k == a_id).unwrap().1.clone();
    let entry = |seq: u64| {
        audit_rows(&base.vault)
            .into_iter()
            .find(|(k, _)| *k == seq)
            .unwrap()
            .1
    };
    let (e2, e3) = (entry(2), entry(3));
    let cases: Vec<(&str, Tamper, &str)> = vec![
        (
            "an entry removed",
            Box::new(|t| {
                t.open_table(AUDIT).unwrap().remove(2).unwrap();
            }),
            "entry #2",
        ),
        (
            "an entry altered",
            Box::new(move |t| {
                let mut bad = e2.clone();
                bad[30] ^= 1;
                t.open_table(AUDIT)
                    .unwrap()
                    .insert(2, bad.as_slice())
                    .unwrap();
            }),
            "entry #2",
        ),
        (
            "two entries swapped",
            {
                let (e2, e3) = (entry(2), e3.clone());
                Box::new(move |t| {
                    let mut a = t.open_table(AUDIT).unwrap();
                    a.insert(2, e3.as_slice()).unwrap();
                    a.insert(3, e2.as_slice()).unwrap();
                })
            },
            "entry #2",
        ),
        (
            "the tail cut",
            Box::new(move |t| {
                t.open_table(AUDIT).unwrap().remove(n).unwrap();
            }),
            "cut from the end",
        ),
        (
            "an older record replayed",
            Box::new(move |t| {
                t.open_table(CREDENTIALS)
                    .unwrap()
                    .insert(a_id, old_a.as_slice())
                    .unwrap();
            }),
            "older copy replayed",
        ),
        (
            "a record deleted",
            Box::new(move |t| {
                t.open_table(CREDENTIALS).unwrap().remove(a_id).unwrap();
            }),
            "is missing",
        ),
        (
            "an index entry deleted",
            Box::new(move |t| {
                let mut idx = t.open_table(INDEX).unwrap();
                let k = idx
                    .iter()
                    .unwrap()
                    .map(|e| e.unwrap())
                    .find(|(_, v)| v.value() == a_id)
                    .map(|(k, _)| k.value().to_vec())
                    .unwrap();
                idx.remove(k.as_slice()).unwrap();
            }),
            "no index entry",
        ),
        (
            "a record duplicated",
            {
                let copy = entry_bytes_of(&base.vault, a_id);
                Box::new(move |t| {
                    t.open_table(CREDENTIALS)
                        .unwrap()
                        .insert(a_id + 1, copy.as_slice())
                        .unwrap();
                })
            },
            "another id",
        ),
    ];
    for (what, tamper, expect) in cases {
        let env = Env::new();
        std::fs::create_dir_all(env.vault.parent().unwrap()).unwrap();
        std::fs::copy(&base.vault, &env.vault).unwrap();
        with_write(&env.vault, |t| tamper(t));
        let (code, err) = verify(&env);
        assert_eq!(code, 1, "{what}: {err}");
        let first = err.lines().next().unwrap_or_default();
        assert!(
            first.contains(expect),
            "{what}: the first problem should say {expect:?}: {err}"
        );
        let named = if what == "a record duplicated" {
            uuid::Uuid::from_u128(a_id + 1).to_string()
        } else {
            a_shown.clone()
        };
        if what.contains("record") || what.contains("index") {
            assert!(err.contains(&named), "{what} names the record: {err}");
        }
        assert!(!contains(err.as_bytes(), MARKER));
        // The rest is still listed.
        let listed = stdout_ok(&env.run(&["list", "--json"], ""));
        assert!(
            listed.contains("\"b\"") && listed.contains("\"c\""),
            "{what}: {listed}"
        );
    }
}

fn entry_bytes_of(path: &Path, id: u128) -> Vec<u8> {
    records(path).into_iter().find(|(k, _)| *k == id).unwrap().1
}

#[test]
fn a_lowered_format_or_a_redirected_name_is_caught() {
    let base = Env::new();
    assert!(base.run(&["init"], "").status.success());
    for name in ["a", "b"] {
        stdout_ok(&base.run(
            &["store", "--service", "openai", "--name", name],
            &marked_value(name),
        ));
    }
    const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

    // Version lowered to 1 and the head removed: verify says so, and the next
    // write refuses to start a new trail over the old one.
    let env = Env::new();
    std::fs::create_dir_all(env.vault.parent().unwrap()).unwrap();
    std::fs::copy(&base.vault, &env.vault).unwrap();
    with_write(&env.vault, |t| {
        let mut m = t.open_table(META).unwrap();
        m.insert("format_version", 1u32.to_le_bytes().as_slice())
            .unwrap();
        m.remove("audit_head").unwrap();
    });
    let (code, err) = verify(&env);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("lowered"), "{err}");
    let o = env.run(
        &["store", "--service", "openai", "--name", "c"],
        &marked_value("c"),
    );
    assert!(!o.status.success(), "{o:?}");
    assert_eq!(audit_rows(&env.vault).len(), 2, "the trail is untouched");

    // b's name redirected to a's record: verify names it, and deleting b by
    // name refuses instead of deleting a.
    let env = Env::new();
    std::fs::create_dir_all(env.vault.parent().unwrap()).unwrap();
    std::fs::copy(&base.vault, &env.vault).unwrap();
    let listed: Value =
        serde_json::from_str(&stdout_ok(&env.run(&["list", "--json"], ""))).unwrap();
    let id_of = |name: &str| {
        let c = listed["credentials"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap();
        uuid::Uuid::parse_str(c["id"].as_str().unwrap())
            .unwrap()
            .as_u128()
    };
    let (a_id, b_id) = (id_of("a"), id_of("b"));
    with_write(&env.vault, |t| {
        let mut idx = t.open_table(INDEX).unwrap();
        let keys: Vec<(Vec<u8>, u128)> = idx
            .iter()
            .unwrap()
            .map(|e| e.unwrap())
            .map(|(k, v)| (k.value().to_vec(), v.value()))
            .collect();
        let b_key = keys.iter().find(|(_, v)| *v == b_id).unwrap().0.clone();
        idx.insert(b_key.as_slice(), a_id).unwrap();
    });
    let (code, err) = verify(&env);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("redirected"), "{err}");
    let o = env.run(&["delete", "openai/b"], "");
    assert!(!o.status.success(), "deleting b must not delete a: {o:?}");
    let after: Value = serde_json::from_str(&stdout_ok(&env.run(&["list", "--json"], ""))).unwrap();
    assert_eq!(
        after["credentials"].as_array().unwrap().len(),
        2,
        "nothing deleted"
    );
}
