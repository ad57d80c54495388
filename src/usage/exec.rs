//! `credvault exec`: run a program with secrets in its environment and its
//! output redacted (DESIGN §8).
//!
//! Every name is looked up before anything runs. The child's stdout and stderr
//! go through one [`Redactor`] each as they arrive (no waiting for the child to
//! end; a value split across writes is still caught). SIGINT, SIGTERM and
//! SIGHUP are forwarded; the exit code is the child's, or 128+N for signal N.
//! Redaction guards against accidents, not a program written to leak: the
//! program holds the value and can encode it in ways no redactor knows.

use std::ffi::OsString;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::sync::Arc;

use std::io::{Read, Write};
use zeroize::Zeroizing;

use super::redact::Redactor;
use crate::catalog;
use crate::error::VaultError;
use crate::model::{DEFAULT_NAME, SecretName};
use crate::password::{ENV_FILE, ENV_PASSWORD};
use crate::secret::SecretString;
use crate::vault::Vault;

/// What to inject and what to run.
#[derive(Debug, Default)]
pub struct ExecSpec {
    /// Secret names (each becomes a variable of the same name).
    pub secrets: Vec<String>,
    /// `VAR=SERVICE[/NAME]` credential bindings.
    pub envs: Vec<String>,
    /// Inject every secret.
    pub all_secrets: bool,
    /// Pass output through unredacted.
    pub no_mask: bool,
    /// The program and its arguments.
    pub command: Vec<OsString>,
}

/// Why exec could not run the program.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// A vault failure.
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// A malformed `--env` or secret name.
    #[error("{0}")]
    Usage(String),
    /// A name that is not in the vault.
    #[error("{0}")]
    NotFound(String),
    /// The program could not be started or waited for.
    #[error("{0}")]
    Run(String),
}

/// One value to inject.
struct Injected {
    var: String,
    value: SecretString,
    touch: Touch,
}

/// What to record once the program is started: the record, the version
/// read, and its name for the audit trail.
enum Touch {
    Credential(uuid::Uuid, crate::vault::UseStamp, String),
    Secret(uuid::Uuid, crate::vault::UseStamp, String),
}

/// Looks everything up, runs the program, and returns its exit code.
pub fn run(vault: &Vault, spec: ExecSpec) -> Result<i32, ExecError> {
    let injected = resolve(vault, &spec)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ExecError::Run(format!("starting the async runtime: {e}")))?;
    runtime.block_on(supervise(vault, spec, injected))
}

fn resolve(vault: &Vault, spec: &ExecSpec) -> Result<Vec<Injected>, ExecError> {
    let mut out: Vec<Injected> = Vec::new();
    if spec.all_secrets {
        for (s, value, stamp) in vault.all_secrets_for_use()? {
            // Any agent can create a secret: --all-secrets must not let one
            // named HTTPS_PROXY, NODE_OPTIONS or OPENAI_BASE_URL steer the
            // program (and the other keys with it). Such names, and names
            // already set here, need an explicit --secret.
            if let Some(why) = steering(&s.name) {
                eprintln!(
                    "credvault: --all-secrets skipped {}: {why}; pass --secret {} to inject it",
                    s.name, s.name
                );
                continue;
            }
            out.push(Injected {
                var: s.name.clone(),
                value,
                touch: Touch::Secret(s.id, stamp, s.name.clone()),
            });
        }
    }
    for name in &spec.secrets {
        if !SecretName::is_valid(name) {
            return Err(ExecError::Usage(format!(
                "--secret {name:?}: not a secret name (expected e.g. OPENAI_API_KEY)"
            )));
        }
        if out.iter().any(|i| &i.var == name) {
            continue;
        }
        let (s, value, stamp) = vault.secret_for_use(name)?.ok_or_else(|| {
            ExecError::NotFound(format!(
                "no secret named {name}: nothing was run (create it with `credvault secret create --name {name} --provider …`)"
            ))
        })?;
        out.push(Injected {
            touch: Touch::Secret(s.id, stamp, s.name.clone()),
            var: s.name,
            value,
        });
    }
    for binding in &spec.envs {
        let (var, target) = binding.split_once('=').ok_or_else(|| {
            ExecError::Usage(format!("--env {binding:?}: expected VAR=SERVICE[/NAME]"))
        })?;
        if !SecretName::is_valid(var) {
            return Err(ExecError::Usage(format!(
                "--env {binding:?}: {var:?} is not a variable name"
            )));
        }
        let (service, name) = target.split_once('/').unwrap_or((target, DEFAULT_NAME));
        let service = catalog::resolve(&service.trim().to_lowercase()).ok_or_else(|| {
            ExecError::Usage(format!("--env {binding:?}: {}", catalog::SERVICE_HELP))
        })?;
        let (c, value, stamp) = vault
            .credential_for_use(&service.id, name.trim())?
            .ok_or_else(|| {
                ExecError::NotFound(format!(
                    "no credential {}/{}: nothing was run (store it with `credvault store --service {}`)",
                    service.id,
                    name.trim(),
                    service.id
                ))
            })?;
        out.retain(|i| i.var != var);
        out.push(Injected {
            var: var.to_owned(),
            value,
            touch: Touch::Credential(c.id, stamp, format!("{}/{}", c.service, c.name)),
        });
    }
    Ok(out)
}

