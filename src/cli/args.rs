//! Command-line types (clap derive). Help text comes from these doc comments.
//!
//! Secrets are never taken as arguments (shell history) nor bound through clap's
//! `env =` (`--help` would print them): see [`crate::password`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::logging::LogFormat;
use crate::validate::CredentialType;

/// A local, encrypted credential vault for AI agents, served over MCP.
///
/// Master password: CREDVAULT_PASSWORD_FILE (a file holding it; preferred),
/// CREDVAULT_PASSWORD, or a prompt on the terminal.
/// Exit codes: 0 ok, 1 error, 2 usage, 3 wrong password or vault locked.
#[derive(Debug, Parser)]
#[command(name = "credvault", version, propagate_version = true)]
pub struct Cli {
    /// Vault file [default: $XDG_DATA_HOME/credvault/vault.redb or ~/.local/share/credvault/vault.redb]
    #[arg(
        long,
        global = true,
        env = "CREDVAULT_PATH",
        hide_env_values = true,
        value_name = "PATH"
    )]
    pub vault: Option<PathBuf>,
    /// Team vault in PostgreSQL instead of the file: postgres://user@host/db[?sslmode=require]
    /// or postgres://user@/db?host=/socket/dir
    #[arg(
        long,
        global = true,
        env = "CREDVAULT_STORE",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub store: Option<String>,
    /// Team vaults: the member whose key slot (and password) opens it [default: the vault's first member]
    #[arg(
        long,
        global = true,
        env = "CREDVAULT_MEMBER",
        hide_env_values = true,
        value_name = "NAME"
    )]
    pub member: Option<String>,
    /// Log level or filter for stderr (RUST_LOG takes precedence)
    #[arg(long, global = true, default_value = "warn", value_name = "LEVEL")]
    pub log_level: String,
    /// Log line format
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// KDF cost for vaults this command creates.
    #[command(flatten)]
    pub kdf: KdfArgs,
    /// What to do
    #[command(subcommand)]
    pub command: Command,
}

