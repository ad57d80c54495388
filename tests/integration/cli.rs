//! The terminal commands: init, store, list, secret create; exit codes; help.

use crate::common::{Env, contains, mode, stdout_ok};

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn init_store_list_and_secret_from_a_terminal_session() {
    let env = Env::new();
    let o = env.run(&["init"], "");
    assert!(o.status.success(), "{o:?}");
    assert_eq!(mode(&env.vault), 0o600);
    assert_eq!(mode(env.vault.parent().unwrap()), 0o700);
    assert_eq!(
        env.run(&["init"], "").status.code(),
        Some(1),
        "init twice refuses"
    );

    let o = env.run(
        &[
            "store",
            "--service",
            "openai",
            "--type",
            "bearer",
            "--name",
            "primary",
        ],
        "sk-from-stdin\n",
    );
    assert!(o.status.success(), "{o:?}");
    assert!(stdout(&o).starts_with("stored openai/primary"));
    let o = env.run(
        &[
            "store",
            "--service",
            "openai",
            "--type",
            "bearer",
            "--name",
            "primary",
        ],
        "sk-again",
    );
    assert!(stdout(&o).starts_with("replaced openai/primary"));

    let o = env.run(&["list"], "");
    let table = stdout(&o);
    assert!(table.lines().next().unwrap().starts_with("ID"));
    assert!(table.contains("openai") && table.contains("primary") && table.contains("bearer"));
    assert!(!table.contains("sk-"));

    let o = env.run(&["list", "--json"], "");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["credentials"][0]["service_name"], "OpenAI");

    let o = env.run(
        &[
            "secret",
            "create",
            "--name",
            "GH_TOKEN",
            "--provider",
            "github",
        ],
        "ghp_abcdefghijklmnop",
    );
    assert!(o.status.success(), "{o:?}");
    assert!(stdout(&o).contains("ghp_a••••"));
    let o = env.run(
        &[
            "secret",
            "create",
            "--name",
            "GH_TOKEN",
            "--provider",
            "github",
        ],
        "x",
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("already exists"));
}

#[test]
fn bad_input_from_the_terminal_is_refused_clearly() {
    let env = Env::new();
    env.run(&["init"], "");
    let o = env.run(&["store", "--service", "nope"], "v");
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("service_id"));
    let o = env.run(&["store", "--service", "openai"], "   ");
    assert_eq!(o.status.code(), Some(1));
    let o = env.run(&["frobnicate"], "");
    assert_eq!(o.status.code(), Some(2), "usage errors exit 2");
}

#[test]
fn wrong_or_missing_password_exits_3_and_changes_nothing() {
    let mut env = Env::new();
    env.run(&["init"], "");
    env.run(&["store", "--service", "openai"], "sk-1");
    let before = env.file_bytes();
    env.pw_file = env.with_password("wrong");
    for args in [&["list"][..], &["store", "--service", "openai"][..]] {
        let o = env.run(args, "sk-2");
        assert_eq!(o.status.code(), Some(3), "{args:?}: {o:?}");
        assert!(String::from_utf8_lossy(&o.stderr).contains("wrong master password"));
    }
    assert!(env.file_bytes() == before, "the vault file changed");
    let mut cmd = env.cmd();
    cmd.env_remove("CREDVAULT_PASSWORD_FILE");
    let o = crate::common::run_with(cmd, &["list"], "");
    assert_eq!(o.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&o.stderr).contains("CREDVAULT_PASSWORD_FILE"));
}

#[test]
fn password_from_the_environment_works_and_help_never_prints_it() {
    let env = Env::new();
    let mut cmd = env.cmd();
    cmd.env_remove("CREDVAULT_PASSWORD_FILE")
        .env("CREDVAULT_PASSWORD", "env-password-marker-5521");
    assert!(crate::common::run_with(cmd, &["init"], "").status.success());
    for args in [
        &["--help"][..],
        &["serve", "--help"],
        &["store", "--help"],
        &["init", "--help"],
    ] {
        let mut cmd = env.cmd();
        cmd.env("CREDVAULT_PASSWORD", "env-password-marker-5521");
        let o = crate::common::run_with(cmd, args, "");
        assert!(o.status.success());
        assert!(
            !contains(&o.stdout, "env-password-marker")
                && !contains(&o.stderr, "env-password-marker")
        );
        assert!(!contains(&o.stdout, &env.pw_file.display().to_string()));
    }
}

