//! Regression tests for the hardening issue (#12): each failed before its fix.

use std::os::unix::fs::PermissionsExt;

use serde_json::json;

use crate::common::Env;

/// #12.1: an empty password (variable or a file holding only a newline) never
/// creates a vault; the tools answer 423 saying why.
#[tokio::test]
async fn an_empty_password_never_creates_a_vault() {
    for (how, file_text) in [
        ("file", Some("\n")),
        ("file", Some("   \n")),
        ("variable", None),
    ] {
        let mut env = Env::new();
        match file_text {
            Some(text) => env.pw_file = env.with_password(text),
            None => {
                env.pw_file = env.dir.path().join("unset");
                env.extra_env
                    .push(("CREDVAULT_PASSWORD".into(), String::new()));
            }
        }
        // CREDVAULT_PASSWORD_FILE pointing nowhere would win: drop it for the variable case.
        let c = if file_text.is_none() {
            env.client_with(|c| {
                c.env_remove("CREDVAULT_PASSWORD_FILE");
            })
            .await
        } else {
            env.client().await
        };
        let o = c.call("list_credentials", json!({})).await;
        assert_eq!(o.body["code"], 423, "{how}: {}", o.raw);
        assert!(
            o.body["detail"].as_str().unwrap().contains("empty"),
            "{}",
            o.raw
        );
        c.stop().await;
        assert!(!env.vault.exists(), "{how}: no vault was created");
        // init refuses it too.
        let mut cmd = env.cmd();
        if file_text.is_none() {
            cmd.env_remove("CREDVAULT_PASSWORD_FILE");
        }
        let o = crate::common::run_with(cmd, &["init"], "");
        assert!(!o.status.success());
        assert!(String::from_utf8_lossy(&o.stderr).contains("empty"));
        assert!(!env.vault.exists());
    }
}

/// #12.6: a FIFO or an endless device as the password file does not hang the
/// server before `initialize`; the tools answer 423 naming the problem.
#[tokio::test]
async fn a_password_file_that_never_ends_is_refused_quickly() {
    let mut env = Env::new();
    let fifo = env.dir.path().join("fifo");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &fifo,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    for path in [fifo, "/dev/zero".into()] {
        env.pw_file = path.clone();
        let started = std::time::Instant::now();
        let c = tokio::time::timeout(std::time::Duration::from_secs(10), env.client())
            .await
            .expect("initialize answered");
        let o = c.call("list_credentials", json!({})).await;
        assert_eq!(o.body["code"], 423, "{}", o.raw);
        assert!(
            o.body["detail"]
                .as_str()
                .unwrap()
                .contains("not a regular file"),
            "{}",
            o.raw
        );
        assert!(started.elapsed().as_secs() < 10);
        c.stop().await;
    }
    // A regular file over 4 KiB is refused too.
    env.pw_file = env.with_password(&"x".repeat(5000));
    let c = env.client().await;
    let o = c.call("list_credentials", json!({})).await;
    assert!(
        o.body["detail"]
            .as_str()
            .unwrap()
            .contains("larger than 4096"),
        "{}",
        o.raw
    );
    c.stop().await;
}

/// #12.2 (password file): one writable by group or others is refused; one
/// readable by others is used with a warning naming the chmod.
#[tokio::test]
async fn a_password_file_others_can_write_is_refused() {
    let env = Env::new();
    std::fs::set_permissions(&env.pw_file, std::fs::Permissions::from_mode(0o622)).unwrap();
    let c = env.client().await;
    let o = c.call("list_credentials", json!({})).await;
    assert_eq!(o.body["code"], 423, "{}", o.raw);
    assert!(
        o.body["detail"].as_str().unwrap().contains("chmod 600"),
        "{}",
        o.raw
    );
    c.stop().await;
    std::fs::set_permissions(&env.pw_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let c = env.client().await;
    c.ok("list_credentials", json!({})).await;
    let log = c.stop().await;
    assert!(
        log.contains("readable by others") && log.contains("chmod 600"),
        "{log}"
    );
}

/// #12.4: unknown argument names are echoed bounded in count and length,
/// over stdio and on the REST routes.
#[tokio::test]
async fn unknown_fields_are_echoed_bounded() {
    let env = Env::new();
    let c = env.client().await;
    let mut args = serde_json::Map::new();
    for i in 0..60_000 {
        args.insert(format!("unknown_field_{i}"), json!(1));
    }
    args.insert("k".repeat(900 * 1024), json!(1));
    let o = c
        .call("list_credentials", serde_json::Value::Object(args.clone()))
        .await;
    assert_eq!(o.body["code"], 422);
    assert!(o.raw.len() < 8 * 1024, "reply is {} bytes", o.raw.len());
    let errors = o.body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 11, "{}", o.raw);
    assert!(
        errors[10]["msg"].as_str().unwrap().contains("59991 more"),
        "{}",
        o.raw
    );
    c.stop().await;

    // The REST routes take at most 1 MiB: 30,000 keys and a 200 KiB one.
    let mut args = serde_json::Map::new();
    for i in 0..30_000 {
        args.insert(format!("unknown_field_{i}"), json!(1));
    }
    args.insert("k".repeat(200 * 1024), json!(1));
    let h = crate::http::Http::start();
    let r = crate::http::Http::client()
        .post(h.url("/api/v1/user/secrets"))
        .bearer_auth(&h.token)
        .json(&serde_json::Value::Object(args))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let body = r.text().await.unwrap();
    assert!(body.len() < 8 * 1024, "REST reply is {} bytes", body.len());
}

