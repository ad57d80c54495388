//! One function per subcommand. Output for people goes to stdout here; the
//! stdio server writes nothing but protocol messages there.

use std::io::{IsTerminal, Read};

use serde_json::{Map, Value, json};

use crate::app::{self, UnlockConfig, VaultAccess};
use crate::cli::{Cli, Command, ExecArgs, MemberCommand, SecretCommand, ServeArgs, TokenCommand};
use crate::config::default_vault_path;
use crate::crypto::kdf::KdfParams;
use crate::error::{ApiError, VaultError, exit};
use crate::mcp::CredVaultServer;
use crate::model::Caller;
use crate::password::{self, Prompt};
use crate::secret::SecretString;
use crate::store::Location;
use crate::validate;
use crate::vault::Vault;

mod lifecycle;
mod manual;
mod team;

/// Why a command failed; decides the exit code.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A vault failure (3 when locked, else 1).
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// Invalid input (1).
    #[error("{0}")]
    Invalid(ApiError),
    /// Bad combination of options (2).
    #[error("{0}")]
    Usage(String),
    /// Anything else (1).
    #[error("{0}")]
    Other(String),
}

impl From<crate::http::HttpError> for CliError {
    fn from(e: crate::http::HttpError) -> Self {
        match e {
            crate::http::HttpError::Usage(m) => Self::Usage(m),
            crate::http::HttpError::Io(m) => Self::Other(m),
        }
    }
}

impl From<crate::usage::exec::ExecError> for CliError {
    fn from(e: crate::usage::exec::ExecError) -> Self {
        use crate::usage::exec::ExecError;
        match e {
            ExecError::Vault(v) => Self::Vault(v),
            ExecError::Usage(m) => Self::Usage(m),
            ExecError::NotFound(m) | ExecError::Run(m) => Self::Other(m),
        }
    }
}

impl CliError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Vault(e) if e.is_locked() => exit::LOCKED,
            Self::Usage(_) => exit::USAGE,
            _ => exit::FAILURE,
        }
    }
}

impl From<crate::app::AppError> for CliError {
    fn from(e: crate::app::AppError) -> Self {
        match e {
            crate::app::AppError::Vault(e) => Self::Vault(e),
            crate::app::AppError::Api(e) => Self::from(e),
        }
    }
}

impl Settings {
    /// The vault, opened, as the app layer's context.
    pub(crate) fn access(&self) -> Result<VaultAccess, CliError> {
        Ok(VaultAccess::ready(self.open()?))
    }
}

/// Runs an app operation to completion on this thread.
pub(crate) fn block_on<F: std::future::Future>(op: F) -> Result<F::Output, CliError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Other(format!("starting the async runtime: {e}")))?;
    Ok(runtime.block_on(op))
}

impl From<ApiError> for CliError {
    fn from(e: ApiError) -> Self {
        match e.code {
            423 => Self::Vault(VaultError::WrongPassword),
            _ => Self::Invalid(e),
        }
    }
}

/// Settings resolved from flags and the environment.
pub(crate) struct Settings {
    location: Location,
    member: Option<String>,
    kdf: KdfParams,
}

impl Settings {
    fn resolve(cli: &Cli) -> Result<Self, CliError> {
        // Both named: a flag wins over the other's environment variable
        // (`export CREDVAULT_STORE=…` then `--vault backup.redb`).
        let from_env = |var: &str, value: &std::ffi::OsStr| {
            std::env::var_os(var).is_some_and(|v| v.as_os_str() == value)
        };
        let location = match (&cli.store, &cli.vault) {
            (Some(url), Some(path)) => {
                match (
                    from_env("CREDVAULT_STORE", url.as_ref()),
                    from_env("CREDVAULT_PATH", path.as_os_str()),
                ) {
                    (true, false) => Location::File(path.clone()),
                    (false, true) => Location::Postgres(url.clone()),
                    _ => {
                        return Err(CliError::Usage(
                            "--store and --vault (CREDVAULT_STORE and CREDVAULT_PATH) name two different vaults: give one".into(),
                        ));
                    }
                }
            }
            (Some(url), None) => Location::Postgres(url.clone()),
            (None, Some(p)) => Location::File(p.clone()),
            (None, None) => Location::File(default_vault_path().ok_or_else(|| {
                CliError::Usage("cannot find a home directory: pass --vault PATH".into())
            })?),
        };
        let member = cli.member.clone().filter(|m| !m.trim().is_empty());
        let kdf = KdfParams {
            m_kib: cli.kdf.kdf_memory_mib.saturating_mul(1024),
            t: cli.kdf.kdf_iterations,
            p: cli.kdf.kdf_parallelism,
        };
        kdf.check().map_err(|e| CliError::Usage(e.to_string()))?;
        Ok(Self {
            location,
            member,
            kdf,
        })
    }

    fn open(&self) -> Result<Vault, CliError> {
        Ok(self.unlock()?.0)
    }

