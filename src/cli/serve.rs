//! `serve`: the MCP server on stdio or HTTP, and `exec`.

use super::args::{ExecArgs, ServeArgs};
use super::{CliError, Settings};
use crate::app::{UnlockConfig, VaultAccess};
use crate::mcp::CredVaultServer;
use crate::password::{self, Prompt};

pub(super) fn serve(s: &Settings, args: &ServeArgs) -> Result<(), CliError> {
    // A missing password does not stop the server: every tool call answers
    // vault_locked with the reason, which the agent can relay to the user.
    let password = password::read(Prompt::Never).map_err(|e| e.to_string());
    match &password {
        Ok(Some(_)) => {}
        Ok(None) => tracing::warn!(
            "no master password (set CREDVAULT_PASSWORD_FILE): tool calls will answer vault_locked"
        ),
        Err(e) => tracing::error!("{e}: tool calls will answer vault_locked"),
    }
    let config = UnlockConfig {
        location: s.location.clone(),
        member: s.member.clone(),
        password,
        kdf: s.kdf,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::Other(format!("starting the async runtime: {e}")))?;
    let outbound = crate::usage::Outbound::new(args.ca_file.clone());
    if let Some(addr) = &args.http {
        let http = crate::http::HttpConfig::resolve(&crate::http::HttpOptions {
            addr: addr.clone(),
            allow_remote: args.allow_remote,
            no_auth: args.no_auth,
            allow_origin: args.allow_origin.clone(),
        })?;
        return runtime
            .block_on(async move {
                crate::http::serve(http, VaultAccess::start(config).with_outbound(outbound)).await
            })
            .map_err(CliError::from);
    }
    let mut restore = None;
    let restore_slot = &mut restore;
    let outcome = runtime.block_on(async move {
        // stdio: initialize and tools/list first, then the KDF (see start_after).
        let access = VaultAccess::start_after(config, std::time::Duration::from_millis(25))
            .with_outbound(outbound);
        access.entry().serve_on_demand(crate::entry::starter());
        use rmcp::ServiceExt;
        let (input, output, pipes) = crate::mcp::stdio::std_streams();
        *restore_slot = Some(pipes);
        let io = crate::mcp::stdio::transport(input, output);
        let server = CredVaultServer::new(access.clone()).with_handoff(io.handoff.clone());
        let running = server
            .serve((io.sink, io.stream))
            .await
            .map_err(|e| CliError::Other(format!("MCP handshake failed: {e}")))?;
        let result = running.waiting().await;
        // Let the writer flush what rmcp queued last, and the last uses'
        // last_used_at commit.
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), io.writer).await;
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), access.settled()).await;
        // A first run creates the vault even when the client left before the
        // grace period ended (as when the unlock started at once).
        let _ = access.vault().await;
        result.map_err(|e| CliError::Other(format!("MCP server stopped: {e}")))?;
        Ok(())
    });
    // The pipes' flags go back once no task can touch them.
    drop(runtime);
    drop(restore);
    outcome
}

pub(super) fn exec(s: &Settings, args: ExecArgs) -> Result<i32, CliError> {
    let spec = crate::usage::exec::ExecSpec {
        secrets: args.secrets,
        envs: args.envs,
        all_secrets: args.all_secrets,
        no_mask: args.no_mask,
        command: args.command,
    };
    Ok(crate::usage::exec::run(&s.open()?, spec)?)
}
