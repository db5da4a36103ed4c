//! The endpoint author's day against the real binary (issue 12): handshakes refused before
//! the upgrade, typed state across many messages and dropped after `on_close`, typed
//! messages whose decode errors reach `on_error`, async sends answered by closures, panics
//! reported once without a backtrace dump, `on_undeploy` after every `on_close`, and the
//! auction sample end to end. The probe fixture and the auction sample are the plugins.

use std::time::Duration;

use berth_tests::apps::{Apps, descriptor};
use berth_tests::client::{
    WAIT, connect, expect_close, next_message, raw_answer, recv_text, send_text, status_of,
};
use berth_tests::server::Berth;
use tokio_tungstenite::tungstenite::Message;

/// A GET with WebSocket upgrade headers for `path`, as a client sends it.
fn upgrade_request(berth: &Berth, path: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        berth.addr()
    )
}

/// The value of header `name` in a raw HTTP answer (case-insensitive).
fn header<'a>(answer: &'a str, name: &str) -> Option<&'a str> {
    let head = answer.split("\r\n\r\n").next().unwrap_or_default();
    head.lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(key, _)| key.trim().eq_ignore_ascii_case(name))
        .map(|(_, value)| value.trim())
}

fn probe_server(label: &str) -> (Apps, Berth) {
    let apps = Apps::new(label);
    apps.context("probe", "probe", &descriptor(""));
    let berth = Berth::start(&apps);
    (apps, berth)
}

/// The session id the probe reports for a connection (`id` answers `id:<n>`).
async fn probe_id(ws: &mut berth_tests::client::Ws) -> String {
    send_text(ws, "id").await;
    let answer = recv_text(ws).await;
    answer.strip_prefix("id:").expect("id:<n>").to_owned()
}

/// The position of the first log line containing `needle`.
fn position(logs: &str, needle: &str) -> usize {
    logs.lines()
        .position(|line| line.contains(needle))
        .unwrap_or_else(|| panic!("no {needle:?} in:\n{logs}"))
}

#[tokio::test]
async fn a_handshake_without_a_user_is_refused_with_403_its_body_and_header_before_any_upgrade() {
    let apps = Apps::new("sdk-refuse");
    apps.sample("auction");
    let berth = Berth::start(&apps);
    let answer = raw_answer(
        berth.addr(),
        &upgrade_request(&berth, "/auction/auctions/lamp"),
    )
    .await;
    assert_eq!(status_of(&answer), 403, "{answer}");
    assert_eq!(
        header(&answer, "x-auction-requires"),
        Some("user"),
        "{answer}"
    );
    assert!(
        answer.ends_with("bidders name themselves: ?user=NAME"),
        "{answer}"
    );
    assert_eq!(header(&answer, "upgrade"), None, "no upgrade: {answer}");
    assert!(
        header(&answer, "sec-websocket-accept").is_none(),
        "{answer}"
    );
    // Nobody was opened: the first bidder is alone, and hears of no one leaving.
    let mut ann = connect(&berth.url("/auction/auctions/lamp?user=ann")).await;
    assert_eq!(recv_text(&mut ann).await, "high none 0");
    send_text(&mut ann, "bid 3").await;
    assert_eq!(recv_text(&mut ann).await, "new-high ann 3");
}

