//! Listing at scale (DESIGN §11): the metadata cache is proven fresh across
//! processes, and paging is stable while another process writes.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::common::{Client, Env, PASSWORD, marked_value};

async fn creds(c: &Client) -> Vec<(String, String)> {
    let l = c.ok("list_credentials", json!({})).await;
    let mut v: Vec<(String, String)> = l["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["name"].as_str().unwrap().to_owned(),
                i["credential_type"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    v.sort();
    v
}

async fn secrets(c: &Client) -> Vec<String> {
    let l = c.ok("list_secrets", json!({})).await;
    l["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_write_by_another_process_is_in_the_very_next_list() {
    let env = Env::new();
    let reader = env.client().await;
    let writer = env.client().await;
    assert!(creds(&reader).await.is_empty(), "warm the reader's cache");
    let store = |kind: &'static str| json!({"service_id": "openai", "credential_type": kind, "credential_value": marked_value("fresh"), "name": "fresh"});
    writer.ok("store_credential", store("bearer")).await;
    assert_eq!(creds(&reader).await, [("fresh".into(), "bearer".into())]);
    // A replacement within the same second: only the type tells it apart.
    writer.ok("store_credential", store("api_key")).await;
    assert_eq!(creds(&reader).await, [("fresh".into(), "api_key".into())]);
    writer
        .ok(
            "delete_credential",
            json!({"service_id": "openai", "name": "fresh"}),
        )
        .await;
    assert!(creds(&reader).await.is_empty());
    writer
        .ok(
            "create_secret",
            json!({"name": "FRESH", "provider": "openai", "value": marked_value("s")}),
        )
        .await;
    assert_eq!(secrets(&reader).await, ["FRESH"]);
    // The CLI is another process too.
    assert!(env.run(&["secret", "delete", "FRESH"], "").status.success());
    assert!(secrets(&reader).await.is_empty());
    let o = env.run(
        &["store", "--service", "github", "--name", "cli"],
        &marked_value("cli"),
    );
    assert!(o.status.success());
    assert_eq!(creds(&reader).await, [("cli".into(), "api_key".into())]);
    // And the reader's own writes, of course.
    reader
        .ok("store_credential", json!({"service_id": "groq", "credential_type": "bearer", "credential_value": marked_value("own"), "name": "own"}))
        .await;
    assert_eq!(creds(&writer).await.len(), 2);
    reader.stop().await;
    writer.stop().await;
}

#[tokio::test]
async fn paging_through_1000_is_stable_while_another_process_stores() {
    let env = Env::new();
    {
        let v = credvault::Vault::create(
            &env.vault,
            &credvault::SecretString::from(PASSWORD),
            credvault::KdfParams {
                m_kib: 8192,
                t: 1,
                p: 1,
            },
        )
        .unwrap();
        for i in 0..1000 {
            let req = credvault::validate::store_credential(
                json!({"service_id": "custom.page", "credential_type": "bearer", "credential_value": format!("v-{i:04}-abcdefgh"), "name": format!("n{i:04}")})
                    .as_object()
                    .unwrap()
                    .clone(),
            )
            .unwrap();
            v.store_credential(&req, "test").unwrap();
        }
    }
    let reader = env.client().await;
    let writer = env.client().await;
    let mut seen: Vec<String> = Vec::new();
    let mut cursor = Value::Null;
    let mut pages = 0;
    let mut written = 0;
    loop {
        let page = reader
            .ok(
                "list_credentials",
                json!({"service_id": "custom.page", "limit": 37, "cursor": cursor}),
            )
            .await;
        pages += 1;
        seen.extend(
            page["credentials"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["name"].as_str().unwrap().to_owned()),
        );
        // Between every two pages another process stores one more, and
        // replaces one that exists throughout.
        writer
            .ok("store_credential", json!({"service_id": "custom.page", "credential_type": "bearer", "credential_value": marked_value("late"), "name": format!("late{written:03}")}))
            .await;
        writer
            .ok("store_credential", json!({"service_id": "custom.page", "credential_type": "api_key", "credential_value": marked_value("re"), "name": format!("n{:04}", written * 7 % 1000)}))
            .await;
        written += 1;
        cursor = page["next_cursor"].clone();
        if cursor.is_null() {
            break;
        }
    }
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no item repeated across pages");
    for i in 0..1000 {
        assert!(unique.contains(&format!("n{i:04}")), "n{i:04} skipped");
    }
    assert!(pages >= 1000 / 37, "{pages} pages");
    eprintln!(
        "paged {} items in {pages} pages while {written} stores and {written} replacements landed",
        seen.len()
    );
    reader.stop().await;
    writer.stop().await;
}
