//! SIGTERM: stop accepting, close every session with 1001, run every `on_close`, exit 0
//! within the grace period. SIGHUP does not stop: it makes Berth look at the apps directory
//! again.

use std::time::Duration;

use berth_tests::apps::{Apps, descriptor};
use berth_tests::client::{connect, echo_round_trip, expect_close, recv_text, send_text};
use berth_tests::server::Berth;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_closes_every_session_with_1001_runs_on_close_and_exits_0() {
    let apps = Apps::new("shutdown");
    apps.context("probe", "probe", &descriptor(""));
    apps.sample("presence");
    let mut berth = Berth::start(&apps);
    let mut clients = Vec::new();
    for _ in 0..3 {
        clients.push(connect(&berth.url("/probe/")).await);
    }
    let mut watcher = connect(&berth.url("/presence/?user=watcher")).await;
    let status = tokio::task::block_in_place(|| berth.terminate(Duration::from_secs(20)));
    for ws in &mut clients {
        assert_eq!(
            expect_close(ws).await.map(|f| u16::from(f.code)),
            Some(1001)
        );
    }
    assert_eq!(
        expect_close(&mut watcher).await.map(|f| u16::from(f.code)),
        Some(1001)
    );
    let status = status.expect("berth exited within the grace period");
    assert!(status.success(), "exit status {status:?}");
    let logs = berth.logs();
    assert_eq!(
        logs.lines()
            .filter(
                |line| line.contains("probe closed") && line.contains("code=1001 cause=Shutdown")
            )
            .count(),
        3,
        "every on_close ran:\n{logs}"
    );
    assert!(logs.contains("watcher left: code 1001"), "{logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_deploys_a_new_context_while_open_sessions_carry_on() {
    let apps = Apps::new("hangup");
    apps.sample("echo");
    // Watching off: only SIGHUP can deploy the new context.
    apps.server_conf("<deploy-scan-interval-in-millis>0</deploy-scan-interval-in-millis>");
    let berth = Berth::start(&apps);
    let mut ws = echo_round_trip(&berth.url("/echo/")).await;
    apps.context("probe", "probe", &descriptor(""));
    berth.send_signal("HUP");
    let served = berth.wait_for_log("serving context=probe", Duration::from_secs(20));
    assert!(served.is_some(), "{}", berth.logs());
    let _late = connect(&berth.url("/probe/")).await;
    send_text(&mut ws, "still here").await;
    assert_eq!(recv_text(&mut ws).await, "still here");
    let logs = berth.logs();
    assert!(
        logs.contains("SIGHUP: looking at the apps directory again"),
        "{logs}"
    );
    assert!(!logs.contains("shutting down"), "{logs}");
}
