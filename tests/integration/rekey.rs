//! Issue 20 item 4 (DESIGN §13): `passwd` alone revokes nothing; `rekey` and
//! `passwd --rekey` on a vault file do. Through the real binary: what an old
//! password plus an old copy of the vault opens with and without a rekey, the
//! trail and tokens after one, a running server told to restart, a rekey
//! refused over a replayed record, a team vault's rekey through the same
//! code. A rekey cut short or raced: rekey_crash.rs.
//!
//! "An old copy" is what someone keeps who once knew the password: a
//! `credvault backup`, a synced or copied file. Its `kdf` and `wrapped_key`
//! give them the data key of that time. To ask whether that key opens a
//! later copy, a test writes those two rows into a copy of the later file
//! and opens it with the old password: credvault itself then unwraps the old
//! key and tries it on the later records.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use redb::{ReadableDatabase, TableDefinition};
use serde_json::{Value, json};

use crate::common::{Env, MARKER, contains, marked_value, run_with, stdout_ok};

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
pub(crate) const NEW_PASSWORD: &str = "a new password after the old one leaked";

/// `kdf` and `wrapped_key` of the vault file at `path`.
pub(crate) fn lock_rows(path: &Path) -> (Vec<u8>, Vec<u8>) {
    let db = crate::tamper::raw_db(path);
    let txn = db.begin_read().unwrap();
    let t = txn.open_table(META).unwrap();
    let get = |k: &str| t.get(k).unwrap().unwrap().value().to_vec();
    (get("kdf"), get("wrapped_key"))
}

/// A copy of `later` whose password lock is `old`'s: what the holder of the
/// old password and the old copy can open of the later copy.
fn graft(env: &Env, old: &Path, later: &Path, name: &str) -> PathBuf {
    let (kdf, wrapped) = lock_rows(old);
    let out = env.dir.path().join(name);
    std::fs::copy(later, &out).unwrap();
    let db = crate::tamper::raw_db(&out);
    let txn = db.begin_write().unwrap();
    {
        let mut t = txn.open_table(META).unwrap();
        t.insert("kdf", kdf.as_slice()).unwrap();
        t.insert("wrapped_key", wrapped.as_slice()).unwrap();
    }
    txn.commit().unwrap();
    out
}

/// `credvault` on the vault file `vault` with the password in `pw`.
fn on(env: &Env, vault: &Path, pw: &Path) -> Command {
    let mut c = env.cmd();
    c.env("CREDVAULT_PATH", vault)
        .env("CREDVAULT_PASSWORD_FILE", pw);
    c
}

/// The value of credential `service` as `exec` hands it to a program (unmasked).
fn value_via_exec(env: &Env, vault: &Path, pw: &Path, service: &str) -> Output {
    let env_arg = format!("LEAKED={service}");
    run_with(
        on(env, vault, pw),
        &[
            "exec",
            "--no-mask",
            "--env",
            &env_arg,
            "--",
            "sh",
            "-c",
            "printf %s \"$LEAKED\"",
        ],
        "",
    )
}

