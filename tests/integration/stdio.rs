//! The stdio MCP server driven by rmcp's client: tools, shapes, semantics, errors.

use serde_json::{Value, json};

use crate::common::{Env, contains};

fn tool<'a>(tools: &'a [rmcp::model::Tool], name: &str) -> &'a rmcp::model::Tool {
    tools
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("{name} not listed"))
}

#[tokio::test]
async fn lists_the_tools_with_schemas_and_annotations() {
    let env = Env::new();
    let c = env.client().await;
    let tools = c.service.list_all_tools().await.unwrap();
    let mut names: Vec<_> = tools.iter().map(|t| t.name.to_string()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "call_api",
            "create_secret",
            "delete_credential",
            "delete_secret",
            "list_credentials",
            "list_secrets",
            "request_credential",
            "store_credential"
        ]
    );
    for t in &tools {
        assert!(t.output_schema.is_some(), "{} has no outputSchema", t.name);
        assert!(t.description.as_deref().is_some_and(|d| d.len() > 40));
        let a = t.annotations.as_ref().expect("annotations");
        assert!(a.read_only_hint.is_some() && a.destructive_hint.is_some());
        // Only call_api reaches beyond the vault.
        let open_world = t.name == "call_api";
        assert!(a.idempotent_hint.is_some() && a.open_world_hint == Some(open_world));
    }
    let list = tool(&tools, "list_credentials")
        .annotations
        .clone()
        .unwrap();
    assert_eq!(list.read_only_hint, Some(true));
    let store = tool(&tools, "store_credential");
    assert_eq!(
        store.annotations.as_ref().unwrap().destructive_hint,
        Some(true)
    );
    let required = &store.input_schema["required"];
    assert_eq!(
        required,
        &json!(["service_id", "credential_type", "credential_value"])
    );
    let call = tool(&tools, "call_api").annotations.clone().unwrap();
    assert_eq!(
        (
            call.read_only_hint,
            call.destructive_hint,
            call.idempotent_hint
        ),
        (Some(false), Some(true), Some(false))
    );
    for name in ["delete_credential", "delete_secret"] {
        let a = tool(&tools, name).annotations.clone().unwrap();
        assert_eq!(
            (a.destructive_hint, a.idempotent_hint, a.read_only_hint),
            (Some(true), Some(true), Some(false)),
            "{name}"
        );
    }
    assert_eq!(
        tool(&tools, "list_secrets")
            .annotations
            .clone()
            .unwrap()
            .read_only_hint,
        Some(true)
    );
    let entry = tool(&tools, "request_credential");
    assert_eq!(
        entry.input_schema["required"],
        json!(["service_id", "credential_type"]),
        "no value argument"
    );
    assert!(
        entry.input_schema["properties"]
            .get("credential_value")
            .is_none()
    );
    let size = serde_json::to_string(&tools).unwrap().len();
    assert!(size <= 10 * 1024, "tools/list is {size} bytes");
    c.stop().await;
}

