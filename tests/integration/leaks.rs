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
