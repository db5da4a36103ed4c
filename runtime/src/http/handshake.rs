//! The WebSocket opening handshake (RFC 6455 §4.2): validating the client's request,
//! choosing its subprotocol and deriving `Sec-WebSocket-Accept`. Pure: headers in, a
//! decision out.
//!
//! Refusals map to HTTP statuses: 400 for a malformed handshake or a plain request to a
//! WebSocket endpoint, 426 (with `Sec-WebSocket-Version: 13`) for another protocol version.
//! The Origin check (403) is `super::origin`'s.
//!
//! Besides RFC 6455 §4.2.1's list, a handshake is refused with 400 when it is ambiguous:
//! - it announces a body: any `Transfer-Encoding`, or a `Content-Length` other than `0`. A
//!   handshake has none (RFC 6455 §4.1), and bytes after the head would otherwise be read as
//!   WebSocket frames: a proxy that frames the request differently could smuggle them in
//!   (RFC 9112 §6.3, §11.2). The listener also closes the connection after that refusal.
//! - it has no `Host`, an empty one or several (RFC 9112 §3.2 requires 400);
//! - it repeats `Sec-WebSocket-Key` or `Sec-WebSocket-Version`, which leaves the key or
//!   version it means in doubt.

use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, StatusCode, Version};
use sha1::{Digest, Sha1};

/// What RFC 6455 §1.3 appends to the key before hashing it.
const ACCEPT_GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// A request that is a valid WebSocket handshake, borrowing its headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Handshake<'h> {
    /// `Sec-WebSocket-Key`, to derive `Sec-WebSocket-Accept`.
    pub(crate) key: &'h str,
    /// Subprotocols the client offers, in its order of preference.
    pub(crate) offered_subprotocols: Vec<&'h str>,
}

/// Why a handshake is refused, and how to say so.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status}: {reason}")]
pub(crate) struct Refusal {
    pub(crate) status: StatusCode,
    pub(crate) reason: &'static str,
}

fn refuse(status: StatusCode, reason: &'static str) -> Refusal {
    Refusal { status, reason }
}

fn bad_request(reason: &'static str) -> Refusal {
    refuse(StatusCode::BAD_REQUEST, reason)
}

/// Checks method, version, `Host`, the absence of a body and the upgrade headers.
pub(crate) fn validate<'h>(
    method: &Method,
    version: Version,
    headers: &'h HeaderMap,
) -> Result<Handshake<'h>, Refusal> {
    check_upgrade_request(method, version, headers)?;
    check_host(headers)?;
    check_no_body(headers)?;
    check_version(headers)?;
    let key = check_key(headers)?;
    Ok(Handshake {
        key,
        offered_subprotocols: tokens(headers, header::SEC_WEBSOCKET_PROTOCOL).collect(),
    })
}

/// An HTTP/1.1 GET asking for `Upgrade: websocket` with `Connection: Upgrade`.
fn check_upgrade_request(
    method: &Method,
    version: Version,
    headers: &HeaderMap,
) -> Result<(), Refusal> {
    if !has_token(headers, header::UPGRADE, "websocket") {
        return Err(bad_request(
            "not a WebSocket handshake (no Upgrade: websocket)",
        ));
    }
    if method != Method::GET || version < Version::HTTP_11 {
        return Err(bad_request("a WebSocket handshake is an HTTP/1.1 GET"));
    }
    if !has_token(headers, header::CONNECTION, "upgrade") {
        return Err(bad_request("Connection: Upgrade is missing"));
    }
    Ok(())
}

/// Exactly one non-empty `Host` (RFC 9112 §3.2, RFC 6455 §4.2.1 item 2).
fn check_host(headers: &HeaderMap) -> Result<(), Refusal> {
    let mut hosts = headers.get_all(header::HOST).iter();
    match (hosts.next(), hosts.next()) {
        (Some(host), None) if !host.as_bytes().trim_ascii().is_empty() => Ok(()),
        (_, Some(_)) => Err(bad_request("Host is given more than once")),
        _ => Err(bad_request("Host is missing")),
    }
}

/// No `Transfer-Encoding` and no `Content-Length` other than `0`: see the module docs.
fn check_no_body(headers: &HeaderMap) -> Result<(), Refusal> {
    if headers.contains_key(header::TRANSFER_ENCODING) {
        return Err(bad_request(
            "a WebSocket handshake has no body (Transfer-Encoding is not allowed)",
        ));
    }
    if declares_body(headers) {
        return Err(bad_request(
            "a WebSocket handshake has no body (Content-Length must be 0 or absent)",
        ));
    }
    Ok(())
}

