//! call_api through the real binary and rmcp's client, against a local HTTPS
//! upstream (tests/integration/upstream.rs) trusted through CREDVAULT_CA_FILE.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rmcp::ClientLifecycleMode;
use serde_json::{Value, json};

use crate::common::{Client, Env, MARKER, contains, marked_value};
use crate::http::{Http, Sse, call};
use crate::netns::{self, Namespace};
use crate::upstream::{Ca, Upstream};

/// Every encoding the /leak route sends back, computed here.
fn encodings(v: &str) -> Vec<String> {
    let hex: String = v.bytes().map(|b| format!("{b:02x}")).collect();
    vec![
        v.to_owned(),
        STANDARD.encode(v),
        URL_SAFE_NO_PAD.encode(v),
        hex.clone(),
        hex.to_uppercase(),
        url::form_urlencoded::byte_serialize(v.as_bytes()).collect(),
        // The value-only core of base64("user:" + v): what identifies it.
        STANDARD.encode(format!("use:{v}"))[4..4 + v.len() * 4 / 3 - 2].to_owned(),
    ]
}

pub(crate) fn env_with_ca() -> (Env, Ca) {
    let mut env = Env::new();
    let ca = Ca::new(env.dir.path());
    env.extra_env.push((
        "CREDVAULT_CA_FILE".into(),
        ca.pem_path.display().to_string(),
    ));
    (env, ca)
}

async fn store(
    c: &Client,
    service: &str,
    kind: &str,
    v: &str,
    hosts: &[String],
    extra: Value,
) -> Value {
    let mut args = json!({"service_id": service, "credential_type": kind, "credential_value": v, "allowed_hosts": hosts});
    for (k, x) in extra.as_object().unwrap() {
        args[k] = x.clone();
    }
    c.ok("store_credential", args).await
}

#[tokio::test]
async fn injects_by_scheme_and_redacts_every_form() {
    let (env, ca) = env_with_ca();
    let up = Upstream::start(&ca).await;
    let c = env.client().await;
    let hosts = vec![up.host()];
    let cases = [
        ("openai", "bearer", json!({}), "authorization", "Bearer "),
        (
            "openai",
            "api_key",
            json!({"name": "k"}),
            "authorization",
            "Bearer ",
        ),
        ("anthropic", "api_key", json!({}), "x-api-key", ""),
        ("gitlab", "api_key", json!({}), "private-token", ""),
        (
            "custom.acme",
            "api_key",
            json!({"auth_header": "X-Acme-Key"}),
            "x-acme-key",
            "",
        ),
        ("custom.plain", "api_key", json!({}), "x-api-key", ""),
        (
            "custom.tok",
            "bearer",
            json!({}),
            "authorization",
            "Bearer ",
        ),
    ];
    for (service, kind, extra, header, prefix) in cases {
        let v = marked_value(service);
        let name = extra.get("name").cloned().unwrap_or(json!("default"));
        store(&c, service, kind, &v, &hosts, extra).await;
        let before = up.requests().len();
        // A path resolves against the first allowed host (the catalog host is not listed).
        let r = c
            .ok("call_api", json!({"service_id": service, "name": name, "method": "GET", "url": "/echo", "query": {"q": "a b"}}))
            .await;
        let reqs = up.requests();
        assert_eq!(reqs.len(), before + 1);
        let got = &reqs[before];
        assert_eq!(
            got.header(header),
            Some(format!("{prefix}{v}").as_str()),
            "{service} {kind}"
        );
        assert_eq!(got.target, "/echo?q=a+b");
        assert_eq!(got.header("accept-encoding"), Some("identity"));
        assert_eq!(r["status"], 200);
        assert_eq!(r["redacted"], true, "{r}");
        let text = r.to_string();
        assert!(!text.contains(&v));
        let label = format!("[REDACTED:{service}/{}]", name.as_str().unwrap());
        assert!(r["body"].as_str().unwrap().contains(&label), "{r}");
        assert!(
            r["headers"][format!("x-echo-{header}")]
                .as_str()
                .unwrap()
                .contains(&label)
        );
    }

    // Every encoding the server echoes, in the body and the headers.
    let v = marked_value("leak");
    store(&c, "custom.leak", "bearer", &v, &hosts, json!({})).await;
    let r = c
        .ok(
            "call_api",
            json!({"service_id": "custom.leak", "method": "GET", "url": up.url("/leak")}),
        )
        .await;
    let text = r.to_string();
    for e in encodings(&v) {
        assert!(!text.contains(&e), "{e} survived in {text}");
    }
    assert!(
        r["headers"].get("set-cookie").is_none(),
        "set-cookie is dropped"
    );
    assert!(
        r["headers"]["x-leak"]
            .as_str()
            .unwrap()
            .starts_with("[REDACTED:custom.leak/default]")
    );
    let body: Value = serde_json::from_str(r["body"].as_str().unwrap()).unwrap();
    for field in ["raw", "b64", "b64url", "hex", "HEX", "pct", "escaped"] {
        assert!(
            body[field]
                .as_str()
                .unwrap()
                .contains("[REDACTED:custom.leak/default]"),
            "{field}: {body}"
        );
    }
    assert_eq!(
        body["in_text"],
        "your key is [REDACTED:custom.leak/default]!"
    );

    // last_used_at is set, in the tool and the CLI.
    let list = c
        .ok("list_credentials", json!({"service_id": "custom.leak"}))
        .await;
    let used = list["credentials"][0]["last_used_at"]
        .as_i64()
        .expect("last_used_at set");
    assert!(used >= list["credentials"][0]["created_at"].as_i64().unwrap());
    let cli = env.run(&["list"], "");
    let table = String::from_utf8(cli.stdout).unwrap();
    let row = table.lines().find(|l| l.contains("custom.leak")).unwrap();
    assert!(!row.ends_with("never"), "{row}");
    // A new value (store again) has not been used yet.
    store(
        &c,
        "custom.leak",
        "bearer",
        &marked_value("leak2"),
        &hosts,
        json!({}),
    )
    .await;
    let list = c
        .ok("list_credentials", json!({"service_id": "custom.leak"}))
        .await;
    assert_eq!(list["credentials"][0]["last_used_at"], Value::Null);
    c.stop().await;
}

