//! The Origin check (RFC 6454, RFC 6455 §10.2): which browser pages may open a session, so
//! that a page on another site cannot open one with the visitor's cookies (cross-site
//! WebSocket hijacking). Pure: headers and the context's list in, a decision out.
//!
//! - A request without `Origin` is accepted: only browsers send it, and only browsers need
//!   the protection (command-line and server-to-server clients keep working).
//! - A context with `*` in `<allowed-origins>` accepts every request, whatever its `Origin`.
//! - A context with a list accepts the listed origins (compared without regard to case) and
//!   nothing else, not even its own origin.
//! - A context without a list (the default) accepts only its own origin, as Spring does: the
//!   `Origin` (`scheme://host[:port]`) must name the host of the request's `Host` (without
//!   regard to case; an IPv6 address in brackets) and the same port, where a missing port is
//!   the default of the Origin's scheme (`http`/`ws` 80, `https`/`wss` 443) on either side.
//!   `Origin: null`, another scheme or anything unparseable is refused. The `Host` seen here
//!   is the one the client sent to Berth: behind a proxy that rewrites it, list the origins.
//!
//! Refusals are 403.

use std::net::Ipv6Addr;

use hyper::StatusCode;
use hyper::header::{self, HeaderMap};

use super::handshake::Refusal;
use crate::config::descriptor::ANY_ORIGIN as ANY;

/// Accepts or refuses the request's `Origin` by the context's `allowed` list (lower-cased;
/// empty means same-origin only; `*` means every origin).
pub(crate) fn check(headers: &HeaderMap, allowed: &[String]) -> Result<(), Refusal> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    if allowed.iter().any(|a| a == ANY) {
        return Ok(());
    }
    // A value that is not visible ASCII is no origin: it matches nothing.
    let origin = origin.to_str().unwrap_or_default().trim();
    if allowed.is_empty() {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
        return match host {
            Some(host) if is_same_origin(origin, host) => Ok(()),
            _ => Err(Refusal {
                status: StatusCode::FORBIDDEN,
                reason: "cross-origin handshake refused: this context accepts only pages of its \
                         own origin (see <allowed-origins>)",
            }),
        };
    }
    if allowed.iter().any(|a| a.eq_ignore_ascii_case(origin)) {
        Ok(())
    } else {
        Err(Refusal {
            status: StatusCode::FORBIDDEN,
            reason: "Origin not allowed for this context",
        })
    }
}

/// Whether `origin` (`scheme://host[:port]`) names the host and port of a `Host` header.
fn is_same_origin(origin: &str, host: &str) -> bool {
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false;
    };
    let Some(default_port) = default_port(scheme) else {
        return false;
    };
    let (Some(origin), Some(host)) = (Authority::parse(authority), Authority::parse(host.trim()))
    else {
        return false;
    };
    is_same_host(origin.host, host.host)
        && origin.port.unwrap_or(default_port) == host.port.unwrap_or(default_port)
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme.to_ascii_lowercase().as_str() {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        _ => None,
    }
}

fn is_same_host(a: &str, b: &str) -> bool {
    let ipv6 = |host: &str| -> Option<Ipv6Addr> {
        host.strip_prefix('[')?.strip_suffix(']')?.parse().ok()
    };
    match (ipv6(a), ipv6(b)) {
        (Some(a), Some(b)) => a == b,
        _ => a.eq_ignore_ascii_case(b),
    }
}

/// `host[:port]` as in a `Host` header or after an origin's `scheme://`.
#[derive(Debug, PartialEq, Eq)]
struct Authority<'a> {
    /// The host, an IPv6 address with its brackets.
    host: &'a str,
    port: Option<u16>,
}

impl<'a> Authority<'a> {
    /// `None` for anything else: a path, user information, an unbracketed IPv6 address, an
    /// empty host or port, a port that is not 0–65535 in digits.
    fn parse(text: &'a str) -> Option<Authority<'a>> {
        let host_end = if text.starts_with('[') {
            text.find(']')? + 1
        } else {
            text.find(':').unwrap_or(text.len())
        };
        let (host, rest) = text.split_at(host_end);
        let port = match rest.strip_prefix(':') {
            None if rest.is_empty() => None,
            None => return None,
            Some(digits) if is_port(digits) => Some(digits.parse().ok()?),
            Some(_) => return None,
        };
        let host_ok = !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_graphic() && !b"/?#@\\".contains(&b));
        host_ok.then_some(Authority { host, port })
    }
}

