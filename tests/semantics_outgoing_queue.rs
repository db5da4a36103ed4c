//! Each session's outgoing queue is bounded in bytes — four times `batching-buffer-size`, at
//! least 256 KiB — so a client that stops reading cannot make the server buffer without
//! limit: an async send that does not fit is refused at once with "queue full", and a
//! broadcast recipient whose queue is full is dropped as a slow consumer (1006) while the
//! other recipients keep being served.
//!
//! The clients that stop reading use a small fixed receive window, so what the sockets absorb
//! (the server's send buffer, at most a few MiB) stays well apart from the bounds measured.

use std::time::{Duration, Instant};

use berth_tests::apps::{Apps, descriptor};
use berth_tests::client::{
    WAIT, Ws, connect, connect_small_window, next_message, recv_text, send_text,
};
use berth_tests::server::{Berth, probe};
use tokio_tungstenite::tungstenite::Message;

const MIB: u64 = 1024 * 1024;

/// The number after `key=` in a log line.
fn field(line: &str, key: &str) -> u64 {
    line.split(&format!(" {key}="))
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("no {key}= in {line}"))
}

/// Asks context `path`'s probe, through a client that then stops reading, for async sends of
/// 64 KiB until one is refused; returns the probe's `probe fill` log line.
async fn fill(berth: &Berth, path: &str, context: &str) -> (Ws, String) {
    let mut stuck = connect_small_window(&berth.url(path), 4096).await;
    // Up to 125 MiB: more than the larger bound plus any socket buffer.
    send_text(&mut stuck, "fill:2000:65536").await;
    let deadline = Instant::now() + WAIT;
    loop {
        let logs = berth.logs();
        let line = logs
            .lines()
            .find(|l| l.contains("probe fill") && l.contains(&format!("context=\"{context}\"")));
        if let Some(line) = line {
            return (stuck, line.to_owned());
        }
        assert!(
            Instant::now() < deadline,
            "the fill of {context} did not end:\n{logs}"
        );
        berth.wait_for_count("probe fill", 1, Duration::from_millis(50));
    }
}

#[tokio::test]
async fn an_async_send_that_does_not_fit_the_outgoing_queue_is_refused_at_once() {
    let apps = Apps::new("queue-bound");
    let no_deadline = "<async-send-timeout-in-millis>0</async-send-timeout-in-millis>";
    // 4 × 1 KiB is below the floor: the bound is 256 KiB.
    let small = format!("<batching-buffer-size>1024</batching-buffer-size>{no_deadline}");
    // 4 × 16 MiB: the bound is 64 MiB.
    let large = format!("<batching-buffer-size>16777216</batching-buffer-size>{no_deadline}");
    apps.context("small", "probe", &descriptor(&small));
    apps.context("large", "probe", &descriptor(&large));
    let berth = Berth::start(&apps);

    let (_small_client, line) = fill(&berth, "/small/", "small").await;
    assert!(line.contains("result=QueueFull"), "{line}");
    let taken = field(&line, "bytes");
    // The 256 KiB queue, one burst being written and the server's send buffer (4 MiB at most
    // by default): far below what the client did not read.
    assert!(
        taken < 16 * MIB,
        "a session whose client reads nothing took {taken} bytes: {line}"
    );

    let (_large_client, line) = fill(&berth, "/large/", "large").await;
    assert!(line.contains("result=QueueFull"), "{line}");
    let taken = field(&line, "bytes");
    assert!(
        taken >= 64 * MIB,
        "the bound follows batching-buffer-size (64 MiB queued at least): took {taken}: {line}"
    );
}

/// The length of the next binary message.
async fn recv_binary(ws: &mut Ws) -> usize {
    match next_message(ws).await {
        Message::Binary(data) => data.len(),
        other => panic!("expected a binary message, got {other:?}"),
    }
}

/// One broadcast of 256 KiB from `sender` to the whole context; both clients must get it.
async fn broadcast_round(sender: &mut Ws, reader: &mut Ws) {
    const SIZE: usize = 256 * 1024;
    send_text(sender, &format!("bcast:1:{SIZE}")).await;
    assert_eq!(recv_binary(sender).await, SIZE, "the sender's own copy");
    assert_eq!(recv_text(sender).await, "bcast-done");
    assert_eq!(recv_binary(reader).await, SIZE, "the reader's copy");
}

#[tokio::test]
async fn a_broadcast_recipient_that_stopped_reading_is_dropped_and_the_others_are_served() {
    // The bound is 256 KiB: one broadcast fits an empty queue, the next one waits behind it.
    let (_apps, berth) = probe(
        "slow-consumer",
        "<batching-buffer-size>1024</batching-buffer-size>",
    );
    let mut slow = connect_small_window(&berth.url("/probe/"), 4096).await;
    send_text(&mut slow, "id").await;
    let slow_id = recv_text(&mut slow).await.replace("id:", "");
    let mut sender = connect(&berth.url("/probe/")).await;
    let mut reader = connect(&berth.url("/probe/")).await;
    // From here on `slow` reads nothing. Each round is read whole by the other two before
    // the next, so only the slow session's queue fills.
    let closed = format!("probe closed {slow_id} ");
    let started = Instant::now();
    let mut rounds = 0;
    while !berth.logs().contains(&closed) {
        assert!(
            rounds < 400 && started.elapsed() < Duration::from_secs(60),
            "the slow consumer was not dropped after {rounds} broadcasts of 256 KiB:\n{}",
            berth.logs()
        );
        broadcast_round(&mut sender, &mut reader).await;
        rounds += 1;
    }
    let line = berth
        .logs()
        .lines()
        .find(|l| l.contains(&closed))
        .map(str::to_owned)
        .expect("seen above");
    assert!(line.contains("code=1006"), "dropped, not closed: {line}");
    assert!(
        line.contains("cause=SlowConsumer"),
        "its own cause, not a send timeout: {line}"
    );
    for _ in 0..3 {
        broadcast_round(&mut sender, &mut reader).await;
    }
    let closes = berth.logs().matches("probe closed").count();
    assert_eq!(
        closes,
        1,
        "only the slow consumer was closed:\n{}",
        berth.logs()
    );
    drop(slow);
}
