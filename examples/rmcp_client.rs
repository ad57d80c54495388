//! Calling credvault from the Rust MCP SDK (rmcp) over stdio.
//!
//! ```sh
//! cargo build --release
//! CREDVAULT_PASSWORD_FILE=~/.config/credvault/password \
//!   cargo run --example rmcp_client -- target/release/credvault
//! ```
#![allow(clippy::print_stdout)]

use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::TokioChildProcess;
use serde_json::json;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let bin = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "credvault".into());
    let mut cmd = tokio::process::Command::new(bin);
    cmd.arg("serve"); // inherits CREDVAULT_PASSWORD_FILE / CREDVAULT_PATH
    let client = ().serve(TokioChildProcess::new(cmd)?).await?;

    for tool in client.list_all_tools().await? {
        println!("tool: {}", tool.name);
    }
    let args = json!({"service_id": "openai", "credential_type": "bearer",
                      "credential_value": "sk-example", "name": "example"});
    let stored = client
        .call_tool(
            CallToolRequestParams::new("store_credential")
                .with_arguments(args.as_object().cloned().unwrap_or_default()),
        )
        .await?;
    println!(
        "stored: {}",
        serde_json::to_string(&stored.structured_content)?
    );
    let listed = client
        .call_tool(CallToolRequestParams::new("list_credentials"))
        .await?;
    println!(
        "listed: {}",
        serde_json::to_string(&listed.structured_content)?
    );
    client.cancel().await?;
    Ok(())
}