#[tokio::test]
async fn store_replace_backup_custom_and_list() {
    let env = Env::new();
    let c = env.client().await;
    let first = c
        .ok("store_credential", json!({"service_id": "openai", "credential_type": "bearer", "credential_value": "sk-one"}))
        .await;
    assert_eq!(first["success"], true);
    assert_eq!(first["service_name"], "OpenAI");
    assert_eq!(first["name"], "default");
    assert_eq!(first["replaced"], false);
    assert_eq!(first["last_used_at"], Value::Null);
    assert!(uuid::Uuid::parse_str(first["id"].as_str().unwrap()).is_ok());

    let again = c
        .ok("store_credential", json!({"service_id": " OpenAI ", "credential_type": "api_key", "credential_value": "sk-two"}))
        .await;
    assert_eq!(again["id"], first["id"], "replacing keeps the id");
    assert_eq!(again["created_at"], first["created_at"]);
    assert_eq!(again["replaced"], true);
    assert_eq!(again["credential_type"], "api_key");

    let backup = c
        .ok("store_credential", json!({"service_id": "openai", "credential_type": "bearer", "credential_value": "sk-3", "name": "backup"}))
        .await;
    assert_ne!(backup["id"], first["id"]);
    let custom = c
        .ok("store_credential", json!({"service_id": "custom.acme-internal", "credential_type": "api_key", "credential_value": "k"}))
        .await;
    assert_eq!(custom["service"], "custom.acme-internal");
    assert_eq!(custom["service_name"], "acme-internal");
    let danube = c
        .ok("store_credential", json!({"service_id": "svc_anthropic_001", "credential_type": "bearer", "credential_value": "k"}))
        .await;
    assert_eq!(
        (danube["service_id"].as_str(), danube["service"].as_str()),
        (Some("svc_anthropic_001"), Some("anthropic"))
    );

    let listed = c.ok("list_credentials", json!({})).await;
    let items = listed["credentials"].as_array().unwrap();
    assert_eq!(items.len(), 4);
    let keys: Vec<&String> = items[0].as_object().unwrap().keys().collect();
    let mut expected = [
        "id",
        "service",
        "name",
        "created_at",
        "last_used_at",
        "service_name",
        "credential_type",
        "updated_at",
    ];
    expected.sort();
    assert_eq!(
        keys, expected,
        "seed 001 metadata plus three fields, nothing else"
    );
    let ordered: Vec<(i64, &str)> = items
        .iter()
        .map(|i| (i["created_at"].as_i64().unwrap(), i["id"].as_str().unwrap()))
        .collect();
    let mut sorted = ordered.clone();
    sorted.sort();
    assert_eq!(ordered, sorted, "ordered by created_at then id");
    assert!(
        !listed.to_string().contains("sk-"),
        "list never carries a value"
    );

    let only = c
        .ok("list_credentials", json!({"service_id": "openai"}))
        .await;
    assert_eq!(only["credentials"].as_array().unwrap().len(), 2);
    c.stop().await;
}

#[tokio::test]
async fn create_secret_masks_and_refuses_duplicates() {
    let env = Env::new();
    let c = env.client().await;
    let value = "sk-proj-abcdefghijklm0123456789";
    let s = c
        .ok(
            "create_secret",
            json!({"name": "OPENAI_API_KEY", "provider": "openai", "value": value}),
        )
        .await;
    assert_eq!(s["masked_value"], "sk-pro••••789");
    assert_eq!(s["name"], "OPENAI_API_KEY");
    assert_eq!(s["provider"], "openai");
    let created = s["created_at"].as_str().unwrap();
    assert!(
        created.ends_with('Z') && created.len() == 20,
        "RFC 3339 UTC: {created}"
    );
    let dup = c
        .call(
            "create_secret",
            json!({"name": "OPENAI_API_KEY", "provider": "openai", "value": "dup-value-xyz"}),
        )
        .await;
    assert!(dup.is_error);
    assert_eq!(dup.body["code"], 409);
    assert_eq!(dup.body["type"], "conflict_error");
    // Validation runs first: invalid and duplicate is a 422.
    let both = c
        .call(
            "create_secret",
            json!({"name": "OPENAI_API_KEY", "provider": "Bad Provider", "value": "x"}),
        )
        .await;
    assert_eq!(both.body["code"], 422);
    assert!(!dup.raw.contains("dup-value-xyz") && !s.to_string().contains(value));
    c.stop().await;
}