/// Why a variable could change what the program runs or where it connects
/// (`None` for an ordinary credential name such as `OPENAI_API_KEY`).
fn steering(name: &str) -> Option<&'static str> {
    let upper = name.to_ascii_uppercase();
    const EXACT: &[&str] = &[
        "PATH",
        "HOME",
        "SHELL",
        "ENV",
        "BASH_ENV",
        "IFS",
        "CDPATH",
        "TMPDIR",
        "EDITOR",
        "VISUAL",
        "PAGER",
        "BROWSER",
        "NODE_OPTIONS",
        "NODE_PATH",
        "NODE_EXTRA_CA_CERTS",
        "PYTHONPATH",
        "PYTHONSTARTUP",
        "PYTHONHOME",
        "PYTHONUSERBASE",
        "PERL5OPT",
        "PERL5LIB",
        "PERLLIB",
        "RUBYOPT",
        "RUBYLIB",
        "JAVA_TOOL_OPTIONS",
        "_JAVA_OPTIONS",
        "JDK_JAVA_OPTIONS",
        "CLASSPATH",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
        "SSLKEYLOGFILE",
        "PROMPT_COMMAND",
        "GOFLAGS",
        "RUSTFLAGS",
        "RUSTC_WRAPPER",
        "NO_PROXY",
    ];
    if std::env::var_os(name).is_some() {
        return Some("already set in this environment");
    }
    let steers = EXACT.contains(&upper.as_str())
        || [
            "LD_",
            "DYLD_",
            "GIT_",
            "NPM_CONFIG_",
            "PIP_",
            "CARGO_",
            "DOCKER_",
        ]
        .iter()
        .any(|p| upper.starts_with(p))
        || [
            "_PROXY",
            "_BASE_URL",
            "_API_BASE",
            "_API_URL",
            "_ENDPOINT",
            "_CA_BUNDLE",
        ]
        .iter()
        .any(|s| upper.ends_with(s));
    steers.then_some("it could change what the program runs or where it connects")
}

/// Whether a terminal's Ctrl-C already reaches the program: this process is
/// in the foreground process group of the terminal on stdin, which the
/// program shares. Forwarding SIGINT then would deliver it twice (and many
/// programs abort without cleanup on a second interrupt).
fn terminal_sends_sigint() -> bool {
    rustix::termios::tcgetpgrp(std::io::stdin()).is_ok_and(|fg| fg == rustix::process::getpgrp())
}

