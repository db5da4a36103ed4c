//! `max-session-idle-timeout-in-millis` with `monitoring-period-in-millis`: an idle session
//! closes with 1001 between `timeout` and `timeout + period`; control frames do not count
//! unless `idle-counts-control-frames` says so; expiry still happens while the pool is
//! saturated (`websocket-timeout-min-threads`).

use std::time::{Duration, Instant};

use berth_tests::client::{WAIT, Ws, connect, expect_close, recv_text, send_text};
use berth_tests::server::probe;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

const IDLE: &str = "<max-session-idle-timeout-in-millis>1500</max-session-idle-timeout-in-millis>\
                    <monitoring-period-in-millis>1000</monitoring-period-in-millis>";

/// Sends a ping every 300 ms until the server closes; returns the close code and when.
async fn ping_until_closed(ws: Ws) -> (Option<u16>, Duration) {
    let started = Instant::now();
    let (mut sink, mut stream) = ws.split();
    let pinger = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(300)).await;
            if sink.send(Message::Ping(vec![1].into())).await.is_err() {
                return;
            }
        }
    });
    let code = loop {
        match tokio::time::timeout(Duration::from_secs(6), stream.next()).await {
            Ok(Some(Ok(Message::Close(frame)))) => break frame.map(|f| u16::from(f.code)),
            Ok(Some(Ok(_))) => continue,
            _ => break None,
        }
    };
    pinger.abort();
    (code, started.elapsed())
}

#[tokio::test]
async fn an_idle_session_closes_with_1001_between_timeout_and_timeout_plus_period() {
    let (_apps, berth) = probe("idle-close", IDLE);
    let mut ws = connect(&berth.url("/probe/")).await;
    let started = Instant::now();
    let frame = expect_close(&mut ws).await.expect("a close frame");
    let waited = started.elapsed();
    assert_eq!(u16::from(frame.code), 1001);
    // 1.5 s .. 2.5 s by the rules; generous upper margin for a shared two-core CI machine.
    assert!(
        waited >= Duration::from_millis(1400) && waited < Duration::from_millis(4000),
        "closed after {waited:?}"
    );
    let line = berth
        .wait_for_log("probe closed", WAIT)
        .expect("on_close ran");
    assert!(line.contains("code=1001 cause=IdleTimeout"), "{line}");
}

#[tokio::test]
async fn data_resets_idle_but_pings_do_not() {
    let (_apps, berth) = probe("idle-pings", IDLE);
    let mut ws = connect(&berth.url("/probe/")).await;
    for n in 0..4 {
        tokio::time::sleep(Duration::from_millis(700)).await;
        send_text(&mut ws, &format!("keep {n}")).await;
        assert_eq!(
            recv_text(&mut ws).await,
            format!("keep {n}"),
            "data keeps the session open"
        );
    }
    let pinged = connect(&berth.url("/probe/")).await;
    let (code, waited) = ping_until_closed(pinged).await;
    assert_eq!(code, Some(1001), "pings alone do not keep a session open");
    assert!(
        waited < Duration::from_millis(4000),
        "closed after {waited:?}"
    );
}

#[tokio::test]
async fn the_tomcat_switch_makes_control_frames_count() {
    let inner = format!("{IDLE}<idle-counts-control-frames>true</idle-counts-control-frames>");
    let (_apps, berth) = probe("idle-tomcat", &inner);
    let ws = connect(&berth.url("/probe/")).await;
    let outcome = tokio::time::timeout(Duration::from_millis(3500), ping_until_closed(ws)).await;
    assert!(
        outcome.is_err(),
        "pings kept the session open past the idle timeout: {outcome:?}"
    );
}

#[tokio::test]
async fn an_endpoint_can_override_the_idle_timeout_per_session() {
    let (_apps, berth) = probe("idle-override", IDLE);
    let mut ws = connect(&berth.url("/probe/")).await;
    send_text(&mut ws, "idle:0").await;
    assert_eq!(recv_text(&mut ws).await, "idle-set");
    let outcome = tokio::time::timeout(Duration::from_millis(3000), ws.next()).await;
    assert!(
        outcome.is_err(),
        "a session set to never idle out stayed open: {outcome:?}"
    );
}

#[tokio::test]
async fn idle_expiry_runs_while_blocked_callbacks_hold_every_pool_thread() {
    let inner = format!(
        "{IDLE}<websocket-executor><min>1</min><max>1</max><queue-size>16</queue-size></websocket-executor>\
         <websocket-timeout-min-threads>1</websocket-timeout-min-threads>"
    );
    let (_apps, berth) = probe("idle-saturated", &inner);
    let mut blocker = connect(&berth.url("/probe/")).await;
    send_text(&mut blocker, "idle:0").await;
    assert_eq!(recv_text(&mut blocker).await, "idle-set");
    send_text(&mut blocker, "sleep:8000").await;
    let mut idle = connect(&berth.url("/probe/")).await;
    let started = Instant::now();
    assert_eq!(
        expect_close(&mut idle).await.map(|f| u16::from(f.code)),
        Some(1001)
    );
    let line = berth
        .wait_for_log("cause=IdleTimeout", WAIT)
        .expect("on_close of the idle session ran");
    // The blocker holds the only callback thread for 8 s; expiry did not wait for it.
    assert!(
        started.elapsed() < Duration::from_millis(6000),
        "expired after {:?}: {line}",
        started.elapsed()
    );
}
