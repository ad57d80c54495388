//! The hosts and origins a request may name (DNS-rebinding protection):
//! loopback always, others only as `--allow-origin` lists them.

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

/// The lower-cased host of an authority that is exactly `host`, `host:port`,
/// `[v6]` or `[v6]:port` (port: 1–5 digits); `None` for anything else, such as
/// `localhost:evil.com`, `[::1]evil` or user info.
fn strict_host(authority: &str) -> Option<String> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (v6, after) = rest.split_once(']')?;
        v6.parse::<std::net::Ipv6Addr>().ok()?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        (v6.to_owned(), port)
    } else {
        let (h, p) = match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        };
        let valid = !h.is_empty()
            && h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
        if !valid {
            return None;
        }
        (h.to_owned(), p)
    };
    if let Some(p) = port
        && (p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    Some(host.to_ascii_lowercase())
}

/// True when `authority` is exactly a loopback host (`127.x`, `::1`, `localhost`) with an optional port.
pub fn is_loopback_authority(authority: &str) -> bool {
    strict_host(authority).is_some_and(|h| is_loopback_name(&h))
}

/// The host part of `host[:port]` or `[v6]:port`.
fn host_of(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    authority.split([':', '/']).next().unwrap_or(authority)
}

fn is_loopback_name(host: &str) -> bool {
    host == "localhost"
        || host == "::1"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
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
