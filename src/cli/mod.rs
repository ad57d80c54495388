//! The command line: its flags ([`args`]) and one function per subcommand,
//! in the module of its concept. Output for people goes to stdout here; the
//! stdio server writes nothing but protocol messages there.

use std::io::{IsTerminal, Read};

use crate::app::VaultAccess;
use crate::config::default_vault_path;
use crate::crypto::kdf::KdfParams;
use crate::error::{ApiError, VaultError, exit};
use crate::password::{self, Prompt};
use crate::secret::SecretString;
use crate::store::Location;
use crate::vault::Vault;

pub mod args;
mod audit;
mod backup;
mod credentials;
mod init;
mod manual;
mod master_password;
mod members;
mod secrets;
mod serve;
mod status;
mod tokens;

pub use args::{Cli, Command, ExecArgs, MemberCommand, SecretCommand, ServeArgs, TokenCommand};

/// Why a command failed; decides the exit code.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A vault failure (3 when locked, 2 when the request cannot work as given, else 1).
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
            Self::Vault(e) if e.is_usage() => exit::USAGE,
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

/// A refused argument (exit 1), in the §3 shape.
pub(super) fn invalid(msg: String) -> CliError {
    CliError::Invalid(ApiError::bad_request(msg))
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
        return serve::exec(&settings, args);
    }
    if let Command::Audit {
        json,
        since,
        verify,
    } = cli.command
    {
        return audit::audit(&settings, json, since, verify);
    }
    run_command(&settings, cli.command).map(|()| crate::error::exit::OK)
}

fn run_command(settings: &Settings, command: Command) -> Result<(), CliError> {
    match command {
        Command::Delete { target, id } => credentials::delete(settings, target, id),
        Command::Passwd {
            new_password_file,
            rekdf,
            rekey,
        } => master_password::passwd(settings, new_password_file, rekdf, rekey),
        Command::Backup { path } => backup::backup(settings, &path),
        Command::Audit { .. } => Err(CliError::Usage("audit is run separately".into())),
        Command::Secret(SecretCommand::List { json, provider }) => {
            secrets::secret_list(settings, json, provider)
        }
        Command::Secret(SecretCommand::Delete { name, id }) => {
            secrets::secret_delete(settings, name, id)
        }
        Command::Secret(SecretCommand::Rotate { name }) => secrets::secret_rotate(settings, &name),
        Command::Init => init::init(settings),
        Command::Status { json } => status::status(settings, json),
        Command::Serve(args) => serve::serve(settings, &args),
        Command::Token(cmd) => tokens::token(settings, cmd),
        Command::Member(MemberCommand::Add {
            name,
            new_password_file,
        }) => members::member_add(settings, &name, new_password_file),
        Command::Member(MemberCommand::List) => members::member_list(settings),
        Command::Member(MemberCommand::Remove { name }) => members::member_remove(settings, &name),
        Command::Rekey => master_password::rekey(settings),
        Command::List { json, service } => credentials::list(settings, json, service),
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
        } => credentials::store(
            settings,
            service,
            credential_type,
            name,
            allowed_hosts,
            auth_header,
        ),
        Command::Secret(SecretCommand::Create {
            name,
            name_option,
            provider,
        }) => secrets::secret_create(settings, name, name_option, provider),
    }
}

/// A value from the terminal (no echo) or, when piped, all of stdin.
pub(crate) fn read_value(label: &str) -> Result<SecretString, CliError> {
    if std::io::stdin().is_terminal() {
        return Ok(password::ask(label)?);
    }
    let mut buf = String::new();
    std::io::stdin()
        .read_to_string(&mut buf)
        .map_err(|e| CliError::Other(format!("reading the value from stdin: {e}")))?;
    Ok(SecretString::new(buf))
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

/// No core dumps and no same-user ptrace of a process holding keys.
fn harden_process() {
    #[cfg(target_os = "linux")]
    if let Err(e) =
        rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
    {
        tracing::warn!("could not set PR_SET_DUMPABLE=0: {e}");
    }
}
