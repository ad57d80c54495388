//! A corpus of bad input over raw stdio to `credvault serve`: non-JSON lines,
//! invalid UTF-8, JSON-RPC of the wrong shape, unknown methods and tools,
//! arguments of every wrong type, 2 MiB values, control characters, and
//! thousands of pipelined calls. Each gets a JSON-RPC error or a §3 tool error
//! (DESIGN §3), stdout stays one JSON message per line, nothing is stored, and
//! the server keeps answering: a final valid call succeeds.
//!
//! A line that is not JSON gets `-32700 Parse error` with `"id": null` (rmcp
//! alone would drop it; `src/mcp/stdio.rs` frames lines itself for this); a
//! blank line gets nothing.

use serde_json::{Value, json};

use crate::common::{Env, MARKER};
use crate::raw::{Raw, tool_error, tool_ok};

/// Sends `line`, then a ping; returns every message that arrived before the
/// ping's reply (i.e. what `line` produced).
/// Requests run concurrently, so a reply to a line with a usable id may come
/// after the ping's: for such a line, wait until something arrives.
async fn probe(raw: &mut Raw, n: &mut u64, line: &[u8]) -> Vec<Value> {
    *n += 1;
    let ping = format!("ping-{n}");
    let own_id = serde_json::from_slice::<Value>(line)
        .ok()
        .and_then(|v| v.get("id").filter(|id| id.is_string()).cloned());
    raw.send_line(line).await;
    raw.send(&json!({"jsonrpc": "2.0", "id": ping, "method": "ping"}))
        .await;
    let mut out: Vec<Value> = Vec::new();
    let mut pinged = false;
    while !pinged || (own_id.is_some() && out.is_empty()) {
        let v = raw.recv().await.expect("the server closed stdout");
        if v["id"] == ping.as_str() {
            assert!(v.get("result").is_some(), "{v}");
            pinged = true;
        } else {
            out.push(v);
        }
    }
    out
}

fn is_rpc_error(v: &Value) -> bool {
    v["jsonrpc"] == "2.0" && v["error"]["code"].is_i64() && v.get("result").is_none()
}

fn show(line: &[u8]) -> String {
    let s = String::from_utf8_lossy(line);
    s.chars().take(120).collect()
}

