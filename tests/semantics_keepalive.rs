//! Keepalive: server pings keep a client alive that gives up after 1 s without
//! any frame, and a frozen peer (SIGSTOP) is detected within ping interval + pong timeout.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use berth_tests::client::{WAIT, connect};
use berth_tests::hold_client_binary;
use berth_tests::server::probe;
use futures_util::StreamExt;

/// Reads for `total`, giving up (like an Android client that drops a silent socket) when any second passes
/// without a frame. Returns how many frames arrived, or `None` if it gave up.
async fn impatient_client(url: &str, total: Duration) -> Option<usize> {
    let mut ws = connect(url).await;
    let started = Instant::now();
    let mut frames = 0;
    while started.elapsed() < total {
        match tokio::time::timeout(Duration::from_secs(1), ws.next()).await {
            Ok(Some(Ok(_))) => frames += 1,
            _ => return None,
        }
    }
    Some(frames)
}

#[tokio::test]
async fn pings_every_200_ms_keep_an_impatient_client_alive() {
    let (_apps, berth) = probe(
        "keepalive-alive",
        "<ping-interval-in-millis>200</ping-interval-in-millis>",
    );
    let frames = impatient_client(&berth.url("/probe/"), Duration::from_secs(3)).await;
    assert!(frames.is_some_and(|n| n >= 10), "frames seen: {frames:?}");
}

#[tokio::test]
async fn without_pings_the_impatient_client_gives_up() {
    let (_apps, berth) = probe(
        "keepalive-off",
        "<ping-interval-in-millis>0</ping-interval-in-millis>",
    );
    assert_eq!(
        impatient_client(&berth.url("/probe/"), Duration::from_secs(3)).await,
        None
    );
}

#[tokio::test]
async fn a_frozen_peer_is_detected_within_ping_interval_plus_pong_timeout() {
    let inner = "<ping-interval-in-millis>200</ping-interval-in-millis><pong-timeout-in-millis>500</pong-timeout-in-millis>";
    let (_apps, berth) = probe("keepalive-frozen", inner);
    let mut client = Command::new(hold_client_binary())
        .arg(berth.url("/probe/"))
        .stdout(Stdio::piped())
        .spawn()
        .expect("hold-client starts");
    let stdout = client.stdout.take().expect("piped");
    let mut first = String::new();
    BufReader::new(stdout)
        .read_line(&mut first)
        .expect("hold-client speaks");
    assert_eq!(first.trim(), "connected");
    // It answers pings while it runs; now it freezes, with its socket still open.
    let pid = client.id().to_string();
    Command::new("kill")
        .args(["-STOP", &pid])
        .status()
        .expect("kill -STOP");
    let frozen_at = Instant::now();
    let line = berth
        .wait_for_log("cause=PongTimeout", WAIT)
        .expect("the frozen peer was detected");
    let detected = frozen_at.elapsed();
    let _ = client.kill();
    let _ = client.wait();
    assert!(line.contains("code=1006"), "{line}");
    // At most interval + timeout (0.7 s) by the rules; generous for a shared CI machine.
    assert!(
        detected < Duration::from_millis(3000),
        "detected after {detected:?}"
    );
}
