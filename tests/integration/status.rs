//! `status`: the vault's id, store and counts, the same from the command line
//! and from `GET /api/v1/status` (behind a token), and never a value.

use serde_json::Value;

use crate::common::{Env, contains, serve_http, stdout_ok};

#[tokio::test]
async fn status_names_the_vault_and_counts_it_the_same_on_the_cli_and_over_http() {
    let env = Env::new();
    stdout_ok(&env.run(&["init"], ""));
    stdout_ok(&env.run(&["store", "--service", "openai"], "sk-status-marker-1"));
    stdout_ok(&env.run(
        &["store", "--service", "openai", "--name", "backup"],
        "sk-status-marker-2",
    ));
    stdout_ok(&env.run(&["secret", "create", "GH_TOKEN"], "ghp_status_marker_3"));

    let text = stdout_ok(&env.run(&["status", "--json"], ""));
    let cli: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(cli["store"], "file", "{cli}");
    assert_eq!(cli["location"], env.vault.display().to_string(), "{cli}");
    assert_eq!(cli["member"], Value::Null, "{cli}");
    assert_eq!(
        (cli["credentials"].as_u64(), cli["secrets"].as_u64()),
        (Some(2), Some(1))
    );
    let id = cli["vault_id"].as_str().unwrap();
    assert_eq!(uuid::Uuid::parse_str(id).unwrap().to_string(), id);
    let lines = stdout_ok(&env.run(&["status"], ""));
    assert!(
        lines.contains(id) && lines.contains("credentials  2"),
        "{lines}"
    );

    let token = crate::http::token(&env, "status");
    let (base, _server) = serve_http(&env, None);
    crate::common::install_tls_provider();
    let client = reqwest::Client::new();
    let url = format!("{base}/api/v1/status");
    let r = client.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let http: Value = r.json().await.unwrap();
    assert_eq!(http, cli);
    let r = client.get(&url).send().await.unwrap();
    assert_eq!(
        r.status(),
        401,
        "status needs a token like every /api route"
    );

    for out in [
        text.as_bytes(),
        lines.as_bytes(),
        http.to_string().as_bytes(),
    ] {
        assert!(!contains(out, "marker"), "a value in the status output");
    }
}

/// On a team vault, `status` names the store `postgres`, the database URL
/// without its password, and the member whose password opened it.
#[test]
fn status_of_a_team_vault_names_postgres_and_the_member() {
    let env = Env::new();
    let Some((_pg, url)) = crate::team::team(&env, "team_status") else {
        return;
    };
    let text = stdout_ok(&crate::team::run_team(
        &env,
        &url,
        &["status", "--json"],
        "",
    ));
    let st: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(st["store"], "postgres", "{st}");
    assert!(
        st["location"].as_str().unwrap().starts_with("postgres://"),
        "{st}"
    );
    assert_eq!(st["member"], "owner", "{st}");
    assert_eq!(
        (st["credentials"].as_u64(), st["secrets"].as_u64()),
        (Some(0), Some(0))
    );
}
