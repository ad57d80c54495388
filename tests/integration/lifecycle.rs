//! DESIGN §10 through the real binary: delete_credential / list_secrets /
//! delete_secret (rmcp over stdio), their REST routes, the CLI (delete, secret
//! list|delete|rotate, passwd, backup), passwd with servers running and
//! SIGKILLed at many points, and a backup taken while another process writes.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{
    Client, Env, PASSWORD, contains, credential_names as names, marked_value, serve_http, stdout_ok,
};
use crate::crash::Rng;
use crate::http::Http;

async fn store(c: &Client, service: &str, name: &str) -> Value {
    c.ok(
        "store_credential",
        json!({"service_id": service, "credential_type": "bearer", "credential_value": marked_value(name), "name": name}),
    )
    .await
}

#[tokio::test]
async fn delete_tools_and_list_secrets() {
    let env = Env::new();
    let c = env.client().await;
    store(&c, "openai", "primary").await;
    let backup = store(&c, "openai", "backup").await;
    store(&c, "github", "default").await;

    let d = c
        .ok(
            "delete_credential",
            json!({"service_id": "openai", "name": "backup"}),
        )
        .await;
    assert_eq!(
        d,
        json!({"deleted": true, "id": backup["id"], "service": "openai", "name": "backup"})
    );
    let again = c
        .call(
            "delete_credential",
            json!({"service_id": "openai", "name": "backup"}),
        )
        .await;
    assert!(again.is_error && again.body["code"] == 404, "{}", again.raw);
    let gh = c
        .ok("list_credentials", json!({"service_id": "github"}))
        .await;
    let gh_id = gh["credentials"][0]["id"].clone();
    let d = c.ok("delete_credential", json!({"id": gh_id})).await;
    assert_eq!(
        (d["service"].as_str(), d["name"].as_str()),
        (Some("github"), Some("default"))
    );
    assert_eq!(names(&c).await, ["openai/primary"]);
    let bad = c
        .call(
            "delete_credential",
            json!({"id": gh_id, "service_id": "github"}),
        )
        .await;
    assert_eq!(bad.body["code"], 422, "{}", bad.raw);

    for (name, provider) in [("GH_TOKEN", "github"), ("OPENAI_KEY", "openai")] {
        c.ok(
            "create_secret",
            json!({"name": name, "provider": provider, "value": marked_value(name)}),
        )
        .await;
    }
    let all = c.ok("list_secrets", json!({})).await;
    let mut listed = all["secrets"].as_array().unwrap().clone();
    assert_eq!(listed.len(), 2);
    listed.sort_by_key(|s| s["name"].as_str().unwrap().to_owned());
    assert_eq!(listed[0]["name"], "GH_TOKEN");
    assert!(listed[0]["masked_value"].as_str().unwrap().contains("••••"));
    assert!(listed[0]["last_used_at"].is_null());
    assert!(listed[0]["created_at"].as_str().unwrap().ends_with('Z'));
    let only = c.ok("list_secrets", json!({"provider": "openai"})).await;
    assert_eq!(only["secrets"].as_array().unwrap().len(), 1);
    let d = c.ok("delete_secret", json!({"name": "GH_TOKEN"})).await;
    assert_eq!(
        (d["deleted"].as_bool(), d["name"].as_str()),
        (Some(true), Some("GH_TOKEN"))
    );
    assert_eq!(d["id"], listed[0]["id"]);
    let gone = c.call("delete_secret", json!({"name": "GH_TOKEN"})).await;
    assert_eq!(gone.body["code"], 404);
    assert_eq!(
        c.ok("list_secrets", json!({})).await["secrets"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    c.stop().await;
    // Deleted records leave nothing readable in the live tables (values were sealed anyway).
    let bytes = env.file_bytes();
    assert!(!contains(&bytes, "GH_TOKEN") && !contains(&bytes, "backup"));
}

#[tokio::test]
async fn rest_routes_delete_and_list() {
    let h = Http::start();
    let http = Http::client();
    let (s, body) = h
        .post(
            "/api/credentials",
            json!({"service": "openai", "name": "rest", "key": marked_value("rest")}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let id = body["id"].as_str().unwrap().to_owned();
    let del = |path: String| {
        let http = http.clone();
        let token = h.token.clone();
        async move { http.delete(path).bearer_auth(token).send().await.unwrap() }
    };
    let r = del(h.url(&format!("/api/credentials/{id}"))).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = del(h.url(&format!("/api/credentials/{id}"))).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(r.json::<Value>().await.unwrap()["error"].is_string());
    assert_eq!(
        del(h.url("/api/credentials/not-a-uuid")).await.status(),
        StatusCode::BAD_REQUEST
    );
    let (s, _) = h
        .post(
            "/api/v1/user/secrets",
            json!({"name": "REST_SECRET", "provider": "openai", "value": marked_value("sec")}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let listed: Value = http
        .get(h.url("/api/v1/user/secrets"))
        .bearer_auth(&h.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["secrets"][0]["name"], "REST_SECRET");
    assert_eq!(
        http.get(h.url("/api/v1/user/secrets"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        del(h.url("/api/v1/user/secrets/REST_SECRET"))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let r = del(h.url("/api/v1/user/secrets/REST_SECRET")).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], 404);
}

#[test]
fn cli_delete_secrets_rotate_backup() {
    let env = Env::new();
    assert!(env.run(&["init"], "").status.success());
    for name in ["primary", "backup"] {
        stdout_ok(&env.run(
            &[
                "store",
                "--service",
                "openai",
                "--type",
                "bearer",
                "--name",
                name,
            ],
            &marked_value(name),
        ));
    }
    assert!(
        stdout_ok(&env.run(&["delete", "openai/backup"], "")).starts_with("deleted openai/backup")
    );
    assert_eq!(
        env.run(&["delete", "openai/backup"], "").status.code(),
        Some(1)
    );
    let list: Value = serde_json::from_str(&stdout_ok(&env.run(&["list", "--json"], ""))).unwrap();
    let id = list["credentials"][0]["id"].as_str().unwrap().to_owned();
    assert!(stdout_ok(&env.run(&["delete", "--id", &id], "")).contains(&id));
    assert_eq!(env.run(&["delete"], "").status.code(), Some(2));

    let first = "ghp_first_value_0123456789abcdef";
    stdout_ok(&env.run(
        &[
            "secret",
            "create",
            "--name",
            "GH_TOKEN",
            "--provider",
            "github",
        ],
        first,
    ));
    let before: Value =
        serde_json::from_str(&stdout_ok(&env.run(&["secret", "list", "--json"], ""))).unwrap();
    let second = "ghp_second_value_zyxwvutsrq987654";
    assert!(
        stdout_ok(&env.run(&["secret", "rotate", "GH_TOKEN"], second))
            .starts_with("rotated GH_TOKEN ghp_se••••654")
    );
    let after: Value =
        serde_json::from_str(&stdout_ok(&env.run(&["secret", "list", "--json"], ""))).unwrap();
    assert_eq!(
        after["secrets"][0]["id"], before["secrets"][0]["id"],
        "same id"
    );
    assert_eq!(after["secrets"][0]["masked_value"], "ghp_se••••654");
    let table = stdout_ok(&env.run(&["secret", "list"], ""));
    assert!(
        table.starts_with("NAME") && table.contains("GH_TOKEN"),
        "{table}"
    );
    assert_eq!(
        env.run(&["secret", "rotate", "NOPE"], "x-value-123")
            .status
            .code(),
        Some(1)
    );
    // The rotated value is what exec injects.
    let o = env.run(
        &[
            "exec",
            "--secret",
            "GH_TOKEN",
            "--no-mask",
            "--",
            "sh",
            "-c",
            "printf %s \"$GH_TOKEN\"",
        ],
        "",
    );
    assert_eq!(stdout_ok(&o), second);

    let copy = env.dir.path().join("copy.redb");
    stdout_ok(&env.run(&["backup", copy.to_str().unwrap()], ""));
    assert_eq!(crate::common::mode(&copy), 0o600);
    assert_eq!(
        env.run(&["backup", copy.to_str().unwrap()], "")
            .status
            .code(),
        Some(1),
        "never overwrites"
    );
    let mut c = env.cmd();
    c.env("CREDVAULT_PATH", &copy);
    let o = crate::common::run_with(c, &["secret", "list", "--json"], "");
    assert!(stdout_ok(&o).contains("GH_TOKEN"));
    assert!(
        stdout_ok(&env.run(&["secret", "delete", "GH_TOKEN"], "")).starts_with("deleted GH_TOKEN")
    );
    assert_eq!(
        env.run(&["secret", "delete", "GH_TOKEN"], "").status.code(),
        Some(1)
    );
    let o = crate::common::run_with(env.cmd(), &["audit", "--verify"], "");
    assert!(stdout_ok(&o).starts_with("ok:"), "{o:?}");
    let mut c = env.cmd();
    c.env("CREDVAULT_PATH", &copy);
    assert!(
        crate::common::run_with(c, &["audit", "--verify"], "")
            .status
            .success(),
        "the backup verifies"
    );
}

#[tokio::test]
async fn passwd_while_servers_run() {
    let env = Env::new();
    assert!(env.run(&["init"], "").status.success());
    let token = crate::http::token(&env, "laptop");
    let c = env.client().await;
    let http_before = serve_http(&env, None);
    store(&c, "openai", "before").await;
    // As a user writes it: with a trailing newline (read like CREDVAULT_PASSWORD_FILE).
    let new_pw = env.dir.path().join("new-password");
    std::fs::write(&new_pw, "a brand new master password\n").unwrap();
    std::fs::set_permissions(&new_pw, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let o = env.run(
        &["passwd", "--new-password-file", new_pw.to_str().unwrap()],
        "",
    );
    assert!(o.status.success(), "{o:?}");
    // The running server keeps working, writes included.
    store(&c, "openai", "after").await;
    let mut now = names(&c).await;
    now.sort();
    assert_eq!(now, ["openai/after", "openai/before"]);
    c.stop().await;
    // The old password no longer opens the vault (exit 3); the new one does.
    assert_eq!(env.run(&["list"], "").status.code(), Some(3));
    let mut cmd = env.cmd();
    cmd.env("CREDVAULT_PASSWORD_FILE", &new_pw);
    let listed = stdout_ok(&crate::common::run_with(cmd, &["list", "--json"], ""));
    assert!(listed.contains("\"after\""));
    // Tokens stay valid: the HTTP server started before passwd, and one
    // started after it on the new password, both accept the old token.
    for (base, _) in [&http_before, &serve_http(&env, Some(&new_pw))] {
        let r = Http::client()
            .get(format!("{base}/api/credentials"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    // Passing the new password on stdin works too, and an empty one is refused.
    let mut cmd = env.cmd();
    cmd.env("CREDVAULT_PASSWORD_FILE", &new_pw);
    let o = crate::common::run_with(cmd, &["passwd"], "   \n");
    assert!(
        !o.status.success() && String::from_utf8_lossy(&o.stderr).contains("empty"),
        "{o:?}"
    );
    let mut cmd = env.cmd();
    cmd.env("CREDVAULT_PASSWORD_FILE", &new_pw);
    assert!(
        crate::common::run_with(cmd, &["passwd"], &format!("{PASSWORD}\n"))
            .status
            .success()
    );
    assert!(
        env.run(&["list"], "").status.success(),
        "back to the first password"
    );
}

/// SIGKILL `credvault passwd` at many moments: afterwards exactly one of the
/// two passwords opens the vault, and every record is there.
#[test]
fn passwd_killed_at_any_point_leaves_one_password_working() {
    let base = Env::new();
    assert!(base.run(&["init"], "").status.success());
    for i in 0..3 {
        stdout_ok(&base.run(
            &["store", "--service", "openai", "--name", &format!("k{i}")],
            &marked_value("k"),
        ));
    }
    let new_pw = base.with_password("the replacement password");
    let passwd = |env: &Env| {
        let mut c = env.cmd();
        c.args(["passwd", "--new-password-file", new_pw.to_str().unwrap()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        c
    };
    // How long a whole run takes here, to spread the kills over it.
    let timing = Env::new();
    std::fs::create_dir_all(timing.vault.parent().unwrap()).unwrap();
    std::fs::copy(&base.vault, &timing.vault).unwrap();
    let t0 = Instant::now();
    assert!(passwd(&timing).status().unwrap().success());
    let whole = t0.elapsed();
    let mut rng = Rng::from_env("CREDVAULT_PASSWD_SEED");
    let trials = crate::crash::trials("CREDVAULT_PASSWD_TRIALS", 40);
    let (mut old_ok, mut new_ok) = (0, 0);
    for trial in 0..trials {
        let env = Env::new();
        std::fs::create_dir_all(env.vault.parent().unwrap()).unwrap();
        std::fs::copy(&base.vault, &env.vault).unwrap();
        let delay = Duration::from_micros(rng.below(whole.as_micros() as u64 * 12 / 10));
        let mut child = passwd(&env).spawn().unwrap();
        std::thread::sleep(delay);
        let _ = child.kill();
        let _ = child.wait();
        let open =
            |pw: &str| credvault::Vault::open(&env.vault, &credvault::SecretString::from(pw));
        let old = open(PASSWORD);
        let new = open("the replacement password");
        assert!(
            old.is_ok() != new.is_ok(),
            "trial {trial} (kill after {delay:?}): old {:?} new {:?}",
            old.as_ref().err(),
            new.as_ref().err()
        );
        let v = old.or(new).unwrap();
        if v.audit_entries(None)
            .unwrap()
            .iter()
            .any(|e| e.action == "passwd")
        {
            new_ok += 1;
        } else {
            old_ok += 1;
        }
        assert_eq!(v.list_credentials(None).unwrap().len(), 3, "trial {trial}");
        assert!(
            v.verify_audit().unwrap().problems.is_empty(),
            "trial {trial}"
        );
    }
    eprintln!(
        "passwd kills: {trials} trials over {whole:?}; {old_ok} left the old password, {new_ok} the new"
    );
}

/// A backup taken while another process writes holds every write acknowledged
/// before it started, opens with the same password and verifies.
#[tokio::test]
async fn backup_during_concurrent_writes_is_consistent() {
    let env = Env::new();
    let c = env.client().await;
    store(&c, "openai", "seed").await;
    let writer = env.client().await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let acked = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let task = {
        let (stop, acked) = (stop.clone(), acked.clone());
        tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let name = format!("w{i}");
                store(&writer, "custom.load", &name).await;
                acked.lock().unwrap().push(name);
                i += 1;
            }
            writer.stop().await;
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut copies = Vec::new();
    for n in 0..3 {
        let before: Vec<String> = acked.lock().unwrap().clone();
        let path = env.dir.path().join(format!("backup-{n}.redb"));
        let o = env.run(&["backup", path.to_str().unwrap()], "");
        assert!(o.status.success(), "{o:?}");
        copies.push((path, before));
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    task.await.unwrap();
    for (path, before) in copies {
        let v = credvault::Vault::open(&path, &credvault::SecretString::from(PASSWORD)).unwrap();
        let have: std::collections::HashSet<String> = v
            .list_credentials(Some("custom.load"))
            .unwrap()
            .into_iter()
            .map(|c| c.name)
            .collect();
        assert!(!before.is_empty());
        for name in &before {
            assert!(
                have.contains(name),
                "{name} was acknowledged before the backup started"
            );
        }
        let report = v.verify_audit().unwrap();
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        assert_eq!(report.records as usize, have.len() + 1);
    }
    c.stop().await;
}