fn services(listed: &str) -> Vec<String> {
    let v: Value = serde_json::from_str(listed).unwrap();
    let mut s: Vec<String> = v["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["service"].as_str().unwrap().to_owned())
        .collect();
    s.sort();
    s
}

fn trail(env: &Env, pw: &Path) -> Vec<Value> {
    let o = run_with(on(env, &env.vault, pw), &["audit", "--json"], "");
    stdout_ok(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn verify_ok(env: &Env, vault: &Path, pw: &Path) {
    let o = run_with(on(env, vault, pw), &["audit", "--verify"], "");
    assert_eq!(o.status.code(), Some(0), "{o:?}");
}

/// A vault holding `custom.before`, a bearer token, and a backup of it taken
/// then (`old.redb`): what someone who knew the password kept.
fn vault_with_old_copy() -> (Env, PathBuf, String) {
    let env = Env::new();
    stdout_ok(&env.run(&["init"], ""));
    let before = marked_value("before");
    env.sent.lock().unwrap().push(before.clone());
    stdout_ok(&env.run(&["store", "--service", "custom.before"], &before));
    stdout_ok(&env.run(&["token", "create", "--name", "laptop"], ""));
    let old = env.dir.path().join("old.redb");
    stdout_ok(&env.run(&["backup", old.to_str().unwrap()], ""));
    (env, old, before)
}

/// Stores `custom.later` in the live vault with the password in `pw`; its value.
fn store_later(env: &Env, pw: &Path) -> String {
    let later = marked_value("later");
    env.sent.lock().unwrap().push(later.clone());
    stdout_ok(&run_with(
        on(env, &env.vault, pw),
        &["store", "--service", "custom.later"],
        &later,
    ));
    later
}

/// The issue as it stands: after a plain `passwd`, the old password and the
/// old copy still yield the data key, and it opens what was written later.
#[test]
fn after_a_plain_passwd_an_old_password_and_copy_open_later_records() {
    let (env, old, before) = vault_with_old_copy();
    let new_pw = env.with_password(NEW_PASSWORD);
    stdout_ok(&env.run(
        &["passwd", "--new-password-file", new_pw.to_str().unwrap()],
        "",
    ));
    let later = store_later(&env, &new_pw);
    // The old password no longer opens the live vault...
    assert_eq!(env.run(&["list"], "").status.code(), Some(3));
    // ...but it opens the old copy, and that copy's key opens the later file.
    let o = value_via_exec(&env, &old, &env.pw_file, "custom.before");
    assert_eq!(String::from_utf8(o.stdout).unwrap(), before);
    let grafted = graft(&env, &old, &env.vault, "grafted.redb");
    let listed = stdout_ok(&run_with(
        on(&env, &grafted, &env.pw_file),
        &["list", "--json"],
        "",
    ));
    assert_eq!(services(&listed), ["custom.before", "custom.later"]);
    let o = value_via_exec(&env, &grafted, &env.pw_file, "custom.later");
    assert!(o.status.success(), "{o:?}");
    assert_eq!(String::from_utf8(o.stdout).unwrap(), later);
    verify_ok(&env, &grafted, &env.pw_file);
}

/// Asserts that the old password plus `old` opens nothing of the live vault
/// (records written after the rekey included) and prints no name of it.
fn old_copy_opens_nothing_later(env: &Env, old: &Path, later: &str) {
    let grafted = graft(env, old, &env.vault, "grafted.redb");
    let pw = &env.pw_file;
    for o in [
        run_with(on(env, &grafted, pw), &["list", "--json"], ""),
        value_via_exec(env, &grafted, pw, "custom.later"),
        value_via_exec(env, &grafted, pw, "custom.before"),
        run_with(on(env, &grafted, pw), &["secret", "list", "--json"], ""),
        run_with(on(env, &grafted, pw), &["audit", "--json"], ""),
    ] {
        assert!(!o.status.success(), "{o:?}");
        for out in [&o.stdout, &o.stderr] {
            for name in ["custom.later", "custom.before", "STORED_AFTER", MARKER] {
                assert!(!contains(out, name), "{name} shown: {o:?}");
            }
            assert!(!contains(out, later), "{o:?}");
        }
    }
}

/// The fix: `passwd --rekey` changes the password and the data key in one
/// transaction; the old password and old copy open only that copy's records.
#[test]
fn passwd_rekey_leaves_an_old_password_and_copy_opening_nothing_written_after() {
    let (env, old, before) = vault_with_old_copy();
    let new_pw = env.with_password(NEW_PASSWORD);
    let o = env.run(
        &[
            "passwd",
            "--rekey",
            "--new-password-file",
            new_pw.to_str().unwrap(),
        ],
        "",
    );
    let out = stdout_ok(&o);
    assert!(
        out.contains("1 records and ") && out.contains("re-sealed under a new data key"),
        "{out}"
    );
    assert!(out.contains("1 bearer tokens revoked"), "{out}");
    assert!(out.contains("Restart running credvault processes"), "{out}");
    let later = store_later(&env, &new_pw);
    stdout_ok(&run_with(
        on(&env, &env.vault, &new_pw),
        &[
            "secret",
            "create",
            "--name",
            "STORED_AFTER",
            "--provider",
            "x",
        ],
        &marked_value("secret"),
    ));

    // The old password opens neither the live vault nor, with the old copy's
    // key, anything of a later copy.
    assert_eq!(env.run(&["list"], "").status.code(), Some(3));
    old_copy_opens_nothing_later(&env, &old, &later);
    // What the old copy held, it still holds (rotate such values at the provider).
    let o = value_via_exec(&env, &old, &env.pw_file, "custom.before");
    assert_eq!(String::from_utf8(o.stdout).unwrap(), before);

    // The new password opens everything, which verifies.
    let listed = stdout_ok(&run_with(
        on(&env, &env.vault, &new_pw),
        &["list", "--json"],
        "",
    ));
    assert_eq!(services(&listed), ["custom.before", "custom.later"]);
    let o = value_via_exec(&env, &env.vault, &new_pw, "custom.before");
    assert_eq!(String::from_utf8(o.stdout).unwrap(), before);
    verify_ok(&env, &env.vault, &new_pw);
    // Tokens were revoked (their hashes were keyed by the old key).
    let tokens = stdout_ok(&run_with(
        on(&env, &env.vault, &new_pw),
        &["token", "list"],
        "",
    ));
    assert_eq!(tokens.lines().count(), 1, "only the header: {tokens}");
    // The trail: a rekey entry per record, the token's revocation, passwd, rekey.
    let trail = trail(&env, &new_pw);
    let actions: Vec<(&str, &str)> = trail
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["subject"].as_str().unwrap(),
            )
        })
        .collect();
    let at = actions
        .iter()
        .position(|a| *a == ("rekey", "custom.before/default"))
        .unwrap_or_else(|| panic!("{actions:?}"));
    assert_eq!(
        actions[at..at + 4],
        [
            ("rekey", "custom.before/default"),
            ("token_revoke", ""),
            ("passwd", ""),
            ("rekey", ""),
        ],
        "{actions:?}"
    );
}