fn is_port(digits: &str) -> bool {
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::testing::headers;

    fn request(origin: Option<&'static str>, host: &'static str) -> HeaderMap {
        match origin {
            Some(origin) => headers(&[("host", host), ("origin", origin)]),
            None => headers(&[("host", host)]),
        }
    }

    fn same_origin(origin: &'static str, host: &'static str) -> bool {
        check(&request(Some(origin), host), &[]).is_ok()
    }

    #[test]
    fn a_listed_origin_is_accepted_without_regard_to_case() {
        let browser = request(Some("https://Chat.Example.com"), "chat.example.com");
        assert!(check(&browser, &["https://chat.example.com".into()]).is_ok());
        let refused = check(&browser, &["https://other.example".into()]).expect_err("refused");
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
    }

    #[test]
    fn a_list_does_not_add_the_own_origin() {
        let own = request(Some("https://chat.example.com"), "chat.example.com");
        assert!(check(&own, &["https://other.example".into()]).is_err());
    }

    #[test]
    fn requests_without_origin_are_accepted_whatever_the_policy() {
        let tool = request(None, "chat.example.com");
        assert!(check(&tool, &[]).is_ok());
        assert!(check(&tool, &["https://other.example".into()]).is_ok());
    }

    #[test]
    fn a_star_accepts_every_origin() {
        let any = [ANY.to_owned()];
        for origin in ["https://evil.example.com", "null", "not an origin"] {
            assert!(check(&request(Some(origin), "chat.example.com"), &any).is_ok());
        }
    }

    #[test]
    fn without_a_list_only_the_own_origin_is_accepted() {
        assert!(same_origin("https://chat.example.com", "chat.example.com"));
        assert!(same_origin(
            "http://Chat.Example.COM:8080",
            "chat.example.com:8080"
        ));
        assert!(same_origin("http://127.0.0.1:8080", "127.0.0.1:8080"));
        let refused = check(
            &request(Some("https://evil.example"), "chat.example.com"),
            &[],
        );
        assert_eq!(refused.expect_err("refused").status, StatusCode::FORBIDDEN);
        assert!(!same_origin(
            "https://chat.example.com.evil",
            "chat.example.com"
        ));
        assert!(!same_origin("http://127.0.0.1:8081", "127.0.0.1:8080"));
    }

    #[test]
    fn a_missing_port_is_the_default_of_the_origin_scheme() {
        assert!(same_origin("http://example.com", "example.com:80"));
        assert!(same_origin("https://example.com", "example.com:443"));
        assert!(same_origin("wss://example.com:443", "example.com"));
        assert!(same_origin("http://example.com:80", "example.com"));
        // A TLS proxy on 443 that keeps `Host: example.com` in front of a plain listener.
        assert!(same_origin("https://example.com", "example.com"));
        assert!(!same_origin("https://example.com", "example.com:80"));
        assert!(!same_origin("http://example.com:8080", "example.com"));
        assert!(!same_origin("http://example.com", "example.com:8080"));
    }

    #[test]
    fn ipv6_hosts_compare_as_addresses_in_brackets() {
        assert!(same_origin("http://[::1]:8080", "[::1]:8080"));
        assert!(same_origin("http://[0:0:0:0:0:0:0:1]", "[::1]"));
        assert!(same_origin("http://[FE80::1]", "[fe80::1]:80"));
        assert!(!same_origin("http://[::1]:8080", "[::2]:8080"));
        assert!(!same_origin("http://::1", "[::1]"));
    }

    #[test]
    fn null_other_schemes_and_malformed_origins_are_refused() {
        for origin in [
            "null",
            "example.com",
            "chrome-extension://example.com",
            "file://example.com",
            "https://example.com/",
            "https://user@example.com",
            "https://example.com:",
            "https://example.com:+443",
            "https://example.com:65536",
            "https://",
            "https://[::1",
        ] {
            assert!(!same_origin(origin, "example.com"), "{origin}");
        }
    }

    #[test]
    fn a_malformed_host_matches_no_origin() {
        for host in ["", "example.com:", "example.com:x", "a/b", "::1"] {
            let map = headers(&[("host", host), ("origin", "http://example.com")]);
            assert!(check(&map, &[]).is_err(), "{host:?}");
        }
    }
}
