//! What a new user starts from besides the binary: a README that names only
//! files the repository holds, the container recipe, and the Claude Desktop
//! extension's manifest — each checked against the real binary.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use crate::common::{BIN, Env, PASSWORD, listening_base, stdout_ok};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Repository paths README names: link targets and `code` spans that start
/// with a top-level entry of the repository (`docs/…`, `scripts/…`, `Dockerfile`).
fn readme_paths(readme: &str, top: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    let mut candidates: Vec<&str> = readme.split('`').skip(1).step_by(2).collect();
    candidates.extend(
        readme
            .split("](")
            .skip(1)
            .filter_map(|s| s.split(')').next()),
    );
    for c in candidates {
        for word in c.split_whitespace() {
            let path = word
                .split(['#', '?'])
                .next()
                .unwrap_or_default()
                .trim_end_matches([',', '.', ':', ';']);
            let first = path.split('/').next().unwrap_or_default();
            if !path.contains("://") && top.iter().any(|t| t == first) {
                found.push(path.to_owned());
            }
        }
    }
    found
}

#[test]
fn readme_names_only_files_the_repository_holds() {
    let readme = std::fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap();
    assert!(
        !readme.contains("../"),
        "README points outside the repository"
    );
    let top: Vec<String> = std::fs::read_dir(ROOT)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !matches!(n.as_str(), "target" | ".git"))
        .collect();
    let paths = readme_paths(&readme, &top);
    for want in ["docs/CONTRACT.md", "examples/rmcp_client.rs", ".ci/run"] {
        assert!(
            paths.iter().any(|p| p == want),
            "the check did not see {want}"
        );
    }
    let missing: Vec<&String> = paths
        .iter()
        .filter(|p| {
            // `tests/integration/` names a directory; `target/browser/*.png` a glob.
            let p = p.split('*').next().unwrap_or_default();
            !Path::new(ROOT).join(p).exists()
        })
        .collect();
    assert!(
        missing.is_empty(),
        "README names missing paths: {missing:?}"
    );
}

/// The Dockerfile's final stage, as (instruction, rest) with continuations joined.
fn dockerfile() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(Path::new(ROOT).join("Dockerfile")).unwrap();
    let joined = text.replace("\\\n", " ");
    let lines: Vec<&str> = joined
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let last_from = lines.iter().rposition(|l| l.starts_with("FROM ")).unwrap();
    lines[last_from..]
        .iter()
        .map(|l| {
            let (i, rest) = l.split_once(' ').unwrap();
            (i.to_owned(), rest.trim().to_owned())
        })
        .collect()
}

