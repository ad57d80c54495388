//! A record put back from an older copy (by someone who can write the vault
//! file or the team vault's database, but not open it) is never used, never
//! re-sealed and never laundered into the trail (DESIGN §13, 2026-12-07):
//! call_api and exec refuse it before anything is sent, with a tamper error,
//! and write nothing, so `audit --verify` keeps reporting it. The same for a
//! member's key slot put back from before a `passwd` or a removal.

use std::path::Path;
use std::process::Output;

use serde_json::{Value, json};

use crate::call_api::env_with_ca;
use crate::common::{Client, Env, marked_value, stdout_ok};
use crate::pgcluster::Cluster;
use crate::team::{run_as, run_team, stderr, team, team_client};
use crate::team_guard::{from_hex, to_hex};
use crate::upstream::Upstream;

const TAMPERED: &str = "is not the version the audit trail last wrote";

/// What the scenario needs of a store: the CLI on it, a server on it, and the
/// one credentials row as raw bytes, read and written back.
struct Store<'a> {
    cli: Cli<'a>,
    row: Box<dyn Fn() -> Vec<u8> + 'a>,
    put_row: PutRow<'a>,
}

type Cli<'a> = Box<dyn Fn(&[&str], &str) -> Output + 'a>;
type PutRow<'a> = Box<dyn Fn(&[u8]) + 'a>;

async fn store(c: &Client, value: &str, hosts: &[String]) {
    c.ok(
        "store_credential",
        json!({"service_id": "custom.replay", "credential_type": "api_key",
               "credential_value": value, "allowed_hosts": hosts}),
    )
    .await;
}

fn entries(s: &Store<'_>) -> usize {
    stdout_ok(&(s.cli)(&["audit", "--json"], ""))
        .lines()
        .count()
}

fn verify_fails(s: &Store<'_>) -> String {
    let o = (s.cli)(&["audit", "--verify"], "");
    assert_eq!(o.status.code(), Some(1), "verify must report it: {o:?}");
    stderr(&o)
}

