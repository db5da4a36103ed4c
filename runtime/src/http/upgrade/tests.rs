//! The pure steps of the upgrade, each on its own: no server, no deployed context.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use super::*;
use crate::config::descriptor::{self, NAMESPACE};
use crate::context::EndpointRouter;

/// A browser's handshake; the key is RFC 6455's example.
const BROWSER: &[(&str, &str)] = &[
    ("host", "chat.example.com"),
    ("origin", "https://chat.example.com"),
    ("upgrade", "websocket"),
    ("connection", "keep-alive, Upgrade"),
    ("sec-websocket-version", "13"),
    ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
];

/// A GET for `/chat/rooms/red?since=3` with the browser's headers, then `added` (appended, so
/// a repeated name adds a value).
fn request(added: &[(&str, &str)]) -> Request<()> {
    let mut builder = Request::builder().uri("/chat/rooms/red?since=3");
    for (name, value) in BROWSER.iter().chain(added) {
        builder = builder.header(*name, *value);
    }
    builder.body(()).expect("a valid request")
}

/// The settings of a descriptor whose `<websocket>` holds `inner`.
fn settings(inner: &str) -> ContextSettings {
    let text = format!(
        "<jeus-web-dd xmlns=\"{NAMESPACE}\" version=\"8.0\"><websocket>{inner}</websocket></jeus-web-dd>"
    );
    let parsed = descriptor::parse(Path::new("dd.xml"), &text);
    parsed.value.expect("a valid descriptor").settings
}

/// What `request(added)` agrees on with an endpoint supporting `supported`.
fn agreement(added: &[(&str, &str)], supported: &[&str], inner: &str) -> Agreement {
    let request = request(added);
    let handshake = validate(&request, &[]).expect("valid");
    let supported: Vec<String> = supported.iter().map(|s| (*s).to_owned()).collect();
    negotiate(request.headers(), &handshake, &supported, &settings(inner))
}

#[test]
fn routing_finds_the_context_then_the_endpoint_or_answers_404() {
    let context = |name: &'static str, templates: &[&str]| {
        let router = EndpointRouter::new(templates.iter().copied()).expect("valid templates");
        (format!("/{name}"), Arc::new((name, router)))
    };
    let table = ContextTable::new(vec![
        context("chat", &["/", "/rooms/{room}"]),
        context("echo", &["/"]),
    ]);
    let find_endpoint = |(_, router): &(&str, EndpointRouter), rest: &str| router.find(rest);
    let route = |path| route(&table, path, find_endpoint);
    let (chat, room) = route("/chat/rooms/red").expect("routed");
    assert_eq!((chat.0, room.endpoint), ("chat", 1));
    assert_eq!(room.params, [("room".to_owned(), "red".to_owned())]);
    let (echo, root) = route("/echo").expect("the context root without a slash");
    assert_eq!((echo.0, root.endpoint), ("echo", 0));
    for path in ["/nowhere", "/chat/rooms", "/echoes"] {
        assert_eq!(route(path).map(|_| ()), Err(NOT_FOUND), "{path}");
    }
}

#[test]
fn a_valid_handshake_from_an_accepted_origin_passes_validation() {
    let request = request(&[("sec-websocket-protocol", "chat.v2, chat.v1")]);
    let handshake = validate(&request, &[]).expect("same origin");
    assert_eq!(handshake.key, "dGhlIHNhbXBsZSBub25jZQ==");
    assert_eq!(handshake.offered_subprotocols, ["chat.v2", "chat.v1"]);
    let listed = ["https://chat.example.com".to_owned()];
    assert!(validate(&request, &listed).is_ok());
}

#[test]
fn validation_refuses_a_foreign_origin_with_403_but_a_bad_handshake_first_with_400() {
    let foreign = Request::builder()
        .uri("/chat/")
        .header("host", "chat.example.com")
        .header("origin", "https://evil.example")
        .header("upgrade", "websocket")
        .header("connection", "Upgrade")
        .header("sec-websocket-version", "13");
    let without_key = foreign.body(()).expect("request");
    let refused = validate(&without_key, &[]).expect_err("no key");
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    let mut with_key = without_key;
    with_key.headers_mut().insert(
        header::SEC_WEBSOCKET_KEY,
        HeaderValue::from_static("dGhlIHNhbXBsZSBub25jZQ=="),
    );
    let refused = validate(&with_key, &[]).expect_err("cross-origin");
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let listed = ["https://evil.example".to_owned()];
    assert!(validate(&with_key, &listed).is_ok());
}