/// Argon2id cost for a vault created by this command (stored in the file).
#[derive(Debug, Clone, Args)]
pub struct KdfArgs {
    /// Argon2id memory in MiB for a new vault (8..=4096)
    #[arg(
        long,
        global = true,
        env = "CREDVAULT_KDF_MEMORY_MIB",
        hide_env_values = true,
        default_value_t = 256,
        value_name = "MIB"
    )]
    pub kdf_memory_mib: u32,
    /// Argon2id passes for a new vault (1..=64)
    #[arg(
        long,
        global = true,
        env = "CREDVAULT_KDF_ITERATIONS",
        hide_env_values = true,
        default_value_t = 3,
        value_name = "N"
    )]
    pub kdf_iterations: u32,
    /// Argon2id lanes for a new vault (1..=16)
    #[arg(
        long,
        global = true,
        env = "CREDVAULT_KDF_PARALLELISM",
        hide_env_values = true,
        default_value_t = 1,
        value_name = "N"
    )]
    pub kdf_parallelism: u32,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a new, empty vault
    Init,
    /// Serve the MCP tools (stdio by default)
    Serve(ServeArgs),
    /// Which vault this is (id, store, member) and how much it holds
    Status {
        /// Print JSON instead of lines
        #[arg(long)]
        json: bool,
    },
    /// List stored credentials (never values)
    List {
        /// Print JSON instead of a table
        #[arg(long)]
        json: bool,
        /// Only this service
        #[arg(long, value_name = "SERVICE")]
        service: Option<String>,
    },
    /// Store a credential; the value is read from a prompt or stdin
    Store {
        /// Service: catalog id (openai, anthropic, …) or custom.<name>
        #[arg(long, value_name = "SERVICE")]
        service: String,
        /// How the value is presented to the service
        #[arg(long = "type", value_enum, default_value = "api_key")]
        credential_type: CliCredentialType,
        /// Label (default "default"); the same service and name replaces
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
        /// Host (or host:port) call_api may send this value to; repeatable
        /// [default: the catalog service's API host]
        #[arg(long = "allow-host", value_name = "HOST")]
        allowed_hosts: Vec<String>,
        /// custom.* api_key only: header the key is sent in [default: X-API-Key]
        #[arg(long, value_name = "HEADER")]
        auth_header: Option<String>,
    },
    /// Run a program with secrets in its environment, its output redacted
    ///
    /// Example: credvault exec --secret OPENAI_API_KEY --env GH_TOKEN=github/default -- python app.py
    Exec(ExecArgs),
    /// Named secrets
    #[command(subcommand)]
    Secret(SecretCommand),
    /// Delete a credential: SERVICE[/NAME] (NAME defaults to "default"), or --id ID
    Delete {
        /// SERVICE or SERVICE/NAME, e.g. openai/backup
        #[arg(
            value_name = "SERVICE[/NAME]",
            required_unless_present = "id",
            conflicts_with = "id"
        )]
        target: Option<String>,
        /// Credential id (from `credvault list`)
        #[arg(long, value_name = "ID")]
        id: Option<String>,
    },
    /// Change the master password (re-wraps the data key: one KDF, records untouched)
    ///
    /// The current password comes from the usual sources; the new one from
    /// --new-password-file, else the first line of stdin when it is not a
    /// terminal, else a prompt asked twice. Running servers keep working
    /// (after --rekey they must be restarted).
    ///
    /// The data key stays the same: the old password still opens any copy of
    /// the vault taken before (a backup, a synced file), and that copy's key
    /// opens every later copy too. --rekey (a vault file) also draws a new
    /// data key in the same transaction, as `credvault rekey` does.
    Passwd {
        /// File holding the new password
        #[arg(long, value_name = "PATH")]
        new_password_file: Option<PathBuf>,
        /// Also apply --kdf-memory-mib / --kdf-iterations / --kdf-parallelism (default: keep the current cost)
        #[arg(long)]
        rekdf: bool,
        /// Also draw a new data key and re-seal everything under it, in the same
        /// transaction (vault file); revokes bearer tokens; restart running servers after
        #[arg(long)]
        rekey: bool,
    },
    /// Write a consistent, sealed copy of the vault to PATH while servers run
    Backup {
        /// Where to write it (must not exist); the same password opens it
        path: PathBuf,
    },
    /// Show the audit trail (no values, ever), or --verify it
    Audit {
        /// Print JSON lines instead of a table
        #[arg(long)]
        json: bool,
        /// Only entries since T: RFC 3339 (2026-11-25T10:00:00Z) or an age (2h, 7days)
        #[arg(long, value_name = "T")]
        since: Option<String>,
        /// Check the chain and the live records against it; exit 1 naming the first problem
        #[arg(long)]
        verify: bool,
    },
    /// Bearer tokens for `serve --http`
    #[command(subcommand)]
    Token(TokenCommand),
    /// Team vault members: each has a password of their own
    #[command(subcommand)]
    Member(MemberCommand),
    /// Draw a new data key and re-seal everything under it (after a leaked password, or `member remove`)
    ///
    /// One transaction: every record and audit entry, and a team vault's
    /// member slots; refused if `audit --verify` finds a problem. Bearer
    /// tokens are revoked. A vault file keeps its master password (fresh
    /// salt; `passwd --rekey` changes it too). An old password plus a copy
    /// of the vault taken before then opens only what that copy held.
    /// Restart running credvault processes afterwards.
    Rekey,
    /// Print a shell completion script, e.g. credvault completions bash > ~/.local/share/bash-completion/completions/credvault
    Completions {
        /// The shell
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), e.g. credvault man > ~/.local/share/man/man1/credvault.1
    Man,
}

/// `member` subcommands.
#[derive(Debug, Subcommand)]
pub enum MemberCommand {
    /// Add a member; their password comes from --new-password-file, stdin's first line, or a prompt
    Add {
        /// Their name (letters, digits, . _ -)
        name: String,
        /// File holding the new member's password
        #[arg(long, value_name = "PATH")]
        new_password_file: Option<PathBuf>,
    },
    /// List members (names only)
    List,
    /// Remove a member (then run `credvault rekey`)
    Remove {
        /// Their name
        name: String,
    },
}

