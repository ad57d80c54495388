//! `credvault exec`: values in the child's environment, its output redacted as
//! it streams, exit codes and signals passed through.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::common::{Env, MARKER};

fn setup() -> (Env, String, String) {
    let env = Env::new();
    assert!(env.run(&["init"], "").status.success());
    let secret = format!("tok-{MARKER}-{}", uuid::Uuid::new_v4().simple());
    let o = env.run(
        &[
            "secret",
            "create",
            "--name",
            "CV_TOKEN",
            "--provider",
            "acme",
        ],
        &secret,
    );
    assert!(o.status.success(), "{o:?}");
    let cred = format!("ghp_{MARKER}{}", uuid::Uuid::new_v4().simple());
    let o = env.run(&["store", "--service", "github", "--type", "bearer"], &cred);
    assert!(o.status.success(), "{o:?}");
    env.sent
        .lock()
        .unwrap()
        .extend([secret.clone(), cred.clone()]);
    (env, secret, cred)
}

fn exec(env: &Env, args: &[&str]) -> std::process::Output {
    let mut all = vec!["exec"];
    all.extend_from_slice(args);
    env.run(&all, "")
}

#[test]
fn injects_values_and_redacts_output_in_every_form() {
    let (mut env, secret, cred) = setup();
    // credvault's own log lines (at trace) share stderr with the program's.
    env.extra_env.push(("RUST_LOG".into(), "trace".into()));
    let script = r#"printf '%s\n' "$CV_TOKEN"; printf '%s' "$CV_TOKEN" | base64; printf 'len=%s\n' "${#GH_TOKEN}"; printf 'gh=%s\n' "$GH_TOKEN" >&2"#;
    let o = exec(
        &env,
        &[
            "--secret",
            "CV_TOKEN",
            "--env",
            "GH_TOKEN=github/default",
            "--",
            "sh",
            "-c",
            script,
        ],
    );
    assert!(o.status.success(), "{o:?}");
    let out = String::from_utf8(o.stdout).unwrap();
    let err = String::from_utf8(o.stderr).unwrap();
    assert_eq!(out.matches("[REDACTED:CV_TOKEN]").count(), 2, "{out}");
    assert!(
        out.contains(&format!("len={}", cred.len())),
        "the credential was injected: {out}"
    );
    assert!(err.contains("gh=[REDACTED:GH_TOKEN]"), "{err}");
    assert!(err.contains("exec started"), "trace log present: {err}");
    for text in [&out, &err] {
        assert!(!text.contains(&secret) && !text.contains(&cred) && !text.contains(MARKER));
        assert!(!text.contains(STANDARD.encode(&secret).trim_end_matches('=')));
    }
    // The uses are recorded.
    let list = String::from_utf8(env.run(&["list", "--json"], "").stdout).unwrap();
    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert!(list["credentials"][0]["last_used_at"].is_i64(), "{list}");
}

#[test]
fn a_value_split_across_writes_is_still_redacted() {
    let (env, secret, _) = setup();
    // The value is written in two parts 300 ms apart, on stdout and on stderr.
    let script = r#"v=$CV_TOKEN; head=${v%????????????}; tail=${v#"$head"};
        printf 'a %s' "$head"; sleep 0.3; printf '%s b\n' "$tail";
        printf 'c %s' "$head" >&2; sleep 0.3; printf '%s d\n' "$tail" >&2"#;
    let o = exec(&env, &["--secret", "CV_TOKEN", "--", "sh", "-c", script]);
    let out = String::from_utf8(o.stdout).unwrap();
    let err = String::from_utf8(o.stderr).unwrap();
    assert_eq!(out, "a [REDACTED:CV_TOKEN] b\n");
    assert_eq!(err, "c [REDACTED:CV_TOKEN] d\n");
    assert!(!out.contains(&secret[..12]));
}