/// `credvault rekey` on a vault file (before: "members belong to a team
/// vault"): the same password opens the vault, an old copy's key opens
/// nothing written after, and a server started before is told to restart.
#[tokio::test]
async fn rekey_on_a_vault_file_keeps_its_password_and_revokes_old_copies() {
    let (env, old, before) = vault_with_old_copy();
    let server = env.client().await;
    assert_eq!(
        crate::common::credential_names(&server).await,
        ["custom.before/default"]
    );
    let out = stdout_ok(&env.run(&["rekey"], ""));
    assert!(out.starts_with("rekeyed: 1 records and "), "{out}");
    assert!(out.contains("1 bearer tokens revoked"), "{out}");
    // The server holds the old key: a clear error, never a wrong answer.
    let o = server.call("list_credentials", json!({})).await;
    assert!(o.is_error, "{}", o.raw);
    assert!(o.raw.contains("rekeyed since it started"), "{}", o.raw);
    let o = server
        .call(
            "store_credential",
            json!({"service_id": "custom.stale", "credential_type": "bearer", "credential_value": marked_value("stale")}),
        )
        .await;
    assert!(o.is_error, "{}", o.raw);
    server.stop().await;

    let later = store_later(&env, &env.pw_file);
    old_copy_opens_nothing_later(&env, &old, &later);
    let listed = stdout_ok(&env.run(&["list", "--json"], ""));
    assert_eq!(services(&listed), ["custom.before", "custom.later"]);
    let o = value_via_exec(&env, &env.vault, &env.pw_file, "custom.later");
    assert_eq!(String::from_utf8(o.stdout).unwrap(), later);
    verify_ok(&env, &env.vault, &env.pw_file);
    let trail = trail(&env, &env.pw_file);
    let last_rekey = trail
        .iter()
        .rposition(|e| e["action"] == "rekey" && e["subject"] == "")
        .unwrap();
    assert_eq!(trail[last_rekey - 1]["action"], "token_revoke");
    assert!(trail.iter().all(|e| e["action"] != "passwd"));
    let o = value_via_exec(&env, &env.vault, &env.pw_file, "custom.before");
    assert_eq!(String::from_utf8(o.stdout).unwrap(), before);
    // A server started now works.
    let server = env.client().await;
    assert_eq!(crate::common::credential_names(&server).await.len(), 2);
    server.stop().await;
}