/// Calls `tool` with `args`; returns the §3 envelope of the tool error.
async fn expect_422(raw: &mut Raw, n: &mut u64, tool: &str, args: Value, field: &str) {
    *n += 1;
    let r = raw.call(*n, tool, args.clone()).await;
    let err = tool_error(&r).unwrap_or_else(|| {
        panic!(
            "{tool} {}: expected a 422 tool error: {r}",
            show(args.to_string().as_bytes())
        )
    });
    assert_eq!(err["code"], 422, "{err}");
    assert_eq!(err["type"], "validation_error");
    let locs: Vec<&str> = err["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["loc"][0].as_str().unwrap())
        .collect();
    assert!(
        locs.contains(&field),
        "{tool}: the 422 does not name {field}: {err}"
    );
    let text = r.to_string();
    assert!(
        text.len() < 16 * 1024,
        "an error echoes its input ({} bytes)",
        text.len()
    );
    assert!(!text.contains(MARKER), "an error echoes a value: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corpus_of_bad_input_gets_errors_and_the_server_keeps_serving() {
    let env = Env::new();
    let mut raw = Raw::start(&env).await;
    let n = &mut 0u64;

    // Not JSON at all: one -32700 Parse error with a null id each.
    let not_json: Vec<&[u8]> = vec![
        b"hello",
        b"{",
        b"[1,2",
        b"{\"jsonrpc\":\"2.0\",\"id\":1,",
        b"\x07\x1b[31mred\x1b[0m\x00",
        b"\xff\xfe\xfd",
        b"}}}}",
        // Invalid UTF-8 inside otherwise valid JSON-RPC is not JSON either.
        b"{\"jsonrpc\":\"2.0\",\"id\":\"s14\",\"method\":\"ping\",\"x\":\"\xff\"}",
        b"{\"jsonrpc\":\"2.0\",\"id\":\"s15\",\"method\":\"tools/call\",\"params\":{\"name\":\"store_credential\",\"arguments\":{\"service_id\":\"openai\",\"credential_type\":\"bearer\",\"credential_value\":\"\xc3\x28\"}}}",
    ];
    for line in &not_json {
        let got = probe(&mut raw, n, line).await;
        assert!(
            got.len() == 1 && is_rpc_error(&got[0]) && got[0]["error"]["code"] == -32700,
            "{}: expected one parse error, got {got:?}",
            show(line)
        );
        assert!(got[0].as_object().unwrap().contains_key("id") && got[0]["id"].is_null());
    }
    // Blank lines: nothing to answer.
    for line in [&b"   "[..], b"", b"\r"] {
        let got = probe(&mut raw, n, line).await;
        assert!(got.is_empty(), "{got:?}");
    }

    // Valid JSON, not a valid JSON-RPC request: an error object.
    let shapes: Vec<&[u8]> = vec![
        b"{}",
        b"[]",
        b"42",
        b"\"str\"",
        b"null",
        b"true",
        br#"[{"jsonrpc":"2.0","id":"b1","method":"ping"}]"#,
        br#"{"jsonrpc":"1.0","id":"s1","method":"ping"}"#,
        br#"{"id":"s2","method":"ping"}"#,
        br#"{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}"#,
        br#"{"jsonrpc":"2.0","id":[1],"method":"ping"}"#,
        br#"{"jsonrpc":"2.0","id":true,"method":"ping"}"#,
        br#"{"jsonrpc":"2.0","id":1.5,"method":"ping"}"#,
        br#"{"jsonrpc":"2.0","id":"s3","method":5}"#,
        br#"{"jsonrpc":"2.0","id":"s4","method":null}"#,
        br#"{"jsonrpc":"2.0","id":"s5","method":"tools/list","params":5}"#,
        br#"{"jsonrpc":"2.0","id":"s6","method":"tools/call"}"#,
        br#"{"jsonrpc":"2.0","id":"s7","method":"tools/call","params":[]}"#,
        br#"{"jsonrpc":"2.0","id":"s8","method":"tools/call","params":{"name":5}}"#,
        br#"{"jsonrpc":"2.0","id":"s9","method":"tools/call","params":{"arguments":{}}}"#,
        br#"{"jsonrpc":"2.0","id":"s10","method":"tools/call","params":{"name":"store_credential","arguments":"str"}}"#,
        br#"{"jsonrpc":"2.0","id":"s11","method":"tools/call","params":{"name":"store_credential","arguments":[]}}"#,
        br#"{"jsonrpc":"2.0","id":"s12","method":"tools/call","params":{"name":"list_credentials","arguments":7}}"#,
        br#"{"jsonrpc":"2.0","id":"s13","method":"initialize","params":{}}"#,
    ];
    for line in &shapes {
        let got = probe(&mut raw, n, line).await;
        assert!(
            got.len() == 1 && is_rpc_error(&got[0]),
            "{}: expected one JSON-RPC error, got {got:?}",
            show(line)
        );
        assert!(
            got[0].as_object().unwrap().contains_key("id"),
            "JSON-RPC errors carry an id (null when unknown): {got:?}"
        );
    }

    // Unknown methods and tools: JSON-RPC errors carrying the request's id.
    for (line, code) in [
        (
            json!({"jsonrpc": "2.0", "id": "u1", "method": "foo/bar"}),
            -32601,
        ),
        (
            json!({"jsonrpc": "2.0", "id": "u2", "method": "resources/read", "params": {"uri": "file:///etc/passwd"}}),
            -32601,
        ),
        (
            json!({"jsonrpc": "2.0", "id": "u3", "method": "tools/call", "params": {"name": "get_credential", "arguments": {}}}),
            -32602,
        ),
        (
            json!({"jsonrpc": "2.0", "id": "u4", "method": "tools/call", "params": {"name": "", "arguments": {}}}),
            -32602,
        ),
    ] {
        let got = probe(&mut raw, n, line.to_string().as_bytes()).await;
        assert!(got.len() == 1 && is_rpc_error(&got[0]), "{line}: {got:?}");
        assert_eq!(got[0]["id"], line["id"], "{got:?}");
        assert_eq!(got[0]["error"]["code"], code, "{line}: {got:?}");
    }
    // A notification of an unknown method gets no reply and breaks nothing.
    let got = probe(
        &mut raw,
        n,
        br#"{"jsonrpc":"2.0","method":"notifications/nope"}"#,
    )
    .await;
    assert!(got.is_empty(), "{got:?}");

    // Arguments of every wrong type, field by field: a 422 naming the field.
    let wrong: Vec<Value> = vec![
        json!(1),
        json!(-1.5),
        json!(true),
        json!([]),
        json!(["x"]),
        json!({}),
        json!({"a": "b"}),
        json!(""),
        json!(" \t\n "),
    ];
    let store_ok = json!({"service_id": "openai", "credential_type": "bearer",
                          "credential_value": format!("{MARKER}-v"), "name": "n"});
    let secret_ok =
        json!({"name": "BAD_INPUT", "provider": "openai", "value": format!("{MARKER}-v")});
    for (tool, good, fields) in [
        (
            "store_credential",
            &store_ok,
            &["service_id", "credential_type", "credential_value", "name"][..],
        ),
        (
            "create_secret",
            &secret_ok,
            &["name", "provider", "value"][..],
        ),
        ("list_credentials", &json!({}), &["service_id"][..]),
    ] {
        for field in fields {
            for w in &wrong {
                let mut args = good.clone();
                args[*field] = w.clone();
                expect_422(&mut raw, n, tool, args, field).await;
            }
            let required = match tool {
                "list_credentials" => false,
                "store_credential" => *field != "name",
                _ => true,
            };
            if required {
                // Required: missing and null are 422 "missing" too.
                let mut args = good.clone();
                args.as_object_mut().unwrap().remove(*field);
                expect_422(&mut raw, n, tool, args, field).await;
                let mut args = good.clone();
                args[*field] = Value::Null;
                expect_422(&mut raw, n, tool, args, field).await;
            }
        }
        let mut args = good.clone();
        args["unexpected"] = json!(1);
        expect_422(&mut raw, n, tool, args, "unexpected").await;
    }

    // 2 MiB strings in every field, and control characters where they are refused.
    let big = format!("{MARKER}{}", "x".repeat(2 * 1024 * 1024));
    for field in ["service_id", "credential_type", "credential_value", "name"] {
        let mut args = store_ok.clone();
        args[field] = json!(big);
        expect_422(&mut raw, n, "store_credential", args, field).await;
    }
    for field in ["name", "provider", "value"] {
        let mut args = secret_ok.clone();
        args[field] = json!(big);
        expect_422(&mut raw, n, "create_secret", args, field).await;
    }
    for (tool, good, field, v) in [
        ("store_credential", &store_ok, "name", "a\u{0}b"),
        ("store_credential", &store_ok, "name", "line\nbreak"),
        ("store_credential", &store_ok, "name", "bell\u{7}"),
        ("store_credential", &store_ok, "name", "esc\u{1b}[2J"),
        ("store_credential", &store_ok, "name", "del\u{7f}"),
        ("store_credential", &store_ok, "name", "c1\u{85}x"),
        ("store_credential", &store_ok, "service_id", "open\u{0}ai"),
        (
            "store_credential",
            &store_ok,
            "service_id",
            "custom.a\u{7}b",
        ),
        (
            "store_credential",
            &store_ok,
            "credential_type",
            "bearer\u{0}",
        ),
        ("create_secret", &secret_ok, "name", "A\nB"),
        ("create_secret", &secret_ok, "name", "A\u{0}"),
        ("create_secret", &secret_ok, "provider", "x\u{1}"),
        ("list_credentials", &json!({}), "service_id", "open\u{0}ai"),
    ] {
        let mut args = good.clone();
        args[field] = json!(v);
        expect_422(&mut raw, n, tool, args, field).await;
    }
    // Nothing above was stored.
    *n += 1;
    let r = raw.call(*n, "list_credentials", json!({})).await;
    assert_eq!(tool_ok(&r).unwrap()["credentials"], json!([]), "{r}");

    // Thousands of pipelined calls: every one answered, under its own id.
    const PIPELINED: u64 = 3000;
    let mut stdin = raw.stdin.take().unwrap();
    let writer = tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        let mut buf = Vec::new();
        for i in 0..PIPELINED {
            let msg = if i % 10 == 0 {
                Raw::call_msg(
                    format!("pl-{i}"),
                    "store_credential",
                    json!({"service_id": "custom.pipe", "credential_type": "api_key",
                           "credential_value": format!("{MARKER}-pipe-{i}"), "name": format!("p{i}")}),
                )
            } else if i % 10 == 5 {
                Raw::call_msg(
                    format!("pl-{i}"),
                    "store_credential",
                    json!({"service_id": i, "credential_type": "api_key"}),
                )
            } else {
                Raw::call_msg(
                    format!("pl-{i}"),
                    "list_credentials",
                    json!({"service_id": "stripe"}),
                )
            };
            buf.extend_from_slice(msg.to_string().as_bytes());
            buf.push(b'\n');
            if buf.len() > 64 * 1024 {
                stdin.write_all(&buf).await.unwrap();
                buf.clear();
            }
        }
        stdin.write_all(&buf).await.unwrap();
        stdin.flush().await.unwrap();
        stdin
    });
    let mut seen = std::collections::HashSet::new();
    let mut busy = 0;
    while (seen.len() as u64) < PIPELINED {
        let r = raw.response().await;
        let id = r["id"].as_str().unwrap().to_owned();
        let i: u64 = id.trim_start_matches("pl-").parse().unwrap();
        match i % 10 {
            0 => match tool_error(&r) {
                None => assert_eq!(tool_ok(&r).unwrap()["success"], true),
                Some(e) if e["code"] == 503 => busy += 1,
                Some(e) => panic!("pipelined store {i}: {e}"),
            },
            5 => assert_eq!(tool_error(&r).unwrap()["code"], 422),
            _ => assert!(tool_ok(&r).is_some(), "{r}"),
        }
        assert!(seen.insert(id), "two replies to one id");
    }
    raw.stdin = Some(writer.await.unwrap());
    eprintln!("badinput: {PIPELINED} pipelined calls answered ({busy} vault_busy)");
    assert_eq!(busy, 0, "a single client's pipelined stores hit vault_busy");

    // Still serving: a final valid call succeeds.
    let r = raw
        .call("final", "store_credential", store_ok.clone())
        .await;
    assert_eq!(tool_ok(&r).unwrap()["success"], true, "{r}");
    let stderr = raw.finish().await;
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains(MARKER), "a value reached the log");
}