/// #12.10: names that differ only by invisible or bidirectional characters
/// are refused, for credentials and tokens.
#[tokio::test]
async fn look_alike_names_are_refused() {
    let env = Env::new();
    let c = env.client().await;
    for name in [
        "prod\u{200b}",
        "pro\u{202e}d",
        "\u{feff}prod",
        "pr\u{2066}od",
        "prod\u{00ad}",
    ] {
        let o = c
            .call("store_credential", json!({"service_id": "openai", "credential_type": "bearer", "credential_value": "sk-x", "name": name}))
            .await;
        assert_eq!(o.body["code"], 422, "{name:?}: {}", o.raw);
        assert_eq!(o.body["errors"][0]["loc"][0], "name");
    }
    c.ok("store_credential", json!({"service_id": "openai", "credential_type": "bearer", "credential_value": "sk-x", "name": "prod-é"}))
        .await;
    c.stop().await;
    let o = env.run(&["token", "create", "--name", "laptop\u{200d}"], "");
    assert_eq!(o.status.code(), Some(2), "{o:?}");
}

/// #12.9c/d: -32601 names the method; `token list` columns stay aligned
/// whatever the name's length.
#[tokio::test]
async fn method_not_found_names_the_method_and_token_columns_align() {
    let env = Env::new();
    let mut raw = crate::raw::Raw::start(&env).await;
    for method in ["foo/bar", "prompts/list", "resources/list"] {
        raw.send(&json!({"jsonrpc": "2.0", "id": 5, "method": method, "params": {}}))
            .await;
        let r = raw.response().await;
        assert_eq!(r["error"]["code"], -32601, "{r}");
        assert_eq!(
            r["error"]["message"]
                .as_str()
                .unwrap()
                .split(" (")
                .next()
                .unwrap(),
            format!("method not found: {method}")
        );
    }
    raw.finish().await;
    for name in ["a", "a-rather-long-token-name-for-the-ci-runner"] {
        assert!(
            env.run(&["token", "create", "--name", name], "")
                .status
                .success()
        );
    }
    let out = String::from_utf8(env.run(&["token", "list"], "").stdout).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    let col = lines[0].find("CREATED").unwrap();
    for l in &lines[1..] {
        assert_eq!(l.len() - "2026-11-25T13:49:03Z".len(), col, "{out}");
    }
}

/// #12.2/#12.3: a file credvault did not start creating is never taken for a
/// vault, reclaimed or truncated: an empty file, one starting with zero bytes,
/// a dangling symbolic link. The tools say why; the file is untouched.
#[tokio::test]
async fn foreign_files_at_the_vault_path_are_never_touched() {
    let cases: [(&str, Vec<u8>); 3] = [
        ("empty", Vec::new()),
        ("zeros", {
            let mut b = vec![0u8; 4096];
            b.extend_from_slice(b"precious data that is not a vault");
            b
        }),
        ("link", Vec::new()),
    ];
    for (what, bytes) in cases {
        let env = Env::new();
        std::fs::create_dir_all(env.vault.parent().unwrap()).unwrap();
        let target = env.dir.path().join("elsewhere.redb");
        if what == "link" {
            std::os::unix::fs::symlink(&target, &env.vault).unwrap();
        } else {
            std::fs::write(&env.vault, &bytes).unwrap();
            std::fs::set_permissions(&env.vault, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        let c = env.client().await;
        // Longer than the 2 s a creator in another process would get.
        tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
        let o = c.call("list_credentials", json!({})).await;
        assert_eq!(o.body["code"], 423, "{what}: {}", o.raw);
        let detail = o.body["detail"].as_str().unwrap();
        assert!(detail.contains("nothing was changed"), "{what}: {detail}");
        c.stop().await;
        let o = env.run(&["init"], "");
        assert!(!o.status.success(), "{what}: init must refuse too");
        if what == "link" {
            assert!(!target.exists(), "nothing was created through the link");
        } else {
            assert_eq!(
                std::fs::read(&env.vault).unwrap(),
                bytes,
                "{what}: the file is untouched"
            );
            assert_eq!(crate::common::mode(&env.vault), 0o644);
        }
    }
}

/// #12.2: an existing vault writable by group or others, or owned by another
/// user, is refused with the fix; one readable by others opens with a warning.
#[tokio::test]
async fn a_vault_others_can_write_is_refused() {
    let env = Env::new();
    assert!(env.run(&["init"], "").status.success());
    std::fs::set_permissions(&env.vault, std::fs::Permissions::from_mode(0o666)).unwrap();
    let c = env.client().await;
    let o = c.call("list_credentials", json!({})).await;
    assert_eq!(o.body["code"], 423, "{}", o.raw);
    assert!(
        o.body["detail"].as_str().unwrap().contains("chmod 600"),
        "{}",
        o.raw
    );
    c.stop().await;
    std::fs::set_permissions(&env.vault, std::fs::Permissions::from_mode(0o644)).unwrap();
    let c = env.client().await;
    c.ok("list_credentials", json!({})).await;
    let log = c.stop().await;
    assert!(log.contains("readable by others"), "{log}");
    std::fs::set_permissions(&env.vault, std::fs::Permissions::from_mode(0o600)).unwrap();
    if rustix::process::geteuid().is_root() {
        // Root can hand the file to another user: it is then refused.
        rustix::fs::chown(
            &env.vault,
            Some(rustix::process::Uid::from_raw(65534)),
            None,
        )
        .unwrap();
        let c = env.client().await;
        let o = c.call("list_credentials", json!({})).await;
        assert!(
            o.body["detail"]
                .as_str()
                .unwrap()
                .contains("owned by uid 65534"),
            "{}",
            o.raw
        );
        c.stop().await;
    } else {
        eprintln!("skipped the other-owner case: needs root to chown");
    }
}