/// Whether the request announces a body: any `Transfer-Encoding`, or a `Content-Length`
/// that is not `0`.
pub(crate) fn declares_body(headers: &HeaderMap) -> bool {
    let is_zero = |value: &HeaderValue| {
        let digits = value.as_bytes().trim_ascii();
        !digits.is_empty() && digits.iter().all(|&b| b == b'0')
    };
    headers.contains_key(header::TRANSFER_ENCODING)
        || !headers.get_all(header::CONTENT_LENGTH).iter().all(is_zero)
}

/// One `Sec-WebSocket-Version`, and it is 13 (426 otherwise).
fn check_version(headers: &HeaderMap) -> Result<(), Refusal> {
    at_most_one(
        headers,
        header::SEC_WEBSOCKET_VERSION,
        "Sec-WebSocket-Version is given more than once",
    )?;
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .map(HeaderValue::as_bytes)
        != Some(b"13")
    {
        return Err(refuse(
            StatusCode::UPGRADE_REQUIRED,
            "only WebSocket version 13 is supported",
        ));
    }
    Ok(())
}

/// The one well-formed `Sec-WebSocket-Key`.
fn check_key(headers: &HeaderMap) -> Result<&str, Refusal> {
    at_most_one(
        headers,
        header::SEC_WEBSOCKET_KEY,
        "Sec-WebSocket-Key is given more than once",
    )?;
    headers
        .get(header::SEC_WEBSOCKET_KEY)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| is_valid_key(k))
        .ok_or_else(|| bad_request("Sec-WebSocket-Key is missing or malformed"))
}

fn at_most_one(headers: &HeaderMap, name: HeaderName, reason: &'static str) -> Result<(), Refusal> {
    if headers.get_all(name).iter().nth(1).is_some() {
        return Err(bad_request(reason));
    }
    Ok(())
}

/// The first subprotocol the client offers that the endpoint supports.
pub(crate) fn choose_subprotocol(offered: &[&str], supported: &[String]) -> Option<String> {
    offered
        .iter()
        .find(|o| supported.iter().any(|s| s == *o))
        .map(|o| (*o).to_owned())
}

/// `Sec-WebSocket-Accept` for a key: the base64 SHA-1 of the key and [`ACCEPT_GUID`]
/// (RFC 6455 §4.2.2).
pub(crate) fn accept_key(key: &str) -> String {
    let mut sha1 = Sha1::new();
    sha1.update(key.as_bytes());
    sha1.update(ACCEPT_GUID);
    data_encoding::BASE64.encode(&sha1.finalize())
}

