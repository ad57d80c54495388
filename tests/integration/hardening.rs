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
