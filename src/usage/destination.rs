//! Where a value may go: the allowed-hosts entries bound to it, the request
//! URL checked against them, and the address rule applied when a host name is
//! resolved (no loopback, private, link-local, … unless the person who stored
//! the value named that address or `localhost` on purpose).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use url::{Host, Url};

use crate::catalog;
use crate::model::bounded;

pub use crate::model::MAX_ALLOWED_HOSTS;

/// One allowed-hosts entry: a host, and a port when it was listed with one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostEntry {
    host: Host<String>,
    port: Option<u16>,
}

impl HostEntry {
    /// Parses `host`, `host:port`, `1.2.3.4`, `[::1]:8443`; lower-cases and
    /// IDNA-normalises names. The error says what is wrong.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let s = raw.trim();
        if s.is_empty() {
            return Err("must not be empty".into());
        }
        if s.len() > 260 {
            return Err("must be at most 260 characters".into());
        }
        if s.contains(['/', '@', '?', '#', '\\']) || s.chars().any(char::is_whitespace) {
            return Err("must be a host or host:port, without scheme, path or credentials".into());
        }
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (h, after) = rest
                .split_once(']')
                .ok_or_else(|| "an IPv6 address needs a closing ]".to_owned())?;
            (
                format!("[{h}]"),
                after
                    .strip_prefix(':')
                    .map(str::to_owned)
                    .or_else(|| (!after.is_empty()).then(|| "x".into())),
            )
        } else if s.matches(':').count() > 1 {
            (format!("[{s}]"), None)
        } else {
            match s.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), Some(p.to_owned())),
                None => (s.to_owned(), None),
            }
        };
        let port = match port {
            None => None,
            Some(p) => Some(
                p.parse::<u16>()
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or_else(|| "port must be a number 1..=65535".to_owned())?,
            ),
        };
        let host = Host::parse(&host.to_lowercase()).map_err(|e| format!("invalid host: {e}"))?;
        if let Host::Domain(d) = &host
            && (d.is_empty() || d.starts_with('.') || d.ends_with('.'))
        {
            return Err("invalid host name".into());
        }
        Ok(Self { host, port })
    }

    /// Whether a URL's host and port fall under this entry.
    pub fn admits(&self, host: &Host<&str>, port: u16) -> bool {
        let same = match (&self.host, host) {
            (Host::Domain(a), Host::Domain(b)) => a.eq_ignore_ascii_case(b),
            (Host::Ipv4(a), Host::Ipv4(b)) => a == b,
            (Host::Ipv6(a), Host::Ipv6(b)) => a == b,
            _ => false,
        };
        same && self.port.is_none_or(|p| p == port)
    }
}

impl std::fmt::Display for HostEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.port {
            Some(p) => write!(f, "{}:{p}", self.host),
            None => write!(f, "{}", self.host),
        }
    }
}

/// The hosts a credential of `service` may be sent to: the list stored with
/// the value, else the catalog base URL's host (none for `custom.*` and for
/// azure-openai, whose host is per resource).
pub fn effective_hosts(service: &str, stored: &[String]) -> Vec<String> {
    if !stored.is_empty() {
        return stored.to_vec();
    }
    catalog_host(service).into_iter().collect()
}

fn catalog_host(service: &str) -> Option<String> {
    if service == "azure-openai" {
        return None;
    }
    let p = catalog::provider(service)?;
    Url::parse(p.base_url).ok()?.host_str().map(str::to_owned)
}

/// Why a destination was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The URL itself is unusable (422): not https, malformed, credentials in it.
    Invalid(String),
    /// The host is not bound to this value (403).
    NotAllowed(String),
}

