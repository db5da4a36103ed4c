//! The WebSocket opening handshake (RFC 6455 §4.2): validating the client's request and
//! building the server's answer. Pure: headers in, a decision out.
//!
//! Refusals map to HTTP statuses: 400 for a malformed handshake or a plain request to a
//! WebSocket endpoint, 426 (with `Sec-WebSocket-Version: 13`) for another protocol version.
//! The Origin check (403) is `super::origin`'s.

use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, StatusCode, Version};

/// A request that is a valid WebSocket handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Handshake {
    /// `Sec-WebSocket-Key`, to derive `Sec-WebSocket-Accept`.
    pub(crate) key: String,
    /// Subprotocols the client offers, in its order of preference.
    pub(crate) offered_subprotocols: Vec<String>,
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

/// Checks method, version and the upgrade headers.
pub(crate) fn validate(
    method: &Method,
    version: Version,
    headers: &HeaderMap,
) -> Result<Handshake, Refusal> {
    if !has_token(headers, header::UPGRADE, "websocket") {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "not a WebSocket handshake (no Upgrade: websocket)",
        ));
    }
    if method != Method::GET || version < Version::HTTP_11 {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "a WebSocket handshake is an HTTP/1.1 GET",
        ));
    }
    if !has_token(headers, header::CONNECTION, "upgrade") {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "Connection: Upgrade is missing",
        ));
    }
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
    let key = headers
        .get(header::SEC_WEBSOCKET_KEY)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| is_valid_key(k))
        .ok_or_else(|| {
            refuse(
                StatusCode::BAD_REQUEST,
                "Sec-WebSocket-Key is missing or malformed",
            )
        })?;
    Ok(Handshake {
        key: key.to_owned(),
        offered_subprotocols: tokens(headers, header::SEC_WEBSOCKET_PROTOCOL).collect(),
    })
}

/// The first subprotocol the client offers that the endpoint supports.
pub(crate) fn choose_subprotocol(offered: &[String], supported: &[String]) -> Option<String> {
    offered
        .iter()
        .find(|o| supported.iter().any(|s| s == *o))
        .cloned()
}

/// A 16-byte nonce in base64 is 24 characters ending in `==`.
fn is_valid_key(key: &str) -> bool {
    key.len() == 24
        && key.ends_with("==")
        && key[..22]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

fn tokens(headers: &HeaderMap, name: header::HeaderName) -> impl Iterator<Item = String> + '_ {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
}

fn has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    tokens(headers, name).any(|t| t.eq_ignore_ascii_case(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    const GOOD: &[(&str, &str)] = &[
        ("upgrade", "websocket"),
        ("connection", "keep-alive, Upgrade"),
        ("sec-websocket-version", "13"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("sec-websocket-protocol", "chat.v2, chat.v1"),
    ];

    #[test]
    fn a_browser_handshake_is_accepted() {
        let found = validate(&Method::GET, Version::HTTP_11, &headers(GOOD)).expect("valid");
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

    #[test]
    fn the_client_preference_picks_the_subprotocol() {
        let offered = ["chat.v2".to_owned(), "chat.v1".to_owned()];
        let supported = ["chat.v1".to_owned(), "chat.v2".to_owned()];
        assert_eq!(
            choose_subprotocol(&offered, &supported).as_deref(),
            Some("chat.v2")
        );
        assert_eq!(choose_subprotocol(&offered, &[]), None);
    }
}
