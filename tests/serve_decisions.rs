//! The host's side of an endpoint's handshake decisions (`on_handshake`), against the real
//! binary with the `gate` fixture: refusals go out as the endpoint wrote them and no session
//! opens; a panic answers 500 and the server serves on; a decision slower than the blocking-
//! send timeout answers 503; an acceptance's headers, properties and subprotocol arrive;
//! a subprotocol the client did not offer is the endpoint's bug (500).

use std::time::{Duration, Instant};

use berth_tests::apps::{Apps, descriptor};
use berth_tests::client::{WAIT, raw_answer, status_of};
use berth_tests::raw::{self, header};
use berth_tests::server::Berth;

fn gate(label: &str, inner: &str) -> (Apps, Berth) {
    let apps = Apps::new(label);
    apps.context("gate", "gate", &descriptor(inner));
    let berth = Berth::start(&apps);
    (apps, berth)
}

/// A handshake request for `path` with `extra` header lines.
fn handshake(berth: &Berth, path: &str, extra: &[&str]) -> String {
    let mut request = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n",
        berth.addr()
    );
    for line in extra {
        request.push_str(line);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    request
}

#[tokio::test]
async fn a_refusal_is_answered_as_the_endpoint_wrote_it_and_opens_no_session() {
    let (_apps, berth) = gate("decisions-refuse", "");
    let answer = raw_answer(
        berth.addr(),
        &handshake(&berth, "/gate/?verdict=refuse", &[]),
    )
    .await;
    assert_eq!(status_of(&answer), 401, "{answer}");
    assert_eq!(
        header(&answer, "www-authenticate").as_deref(),
        Some("Bearer")
    );
    assert!(answer.ends_with("log in first"), "{answer}");
    assert!(!berth.logs().contains("session opened"), "{}", berth.logs());
}

#[tokio::test]
async fn a_panicking_decision_answers_500_and_the_server_serves_on() {
    let (_apps, berth) = gate("decisions-panic", "");
    let answer = raw_answer(
        berth.addr(),
        &handshake(&berth, "/gate/?verdict=panic", &[]),
    )
    .await;
    assert_eq!(status_of(&answer), 500, "{answer}");
    let line = berth
        .wait_for_log("on_handshake", WAIT)
        .expect("the failure is logged");
    assert!(line.contains("ERROR") && line.contains("gate"), "{line}");
    let (head, _ws) = raw::open(berth.addr(), "/gate/", &[]).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
}

#[tokio::test]
async fn a_decision_slower_than_the_blocking_send_timeout_answers_503() {
    let (_apps, berth) = gate(
        "decisions-slow",
        "<blocking-send-timeout-in-millis>1000</blocking-send-timeout-in-millis>",
    );
    let started = Instant::now();
    let request = handshake(&berth, "/gate/?verdict=slow&ms=4000", &[]);
    let answer = raw_answer(berth.addr(), &request).await;
    let took = started.elapsed();
    assert_eq!(status_of(&answer), 503, "{answer}");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_millis(3500),
        "answered after {took:?}"
    );
    let fast = raw_answer(
        berth.addr(),
        &handshake(&berth, "/gate/?verdict=slow&ms=10", &[]),
    )
    .await;
    assert_eq!(status_of(&fast), 101, "{fast}");
}

#[tokio::test]
async fn an_acceptance_adds_its_headers_properties_and_subprotocol() {
    let (_apps, berth) = gate("decisions-accept", "");
    let (head, mut ws) = raw::open(berth.addr(), "/gate/?verdict=cookie", &[]).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert_eq!(header(&head, "set-cookie").as_deref(), Some("gate=1"));
    ws.send(0x81, b"prop:role").await;
    let reply = ws.recv().await;
    assert_eq!(String::from_utf8_lossy(&reply.payload), "\"admin\"");

    let offer = ["Sec-WebSocket-Protocol: v1, v2"];
    let (head, _ws) = raw::open(berth.addr(), "/gate/?verdict=protocol&name=v2", &offer).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert_eq!(
        header(&head, "sec-websocket-protocol").as_deref(),
        Some("v2")
    );

    let not_offered = handshake(&berth, "/gate/?verdict=protocol&name=v9", &offer);
    let answer = raw_answer(berth.addr(), &not_offered).await;
    assert_eq!(
        status_of(&answer),
        500,
        "the endpoint chose what nobody offered: {answer}"
    );
}
