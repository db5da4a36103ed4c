//! SIGTERM: stop accepting, close every session with 1001, run every `on_close`, exit 0
//! within the grace period. SIGHUP does the same, with a warning naming it.

use std::time::Duration;

use berth_tests::apps::{Apps, descriptor};
use berth_tests::client::{connect, expect_close};
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
async fn sighup_closes_every_session_with_1001_runs_on_close_exits_0_and_says_so() {
    let apps = Apps::new("hangup");
    apps.context("probe", "probe", &descriptor(""));
    let mut berth = Berth::start(&apps);
    let mut ws = connect(&berth.url("/probe/")).await;
    let status = tokio::task::block_in_place(|| berth.signal("HUP", Duration::from_secs(20)));
    assert_eq!(
        expect_close(&mut ws).await.map(|f| u16::from(f.code)),
        Some(1001)
    );
    let status = status.expect("berth exited within the grace period");
    assert!(status.success(), "exit status {status:?}");
    let logs = berth.logs();
    assert!(
        logs.lines()
            .any(|line| line.contains("probe closed") && line.contains("code=1001 cause=Shutdown")),
        "on_close ran:\n{logs}"
    );
    assert!(
        logs.lines().any(|line| line.contains("WARN")
            && line.contains("SIGHUP: Berth does not reload yet, so it stops as on SIGTERM")),
        "{logs}"
    );
    assert!(logs.contains("shutting down signal=\"SIGHUP\""), "{logs}");
}
