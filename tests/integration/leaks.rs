//! A known marker value never appears in tool results, trace-level logs or the
//! vault file; a known marker name never appears in logs or the file.

use serde_json::json;

use crate::common::{Env, contains};

const VALUE: &str = "MARKERVALUE7f3a9cQ";
const NAME: &str = "markername-q81z";
const SECRET_NAME: &str = "MARKERSECRET_Q81Z";

#[tokio::test]
async fn marker_value_and_name_stay_out_of_results_logs_and_file() {
    let mut env = Env::new();
    env.extra_env.push(("RUST_LOG".into(), "trace".into()));
    let c = env.client().await;
    let mut results = Vec::new();
    let calls = [
        (
            "store_credential",
            json!({"service_id": "openai", "credential_type": "bearer", "credential_value": VALUE, "name": NAME}),
        ),
        (
            "store_credential",
            json!({"service_id": "openai", "credential_type": "bearer", "credential_value": format!("{VALUE}-2"), "name": NAME}),
        ),
        (
            "store_credential",
            json!({"service_id": "custom.markersvc", "credential_type": "api_key", "credential_value": VALUE}),
        ),
        (
            "create_secret",
            json!({"name": SECRET_NAME, "provider": "openai", "value": format!("{VALUE}{VALUE}")}),
        ),
        (
            "create_secret",
            json!({"name": SECRET_NAME, "provider": "openai", "value": VALUE}),
        ),
        ("list_credentials", json!({})),
        // Failing calls that carry the value.
        (
            "store_credential",
            json!({"service_id": "nope", "credential_type": "bearer", "credential_value": VALUE}),
        ),
        (
            "store_credential",
            json!({"service_id": "openai", "credential_type": VALUE, "credential_value": VALUE}),
        ),
        (
            "store_credential",
            json!({"service_id": "openai", "credential_type": "bearer", "credential_value": VALUE.repeat(2000)}),
        ),
        (
            "create_secret",
            json!({"name": "bad name", "provider": "openai", "value": VALUE}),
        ),
    ];
    for (tool, args) in calls {
        results.push(c.call(tool, args).await.raw);
    }
    let stderr = c.stop().await;
    assert!(
        stderr.contains("TRACE") || stderr.contains("DEBUG"),
        "trace logging was on: {stderr}"
    );
    // Secret names and the masked value are legitimately returned; the value never is.
    for r in &results {
        assert!(!r.contains(VALUE), "value in a tool result: {r}");
    }
    for (what, hay) in [
        ("stderr", stderr.as_bytes().to_vec()),
        ("vault file", env.file_bytes()),
    ] {
        for marker in [VALUE, NAME, SECRET_NAME, "markersvc"] {
            assert!(!contains(&hay, marker), "{marker} found in {what}");
        }
    }
    // The CLI's output and errors too.
    let o = env.run(&["list", "--json"], "");
    assert!(!contains(&o.stdout, VALUE) && !contains(&o.stderr, VALUE));
    let o = env.run(&["store", "--service", "nope"], VALUE);
    assert!(!contains(&o.stdout, VALUE) && !contains(&o.stderr, VALUE));
}

/// The suite-wide sweep (common.rs: `Env`'s `Drop`, `Client::call`, `Raw::recv`)
/// really fails: a value written anywhere under a test's temp dir is caught.
#[test]
fn the_sweep_catches_a_value_left_in_any_file() {
    for needle in [
        crate::common::MARKER.to_owned(),
        "a-sent-value-123".to_owned(),
    ] {
        let r = std::panic::catch_unwind(|| {
            let env = Env::new();
            crate::common::note_values(&env.sent, &json!({"value": "a-sent-value-123"}));
            let dir = env.dir.path().join("deep").join("er");
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("stderr-x.log"), format!("log line {needle} end")).unwrap();
        });
        assert!(r.is_err(), "the sweep missed {needle}");
    }
}

/// No subcommand's `--help` prints the value of any environment variable
/// (clap's `env =` would, unless hidden): every subcommand listed by `--help`,
/// recursively, with every variable credvault reads set to a marker.
#[test]
fn no_help_text_prints_an_environment_value() {
    let env = Env::new();
    let secret_env = [
        ("CREDVAULT_PASSWORD", "HELPMARK-password-71"),
        ("CREDVAULT_PASSWORD_FILE", "/tmp/HELPMARK-pwfile-72"),
        ("CREDVAULT_TOKEN", "HELPMARK-token-73"),
        ("RUST_LOG", "HELPMARK-log-74"),
        ("CREDVAULT_PATH", "/tmp/HELPMARK-path-75"),
        ("CREDVAULT_KDF_MEMORY_MIB", "76"),
        ("CREDVAULT_KDF_ITERATIONS", "7"),
        ("CREDVAULT_KDF_PARALLELISM", "2"),
    ];
    let help = |path: &[String]| {
        let mut cmd = env.cmd();
        cmd.envs(secret_env);
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let o = crate::common::run_with(cmd, &args, "");
        assert!(o.status.success(), "{path:?} --help failed");
        for (var, v) in secret_env {
            let shown = format!("{var}={v}");
            assert!(
                !contains(&o.stdout, "HELPMARK")
                    && !contains(&o.stderr, "HELPMARK")
                    && !contains(&o.stdout, &shown),
                "{path:?} --help prints {var}'s value {v}"
            );
        }
        String::from_utf8(o.stdout).unwrap()
    };
    let mut todo: Vec<Vec<String>> = vec![vec![]];
    let mut seen = 0;
    while let Some(path) = todo.pop() {
        let text = help(&path);
        seen += 1;
        let mut in_commands = false;
        for line in text.lines() {
            if line.starts_with("Commands:") {
                in_commands = true;
                continue;
            }
            if in_commands {
                match line.split_whitespace().next() {
                    Some(sub) if line.starts_with("  ") && sub != "help" => {
                        let mut p = path.clone();
                        p.push(sub.to_owned());
                        todo.push(p);
                    }
                    Some(_) if line.starts_with("  ") => {}
                    _ => in_commands = false,
                }
            }
        }
    }
    assert!(seen >= 8, "only {seen} help texts found");
}