/// Builds the request URL from the caller's `url` (absolute `https://` or a
/// path starting with `/`) and checks it against `hosts`.
pub fn target(service: &str, hosts: &[String], url: &str) -> Result<Url, Refusal> {
    let entries: Vec<HostEntry> = hosts
        .iter()
        .filter_map(|h| HostEntry::parse(h).ok())
        .collect();
    let listed = || {
        if entries.is_empty() {
            "none: store the credential again with allowed_hosts".to_owned()
        } else {
            entries
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let absolute = if url.starts_with('/') && !url.starts_with("//") {
        let base = match catalog::provider(service) {
            Some(p)
                if catalog_host(service).is_some_and(|h| {
                    Host::parse(&h).is_ok_and(|h| entries.iter().any(|e| e.host == h))
                }) =>
            {
                p.base_url.trim_end_matches('/').to_owned()
            }
            _ => match entries.first() {
                Some(e) => format!("https://{e}"),
                None => {
                    return Err(Refusal::NotAllowed(format!(
                        "this credential has no allowed hosts (allowed: {})",
                        listed()
                    )));
                }
            },
        };
        format!("{base}{url}")
    } else {
        url.to_owned()
    };
    let parsed = Url::parse(&absolute).map_err(|e| {
        Refusal::Invalid(format!(
            "not a valid URL ({e}); give https://host/path or /path"
        ))
    })?;
    if parsed.scheme() != "https" {
        return Err(Refusal::Invalid(format!(
            "only https:// URLs are allowed (got {}://)",
            bounded(parsed.scheme(), 16)
        )));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(Refusal::Invalid(
            "a URL must not carry user name or password".into(),
        ));
    }
    let host = parsed
        .host()
        .ok_or_else(|| Refusal::Invalid("the URL has no host".into()))?;
    let port = parsed.port_or_known_default().unwrap_or(443);
    if !entries.iter().any(|e| e.admits(&host, port)) {
        return Err(Refusal::NotAllowed(format!(
            "{}:{port} is not an allowed host for this credential (allowed: {}); nothing was sent",
            bounded(&host.to_string(), 255),
            listed()
        )));
    }
    Ok(parsed)
}

/// Why an address may not be connected to through a host name, or `None`
/// when it is a public address.
pub fn forbidden(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return forbidden_v4(v4);
            }
            let s = v6.segments();
            // IPv4-compatible (::a.b.c.d), IPv4-translated (::ffff:0:a.b.c.d)
            // and NAT64 (64:ff9b::/96) embed an IPv4 address in the last 32 bits.
            if (s[..6] == [0; 6] && !v6.is_loopback() && !v6.is_unspecified())
                || s[..6] == [0, 0, 0, 0, 0xffff, 0]
                || s[..6] == [0x64, 0xff9b, 0, 0, 0, 0]
            {
                let [a, b] = s[6].to_be_bytes();
                let [c, d] = s[7].to_be_bytes();
                return forbidden_v4(Ipv4Addr::new(a, b, c, d));
            }
            // 6to4 (2002::/16) carries one in segments 1 and 2.
            if s[0] == 0x2002 {
                let [a, b] = s[1].to_be_bytes();
                let [c, d] = s[2].to_be_bytes();
                if let Some(why) = forbidden_v4(Ipv4Addr::new(a, b, c, d)) {
                    return Some(why);
                }
            }
            forbidden_v6(v6)
        }
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b) {
        _ if ip.is_loopback() => "loopback",
        (0, _) => "unspecified",
        (10, _) | (192, 168) => "private",
        (172, 16..=31) => "private",
        (169, 254) => "link-local or cloud metadata",
        (100, 64..=127) => "carrier-grade NAT",
        (192, 0) if c == 0 => "IETF protocol assignment",
        (198, 18..=19) => "benchmarking",
        (224..=239, _) => "multicast",
        (240..=255, _) => "reserved or broadcast",
        _ => return None,
    })
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    Some(match s[0] {
        _ if ip.is_loopback() => "loopback",
        _ if ip.is_unspecified() => "unspecified",
        x if x & 0xfe00 == 0xfc00 => "unique-local (private)",
        x if x & 0xffc0 == 0xfe80 => "link-local",
        x if x & 0xffc0 == 0xfec0 => "site-local",
        x if x & 0xff00 == 0xff00 => "multicast",
        0x100 if s[1..4] == [0, 0, 0] => "discard-only",
        // Local-use NAT64 (64:ff9b:1::/48) and Teredo (2001::/32): the IPv4
        // address they lead to is not checkable here.
        0x64 if s[1] == 0xff9b && s[2] == 1 => "local-use NAT64",
        0x2001 if s[1] == 0 => "Teredo tunnel",
        _ => return None,
    })
}

/// A host name resolved to an address credvault will not connect to.
#[derive(Debug)]
pub struct RefusedAddress {
    /// The host name.
    pub host: String,
    /// The address it resolved to.
    pub ip: IpAddr,
    /// Which kind of address it is.
    pub why: &'static str,
}

impl std::fmt::Display for RefusedAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} resolves to {} ({} address): refused; list that IP itself in allowed_hosts if you mean it",
            self.host, self.ip, self.why
        )
    }
}

impl std::error::Error for RefusedAddress {}