    /// [`Settings::open`], keeping the password (a vault file's rekey locks
    /// the new key under it).
    fn unlock(&self) -> Result<(Vault, SecretString), CliError> {
        if let Location::File(path) = &self.location
            && !path.exists()
        {
            return Err(VaultError::Missing(path.display().to_string()).into());
        }
        let pw = password::read(Prompt::Once)?.ok_or(VaultError::NoPassword)?;
        let vault = Vault::open_at(&self.location, &pw, self.member.as_deref())?;
        Ok((vault, pw))
    }
}

/// Runs the parsed command line; returns the process exit code.
pub fn run(cli: Cli) -> Result<i32, CliError> {
    // Generated from the clap definitions: no vault, no home directory needed.
    match cli.command {
        Command::Completions { shell } => return manual::completions(shell),
        Command::Man => return manual::man_page(),
        _ => {}
    }
    // Every command may hold keys or values: no core dumps, no same-user ptrace.
    harden_process();
    let settings = Settings::resolve(&cli)?;
    if let Command::Exec(args) = cli.command {
        return exec(&settings, args);
    }
    if let Command::Audit {
        json,
        since,
        verify,
    } = cli.command
    {
        return lifecycle::audit(&settings, json, since, verify);
    }
    run_command(&settings, cli.command).map(|()| crate::error::exit::OK)
}

fn exec(s: &Settings, args: ExecArgs) -> Result<i32, CliError> {
    let spec = crate::usage::exec::ExecSpec {
        secrets: args.secrets,
        envs: args.envs,
        all_secrets: args.all_secrets,
        no_mask: args.no_mask,
        command: args.command,
    };
    Ok(crate::usage::exec::run(&s.open()?, spec)?)
}

fn run_command(settings: &Settings, command: Command) -> Result<(), CliError> {
    match command {
        Command::Delete { target, id } => lifecycle::delete(settings, target, id),
        Command::Passwd {
            new_password_file,
            rekdf,
            rekey,
        } => lifecycle::passwd(settings, new_password_file, rekdf, rekey),
        Command::Backup { path } => lifecycle::backup(settings, &path),
        Command::Audit { .. } => Err(CliError::Usage("audit is run separately".into())),
        Command::Secret(SecretCommand::List { json, provider }) => {
            lifecycle::secret_list(settings, json, provider)
        }
        Command::Secret(SecretCommand::Delete { name, id }) => {
            lifecycle::secret_delete(settings, name, id)
        }
        Command::Secret(SecretCommand::Rotate { name }) => {
            lifecycle::secret_rotate(settings, &name)
        }
        Command::Init => init(settings),
        Command::Serve(args) => serve(settings, &args),
        Command::Token(cmd) => token(settings, cmd),
        Command::Member(MemberCommand::Add {
            name,
            new_password_file,
        }) => team::member_add(settings, &name, new_password_file),
        Command::Member(MemberCommand::List) => team::member_list(settings),
        Command::Member(MemberCommand::Remove { name }) => team::member_remove(settings, &name),
        Command::Rekey => lifecycle::rekey(settings),
        Command::List { json, service } => list(settings, json, service),
        Command::Exec(_) => Err(CliError::Usage("exec is run separately".into())),
        Command::Completions { .. } | Command::Man => Err(CliError::Usage(
            "completions and man are run separately".into(),
        )),
        Command::Store {
            service,
            credential_type,
            name,
            allowed_hosts,
            auth_header,
        } => {
            let mut args = Map::new();
            args.insert("service_id".into(), json!(service));
            args.insert(
                "credential_type".into(),
                json!(crate::validate::CredentialType::from(credential_type).as_str()),
            );
            if let Some(name) = name {
                args.insert("name".into(), json!(name));
            }
            if !allowed_hosts.is_empty() {
                args.insert("allowed_hosts".into(), json!(allowed_hosts));
            }
            if let Some(h) = auth_header {
                args.insert("auth_header".into(), json!(h));
            }
            args.insert(
                "credential_value".into(),
                Value::String(read_value("Credential value: ")?.take()),
            );
            let req = validate::store_credential(args)?;
            let access = settings.access()?;
            let stored = block_on(app::credentials::store_credential(
                &access,
                &Caller::Cli,
                req,
            ))??;
            let c = &stored.credential;
            println!(
                "{} {}/{} ({})",
                if stored.replaced {
                    "replaced"
                } else {
                    "stored"
                },
                c.service,
                c.name,
                c.id
            );
            Ok(())
        }
        Command::Secret(SecretCommand::Create {
            name,
            name_option,
            provider,
        }) => {
            // NAME or --name (clap refuses both); no --provider: guessed from NAME.
            let name = name.or(name_option).unwrap_or_default();
            let provider =
                provider.unwrap_or_else(|| crate::catalog::provider_for_secret_name(&name));
            let mut args = Map::new();
            args.insert("name".into(), json!(name));
            args.insert("provider".into(), json!(provider));
            args.insert(
                "value".into(),
                Value::String(read_value("Secret value: ")?.take()),
            );
            let req = validate::create_secret(args)?;
            let access = settings.access()?;
            let s = block_on(app::secrets::create_secret(&access, &Caller::Cli, req))??;
            println!("created {} {} ({})", s.name, s.masked_value, s.id);
            Ok(())
        }
    }
}