/// Issue 20.6: HTML character references, and one cut in two by the pipe.
#[test]
fn an_html_escaped_value_split_inside_a_reference_is_still_redacted() {
    let (env, secret, _) = setup();
    // `-` written as `&#x2D;` (stdout) and `&#45;` (stderr), the first of
    // them split across two writes 300 ms apart.
    let script = r#"v=$(printf %s "$CV_TOKEN" | sed 's/-/\&#x2D;/g'); head=${v%%2D;*}; tail=${v#"$head"};
        printf '<p>%s' "$head"; sleep 0.3; printf '%s</p>\n' "$tail";
        v=$(printf %s "$CV_TOKEN" | sed 's/-/\&#45;/g'); head=${v%%#45;*}; tail=${v#"$head"};
        printf '<p>%s' "$head" >&2; sleep 0.3; printf '%s</p>\n' "$tail" >&2"#;
    let o = exec(&env, &["--secret", "CV_TOKEN", "--", "sh", "-c", script]);
    assert!(o.status.success(), "{o:?}");
    let out = String::from_utf8(o.stdout).unwrap();
    let err = String::from_utf8(o.stderr).unwrap();
    assert_eq!(out, "<p>[REDACTED:CV_TOKEN]</p>\n");
    assert_eq!(err, "<p>[REDACTED:CV_TOKEN]</p>\n");
    assert!(!secret.contains('&') && secret.matches('-').count() == 2);
}

#[test]
fn output_streams_before_the_program_ends_and_signals_are_forwarded() {
    let (env, _, _) = setup();
    let mut cmd = env.cmd();
    cmd.args(["exec", "--secret", "CV_TOKEN", "--", "sh", "-c"])
        .arg(r#"trap 'echo "got TERM"; exit 7' TERM; echo ready; while :; do sleep 0.05; done"#)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(
        lines.next().unwrap().unwrap(),
        "ready",
        "a line arrives while the program runs"
    );
    let pid = rustix::process::Pid::from_child(&child);
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    assert_eq!(
        lines.next().unwrap().unwrap(),
        "got TERM",
        "the program received SIGTERM"
    );
    assert_eq!(
        child.wait().unwrap().code(),
        Some(7),
        "its exit code is passed through"
    );

    // Killed by a signal: 128 + N.
    let mut cmd = env.cmd();
    cmd.args([
        "exec",
        "--secret",
        "CV_TOKEN",
        "--",
        "sh",
        "-c",
        "echo ready; exec sleep 30",
    ])
    .stdout(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "ready");
    std::thread::sleep(Duration::from_millis(100));
    let pid = rustix::process::Pid::from_child(&child);
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(128 + 15));
}

#[test]
fn exit_codes_unknown_names_and_a_clean_environment() {
    let (mut env, _, _) = setup();
    let o = exec(&env, &["--secret", "CV_TOKEN", "--", "sh", "-c", "exit 42"]);
    assert_eq!(o.status.code(), Some(42));
    let marker = env.dir.path().join("ran");
    for args in [
        vec!["--secret", "NOPE_TOKEN"],
        vec!["--env", "X=openai/missing"],
    ] {
        let mut all = args.clone();
        all.extend(["--", "touch", marker.to_str().unwrap()]);
        let o = exec(&env, &all);
        assert_eq!(o.status.code(), Some(1), "{o:?}");
        let err = String::from_utf8(o.stderr).unwrap();
        assert!(
            err.contains("NOPE_TOKEN") || err.contains("openai/missing"),
            "{err}"
        );
        assert!(!marker.exists(), "nothing runs when a name is unknown");
    }
    let o = exec(&env, &["--env", "bad", "--", "true"]);
    assert_eq!(o.status.code(), Some(2));
    // --all-secrets never injects a name that could steer the program (any
    // agent can create one); --secret names it explicitly.
    let o = env.run(
        &[
            "secret",
            "create",
            "--name",
            "HTTPS_PROXY",
            "--provider",
            "x",
        ],
        "http://evil.test:8080",
    );
    assert!(o.status.success(), "{o:?}");
    let o = exec(&env, &["--all-secrets", "--", "env"]);
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(!out.contains("HTTPS_PROXY"), "{out}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("skipped HTTPS_PROXY"));
    let o = exec(&env, &["--secret", "HTTPS_PROXY", "--", "env"]);
    assert!(
        String::from_utf8(o.stdout)
            .unwrap()
            .contains("HTTPS_PROXY=[REDACTED:HTTPS_PROXY]")
    );
    // The master password never reaches the child, by file or by value.
    env.extra_env
        .push(("CREDVAULT_PASSWORD".into(), crate::common::PASSWORD.into()));
    let o = exec(&env, &["--all-secrets", "--", "env"]);
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(o.status.success());
    assert!(out.contains("CV_TOKEN=[REDACTED:CV_TOKEN]"), "{out}");
    assert!(
        !out.contains("CREDVAULT_PASSWORD") && !out.contains(crate::common::PASSWORD),
        "{out}"
    );
}
