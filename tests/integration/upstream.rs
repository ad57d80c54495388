//! A local HTTPS upstream for call_api tests: a throwaway CA made with rcgen
//! (its PEM is what credvault trusts through CREDVAULT_CA_FILE), a server
//! certificate for 127.0.0.1, ::1 and localhost, and a small HTTP/1.1 server
//! that records every request it receives.
//!
//! Routes: `/echo` (request as JSON, and each request header back as
//! `x-echo-<name>`), `/leak` (the credential it received, in every encoding, in
//! the body and headers), `/html` (the credential HTML-escaped every way, one
//! `<p>` per way), `/redirect?to=URL` (302), `/delay?ms=N`,
//! `/big?n=N[&leak_at=K]` (N bytes of `a`, the credential at offset K),
//! `/status?code=N`, `/bin` (octet-stream); anything else: `{"ok":true}`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// A test CA: its PEM file and what it takes to sign server certificates.
pub struct Ca {
    pub pem_path: PathBuf,
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Ca {
    pub fn new(dir: &Path) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "credvault test CA");
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        let pem_path = dir.join("test-ca.pem");
        std::fs::write(&pem_path, issuer.pem()).unwrap();
        Self { pem_path, issuer }
    }

    /// A server certificate for localhost, 127.0.0.1 and ::1 it signed, and its key.
    fn server_cert(&self) -> (rcgen::Certificate, KeyPair) {
        let key = KeyPair::generate().unwrap();
        let params =
            CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into(), "::1".into()])
                .unwrap();
        (params.signed_by(&key, &self.issuer).unwrap(), key)
    }

    /// [`Self::server_cert`] as PEM text: (certificate, private key).
    pub fn server_pem(&self) -> (String, String) {
        let (cert, key) = self.server_cert();
        (cert.pem(), key.serialize_pem())
    }

    fn server_config(&self) -> rustls::ServerConfig {
        let (cert, key) = self.server_cert();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![CertificateDer::from(cert.der().to_vec())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )
            .unwrap()
    }
}

/// One request as the upstream received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub target: String,
    /// Lower-case names, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A running upstream on 127.0.0.1.
pub struct Upstream {
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Upstream {
    pub async fn start(ca: &Ca) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(ca.server_config()));
        let requests: Arc<Mutex<Vec<Recorded>>> = Arc::default();
        let log = requests.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let _ = tcp.set_nodelay(true);
                let acceptor = acceptor.clone();
                let log = log.clone();
                tokio::spawn(async move {
                    if let Ok(tls) = acceptor.accept(tcp).await {
                        let _ = serve_connection(tls, log).await;
                    }
                });
            }
        });
        Self {
            addr,
            requests,
            task,
        }
    }

    /// `https://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.addr.port())
    }

    /// `127.0.0.1:PORT`, as an allowed-hosts entry.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.addr.port())
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
}

async fn serve_connection(
    mut s: tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
    log: Arc<Mutex<Vec<Recorded>>>,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    loop {
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
            let mut chunk = [0u8; 8192];
            let n = s.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let mut lines = head.split("\r\n");
        let mut first = lines.next().unwrap_or_default().split(' ');
        let method = first.next().unwrap_or_default().to_owned();
        let target = first.next().unwrap_or_default().to_owned();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let len: usize = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        buf.drain(..head_end + 4);
        while buf.len() < len {
            let mut chunk = [0u8; 8192];
            let n = s.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        let body: Vec<u8> = buf.drain(..len).collect();
        let req = Recorded {
            method,
            target,
            headers,
            body,
        };
        log.lock().unwrap().push(req.clone());
        let (status, extra, ctype, payload) = respond(&req).await;
        let mut out = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: {ctype}\r\ncontent-length: {}\r\n",
            payload.len()
        );
        for (n, v) in extra {
            out.push_str(&format!("{n}: {v}\r\n"));
        }
        out.push_str("\r\n");
        let mut whole = out.into_bytes();
        if req.method != "HEAD" {
            whole.extend_from_slice(&payload);
        }
        s.write_all(&whole).await?;
        s.flush().await?;
    }
}

/// `v` (and encodings of it) HTML-escaped as error pages do: Go's
/// html/template first, then every reference style for the characters that
/// are not letters or digits, every character, and a mix with raw ones.
fn html_echoes(v: &str) -> Vec<(&'static str, String)> {
    let each = |text: &str, f: &dyn Fn(usize, char) -> Option<String>| -> String {
        text.chars()
            .enumerate()
            .map(|(i, c)| f(i, c).unwrap_or_else(|| c.to_string()))
            .collect()
    };
    let named = |c: char| {
        let name = match c {
            '/' => "sol",
            '+' => "plus",
            '=' => "equals",
            '&' => "amp",
            '-' => return None,
            '%' => "percnt",
            _ => return None,
        };
        Some(format!("&{name};"))
    };
    let special = |f: fn(u32) -> String| {
        move |_: usize, c: char| (!c.is_ascii_alphanumeric()).then(|| f(c as u32))
    };
    let go = each(v, &|_, c| {
        Some(
            match c {
                '&' => "&amp;",
                '+' => "&#43;",
                '"' => "&#34;",
                '\'' => "&#39;",
                '<' => "&lt;",
                '>' => "&gt;",
                _ => return None,
            }
            .to_owned(),
        )
    });
    let b64 = STANDARD.encode(v);
    let pct: String = url::form_urlencoded::byte_serialize(v.as_bytes()).collect();
    vec![
        ("go", go),
        ("dec", each(v, &special(|n| format!("&#{n};")))),
        ("dec0", each(v, &special(|n| format!("&#{n:06};")))),
        ("hex", each(v, &special(|n| format!("&#x{n:x};")))),
        ("HEX", each(v, &special(|n| format!("&#X{n:X};")))),
        ("hex0", each(v, &special(|n| format!("&#x{n:04X};")))),
        (
            "named",
            each(v, &|_, c| {
                named(c)
                    .or_else(|| (!c.is_ascii_alphanumeric()).then(|| format!("&#{};", c as u32)))
            }),
        ),
        ("all", each(v, &|_, c| Some(format!("&#{};", c as u32)))),
        (
            "mixed",
            each(v, &|i, c| match i % 4 {
                0 if c != '&' => None,
                1 => Some(format!("&#{};", c as u32)),
                2 => Some(format!("&#X{:x};", c as u32)),
                _ => named(c).or_else(|| Some(format!("&#x{:03x};", c as u32))),
            }),
        ),
        ("b64", each(&b64, &|_, c| named(c))),
        ("pct", each(&pct, &|_, c| named(c))),
    ]
}

