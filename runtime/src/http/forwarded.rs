//! Who the client is: the `jeus.websocket.remoteAddr/remoteHost/remotePort` values.
//!
//! Without proxy headers, or when the connecting peer is not a configured trusted proxy, the
//! client is the socket peer (its port only when `> 0`). When the peer is trusted, the
//! `Forwarded` header (RFC 7239) is read — or, without it, `X-Forwarded-For` with
//! `X-Forwarded-Port` — as a chain of hops, client first; walking from the right, every hop
//! that is itself a trusted proxy is skipped and the right-most untrusted hop is the client.
//! That hop may be an address, `unknown` or an obfuscated identifier (`_hidden`); a port is
//! reported only when the hop names a numeric one. Unlike JEUS, headers from untrusted peers
//! are never believed: anyone can write them. No DNS lookups: the host is the address.
//! Pure: headers and addresses in, an answer out.

use std::net::{IpAddr, SocketAddr};

use hyper::header::HeaderMap;
use ipnet::IpNet;

/// The client as reported to the endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RemoteAddress {
    /// An IP address, `unknown`, or an obfuscated identifier.
    pub(crate) addr: String,
    /// The same as `addr`: Berth does no reverse lookups.
    pub(crate) host: String,
    /// The client's port, when known.
    pub(crate) port: Option<u16>,
}

impl RemoteAddress {
    fn of_socket(peer: SocketAddr) -> Self {
        let ip = peer.ip().to_canonical().to_string();
        RemoteAddress {
            addr: ip.clone(),
            host: ip,
            port: (peer.port() > 0).then_some(peer.port()),
        }
    }
}

/// One hop of a forwarding chain.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Hop {
    node: Node,
    port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    Ip(IpAddr),
    /// `unknown`, an obfuscated `_identifier`, or anything unparseable: never trusted.
    Opaque(String),
}

/// The client of a request from `peer` with `headers`, given the trusted proxies.
pub(crate) fn client_address(
    headers: &HeaderMap,
    peer: SocketAddr,
    trusted: &[IpNet],
) -> RemoteAddress {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(&ip.to_canonical()));
    if !is_trusted(&peer.ip()) {
        return RemoteAddress::of_socket(peer);
    }
    let Some(hops) = forwarded_hops(headers).or_else(|| x_forwarded_hops(headers)) else {
        return RemoteAddress::of_socket(peer);
    };
    let client = hops
        .iter()
        .rev()
        .find(|hop| !matches!(&hop.node, Node::Ip(ip) if is_trusted(ip)))
        .or(hops.first());
    match client {
        Some(hop) => {
            let addr = match &hop.node {
                Node::Ip(ip) => ip.to_canonical().to_string(),
                Node::Opaque(name) => name.clone(),
            };
            RemoteAddress {
                host: addr.clone(),
                addr,
                port: hop.port,
            }
        }
        None => RemoteAddress::of_socket(peer),
    }
}

/// The `for=` hops of every `Forwarded` header, in order; `None` when there are none.
fn forwarded_hops(headers: &HeaderMap) -> Option<Vec<Hop>> {
    let mut hops = Vec::new();
    for value in headers.get_all("forwarded") {
        let text = String::from_utf8_lossy(value.as_bytes());
        for element in split_outside_quotes(&text, ',') {
            let node = split_outside_quotes(element, ';')
                .into_iter()
                .find_map(|pair| {
                    let (name, value) = pair.split_once('=')?;
                    name.trim()
                        .eq_ignore_ascii_case("for")
                        .then(|| unquote(value.trim()))
                });
            if let Some(node) = node {
                hops.push(parse_node(&node));
            }
        }
    }
    (!hops.is_empty()).then_some(hops)
}

/// `X-Forwarded-For` hops, with the port from `X-Forwarded-Port` on the client-most hop.
fn x_forwarded_hops(headers: &HeaderMap) -> Option<Vec<Hop>> {
    let mut hops: Vec<Hop> = headers
        .get_all("x-forwarded-for")
        .iter()
        .flat_map(|v| {
            String::from_utf8_lossy(v.as_bytes())
                .split(',')
                .map(|s| s.trim().to_owned())
                .collect::<Vec<_>>()
        })
        .filter(|s| !s.is_empty())
        .map(|s| parse_node(&s))
        .collect();
    if hops.is_empty() {
        return None;
    }
    let port = headers
        .get("x-forwarded-port")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .and_then(|v| v.trim().parse::<u16>().ok())
        .filter(|p| *p > 0);
    if let (Some(port), Some(first)) = (port, hops.first_mut()) {
        first.port = first.port.or(Some(port));
    }
    Some(hops)
}