/// Issue 20.6: an upstream error page that HTML-escapes what it echoes (Go's
/// html/template writes `+` as `&#43;`) must not hand back a key holding
/// `/`, `+`, `=` or `&`, whatever reference style it uses.
#[tokio::test]
async fn html_escaped_echoes_are_redacted() {
    let (env, ca) = env_with_ca();
    let up = Upstream::start(&ca).await;
    let c = env.client().await;
    let v = format!("{}/a+b=c&d", marked_value("html"));
    store(&c, "custom.page", "bearer", &v, &[up.host()], json!({})).await;
    let r = c
        .ok(
            "call_api",
            json!({"service_id": "custom.page", "method": "GET", "url": "/html"}),
        )
        .await;
    assert_eq!(
        (r["status"].as_u64(), &r["redacted"]),
        (Some(401), &json!(true))
    );
    let label = "[REDACTED:custom.page/default]";
    let body = r["body"].as_str().unwrap();
    let echoes: Vec<&str> = body.lines().filter(|l| l.starts_with("<p id=")).collect();
    assert_eq!(echoes.len(), 11, "{body}");
    for line in echoes {
        let (open, rest) = line.split_once('>').unwrap();
        assert_eq!(rest, format!("{label}</p>"), "{open}: {line}");
    }
    assert!(body.starts_with("<html><body><h1>401 Unauthorized</h1>\n"));
    assert_eq!(r["headers"]["x-leak-html"], label);
    assert!(!r.to_string().contains(MARKER), "{r}");
    c.stop().await;
}

