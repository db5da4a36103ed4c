//! The HTTP side of serving: routing, refusals with the right status, subprotocols, origins
//! and session limits — each proved against the real binary.

use berth_tests::apps::{Apps, descriptor};
use berth_tests::client::{
    connect, handshake_status, http_status, raw_answer, raw_exchange, raw_status, recv_text,
    send_text, status_of,
};
use berth_tests::server::{Berth, probe};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

#[tokio::test]
async fn unknown_paths_get_404_and_bad_handshakes_400_or_426() {
    let apps = Apps::new("http-status");
    apps.sample("echo").sample("chat");
    let berth = Berth::start(&apps);
    let addr = berth.addr();
    assert_eq!(handshake_status(addr, "/nowhere", &[]).await, 404);
    assert_eq!(
        handshake_status(addr, "/echoes/", &[]).await,
        404,
        "a context matches whole segments"
    );
    assert_eq!(
        handshake_status(addr, "/chat/rooms", &[]).await,
        404,
        "no endpoint template matches"
    );
    assert_eq!(handshake_status(addr, "/chat/rooms/red", &[]).await, 101);
    assert_eq!(
        handshake_status(addr, "/echo", &[]).await,
        101,
        "the context root without a slash"
    );
    assert_eq!(
        http_status(addr, "/echo/", &[]).await,
        400,
        "a plain GET is not a handshake"
    );
    let version_8 = [
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Version: 8",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    ];
    assert_eq!(http_status(addr, "/echo/", &version_8).await, 426);
    let no_key = [
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Version: 13",
    ];
    assert_eq!(http_status(addr, "/echo/", &no_key).await, 400);
}

#[tokio::test]
async fn path_parameters_reach_the_session() {
    let apps = Apps::new("http-params");
    apps.context("probe", "probe", &descriptor(""));
    let berth = Berth::start(&apps);
    let mut ws = connect(&berth.url("/probe/items/a%20b")).await;
    send_text(&mut ws, "param:item").await;
    assert_eq!(
        recv_text(&mut ws).await,
        "a b",
        "path parameters arrive percent-decoded"
    );
    send_text(&mut ws, "prop:jeus.websocket.remoteAddr").await;
    assert_eq!(recv_text(&mut ws).await, "\"127.0.0.1\"");
}

#[tokio::test]
async fn the_client_preference_chooses_among_the_endpoints_subprotocols() {
    let apps = Apps::new("http-subprotocol");
    apps.context("probe", "probe", &descriptor(""));
    let berth = Berth::start(&apps);
    let mut request = berth
        .url("/probe/sub")
        .into_client_request()
        .expect("request");
    request.headers_mut().insert(
        "sec-websocket-protocol",
        HeaderValue::from_static("v9.probe, v2.probe, v1.probe"),
    );
    let (_ws, response) = tokio_tungstenite::connect_async(request)
        .await
        .expect("connect");
    let chosen = response
        .headers()
        .get("sec-websocket-protocol")
        .map(|v| v.to_str().unwrap_or_default());
    assert_eq!(chosen, Some("v2.probe"));
}

/// The upgrade header lines every handshake below starts from.
const UPGRADE: &str = "Upgrade: websocket\r\nConnection: Upgrade\r\n\
                       Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";

/// A whole handshake for `path`: `host` as the `Host` line (none when `None`), then the
/// upgrade lines, `extra` header lines and `body` after the head.
fn raw_handshake(host: Option<&str>, path: &str, extra: &[&str], body: &str) -> String {
    let mut request = format!("GET {path} HTTP/1.1\r\n");
    if let Some(host) = host {
        request.push_str(&format!("Host: {host}\r\n"));
    }
    request.push_str(UPGRADE);
    for line in extra {
        request.push_str(line);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    request.push_str(body);
    request
}

/// Asserts a 400 whose body gives `reason`.
fn assert_400(answer: &str, reason: &str) {
    assert_eq!(status_of(answer), 400, "{answer}");
    assert!(
        answer.contains(reason),
        "the answer gives no reason {reason:?}: {answer}"
    );
}

#[tokio::test]
async fn a_handshake_with_a_body_is_refused_and_never_upgraded() {
    let (_apps, berth) = probe("http-body", "");
    let addr = berth.addr();
    let host = addr.to_string();
    // What a proxy that frames the request otherwise would pass on as a request of its own.
    let smuggled = raw_handshake(Some(&host), "/probe/", &[], "");
    let chunked = format!("{:x}\r\n{smuggled}\r\n0\r\n\r\n", smuggled.len());
    let length = format!("Content-Length: {}", smuggled.len());
    for (name, framing, body) in [
        ("chunked", "Transfer-Encoding: chunked", chunked.as_str()),
        ("content-length", length.as_str(), smuggled.as_str()),
    ] {
        let request = raw_handshake(Some(&host), "/probe/", &[framing], body);
        let answer = raw_exchange(addr, &request).await;
        assert!(
            !answer.contains("HTTP/1.1 101"),
            "{name}: a handshake with a body was upgraded: {answer}"
        );
        assert_400(&answer, "a WebSocket handshake has no body");
        assert!(
            answer.to_ascii_lowercase().contains("connection: close"),
            "{name}: the refusal does not close the connection: {answer}"
        );
    }
    let empty = raw_handshake(Some(&host), "/probe/", &["Content-Length: 0"], "");
    assert_eq!(
        raw_status(addr, &empty).await,
        101,
        "Content-Length: 0 is no body"
    );
}

#[tokio::test]
async fn a_handshake_without_exactly_one_host_is_refused_with_400() {
    let (_apps, berth) = probe("http-host", "");
    let addr = berth.addr();
    let host = addr.to_string();
    let without = raw_handshake(None, "/probe/", &[], "");
    assert_400(&raw_answer(addr, &without).await, "Host is missing");
    let second = format!("Host: {host}");
    let twice = raw_handshake(Some(&host), "/probe/", &[&second], "");
    assert_400(
        &raw_answer(addr, &twice).await,
        "Host is given more than once",
    );
}

#[tokio::test]
async fn a_repeated_key_or_version_is_refused_with_400() {
    let (_apps, berth) = probe("http-repeated", "");
    let addr = berth.addr();
    let host = addr.to_string();
    let two_keys = ["Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA=="];
    let request = raw_handshake(Some(&host), "/probe/", &two_keys, "");
    let answer = raw_answer(addr, &request).await;
    assert_400(&answer, "Sec-WebSocket-Key is given more than once");
    let two_versions = ["Sec-WebSocket-Version: 13"];
    let request = raw_handshake(Some(&host), "/probe/", &two_versions, "");
    let answer = raw_answer(addr, &request).await;
    assert_400(&answer, "Sec-WebSocket-Version is given more than once");
}

#[tokio::test]
async fn allowed_origins_refuse_other_browsers_with_403() {
    let (_apps, berth) = probe(
        "http-origin-list",
        "<allowed-origins><origin>https://app.example.com</origin></allowed-origins>",
    );
    let addr = berth.addr();
    assert_eq!(
        handshake_status(addr, "/probe/", &["Origin: https://evil.example.com"]).await,
        403
    );
    assert_eq!(
        handshake_status(addr, "/probe/", &["Origin: https://APP.example.com"]).await,
        101
    );
    let own = format!("Origin: http://{addr}");
    assert_eq!(
        handshake_status(addr, "/probe/", &[&own]).await,
        403,
        "a list replaces the same-origin default"
    );
    assert_eq!(
        handshake_status(addr, "/probe/", &[]).await,
        101,
        "non-browser clients send no Origin"
    );
}

#[tokio::test]
async fn without_allowed_origins_only_pages_of_the_same_origin_are_accepted() {
    let (_apps, berth) = probe("http-origin-default", "");
    let addr = berth.addr();
    let port = addr.port();
    let status = |origin: String| async move {
        let line = format!("Origin: {origin}");
        handshake_status(addr, "/probe/", &[&line]).await
    };
    assert_eq!(status("https://evil.example.com".into()).await, 403);
    assert_eq!(status(format!("http://{addr}")).await, 101, "same origin");
    assert_eq!(status(format!("http://127.0.0.1:{}", port ^ 1)).await, 403);
    assert_eq!(status(format!("http://localhost:{port}")).await, 403);
    assert_eq!(status("null".into()).await, 403, "the opaque origin");
    assert_eq!(
        handshake_status(addr, "/probe/", &[]).await,
        101,
        "non-browser clients send no Origin"
    );
    // A Host without a port means the default port of the Origin's scheme.
    let default_port = raw_handshake(
        Some("127.0.0.1"),
        "/probe/",
        &["Origin: http://127.0.0.1"],
        "",
    );
    assert_eq!(raw_status(addr, &default_port).await, 101);
    let other_port = format!("Origin: http://127.0.0.1:{port}");
    let request = raw_handshake(Some("127.0.0.1"), "/probe/", &[&other_port], "");
    assert_eq!(raw_status(addr, &request).await, 403);
}

#[tokio::test]
async fn a_star_in_allowed_origins_accepts_every_browser() {
    let (_apps, berth) = probe(
        "http-origin-any",
        "<allowed-origins><origin>*</origin></allowed-origins>",
    );
    let addr = berth.addr();
    for origin in ["Origin: https://evil.example.com", "Origin: null"] {
        assert_eq!(
            handshake_status(addr, "/probe/", &[origin]).await,
            101,
            "{origin}"
        );
    }
}

#[tokio::test]
async fn a_context_at_its_session_limit_answers_503() {
    let apps = Apps::new("http-limit");
    apps.context(
        "limited",
        "probe",
        &descriptor("<max-sessions>2</max-sessions>"),
    );
    let berth = Berth::start(&apps);
    let mut first = connect(&berth.url("/limited/")).await;
    let _second = connect(&berth.url("/limited/")).await;
    assert_eq!(handshake_status(berth.addr(), "/limited/", &[]).await, 503);
    send_text(&mut first, "still served").await;
    assert_eq!(recv_text(&mut first).await, "still served");
    first.close(None).await.expect("close");
    berth
        .wait_for_log("probe closed", berth_tests::client::WAIT)
        .expect("the first session closed");
    let _third = connect(&berth.url("/limited/")).await;
}

/// The value of the header `name` in the head of an HTTP answer.
fn header_of<'a>(answer: &'a str, name: &str) -> Option<&'a str> {
    let head = answer.split("\r\n\r\n").next().unwrap_or_default();
    head.lines().skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

#[tokio::test]
async fn permessage_deflate_is_answered_as_the_descriptor_says() {
    let apps = Apps::new("http-deflate");
    apps.context("on", "probe", &descriptor(""));
    let off = descriptor("<permessage-deflate>false</permessage-deflate>");
    apps.context("off", "probe", &off);
    let berth = Berth::start(&apps);
    let addr = berth.addr();
    let host = addr.to_string();
    let answer_to = |path: &'static str, offer: &'static str| {
        let request = raw_handshake(Some(&host), path, &[offer], "");
        async move { raw_answer(addr, &request).await }
    };
    let any_window = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits";
    let window_10 = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=10";
    for (path, offer, expected) in [
        ("/on/", any_window, Some("permessage-deflate")),
        (
            "/on/",
            window_10,
            Some("permessage-deflate; client_max_window_bits=10"),
        ),
        ("/off/", any_window, None),
    ] {
        let answer = answer_to(path, offer).await;
        assert_eq!(status_of(&answer), 101, "{answer}");
        assert_eq!(
            header_of(&answer, "sec-websocket-accept"),
            Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
            "RFC 6455's example key: {answer}"
        );
        assert_eq!(
            header_of(&answer, "sec-websocket-extensions"),
            expected,
            "{path} offered {offer:?}: {answer}"
        );
    }
}
