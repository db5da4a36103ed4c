//! Isolation: a panicking endpoint closes only its own session, callbacks of one session run
//! one at a time in order, and a blocked context saturates only its own pool.

use std::time::{Duration, Instant};

use berth_tests::apps::{Apps, descriptor};
use berth_tests::client::{WAIT, connect, expect_close, recv_text, send_text};
use berth_tests::server::Berth;
use futures_util::future::join_all;

#[tokio::test]
async fn a_panic_in_on_text_closes_that_session_with_1011_and_nothing_else() {
    let apps = Apps::new("isolation-panic");
    apps.context("probe", "probe", &descriptor(""));
    let berth = Berth::start(&apps);
    let mut bystander = connect(&berth.url("/probe/")).await;
    let mut victim = connect(&berth.url("/probe/")).await;
    send_text(&mut victim, "panic").await;
    let frame = expect_close(&mut victim).await.expect("a close frame");
    assert_eq!(u16::from(frame.code), 1011);
    let line = berth
        .wait_for_log("endpoint callback failed", WAIT)
        .expect("the failure is logged");
    assert!(
        line.contains("context=probe") && line.contains("session="),
        "{line}"
    );
    berth
        .wait_for_log("code=1011 cause=EndpointFailure", WAIT)
        .expect("on_close ran with the failure");
    send_text(&mut bystander, "still here").await;
    assert_eq!(recv_text(&mut bystander).await, "still here");
    let mut newcomer = connect(&berth.url("/probe/")).await;
    send_text(&mut newcomer, "panic").await;
    assert_eq!(
        expect_close(&mut newcomer).await.map(|f| u16::from(f.code)),
        Some(1011),
        "the plugin keeps working"
    );
}

#[tokio::test]
async fn callbacks_of_one_session_never_overlap_and_keep_their_order() {
    let apps = Apps::new("isolation-order");
    let pool = "<websocket-executor><min>4</min><max>8</max><queue-size>4096</queue-size></websocket-executor>";
    apps.context("probe", "probe", &descriptor(pool));
    let berth = Berth::start(&apps);
    const CLIENTS: usize = 12;
    const MESSAGES: u64 = 150;
    let clients = (0..CLIENTS).map(|_| {
        let url = berth.url("/probe/");
        async move {
            let mut ws = connect(&url).await;
            // Pipelined: every message is queued before the first answer is read.
            for n in 1..=MESSAGES {
                send_text(&mut ws, &format!("seq:{n}")).await;
            }
            let mut answers = Vec::new();
            for _ in 1..=MESSAGES {
                answers.push(recv_text(&mut ws).await);
            }
            answers
        }
    });
    for answers in join_all(clients).await {
        let expected: Vec<String> = (1..=MESSAGES).map(|n| format!("ok:{n}")).collect();
        assert_eq!(answers, expected);
    }
}

#[tokio::test]
async fn a_blocked_context_saturates_only_its_own_pool() {
    let apps = Apps::new("isolation-pools");
    let small_pool = "<websocket-executor><min>1</min><max>2</max><queue-size>64</queue-size></websocket-executor>";
    apps.context("slow", "probe", &descriptor(small_pool));
    apps.sample("echo");
    let berth = Berth::start(&apps);

    // Four sessions each ask for 5 s of blocking: both threads of `slow` are taken and the
    // rest waits in its queue. No thread of `slow` is free before +5 s.
    let blocked = Instant::now();
    let mut sleepers = Vec::new();
    for _ in 0..4 {
        let mut ws = connect(&berth.url("/slow/")).await;
        send_text(&mut ws, "sleep:5000").await;
        sleepers.push(ws);
    }
    let mut echo = connect(&berth.url("/echo/")).await;
    assert_eq!(recv_text(&mut echo).await, "welcome to berth echo");
    let mut slowest = Duration::ZERO;
    for n in 0..50 {
        let started = Instant::now();
        send_text(&mut echo, &format!("ping {n}")).await;
        assert_eq!(recv_text(&mut echo).await, format!("ping {n}"));
        slowest = slowest.max(started.elapsed());
    }
    // Every echo was served while `slow` had no free thread: a shared pool would have made
    // the first one wait for a sleeper.
    assert!(
        blocked.elapsed() < Duration::from_millis(5000),
        "50 echoes ended {:?} after the slow context was saturated (slowest round trip {slowest:?})",
        blocked.elapsed()
    );
    // The slow context still completes its work in order.
    for ws in &mut sleepers {
        assert_eq!(recv_text(ws).await, "slept:5000");
    }
}
