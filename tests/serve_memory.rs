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

/// The share of a flood's growth that must be given back once it is over (the code before
/// issue 10 gave back none). glibc returns only whole free pages, and the pool threads a
/// flood of `on_open`s started keep their arenas' partly used pages until they exit, so
/// about a third can stay for a while: measured 25–45 % kept after 500 sessions, 2–30 %
/// after 500 unfinished heads.
const RETURNED: f64 = 0.4;

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

/// Resident memory once it has stopped falling: the lowest value seen, when 3 s passed
/// without a lower one (or after `within`). The allocator is asked once a second whether
/// freed memory is worth giving back; nothing announces the drop, so the value is sampled.
async fn rss_settled(berth: &Berth, within: Duration) -> u64 {
    let deadline = tokio::time::Instant::now() + within;
    let mut lowest = berth.rss_kib();
    let mut lowest_at = tokio::time::Instant::now();
    while tokio::time::Instant::now() < deadline && lowest_at.elapsed() < Duration::from_secs(3) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let rss = berth.rss_kib();
        if rss < lowest {
            (lowest, lowest_at) = (rss, tokio::time::Instant::now());
        }
    }
    lowest
}

/// Asserts that a flood cost memory (`during`, KiB) and that, once it is over, resident
/// memory gives back most of what it took: at least [`RETURNED`] of the growth.
async fn assert_settles(berth: &Berth, baseline: u64, during: u64, flood: &str) {
    let after = rss_settled(berth, Duration::from_secs(30)).await;
    println!("RSS KiB: baseline {baseline}, {FLOOD} {flood} {during}, after {after}");
    assert!(
        during > baseline + 6_000,
        "the flood cost less than expected"
    );
    let grown = during - baseline;
    let kept = after.saturating_sub(baseline);
    assert!(
        (kept as f64) < (1.0 - RETURNED) * grown as f64,
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
    // Each connection the server was reading a head from ends with this (debug) line.
    assert!(
        berth.wait_for_count("HTTP connection ended", FLOOD, Duration::from_secs(20)),
        "every unfinished connection ended:\n{}",
        berth.logs()
    );
    assert_settles(&berth, baseline, during, "unfinished 14 KB heads").await;
}
