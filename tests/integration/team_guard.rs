//! The team vault's guarantees against the database and its own members:
//! what a DBA's dump holds, TLS to the server, a key planted by a database
//! writer, passwd and removal rules, rekey refusing to launder a replayed
//! record, and a server that outlived a rekey.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use crate::common::{Env, MARKER, contains, marked_value, run_with, stdout_ok};
use crate::netns::{self, Namespace};
use crate::pgcluster::Cluster;
use crate::team::{listing, run_as, run_team, stderr, team, team_client, team_cmd};
use crate::upstream::Ca;

fn encodings(s: &str) -> Vec<String> {
    let hex = to_hex(s.as_bytes());
    let mut v = vec![s.to_owned(), hex.to_uppercase(), hex];
    for shift in 0..3usize {
        let mut bytes = vec![b'\0'; shift];
        bytes.extend_from_slice(s.as_bytes());
        let first = shift.div_ceil(3) * 3; // first group made of s's bytes only
        let groups = (bytes.len() - first) / 3;
        let (from, to) = (first / 3 * 4, (first / 3 + groups) * 4);
        for e in [STANDARD.encode(&bytes), URL_SAFE_NO_PAD.encode(&bytes)] {
            v.push(e[from..to].to_owned());
        }
    }
    v
}

#[test]
fn encodings_find_a_string_at_any_alignment() {
    let s = "svcmk0123456789";
    for prefix in ["", "a", "ab", "abc", "abcd"] {
        let whole = format!("{prefix}{s}!?");
        let forms = [
            STANDARD.encode(&whole),
            URL_SAFE_NO_PAD.encode(&whole),
            whole.bytes().map(|b| format!("{b:02X}")).collect(),
        ];
        for form in forms {
            assert!(
                encodings(s).iter().any(|e| form.contains(e.as_str())),
                "{form} after {prefix:?}"
            );
        }
    }
}

#[tokio::test]
async fn dba_learns_no_names_or_values() {
    let mut env = Env::new();
    env.extra_env.push(("RUST_LOG".into(), "trace".into()));
    let Some((pg, url)) = team(&env, "team_dba") else {
        return;
    };
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let service_mark = format!("svcmk{}", &tag[..10]);
    let cred_mark = format!("credmk-{}", &tag[10..20]);
    let secret_mark = format!("SECMK_{}", &tag[20..30]);
    let c = team_client(&env, &url).await;
    let cred_value = marked_value("cred");
    let secret_value = marked_value("secret");
    let service = format!("custom.{service_mark}");
    c.ok(
        "store_credential",
        json!({"service_id": service, "credential_type": "api_key",
            "credential_value": cred_value, "name": cred_mark}),
    )
    .await;
    c.ok(
        "create_secret",
        json!({"name": secret_mark, "provider": "openai", "value": secret_value}),
    )
    .await;
    assert_eq!(listing(&c).await.len(), 1, "the credential is in the vault");
    // A use, so the trail holds an entry naming the secret.
    let o = run_team(
        &env,
        &url,
        &["exec", "--secret", &secret_mark, "--", "true"],
        "",
    );
    assert!(o.status.success(), "{o:?}");
    let trail = stdout_ok(&run_team(&env, &url, &["audit"], ""));
    assert!(trail.contains(&secret_mark), "the use is audited: {trail}");
    let log = c.stop().await;
    assert!(
        log.contains("TRACE") || log.contains("DEBUG"),
        "trace logging was on"
    );

    let dump = pg.dump("team_dba");
    assert!(
        contains(&dump, "credvault_credentials") && contains(&dump, "credvault_secrets"),
        "the dump holds the tables"
    );
    let markers = [
        MARKER,
        &service_mark,
        &cred_mark,
        &secret_mark,
        &cred_value,
        &secret_value,
    ];
    for m in markers {
        for e in encodings(m) {
            assert!(!contains(&dump, &e), "{m} (as {e}) in the database");
        }
        assert!(!log.contains(m), "{m} in the server log");
    }
}