#[test]
fn negotiation_takes_the_clients_preferred_subprotocol_and_answers_deflate() {
    let offers = [
        ("sec-websocket-protocol", "chat.v3, chat.v2, chat.v1"),
        (
            "sec-websocket-extensions",
            "permessage-deflate; client_max_window_bits=12",
        ),
    ];
    let agreed = agreement(&offers, &["chat.v1", "chat.v2"], "");
    assert_eq!(agreed.subprotocol.as_deref(), Some("chat.v2"));
    let (text, params) = agreed.deflate.expect("deflate agreed");
    assert_eq!(text, "permessage-deflate; client_max_window_bits=12");
    assert_eq!(
        params,
        DeflateParams {
            client_max_window_bits: 12,
            ..DeflateParams::default()
        }
    );
    let none = agreement(&[], &["chat.v1"], "");
    assert_eq!(
        none,
        Agreement {
            subprotocol: None,
            deflate: None
        }
    );
}

#[test]
fn a_context_with_permessage_deflate_off_agrees_on_no_extension() {
    let offer = [(
        "sec-websocket-extensions",
        "permessage-deflate; client_max_window_bits",
    )];
    let on = agreement(&offer, &[], "<permessage-deflate>true</permessage-deflate>");
    assert_eq!(
        on.deflate.map(|(text, _)| text).as_deref(),
        Some("permessage-deflate")
    );
    let off = agreement(
        &offer,
        &[],
        "<permessage-deflate>false</permessage-deflate>",
    );
    assert_eq!(off.deflate, None);
}

#[test]
fn extension_offers_on_several_lines_are_one_list_and_unreadable_lines_none() {
    let request = request(&[("sec-websocket-extensions", "x-webkit-deflate-frame")]);
    let mut headers = request.headers().clone();
    let unreadable = HeaderValue::from_bytes(b"permessage-deflate; server_max_window_bits=\xe9")
        .expect("obs-text is a valid header value");
    headers.append(header::SEC_WEBSOCKET_EXTENSIONS, unreadable);
    headers.append(
        header::SEC_WEBSOCKET_EXTENSIONS,
        HeaderValue::from_static("permessage-deflate; server_no_context_takeover"),
    );
    let handshake = validate(&request, &[]).expect("valid");
    let agreed = negotiate(&headers, &handshake, &[], &settings(""));
    let (text, _) = agreed.deflate.expect("the third line's offer");
    assert_eq!(text, "permessage-deflate; server_no_context_takeover");
}

#[test]
fn the_answer_switches_protocols_with_the_rfc_6455_accept_key() {
    let nothing = Agreement {
        subprotocol: None,
        deflate: None,
    };
    let response = answer("dGhlIHNhbXBsZSBub25jZQ==", &nothing);
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    let headers = response.headers();
    assert_eq!(headers[header::UPGRADE], "websocket");
    assert_eq!(headers[header::CONNECTION], "Upgrade");
    assert_eq!(
        headers[header::SEC_WEBSOCKET_ACCEPT],
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );
    assert!(!headers.contains_key(header::SEC_WEBSOCKET_PROTOCOL));
    assert!(!headers.contains_key(header::SEC_WEBSOCKET_EXTENSIONS));
}

#[test]
fn the_answer_names_the_agreed_subprotocol_and_extension() {
    let agreed = Agreement {
        subprotocol: Some("chat.v2".to_owned()),
        deflate: Some((
            "permessage-deflate; server_no_context_takeover".to_owned(),
            DeflateParams::default(),
        )),
    };
    let response = answer("dGhlIHNhbXBsZSBub25jZQ==", &agreed);
    let headers = response.headers();
    assert_eq!(headers[header::SEC_WEBSOCKET_PROTOCOL], "chat.v2");
    assert_eq!(
        headers[header::SEC_WEBSOCKET_EXTENSIONS],
        "permessage-deflate; server_no_context_takeover"
    );
}

#[test]
fn the_session_gets_the_requests_headers_path_query_and_agreement() {
    let request = request(&[]);
    let endpoint = EndpointMatch {
        endpoint: 1,
        params: vec![("room".to_owned(), "red".to_owned())],
    };
    let params = DeflateParams {
        server_no_context_takeover: true,
        ..DeflateParams::default()
    };
    let agreed = Agreement {
        subprotocol: Some("chat.v2".to_owned()),
        deflate: Some(("permessage-deflate".to_owned(), params)),
    };
    let peer = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 40000);
    let remote = RemoteAddress {
        addr: Some(peer.ip()),
        port: Some(peer.port()),
    };
    let opening = opening(&request, endpoint.clone(), &agreed, peer, remote.clone());
    assert_eq!(opening.endpoint, 1);
    assert_eq!(opening.path_params, endpoint.params);
    assert_eq!(
        (opening.path.as_str(), opening.query.as_str()),
        ("/chat/rooms/red", "since=3")
    );
    assert_eq!(opening.headers.len(), BROWSER.len());
    let origin = opening.headers.iter().find(|(name, _)| name == "origin");
    assert_eq!(
        origin.map(|(_, value)| value.as_str()),
        Some("https://chat.example.com")
    );
    assert_eq!(opening.subprotocol.as_deref(), Some("chat.v2"));
    assert_eq!(opening.deflate, Some(params));
    assert_eq!((opening.peer, opening.remote), (peer, remote));
}