/// The person stores a value for two hosts, then stores it again for one
/// (dropping P2); a writer puts the old row back. Nothing may be sent, to
/// either host, and nothing written.
async fn replayed_credential(s: &Store<'_>, c: &Client, p1: &Upstream, p2: &Upstream) {
    store(c, &marked_value("old"), &[p1.host(), p2.host()]).await;
    let old = (s.row)();
    store(c, &marked_value("new"), &[p1.host()]).await;
    let refused = c
        .call(
            "call_api",
            json!({"service_id": "custom.replay", "method": "GET", "url": p2.url("/echo")}),
        )
        .await;
    assert_eq!(refused.body["code"], 403, "P2 was dropped: {}", refused.raw);

    (s.put_row)(&old);
    assert!(verify_fails(s).contains("custom.replay"));
    let before = entries(s);
    for up in [p2, p1] {
        let o = c
            .call(
                "call_api",
                json!({"service_id": "custom.replay", "method": "GET", "url": up.url("/echo")}),
            )
            .await;
        assert!(o.is_error, "a replayed record must not be used: {}", o.raw);
        let detail = o.body["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(TAMPERED), "{}", o.raw);
        assert!(detail.contains("custom.replay/default"), "{detail}");
    }
    assert_eq!(p2.requests().len(), 0, "nothing reached the dropped host");
    assert_eq!(p1.requests().len(), 0, "nothing reached the other host");

    // exec: refused before the program runs.
    exec_is_refused(
        |args| (s.cli)(args, ""),
        &["--env", "TOKEN=custom.replay"],
        TAMPERED,
    );

    // Replacing it would keep the replayed record's id and created_at: refused too.
    let o = c
        .call(
            "store_credential",
            json!({"service_id": "custom.replay", "credential_type": "api_key",
                   "credential_value": marked_value("third"), "allowed_hosts": [p1.host()]}),
        )
        .await;
    assert!(o.is_error, "{}", o.raw);
    assert!(
        o.body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains(TAMPERED)
    );

    // Nothing was written: the trail is as long as before and still reports it.
    assert_eq!(entries(s), before, "no entry was appended");
    assert!(verify_fails(s).contains("custom.replay"));
    assert_eq!((s.row)(), old, "the row was not re-sealed");

    // The way out: delete it, store it again.
    stdout_ok(&(s.cli)(&["delete", "custom.replay"], ""));
    stdout_ok(&(s.cli)(&["audit", "--verify"], ""));
    store(c, &marked_value("again"), &[p1.host()]).await;
    let r = c
        .ok(
            "call_api",
            json!({"service_id": "custom.replay", "method": "GET", "url": p1.url("/echo")}),
        )
        .await;
    assert_eq!(r["status"], 200);
    assert_eq!(p1.requests().len(), 1);
    stdout_ok(&(s.cli)(&["audit", "--verify"], ""));
}

/// `credvault exec SPEC -- sh -c 'touch MARKER'` through `run` is refused
/// with `why`, and the program never runs (MARKER is a path nothing else creates).
fn exec_is_refused(run: impl Fn(&[&str]) -> Output, spec: &[&str], why: &str) {
    let ran = std::env::temp_dir().join(format!("credvault-ran-{}", uuid::Uuid::new_v4()));
    let touch = format!("touch {}", ran.display());
    let mut args = vec!["exec"];
    args.extend_from_slice(spec);
    args.extend(["--", "sh", "-c", &touch]);
    let o = run(&args);
    assert_eq!(o.status.code(), Some(1), "{spec:?}: {o:?}");
    assert!(stderr(&o).contains(why), "{spec:?}: {}", stderr(&o));
    assert!(!ran.exists(), "{spec:?}: the program must not run");
}

#[tokio::test]
async fn a_replayed_credential_in_the_vault_file_is_never_used() {
    let (env, ca) = env_with_ca();
    let (p1, p2) = (Upstream::start(&ca).await, Upstream::start(&ca).await);
    let c = env.client().await;
    let vault = env.vault.clone();
    let s = Store {
        cli: Box::new(|args, stdin| env.run(args, stdin)),
        row: Box::new(|| {
            let rows = crate::tamper::records(&vault);
            assert_eq!(rows.len(), 1);
            rows[0].1.clone()
        }),
        put_row: Box::new(|bytes| {
            let id = crate::tamper::records(&vault)[0].0;
            crate::tamper::put(&vault, id, bytes);
        }),
    };
    replayed_credential(&s, &c, &p1, &p2).await;
    c.stop().await;
}

#[tokio::test]
async fn a_replayed_credential_row_in_postgres_is_never_used() {
    let (env, ca) = env_with_ca();
    let db = "replay_credential";
    let Some((pg, url)) = team(&env, db) else {
        return;
    };
    let (p1, p2) = (Upstream::start(&ca).await, Upstream::start(&ca).await);
    let c = team_client(&env, &url).await;
    let s = Store {
        cli: Box::new(|args, stdin| run_team(&env, &url, args, stdin)),
        row: Box::new(|| {
            from_hex(&pg.sql(db, "SELECT encode(v, 'hex') FROM credvault_credentials"))
        }),
        put_row: Box::new(|bytes| {
            pg.sql(
                db,
                &format!(
                    "UPDATE credvault_credentials SET v = decode('{}', 'hex')",
                    to_hex(bytes)
                ),
            );
        }),
    };
    replayed_credential(&s, &c, &p1, &p2).await;
    c.stop().await;
}

#[test]
fn a_replayed_secret_is_neither_used_nor_rotated() {
    let env = Env::new();
    stdout_ok(&env.run(&["init"], ""));
    stdout_ok(&env.run(
        &[
            "secret",
            "create",
            "--name",
            "REPLAY_TOKEN",
            "--provider",
            "github",
        ],
        &marked_value("first"),
    ));
    let old = secret_rows(&env.vault);
    stdout_ok(&env.run(
        &["secret", "rotate", "REPLAY_TOKEN"],
        &marked_value("second"),
    ));
    let new = secret_rows(&env.vault);
    assert_ne!(old, new);
    put_secret(&env.vault, &old);
    let before = stdout_ok(&env.run(&["audit", "--json"], ""))
        .lines()
        .count();
    for spec in [&["--secret", "REPLAY_TOKEN"][..], &["--all-secrets"][..]] {
        exec_is_refused(|args| env.run(args, ""), spec, TAMPERED);
    }
    let o = env.run(
        &["secret", "rotate", "REPLAY_TOKEN"],
        &marked_value("third"),
    );
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert!(stderr(&o).contains(TAMPERED), "{}", stderr(&o));
    let after = stdout_ok(&env.run(&["audit", "--json"], ""))
        .lines()
        .count();
    assert_eq!(after, before, "nothing was written");
    assert_eq!(secret_rows(&env.vault), old);
    assert_eq!(env.run(&["audit", "--verify"], "").status.code(), Some(1));
}

const SECRETS: redb::TableDefinition<u128, &[u8]> = redb::TableDefinition::new("secrets");

fn secret_rows(path: &Path) -> Vec<(u128, Vec<u8>)> {
    use redb::{ReadableDatabase, ReadableTable};
    let db = crate::tamper::raw_db(path);
    let txn = db.begin_read().unwrap();
    let t = txn.open_table(SECRETS).unwrap();
    t.iter()
        .unwrap()
        .map(|e| e.unwrap())
        .map(|(k, v)| (k.value(), v.value().to_vec()))
        .collect()
}

fn put_secret(path: &Path, rows: &[(u128, Vec<u8>)]) {
    let db = crate::tamper::raw_db(path);
    let txn = db.begin_write().unwrap();
    {
        let mut t = txn.open_table(SECRETS).unwrap();
        for (id, bytes) in rows {
            t.insert(*id, bytes.as_slice()).unwrap();
        }
    }
    txn.commit().unwrap();
}

fn slot_of(pg: &Cluster, db: &str, member: &str) -> Vec<u8> {
    from_hex(&pg.sql(
        db,
        &format!(
            "SELECT encode(v, 'hex') FROM credvault_members WHERE k = convert_to('{member}', 'UTF8')"
        ),
    ))
}

fn put_slot(pg: &Cluster, db: &str, member: &str, slot: &[u8]) {
    pg.sql(
        db,
        &format!(
            "INSERT INTO credvault_members (k, v) VALUES (convert_to('{member}', 'UTF8'), decode('{}', 'hex')) \
             ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v",
            to_hex(slot)
        ),
    );
}

/// `passwd` and `member remove` cannot be undone by putting a slot back.
#[test]
fn a_rolled_back_member_slot_does_not_unlock() {
    let env = Env::new();
    let db = "replay_members";
    let Some((pg, url)) = team(&env, db) else {
        return;
    };
    stdout_ok(&run_team(
        &env,
        &url,
        &["store", "--service", "openai"],
        "sk-team-value-1234567",
    ));
    let bob_old = env.with_password("bob's first password");
    let bob_new = env.with_password("bob's second password, after a leak");
    let carol = env.with_password("carol's password");
    for (name, pw) in [("bob", &bob_old), ("carol", &carol)] {
        let pw = pw.display().to_string();
        stdout_ok(&run_team(
            &env,
            &url,
            &["member", "add", name, "--new-password-file", &pw],
            "",
        ));
    }
    let (bob_slot, carol_slot) = (slot_of(&pg, db, "bob"), slot_of(&pg, db, "carol"));
    stdout_ok(&run_as(&env, &url, "bob", &bob_old, &["list"]));

    // bob's password leaked: he changes it; the writer puts his old slot back.
    let f = bob_new.display().to_string();
    stdout_ok(&run_as(
        &env,
        &url,
        "bob",
        &bob_old,
        &["passwd", "--new-password-file", &f],
    ));
    assert_ne!(slot_of(&pg, db, "bob"), bob_slot, "a new slot");
    put_slot(&pg, db, "bob", &bob_slot);
    let o = run_as(&env, &url, "bob", &bob_old, &["list"]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "the old password must not work: {o:?}"
    );
    assert!(
        stderr(&o).contains("member bob's key slot") && stderr(&o).contains(TAMPERED),
        "{}",
        stderr(&o)
    );
    assert!(o.stdout.is_empty());

    // carol is removed; the writer puts her slot back.
    stdout_ok(&run_team(&env, &url, &["member", "remove", "carol"], ""));
    put_slot(&pg, db, "carol", &carol_slot);
    let o = run_as(&env, &url, "carol", &carol, &["list"]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "a removed member stays out: {o:?}"
    );
    assert!(
        stderr(&o).contains("member carol's key slot is not in the audit trail"),
        "{}",
        stderr(&o)
    );

    // The owner's verify names both slots.
    let report = verify_report(&run_team(&env, &url, &["audit", "--verify", "--json"], ""));
    let named = |who: &str| {
        report["problems"].as_array().unwrap().iter().any(|p| {
            p["record"]
                .as_str()
                .unwrap_or_default()
                .contains(&format!("member key slot {who}"))
        })
    };
    assert!(named("bob") && named("carol"), "{report}");
}

fn verify_report(o: &Output) -> Value {
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    serde_json::from_slice(&o.stdout).unwrap()
}

/// A trail that covers member slots with its format version lowered to 2
/// (so that a migration would write a fresh baseline over a rolled-back slot)
/// is reported and refuses writes.
#[test]
fn a_lowered_format_version_is_not_a_migration() {
    let env = Env::new();
    let db = "replay_format";
    let Some((pg, url)) = team(&env, db) else {
        return;
    };
    stdout_ok(&run_team(
        &env,
        &url,
        &["store", "--service", "openai"],
        "sk-before-lowering-1",
    ));
    pg.sql(
        db,
        "UPDATE credvault_meta SET v = decode('02000000', 'hex') WHERE k = convert_to('format_version', 'UTF8')",
    );
    // A use would go ahead and then fail to record itself: refused first.
    exec_is_refused(
        |args| run_team(&env, &url, args, ""),
        &["--env", "T=openai"],
        "format version was lowered",
    );
    let report = verify_report(&run_team(&env, &url, &["audit", "--verify", "--json"], ""));
    assert!(
        report.to_string().contains("lowered outside credvault"),
        "{report}"
    );
    let o = run_team(
        &env,
        &url,
        &["store", "--service", "openai"],
        "sk-after-lowering-1",
    );
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert!(stderr(&o).contains("lowered"), "{}", stderr(&o));
    let rows = pg.sql(db, "SELECT count(*) FROM credvault_credentials");
    assert_eq!(rows.trim(), "1");
}

/// The record *and* the trail put back to an older, consistent state (a
/// rollback a fresh process cannot tell from the file alone): a server that
/// has read the longer trail refuses, and sends nothing.
#[tokio::test]
async fn a_running_server_refuses_a_trail_cut_back_under_it() {
    use credvault::store::redb::{AUDIT, CREDENTIALS, META};
    use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata};
    let (env, ca) = env_with_ca();
    let (p1, p2) = (Upstream::start(&ca).await, Upstream::start(&ca).await);
    let c = env.client().await;
    store(&c, &marked_value("old"), &[p1.host(), p2.host()]).await;
    let (id, row, head, count) = {
        let db = crate::tamper::raw_db(&env.vault);
        let txn = db.begin_read().unwrap();
        let (id, row) = {
            let t = txn.open_table(CREDENTIALS).unwrap();
            let (k, v) = t.first().unwrap().unwrap();
            (k.value(), v.value().to_vec())
        };
        let head = txn
            .open_table(META)
            .unwrap()
            .get("audit_head")
            .unwrap()
            .unwrap()
            .value()
            .to_vec();
        (id, row, head, txn.open_table(AUDIT).unwrap().len().unwrap())
    };
    store(&c, &marked_value("new"), &[p1.host()]).await;
    let r = c
        .ok(
            "call_api",
            json!({"service_id": "custom.replay", "method": "GET", "url": p1.url("/echo")}),
        )
        .await;
    assert_eq!(r["status"], 200, "the server has read the longer trail");
    {
        let db = crate::tamper::raw_db(&env.vault);
        let txn = db.begin_write().unwrap();
        txn.open_table(CREDENTIALS)
            .unwrap()
            .insert(id, row.as_slice())
            .unwrap();
        txn.open_table(META)
            .unwrap()
            .insert("audit_head", head.as_slice())
            .unwrap();
        let mut audit = txn.open_table(AUDIT).unwrap();
        while audit.len().unwrap() > count {
            audit.pop_last().unwrap();
        }
        drop(audit);
        txn.commit().unwrap();
    }
    let refused = |o: &crate::common::Outcome, why: &str| {
        assert!(o.is_error, "{}", o.raw);
        let detail = o.body["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(why), "{}", o.raw);
    };
    let call = json!({"service_id": "custom.replay", "method": "GET", "url": p2.url("/echo")});
    refused(
        &c.call("call_api", call.clone()).await,
        "shorter than when this process last read it",
    );
    // Fresh processes (no memory of the longer trail) write onto the cut one
    // until it is longer than the server read: still not the trail it read.
    for i in 0..6 {
        let name = format!("REGROW_{i}");
        stdout_ok(&env.run(
            &["secret", "create", "--name", &name, "--provider", "x"],
            &marked_value("regrow"),
        ));
    }
    refused(
        &c.call("call_api", call).await,
        "no longer continues from the entry this process last read",
    );
    let o = c
        .call(
            "create_secret",
            json!({"name": "AFTER_FORK", "provider": "x", "value": marked_value("fork")}),
        )
        .await;
    assert!(o.is_error, "no write onto a replaced trail: {}", o.raw);
    assert_eq!(p2.requests().len(), 0, "nothing reached the dropped host");
    c.stop().await;
}

/// A revoked token's row put back does not authenticate.
#[tokio::test]
async fn a_revoked_token_put_back_authenticates_nobody() {
    use credvault::store::redb::TOKENS;
    use redb::{ReadableDatabase, ReadableTable};
    let env = Env::new();
    stdout_ok(&env.run(&["init"], ""));
    let token = stdout_ok(&env.run(&["token", "create", "--name", "agentA"], ""));
    let rows: Vec<(Vec<u8>, Vec<u8>)> = {
        let db = crate::tamper::raw_db(&env.vault);
        let txn = db.begin_read().unwrap();
        let t = txn.open_table(TOKENS).unwrap();
        t.iter()
            .unwrap()
            .map(|e| e.unwrap())
            .map(|(k, v)| (k.value().to_vec(), v.value().to_vec()))
            .collect()
    };
    stdout_ok(&env.run(&["token", "revoke", "agentA"], ""));
    {
        let db = crate::tamper::raw_db(&env.vault);
        let txn = db.begin_write().unwrap();
        {
            let mut t = txn.open_table(TOKENS).unwrap();
            for (k, v) in &rows {
                t.insert(k.as_slice(), v.as_slice()).unwrap();
            }
        }
        txn.commit().unwrap();
    }
    let (base, _server) = crate::common::serve_http(&env, None);
    crate::common::install_tls_provider();
    let status = reqwest::Client::new()
        .get(format!("{base}/api/credentials"))
        .bearer_auth(token.trim())
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(
        status, 401,
        "a revoked token put back must not authenticate"
    );
}

/// Removes the whole trail from a vault file and says format 1 (no trail
/// yet): what a file writer would do to switch every check off.
fn remove_the_trail(path: &Path) {
    use credvault::store::redb::{AUDIT, META};
    use redb::ReadableTableMetadata;
    let db = crate::tamper::raw_db(path);
    let txn = db.begin_write().unwrap();
    {
        let mut audit = txn.open_table(AUDIT).unwrap();
        while audit.len().unwrap() > 0 {
            audit.pop_last().unwrap();
        }
        let mut meta = txn.open_table(META).unwrap();
        meta.remove("audit_head").unwrap();
        meta.insert("format_version", 1u32.to_le_bytes().as_slice())
            .unwrap();
    }
    txn.commit().unwrap();
}

/// With the trail gone, a replayed record would pass every check (there is
/// nothing to compare with): the wrapped key says the vault keeps a trail,
/// so it does not open at all.
#[test]
fn removing_the_trail_does_not_switch_the_checks_off() {
    let env = Env::new();
    stdout_ok(&env.run(&["init"], ""));
    let store = |v: &str| {
        stdout_ok(&env.run(
            &[
                "store",
                "--service",
                "custom.x",
                "--allow-host",
                "127.0.0.1:9",
            ],
            v,
        ))
    };
    store(&marked_value("old"));
    let old = crate::tamper::records(&env.vault);
    store(&marked_value("new"));
    crate::tamper::put(&env.vault, old[0].0, &old[0].1);
    remove_the_trail(&env.vault);
    exec_is_refused(
        |args| env.run(args, ""),
        &["--env", "T=custom.x"],
        "audit trail was removed",
    );
    // Nor does a write start a new trail (a baseline of the replayed row).
    let o = env.run(
        &["secret", "create", "--name", "AFTER", "--provider", "x"],
        "sk-after-removal-1",
    );
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let o = env.run(&["audit", "--verify"], "");
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert!(
        stderr(&o).contains("the trail was removed"),
        "{}",
        stderr(&o)
    );
}

/// A vault written before the binding (the format-1 fixture, its wrapped key
/// from then) gets it at the first unlock after it has a trail.
#[test]
fn an_older_vault_file_gets_the_trail_bound_to_its_key() {
    use credvault::{SecretString, Vault, VaultError};
    let env = Env::new();
    std::fs::create_dir_all(env.vault.parent().unwrap()).unwrap();
    std::fs::copy(crate::format::fixture(), &env.vault).unwrap();
    std::fs::set_permissions(
        &env.vault,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let pw = SecretString::from(crate::format::FIXTURE_PASSWORD);
    let v = Vault::open(&env.vault, &pw).unwrap();
    crate::format::store(&v, "openai", "primary", "api_key", "sk-fixture-replaced");
    drop(v);
    drop(Vault::open(&env.vault, &pw).unwrap()); // has a trail now: binds it
    remove_the_trail(&env.vault);
    let v = Vault::open(&env.vault, &pw).unwrap();
    let report = v.verify_audit().unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.what.contains("the trail was removed")),
        "{:?}",
        report.problems
    );
    match v.credential_for_use("openai", "primary") {
        Err(VaultError::Tampered(m)) => assert!(m.contains("audit trail was removed"), "{m}"),
        other => panic!("used without its trail: {:?}", other.map(|o| o.is_some())),
    }
}

