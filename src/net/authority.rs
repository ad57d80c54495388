//! Reading a `Host` or `Origin` authority strictly: what is a loopback name.

/// The lower-cased host of an authority that is exactly `host`, `host:port`,
/// `[v6]` or `[v6]:port` (port: 1–5 digits); `None` for anything else, such as
/// `localhost:evil.com`, `[::1]evil` or user info.
pub fn strict_host(authority: &str) -> Option<String> {
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
pub fn host_of(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    authority.split([':', '/']).next().unwrap_or(authority)
}

/// True for `localhost`, `::1` and `127.x` (a host already read by [`strict_host`]).
pub fn is_loopback_name(host: &str) -> bool {
    host == "localhost"
        || host == "::1"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}