#[tokio::test]
async fn the_auction_announces_bids_and_every_departure() {
    let apps = Apps::new("sdk-auction");
    apps.sample("auction");
    let berth = Berth::start(&apps);
    let mut ann = connect(&berth.url("/auction/auctions/lamp?user=ann")).await;
    assert_eq!(recv_text(&mut ann).await, "high none 0");
    let mut bob = connect(&berth.url("/auction/auctions/lamp?user=bob")).await;
    assert_eq!(recv_text(&mut bob).await, "high none 0");
    send_text(&mut bob, "bid 10").await;
    assert_eq!(recv_text(&mut ann).await, "new-high bob 10");
    assert_eq!(recv_text(&mut bob).await, "new-high bob 10");
    send_text(&mut ann, "bid 9").await;
    assert_eq!(recv_text(&mut ann).await, "rejected");
    send_text(&mut ann, "bid lots").await;
    assert_eq!(
        recv_text(&mut ann).await,
        "rejected",
        "a bid that does not parse"
    );
    let mut cy = connect(&berth.url("/auction/auctions/lamp?user=cy")).await;
    assert_eq!(recv_text(&mut cy).await, "high bob 10");
    drop(bob); // gone without a close frame
    assert_eq!(recv_text(&mut ann).await, "left bob");
    assert_eq!(recv_text(&mut cy).await, "left bob");
    cy.close(None).await.expect("close");
    assert_eq!(recv_text(&mut ann).await, "left cy");
}

#[tokio::test]
async fn the_typed_state_survives_many_messages_and_is_dropped_after_on_close() {
    let (_apps, berth) = probe_server("sdk-state");
    let mut ws = connect(&berth.url("/probe/")).await;
    let id = probe_id(&mut ws).await;
    for _ in 0..500 {
        send_text(&mut ws, "tick").await;
    }
    send_text(&mut ws, "count").await;
    assert_eq!(recv_text(&mut ws).await, "count:502");
    ws.close(None).await.expect("close");
    let dropped = format!("probe state dropped {id} messages=502");
    berth
        .wait_for_log(&dropped, WAIT)
        .expect("the state was dropped");
    let logs = berth.logs();
    let closed = position(&logs, &format!("probe closed {id} "));
    assert!(
        closed < position(&logs, &dropped),
        "dropped after on_close:\n{logs}"
    );
}