/// Runs in its own network namespace (`netns`): `127.0.0.1.evil.test` and the
/// catalog host are refused before any lookup, and must stay unreachable if
/// that ever regressed.
#[tokio::test]
async fn a_value_goes_only_where_it_was_bound() {
    if !netns::isolated(
        "call_api::a_value_goes_only_where_it_was_bound",
        Namespace::default(),
    ) {
        return;
    }
    let (env, ca) = env_with_ca();
    let up = Upstream::start(&ca).await;
    let other = Upstream::start(&ca).await;
    let c = env.client().await;
    // A catalog credential without a list may only go to the catalog host.
    store(&c, "openai", "bearer", &marked_value("o"), &[], json!({})).await;
    let o = c
        .call(
            "call_api",
            json!({"service_id": "openai", "method": "GET", "url": up.url("/echo")}),
        )
        .await;
    assert!(o.is_error);
    assert_eq!(
        (o.body["code"].as_u64(), o.body["type"].as_str()),
        (Some(403), Some("forbidden"))
    );
    assert!(
        o.body["detail"]
            .as_str()
            .unwrap()
            .contains("api.openai.com"),
        "{}",
        o.raw
    );
    // custom.* bound to one upstream: the other is refused, so are a wrong
    // port, a look-alike host, http://, and headers that carry or frame auth.
    store(
        &c,
        "custom.acme",
        "api_key",
        &marked_value("a"),
        &[up.host()],
        json!({"auth_header": "X-Acme-Key"}),
    )
    .await;
    let port = up.addr.port();
    for (url, code) in [
        (other.url("/echo"), 403),
        (format!("https://127.0.0.1:{}/echo", port + 1), 403),
        (format!("https://127.0.0.1.evil.test:{port}/echo"), 403),
        (format!("http://127.0.0.1:{port}/echo"), 422),
        ("echo".to_owned(), 422),
    ] {
        let o = c.call("call_api", json!({"service_id": "custom.acme", "method": "POST", "url": url, "json": {"a": 1}})).await;
        assert!(o.is_error, "{url}");
        assert_eq!(o.body["code"], code, "{url}: {}", o.raw);
    }
    for header in [
        "Authorization",
        "Cookie",
        "Host",
        "Proxy-Authorization",
        "X-Acme-Key",
        "x-acme-key",
    ] {
        let o = c
            .call("call_api", json!({"service_id": "custom.acme", "method": "GET", "url": "/echo", "headers": {header: "x"}}))
            .await;
        assert_eq!(o.body["code"], 422, "{header}: {}", o.raw);
    }
    let o = c
        .call(
            "call_api",
            json!({"service_id": "custom.none", "method": "GET", "url": "/echo"}),
        )
        .await;
    assert_eq!(
        (o.body["code"].as_u64(), o.body["type"].as_str()),
        (Some(404), Some("not_found_error"))
    );
    // A custom credential stored without hosts can go nowhere.
    store(
        &c,
        "custom.nowhere",
        "api_key",
        &marked_value("n"),
        &[],
        json!({}),
    )
    .await;
    let o = c
        .call(
            "call_api",
            json!({"service_id": "custom.nowhere", "method": "GET", "url": "/echo"}),
        )
        .await;
    assert_eq!(o.body["code"], 403);
    assert_eq!(
        up.requests().len(),
        0,
        "nothing was sent to the bound host either"
    );

    // A redirect is returned, never followed (not even to an allowed host).
    let to = other.url("/echo");
    let r = c
        .ok("call_api", json!({"service_id": "custom.acme", "method": "GET", "url": "/redirect", "query": {"to": to}}))
        .await;
    assert_eq!(r["status"], 302);
    assert_eq!(r["headers"]["location"], to);
    assert_eq!(up.requests().len(), 1);
    let same = up.url("/echo");
    let r = c
        .ok("call_api", json!({"service_id": "custom.acme", "method": "GET", "url": "/redirect", "query": {"to": same}}))
        .await;
    assert_eq!(r["status"], 302);
    assert_eq!(up.requests().len(), 2);
    assert_eq!(other.requests().len(), 0, "the other host received nothing");

    // `localhost` listed on purpose reaches a loopback service.
    store(
        &c,
        "custom.local",
        "api_key",
        &marked_value("l"),
        &[format!("localhost:{port}")],
        json!({}),
    )
    .await;
    let r = c
        .ok(
            "call_api",
            json!({"service_id": "custom.local", "method": "GET", "url": "/echo"}),
        )
        .await;
    assert_eq!(r["status"], 200);
    c.stop().await;
}