/// A value from the terminal (no echo) or, when piped, all of stdin.
pub(crate) fn read_value(label: &str) -> Result<Taken, CliError> {
    if std::io::stdin().is_terminal() {
        return Ok(Taken(password::ask(label)?));
    }
    let mut buf = String::new();
    std::io::stdin()
        .read_to_string(&mut buf)
        .map_err(|e| CliError::Other(format!("reading the value from stdin: {e}")))?;
    Ok(Taken(SecretString::new(buf)))
}

/// A secret about to be handed to the validator as a JSON string.
pub(crate) struct Taken(SecretString);

impl Taken {
    /// The validator moves the string into a new [`SecretString`]; this copy is
    /// wiped when `self` drops.
    pub(crate) fn take(self) -> String {
        self.0.expose().to_owned()
    }
}

fn init(s: &Settings) -> Result<(), CliError> {
    let path = match &s.location {
        Location::Postgres(url) => return team::init(s, url),
        Location::File(path) => path,
    };
    if s.member.is_some() {
        return Err(CliError::Usage(
            "--member names a team vault's member: a vault file has one password (use --store for a team vault, or unset CREDVAULT_MEMBER)".into(),
        ));
    }
    if crate::store::redb::exists(path) {
        return Err(VaultError::AlreadyExists(path.display().to_string()).into());
    }
    let pw = password::read(Prompt::Confirm)?.ok_or(VaultError::NoPassword)?;
    if pw.expose().trim().is_empty() {
        return Err(VaultError::EmptyPassword.into());
    }
    let vault = Vault::create(path, &pw, s.kdf)?;
    println!("created vault {} at {}", vault.id(), path.display());
    Ok(())
}

fn list(s: &Settings, as_json: bool, service: Option<String>) -> Result<(), CliError> {
    let mut args = Map::new();
    if let Some(service) = service {
        args.insert("service_id".into(), json!(service));
    }
    let filter = validate::list_credentials(args)?;
    let access = s.access()?;
    let creds = block_on(app::credentials::all_credentials(&access, filter.filter))??;
    if as_json {
        let items: Vec<_> = creds
            .iter()
            .map(crate::model::CredentialItem::from)
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({ "credentials": items })).unwrap_or_default()
        );
        return Ok(());
    }
    let rows: Vec<[String; 6]> = creds
        .iter()
        .map(|c| {
            [
                c.id.to_string(),
                c.service.clone(),
                c.name.clone(),
                c.credential_type.as_str().to_owned(),
                crate::model::rfc3339(c.created_at),
                c.last_used_at
                    .map(crate::model::rfc3339)
                    .unwrap_or_else(|| "never".into()),
            ]
        })
        .collect();
    print_table(
        ["ID", "SERVICE", "NAME", "TYPE", "CREATED", "LAST USED"],
        &rows,
    );
    Ok(())
}

/// Prints rows under a header, each column as wide as its widest cell.
pub(crate) fn print_table<const N: usize>(header: [&str; N], rows: &[[String; N]]) {
    let header = header.map(String::from);
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(rows) {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        emit(line.join("  ").trim_end());
    }
}

/// Prints one line on stdout. A reader that went away (`credvault audit | head`)
/// ends the command quietly instead of a broken-pipe panic.
pub(crate) fn emit(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{line}")
        && e.kind() == std::io::ErrorKind::BrokenPipe
    {
        std::process::exit(exit::OK);
    }
}

fn token(s: &Settings, cmd: TokenCommand) -> Result<(), CliError> {
    let vault = s.open()?;
    match cmd {
        TokenCommand::Create { name } => {
            let name = name.trim().to_owned();
            validate::check_name(&name).map_err(|m| CliError::Usage(format!("--name {m}")))?;
            let (token, info) = vault.create_token(&name, "cli")?;
            eprintln!(
                "created token {} ({}); it is shown once:",
                info.id, info.name
            );
            println!("{}", token.expose());
        }
        TokenCommand::List => {
            let rows: Vec<[String; 3]> = vault
                .list_tokens()?
                .into_iter()
                .map(|t| [t.id, t.name, crate::model::rfc3339(t.created_at)])
                .collect();
            print_table(["ID", "NAME", "CREATED"], &rows);
        }
        TokenCommand::Revoke { which } => match vault.revoke_token(&which, "cli")? {
            0 => {
                return Err(CliError::Other(format!(
                    "no token with id or name {which:?}"
                )));
            }
            n => println!("revoked {n} token(s)"),
        },
    }
    Ok(())
}

fn serve(s: &Settings, args: &ServeArgs) -> Result<(), CliError> {
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

/// No core dumps and no same-user ptrace of a process holding keys.
fn harden_process() {
    #[cfg(target_os = "linux")]
    if let Err(e) =
        rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
    {
        tracing::warn!("could not set PR_SET_DUMPABLE=0: {e}");
    }
}