/// The trail's checkpoint: a fresh process starts from it instead of reading
/// every entry (shown by an entry before it altered afterwards: a use does
/// not read it again, `--verify` still does), and a record put back across
/// it is still refused.
#[test]
fn a_checkpoint_spares_the_first_read_and_still_refuses_a_replay() {
    use credvault::store::redb::{AUDIT, META};
    use credvault::{KdfParams, SecretString, Vault, VaultError, validate};
    use redb::{ReadableDatabase, ReadableTable};
    let env = Env::new();
    let pw = SecretString::from(crate::common::PASSWORD);
    let cheap = KdfParams {
        m_kib: KdfParams::MIN_M_KIB,
        t: 1,
        p: 1,
    };
    let store = |v: &Vault, service: &str, value: &str| {
        let args = json!({"service_id": service, "credential_type": "api_key",
            "credential_value": value, "allowed_hosts": ["127.0.0.1:9"]});
        let req = validate::store_credential(args.as_object().unwrap().clone()).unwrap();
        v.store_credential(&req, "test").unwrap();
    };
    let v = Vault::create(&env.vault, &pw, cheap).unwrap();
    store(&v, "custom.x", "sk-old-value-xxxxxxxx");
    store(&v, "custom.y", "sk-untouched-yyyyyyyy");
    drop(v);
    let old = crate::tamper::records(&env.vault);
    let v = Vault::open(&env.vault, &pw).unwrap();
    for i in 0..1100 {
        let args =
            json!({"name": format!("S{i}"), "provider": "x", "value": "sk-filler-value-000"});
        let req = validate::create_secret(args.as_object().unwrap().clone()).unwrap();
        v.create_secret(&req, "test").unwrap();
    }
    store(&v, "custom.x", "sk-new-value-zzzzzzzz");
    drop(v);
    // A fresh process reads the whole trail once and saves the checkpoint.
    Vault::open(&env.vault, &pw).unwrap().warm_trail().unwrap();
    let has_checkpoint = {
        let db = crate::tamper::raw_db(&env.vault);
        let txn = db.begin_read().unwrap();
        let meta = txn.open_table(META).unwrap();
        meta.get("trail_checkpoint").unwrap().is_some()
    };
    assert!(has_checkpoint, "a checkpoint after 1,100 entries");
    // custom.x's old row put back; entry #2 (before the checkpoint) altered.
    let x = old.iter().find(|(id, _)| {
        let v = Vault::open(&env.vault, &pw).unwrap();
        v.list_credentials(None)
            .unwrap()
            .iter()
            .any(|c| c.id.as_u128() == *id && c.service == "custom.x")
    });
    let (id, row) = x.unwrap();
    crate::tamper::put(&env.vault, *id, row);
    {
        let db = crate::tamper::raw_db(&env.vault);
        let txn = db.begin_write().unwrap();
        {
            let mut audit = txn.open_table(AUDIT).unwrap();
            let mut entry = audit.get(2).unwrap().unwrap().value().to_vec();
            let n = entry.len();
            entry[n - 1] ^= 1;
            audit.insert(2, entry.as_slice()).unwrap();
        }
        txn.commit().unwrap();
    }
    let v = Vault::open(&env.vault, &pw).unwrap();
    match v.credential_for_use("custom.x", "default") {
        Err(VaultError::Tampered(m)) => assert!(m.contains(TAMPERED), "{m}"),
        other => panic!(
            "the replayed row was accepted: {:?}",
            other.map(|o| o.is_some())
        ),
    }
    assert!(
        v.credential_for_use("custom.y", "default")
            .unwrap()
            .is_some(),
        "started from the checkpoint: entry #2 was not read again"
    );
    let report = v.verify_audit().unwrap();
    assert!(
        report.problems.iter().any(|p| p.entry == Some(2)),
        "{:?}",
        report.problems
    );
}

