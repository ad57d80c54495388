//! stdio on pipes, as MCP clients spawn servers: credvault drives its stdin
//! and stdout pipes non-blocking through tokio's reactor while it serves,
//! gives their flags back when it exits (the pipe ends may be shared with
//! whoever started it), leaves a stdout that is also stderr blocking, and gets
//! long replies through a full pipe whole and in order.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::process::{Child, Stdio};

use rustix::fs::OFlags;
use rustix::pipe::{PipeFlags, pipe_with};
use serde_json::{Value, json};

use crate::common::Env;

fn nonblocking(fd: impl AsFd) -> bool {
    rustix::fs::fcntl_getfl(fd)
        .unwrap()
        .contains(OFlags::NONBLOCK)
}

/// One request line, and its reply line parsed.
fn rpc(to: &mut File, from: &mut BufReader<File>, id: u64, method: &str, params: Value) -> Value {
    let msg = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
    writeln!(to, "{msg}").unwrap();
    let mut line = String::new();
    from.read_line(&mut line).unwrap();
    serde_json::from_str(&line).unwrap()
}

struct Served {
    child: Child,
    to: File,
    from: BufReader<File>,
    /// Same open file descriptions as the server's stdin and stdout.
    stdin_probe: OwnedFd,
    stdout_probe: OwnedFd,
}

/// `credvault serve` on fresh pipes (stderr on stdout's pipe when `shared`),
/// initialised.
fn serve(env: &Env, shared: bool) -> Served {
    let (in_r, in_w) = pipe_with(PipeFlags::CLOEXEC).unwrap();
    let (out_r, out_w) = pipe_with(PipeFlags::CLOEXEC).unwrap();
    let stdin_probe = in_r.try_clone().unwrap();
    let stdout_probe = out_w.try_clone().unwrap();
    let stderr = if shared {
        Stdio::from(out_w.try_clone().unwrap())
    } else {
        Stdio::from(File::create(env.dir.path().join("stderr.log")).unwrap())
    };
    let child = env
        .cmd()
        .arg("serve")
        .stdin(Stdio::from(in_r))
        .stdout(Stdio::from(out_w))
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut s = Served {
        child,
        to: File::from(in_w),
        from: BufReader::new(File::from(out_r)),
        stdin_probe,
        stdout_probe,
    };
    let init = rpc(
        &mut s.to,
        &mut s.from,
        0,
        "initialize",
        json!({"protocolVersion": "2025-11-25", "capabilities": {},
               "clientInfo": {"name": "pipes", "version": "1"}}),
    );
    assert!(init["result"]["serverInfo"].is_object(), "{init}");
    writeln!(
        s.to,
        r#"{{"jsonrpc":"2.0","method":"notifications/initialized"}}"#
    )
    .unwrap();
    s
}

#[test]
fn pipes_are_non_blocking_while_serving_and_given_back_after() {
    let env = Env::new();
    let mut s = serve(&env, false);
    assert!(!nonblocking(&s.to), "the client's own end is untouched");
    let r = rpc(&mut s.to, &mut s.from, 1, "ping", json!({}));
    assert_eq!(r["result"], json!({}), "{r}");
    assert!(nonblocking(&s.stdin_probe) && nonblocking(&s.stdout_probe));
    drop(s.to);
    assert!(s.child.wait().unwrap().success());
    assert!(
        !nonblocking(&s.stdin_probe) && !nonblocking(&s.stdout_probe),
        "the pipes' flags are given back on exit"
    );
}

#[test]
fn a_stdout_that_is_also_stderr_stays_blocking() {
    let env = Env::new();
    let mut s = serve(&env, true);
    let r = rpc(&mut s.to, &mut s.from, 1, "ping", json!({}));
    assert_eq!(r["result"], json!({}), "{r}");
    assert!(!nonblocking(&s.stdout_probe));
    assert!(nonblocking(&s.stdin_probe));
    drop(s.to);
    assert!(s.child.wait().unwrap().success());
}

#[test]
fn long_replies_through_a_full_pipe_arrive_whole_and_in_order() {
    let env = Env::new();
    let mut s = serve(&env, false);
    let mut id = 1;
    for i in 0..200 {
        id += 1;
        let r = rpc(
            &mut s.to,
            &mut s.from,
            id,
            "tools/call",
            json!({"name": "store_credential", "arguments": {"service_id": "custom.pipe",
                   "credential_type": "api_key", "credential_value": format!("v{i}"), "name": format!("n{i}")}}),
        );
        assert_ne!(r["result"]["isError"], json!(true), "{r}");
    }
    // 40 lists of 200 (~87 KB each, ~3.5 MB) sent before any reply is read:
    // the server meets a full pipe over and over.
    let first = id + 1;
    for _ in 0..40 {
        id += 1;
        let msg = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                         "params": {"name": "list_credentials", "arguments": {}}});
        writeln!(s.to, "{msg}").unwrap();
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    let mut ids = Vec::new();
    let mut bodies = std::collections::HashSet::new();
    for _ in 0..40 {
        let mut line = String::new();
        s.from.read_line(&mut line).unwrap();
        let r: Value = serde_json::from_str(&line).unwrap();
        let structured = &r["result"]["structuredContent"];
        assert_eq!(structured["credentials"].as_array().unwrap().len(), 200);
        let text: Value =
            serde_json::from_str(r["result"]["content"][0]["text"].as_str().unwrap()).unwrap();
        assert_eq!(
            &text, structured,
            "the text block mirrors structuredContent"
        );
        ids.push(r["id"].as_u64().unwrap());
        bodies.insert(r["result"].to_string());
    }
    ids.sort_unstable();
    assert_eq!(ids, (first..=id).collect::<Vec<_>>());
    assert_eq!(bodies.len(), 1, "every reply is the same page");
    drop(s.to);
    assert!(s.child.wait().unwrap().success());
}