#[test]
fn team_vault_over_tls() {
    let env = Env::new();
    // A test CA (its PEM is what CREDVAULT_STORE_CA names) and a server
    // certificate for 127.0.0.1 and localhost it signed.
    let ca = Ca::new(env.dir.path());
    let ca_pem = ca.pem_path.clone();
    let (server_cert, server_key) = ca.server_pem();
    let Some((pg, port)) = Cluster::start_tls(&server_cert, &server_key) else {
        return;
    };
    pg.create_db("team_tls");
    let url = pg.tcp_url(port, "team_tls", "require");
    let trusting = || {
        let mut c = team_cmd(&env, &url);
        c.env("CREDVAULT_STORE_CA", &ca_pem);
        c
    };

    stdout_ok(&run_with(trusting(), &["init"], ""));
    let v = marked_value("tls");
    env.sent.lock().unwrap().push(v.clone());
    stdout_ok(&run_with(
        trusting(),
        &["store", "--service", "openai", "--type", "bearer"],
        &v,
    ));
    let list = stdout_ok(&run_with(trusting(), &["list", "--json"], ""));
    let list: Value = serde_json::from_str(&list).unwrap();
    let services: Vec<&str> = list["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["service"].as_str().unwrap())
        .collect();
    assert_eq!(services, ["openai"], "{list}");

    // Every connection credvault made was authorized over TLS.
    let log = pg.server_log();
    let authorized = |log: &str| -> Vec<String> {
        log.lines()
            .filter(|l| {
                l.contains("connection authorized:") && l.contains("application_name=credvault")
            })
            .map(str::to_owned)
            .collect()
    };
    let ours = authorized(&log);
    assert!(
        ours.len() >= 3,
        "init, store and list each connected: {log}"
    );
    for line in &ours {
        assert!(
            line.contains("user=credvault database=team_tls")
                && line.contains("SSL enabled (protocol=TLSv1.3"),
            "a connection without TLS: {line}"
        );
    }

    // Without the CA the server's certificate does not verify: no connection.
    let o = run_with(team_cmd(&env, &url), &["list", "--json"], "");
    let err = stderr(&o);
    assert!(!o.status.success(), "{o:?}");
    assert!(o.status.code().is_some(), "killed by a signal: {o:?}");
    assert!(o.stdout.is_empty(), "{o:?}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        err.contains("TLS") && err.contains("certificate"),
        "no word of the certificate: {err}"
    );
    assert_eq!(
        authorized(&pg.server_log()).len(),
        ours.len(),
        "no connection was authorized without the CA"
    );
}

/// The hex of `sql`'s single value (psql's unaligned, tuples-only output).
fn hex_of(pg: &Cluster, db: &str, sql: &str) -> String {
    pg.sql(db, sql).trim().to_owned()
}

pub(crate) fn from_hex(h: &str) -> Vec<u8> {
    let h = h.trim();
    (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
        .collect()
}

pub(crate) fn to_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[tokio::test]
async fn a_database_writer_cannot_plant_a_key() {
    use credvault::secret::Key32;
    use credvault::vault::members::{BoxKey, rebox};
    let env = Env::new();
    let db = "team_plant";
    let Some((pg, url)) = team(&env, db) else {
        return;
    };
    stdout_ok(&run_team(
        &env,
        &url,
        &["store", "--service", "openai"],
        "sk-real-value-111",
    ));
    // What a DBA can read and write: the owner's slot and the vault id.
    let slot = from_hex(&hex_of(
        &pg,
        db,
        "SELECT encode(v, 'hex') FROM credvault_members WHERE k = convert_to('owner', 'UTF8')",
    ));
    let vid: [u8; 16] = from_hex(&hex_of(
        &pg,
        db,
        "SELECT encode(v, 'hex') FROM credvault_meta WHERE k = convert_to('vault_id', 'UTF8')",
    ))
    .try_into()
    .unwrap();
    // A key of the DBA's choosing, boxed to the owner's public key (in clear)
    // from a box key of their own: the member's slot pins the vault's.
    let chosen = Key32::random().unwrap();
    let planted = rebox(&slot, &chosen, &BoxKey::generate().unwrap(), &vid, "owner").unwrap();
    let put_owner_slot = |slot: &[u8]| {
        pg.sql(db, &format!(
            "UPDATE credvault_members SET v = decode('{}', 'hex') WHERE k = convert_to('owner', 'UTF8')",
            to_hex(slot)
        ))
    };
    put_owner_slot(&planted);
    for args in [&["list"][..], &["store", "--service", "anthropic"][..]] {
        let o = run_team(&env, &url, args, "sk-after-the-plant-222");
        assert!(
            !o.status.success(),
            "{args:?} must not run on a planted key: {o:?}"
        );
        assert!(
            stderr(&o).contains("not boxed by this vault's box key"),
            "{}",
            stderr(&o)
        );
    }
    let rows = pg.sql(db, "SELECT count(*) FROM credvault_credentials");
    assert_eq!(
        rows.trim(),
        "1",
        "nothing was written under the planted key"
    );
    // The real slot, put back, still opens.
    put_owner_slot(&slot);
    assert!(stdout_ok(&run_team(&env, &url, &["list"], "")).contains("openai"));
}

#[test]
fn passwd_then_rekey_and_removal_rules() {
    let env = Env::new();
    let db = "team_passwd";
    let Some((_pg, url)) = team(&env, db) else {
        return;
    };
    let alice_pw = env.with_password("alice first password");
    let alice_new = env.with_password("alice's second password!");
    let add = |name: &str, pw: &Path| {
        let pw = pw.display().to_string();
        stdout_ok(&run_team(
            &env,
            &url,
            &["member", "add", name, "--new-password-file", &pw],
            "",
        ));
    };
    add("alice", &alice_pw);
    add("bob", &env.with_password("bob password"));
    // alice changes her password: her slot (and its pinned key) is replaced.
    let f = alice_new.display().to_string();
    stdout_ok(&run_as(
        &env,
        &url,
        "alice",
        &alice_pw,
        &["passwd", "--new-password-file", &f],
    ));
    let o = run_as(&env, &url, "alice", &alice_pw, &["list"]);
    assert_eq!(
        o.status.code(),
        Some(3),
        "the old password is refused: {o:?}"
    );
    stdout_ok(&run_as(&env, &url, "alice", &alice_new, &["list"]));
    // ...and a rekey after removing bob still reaches her.
    stdout_ok(&run_team(&env, &url, &["member", "remove", "bob"], ""));
    stdout_ok(&run_team(&env, &url, &["rekey"], ""));
    stdout_ok(&run_as(&env, &url, "alice", &alice_new, &["list"]));
    // The owner removes themselves: the default moves to alice, never to nobody.
    stdout_ok(&run_team(&env, &url, &["member", "remove", "owner"], ""));
    let members = stdout_ok(&run_as(
        &env,
        &url,
        "alice",
        &alice_new,
        &["member", "list"],
    ));
    assert!(
        members
            .lines()
            .any(|l| l.starts_with("alice") && l.contains("default")),
        "{members}"
    );
    let mut c = team_cmd(&env, &url);
    c.env("CREDVAULT_PASSWORD_FILE", &alice_new);
    stdout_ok(&run_with(c, &["list"], "")); // no --member: the default, alice
    // The last member cannot go: a refusal (exit 1), not "locked" (3).
    let o = run_as(
        &env,
        &url,
        "alice",
        &alice_new,
        &["member", "remove", "alice"],
    );
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert!(stderr(&o).contains("last member"), "{o:?}");
}

#[test]
fn rekey_refuses_to_launder_a_replayed_record() {
    let env = Env::new();
    let db = "team_launder";
    let Some((pg, url)) = team(&env, db) else {
        return;
    };
    stdout_ok(&run_team(
        &env,
        &url,
        &["store", "--service", "openai"],
        "sk-value-ONE-1111",
    ));
    let old = hex_of(
        &pg,
        db,
        "SELECT encode(v, 'hex') FROM credvault_credentials",
    );
    stdout_ok(&run_team(
        &env,
        &url,
        &["store", "--service", "openai"],
        "sk-value-TWO-2222",
    ));
    pg.sql(
        db,
        &format!("UPDATE credvault_credentials SET v = decode('{old}', 'hex')"),
    );
    let o = run_team(&env, &url, &["rekey"], "");
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert!(stderr(&o).contains("nothing was rekeyed"), "{}", stderr(&o));
    // Still detected afterwards: the rekey wrote nothing.
    let o = run_team(&env, &url, &["audit", "--verify"], "");
    assert_eq!(o.status.code(), Some(1), "{o:?}");
}

/// Runs in its own network namespace (`netns`): its refused call_api names
/// api.openai.com, where the stale credential may go.
#[tokio::test]
async fn a_server_that_outlived_a_rekey_says_so() {
    if !netns::isolated(
        "team_guard::a_server_that_outlived_a_rekey_says_so",
        Namespace::default(),
    ) {
        return;
    }
    let env = Env::new();
    let Some((_pg, url)) = team(&env, "team_stale") else {
        return;
    };
    let c = team_client(&env, &url).await;
    c.ok(
        "store_credential",
        json!({"service_id": "openai", "credential_type": "bearer", "credential_value": "sk-stale-test-123456"}),
    )
    .await;
    stdout_ok(&run_team(&env, &url, &["rekey"], ""));
    // Its key is the old one: every answer names the rekey, none is a wrong
    // answer (an empty list, "not found").
    for (tool, args) in [
        ("list_credentials", json!({})),
        (
            "call_api",
            json!({"service_id": "openai", "method": "GET", "url": "https://api.openai.com/v1/models"}),
        ),
        (
            "store_credential",
            json!({"service_id": "anthropic", "credential_type": "api_key", "credential_value": "sk-ant-stale-123456"}),
        ),
    ] {
        let o = c.call(tool, args).await;
        assert!(o.is_error, "{tool}: {}", o.raw);
        assert!(o.raw.contains("rekeyed"), "{tool}: {}", o.raw);
    }
    c.stop().await;
}