#[tokio::test]
async fn the_container_recipe_serves_from_its_volume_with_the_mounted_secret() {
    let stage = dockerfile();
    let get = |i: &str| -> Vec<String> {
        stage
            .iter()
            .filter(|(k, _)| k == i)
            .map(|(_, v)| v.clone())
            .collect()
    };
    assert_eq!(
        get("FROM"),
        ["scratch"],
        "a static binary on an empty image"
    );
    let entrypoint: Vec<String> = serde_json::from_str(&get("ENTRYPOINT")[0]).unwrap();
    let cmd: Vec<String> = serde_json::from_str(&get("CMD")[0]).unwrap();
    assert!(
        get("COPY")
            .iter()
            .any(|c| c.ends_with(&format!(" {}", entrypoint[0]))),
        "the entrypoint is the copied binary"
    );
    let volume = get("VOLUME")[0].clone();
    let env: Vec<(String, String)> = get("ENV")
        .iter()
        .flat_map(|e| e.split_whitespace())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (k.to_owned(), v.to_owned())
        })
        .collect();
    let var = |k: &str| env.iter().find(|(n, _)| n == k).unwrap().1.clone();
    assert!(var("CREDVAULT_PATH").starts_with(&format!("{volume}/")));

    // The container's file system, here: the volume and the secret mount.
    let dir = tempfile::tempdir().unwrap();
    let here = |p: &str| dir.path().join(p.trim_start_matches('/'));
    std::fs::create_dir_all(here(&volume)).unwrap();
    let secret = here(&var("CREDVAULT_PASSWORD_FILE"));
    std::fs::create_dir_all(secret.parent().unwrap()).unwrap();
    std::fs::write(&secret, format!("{PASSWORD}\n")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o400)).unwrap();
    let container = |c: &mut Command| {
        c.env_clear()
            .env("CREDVAULT_KDF_MEMORY_MIB", "8")
            .env("CREDVAULT_KDF_ITERATIONS", "1");
        for (k, v) in &env {
            let v = if v.starts_with('/') {
                here(v).display().to_string()
            } else {
                v.clone()
            };
            c.env(k, v);
        }
    };
    // Loopback here (tests talk to loopback only); the recipe binds 0.0.0.0:3978.
    assert_eq!(cmd, ["serve", "--http", "0.0.0.0:3978", "--allow-remote"]);
    let args: Vec<&str> = cmd
        .iter()
        .map(|a| {
            if a == "0.0.0.0:3978" {
                "127.0.0.1:0"
            } else {
                a
            }
        })
        .collect();
    let mut serve = Command::new(BIN);
    container(&mut serve);
    let child = serve
        .args(&args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = crate::common::Killed(child);
    let base = listening_base(&mut child.0);
    // The first start creates the vault on the volume (just after it starts
    // listening); then `docker exec … credvault token create` gives a token.
    let token_create = || {
        let mut exec = Command::new(BIN);
        container(&mut exec);
        exec.args(["token", "create", "--name", "laptop"])
            .output()
            .unwrap()
    };
    let mut made = token_create();
    for _ in 0..100 {
        if made.status.success() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        made = token_create();
    }
    let token = stdout_ok(&made);
    assert!(here(&var("CREDVAULT_PATH")).exists());
    crate::common::install_tls_provider();
    let http = reqwest::Client::new();
    let health = http.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let listed = http
        .get(format!("{base}/api/credentials"))
        .bearer_auth(token.trim())
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
}

#[tokio::test]
async fn the_claude_desktop_extension_runs_the_server_with_the_keychain_password() {
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(ROOT).join("packaging/mcpb/manifest.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["version"], env!("CARGO_PKG_VERSION"));
    let server = &manifest["server"];
    assert_eq!(server["type"], "binary");
    assert_eq!(server["entry_point"], "server/credvault");
    let config = &server["mcp_config"];
    assert_eq!(config["command"], "${__dirname}/server/credvault");
    assert_eq!(config["args"], json!(["serve"]));
    // The password: a sensitive user_config field (the OS keychain holds it),
    // handed over in the environment; nothing else is.
    let env = config["env"].as_object().unwrap();
    assert_eq!(env.len(), 1);
    let field = env["CREDVAULT_PASSWORD"]
        .as_str()
        .unwrap()
        .strip_prefix("${user_config.")
        .and_then(|f| f.strip_suffix('}'))
        .unwrap();
    let asked = &manifest["user_config"][field];
    assert_eq!(
        (&asked["type"], &asked["sensitive"], &asked["required"]),
        (&json!("string"), &json!(true), &json!(true))
    );

    // Started as Claude Desktop starts it: serve, the password in
    // CREDVAULT_PASSWORD, no vault yet (the first start creates it).
    let env = Env::new();
    let client = env
        .client_with(|c| {
            c.env_remove("CREDVAULT_PASSWORD_FILE")
                .env("CREDVAULT_PASSWORD", PASSWORD);
        })
        .await;
    let mut served: Vec<String> = client
        .service
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    let mut declared: Vec<String> = manifest["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect();
    served.sort();
    declared.sort();
    assert_eq!(declared, served, "the manifest lists the served tools");
    let listed = client.ok("list_credentials", json!({})).await;
    assert_eq!(listed["credentials"], json!([]), "unlocked: {listed}");
    client.stop().await;
    assert!(env.vault.exists());
}