/// The resolver every call_api connection uses: resolves once, refuses
/// non-public addresses (except for `localhost`, which only reaches here when
/// the person listed it), and hands the checked addresses to the connector, so
/// there is no second lookup to rebind.
#[derive(Debug, Default)]
pub struct CheckedResolver;

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let refused = addrs
                .iter()
                .find_map(|a| forbidden(a.ip()).map(|w| (a.ip(), w)));
            if let Some((ip, why)) = refused
                && !host.eq_ignore_ascii_case("localhost")
            {
                return Err(Box::new(RefusedAddress { host, ip, why })
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Finds a [`RefusedAddress`] in an error's source chain.
pub fn refused_in<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a RefusedAddress> {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if let Some(r) = e.downcast_ref::<RefusedAddress>() {
            return Some(r);
        }
        cur = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(h: &[&str]) -> Vec<String> {
        h.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn entries_parse_and_normalise() {
        for (raw, shown) in [
            ("API.Acme.dev", "api.acme.dev"),
            ("api.acme.dev:8443", "api.acme.dev:8443"),
            ("127.0.0.1:443", "127.0.0.1:443"),
            ("[::1]:9000", "[::1]:9000"),
            ("::1", "[::1]"),
            ("localhost", "localhost"),
            ("bücher.example", "xn--bcher-kva.example"),
        ] {
            assert_eq!(HostEntry::parse(raw).unwrap().to_string(), shown, "{raw}");
        }
        for bad in [
            "",
            "https://a.com",
            "a.com/x",
            "u@a.com",
            "a.com:0",
            "a.com:99999",
            "a .com",
            "[::1",
            "[::1]x",
            ".a.com",
        ] {
            assert!(HostEntry::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn urls_resolve_against_the_catalog_or_first_host() {
        let openai = effective_hosts("openai", &[]);
        assert_eq!(openai, ["api.openai.com"]);
        assert_eq!(
            target("openai", &openai, "/models").unwrap().as_str(),
            "https://api.openai.com/v1/models"
        );
        let acme = hosts(&["api.acme.dev", "b.acme.dev"]);
        assert_eq!(
            target("custom.acme", &acme, "/x?y=1").unwrap().as_str(),
            "https://api.acme.dev/x?y=1"
        );
        assert!(effective_hosts("azure-openai", &[]).is_empty());
        assert!(effective_hosts("custom.acme", &[]).is_empty());
        assert!(matches!(
            target("custom.acme", &[], "/x"),
            Err(Refusal::NotAllowed(_))
        ));
        // An explicit list replaces the catalog host.
        let proxy = hosts(&["127.0.0.1:8443"]);
        assert_eq!(
            target("openai", &proxy, "/models").unwrap().as_str(),
            "https://127.0.0.1:8443/models"
        );
        assert!(matches!(
            target("openai", &proxy, "https://api.openai.com/v1/models"),
            Err(Refusal::NotAllowed(_))
        ));
    }

    #[test]
    fn hosts_ports_and_schemes_are_enforced() {
        let h = hosts(&["api.acme.dev", "127.0.0.1:8443"]);
        assert!(
            target("custom.a", &h, "https://API.ACME.dev:444/x").is_ok(),
            "no port listed: any port"
        );
        assert!(target("custom.a", &h, "https://127.0.0.1:8443/").is_ok());
        for (url, invalid) in [
            ("https://127.0.0.1:8444/", false),
            ("https://api.acme.dev.evil.com/", false),
            ("https://evil.com/api.acme.dev", false),
            ("https://2130706433:8444/", false),
            ("http://api.acme.dev/", true),
            ("ftp://api.acme.dev/", true),
            ("https://u:p@api.acme.dev/", true),
            ("//api.acme.dev/x", true),
            ("api.acme.dev/x", true),
        ] {
            let r = target("custom.a", &h, url);
            match r {
                Err(Refusal::Invalid(_)) if invalid => {}
                Err(Refusal::NotAllowed(_)) if !invalid => {}
                other => panic!("{url}: {other:?}"),
            }
        }
        // The decimal form of 127.0.0.1 is the same address as the listed literal.
        let h = hosts(&["127.0.0.1:8443"]);
        assert!(target("custom.a", &h, "https://2130706433:8443/").is_ok());
    }

    #[test]
    fn non_public_addresses_are_refused() {
        for ip in [
            "127.0.0.1",
            "127.1.2.3",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "fe80::1",
            "fc00::1",
            "fd00:ec2::254",
            "ff02::1",
            "::ffff:0:7f00:1",
            "2002:7f00:1::",
            "2002:a9fe:a9fe::1",
            "64:ff9b:1::a",
            "2001:0:4136:e378::1",
        ] {
            assert!(forbidden(ip.parse().unwrap()).is_some(), "{ip}");
        }
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(forbidden(ip.parse().unwrap()).is_none(), "{ip}");
        }
    }
}
