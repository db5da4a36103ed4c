//! permessage-deflate negotiation (RFC 7692 §5, §7.1): the client's
//! `Sec-WebSocket-Extensions` offers in, the response header value and the parameters both
//! sides will use out. Pure: no headers map, no I/O.
//!
//! Offers are tried in the client's order. An offer is declined — and the next one tried —
//! when it has an unknown parameter, a parameter twice, a value where none is allowed, or a
//! window size that is not a decimal 8–15 without leading zeros. The accepted offer's
//! response:
//! - `server_no_context_takeover` when the client asked for it or the config wants it;
//! - `client_no_context_takeover` when the config wants it or the client offered it (the
//!   client said it would not take over context, so making it binding costs nothing and
//!   lets the server free its decompressor after every message);
//! - `server_max_window_bits=N` only when offered, with the smaller of the offer and the
//!   config (without it the server still compresses with the config's window: a smaller
//!   window is always decodable);
//! - `client_max_window_bits=N` only when offered, when the offer had a value or the
//!   config wants less than 15.

use super::deflate::DeflateParams;

/// The extension token.
const PERMESSAGE_DEFLATE: &str = "permessage-deflate";

/// What the server is willing to do; per context, from the descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DeflateConfig {
    /// Always compress every message with an empty window (frees the compressor after each
    /// message: less memory, worse ratio).
    pub(crate) server_no_context_takeover: bool,
    /// Ask clients to do the same.
    pub(crate) client_no_context_takeover: bool,
    /// The largest window the server compresses with, 8–15.
    pub(crate) server_max_window_bits: u8,
    /// The largest window the server asks clients to use, when they allow it, 8–15.
    pub(crate) client_max_window_bits: u8,
    /// zlib level, 0–9.
    pub(crate) level: u32,
    /// Messages shorter than this are sent uncompressed.
    pub(crate) min_size: usize,
}

impl Default for DeflateConfig {
    /// Context takeover and full windows (what browsers expect), level 1 (fast), every
    /// message compressed.
    fn default() -> Self {
        DeflateConfig {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
            level: 1,
            min_size: 0,
        }
    }
}

/// Picks the first acceptable permessage-deflate offer in `offers` (the
/// `Sec-WebSocket-Extensions` values joined with commas). Returns the response header value
/// and the negotiated parameters, or `None` when no offer is acceptable.
pub(crate) fn negotiate_deflate(
    offers: &str,
    config: &DeflateConfig,
) -> Option<(String, DeflateParams)> {
    split_outside_quotes(offers, ',')
        .map(|offer| {
            split_outside_quotes(offer, ';')
                .map(str::trim)
                .collect::<Vec<_>>()
        })
        .filter(|parts| {
            parts
                .first()
                .is_some_and(|name| name.eq_ignore_ascii_case(PERMESSAGE_DEFLATE))
        })
        .find_map(|parts| accept(&parts[1..], config))
}

/// The parameters of one offer, each at most once.
#[derive(Debug, Default)]
struct Offer {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    /// `Some(None)`: offered without a value.
    client_max_window_bits: Option<Option<u8>>,
}

fn accept(params: &[&str], config: &DeflateConfig) -> Option<(String, DeflateParams)> {
    let offer = parse_offer(params)?;
    let mut response = String::from(PERMESSAGE_DEFLATE);
    let server_nct = offer.server_no_context_takeover || config.server_no_context_takeover;
    if server_nct {
        response.push_str("; server_no_context_takeover");
    }
    let client_nct = offer.client_no_context_takeover || config.client_no_context_takeover;
    if client_nct {
        response.push_str("; client_no_context_takeover");
    }
    let mut server_bits = config.server_max_window_bits.clamp(8, 15);
    if let Some(offered) = offer.server_max_window_bits {
        server_bits = server_bits.min(offered);
        response.push_str(&format!("; server_max_window_bits={server_bits}"));
    }
    let mut client_bits = 15;
    if let Some(offered) = offer.client_max_window_bits {
        client_bits = offered
            .unwrap_or(15)
            .min(config.client_max_window_bits.clamp(8, 15));
        if offered.is_some() || client_bits < 15 {
            response.push_str(&format!("; client_max_window_bits={client_bits}"));
        }
    }
    let params = DeflateParams {
        server_no_context_takeover: server_nct,
        client_no_context_takeover: client_nct,
        server_max_window_bits: server_bits,
        client_max_window_bits: client_bits,
        level: config.level,
        min_size: config.min_size,
    };
    Some((response, params))
}

fn parse_offer(params: &[&str]) -> Option<Offer> {
    let mut offer = Offer::default();
    let mut seen = [false; 4];
    for param in params.iter().filter(|p| !p.is_empty()) {
        let (name, value) = match param.split_once('=') {
            Some((name, value)) => (name.trim(), Some(unquote(value.trim())?)),
            None => (param.trim(), None),
        };
        let index = match name.to_ascii_lowercase().as_str() {
            "server_no_context_takeover" if value.is_none() => {
                offer.server_no_context_takeover = true;
                0
            }
            "client_no_context_takeover" if value.is_none() => {
                offer.client_no_context_takeover = true;
                1
            }
            "server_max_window_bits" => {
                offer.server_max_window_bits = Some(window_bits(value?)?);
                2
            }
            "client_max_window_bits" => {
                let bits = match value {
                    Some(value) => Some(window_bits(value)?),
                    None => None,
                };
                offer.client_max_window_bits = Some(bits);
                3
            }
            _ => return None,
        };
        if std::mem::replace(&mut seen[index], true) {
            return None;
        }
    }
    Some(offer)
}

