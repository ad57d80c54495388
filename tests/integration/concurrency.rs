//! Several processes on one vault (Claude Desktop + Claude Code + a terminal):
//! every acknowledged write from every process is kept.

use serde_json::json;

use crate::common::Env;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_writing_at_once_lose_nothing() {
    let env = Env::new();
    // Both start on a missing vault: exactly one creates it, the other opens it.
    let (a, b) = tokio::join!(env.client(), env.client());
    const N: usize = 60;
    async fn write(c: &crate::common::Client, tag: &'static str) -> Vec<String> {
        let c = &c.service;
        {
            let mut ids = Vec::new();
            for i in 0..N {
                let args = json!({"service_id": "custom.load", "credential_type": "api_key",
                                  "credential_value": format!("v-{tag}-{i}"), "name": format!("{tag}-{i}")});
                let r = c
                    .call_tool(
                        rmcp::model::CallToolRequestParams::new("store_credential")
                            .with_arguments(args.as_object().unwrap().clone()),
                    )
                    .await
                    .unwrap();
                let o = crate::common::outcome(r);
                assert!(!o.is_error, "{}", o.raw);
                ids.push(o.body["id"].as_str().unwrap().to_owned());
            }
            ids
        }
    }
    let (ids_a, ids_b) = tokio::join!(write(&a, "a"), write(&b, "b"));
    // Each server sees the other's writes too.
    for c in [&a, &b] {
        let listed = c
            .ok("list_credentials", json!({"service_id": "custom.load"}))
            .await;
        let got: std::collections::HashSet<String> = listed["credentials"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(got.len(), 2 * N);
        assert!(ids_a.iter().chain(&ids_b).all(|id| got.contains(id)));
    }
    a.stop().await;
    b.stop().await;
    let o = env.run(&["list", "--json"], "");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["credentials"].as_array().unwrap().len(), 2 * N);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminal_store_is_seen_by_a_running_server() {
    let env = Env::new();
    let c = env.client().await;
    c.ok("list_credentials", json!({})).await;
    let o = env.run(
        &["store", "--service", "stripe", "--name", "live"],
        "sk_live_x",
    );
    assert!(o.status.success(), "{o:?}");
    let listed = c.ok("list_credentials", json!({})).await;
    assert_eq!(listed["credentials"][0]["service"], "stripe");
    c.stop().await;
}
