//! Shared test harness: a temp vault per test, the real binary, rmcp's client.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};

use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::RunningService;
use rmcp::transport::TokioChildProcess;
use rmcp::{RoleClient, ServiceExt};
use serde_json::Value;
use tempfile::TempDir;

pub const PASSWORD: &str = "correct horse battery staple";
pub const BIN: &str = env!("CARGO_BIN_EXE_credvault");
/// Put this in every value a test stores: the leak sweep looks for it in every
/// tool result the harness receives and, when each test's `Env` drops, in every
/// file under its temp dir (server stderr logs, vault files, images).
pub const MARKER: &str = "CVLEAKMARK9f2e";

/// Values (credential_value / value arguments, 8 bytes or more) the harness
/// sent; swept for like [`MARKER`].
pub type Sent = Arc<Mutex<Vec<String>>>;

/// Records the secret-bearing arguments of a tool call.
pub fn note_values(sent: &Sent, args: &Value) {
    for key in ["credential_value", "value"] {
        if let Some(v) = args.get(key).and_then(Value::as_str) {
            let v = v.trim();
            if v.len() >= 8 && !v.contains(MARKER) {
                sent.lock().unwrap().push(v.to_owned());
            }
        }
    }
}

/// Fails when `hay` holds the marker or any value sent so far.
pub fn assert_no_values(sent: &Sent, what: &str, hay: &[u8]) {
    assert!(
        !contains(hay, MARKER),
        "the value marker leaked into {what}"
    );
    for v in sent.lock().unwrap().iter() {
        assert!(!contains(hay, v), "a stored value leaked into {what}");
    }
}

/// One temp directory holding a vault path and a password file.
pub struct Env {
    pub dir: TempDir,
    pub vault: PathBuf,
    pub pw_file: PathBuf,
    /// Use the product's default KDF cost instead of the cheap test cost.
    pub real_kdf: bool,
    pub extra_env: Vec<(String, String)>,
    /// Values sent through this Env's clients (the leak sweep looks for them).
    pub sent: Sent,
}

impl Env {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let pw_file = dir.path().join("password");
        fs::write(&pw_file, format!("{PASSWORD}\n")).unwrap();
        fs::set_permissions(&pw_file, fs::Permissions::from_mode(0o600)).unwrap();
        let vault = dir.path().join("data").join("vault.redb");
        Self {
            dir,
            vault,
            pw_file,
            real_kdf: false,
            extra_env: Vec::new(),
            sent: Sent::default(),
        }
    }

    pub fn with_password(&self, password: &str) -> PathBuf {
        let p = self.dir.path().join(format!("pw-{}", password.len()));
        fs::write(&p, password).unwrap();
        p
    }

    /// The environment every spawned credvault gets: scrubbed, then ours.
    pub fn envs(&self) -> Vec<(String, String)> {
        let mut v = vec![
            ("PATH".into(), std::env::var("PATH").unwrap_or_default()),
            ("HOME".into(), self.dir.path().display().to_string()),
            ("CREDVAULT_PATH".into(), self.vault.display().to_string()),
            (
                "CREDVAULT_PASSWORD_FILE".into(),
                self.pw_file.display().to_string(),
            ),
        ];
        if !self.real_kdf {
            v.push(("CREDVAULT_KDF_MEMORY_MIB".into(), "8".into()));
            v.push(("CREDVAULT_KDF_ITERATIONS".into(), "1".into()));
        }
        v.extend(self.extra_env.iter().cloned());
        v
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new(BIN);
        c.env_clear().envs(self.envs()).stdin(Stdio::null());
        c
    }

    /// Runs the CLI with `args`, feeding `stdin`.
    pub fn run(&self, args: &[&str], stdin: &str) -> Output {
        run_with(self.cmd(), args, stdin)
    }

    /// Spawns `credvault serve` and connects rmcp's client over stdio.
    pub async fn client(&self) -> Client {
        self.client_with(|_| {}).await
    }

    pub async fn client_with(&self, tweak: impl FnOnce(&mut tokio::process::Command)) -> Client {
        let stderr_path = self
            .dir
            .path()
            .join(format!("stderr-{}.log", uuid::Uuid::new_v4()));
        let mut cmd = tokio::process::Command::new(BIN);
        cmd.arg("serve").env_clear().envs(self.envs());
        tweak(&mut cmd);
        let (transport, _) = TokioChildProcess::builder(cmd)
            .stderr(Stdio::from(fs::File::create(&stderr_path).unwrap()))
            .spawn()
            .unwrap();
        let service = ().serve(transport).await.expect("MCP handshake");
        Client {
            service,
            stderr_path,
            sent: self.sent.clone(),
        }
    }

    pub fn file_bytes(&self) -> Vec<u8> {
        fs::read(&self.vault).unwrap()
    }
}

pub fn run_with(mut cmd: Command, args: &[&str], stdin: &str) -> Output {
    use std::io::Write;
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    if let Err(e) = child.stdin.take().unwrap().write_all(stdin.as_bytes()) {
        // A command refused before it reads its input (a usage error from
        // the flags) may exit and close the pipe before this write.
        assert_eq!(
            e.kind(),
            std::io::ErrorKind::BrokenPipe,
            "writing stdin: {e}"
        );
    }
    child.wait_with_output().unwrap()
}

