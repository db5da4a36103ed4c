//! Who the client is: the `jeus.websocket.remoteAddr/remoteHost/remotePort` values.
//!
//! Without proxy headers, or when the connecting peer is not a configured trusted proxy, the
//! client is the socket peer (its port only when `> 0`). When the peer is trusted, the
//! `Forwarded` header (RFC 7239) is read — or, when it has no `for=`, `X-Forwarded-For` with
//! `X-Forwarded-Port` — as a chain of hops, client first. Walking from the right, every hop
//! that is itself a trusted proxy is skipped and the right-most untrusted hop is the client;
//! the hops left of it were written by the client itself and are not even read.
//!
//! Every hop walked must be an IP literal with an optional port (`192.0.2.1`,
//! `192.0.2.1:80`, `[2001:db8::1]:4711`; a bare `2001:db8::1` only in `X-Forwarded-For`), or
//! `unknown` or an obfuscated identifier (`_hidden`): those two mean the proxy hides the
//! client, and then there is no address at all. Anything else — markup, `999.1.1.1`, a host
//! name, an empty hop — means the proxy's headers cannot be believed, and the client is the
//! socket peer (logged at debug). A port is 1 to 5 digits from 1 to 65535 (an obfuscated port
//! means none); an `X-Forwarded-Port` that is not one is ignored. Unlike JEUS, headers from
//! untrusted peers are never believed: anyone can write them. No DNS lookups: the host is the
//! address. Pure but for the debug log: headers and addresses in, an answer out.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use hyper::header::{HeaderMap, HeaderValue};
use ipnet::IpNet;

use crate::text::split_outside_quotes;

#[cfg(test)]
mod tests;

pub(crate) use crate::session::RemoteAddress;

/// One hop of a forwarding chain.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Hop {
    node: Node,
    port: Option<u16>,
}

