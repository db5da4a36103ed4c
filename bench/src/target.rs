//! Where the load goes: a `ws://` URL on a loopback address, and the loopback source
//! addresses client sockets bind to. Anything else is refused before a socket is opened.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use crate::BenchError;

/// The most source addresses a range may name.
const MAX_SOURCES: usize = 256;

/// A parsed `ws://host:port/path?query` on loopback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The socket address connected to.
    pub addr: SocketAddr,
    /// The `Host` header value (`host:port` as written).
    pub host: String,
    /// The request target: path and query, at least `/`.
    pub path: String,
}

impl Target {
    /// Parses `url`, refusing schemes other than `ws`, host names other than `localhost` and
    /// addresses outside the loopback range.
    pub fn parse(url: &str) -> Result<Target, BenchError> {
        let rest = url
            .strip_prefix("ws://")
            .ok_or_else(|| usage(format!("{url}: only ws:// URLs are supported")))?;
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) if rest.as_bytes()[i] == b'?' => (&rest[..i], format!("/{}", &rest[i..])),
            Some(i) => (&rest[..i], rest[i..].to_owned()),
            None => (rest, "/".to_owned()),
        };
        let addr = parse_authority(authority).map_err(|why| usage(format!("{url}: {why}")))?;
        if !addr.ip().is_loopback() {
            return Err(usage(format!(
                "{url}: {} is not a loopback address; berth-load only targets this machine",
                addr.ip()
            )));
        }
        Ok(Target {
            addr,
            host: authority.to_owned(),
            path,
        })
    }

    /// The same server with another request target (path and query).
    pub fn with_path(&self, path: &str) -> Target {
        Target {
            path: path.to_owned(),
            ..self.clone()
        }
    }
}

fn parse_authority(authority: &str) -> Result<SocketAddr, String> {
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => (host, Some(port)),
        _ => (authority, None),
    };
    let port = match port {
        Some(p) => p.parse::<u16>().map_err(|_| format!("bad port {p:?}"))?,
        None => 80,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let ip = if host.eq_ignore_ascii_case("localhost") {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        host.parse::<IpAddr>()
            .map_err(|_| format!("{host:?} is not an IP address (no DNS: loopback only)"))?
    };
    Ok(SocketAddr::new(ip, port))
}

/// Parses the source addresses client sockets bind to: `127.0.0.1..127.0.0.8` (a range in
/// the last octet), a comma list, or one address. Every address must be loopback.
pub fn parse_sources(spec: &str) -> Result<Vec<IpAddr>, BenchError> {
    let mut sources = Vec::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once("..") {
            Some((first, last)) => sources.extend(range(first, last)?),
            None => sources.push(
                part.parse::<IpAddr>()
                    .map_err(|_| usage(format!("{part:?} is not an IP address")))?,
            ),
        }
    }
    if sources.is_empty() || sources.len() > MAX_SOURCES {
        return Err(usage(format!(
            "{spec:?}: name between 1 and {MAX_SOURCES} source addresses"
        )));
    }
    if let Some(bad) = sources.iter().find(|ip| !ip.is_loopback()) {
        return Err(usage(format!("source {bad} is not a loopback address")));
    }
    Ok(sources)
}

fn range(first: &str, last: &str) -> Result<Vec<IpAddr>, BenchError> {
    let parse = |s: &str| {
        s.trim()
            .parse::<Ipv4Addr>()
            .map_err(|_| usage(format!("{s:?} is not an IPv4 address")))
    };
    let (first, last) = (parse(first)?, parse(last)?);
    let (a, b) = (first.octets(), last.octets());
    if a[..3] != b[..3] || a[3] > b[3] {
        return Err(usage(format!(
            "{first}..{last}: a range varies only the last octet, upwards"
        )));
    }
    Ok((a[3]..=b[3])
        .map(|o| IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], o)))
        .collect())
}

fn usage(message: String) -> BenchError {
    BenchError::Usage(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_urls_parse_with_path_and_query() {
        let t = Target::parse("ws://127.0.0.1:8080/chat/rooms/bench?name=a").expect("valid");
        assert_eq!(t.addr, "127.0.0.1:8080".parse().expect("addr"));
        assert_eq!(t.host, "127.0.0.1:8080");
        assert_eq!(t.path, "/chat/rooms/bench?name=a");
        assert_eq!(Target::parse("ws://localhost:9").expect("valid").path, "/");
        assert_eq!(Target::parse("ws://[::1]:9/x").expect("valid").path, "/x");
        assert_eq!(
            Target::parse("ws://127.0.0.1:9?q").expect("valid").path,
            "/?q"
        );
    }

    #[test]
    fn anything_off_this_machine_is_refused() {
        for url in [
            "ws://10.0.0.1:80/",
            "ws://192.168.1.2/",
            "ws://8.8.8.8:80/",
            "ws://example.com/",
            "wss://127.0.0.1/",
            "http://127.0.0.1/",
        ] {
            assert!(Target::parse(url).is_err(), "{url} must be refused");
        }
    }

    #[test]
    fn source_ranges_expand_and_must_be_loopback() {
        let s = parse_sources("127.0.0.2..127.0.0.4").expect("range");
        assert_eq!(s.len(), 3);
        assert_eq!(s[2], IpAddr::V4(Ipv4Addr::new(127, 0, 0, 4)));
        assert_eq!(parse_sources("127.0.0.1,::1").expect("list").len(), 2);
        assert!(parse_sources("10.0.0.1").is_err());
        assert!(parse_sources("127.0.0.9..127.0.0.2").is_err());
        assert!(parse_sources("").is_err());
    }
}
