//! `blocking-send-timeout-in-millis` and `async-send-timeout-in-millis`: a client that stops
//! reading makes sends fail after the configured time, by timer, and the connection is
//! dropped (1006, cause send timeout); the server's memory stays bounded and other sessions
//! keep being served.
//!
//! The time a send took is measured inside the plugin, from the call to its outcome, so an
//! early timeout is caught as surely as a late one (or the 10 s / 30 s defaults).

use std::time::{Duration, Instant};

use berth_tests::client::{connect, recv_text, send_text};
use berth_tests::server::{Berth, probe};

const TIMEOUTS: &str = "<blocking-send-timeout-in-millis>1000</blocking-send-timeout-in-millis>\
                        <async-send-timeout-in-millis>1000</async-send-timeout-in-millis>";

/// A send configured to time out after 1 s must fail within this window: never before its
/// time (a little clock slack), and far from the defaults (10 s blocking, 30 s async) even on
/// a loaded machine.
const EXPECTED_MS: std::ops::Range<u64> = 900..5000;

const GENEROUS: Duration = Duration::from_secs(20);

/// The number after `key=` in a log line.
fn field(line: &str, key: &str) -> u64 {
    line.split(&format!("{key}="))
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("no {key}= in {line}"))
}

/// Waits for a log line containing `needle`, sampling the server's resident memory every
/// 20 ms meanwhile; returns the line and the largest sample in KiB.
fn wait_sampling_rss(berth: &Berth, needle: &str, timeout: Duration) -> (String, u64) {
    let deadline = Instant::now() + timeout;
    let mut peak = berth.rss_kib();
    loop {
        if let Some(line) = berth.wait_for_log(needle, Duration::from_millis(20)) {
            return (line, peak);
        }
        peak = peak.max(berth.rss_kib());
        assert!(
            Instant::now() < deadline,
            "no {needle:?} within {timeout:?}:\n{}",
            berth.logs()
        );
    }
}

#[tokio::test]
async fn a_blocking_send_to_a_client_that_stopped_reading_fails_after_the_timeout() {
    let (_apps, berth) = probe("send-blocking", TIMEOUTS);
    let baseline_kib = berth.rss_kib();
    let mut stuck = connect(&berth.url("/probe/")).await;
    let mut bystander = connect(&berth.url("/probe/")).await;
    // 6.5 GB of blocking sends to a client that never reads again.
    send_text(&mut stuck, "flood:100000:65536").await;
    for n in 0..5 {
        send_text(&mut bystander, &format!("meanwhile {n}")).await;
        assert_eq!(recv_text(&mut bystander).await, format!("meanwhile {n}"));
    }
    // Memory is sampled while the send is stuck, not after the session is gone.
    let (line, peak_kib) = wait_sampling_rss(&berth, "probe flood sent=", GENEROUS);
    assert!(line.contains("result=Timeout"), "{line}");
    let took = field(&line, "last_ms");
    assert!(
        EXPECTED_MS.contains(&took),
        "the failing blocking send took {took} ms, configured 1000: {line}"
    );
    let closed = berth
        .wait_for_log("code=1006 cause=SendTimeout", GENEROUS)
        .expect("the session was dropped");
    assert!(closed.contains("probe closed"), "{closed}");
    let grown_kib = peak_kib.saturating_sub(baseline_kib);
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
    send_text(&mut stuck, "aflood:100000:65536").await;
    let line = berth
        .wait_for_log("probe flood sent=", GENEROUS)
        .expect("the flood ended");
    assert!(
        line.contains("result=Closed"),
        "the dropped session refuses further sends: {line}"
    );
    // The completions are posted before the session's `on_close`.
    berth
        .wait_for_log("code=1006 cause=SendTimeout", GENEROUS)
        .expect("the session was dropped");
    let logs = berth.logs();
    let timed_out: Vec<u64> = logs
        .lines()
        .filter(|l| l.contains("probe async") && l.contains(" Timeout "))
        .map(|l| field(l, "after_ms"))
        .collect();
    // The oldest frame, whose deadline fired, waited longest; later frames of its burst
    // fail with it, earlier than their own deadlines.
    let longest = timed_out
        .iter()
        .max()
        .copied()
        .unwrap_or_else(|| panic!("no completion reported the timeout:\n{logs}"));
    assert!(
        EXPECTED_MS.contains(&longest),
        "the oldest unsent async send timed out after {longest} ms, configured 1000"
    );
    drop(stuck);
}