#[tokio::test]
async fn a_json_decode_error_reaches_on_error_and_the_session_goes_on() {
    let (_apps, berth) = probe_server("sdk-json");
    let mut ws = connect(&berth.url("/probe/")).await;
    let id = probe_id(&mut ws).await;
    send_text(&mut ws, r#"{"echo": "typed"}"#).await;
    assert_eq!(recv_text(&mut ws).await, "json:typed");
    send_text(&mut ws, r#"{"shout": "untyped"}"#).await;
    berth
        .wait_for_log(&format!("probe error {id} Decode"), WAIT)
        .expect("on_error got the decode error");
    send_text(&mut ws, "count").await;
    assert_eq!(
        recv_text(&mut ws).await,
        "count:4",
        "still open, state intact"
    );
}

#[tokio::test]
async fn each_async_sends_closure_runs_once() {
    const SENDS: usize = 40;
    let (_apps, berth) = probe_server("sdk-async");
    let mut ws = connect(&berth.url("/probe/")).await;
    let id = probe_id(&mut ws).await;
    send_text(&mut ws, &format!("async:{SENDS}")).await;
    let mut received = Vec::new();
    while received.len() < SENDS + 1 {
        match next_message(&mut ws).await {
            Message::Text(text) => received.push(text.as_str().to_owned()),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(
        received.contains(&"async-queued".to_owned()),
        "{received:?}"
    );
    ws.close(None).await.expect("close");
    // Completions come before on_close: once it is logged, every closure has run.
    berth
        .wait_for_log(&format!("probe closed {id} "), WAIT)
        .expect("on_close ran");
    let logs = berth.logs();
    let done = format!("probe closure-done {id} ");
    let mut runs: Vec<usize> = logs
        .lines()
        .filter_map(|line| line.split(&done).nth(1))
        .map(|rest| {
            assert!(
                rest.starts_with(|c: char| c.is_ascii_digit()) && rest.contains(" Ok"),
                "{rest}"
            );
            rest.split_whitespace()
                .next()
                .and_then(|n| n.parse().ok())
                .expect("an index")
        })
        .collect();
    runs.sort_unstable();
    assert_eq!(
        runs,
        (0..SENDS).collect::<Vec<_>>(),
        "each closure exactly once"
    );
}

#[tokio::test]
async fn panics_are_reported_once_with_their_location_and_no_backtrace_dump() {
    let (_apps, berth) = probe_server("sdk-panics");
    for (url, command, callback) in [
        ("/probe/?handshake=panic", None, "on_handshake"),
        ("/probe/", Some("panic"), "on_text"),
    ] {
        let mut ws = connect(&berth.url(url)).await;
        if let Some(command) = command {
            send_text(&mut ws, command).await;
        }
        let code = expect_close(&mut ws).await.map(|f| u16::from(f.code));
        assert_eq!(code, Some(1011), "{callback}");
        let report = format!("plugin panicked in {callback} at tests/fixtures/probe/src/lib.rs:");
        berth.wait_for_log(&report, WAIT).expect("reported");
    }
    assert!(
        berth.wait_for_count("cause=EndpointFailure", 2, WAIT),
        "both sessions closed"
    );
    let logs = berth.logs();
    for callback in ["on_handshake", "on_text"] {
        let report = format!("plugin panicked in {callback} at tests/fixtures/probe/src/lib.rs:");
        assert_eq!(
            logs.matches(&report).count(),
            1,
            "once, with its location:\n{logs}"
        );
    }
    assert!(
        !logs.contains("panicked at"),
        "no default hook output:\n{logs}"
    );
    assert!(!logs.contains("stack backtrace"), "{logs}");
}

#[tokio::test]
async fn an_undeclared_on_handshake_decides_right_after_the_upgrade() {
    // The probe does not set DECIDES_HANDSHAKES: Berth upgrades, the SDK asks at on_open.
    let (_apps, berth) = probe_server("sdk-late");
    let answer = raw_answer(berth.addr(), &upgrade_request(&berth, "/probe/?cookie=c1")).await;
    assert_eq!(status_of(&answer), 101, "{answer}");
    assert_eq!(
        header(&answer, "set-cookie"),
        None,
        "too late for headers: {answer}"
    );
    let mut ws = connect(&berth.url("/probe/?cookie=c2")).await;
    send_text(&mut ws, "prop:probe.cookie").await;
    assert_eq!(
        recv_text(&mut ws).await,
        "\"c2\"",
        "the acceptance's property is set"
    );
    let mut refused = connect(&berth.url("/probe/?refuse=429")).await;
    let frame = expect_close(&mut refused).await.expect("a close frame");
    assert_eq!(u16::from(frame.code), 1008);
    assert_eq!(frame.reason.as_str(), "refused by the probe");
    let warning = "on_handshake decided after the upgrade";
    berth
        .wait_for_log(warning, WAIT)
        .expect("the author is told");
    assert_eq!(berth.logs().matches(warning).count(), 1, "once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_undeploy_runs_at_sigterm_after_every_on_close() {
    let (_apps, mut berth) = probe_server("sdk-undeploy");
    let mut clients = Vec::new();
    for _ in 0..3 {
        let mut ws = connect(&berth.url("/probe/")).await;
        send_text(&mut ws, "closesleep:200").await;
        assert_eq!(recv_text(&mut ws).await, "closesleep-set");
        clients.push(ws);
    }
    let status = tokio::task::block_in_place(|| berth.terminate(Duration::from_secs(20)));
    assert!(status.expect("exited within the grace period").success());
    let logs = berth.logs();
    let deploy = position(&logs, "probe deploy");
    let undeploy = position(&logs, "probe undeploy Shutdown");
    let closes: Vec<usize> = logs
        .lines()
        .enumerate()
        .filter(|(_, line)| line.contains("probe closed") && line.contains("cause=Shutdown"))
        .map(|(at, _)| at)
        .collect();
    assert_eq!(closes.len(), 3, "{logs}");
    assert!(
        closes.iter().all(|at| deploy < *at && *at < undeploy),
        "{logs}"
    );
    assert!(logs.contains("probe undeploy Shutdown closed=3"), "{logs}");
}