async fn supervise(
    vault: &Vault,
    spec: ExecSpec,
    injected: Vec<Injected>,
) -> Result<i32, ExecError> {
    use tokio::signal::unix::{SignalKind, signal};
    let (program, args) = spec
        .command
        .split_first()
        .ok_or_else(|| ExecError::Usage("nothing to run: give the command after --".into()))?;
    let mut cmd = std::process::Command::new(program);
    cmd.args(args).env_remove(ENV_FILE).env_remove(ENV_PASSWORD);
    for i in &injected {
        cmd.env(&i.var, i.value.expose());
    }
    let pipe = |on: bool| if on { Stdio::piped() } else { Stdio::inherit() };
    cmd.stdin(Stdio::inherit())
        .stdout(pipe(!spec.no_mask))
        .stderr(pipe(!spec.no_mask));
    let redactor = Arc::new(
        Redactor::new(
            injected
                .iter()
                .map(|i| (i.var.as_str(), i.value.expose().as_bytes())),
        )
        .map_err(ExecError::Run)?,
    );
    // Signal handlers first, so none arriving right after the spawn is lost.
    let mut signals = Vec::new();
    for kind in [
        SignalKind::interrupt(),
        SignalKind::terminate(),
        SignalKind::hangup(),
    ] {
        let s = signal(kind)
            .map_err(|e| ExecError::Run(format!("installing a signal handler: {e}")))?;
        signals.push((kind, s));
    }
    let mut child = cmd.spawn().map_err(|e| {
        ExecError::Run(format!(
            "could not start {}: {e}",
            program.to_string_lossy()
        ))
    })?;
    let program_name = std::path::Path::new(program)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    tracing::info!(program = %program_name, values = injected.len(), "exec started");
    let pid = rustix::process::Pid::from_raw(child.id() as i32);
    // Blocking pumps on their own threads: plain read/write on the pipes is
    // several times faster than going through the async runtime.
    let mut pumps = Vec::new();
    if let Some(r) = child.stdout.take() {
        let red = redactor.clone();
        pumps.push(std::thread::spawn(move || pump(r, std::io::stdout(), &red)));
    }
    if let Some(r) = child.stderr.take() {
        let red = redactor.clone();
        pumps.push(std::thread::spawn(move || pump(r, std::io::stderr(), &red)));
    }
    // Vault calls block (a team vault's client runs its own runtime): make
    // them on a thread of their own, not on this async task.
    std::thread::scope(|scope| {
        scope.spawn(|| record_uses(vault, &injected, &program_name));
    });
    drop(injected);
    let (tx, mut done) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    let status = loop {
        let forwarded = futures::future::select_all(
            signals
                .iter_mut()
                .map(|(k, s)| Box::pin(async move { s.recv().await.map(|_| *k) })),
        );
        tokio::select! {
            status = &mut done => {
                let status = status.map_err(|_| ExecError::Run("lost the program's exit status".into()))?;
                break status.map_err(|e| ExecError::Run(format!("waiting for the program: {e}")))?;
            }
            (Some(kind), _, _) = forwarded => {
                if kind == SignalKind::interrupt() && terminal_sends_sigint() {
                    continue;
                }
                let sig = rustix::process::Signal::from_named_raw(kind.as_raw_value());
                if let (Some(pid), Some(sig)) = (pid, sig) {
                    let _ = rustix::process::kill_process(pid, sig);
                }
            }
        }
    };
    // Drain what the program wrote. A background process it started may hold
    // the pipes open long after it exited: wait at most DRAIN_WAIT once the
    // pipes go quiet, and leave at once on a signal.
    let (drained_tx, mut drained) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        for p in pumps {
            let _ = p.join();
        }
        let _ = drained_tx.send(());
    });
    let mut quiet = tokio::time::interval(DRAIN_WAIT);
    quiet.tick().await;
    let mut last_seen = OUTPUT_SEEN.load(std::sync::atomic::Ordering::Relaxed);
    loop {
        let interrupted = futures::future::select_all(
            signals
                .iter_mut()
                .map(|(_, s)| Box::pin(async move { s.recv().await })),
        );
        tokio::select! {
            _ = &mut drained => break,
            _ = interrupted => break,
            _ = quiet.tick() => {
                let now = OUTPUT_SEEN.load(std::sync::atomic::Ordering::Relaxed);
                if now == last_seen {
                    break;
                }
                last_seen = now;
            }
        }
    }
    Ok(match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(sig)) => 128 + sig,
        (None, None) => 1,
    })
}

/// How long the pipes may stay open and silent after the program exited.
const DRAIN_WAIT: std::time::Duration = std::time::Duration::from_secs(2);
/// Reads done by the pumps (so the drain knows output is still flowing).
static OUTPUT_SEEN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Copies `from` to `to` through the redactor, flushing after every read.
fn pump(mut from: impl Read, mut to: impl Write, redactor: &Redactor) {
    let mut stream = redactor.stream();
    let mut buf = Zeroizing::new(vec![0u8; 256 * 1024]);
    let mut out = Zeroizing::new(Vec::with_capacity(256 * 1024));
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        OUTPUT_SEEN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        out.clear();
        stream.push(&buf[..n], &mut out);
        if to.write_all(&out).and_then(|()| to.flush()).is_err() {
            // Our reader went away: stop reading, so the program sees a closed pipe.
            return;
        }
    }
    out.clear();
    stream.finish(&mut out);
    let _ = to.write_all(&out).and_then(|()| to.flush());
}

/// Records each injected value's use (audit entry, `last_used_at`).
fn record_uses(vault: &Vault, injected: &[Injected], program_name: &str) {
    for i in injected {
        let used = |subject: &str| crate::vault::Use {
            action: "exec",
            subject: subject.to_owned(),
            via: "cli".into(),
            outcome: "started".into(),
            detail: Some(program_name.to_owned()),
            sent: true,
        };
        let touched = match &i.touch {
            Touch::Credential(id, at, subject) => vault.touch_credential(*id, *at, &used(subject)),
            Touch::Secret(id, at, subject) => vault.touch_secret(*id, *at, &used(subject)),
        };
        if let Err(e) = touched {
            tracing::warn!("could not record the use of {}: {e}", i.var);
        }
    }
}