/// Names that resolve to non-public addresses are refused before any
/// connection, with a 403 naming the host and the address. The names exist
/// only in a private /etc/hosts inside the test's own network namespace
/// (`netns`); 10.0.0.1 and 169.254.169.254 are local addresses there, so a
/// build that connected anyway would reach the counting listener below, and
/// nothing can leave the machine either way.
#[tokio::test]
async fn a_name_resolving_to_a_private_address_is_refused() {
    let names = [
        ("127.0.0.1", "cv-loop4.test"),
        ("10.0.0.1", "cv-private.test"),
        ("169.254.169.254", "cv-metadata.test"),
        ("::ffff:127.0.0.1", "cv-mapped.test"),
    ];
    let ns = Namespace {
        hosts: &names,
        local: &["10.0.0.1", "169.254.169.254"],
    };
    if !netns::isolated(
        "call_api::a_name_resolving_to_a_private_address_is_refused",
        ns,
    ) {
        return;
    }
    // Every address above, on one port: counts the connections it accepts.
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = accepted.clone();
    let sink = tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            drop(tcp);
        }
    });
    let accepted = move || accepted.load(std::sync::atomic::Ordering::SeqCst);
    let env = Env::new();
    let c = env.client().await;
    for (ip, name) in names {
        let service = format!("custom.{}", name.replace('.', "-"));
        store(
            &c,
            &service,
            "api_key",
            &marked_value("p"),
            &[format!("{name}:{port}")],
            json!({}),
        )
        .await;
        let o = c
            .call(
                "call_api",
                json!({"service_id": service, "method": "GET", "url": "/echo"}),
            )
            .await;
        assert!(o.is_error, "{name}");
        assert_eq!(o.body["code"], 403, "{name}: {}", o.raw);
        let detail = o.body["detail"].as_str().unwrap();
        assert!(
            detail.contains(name) && detail.contains(ip.trim_start_matches("::ffff:")),
            "{detail}"
        );
    }
    assert_eq!(accepted(), 0, "no connection was made to any of them");
    // The control: `localhost` listed on purpose does connect to the same
    // listener (which hangs up, so the call reports a 502).
    store(
        &c,
        "custom.control",
        "api_key",
        &marked_value("p"),
        &[format!("localhost:{port}")],
        json!({}),
    )
    .await;
    let o = c
        .call(
            "call_api",
            json!({"service_id": "custom.control", "method": "GET", "url": "/echo"}),
        )
        .await;
    assert_eq!(o.body["code"], 502, "{}", o.raw);
    assert!(accepted() >= 1, "the control reached the listener");
    sink.abort();
    c.stop().await;
}

#[tokio::test]
async fn failures_limits_and_slow_upstreams() {
    let (mut env, ca) = env_with_ca();
    env.extra_env.push(("RUST_LOG".into(), "trace".into()));
    let up = Upstream::start(&ca).await;
    let c = std::sync::Arc::new(env.client().await);
    let v = marked_value("f");
    store(&c, "custom.f", "bearer", &v, &[up.host()], json!({})).await;
    let call_ok = |args: Value| {
        let c = c.clone();
        async move { c.ok("call_api", args).await }
    };

    // An upstream 500 is a normal result the agent can read.
    let r = call_ok(json!({"service_id": "custom.f", "method": "DELETE", "url": "/status", "query": {"code": "500"}})).await;
    assert_eq!(r["status"], 500);
    assert!(r["body"].as_str().unwrap().contains("upstream says no"));
    // HEAD, non-text bodies, bodies over 1 MiB.
    let r = call_ok(json!({"service_id": "custom.f", "method": "HEAD", "url": "/echo"})).await;
    assert_eq!(r["status"], 200);
    let r = call_ok(json!({"service_id": "custom.f", "method": "GET", "url": "/bin"})).await;
    assert_eq!(
        (r["body"].clone(), r["body_bytes"].as_u64()),
        (Value::Null, Some(1000))
    );
    let r = call_ok(json!({"service_id": "custom.f", "method": "GET", "url": "/big", "query": {"n": "2097152"}})).await;
    assert_eq!(
        (r["truncated"].as_bool(), r["body_bytes"].as_u64()),
        (Some(true), Some(1 << 20))
    );
    // A value cut by the 1 MiB limit: even its first half does not come back.
    let at = (1 << 20) - 20;
    let r = call_ok(json!({"service_id": "custom.f", "method": "GET", "url": "/big", "query": {"n": "2097152", "leak_at": at.to_string()}})).await;
    let body = r["body"].as_str().unwrap();
    // The cut gives up a fixed tail (the longest encoding of the value, here
    // its hex, each character of it as long as an HTML reference can be:
    // 33 bytes), whatever it holds.
    assert!(
        body.len() < at && body.len() > (1 << 20) - 33 * 2 * v.len(),
        "{}",
        body.len()
    );
    assert!(
        !body.contains(&v[..16]),
        "the start of a cut value came back"
    );
    // A POST body arrives as sent.
    let r = call_ok(json!({"service_id": "custom.f", "method": "POST", "url": "/echo", "body": "raw text", "headers": {"Content-Type": "text/plain", "X-Trace": "1"}})).await;
    let echoed: Value = serde_json::from_str(r["body"].as_str().unwrap()).unwrap();
    assert_eq!(
        (
            echoed["body"].as_str(),
            echoed["headers"]["x-trace"].as_str()
        ),
        (Some("raw text"), Some("1"))
    );

    // A slow upstream: 504 after timeout_ms, and other calls are answered meanwhile.
    let slow = tokio::spawn(call_ok(
        json!({"service_id": "custom.f", "method": "GET", "url": "/delay", "query": {"ms": "3000"}}),
    ));
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    c.ok("list_credentials", json!({})).await;
    assert!(
        !slow.is_finished(),
        "list_credentials waited for the slow upstream"
    );
    assert_eq!(slow.await.unwrap()["status"], 200);
    let o = c.call("call_api", json!({"service_id": "custom.f", "method": "GET", "url": "/delay", "query": {"ms": "3000"}, "timeout_ms": 300})).await;
    assert_eq!(
        (o.body["code"].as_u64(), o.body["type"].as_str()),
        (Some(504), Some("upstream_timeout")),
        "{}",
        o.raw
    );

    // Nothing listening: 502.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = closed.local_addr().unwrap();
    drop(closed);
    store(
        &c,
        "custom.dead",
        "bearer",
        &marked_value("d"),
        &[dead.to_string()],
        json!({}),
    )
    .await;
    let o = c
        .call(
            "call_api",
            json!({"service_id": "custom.dead", "method": "GET", "url": "/x"}),
        )
        .await;
    assert_eq!(
        (o.body["code"].as_u64(), o.body["type"].as_str()),
        (Some(502), Some("upstream_error")),
        "{}",
        o.raw
    );
    let c = std::sync::Arc::try_unwrap(c).ok().unwrap();
    let log = c.stop().await;
    assert!(log.contains("call_api"), "trace log was written");
    assert!(!contains(log.as_bytes(), &v) && !contains(log.as_bytes(), &STANDARD.encode(&v)));
}