/// A window size: decimal 8–15 without leading zeros.
fn window_bits(value: &str) -> Option<u8> {
    if value.starts_with('0') || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value
        .parse::<u8>()
        .ok()
        .filter(|bits| (8..=15).contains(bits))
}

/// A token, or a quoted string with backslash escapes removed.
fn unquote(value: &str) -> Option<&str> {
    match value.strip_prefix('"') {
        None => Some(value),
        // Window sizes are digits, so a value that needs escapes is invalid anyway.
        Some(rest) => rest
            .strip_suffix('"')
            .filter(|inner| !inner.contains(['"', '\\'])),
    }
}

/// Splits on `separator` where it is not inside a quoted string; skips empty elements.
fn split_outside_quotes(text: &str, separator: char) -> impl Iterator<Item = &str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (at, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == separator && !quoted => {
                parts.push(&text[start..at]);
                start = at + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts.into_iter().filter(|p| !p.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(offers: &str) -> Option<String> {
        negotiate_deflate(offers, &DeflateConfig::default()).map(|(r, _)| r)
    }

    #[test]
    fn the_rfc_7692_offers_get_the_expected_responses() {
        let table: &[(&str, Option<&str>)] = &[
            ("permessage-deflate", Some("permessage-deflate")),
            (
                "permessage-deflate; client_max_window_bits",
                Some("permessage-deflate"),
            ),
            (
                "permessage-deflate; client_max_window_bits=10",
                Some("permessage-deflate; client_max_window_bits=10"),
            ),
            (
                "permessage-deflate; server_max_window_bits=10",
                Some("permessage-deflate; server_max_window_bits=10"),
            ),
            (
                "permessage-deflate; server_max_window_bits=\"10\"",
                Some("permessage-deflate; server_max_window_bits=10"),
            ),
            (
                "permessage-deflate; server_no_context_takeover",
                Some("permessage-deflate; server_no_context_takeover"),
            ),
            (
                "permessage-deflate; client_no_context_takeover; client_max_window_bits",
                Some("permessage-deflate; client_no_context_takeover"),
            ),
            // An unacceptable first offer is declined and the next one accepted.
            (
                "permessage-deflate; server_max_window_bits=16, permessage-deflate; client_max_window_bits",
                Some("permessage-deflate"),
            ),
            (
                "x-webkit-deflate-frame, permessage-deflate",
                Some("permessage-deflate"),
            ),
            ("PerMessage-Deflate", Some("permessage-deflate")),
            ("x-webkit-deflate-frame", None),
            ("", None),
        ];
        for (offers, expected) in table {
            assert_eq!(response(offers).as_deref(), *expected, "{offers}");
        }
    }

    #[test]
    fn unacceptable_offers_are_declined() {
        for offer in [
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; server_max_window_bits=7",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; server_max_window_bits=08",
            "permessage-deflate; server_max_window_bits=1O",
            "permessage-deflate; client_max_window_bits=0",
            "permessage-deflate; server_no_context_takeover=true",
            "permessage-deflate; client_no_context_takeover=1",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; client_max_window_bits; client_max_window_bits=9",
            "permessage-deflate; mux",
            "permessage-deflate; server_max_window_bits=\"1\\0\"",
        ] {
            assert_eq!(response(offer), None, "{offer}");
            let fallback = format!("{offer}, permessage-deflate; client_max_window_bits");
            assert_eq!(
                response(&fallback).as_deref(),
                Some("permessage-deflate"),
                "{offer}"
            );
        }
    }

    #[test]
    fn parameters_follow_the_response() {
        let offers = "permessage-deflate; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=12";
        let (text, params) =
            negotiate_deflate(offers, &DeflateConfig::default()).expect("accepted");
        assert_eq!(
            text,
            "permessage-deflate; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=12"
        );
        assert!(params.client_no_context_takeover && !params.server_no_context_takeover);
        assert_eq!(
            (params.server_max_window_bits, params.client_max_window_bits),
            (9, 12)
        );
    }

    #[test]
    fn the_config_can_impose_no_context_takeover_and_smaller_windows() {
        let config = DeflateConfig {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            server_max_window_bits: 10,
            client_max_window_bits: 11,
            ..DeflateConfig::default()
        };
        let (text, params) =
            negotiate_deflate("permessage-deflate; client_max_window_bits", &config)
                .expect("accepted");
        assert_eq!(
            text,
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits=11"
        );
        // Not announced (not offered), but the server still compresses with 10 bits.
        assert_eq!(
            (params.server_max_window_bits, params.client_max_window_bits),
            (10, 11)
        );
        let (text, params) = negotiate_deflate("permessage-deflate", &config).expect("accepted");
        assert!(!text.contains("client_max_window_bits"), "{text}");
        assert_eq!(
            params.client_max_window_bits, 15,
            "the client may use any window"
        );
    }

    #[test]
    fn the_autobahn_offers_are_accepted() {
        for (offer, expected) in [
            (
                "permessage-deflate; client_no_context_takeover; client_max_window_bits; server_max_window_bits=9",
                "permessage-deflate; client_no_context_takeover; server_max_window_bits=9",
            ),
            (
                "permessage-deflate; client_no_context_takeover; client_max_window_bits; server_no_context_takeover; server_max_window_bits=15",
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=15",
            ),
        ] {
            assert_eq!(response(offer).as_deref(), Some(expected), "{offer}");
        }
    }
}