/// A 16-byte nonce in base64 is 24 characters ending in `==`.
fn is_valid_key(key: &str) -> bool {
    key.len() == 24
        && key.ends_with("==")
        && key[..22]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

fn tokens(headers: &HeaderMap, name: HeaderName) -> impl Iterator<Item = &str> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

fn has_token(headers: &HeaderMap, name: HeaderName, token: &str) -> bool {
    tokens(headers, name).any(|t| t.eq_ignore_ascii_case(token))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::testing::headers;

    const GOOD: &[(&str, &str)] = &[
        ("host", "chat.example.com"),
        ("upgrade", "websocket"),
        ("connection", "keep-alive, Upgrade"),
        ("sec-websocket-version", "13"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("sec-websocket-protocol", "chat.v2, chat.v1"),
    ];

    #[test]
    fn a_browser_handshake_is_accepted() {
        let good = headers(GOOD);
        let found = validate(&Method::GET, Version::HTTP_11, &good).expect("valid");
        assert_eq!(found.key, "dGhlIHNhbXBsZSBub25jZQ==");
        assert_eq!(found.offered_subprotocols, ["chat.v2", "chat.v1"]);
    }

    #[test]
    fn malformed_handshakes_are_refused_with_the_right_status() {
        let without = |name: &str| -> HeaderMap {
            headers(
                &GOOD
                    .iter()
                    .copied()
                    .filter(|(n, _)| *n != name)
                    .collect::<Vec<_>>(),
            )
        };
        let status = |m: &Method, h: &HeaderMap| {
            validate(m, Version::HTTP_11, h)
                .map(|_| ())
                .map_err(|r| r.status)
        };
        assert_eq!(
            status(&Method::GET, &without("upgrade")),
            Err(StatusCode::BAD_REQUEST)
        );
        assert_eq!(
            status(&Method::GET, &without("connection")),
            Err(StatusCode::BAD_REQUEST)
        );
        assert_eq!(
            status(&Method::GET, &without("sec-websocket-key")),
            Err(StatusCode::BAD_REQUEST)
        );
        assert_eq!(
            status(&Method::GET, &without("sec-websocket-version")),
            Err(StatusCode::UPGRADE_REQUIRED)
        );
        assert_eq!(
            status(&Method::POST, &headers(GOOD)),
            Err(StatusCode::BAD_REQUEST)
        );
        let mut short_key = headers(GOOD);
        short_key.insert("sec-websocket-key", HeaderValue::from_static("abc"));
        assert_eq!(
            status(&Method::GET, &short_key),
            Err(StatusCode::BAD_REQUEST)
        );
    }

    /// The refusal of `GOOD` plus `added` (header lines appended, so repeats add a value).
    fn refusal_with(added: &[(&'static str, &'static str)]) -> Option<Refusal> {
        let mut map = headers(GOOD);
        for (name, value) in added {
            map.append(*name, HeaderValue::from_static(value));
        }
        validate(&Method::GET, Version::HTTP_11, &map).err()
    }

    fn refusal_without(name: &str, added: &[(&'static str, &'static str)]) -> Option<Refusal> {
        let mut map = headers(GOOD);
        map.remove(name);
        for (name, value) in added {
            map.append(*name, HeaderValue::from_static(value));
        }
        validate(&Method::GET, Version::HTTP_11, &map).err()
    }

    fn assert_bad_request(refusal: Option<Refusal>, mentions: &str) {
        let refusal = refusal.expect("refused");
        assert_eq!(refusal.status, StatusCode::BAD_REQUEST, "{refusal}");
        assert!(refusal.reason.contains(mentions), "{refusal}");
    }

    #[test]
    fn a_handshake_with_transfer_encoding_is_refused() {
        for coding in ["chunked", "gzip, chunked", "identity"] {
            let found = refusal_with(&[("transfer-encoding", coding)]);
            assert_bad_request(found, "Transfer-Encoding");
        }
    }

    #[test]
    fn a_handshake_with_a_content_length_other_than_zero_is_refused() {
        for length in ["5", "1", " 10 ", "0, 0", "", "-0"] {
            let found = refusal_with(&[("content-length", length)]);
            assert_bad_request(found, "Content-Length");
        }
        let twice = refusal_with(&[("content-length", "0"), ("content-length", "4")]);
        assert_bad_request(twice, "Content-Length");
        assert_eq!(refusal_with(&[("content-length", "0")]), None);
        assert_eq!(refusal_with(&[("content-length", "000")]), None);
    }

    #[test]
    fn declares_body_is_true_only_for_a_transfer_encoding_or_a_non_zero_length() {
        assert!(!declares_body(&headers(GOOD)));
        assert!(!declares_body(&headers(&[("content-length", "0")])));
        assert!(declares_body(&headers(&[("content-length", "7")])));
        assert!(declares_body(&headers(&[("transfer-encoding", "chunked")])));
    }

    #[test]
    fn a_handshake_without_host_is_refused() {
        assert_bad_request(refusal_without("host", &[]), "Host is missing");
        assert_bad_request(
            refusal_without("host", &[("host", "  ")]),
            "Host is missing",
        );
    }

    #[test]
    fn a_handshake_with_two_hosts_is_refused() {
        let found = refusal_with(&[("host", "evil.example.com")]);
        assert_bad_request(found, "Host is given more than once");
        let same = refusal_with(&[("host", "chat.example.com")]);
        assert_bad_request(same, "Host is given more than once");
    }

    #[test]
    fn a_handshake_with_two_keys_is_refused() {
        let found = refusal_with(&[("sec-websocket-key", "AQIDBAUGBwgJCgsMDQ4PEA==")]);
        assert_bad_request(found, "Sec-WebSocket-Key is given more than once");
    }

    #[test]
    fn a_handshake_with_two_versions_is_refused() {
        let found = refusal_with(&[("sec-websocket-version", "13")]);
        assert_bad_request(found, "Sec-WebSocket-Version is given more than once");
        let other = refusal_with(&[("sec-websocket-version", "8")]);
        assert_bad_request(other, "Sec-WebSocket-Version is given more than once");
    }

    #[test]
    fn the_accept_key_of_the_rfc_6455_example() {
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn the_client_preference_picks_the_subprotocol() {
        let offered = ["chat.v2", "chat.v1"];
        let supported = ["chat.v1".to_owned(), "chat.v2".to_owned()];
        assert_eq!(
            choose_subprotocol(&offered, &supported).as_deref(),
            Some("chat.v2")
        );
        assert_eq!(choose_subprotocol(&offered, &[]), None);
    }
}
