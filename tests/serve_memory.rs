//! Memory a client can make the server hold: request heads are bounded (431 past
//! `<max-request-head-size>`), and after a flood ends — sessions with big heads, or heads
//! that never finish — the server's resident memory returns near its baseline.

use std::time::Duration;

use berth_tests::apps::Apps;
use berth_tests::client::{WAIT, echo_round_trip};
use berth_tests::server::Berth;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Connections in a flood.
const FLOOD: usize = 500;

/// How far above its baseline the server may stay once a flood is over, in KiB.
const SETTLED_MARGIN: u64 = 5_000;

/// A WebSocket handshake to `/echo/` with one header `X-Big` of `size` bytes; without the
/// final empty line when `finished` is false.
fn handshake(berth: &Berth, size: usize, finished: bool) -> String {
    format!(
        "GET /echo/ HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         X-Big: {}\r\n{}",
        berth.addr(),
        "b".repeat(size),
        if finished { "\r\n" } else { "" }
    )
}

/// Sends `request` on a new connection and returns it with the answer's status (0 when the
/// server said nothing in time).
async fn send(berth: &Berth, request: &str, answer: bool) -> (TcpStream, u16) {
    let mut stream = TcpStream::connect(berth.addr()).await.expect("connect");
    stream.write_all(request.as_bytes()).await.expect("write");
    if !answer {
        return (stream, 0);
    }
    let mut head = vec![0u8; 256];
    let read = tokio::time::timeout(WAIT, stream.read(&mut head))
        .await
        .expect("an answer in time")
        .expect("read");
    let status = String::from_utf8_lossy(&head[..read])
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    (stream, status)
}

/// Resident memory once it has fallen below `limit` KiB, or after `within` (the allocator is
/// asked once a second whether freed memory is worth giving back; nothing announces the
/// drop, so the value is sampled).
async fn rss_settling_below(berth: &Berth, limit: u64, within: Duration) -> u64 {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let rss = berth.rss_kib();
        if rss < limit || tokio::time::Instant::now() >= deadline {
            return rss;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Asserts that a flood cost memory (`during`, KiB) and that, once it is over, resident
/// memory comes back within [`SETTLED_MARGIN`] of `baseline`.
async fn assert_settles(berth: &Berth, baseline: u64, during: u64, flood: &str) {
    let limit = baseline + SETTLED_MARGIN;
    let after = rss_settling_below(berth, limit, Duration::from_secs(20)).await;
    println!("RSS KiB: baseline {baseline}, {FLOOD} {flood} {during}, after {after}");
    assert!(
        during > baseline + 6_000,
        "the flood cost less than expected"
    );
    assert!(
        after < limit,
        "RSS stayed up: baseline {baseline} KiB, during {during}, after {after}"
    );
}

#[tokio::test]
async fn a_request_head_over_the_limit_is_answered_431() {
    let apps = Apps::new("memory-head-limit");
    apps.sample("echo");
    let berth = Berth::start(&apps);
    assert_eq!(
        send(&berth, &handshake(&berth, 15_000, true), true).await.1,
        101
    );
    assert_eq!(
        send(&berth, &handshake(&berth, 17_000, true), true).await.1,
        431
    );
    assert_eq!(
        send(&berth, &handshake(&berth, 300_000, true), true)
            .await
            .1,
        431
    );
    drop(berth);

    let apps = Apps::new("memory-head-limit-set");
    apps.sample("echo");
    let conf = apps.server_conf("<max-request-head-size>8192</max-request-head-size>");
    let conf = conf.to_str().expect("utf-8 path");
    let berth = Berth::start_with(&apps, &["--conf", conf]);
    assert_eq!(
        send(&berth, &handshake(&berth, 7_000, true), true).await.1,
        101
    );
    assert_eq!(
        send(&berth, &handshake(&berth, 9_000, true), true).await.1,
        431
    );
}

#[tokio::test]
async fn memory_returns_near_its_baseline_after_a_flood_of_sessions_with_big_heads() {
    let apps = Apps::new("memory-flood-sessions");
    apps.sample("echo");
    let berth = Berth::start(&apps);
    echo_round_trip(&berth.url("/echo/")).await;
    let baseline = berth.rss_kib();

    let request = handshake(&berth, 15_000, true);
    let mut flood = Vec::new();
    for _ in 0..FLOOD {
        let (stream, status) = send(&berth, &request, true).await;
        assert_eq!(status, 101);
        flood.push(stream);
    }
    assert!(
        berth.wait_for_count("session opened", FLOOD + 1, WAIT),
        "every session opened"
    );
    let during = berth.rss_kib();
    drop(flood);
    assert!(
        berth.wait_for_count("session closed", FLOOD + 1, Duration::from_secs(20)),
        "every session closed:\n{}",
        berth.logs()
    );
    assert_settles(&berth, baseline, during, "sessions with 15 KB heads").await;
    echo_round_trip(&berth.url("/echo/")).await;
}

#[tokio::test]
async fn memory_returns_near_its_baseline_after_heads_that_never_finish() {
    let apps = Apps::new("memory-flood-slowloris");
    apps.sample("echo");
    let berth = Berth::start(&apps);
    echo_round_trip(&berth.url("/echo/")).await;
    let baseline = berth.rss_kib();

    let request = handshake(&berth, 14_000, false);
    let mut flood = Vec::new();
    for _ in 0..FLOOD {
        flood.push(send(&berth, &request, false).await.0);
    }
    // Every partial head has reached the server once a request sent after them is answered.
    echo_round_trip(&berth.url("/echo/")).await;
    let during = berth.rss_kib();
    drop(flood);
    assert_settles(&berth, baseline, during, "unfinished 14 KB heads").await;
}
