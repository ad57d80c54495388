//! Shell completions and the man page, generated from the clap definitions:
//! each shell parses (and uses) its script, and `man -l` renders the page.
//!
//! The shells and `man` are installed by CI, which sets
//! CREDVAULT_PACKAGING_REQUIRED=1 so a missing one fails instead of skipping.

use std::process::{Command, Output};

use crate::common::{BIN, stdout_ok};

/// Whether `tool` is on PATH; missing is a skip, or a failure where CI requires it.
fn have(tool: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("CREDVAULT_PACKAGING_REQUIRED").is_none(),
            "{tool} is not installed and CREDVAULT_PACKAGING_REQUIRED is set"
        );
        eprintln!("skipped: {tool} is not installed");
    }
    found
}

/// credvault with nothing in its environment: no vault, no home, no password.
fn bare(args: &[&str]) -> Output {
    Command::new(BIN).args(args).env_clear().output().unwrap()
}

fn ok(o: &Output, what: &str) {
    assert!(
        o.status.success(),
        "{what}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn completions_parse_and_complete_in_bash_zsh_and_fish() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        let script = stdout_ok(&bare(&["completions", shell]));
        for word in ["serve", "secret", "rotate", "completions", "vault"] {
            assert!(script.contains(word), "{shell} script lacks {word}");
        }
        if !have(shell) {
            continue;
        }
        let file = dir.path().join(format!("credvault.{shell}"));
        std::fs::write(&file, &script).unwrap();
        let check = if shell == "fish" {
            "--no-execute"
        } else {
            "-n"
        };
        let o = Command::new(shell).arg(check).arg(&file).output().unwrap();
        ok(&o, &format!("{shell} {check}"));
        assert!(o.stderr.is_empty(), "{shell}: {o:?}");
    }
    // Loaded in the shell, they complete: `credvault secret cr<TAB>`.
    if have("bash") {
        let o = Command::new("bash")
            .arg("-c")
            .arg(r#"source "$1"; COMP_WORDS=(credvault secret cr); COMP_CWORD=2; _credvault credvault cr secret; echo "${COMPREPLY[*]}""#)
            .arg("bash")
            .arg(dir.path().join("credvault.bash"))
            .output()
            .unwrap();
        assert_eq!(stdout_ok(&o).trim(), "create");
    }
    if have("fish") {
        let file = dir.path().join("credvault.fish");
        let o = Command::new("fish")
            .args([
                "-c",
                &format!(
                    "source {}; complete -C'credvault secret cr'",
                    file.display()
                ),
            ])
            .output()
            .unwrap();
        assert!(stdout_ok(&o).starts_with("create\t"), "{o:?}");
    }
    // An unknown shell is a usage error.
    assert_eq!(bare(&["completions", "tcsh"]).status.code(), Some(2));
}

#[test]
fn the_man_page_renders_every_command() {
    let page = stdout_ok(&bare(&["man"]));
    assert!(page.contains("\n.TH credvault 1"), "{page}");
    if !have("man") {
        return;
    }
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &page).unwrap();
    let o = Command::new("man")
        .arg("-l")
        .arg(file.path())
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100")
        .env("LC_ALL", "C.UTF-8")
        .output()
        .unwrap();
    ok(&o, "man -l");
    assert!(o.stderr.is_empty(), "troff complained: {o:?}");
    let text = String::from_utf8_lossy(&o.stdout);
    for want in [
        "SYNOPSIS",
        "COMMANDS",
        "credvault serve",
        "--http",
        "credvault secret create",
        "credvault token revoke",
        "credvault completions",
        "ENVIRONMENT",
        "CREDVAULT_PASSWORD_FILE",
        "Exit codes",
    ] {
        assert!(text.contains(want), "the rendered page lacks {want:?}");
    }
    // Global options once, under OPTIONS, not again under each command.
    assert_eq!(text.matches("--kdf-memory-mib <MIB>").count(), 1);
}
