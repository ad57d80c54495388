//! The hosts and origins a request may name (DNS-rebinding protection):
//! loopback always, others only as `--allow-origin` lists them.

use crate::net::authority::{host_of, is_loopback_name, strict_host};

/// Hosts and origins accepted besides loopback (`--allow-origin`).
#[derive(Debug, Clone, Default)]
pub struct Allowed {
    hosts: Vec<String>,
    origins: Vec<String>,
}

impl Allowed {
    /// From `--allow-origin` values: `scheme://host[:port]` allows that origin
    /// and its host; a bare `host` allows the host.
    pub fn new(entries: &[String]) -> Self {
        let mut a = Self::default();
        for e in entries {
            let e = e.trim().trim_end_matches('/').to_ascii_lowercase();
            match e.split_once("://") {
                Some((_, rest)) => {
                    a.origins.push(e.clone());
                    a.add_host(host_of(rest));
                }
                None => a.add_host(host_of(&e)),
            }
        }
        a
    }

    /// Accepts `host` (no port) in `Host` headers.
    pub fn add_host(&mut self, host: &str) {
        self.hosts
            .push(host.trim_matches(['[', ']']).to_ascii_lowercase());
    }

    pub(super) fn host_ok(&self, authority: &str) -> bool {
        let Some(host) = strict_host(authority) else {
            return false;
        };
        is_loopback_name(&host) || self.hosts.contains(&host)
    }

    pub(super) fn origin_ok(&self, origin: &str) -> bool {
        let origin = origin.trim().to_ascii_lowercase();
        let Some((scheme, rest)) = origin.split_once("://") else {
            return false;
        };
        if !matches!(scheme, "http" | "https") {
            return false;
        }
        let Some(host) = strict_host(rest) else {
            return false;
        };
        is_loopback_name(&host)
            || self
                .origins
                .iter()
                .any(|o| *o == origin || with_default_port(o) == with_default_port(&origin))
    }
}

fn with_default_port(origin: &str) -> String {
    match origin.split_once("://") {
        Some((scheme, rest))
            if !rest.trim_start_matches('[').contains(':') || rest.ends_with(']') =>
        {
            format!("{origin}:{}", if scheme == "https" { 443 } else { 80 })
        }
        _ => origin.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_origins() {
        let a = Allowed::new(&["https://app.example.com".into(), "lan.local".into()]);
        for ok in [
            "localhost:3978",
            "127.0.0.1",
            "[::1]:80",
            "app.example.com",
            "lan.local:1",
        ] {
            assert!(a.host_ok(ok), "{ok}");
        }
        for bad in [
            "evil.com",
            "127.0.0.1.evil.com",
            "localhost.evil.com:3978",
            "",
            "localhost:evil.com",
            "[::1]evil",
            "[::1]:",
            "localhost:",
            "user@localhost",
            "localhost:123456",
            "[evil]:80",
        ] {
            assert!(!a.host_ok(bad), "{bad}");
        }
        for ok in [
            "http://localhost:5173",
            "http://127.0.0.1",
            "https://app.example.com",
            "https://app.example.com:443",
        ] {
            assert!(a.origin_ok(ok), "{ok}");
        }
        for bad in [
            "https://evil.com",
            "null",
            "file://x",
            "https://app.example.com:8443",
            "http://localhost.evil.com",
        ] {
            assert!(!a.origin_ok(bad), "{bad}");
        }
    }
}