/// A replayed record (an older sealed copy written back) makes `rekey`
/// refuse: re-sealing it would launder it into the trail. Nothing changes.
#[test]
fn rekey_refuses_a_vault_file_that_does_not_verify() {
    let env = Env::new();
    stdout_ok(&env.run(&["init"], ""));
    stdout_ok(&env.run(
        &["store", "--service", "custom.replayed"],
        &marked_value("v1"),
    ));
    let first = crate::tamper::records(&env.vault);
    stdout_ok(&env.run(
        &["store", "--service", "custom.replayed"],
        &marked_value("v2"),
    ));
    let (id, old_bytes) = &first[0];
    {
        let db = crate::tamper::raw_db(&env.vault);
        let txn = db.begin_write().unwrap();
        txn.open_table(credvault::store::redb::CREDENTIALS)
            .unwrap()
            .insert(*id, old_bytes.as_slice())
            .unwrap();
        txn.commit().unwrap();
    }
    let lock = lock_rows(&env.vault);
    let rows = crate::tamper::records(&env.vault);
    for args in [&["rekey"][..], &["passwd", "--rekey"]] {
        let o = env.run(args, &format!("{NEW_PASSWORD}\n"));
        assert_eq!(o.status.code(), Some(1), "{o:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("audit --verify finds") && err.contains("nothing was rekeyed"),
            "{err}"
        );
        assert_eq!(lock_rows(&env.vault), lock, "the password lock changed");
        assert_eq!(crate::tamper::records(&env.vault), rows);
    }
}

/// `--help` says what a plain `passwd` leaves open and what `rekey` does.
#[test]
fn help_tells_what_passwd_and_rekey_revoke() {
    let env = Env::new();
    let help = |cmd: &str| {
        let h = stdout_ok(&env.run(&[cmd, "--help"], ""));
        h.split_whitespace().collect::<Vec<_>>().join(" ")
    };
    let passwd = help("passwd");
    assert!(passwd.contains("--rekey"), "{passwd}");
    assert!(passwd.contains("opens every later copy"), "{passwd}");
    let rekey = help("rekey");
    assert!(
        rekey.contains("A vault file keeps its master password"),
        "{rekey}"
    );
}

/// On a team vault `rekey` still reboxes to the members (the shared code,
/// team part), and `passwd --rekey` is refused as a usage error with nothing
/// changed: members keep their own passwords.
#[test]
fn team_vault_rekeys_its_members_and_refuses_passwd_rekey() {
    use crate::team::{run_as, run_team, stderr, team};
    let env = Env::new();
    let Some((_pg, url)) = team(&env, "rekey_shared") else {
        return;
    };
    stdout_ok(&run_team(
        &env,
        &url,
        &["store", "--service", "custom.team"],
        &marked_value("team"),
    ));
    let bob_pw = env.with_password("bob's own password for the team vault");
    stdout_ok(&run_team(
        &env,
        &url,
        &[
            "member",
            "add",
            "bob",
            "--new-password-file",
            bob_pw.to_str().unwrap(),
        ],
        "",
    ));
    let o = run_team(
        &env,
        &url,
        &["passwd", "--rekey"],
        &format!("{NEW_PASSWORD}\n"),
    );
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert!(stderr(&o).contains("credvault rekey"), "{}", stderr(&o));
    // Nothing changed: the owner's password still opens it, and no rekey ran.
    let entries = stdout_ok(&run_team(&env, &url, &["audit", "--json"], ""));
    assert!(!entries.contains("\"rekey\""), "{entries}");

    let out = stdout_ok(&run_team(&env, &url, &["rekey"], ""));
    assert!(
        out.starts_with("rekeyed: 1 records, ") && out.contains(" and 2 member slots re-sealed"),
        "{out}"
    );
    // Both members open the vault under the new key, and it verifies.
    let listed = stdout_ok(&run_as(&env, &url, "bob", &bob_pw, &["list", "--json"]));
    assert_eq!(services(&listed), ["custom.team"]);
    let o = run_team(&env, &url, &["audit", "--verify"], "");
    assert_eq!(o.status.code(), Some(0), "{o:?}");
}
