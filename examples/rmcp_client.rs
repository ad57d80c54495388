//! Calling credvault from Rust with the official MCP SDK (rmcp), over stdio:
//! store a key, list what is stored (never values), and ask the person to
//! type a key into credvault's one-time local page instead of the chat.
//!
//! ```sh
//! CREDVAULT_PASSWORD_FILE=~/.config/credvault/password \
//!   cargo run --example rmcp_client -- /path/to/credvault
//! ```
//!
//! The server inherits this process's environment (CREDVAULT_PASSWORD_FILE,
//! CREDVAULT_PATH). `.ci/run` runs this example against the built binary.
#![allow(clippy::print_stdout)]

use std::io::IsTerminal;

use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::transport::TokioChildProcess;
use serde_json::{Value, json};

type Client = rmcp::service::RunningService<rmcp::RoleClient, ()>;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let bin = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "credvault".into());
    let mut cmd = tokio::process::Command::new(bin);
    cmd.arg("serve");
    // `()` is a client with no capabilities: no elicitation, so
    // request_credential answers with a link for the person instead.
    let client = ().serve(TokioChildProcess::new(cmd)?).await?;

    let tools = client.list_all_tools().await?;
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    println!("tools: {}", names.join(", "));

    // The value goes in; only metadata comes back.
    let stored = call(
        &client,
        "store_credential",
        json!({"service_id": "openai", "credential_type": "bearer",
               "credential_value": "sk-example-not-a-real-key-0123456789", "name": "example"}),
    )
    .await?;
    println!(
        "stored: {} ({})",
        text(&stored["service_name"]),
        text(&stored["id"])
    );

    let listed = call(&client, "list_credentials", json!({})).await?;
    for c in listed["credentials"].as_array().into_iter().flatten() {
        let [service, name, kind] = [&c["service"], &c["name"], &c["credential_type"]].map(text);
        println!("listed: {service}/{name} {kind}");
    }

    // The better way to get a key in: the person types it into a local page.
    let asked = call(
        &client,
        "request_credential",
        json!({"service_id": "anthropic", "credential_type": "api_key", "name": "example"}),
    )
    .await?;
    if asked["status"] == "pending_user_action" {
        println!("enter the key at: {}", text(&asked["url"]));
        if std::io::stdin().is_terminal() {
            println!("(press Enter once it is saved)");
            let mut line = String::new();
            std::io::stdin().read_line(&mut line)?;
            let listed = call(
                &client,
                "list_credentials",
                json!({"service_id": "anthropic"}),
            )
            .await?;
            println!("anthropic: {}", listed["credentials"]);
        }
    }
    client.cancel().await?;
    Ok(())
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

/// Calls `tool`; a tool error (`isError`, the JSON envelope in its text) becomes an `Err`.
async fn call(client: &Client, tool: &'static str, args: Value) -> Result<Value, String> {
    let params = CallToolRequestParams::new(tool)
        .with_arguments(args.as_object().cloned().unwrap_or_default());
    let result: CallToolResult = client.call_tool(params).await.map_err(|e| e.to_string())?;
    if result.is_error == Some(true) {
        let text = result
            .content
            .first()
            .and_then(|c| c.as_text())
            .map(|t| t.text.clone())
            .unwrap_or_default();
        return Err(format!("{tool}: {text}"));
    }
    result
        .structured_content
        .ok_or_else(|| format!("{tool}: no structured content"))
}
