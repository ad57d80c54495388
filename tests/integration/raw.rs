//! A raw JSON-RPC client over `credvault serve`'s stdio: we write the exact bytes
//! and read each reply line, so tests can send malformed input, pipeline
//! thousands of calls, or SIGKILL the server at any moment and know precisely
//! which replies had arrived.

use std::fs;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};

use crate::common::{BIN, Env};

/// How long any single reply may take before the test fails (not hangs).
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Raw {
    /// Values sent (for the leak sweep, shared with the `Env`).
    pub sent: crate::common::Sent,
    pub child: Child,
    pub stdin: Option<ChildStdin>,
    pub lines: Lines<BufReader<ChildStdout>>,
    pub stderr_path: PathBuf,
}

impl Raw {
    /// Spawns `credvault serve` with the harness environment; nothing sent yet.
    pub fn spawn(env: &Env) -> Self {
        let stderr_path = env
            .dir
            .path()
            .join(format!("stderr-raw-{}.log", uuid::Uuid::new_v4()));
        let mut cmd = tokio::process::Command::new(BIN);
        cmd.arg("serve")
            .env_clear()
            .envs(env.envs())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(fs::File::create(&stderr_path).unwrap()))
            .kill_on_drop(true);
        let mut child = cmd.spawn().unwrap();
        let stdin = child.stdin.take();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Self {
            sent: env.sent.clone(),
            child,
            stdin,
            lines,
            stderr_path,
        }
    }

    /// Spawns and completes the `initialize` handshake.
    pub async fn start(env: &Env) -> Self {
        let mut r = Self::spawn(env);
        r.initialize().await;
        r
    }

    pub async fn initialize(&mut self) {
        self.send(
            &json!({"jsonrpc": "2.0", "id": "init", "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "raw-test", "version": "0"}}}),
        )
        .await;
        let r = self.recv().await.expect("initialize reply");
        assert_eq!(r["id"], "init", "{r}");
        assert!(r["result"]["protocolVersion"].is_string(), "{r}");
        self.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
    }

    /// Writes `bytes` and a newline as they are.
    pub async fn send_line(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().unwrap();
        let mut buf = Vec::with_capacity(bytes.len() + 1);
        buf.extend_from_slice(bytes);
        buf.push(b'\n');
        stdin.write_all(&buf).await.unwrap();
        stdin.flush().await.unwrap();
    }

    pub async fn send(&mut self, v: &Value) {
        if let Some(args) = v.pointer("/params/arguments") {
            crate::common::note_values(&self.sent, args);
        }
        self.send_line(serde_json::to_string(v).unwrap().as_bytes())
            .await;
    }

    /// The next reply line as JSON; `None` at end of stream. Fails after
    /// [`REPLY_TIMEOUT`] and on a line that is not JSON (stdout is protocol only).
    pub async fn recv(&mut self) -> Option<Value> {
        let line = tokio::time::timeout(REPLY_TIMEOUT, self.lines.next_line())
            .await
            .expect("the server stopped answering")
            .unwrap()?;
        crate::common::assert_no_values(&self.sent, "a reply", line.as_bytes());
        Some(
            serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("stdout carried a non-JSON line ({e}): {line:?}")),
        )
    }

    /// The next reply that is a response (skips server notifications).
    pub async fn response(&mut self) -> Value {
        loop {
            let v = self.recv().await.expect("a response, not end of stream");
            if v.get("id").is_some() && v.get("method").is_none() {
                return v;
            }
        }
    }

    pub fn call_msg(id: impl Into<Value>, tool: &str, args: Value) -> Value {
        json!({"jsonrpc": "2.0", "id": id.into(), "method": "tools/call",
               "params": {"name": tool, "arguments": args}})
    }

    /// One tools/call, waiting for its response.
    pub async fn call(&mut self, id: impl Into<Value>, tool: &str, args: Value) -> Value {
        let id = id.into();
        self.send(&Self::call_msg(id.clone(), tool, args)).await;
        let r = self.response().await;
        assert_eq!(r["id"], id, "{r}");
        r
    }

    /// SIGKILL, then reap.
    pub async fn kill9(&mut self) {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
    }

    /// Closes stdin and waits for a clean exit; returns the stderr log.
    pub async fn finish(mut self) -> String {
        drop(self.stdin.take());
        let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
        let _ = self.child.start_kill();
        fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }
}

/// The §3 envelope of a tools/call response that is a tool error, else `None`.
pub fn tool_error(resp: &Value) -> Option<Value> {
    let result = resp.get("result")?;
    if result["isError"] != true {
        return None;
    }
    assert!(
        result.get("structuredContent").is_none(),
        "errors carry no structuredContent: {resp}"
    );
    let text = result["content"][0]["text"].as_str()?;
    Some(serde_json::from_str(text).expect("error text is the JSON envelope"))
}

/// A tools/call response that succeeded: its structuredContent.
pub fn tool_ok(resp: &Value) -> Option<&Value> {
    let result = resp.get("result")?;
    if result["isError"] == true {
        return None;
    }
    result.get("structuredContent")
}