/// Parses a node: `192.0.2.1`, `192.0.2.1:80`, `[2001:db8::1]`, `[2001:db8::1]:4711`, a bare
/// IPv6 address (as `X-Forwarded-For` often has), `unknown`, `_obfuscated`, `host:_port`.
fn parse_node(text: &str) -> Hop {
    let opaque = |name: &str| Hop {
        node: Node::Opaque(if name.is_empty() {
            "unknown".to_owned()
        } else {
            name.to_owned()
        }),
        port: None,
    };
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Hop {
            node: Node::Ip(ip),
            port: None,
        };
    }
    let (host, port) = match text.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((host, tail)) => (host, tail.strip_prefix(':')),
            None => return opaque(text),
        },
        None => match text.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        },
    };
    let port = port.and_then(|p| p.parse::<u16>().ok()).filter(|p| *p > 0);
    match host.parse::<IpAddr>() {
        Ok(ip) => Hop {
            node: Node::Ip(ip),
            port,
        },
        Err(_) => opaque(host),
    }
}

/// Splits on `separator` where it is not inside a quoted string.
fn split_outside_quotes(text: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut quoted, mut escaped, mut start) = (false, false, 0);
    for (at, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == separator && !quoted => {
                parts.push(text[start..at].trim());
                start = at + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(text[start..].trim());
    parts.into_iter().filter(|p| !p.is_empty()).collect()
}

/// Removes surrounding quotes and backslash escapes of a quoted string.
fn unquote(value: &str) -> String {
    let Some(inner) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) else {
        return value.to_owned();
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            out.extend(chars.next());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().expect("test net")).collect()
    }

    const PROXY: &str = "10.0.0.5:40000";

    fn client(
        pairs: &[(&'static str, &'static str)],
        peer: &str,
        trusted: &[&str],
    ) -> (String, Option<u16>) {
        let found = client_address(&headers(pairs), peer.parse().expect("peer"), &nets(trusted));
        assert_eq!(found.addr, found.host);
        (found.addr, found.port)
    }

    #[test]
    fn without_headers_the_socket_peer_is_the_client() {
        assert_eq!(
            client(&[], "192.0.2.9:5555", &[]),
            ("192.0.2.9".into(), Some(5555))
        );
        assert_eq!(
            client(&[], "[::ffff:192.0.2.9]:1", &[]),
            ("192.0.2.9".into(), Some(1))
        );
    }

    #[test]
    fn headers_from_an_untrusted_peer_are_ignored() {
        let spoof = [("x-forwarded-for", "1.2.3.4"), ("forwarded", "for=1.2.3.4")];
        assert_eq!(
            client(&spoof, "192.0.2.9:5555", &["10.0.0.0/8"]),
            ("192.0.2.9".into(), Some(5555))
        );
    }

    #[test]
    fn a_trusted_proxy_is_believed_for_x_forwarded_for() {
        assert_eq!(
            client(
                &[("x-forwarded-for", "203.0.113.7")],
                PROXY,
                &["10.0.0.0/8"]
            ),
            ("203.0.113.7".into(), None)
        );
        let with_port = [
            ("x-forwarded-for", "203.0.113.7"),
            ("x-forwarded-port", "51000"),
        ];
        assert_eq!(
            client(&with_port, PROXY, &["10.0.0.0/8"]),
            ("203.0.113.7".into(), Some(51000))
        );
        let v6 = [("x-forwarded-for", "2001:db8::7")];
        assert_eq!(
            client(&v6, PROXY, &["10.0.0.0/8"]),
            ("2001:db8::7".into(), None)
        );
    }

    #[test]
    fn the_right_most_untrusted_hop_wins() {
        // A client can prepend anything; only what trusted proxies appended is believed.
        let chain = [("x-forwarded-for", "6.6.6.6, 203.0.113.7, 10.0.0.9")];
        assert_eq!(
            client(&chain, PROXY, &["10.0.0.0/8"]),
            ("203.0.113.7".into(), None)
        );
        let all_trusted = [("x-forwarded-for", "10.0.0.1, 10.0.0.2")];
        assert_eq!(
            client(&all_trusted, PROXY, &["10.0.0.0/8"]),
            ("10.0.0.1".into(), None)
        );
    }

    #[test]
    fn forwarded_handles_quoted_bracketed_ipv6_with_a_port() {
        let value = [(
            "forwarded",
            "for=\"[2001:db8::1]:4711\";proto=http;by=10.0.0.5",
        )];
        assert_eq!(
            client(&value, PROXY, &["10.0.0.0/8"]),
            ("2001:db8::1".into(), Some(4711))
        );
    }

    #[test]
    fn forwarded_wins_over_x_forwarded_for_and_spans_several_headers() {
        let both = [
            ("x-forwarded-for", "198.51.100.1"),
            ("forwarded", "for=192.0.2.60:80"),
        ];
        assert_eq!(
            client(&both, PROXY, &["10.0.0.0/8"]),
            ("192.0.2.60".into(), Some(80))
        );
        let split = [
            ("forwarded", "for=192.0.2.43"),
            ("forwarded", "for=10.0.0.7, For=\"10.0.0.8\""),
        ];
        assert_eq!(
            client(&split, PROXY, &["10.0.0.0/8"]),
            ("192.0.2.43".into(), None)
        );
    }

    #[test]
    fn unknown_and_obfuscated_nodes_and_ports() {
        assert_eq!(
            client(&[("forwarded", "for=unknown")], PROXY, &["10.0.0.0/8"]),
            ("unknown".into(), None)
        );
        assert_eq!(
            client(&[("forwarded", "for=_hidden")], PROXY, &["10.0.0.0/8"]),
            ("_hidden".into(), None)
        );
        let obfuscated_port = [("forwarded", "for=\"192.0.2.43:_port\"")];
        assert_eq!(
            client(&obfuscated_port, PROXY, &["10.0.0.0/8"]),
            ("192.0.2.43".into(), None)
        );
        let quoted_comma = [("forwarded", "for=\"_a,b\";by=x, for=192.0.2.1")];
        assert_eq!(
            client(&quoted_comma, PROXY, &["10.0.0.0/8"]),
            ("192.0.2.1".into(), None)
        );
    }

    #[test]
    fn a_trusted_peer_without_usable_headers_is_the_client() {
        assert_eq!(
            client(&[("forwarded", "proto=https")], PROXY, &["10.0.0.0/8"]),
            ("10.0.0.5".into(), Some(40000))
        );
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn header_map(forwarded: &str, xff: &str, port: &str) -> HeaderMap {
            let mut map = HeaderMap::new();
            for (name, value) in [
                ("forwarded", forwarded),
                ("x-forwarded-for", xff),
                ("x-forwarded-port", port),
            ] {
                if let Ok(value) = HeaderValue::from_str(value) {
                    map.insert(name, value);
                }
            }
            map
        }

        proptest! {
            #[test]
            fn an_untrusted_peer_is_always_the_client(
                forwarded in "[ -~]{0,80}",
                xff in "[ -~]{0,80}",
                port in "[ -~]{0,8}",
            ) {
                let peer: SocketAddr = "192.0.2.9:7".parse().expect("peer");
                let found = client_address(&header_map(&forwarded, &xff, &port), peer, &nets(&["10.0.0.0/8"]));
                prop_assert_eq!(found, RemoteAddress::of_socket(peer));
            }

            #[test]
            fn a_trusted_peer_yields_a_named_client_and_never_port_zero(
                forwarded in "[ -~]{0,80}",
                xff in "[ -~]{0,80}",
                port in "[ -~]{0,8}",
            ) {
                let peer: SocketAddr = "10.0.0.5:1".parse().expect("peer");
                let found = client_address(&header_map(&forwarded, &xff, &port), peer, &nets(&["10.0.0.0/8"]));
                prop_assert!(!found.addr.is_empty());
                prop_assert_ne!(found.port, Some(0));
            }
        }
    }
}