fn query(target: &str, key: &str) -> Option<String> {
    let q = target.split_once('?')?.1;
    url::form_urlencoded::parse(q.as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// The credential the request carried (Authorization bearer or an api-key header).
fn credential(req: &Recorded) -> String {
    if let Some(a) = req.header("authorization") {
        return a.strip_prefix("Bearer ").unwrap_or(a).to_owned();
    }
    for h in ["x-api-key", "private-token", "x-acme-key", "api-key"] {
        if let Some(v) = req.header(h) {
            return v.to_owned();
        }
    }
    String::new()
}

type Reply = (u16, Vec<(String, String)>, &'static str, Vec<u8>);

async fn respond(req: &Recorded) -> Reply {
    let path = req.target.split('?').next().unwrap_or_default();
    let json_reply = |status: u16, v: Value| {
        (
            status,
            vec![],
            "application/json",
            v.to_string().into_bytes(),
        )
    };
    match path {
        "/echo" => {
            let headers: serde_json::Map<String, Value> = req
                .headers
                .iter()
                .map(|(n, v)| (n.clone(), json!(v)))
                .collect();
            let mut r = json_reply(
                200,
                json!({
                    "method": req.method, "target": req.target, "headers": headers,
                    "body": String::from_utf8_lossy(&req.body),
                }),
            );
            r.1 = req
                .headers
                .iter()
                .map(|(n, v)| (format!("x-echo-{n}"), v.clone()))
                .collect();
            r
        }
        "/html" => {
            let v = credential(req);
            let mut page = String::from("<html><body><h1>401 Unauthorized</h1>\n");
            for (id, text) in html_echoes(&v) {
                page.push_str(&format!("<p id=\"{id}\">{text}</p>\n"));
            }
            page.push_str("</body></html>\n");
            let go = html_echoes(&v).swap_remove(0).1;
            (
                401,
                vec![("x-leak-html".into(), go)],
                "text/html; charset=utf-8",
                page.into_bytes(),
            )
        }
        "/leak" => {
            let v = credential(req);
            let b = v.as_bytes();
            let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
            let body = json!({
                "raw": v,
                "b64": STANDARD.encode(b),
                "b64url": URL_SAFE_NO_PAD.encode(b),
                "basic": STANDARD.encode(format!("user:{v}")),
                "basic_shifted": STANDARD.encode(format!("ab{v}cd")),
                "pct": url::form_urlencoded::byte_serialize(b).collect::<String>(),
                "hex": hex, "HEX": hex.to_uppercase(),
                "in_text": format!("your key is {v}!"),
                "escaped": serde_json::to_string(&v).unwrap(),
            });
            let mut r = json_reply(200, body);
            r.1 = vec![
                ("x-leak".into(), v.clone()),
                ("x-leak-b64".into(), STANDARD.encode(b)),
                ("set-cookie".into(), format!("session={v}")),
                (
                    "www-authenticate".into(),
                    format!("Basic realm=\"{}\"", STANDARD.encode(format!("user:{v}"))),
                ),
            ];
            r
        }
        "/redirect" => (
            302,
            vec![(
                "location".into(),
                query(&req.target, "to").unwrap_or_default(),
            )],
            "text/plain",
            b"moved".to_vec(),
        ),
        "/delay" => {
            let ms: u64 = query(&req.target, "ms")
                .and_then(|m| m.parse().ok())
                .unwrap_or(1000);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            (200, vec![], "text/plain", b"slow".to_vec())
        }
        "/big" => {
            let n: usize = query(&req.target, "n")
                .and_then(|m| m.parse().ok())
                .unwrap_or(2 << 20);
            let mut body = vec![b'a'; n];
            if let Some(at) = query(&req.target, "leak_at").and_then(|m| m.parse::<usize>().ok()) {
                let v = credential(req);
                body[at..at + v.len()].copy_from_slice(v.as_bytes());
            }
            (200, vec![], "text/plain; charset=utf-8", body)
        }
        "/status" => {
            let code: u16 = query(&req.target, "code")
                .and_then(|m| m.parse().ok())
                .unwrap_or(500);
            json_reply(
                code,
                json!({"error": {"message": "upstream says no", "code": code}}),
            )
        }
        "/bin" => (200, vec![], "application/octet-stream", vec![0u8; 1000]),
        _ => json_reply(200, json!({"ok": true, "target": req.target})),
    }
}
