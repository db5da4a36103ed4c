//! A descriptor changed on disk while its context serves: settings that can change live are
//! applied to the running context *and its open sessions*, one log line per setting, and no
//! session is closed by the change itself (issue 13, item 4).

use std::time::Duration;

use berth_tests::apps::{Apps, descriptor};
use berth_tests::client::{Ws, connect, expect_close, handshake_status, recv_text, send_text};
use berth_tests::live;
use berth_tests::server::Berth;

const WAIT: Duration = Duration::from_secs(20);

/// Rewrites the probe context's descriptor and has the server look at it.
fn change_descriptor(apps: &Apps, berth: &Berth, inner: &str, logged: &str) {
    let file = apps.dir().join("probe").join("jeus-web-dd.xml");
    std::fs::write(&file, descriptor(inner)).expect("descriptor can be rewritten");
    berth.send_signal("HUP");
    let line = berth.wait_for_log(logged, WAIT);
    assert!(line.is_some(), "{logged:?} not logged:\n{}", berth.logs());
}

async fn round_trip(ws: &mut Ws, text: &str) {
    send_text(ws, text).await;
    assert_eq!(recv_text(ws).await, text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lowered_text_limit_gives_the_same_open_session_1009_and_closes_nothing() {
    let apps = Apps::new("retune-limit");
    let limit = |bytes: usize| {
        format!(
            "<max-incoming-text-message-buffer-size>{bytes}</max-incoming-text-message-buffer-size>"
        )
    };
    apps.context("probe", "probe", &descriptor(&limit(100)));
    let berth = live::start(&apps);
    let mut sender = connect(&berth.url("/probe/")).await;
    let mut bystander = connect(&berth.url("/probe/")).await;
    let eighty = "x".repeat(80);
    round_trip(&mut sender, &eighty).await;

    change_descriptor(
        &apps,
        &berth,
        &limit(50),
        "setting changed live: websocket/max-incoming-text-message-buffer-size: 100 → 50",
    );
    round_trip(&mut bystander, "still open").await;
    send_text(&mut sender, &eighty).await;
    let close = expect_close(&mut sender).await;
    assert_eq!(close.map(|f| u16::from(f.code)), Some(1009));
    round_trip(&mut bystander, "still open after").await;
    let closed = berth.wait_for_log("probe closed", WAIT);
    assert!(
        closed.is_some_and(|line| line.contains("code=1009")),
        "{}",
        berth.logs()
    );

    let logs = berth.logs();
    let closes: Vec<&str> = (logs.lines())
        .filter(|line| line.contains("probe closed"))
        .collect();
    assert_eq!(
        closes.len(),
        1,
        "only the oversized message closed a session:\n{logs}"
    );
    assert!(!logs.contains("redeploying"), "{logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_raised_pool_max_lets_a_waiting_callback_run_at_once() {
    let apps = Apps::new("retune-pool");
    let pool = |max: usize| {
        format!(
            "<websocket-executor><min>1</min><max>{max}</max><queue-size>16</queue-size></websocket-executor>"
        )
    };
    apps.context("probe", "probe", &descriptor(&pool(1)));
    let berth = live::start(&apps);
    let mut sleeper = connect(&berth.url("/probe/")).await;
    let mut waiter = connect(&berth.url("/probe/")).await;
    send_text(&mut sleeper, "sleep:60000").await;
    let sleeping = berth.wait_for_log("probe sleeping", WAIT);
    assert!(sleeping.is_some(), "{}", berth.logs());
    send_text(&mut waiter, "id").await;
    // The one thread sleeps for a minute: no answer can come while max is 1. A short,
    // bounded look is enough to see the callback wait (its answer would take microseconds).
    let early = tokio::time::timeout(Duration::from_millis(700), recv_text(&mut waiter)).await;
    assert!(early.is_err(), "answered with max 1: {early:?}");

    change_descriptor(
        &apps,
        &berth,
        &pool(2),
        "setting changed live: websocket/websocket-executor/max: 1 → 2",
    );
    let answer = tokio::time::timeout(WAIT, recv_text(&mut waiter)).await;
    let answer = answer.expect("the waiting callback ran on the second thread");
    assert!(answer.starts_with("id:"), "{answer}");
    assert!(!berth.logs().contains("probe closed"), "{}", berth.logs());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_init_param_redeploys_and_says_which_element_forced_it() {
    let apps = Apps::new("retune-fixed");
    let param =
        |value: &str| format!("<init-param><name>mode</name><value>{value}</value></init-param>");
    apps.context("probe", "probe", &descriptor(&param("a")));
    let berth = live::start(&apps);
    let mut ws = connect(&berth.url("/probe/")).await;
    change_descriptor(
        &apps,
        &berth,
        &param("b"),
        "redeploying: <websocket/init-param[mode]> changed (a → b), which cannot change live",
    );
    let close = expect_close(&mut ws).await;
    assert_eq!(close.map(|f| u16::from(f.code)), Some(1012));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shortened_idle_timeout_closes_an_already_idle_session_and_origins_change_at_once() {
    let apps = Apps::new("retune-idle");
    let idle = |timeout: u64, period: u64, origin: &str| {
        format!(
            "<max-session-idle-timeout-in-millis>{timeout}</max-session-idle-timeout-in-millis>\
             <monitoring-period-in-millis>{period}</monitoring-period-in-millis>\
             <allowed-origins><origin>{origin}</origin></allowed-origins>"
        )
    };
    apps.context(
        "probe",
        "probe",
        &descriptor(&idle(600_000, 60_000, "https://old.example")),
    );
    let berth = live::start(&apps);
    let old = ["Origin: https://old.example"];
    let new = ["Origin: https://new.example"];
    assert_eq!(handshake_status(berth.addr(), "/probe/", &new).await, 403);
    let mut ws = connect(&berth.url("/probe/")).await;
    round_trip(&mut ws, "then nothing").await;

    change_descriptor(
        &apps,
        &berth,
        &idle(1000, 1000, "https://new.example"),
        "setting changed live: websocket/max-session-idle-timeout-in-millis: 600000 → 1000",
    );
    assert_eq!(handshake_status(berth.addr(), "/probe/", &new).await, 101);
    assert_eq!(handshake_status(berth.addr(), "/probe/", &old).await, 403);
    // The monitor looked every minute; the change brings its next look forward.
    let close = tokio::time::timeout(WAIT, expect_close(&mut ws)).await;
    let close = close.expect("closed well before the old period would have looked");
    assert_eq!(close.map(|f| u16::from(f.code)), Some(1001));
    let closed = berth.wait_for_log("code=1001 cause=IdleTimeout", WAIT);
    assert!(closed.is_some(), "{}", berth.logs());
}