#[tokio::test]
async fn every_bad_argument_is_a_422_naming_the_field() {
    let env = Env::new();
    let c = env.client().await;
    let big = "v".repeat(16 * 1024 + 1);
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        (
            "store_credential",
            json!({"credential_type": "bearer", "credential_value": "x"}),
            "service_id",
            "missing",
        ),
        (
            "store_credential",
            json!({"service_id": "openai", "credential_value": "x"}),
            "credential_type",
            "missing",
        ),
        (
            "store_credential",
            json!({"service_id": "openai", "credential_type": "bearer"}),
            "credential_value",
            "missing",
        ),
        (
            "store_credential",
            json!({"service_id": 42, "credential_type": "bearer", "credential_value": "x"}),
            "service_id",
            "type_error",
        ),
        (
            "store_credential",
            json!({"service_id": "openai", "credential_type": "password", "credential_value": "x"}),
            "credential_type",
            "enum",
        ),
        (
            "store_credential",
            json!({"service_id": "openai", "credential_type": "bearer", "credential_value": " \t\n"}),
            "credential_value",
            "missing",
        ),
        (
            "store_credential",
            json!({"service_id": "openai", "credential_type": "bearer", "credential_value": ["x"]}),
            "credential_value",
            "type_error",
        ),
        (
            "store_credential",
            json!({"service_id": "notaservice", "credential_type": "bearer", "credential_value": "x"}),
            "service_id",
            "value_error",
        ),
        (
            "store_credential",
            json!({"service_id": "custom.Bad Name", "credential_type": "bearer", "credential_value": "x"}),
            "service_id",
            "value_error",
        ),
        (
            "store_credential",
            json!({"service_id": "openai", "credential_type": "bearer", "credential_value": big}),
            "credential_value",
            "too_long",
        ),
        (
            "store_credential",
            json!({"service_id": "openai", "credential_type": "bearer", "credential_value": "x", "name": "  "}),
            "name",
            "missing",
        ),
        (
            "store_credential",
            json!({"service_id": "openai", "credential_type": "bearer", "credential_value": "x", "name": "n".repeat(129)}),
            "name",
            "too_long",
        ),
        (
            "store_credential",
            json!({"service_id": "openai", "credential_type": "bearer", "credential_value": "x", "name": "a\nb"}),
            "name",
            "value_error",
        ),
        (
            "store_credential",
            json!({"service_id": "openai", "credential_type": "bearer", "credential_value": "x", "nmae": "typo"}),
            "nmae",
            "extra_forbidden",
        ),
        (
            "list_credentials",
            json!({"service_id": "nope"}),
            "service_id",
            "value_error",
        ),
        (
            "list_credentials",
            json!({"service_id": true}),
            "service_id",
            "type_error",
        ),
        (
            "create_secret",
            json!({"name": "1ABC", "provider": "openai", "value": "x"}),
            "name",
            "value_error",
        ),
        (
            "create_secret",
            json!({"name": "ABC-D", "provider": "openai", "value": "x"}),
            "name",
            "value_error",
        ),
        (
            "create_secret",
            json!({"name": "ABC", "provider": "UPPER case", "value": "x"}),
            "provider",
            "value_error",
        ),
        (
            "create_secret",
            json!({"name": "ABC", "provider": "openai"}),
            "value",
            "missing",
        ),
        (
            "create_secret",
            json!({"name": "ABC", "provider": "openai", "value": 7}),
            "value",
            "type_error",
        ),
        (
            "create_secret",
            json!({"name": "ABC", "provider": "openai", "value": big}),
            "value",
            "too_long",
        ),
    ];
    for (tool, args, field, kind) in cases {
        let o = c.call(tool, args.clone()).await;
        assert!(o.is_error, "{tool} {args} should fail");
        assert_eq!(o.body["code"], 422, "{tool} {args}: {}", o.raw);
        assert_eq!(o.body["type"], "validation_error");
        assert!(
            o.body["detail"].as_str().unwrap().contains(field),
            "detail names {field}: {}",
            o.raw
        );
        let errors = o.body["errors"].as_array().unwrap();
        assert!(
            errors
                .iter()
                .any(|e| e["loc"] == json!([field]) && e["type"] == kind),
            "{tool} {args}: expected {field}/{kind} in {}",
            o.raw
        );
        assert!(
            !contains(o.raw.as_bytes(), "vvvvvvvv"),
            "value echoed in error"
        );
    }
    // Nothing was stored by any of them.
    assert_eq!(
        c.ok("list_credentials", json!({})).await["credentials"],
        json!([])
    );
    c.stop().await;
}