/// A deleted secret's row put back without its index entry: its name finds
/// nothing, so it is deleted by the id `--verify` names, and the vault
/// verifies again (and `exec --all-secrets` runs again).
#[test]
fn a_secret_put_back_without_its_name_is_deleted_by_id() {
    let env = Env::new();
    stdout_ok(&env.run(&["init"], ""));
    stdout_ok(&env.run(
        &["secret", "create", "--name", "TMP", "--provider", "x"],
        &marked_value("tmp"),
    ));
    let rows = secret_rows(&env.vault);
    stdout_ok(&env.run(&["secret", "delete", "TMP"], ""));
    put_secret(&env.vault, &rows);
    let o = env.run(&["exec", "--all-secrets", "--", "true"], "");
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert!(
        stderr(&o).contains("not in the audit trail"),
        "{}",
        stderr(&o)
    );
    let o = env.run(&["secret", "delete", "TMP"], "");
    assert_eq!(o.status.code(), Some(1), "no index entry finds it: {o:?}");
    let id = uuid::Uuid::from_u128(rows[0].0).to_string();
    assert!(verify_fails_env(&env).contains(&id));
    stdout_ok(&env.run(&["secret", "delete", "--id", &id], ""));
    stdout_ok(&env.run(&["audit", "--verify"], ""));
    stdout_ok(&env.run(&["exec", "--all-secrets", "--", "true"], ""));
    assert!(secret_rows(&env.vault).is_empty());
}

fn verify_fails_env(env: &Env) -> String {
    let o = env.run(&["audit", "--verify"], "");
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    stderr(&o)
}