impl From<Hop> for RemoteAddress {
    fn from(hop: Hop) -> Self {
        match hop.node {
            Node::Ip(ip) => RemoteAddress {
                addr: Some(ip.to_canonical()),
                port: hop.port,
            },
            Node::Hidden => RemoteAddress::HIDDEN,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    Ip(IpAddr),
    /// `unknown` or an obfuscated `_identifier`: the proxy hides the client.
    Hidden,
}

/// Which header a chain comes from: they write IPv6 addresses differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Syntax {
    /// RFC 7239: IPv6 only in brackets.
    Forwarded,
    /// De facto: bare IPv6 too.
    XForwardedFor,
}

/// The hops of one header, client first, not yet parsed.
#[derive(Debug)]
struct Chain {
    nodes: Vec<String>,
    syntax: Syntax,
    /// `X-Forwarded-Port`: the port of the client-most hop, when that hop has none.
    first_port: Option<u16>,
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
    let Some(chain) = forwarded_chain(headers).or_else(|| x_forwarded_chain(headers)) else {
        return RemoteAddress::of_socket(peer);
    };
    match chain.client(is_trusted) {
        Ok(hop) => hop.into(),
        Err(node) => {
            tracing::debug!(%peer, node = ?shortened(node), syntax = ?chain.syntax, "proxy headers not believed: a hop is not an IP address, unknown or an obfuscated identifier");
            RemoteAddress::of_socket(peer)
        }
    }
}

impl Chain {
    /// The right-most hop that is not a trusted proxy (the left-most when all are), or the
    /// first hop on the way there that is not a valid node.
    fn client(&self, is_trusted: impl Fn(&IpAddr) -> bool) -> Result<Hop, &str> {
        let mut client = Err("");
        for (index, text) in self.nodes.iter().enumerate().rev() {
            let mut hop = parse_node(text, self.syntax).ok_or(text.as_str())?;
            if index == 0 {
                hop.port = hop.port.or(self.first_port);
            }
            let is_proxy = matches!(&hop.node, Node::Ip(ip) if is_trusted(ip));
            client = Ok(hop);
            if !is_proxy {
                break;
            }
        }
        client
    }
}

/// The `for=` nodes of every `Forwarded` header, in order; `None` when there are none.
fn forwarded_chain(headers: &HeaderMap) -> Option<Chain> {
    let mut nodes = Vec::new();
    for value in headers.get_all("forwarded") {
        let text = String::from_utf8_lossy(value.as_bytes());
        for element in split_outside_quotes(&text, ',') {
            let node = split_outside_quotes(element, ';').find_map(|pair| {
                let (name, value) = pair.split_once('=')?;
                name.trim()
                    .eq_ignore_ascii_case("for")
                    .then(|| unquote(value.trim()))
            });
            nodes.extend(node);
        }
    }
    (!nodes.is_empty()).then_some(Chain {
        nodes,
        syntax: Syntax::Forwarded,
        first_port: None,
    })
}

/// The `X-Forwarded-For` nodes (empty ones included: they are not valid), with
/// `X-Forwarded-Port`; `None` without the header.
fn x_forwarded_chain(headers: &HeaderMap) -> Option<Chain> {
    let nodes: Vec<String> = headers
        .get_all("x-forwarded-for")
        .iter()
        .flat_map(|v| {
            String::from_utf8_lossy(v.as_bytes())
                .split(',')
                .map(|s| s.trim().to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    (!nodes.is_empty()).then(|| Chain {
        nodes,
        syntax: Syntax::XForwardedFor,
        first_port: headers.get("x-forwarded-port").and_then(x_forwarded_port),
    })
}

/// The first port of an `X-Forwarded-Port` list, when it is a valid port number.
fn x_forwarded_port(value: &HeaderValue) -> Option<u16> {
    let text = String::from_utf8_lossy(value.as_bytes());
    let first = text.split(',').next().unwrap_or_default().trim();
    let port = strict_port(first);
    if port.is_none() {
        tracing::debug!(value = ?shortened(&text), "X-Forwarded-Port ignored: not a port from 1 to 65535");
    }
    port
}

/// Parses a node (RFC 7239 §6): `192.0.2.1`, `192.0.2.1:80`, `[2001:db8::1]`,
/// `[2001:db8::1]:4711`, `unknown`, `_obfuscated`, each with an optional `:port` or `:_port`;
/// in `X-Forwarded-For` also a bare IPv6 address. `None` for anything else.
fn parse_node(text: &str, syntax: Syntax) -> Option<Hop> {
    if syntax == Syntax::XForwardedFor
        && let Ok(ip) = text.parse::<Ipv6Addr>()
    {
        return Some(Hop {
            node: Node::Ip(IpAddr::V6(ip)),
            port: None,
        });
    }
    let (name, port) = split_port(text)?;
    let node = node_name(name)?;
    let port = match port {
        Some(port) if is_obfuscated(port) => None,
        Some(port) => Some(strict_port(port)?),
        None => None,
    };
    Some(Hop { node, port })
}

/// Splits `name[:port]`, where an IPv6 name is in brackets.
fn split_port(text: &str) -> Option<(&str, Option<&str>)> {
    let name_end = match text.strip_prefix('[') {
        Some(rest) => rest.find(']')? + "[]".len(),
        None => text.find(':').unwrap_or(text.len()),
    };
    let (name, rest) = text.split_at(name_end);
    if rest.is_empty() {
        return Some((name, None));
    }
    rest.strip_prefix(':').map(|port| (name, Some(port)))
}

fn node_name(name: &str) -> Option<Node> {
    let ip = match name.strip_prefix('[') {
        Some(rest) => rest
            .strip_suffix(']')?
            .parse::<Ipv6Addr>()
            .ok()
            .map(IpAddr::V6),
        None => name.parse::<Ipv4Addr>().ok().map(IpAddr::V4),
    };
    match ip {
        Some(ip) => Some(Node::Ip(ip)),
        None if name.eq_ignore_ascii_case("unknown") || is_obfuscated(name) => Some(Node::Hidden),
        None => None,
    }
}

/// RFC 7239 `obfnode` / `obfport`: `_` then one or more of ALPHA, DIGIT, `.`, `_`, `-`.
fn is_obfuscated(text: &str) -> bool {
    text.strip_prefix('_').is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    })
}

/// 1 to 5 decimal digits naming a port from 1 to 65535.
fn strict_port(text: &str) -> Option<u16> {
    let digits = (1..=5).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit());
    digits
        .then(|| text.parse::<u16>().ok())
        .flatten()
        .filter(|port| *port > 0)
}

/// At most 64 characters of a header value, for a log line.
fn shortened(text: &str) -> String {
    text.chars().take(64).collect()
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
