//! request_credential (DESIGN §9) through the real binary: rmcp's client (no
//! elicitation declared, so the link comes back as pending_user_action), the
//! entry page fetched and submitted the way a browser does, and the refusals.
//! The URL-elicitation paths are driven by the Python SDK (tests/python), the
//! real browser by tests/browser.

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use crate::common::{Client, Env, contains, credential_names as names, marked_value};
use crate::http::{Http, call};
use crate::netns::{self, Namespace};
use crate::upstream::{Ca, Upstream};

const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'";

fn http() -> reqwest::Client {
    crate::common::install_tls_provider();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A value the person types: carries the marker and is swept for everywhere.
fn typed(env: &Env, tag: &str) -> String {
    let v = marked_value(tag);
    env.sent.lock().unwrap().push(v.clone());
    v
}

async fn request(c: &Client, args: Value) -> Value {
    let r = c.ok("request_credential", args).await;
    assert_eq!(r["status"], "pending_user_action", "{r}");
    r
}

fn link(r: &Value) -> String {
    let url = r["url"].as_str().unwrap().to_owned();
    let token = url.rsplit_once("/enter/").unwrap().1;
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert_eq!(token.len(), 43, "32 random bytes, base64url: {url}");
    url
}

fn assert_page_headers(h: &HeaderMap) {
    assert_eq!(h["content-security-policy"], CSP);
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["x-frame-options"], "DENY");
    assert!(h["content-type"].to_str().unwrap().starts_with("text/html"));
}

/// A form POST as Chromium sends it from a no-referrer page.
async fn submit(url: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
    submit_with(
        url,
        fields,
        &[("origin", "null"), ("sec-fetch-site", "same-origin")],
    )
    .await
}

async fn submit_with(
    url: &str,
    fields: &[(&str, &str)],
    headers: &[(&str, &str)],
) -> (StatusCode, String) {
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    let mut req = http()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let r = req.send().await.unwrap();
    assert_page_headers(r.headers());
    (r.status(), r.text().await.unwrap())
}

async fn get(url: &str) -> (StatusCode, String) {
    let r = http().get(url).send().await.unwrap();
    assert_page_headers(r.headers());
    (r.status(), r.text().await.unwrap())
}

