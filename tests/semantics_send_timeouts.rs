//! `blocking-send-timeout-in-millis` and `async-send-timeout-in-millis`: a client that stops
//! reading makes sends fail after the configured time, by timer, and the connection is
//! dropped (1006, cause send timeout); the server's memory stays bounded and other sessions
//! keep being served.

use std::time::{Duration, Instant};

use berth_tests::client::{connect, recv_text, send_text};
use berth_tests::server::probe;

const TIMEOUTS: &str = "<blocking-send-timeout-in-millis>1000</blocking-send-timeout-in-millis>\
                        <async-send-timeout-in-millis>1000</async-send-timeout-in-millis>";

const GENEROUS: Duration = Duration::from_secs(20);

#[tokio::test]
async fn a_blocking_send_to_a_client_that_stopped_reading_fails_after_the_timeout() {
    let (_apps, berth) = probe("send-blocking", TIMEOUTS);
    let baseline_kib = berth.rss_kib();
    let mut stuck = connect(&berth.url("/probe/")).await;
    let mut bystander = connect(&berth.url("/probe/")).await;
    // 6.5 GB of blocking sends to a client that never reads again.
    let started = Instant::now();
    send_text(&mut stuck, "flood:100000:65536").await;
    for n in 0..5 {
        send_text(&mut bystander, &format!("meanwhile {n}")).await;
        assert_eq!(recv_text(&mut bystander).await, format!("meanwhile {n}"));
    }
    let line = berth
        .wait_for_log("probe flood sent=", GENEROUS)
        .expect("the flood ended");
    let waited = started.elapsed();
    assert!(line.contains("result=Timeout"), "{line}");
    assert!(
        waited >= Duration::from_millis(900),
        "failed after {waited:?}, before its timeout"
    );
    let closed = berth
        .wait_for_log("code=1006 cause=SendTimeout", GENEROUS)
        .expect("the session was dropped");
    assert!(closed.contains("probe closed"), "{closed}");
    let grown_kib = berth.rss_kib().saturating_sub(baseline_kib);
    assert!(
        grown_kib < 64 * 1024,
        "the server grew by {grown_kib} KiB for one stuck client"
    );
    send_text(&mut bystander, "after").await;
    assert_eq!(recv_text(&mut bystander).await, "after");
    drop(stuck);
}

#[tokio::test]
async fn async_sends_that_cannot_be_written_complete_with_a_timeout_error() {
    let (_apps, berth) = probe("send-async", TIMEOUTS);
    let mut stuck = connect(&berth.url("/probe/")).await;
    let started = Instant::now();
    send_text(&mut stuck, "aflood:100000:65536").await;
    let completion = berth
        .wait_for_log("Timeout", GENEROUS)
        .expect("a completion reported the timeout");
    assert!(completion.contains("probe async"), "{completion}");
    let line = berth
        .wait_for_log("probe flood sent=", GENEROUS)
        .expect("the flood ended");
    assert!(
        line.contains("result=Closed"),
        "the dropped session refuses further sends: {line}"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "timed out after {:?}",
        started.elapsed()
    );
    berth
        .wait_for_log("code=1006 cause=SendTimeout", GENEROUS)
        .expect("the session was dropped");
    drop(stuck);
}