/// `exec` options.
#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Put this secret in the environment under its own name; repeatable
    #[arg(long = "secret", value_name = "NAME")]
    pub secrets: Vec<String>,
    /// Put a credential in the environment as VAR; repeatable
    #[arg(long = "env", value_name = "VAR=SERVICE[/NAME]")]
    pub envs: Vec<String>,
    /// Put every secret in the environment
    #[arg(long)]
    pub all_secrets: bool,
    /// Do not redact the program's output
    #[arg(long)]
    pub no_mask: bool,
    /// The program and its arguments, after --
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<std::ffi::OsString>,
}

/// `token` subcommands.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it (alone, on stdout); it is not shown again
    Create {
        /// Label, e.g. the device or client using it
        #[arg(long, default_value = "default")]
        name: String,
    },
    /// List tokens (id, name, created); never the tokens themselves
    List,
    /// Revoke tokens by id or name; takes effect at once in running servers
    Revoke {
        /// Token id (from `token list`) or name
        which: String,
    },
}

/// `serve` options.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Serve HTTP on ADDR instead of stdio: /mcp (Streamable HTTP), /sse (legacy), REST routes
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "127.0.0.1:3978")]
    pub http: Option<String>,
    /// Allow binding a non-loopback address (tokens are then your only protection)
    #[arg(long, requires = "http")]
    pub allow_remote: bool,
    /// Serve without bearer tokens (loopback only; for the MCP conformance suite)
    #[arg(long, requires = "http")]
    pub no_auth: bool,
    /// Also accept this Origin or Host (e.g. https://app.example.com:443); repeatable
    #[arg(long, value_name = "ORIGIN", requires = "http")]
    pub allow_origin: Vec<String>,
    /// PEM file of extra CA certificates call_api trusts (besides the system's)
    #[arg(long, env = "CREDVAULT_CA_FILE", value_name = "PATH")]
    pub ca_file: Option<PathBuf>,
}

/// `secret` subcommands.
#[derive(Debug, Subcommand)]
pub enum SecretCommand {
    /// Create a named secret; the value is read from a prompt or stdin
    Create {
        /// Environment-variable name, e.g. OPENAI_API_KEY
        #[arg(
            value_name = "NAME",
            required_unless_present = "name_option",
            conflicts_with = "name_option"
        )]
        name: Option<String>,
        /// NAME as an option (the older spelling; still accepted)
        #[arg(long = "name", id = "name_option", value_name = "NAME", hide = true)]
        name_option: Option<String>,
        /// Provider id or slug [default: the catalog id NAME starts with
        /// (OPENAI_API_KEY: openai, GH_TOKEN: github), else NAME's first word
        /// in lower case (ACME_API_KEY: acme)]
        #[arg(long)]
        provider: Option<String>,
    },
    /// List secrets: name, provider, masked value, times (never values)
    List {
        /// Print JSON instead of a table
        #[arg(long)]
        json: bool,
        /// Only this provider
        #[arg(long)]
        provider: Option<String>,
    },
    /// Delete a secret: NAME, or --id ID (one its name no longer finds,
    /// which `credvault audit --verify` names by id)
    Delete {
        /// Its name
        #[arg(required_unless_present = "id", conflicts_with = "id")]
        name: Option<String>,
        /// Its id (from `credvault secret list --json` or `audit --verify`)
        #[arg(long, value_name = "ID")]
        id: Option<String>,
    },
    /// Give a secret a new value (same id); the value is read from a prompt or stdin
    Rotate {
        /// Its name
        name: String,
    },
}

/// `--type` values.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum CliCredentialType {
    /// Authorization: Bearer
    Bearer,
    /// API-key header
    #[value(name = "api_key")]
    ApiKey,
}

impl From<CliCredentialType> for CredentialType {
    fn from(t: CliCredentialType) -> Self {
        match t {
            CliCredentialType::Bearer => Self::Bearer,
            CliCredentialType::ApiKey => Self::ApiKey,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