#[tokio::test]
async fn unknown_tools_are_protocol_errors_and_the_server_keeps_serving() {
    let env = Env::new();
    let c = env.client().await;
    let r = c
        .service
        .call_tool(rmcp::model::CallToolRequestParams::new("get_credential"))
        .await;
    assert!(r.is_err(), "unknown tool must be a JSON-RPC error");
    c.ok("list_credentials", json!({})).await;
    c.stop().await;
}

#[tokio::test]
async fn everything_survives_a_restart() {
    let env = Env::new();
    let c = env.client().await;
    let stored = c
        .ok("store_credential", json!({"service_id": "anthropic", "credential_type": "api_key", "credential_value": "k1", "name": "production"}))
        .await;
    c.ok(
        "create_secret",
        json!({"name": "TOKEN", "provider": "github", "value": "ghp_1234567890"}),
    )
    .await;
    c.stop().await;
    let c = env.client().await;
    let listed = c.ok("list_credentials", json!({})).await;
    assert_eq!(listed["credentials"][0]["id"], stored["id"]);
    assert_eq!(listed["credentials"][0]["name"], "production");
    let dup = c
        .call(
            "create_secret",
            json!({"name": "TOKEN", "provider": "github", "value": "x"}),
        )
        .await;
    assert_eq!(dup.body["code"], 409, "the secret persisted");
    c.stop().await;
}

#[tokio::test]
async fn wrong_password_is_vault_locked_and_leaves_the_file_untouched() {
    let mut env = Env::new();
    assert!(env.run(&["init"], "").status.success());
    let before = env.file_bytes();
    env.pw_file = env.with_password("not the password");
    let c = env.client().await;
    let o = c.call("list_credentials", json!({})).await;
    assert!(o.is_error);
    assert_eq!(o.body["code"], 423);
    assert_eq!(o.body["type"], "vault_locked");
    let o = c
        .call(
            "store_credential",
            json!({"service_id": "openai", "credential_type": "bearer", "credential_value": "x"}),
        )
        .await;
    assert_eq!(o.body["code"], 423);
    c.stop().await;
    assert!(
        env.file_bytes() == before,
        "file changed after a wrong password"
    );
}

#[tokio::test]
async fn no_password_is_vault_locked_with_advice() {
    let mut env = Env::new();
    env.pw_file = env.dir.path().join("missing-password-file");
    let c = env.client().await;
    let o = c.call("list_credentials", json!({})).await;
    assert!(o.is_error);
    assert_eq!(o.body["code"], 423, "{}", o.raw);
    assert!(
        o.body["detail"]
            .as_str()
            .unwrap()
            .contains("CREDVAULT_PASSWORD_FILE"),
        "{}",
        o.raw
    );
    c.stop().await;
    assert!(
        !env.vault.exists(),
        "no vault is created without a password"
    );
}

#[tokio::test]
async fn first_run_creates_the_vault_with_private_permissions() {
    let env = Env::new();
    let c = env.client().await;
    c.ok("list_credentials", json!({})).await;
    c.stop().await;
    assert_eq!(crate::common::mode(&env.vault), 0o600);
    assert_eq!(crate::common::mode(env.vault.parent().unwrap()), 0o700);
}

