//! permessage-deflate negotiation (RFC 7692 §5, §7.1): the client's
//! `Sec-WebSocket-Extensions` offers and the server's policy (a [`DeflateParams`], the most
//! it allows) in, the response header value and the parameters both sides will use out.
//! Pure: no headers map, no I/O.
//!
//! Offers are tried in the client's order, header line after header line. An offer is
//! declined — and the next one tried — when it has an unknown parameter, a parameter twice,
//! a value where none is allowed, or a window size that is not a decimal 8–15 without
//! leading zeros. The accepted offer's response:
//! - `server_no_context_takeover` when the client asked for it or the policy wants it;
//! - `client_no_context_takeover` when the policy wants it or the client offered it (the
//!   client said it would not take over context, so making it binding costs nothing and
//!   lets the server free its decompressor after every message);
//! - `server_max_window_bits=N` only when offered, with the smaller of the offer and the
//!   policy (without it the server still compresses with the policy's window: a smaller
//!   window is always decodable);
//! - `client_max_window_bits=N` only when offered, when the offer had a value or the
//!   policy wants less than 15.
//!
//! The compression level and the size threshold are the policy's, whatever the offer.

use std::fmt::Write as _;

use super::deflate::DeflateParams;
use crate::text::split_outside_quotes;

/// The extension token.
const PERMESSAGE_DEFLATE: &str = "permessage-deflate";

/// Picks the first acceptable permessage-deflate offer among `offers` (the
/// `Sec-WebSocket-Extensions` values, each a comma-separated list) within `policy`. Returns
/// the response header value and the negotiated parameters, or `None` when no offer is
/// acceptable.
pub(crate) fn negotiate_deflate<'a>(
    offers: impl IntoIterator<Item = &'a str>,
    policy: &DeflateParams,
) -> Option<(String, DeflateParams)> {
    offers
        .into_iter()
        .flat_map(|value| split_outside_quotes(value, ','))
        .find_map(|offer| accept(offer, policy))
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

/// The response to one offer (`name; param; …`), when it is an acceptable
/// permessage-deflate offer.
fn accept(offer: &str, policy: &DeflateParams) -> Option<(String, DeflateParams)> {
    let mut parts = split_outside_quotes(offer, ';');
    if !parts.next()?.eq_ignore_ascii_case(PERMESSAGE_DEFLATE) {
        return None;
    }
    let offer = parse_offer(parts)?;
    let mut response = String::from(PERMESSAGE_DEFLATE);
    let server_nct = offer.server_no_context_takeover || policy.server_no_context_takeover;
    if server_nct {
        response.push_str("; server_no_context_takeover");
    }
    let client_nct = offer.client_no_context_takeover || policy.client_no_context_takeover;
    if client_nct {
        response.push_str("; client_no_context_takeover");
    }
    let mut server_bits = policy.server_max_window_bits.clamp(8, 15);
    if let Some(offered) = offer.server_max_window_bits {
        server_bits = server_bits.min(offered);
        // Writing to a `String` cannot fail.
        let _ = write!(response, "; server_max_window_bits={server_bits}");
    }
    let mut client_bits = 15;
    if let Some(offered) = offer.client_max_window_bits {
        client_bits = offered
            .unwrap_or(15)
            .min(policy.client_max_window_bits.clamp(8, 15));
        if offered.is_some() || client_bits < 15 {
            let _ = write!(response, "; client_max_window_bits={client_bits}");
        }
    }
    let params = DeflateParams {
        server_no_context_takeover: server_nct,
        client_no_context_takeover: client_nct,
        server_max_window_bits: server_bits,
        client_max_window_bits: client_bits,
        ..*policy
    };
    Some((response, params))
}

/// The parameters after the extension name (trimmed, none empty).
fn parse_offer<'a>(params: impl Iterator<Item = &'a str>) -> Option<Offer> {
    let mut offer = Offer::default();
    let mut seen = [false; 4];
    for param in params {
        let (name, value) = match param.split_once('=') {
            Some((name, value)) => (name.trim(), Some(unquote(value.trim())?)),
            None => (param, None),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn response(offers: &str) -> Option<String> {
        negotiate_deflate([offers], &DeflateParams::default()).map(|(r, _)| r)
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
            negotiate_deflate([offers], &DeflateParams::default()).expect("accepted");
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
    fn the_policy_can_impose_no_context_takeover_and_smaller_windows() {
        let policy = DeflateParams {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            server_max_window_bits: 10,
            client_max_window_bits: 11,
            ..DeflateParams::default()
        };
        let (text, params) =
            negotiate_deflate(["permessage-deflate; client_max_window_bits"], &policy)
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
        let (text, params) = negotiate_deflate(["permessage-deflate"], &policy).expect("accepted");
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

    #[test]
    fn the_policy_window_caps_what_the_client_offers() {
        let policy = DeflateParams {
            server_max_window_bits: 11,
            client_max_window_bits: 9,
            ..DeflateParams::default()
        };
        let offer = "permessage-deflate; server_max_window_bits=13; client_max_window_bits=12";
        let (text, params) = negotiate_deflate([offer], &policy).expect("accepted");
        assert_eq!(
            text,
            "permessage-deflate; server_max_window_bits=11; client_max_window_bits=9"
        );
        assert_eq!(
            (params.server_max_window_bits, params.client_max_window_bits),
            (11, 9)
        );
        let smaller = "permessage-deflate; server_max_window_bits=8; client_max_window_bits=8";
        let (text, _) = negotiate_deflate([smaller], &policy).expect("accepted");
        assert_eq!(
            text, "permessage-deflate; server_max_window_bits=8; client_max_window_bits=8",
            "a client may always ask for less"
        );
    }

    #[test]
    fn a_policy_window_below_15_is_announced_to_a_client_that_allows_any() {
        let policy = DeflateParams {
            client_max_window_bits: 12,
            ..DeflateParams::default()
        };
        let (text, params) =
            negotiate_deflate(["permessage-deflate; client_max_window_bits"], &policy)
                .expect("accepted");
        assert_eq!(text, "permessage-deflate; client_max_window_bits=12");
        assert_eq!(params.client_max_window_bits, 12);
        let (text, params) = negotiate_deflate(
            ["permessage-deflate; client_max_window_bits"],
            &DeflateParams::default(),
        )
        .expect("accepted");
        assert_eq!(
            text, "permessage-deflate",
            "15 is the default: nothing to say"
        );
        assert_eq!(params.client_max_window_bits, 15);
    }

    #[test]
    fn the_level_and_size_threshold_are_the_policys() {
        let policy = DeflateParams {
            level: 6,
            min_size: 128,
            ..DeflateParams::default()
        };
        let (text, params) =
            negotiate_deflate(["permessage-deflate; server_no_context_takeover"], &policy)
                .expect("accepted");
        assert_eq!(text, "permessage-deflate; server_no_context_takeover");
        assert_eq!((params.level, params.min_size), (6, 128));
        assert!(params.server_no_context_takeover && !params.client_no_context_takeover);
    }

    #[test]
    fn every_header_line_is_part_of_the_offer_list() {
        let lines = [
            "x-webkit-deflate-frame",
            "permessage-deflate; mux, permessage-deflate; client_max_window_bits=10",
        ];
        let (text, _) = negotiate_deflate(lines, &DeflateParams::default()).expect("accepted");
        assert_eq!(text, "permessage-deflate; client_max_window_bits=10");
        assert_eq!(negotiate_deflate([], &DeflateParams::default()), None);
    }
}