/// A connected MCP client and where its server's stderr goes.
pub struct Client {
    pub service: RunningService<RoleClient, ()>,
    pub stderr_path: PathBuf,
    pub sent: Sent,
}

/// A tool result reduced to what tests assert on.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub is_error: bool,
    /// structuredContent on success; the parsed error envelope on failure.
    pub body: Value,
    /// The whole result as JSON text (what a model would see).
    pub raw: String,
}

impl Client {
    pub async fn call(&self, tool: &str, args: Value) -> Outcome {
        note_values(&self.sent, &args);
        let mut params = CallToolRequestParams::new(tool.to_owned());
        if let Value::Object(map) = args {
            params = params.with_arguments(map);
        }
        let r: CallToolResult = self
            .service
            .call_tool(params)
            .await
            .expect("tool call transport");
        let o = outcome(r);
        assert_no_values(&self.sent, &format!("a {tool} result"), o.raw.as_bytes());
        o
    }

    pub async fn ok(&self, tool: &str, args: Value) -> Value {
        let o = self.call(tool, args.clone()).await;
        assert!(!o.is_error, "{tool} {args} failed: {}", o.raw);
        o.body
    }

    pub async fn stop(self) -> String {
        let _ = self.service.cancel().await;
        // Give the child a moment to flush and exit.
        for _ in 0..50 {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }
}

pub fn outcome(r: CallToolResult) -> Outcome {
    let raw = serde_json::to_string(&r).unwrap();
    let is_error = r.is_error == Some(true);
    let text = r
        .content
        .first()
        .and_then(|c| c.as_text())
        .map(|t| t.text.clone())
        .unwrap_or_default();
    let body = if is_error {
        assert!(
            r.structured_content.is_none(),
            "errors carry no structuredContent: {raw}"
        );
        assert_eq!(r.content.len(), 1, "errors are one text block: {raw}");
        serde_json::from_str(&text).expect("error text is the JSON envelope")
    } else {
        let structured = r
            .structured_content
            .clone()
            .expect("structuredContent on success");
        let copy: Value = serde_json::from_str(&text).expect("text block is JSON");
        assert_eq!(copy, structured, "text block mirrors structuredContent");
        structured
    };
    Outcome {
        is_error,
        body,
        raw,
    }
}

/// `credvault serve --http 127.0.0.1:0` on `env` (optionally another password
/// file); its base URL and the child, killed on drop.
pub fn serve_http(env: &Env, pw: Option<&std::path::Path>) -> (String, Killed) {
    let mut cmd = env.cmd();
    if let Some(p) = pw {
        cmd.env("CREDVAULT_PASSWORD_FILE", p);
    }
    let mut child = cmd
        .args(["serve", "--http", "127.0.0.1:0"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let base = listening_base(&mut child);
    (base, Killed(child))
}

/// The base URL a `serve --http` child announces on stderr; stderr is then
/// drained on a thread so the server never blocks on a full pipe.
pub fn listening_base(child: &mut std::process::Child) -> String {
    use std::io::BufRead;
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let base = loop {
        let line = lines
            .next()
            .expect("server exited before listening")
            .unwrap();
        if let Some(url) = line.strip_prefix("credvault: listening on ") {
            break url.to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    base
}

/// A value carrying the leak marker, unique per call (swept for like the marker).
pub fn marked_value(tag: &str) -> String {
    format!("sk-{tag}-{MARKER}-{}", uuid::Uuid::new_v4().simple())
}

/// A CLI run's stdout, after asserting it succeeded.
pub fn stdout_ok(o: &Output) -> String {
    assert!(o.status.success(), "{o:?}");
    String::from_utf8(o.stdout.clone()).unwrap()
}

/// `service/name` of every credential list_credentials returns (first page).
pub async fn credential_names(c: &Client) -> Vec<String> {
    let l = c.ok("list_credentials", serde_json::json!({})).await;
    l["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            format!(
                "{}/{}",
                i["service"].as_str().unwrap(),
                i["name"].as_str().unwrap()
            )
        })
        .collect()
}

/// A child process killed when dropped.
pub struct Killed(pub std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// reqwest is built with `rustls-no-provider` (credvault hands it a ring-based
/// config); plain test clients need the process-wide provider installed.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

pub fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

pub fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// The sweep: when a test's `Env` drops (and the test has not already failed),
/// every file under its temp dir — the servers' stderr logs, the vault and any
/// copies or images of it — must be free of the marker and the values sent.
impl Drop for Env {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let mut dirs = vec![self.dir.path().to_path_buf()];
        while let Some(d) = dirs.pop() {
            let Ok(entries) = fs::read_dir(&d) else {
                continue;
            };
            for e in entries.flatten() {
                let p = e.path();
                let Ok(kind) = e.file_type() else { continue };
                if kind.is_dir() {
                    dirs.push(p);
                } else if !kind.is_file() {
                    // FIFOs and the like: reading one would block forever.
                } else if let Ok(bytes) = fs::read(&p) {
                    assert_no_values(&self.sent, &p.display().to_string(), &bytes);
                }
            }
        }
    }
}