#[tokio::test]
async fn the_2026_stateless_lifecycle_works_over_stdio() {
    use rmcp::model::ProtocolVersion;
    use rmcp::{ClientLifecycleMode, serve_client_with_lifecycle};
    let env = Env::new();
    let mut cmd = tokio::process::Command::new(crate::common::BIN);
    cmd.arg("serve").env_clear();
    for (k, v) in [
        ("CREDVAULT_PATH", env.vault.display().to_string()),
        ("CREDVAULT_PASSWORD_FILE", env.pw_file.display().to_string()),
        ("CREDVAULT_KDF_MEMORY_MIB", "8".into()),
        ("CREDVAULT_KDF_ITERATIONS", "1".into()),
    ] {
        cmd.env(k, v);
    }
    let transport = rmcp::transport::TokioChildProcess::new(cmd).unwrap();
    let client = serve_client_with_lifecycle(
        (),
        transport,
        ClientLifecycleMode::Discover {
            preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        },
    )
    .await
    .expect("server/discover handshake");
    assert_eq!(
        client.peer_info().unwrap().protocol_version,
        ProtocolVersion::V_2026_07_28
    );
    let tools = client.list_all_tools().await.unwrap();
    assert_eq!(tools.len(), 8);
    let r = client
        .call_tool(rmcp::model::CallToolRequestParams::new("store_credential").with_arguments(
            json!({"service_id": "groq", "credential_type": "bearer", "credential_value": "gsk"}).as_object().unwrap().clone(),
        ))
        .await
        .unwrap();
    let o = crate::common::outcome(r);
    assert_eq!(o.body["service_name"], "Groq");
    let _ = client.cancel().await;
}

#[tokio::test]
async fn negotiates_every_initialize_protocol_version() {
    use rmcp::ServiceExt;
    use rmcp::model::{
        ClientCapabilities, Implementation, InitializeRequestParams, ProtocolVersion,
    };
    for v in [
        ProtocolVersion::V_2024_11_05,
        ProtocolVersion::V_2025_03_26,
        ProtocolVersion::V_2025_06_18,
        ProtocolVersion::V_2025_11_25,
    ] {
        let env = Env::new();
        let mut cmd = tokio::process::Command::new(crate::common::BIN);
        cmd.arg("serve")
            .env_clear()
            .env("CREDVAULT_PATH", &env.vault)
            .env("CREDVAULT_PASSWORD_FILE", &env.pw_file);
        cmd.env("CREDVAULT_KDF_MEMORY_MIB", "8")
            .env("CREDVAULT_KDF_ITERATIONS", "1");
        let transport = rmcp::transport::TokioChildProcess::new(cmd).unwrap();
        let info = InitializeRequestParams::new(
            ClientCapabilities::default(),
            Implementation::new("t", "1"),
        )
        .with_protocol_version(v.clone());
        let client = info.serve(transport).await.unwrap();
        assert_eq!(client.peer_info().unwrap().protocol_version, v);
        assert_eq!(client.list_all_tools().await.unwrap().len(), 8);
        let _ = client.cancel().await;
    }
}

#[tokio::test]
async fn works_at_the_real_default_kdf_cost() {
    let mut env = Env::new();
    env.real_kdf = true;
    let c = env.client().await;
    // tools/list is served while the 256 MiB derivation runs; the call waits for it.
    assert_eq!(c.service.list_all_tools().await.unwrap().len(), 8);
    c.ok(
        "store_credential",
        json!({"service_id": "openai", "credential_type": "bearer", "credential_value": "sk-real"}),
    )
    .await;
    c.stop().await;
    let c = env.client().await;
    assert_eq!(
        c.ok("list_credentials", json!({})).await["credentials"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    c.stop().await;
    let header = redb_kdf_header(&env.vault);
    assert_eq!(
        u32::from_le_bytes(header[1..5].try_into().unwrap()),
        256 * 1024,
        "m = 256 MiB"
    );
    assert_eq!(
        u32::from_le_bytes(header[5..9].try_into().unwrap()),
        3,
        "t = 3"
    );
}

fn redb_kdf_header(path: &std::path::Path) -> Vec<u8> {
    use redb::{ReadableDatabase, TableDefinition};
    let meta: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
    let db = redb::Database::builder()
        .set_concurrency_mode(redb::ConcurrencyMode::MultiWriter)
        .open(path)
        .unwrap();
    let txn = db.begin_read().unwrap();
    let t = txn.open_table(meta).unwrap();
    t.get("kdf").unwrap().unwrap().value().to_vec()
}