#[tokio::test]
async fn tls_is_verified_without_the_test_ca() {
    let env = Env::new();
    let ca = Ca::new(env.dir.path());
    let up = Upstream::start(&ca).await;
    let c = env.client().await;
    store(
        &c,
        "custom.t",
        "bearer",
        &marked_value("t"),
        &[up.host()],
        json!({}),
    )
    .await;
    let o = c
        .call(
            "call_api",
            json!({"service_id": "custom.t", "method": "GET", "url": "/echo"}),
        )
        .await;
    assert_eq!(o.body["code"], 502, "{}", o.raw);
    assert!(
        o.body["detail"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("certificate"),
        "{}",
        o.raw
    );
    assert_eq!(
        up.requests().len(),
        0,
        "no request over an unverified connection"
    );
    c.stop().await;
}

#[tokio::test]
async fn call_api_over_streamable_http_and_sse() {
    let (env, ca) = env_with_ca();
    let up = Upstream::start(&ca).await;
    let h = Http::start_with(env, &[]);
    let v = marked_value("h");
    // Stored from the terminal with its allowed host: the CLI path.
    let o = h.env.run(
        &[
            "store",
            "--service",
            "custom.web",
            "--type",
            "bearer",
            "--allow-host",
            &up.host(),
        ],
        &v,
    );
    assert!(o.status.success(), "{o:?}");
    h.env.sent.lock().unwrap().push(v.clone());
    let args = json!({"service_id": "custom.web", "method": "GET", "url": "/leak"});
    for lifecycle in [
        ClientLifecycleMode::Initialize,
        ClientLifecycleMode::Discover {
            preferred_versions: vec![rmcp::model::ProtocolVersion::V_2026_07_28],
        },
    ] {
        let m = h.mcp(lifecycle).await;
        let r = call(&m, "call_api", args.clone()).await;
        assert!(!r.is_error, "{}", r.raw);
        assert_eq!(r.body["redacted"], true);
        assert!(!r.raw.contains(&v) && !r.raw.contains(MARKER));
        let _ = m.cancel().await;
    }
    let mut sse = Sse::open(&h, &h.token).await;
    sse.handshake(&h, &h.token).await;
    let msg = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "call_api", "arguments": args}});
    sse.send(&h, &h.token, msg).await;
    let reply = sse.reply().await;
    let text = reply.to_string();
    assert_eq!(
        reply["result"]["structuredContent"]["status"], 200,
        "{text}"
    );
    assert!(!text.contains(&v) && !text.contains(MARKER));
    assert_eq!(up.requests().len(), 3);
}