/// Runs in its own network namespace (`netns`): the agent's proposed host is
/// a public name, refused before any lookup.
#[tokio::test]
async fn the_person_enters_the_value_and_chooses_its_hosts() {
    if !netns::isolated(
        "entry::the_person_enters_the_value_and_chooses_its_hosts",
        Namespace::default(),
    ) {
        return;
    }
    let mut env = Env::new();
    let ca = Ca::new(env.dir.path());
    env.extra_env.push((
        "CREDVAULT_CA_FILE".into(),
        ca.pem_path.display().to_string(),
    ));
    let up = Upstream::start(&ca).await;
    let c = env.client().await;
    // The agent proposes a host; the person replaces it on the page.
    let r = request(
        &c,
        json!({"service_id": "custom.acme", "credential_type": "api_key", "name": "prod",
               "allowed_hosts": ["agent-proposed.example"], "auth_header": "X-Acme-Key"}),
    )
    .await;
    let url = link(&r);
    assert!(r["expires_at"].as_str().unwrap().ends_with('Z'));
    assert!(r["message"].as_str().unwrap().contains("open this link"));
    assert!(
        names(&c).await.is_empty(),
        "nothing stored before the person acts"
    );

    let (status, page) = get(&url).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("type=\"password\""), "{page}");
    assert!(page.contains("agent-proposed.example"));
    assert!(page.contains("X-Acme-Key: …"));
    assert!(!page.contains("<script"), "no JavaScript");

    let v = typed(&env, "entered");
    let hosts = format!("{}\n", up.host());
    let (status, done) = submit(
        &url,
        &[
            ("allowed_hosts", &hosts),
            ("value", &format!("  {v}\n")),
            ("action", "store"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert!(done.contains("Key stored"), "{done}");
    assert!(!contains(done.as_bytes(), &v));
    assert_eq!(names(&c).await, ["custom.acme/prod"]);
    // The trail says the page stored it, for the stdio session that asked.
    let trail = env.run(&["audit", "--json"], "");
    let last: Value = serde_json::from_str(
        String::from_utf8_lossy(&trail.stdout)
            .lines()
            .last()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        (
            last["action"].as_str(),
            last["subject"].as_str(),
            last["via"].as_str()
        ),
        (Some("store"), Some("custom.acme/prod"), Some("page:stdio"))
    );

    // The value goes to the host the person chose, in the agent's header...
    let used = c
        .ok(
            "call_api",
            json!({"service_id": "custom.acme", "name": "prod", "method": "GET", "url": "/echo"}),
        )
        .await;
    assert_eq!(used["status"], 200);
    let got = up.requests();
    assert_eq!(got.last().unwrap().header("x-acme-key"), Some(v.as_str()));
    // ...and never to the one the agent proposed.
    let refused = c
        .call("call_api", json!({"service_id": "custom.acme", "name": "prod", "method": "GET", "url": "https://agent-proposed.example/x"}))
        .await;
    assert!(
        refused.is_error && refused.body["code"] == 403,
        "{}",
        refused.raw
    );

    // Single use: the link now only says what happened; the value stays.
    let other = typed(&env, "second");
    let (status, again) = submit(&url, &[("allowed_hosts", ""), ("value", &other)]).await;
    assert_eq!(status, StatusCode::GONE, "{again}");
    assert!(again.contains("already used"));
    assert_eq!(get(&url).await.0, StatusCode::GONE);
    c.ok(
        "call_api",
        json!({"service_id": "custom.acme", "name": "prod", "method": "GET", "url": "/echo"}),
    )
    .await;
    assert_eq!(
        up.requests().last().unwrap().header("x-acme-key"),
        Some(v.as_str())
    );

    // Entering again for the same service and name replaces, like store_credential.
    let r2 = request(
        &c,
        json!({"service_id": "custom.acme", "credential_type": "api_key", "name": "prod"}),
    )
    .await;
    let (status, page) = submit(
        &link(&r2),
        &[("allowed_hosts", &up.host()), ("value", &other)],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("replaced"), "{page}");
    assert_eq!(names(&c).await, ["custom.acme/prod"]);
    let log = c.stop().await;
    assert!(!log.contains(&v) && !log.contains(&other));
}

#[tokio::test]
async fn bad_input_on_the_page_keeps_the_link_usable() {
    let env = Env::new();
    let c = env.client().await;
    let url = link(
        &request(
            &c,
            json!({"service_id": "openai", "credential_type": "bearer"}),
        )
        .await,
    );
    let (status, page) = submit(&url, &[("allowed_hosts", ""), ("value", "   ")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("Enter the key."));
    let v = typed(&env, "hosts");
    let (status, page) = submit(
        &url,
        &[("allowed_hosts", "https://x.example/path"), ("value", &v)],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        !contains(page.as_bytes(), &v),
        "the value is not echoed back"
    );
    assert!(
        page.contains("https://x.example/path"),
        "the hosts text is kept"
    );
    // Empty hosts for a catalog service: its own API host.
    let (status, _) = submit(&url, &[("allowed_hosts", ""), ("value", &v)]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(names(&c).await, ["openai/default"]);
    // The tool's own arguments are validated like store_credential's.
    let bad = c
        .call(
            "request_credential",
            json!({"service_id": "nope", "credential_type": "bearer", "credential_value": "x"}),
        )
        .await;
    assert!(bad.is_error && bad.body["code"] == 422, "{}", bad.raw);
    let locs: Vec<&str> = bad.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["loc"][0].as_str().unwrap())
        .collect();
    assert_eq!(
        locs,
        ["credential_value", "service_id"],
        "a value is not an argument here"
    );
    c.stop().await;
}

/// What an agent (the label) or a pasted text (the hosts box) puts on the
/// page is shown as text, never run as markup.
#[tokio::test]
async fn markup_in_a_label_or_the_hosts_box_is_shown_escaped() {
    const HOSTILE: &str = "<script>alert(1)</script>\"'><img onerror=alert(2)>";
    let no_markup = |page: &str| {
        assert!(!page.contains("<script"), "{page}");
        assert!(!page.contains("<img"), "{page}");
        assert!(
            !page.contains("\"'>"),
            "an attribute could be closed: {page}"
        );
        assert!(
            page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{page}"
        );
        assert!(page.contains("&lt;img onerror=alert(2)&gt;"), "{page}");
    };
    let env = Env::new();
    let c = env.client().await;
    let url = link(
        &request(
            &c,
            json!({"service_id": "openai", "credential_type": "bearer", "name": HOSTILE}),
        )
        .await,
    );
    let (status, page) = get(&url).await;
    assert_eq!(status, StatusCode::OK);
    no_markup(&page);
    let v = typed(&env, "escaped");
    let (status, page) = submit(&url, &[("allowed_hosts", HOSTILE), ("value", &v)]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    no_markup(&page);
    assert!(
        page.contains("&lt;img onerror=alert(2)&gt;</textarea>"),
        "the hosts text is kept, as text: {page}"
    );
    let (status, page) = submit(&url, &[("allowed_hosts", ""), ("value", &v)]).await;
    assert_eq!(status, StatusCode::OK);
    no_markup(&page);
    assert_eq!(names(&c).await, [format!("openai/{HOSTILE}")]);
    c.stop().await;
}

#[tokio::test]
async fn foreign_origins_forged_and_declined_links_store_nothing() {
    let env = Env::new();
    let c = env.client().await;
    let url = link(
        &request(
            &c,
            json!({"service_id": "stripe", "credential_type": "bearer"}),
        )
        .await,
    );
    let v = typed(&env, "foreign");
    let fields = [("allowed_hosts", ""), ("value", v.as_str())];
    for headers in [
        vec![("origin", "https://evil.example")],
        vec![("origin", "http://127.0.0.1:1")],
        vec![("origin", "null"), ("sec-fetch-site", "cross-site")],
        vec![("sec-fetch-site", "same-site")],
        vec![("host", "evil.example")],
        vec![("host", "localhost.evil.example")],
    ] {
        let (status, page) = submit_with(&url, &fields, &headers).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{headers:?}: {page}");
    }
    // Not a form post.
    let r = http()
        .post(&url)
        .header("content-type", "application/json")
        .body(format!("{{\"value\":\"{v}\"}}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // A forged token, a truncated one, another path.
    let base = url.rsplit_once("/enter/").unwrap().0;
    let forged = format!("{base}/enter/{}", "A".repeat(43));
    assert_eq!(submit(&forged, &fields).await.0, StatusCode::NOT_FOUND);
    assert_eq!(get(&forged).await.0, StatusCode::NOT_FOUND);
    assert_eq!(get(&url[..url.len() - 1]).await.0, StatusCode::NOT_FOUND);
    assert!(names(&c).await.is_empty());

    // The page's Decline: nothing stored, the link dies.
    let (status, page) = submit(&url, &[("action", "decline")]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Nothing was stored"));
    let (status, page) = submit(&url, &fields).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(page.contains("declined"));
    assert!(names(&c).await.is_empty());
    c.stop().await;
}

#[tokio::test]
async fn an_expired_link_stores_nothing() {
    let mut env = Env::new();
    env.extra_env
        .push(("CREDVAULT_ENTRY_TTL_SECS".into(), "1".into()));
    let c = env.client().await;
    let r = request(
        &c,
        json!({"service_id": "openai", "credential_type": "bearer"}),
    )
    .await;
    let url = link(&r);
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let v = typed(&env, "late");
    let (status, page) = submit(&url, &[("allowed_hosts", ""), ("value", &v)]).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(page.contains("expired"), "{page}");
    assert_eq!(get(&url).await.0, StatusCode::GONE);
    assert!(names(&c).await.is_empty());
    c.stop().await;
}

#[tokio::test]
async fn http_mode_serves_the_page_on_its_own_port_without_a_token() {
    let h = Http::start();
    let c = h.mcp(rmcp::ClientLifecycleMode::Initialize).await;
    let r = call(
        &c,
        "request_credential",
        json!({"service_id": "github", "credential_type": "bearer", "name": "ci"}),
    )
    .await;
    assert!(!r.is_error, "{}", r.raw);
    let url = r.body["url"].as_str().unwrap().to_owned();
    assert!(
        url.starts_with(&format!("{}/enter/", h.base)),
        "{url} on {}",
        h.base
    );
    // The REST routes still need the token; the page does not.
    assert_eq!(
        http()
            .get(h.url("/api/credentials"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    // The main guard still refuses a foreign Host or Origin here (its JSON 403).
    for (k, v) in [("host", "evil.example"), ("origin", "https://evil.example")] {
        let r = http()
            .post(&url)
            .header(k, v)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("value=x")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{k}: {v}");
    }
    let v = typed(&h.env, "http");
    let (status, page) = submit(&url, &[("allowed_hosts", ""), ("value", &v)]).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let listed = http()
        .get(h.url("/api/credentials"))
        .bearer_auth(&h.token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(listed.contains("\"ci\""), "{listed}");
    assert!(!contains(listed.as_bytes(), &v));
    let _ = c.cancel().await;
}

/// A server bound to one non-loopback address (`--allow-remote`) cannot serve
/// the page there (a browser on this machine is not its Host), so the link
/// comes from a loopback listener of its own, and works. Run in a network
/// namespace of its own: the address lives on its loopback only.
#[tokio::test]
async fn a_server_on_a_non_loopback_address_links_to_a_loopback_page() {
    if !netns::isolated(
        "entry::a_server_on_a_non_loopback_address_links_to_a_loopback_page",
        Namespace {
            local: &["192.0.2.10"],
            ..Namespace::default()
        },
    ) {
        return;
    }
    let h = Http::start_with(Env::new(), &["--http", "192.0.2.10:0", "--allow-remote"]);
    assert!(h.base.starts_with("http://192.0.2.10:"), "{}", h.base);
    let c = h.mcp(rmcp::ClientLifecycleMode::Initialize).await;
    let r = call(
        &c,
        "request_credential",
        json!({"service_id": "github", "credential_type": "bearer", "name": "remote"}),
    )
    .await;
    assert!(!r.is_error, "{}", r.raw);
    let url = r.body["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let v = typed(&h.env, "remote");
    let (status, page) = submit(&url, &[("allowed_hosts", ""), ("value", &v)]).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let _ = c.cancel().await;
}