#[test]
fn out_of_range_kdf_flags_are_usage_errors() {
    let env = Env::new();
    let o = env.run(&["init", "--kdf-memory-mib", "1"], "");
    assert_eq!(o.status.code(), Some(2));
    let o = env.run(&["init", "--kdf-iterations", "65"], "");
    assert_eq!(o.status.code(), Some(2));
    assert!(!env.vault.exists());
}

#[test]
fn secret_create_takes_the_name_like_rotate_and_delete() {
    let env = Env::new();
    env.run(&["init"], "");
    // NAME positional, as `secret rotate NAME` and `secret delete NAME`; the
    // provider comes from the name when --provider is not given.
    let o = env.run(
        &["secret", "create", "OPENAI_API_KEY"],
        "sk-positional-0123456789",
    );
    assert!(o.status.success(), "{o:?}");
    assert!(stdout(&o).starts_with("created OPENAI_API_KEY sk-pos••••"));
    let o = env.run(
        &["secret", "create", "ACME_API_KEY"],
        "acme-value-0123456789",
    );
    assert!(o.status.success(), "{o:?}");
    // --name still works, and --provider still wins.
    let o = env.run(
        &[
            "secret",
            "create",
            "--name",
            "GH_TOKEN",
            "--provider",
            "custom",
        ],
        "ghp_option_0123456789",
    );
    assert!(o.status.success(), "{o:?}");
    let o = env.run(&["secret", "list", "--json"], "");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut got: Vec<(String, String)> = v["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_owned(),
                s["provider"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("ACME_API_KEY".into(), "acme".into()),
            ("GH_TOKEN".into(), "custom".into()),
            ("OPENAI_API_KEY".into(), "openai".into()),
        ]
    );
    // The same names as rotate and delete take.
    assert!(
        env.run(
            &["secret", "rotate", "ACME_API_KEY"],
            "acme-rotated-0123456789"
        )
        .status
        .success()
    );
    assert!(
        env.run(&["secret", "delete", "ACME_API_KEY"], "")
            .status
            .success()
    );
    // Both spellings at once, or neither, is a usage error (exit 2) that stores nothing.
    let before = env.file_bytes();
    for args in [
        &["secret", "create", "A_KEY", "--name", "B_KEY"][..],
        &["secret", "create"][..],
        &["secret", "create", "--provider", "openai"][..],
    ] {
        let o = env.run(args, "value-0123456789");
        assert_eq!(o.status.code(), Some(2), "{args:?}: {o:?}");
    }
    assert!(
        env.file_bytes() == before,
        "a usage error changed the vault"
    );
}

/// Members belong to a team vault: on a vault file, with the right password,
/// `member add|list|remove` is a usage error (exit 2) that says so, not "wrong
/// password" or "locked" (exit 3), and nothing is written (the trail is as
/// it was).
#[test]
fn member_commands_on_a_vault_file_are_usage_errors() {
    let env = Env::new();
    stdout_ok(&env.run(&["init"], ""));
    stdout_ok(&env.run(&["store", "--service", "openai"], "sk-member-test"));
    let before = stdout_ok(&env.run(&["audit", "--json"], ""));
    let bob = env.with_password("bob's own password");
    let bob = bob.display().to_string();
    for args in [
        &["member", "add", "bob", "--new-password-file", &bob][..],
        &["member", "list"][..],
        &["member", "remove", "bob"][..],
    ] {
        let o = env.run(args, "");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {o:?}");
        assert!(err.contains("members belong to a team vault"), "{err}");
        assert!(!err.contains("wrong master password"), "{err}");
    }
    assert_eq!(stdout_ok(&env.run(&["audit", "--json"], "")), before);
}
