//! Live deployment, end to end (issue 13, items 2, 3 and 5): the real binary, real plugin
//! libraries copied into its apps directory while it runs, SIGHUP to make it look, and real
//! clients on a bystander context that must notice nothing.
//!
//! The context under test is the versioned fixture: two builds of one source whose replies
//! (`version_one:<text>`, `version_two:<text>`) and log lines carry the library's own name,
//! copied in turn onto the same file, so which code serves a session is visible in every
//! answer.
//!
//! - a directory copied in serves after SIGHUP; the other context's session carries on;
//! - a new library, `close` policy: the open session gets 1012 and its `on_close` runs on the
//!   old code with cause `Redeploy`, a new session already talks to the new code, then the
//!   old version's `on_undeploy(Redeploy)` runs, and the generation goes up;
//! - `drain` policy: the old session keeps talking to the old code beside a new session on
//!   the new one; when it ends the old version retires; sessions still open at the drain
//!   timeout get 1012;
//! - a removed directory: 1001 with cause `Undeploy`, then 404; a renamed one is an undeploy
//!   plus a deploy.

use std::time::{Duration, Instant};

use berth_tests::apps::{Apps, descriptor};
use berth_tests::client::{Ws, connect, echo_round_trip, handshake_status};
use berth_tests::live::{
    self, Write, close_code, close_normally, echoes, generation, line_index, lines_with, logged,
    talks,
};
use berth_tests::server::Berth;

/// The old build's marker.
const ONE: &str = "version_one";
/// The new build's marker.
const TWO: &str = "version_two";
/// The file both builds are copied onto.
const LIBRARY: &str = "libversioned.so";

/// A server with the echo sample (the bystander) and, when `versioned` is given, context `v`
/// (`/v`) serving build one with that `<websocket>` content; and an open, checked session on
/// the echo sample.
async fn server(label: &str, versioned: Option<&str>) -> (Apps, Berth, Ws) {
    let apps = Apps::new(label);
    apps.sample("echo");
    if let Some(inner) = versioned {
        apps.context_as("v", "version_one", LIBRARY, &descriptor(inner));
    }
    let berth = live::start(&apps);
    let bystander = echo_round_trip(&berth.url("/echo/")).await;
    (apps, berth, bystander)
}

/// A session on `v` that has talked to build `marker`.
async fn session(berth: &Berth, marker: &str) -> Ws {
    let mut ws = connect(&berth.url("/v/")).await;
    talks(&mut ws, marker, "hello").await;
    ws
}

/// The bystander still echoes, and nothing on the echo sample was closed.
async fn bystander_unharmed(berth: &Berth, bystander: &mut Ws) {
    echoes(bystander, "still here").await;
    let logs = berth.logs();
    let closed = lines_with(&logs, &["session closed", "context=echo"]);
    assert!(closed.is_empty(), "the bystander lost a session:\n{logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_copied_in_serves_after_sighup_while_another_context_carries_on() {
    let (apps, berth, mut bystander) = server("live-deploy", None).await;
    apps.context_as("v", "version_one", LIBRARY, &descriptor(""));
    let asked = Instant::now();
    berth.send_signal("HUP");
    logged(&berth, "serving context=v", 1);
    let mut ws = session(&berth, ONE).await;
    println!(
        "a copied-in context served {:?} after SIGHUP",
        asked.elapsed()
    );
    talks(&mut ws, ONE, "and again").await;
    bystander_unharmed(&berth, &mut bystander).await;
    logged(&berth, "plugin: version_one deploy", 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_library_gives_old_sessions_1012_while_new_sessions_talk_to_the_new_code() {
    let (apps, berth, mut bystander) = server("live-redeploy-close", Some("")).await;
    let first = logged(&berth, "serving context=v", 1);
    let mut old = session(&berth, ONE).await;

    apps.put_library("v", "version_two", LIBRARY, Write::InPlace);
    berth.send_signal("HUP");
    let second = logged(&berth, "serving context=v", 2);
    assert!(
        generation(&second) > generation(&first),
        "{first}\n{second}"
    );
    let mut new = session(&berth, TWO).await;

    assert_eq!(close_code(&mut old).await, 1012);
    logged(
        &berth,
        "plugin: version_one closed code=1012 cause=Redeploy",
        1,
    );
    logged(&berth, "plugin: version_one undeploy Redeploy closed=1", 1);
    logged(&berth, "retired context=v departure=Redeploy", 1);
    talks(&mut new, TWO, "after the old version retired").await;
    bystander_unharmed(&berth, &mut bystander).await;

    let logs = berth.logs();
    let why = logged(&berth, "redeploying:", 1);
    assert!(why.contains(&format!("{LIBRARY} changed")), "{why}");
    // The new version is loaded before anything happens to the old one, and the old
    // plugin's on_undeploy comes after its last on_close.
    let loaded = line_index(&logs, "plugin: version_two deploy");
    let closed = line_index(&logs, "plugin: version_one closed");
    let undeployed = line_index(&logs, "plugin: version_one undeploy");
    assert!(loaded < closed && closed < undeployed, "{logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_drain_old_sessions_keep_the_old_code_until_they_end_then_it_retires() {
    let inner = "<redeploy-policy>drain</redeploy-policy>";
    let (apps, berth, mut bystander) = server("live-redeploy-drain", Some(inner)).await;
    let mut old = session(&berth, ONE).await;

    apps.put_library("v", "version_two", LIBRARY, Write::Atomic);
    berth.send_signal("HUP");
    logged(&berth, "serving context=v", 2);
    logged(&berth, "retiring context=v", 1);
    let mut new = session(&berth, TWO).await;
    for round in 0..3 {
        talks(&mut old, ONE, &format!("old, round {round}")).await;
        talks(&mut new, TWO, &format!("new, round {round}")).await;
    }
    let logs = berth.logs();
    assert!(!logs.contains("plugin: version_one closed"), "{logs}");
    assert!(!logs.contains("retired context=v"), "{logs}");

    close_normally(&mut old).await;
    logged(
        &berth,
        "plugin: version_one closed code=1000 cause=RemoteClose",
        1,
    );
    logged(&berth, "plugin: version_one undeploy Redeploy closed=1", 1);
    logged(&berth, "retired context=v departure=Redeploy", 1);
    talks(&mut new, TWO, "after the old version retired").await;
    bystander_unharmed(&berth, &mut bystander).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_drain_sessions_still_open_at_the_drain_timeout_get_1012() {
    let drain = Duration::from_millis(3000);
    let inner = format!(
        "<redeploy-policy>drain</redeploy-policy>\n<drain-timeout-in-millis>{}</drain-timeout-in-millis>",
        drain.as_millis()
    );
    let (apps, berth, mut bystander) = server("live-drain-timeout", Some(&inner)).await;
    let mut old = session(&berth, ONE).await;

    apps.put_library("v", "version_two", LIBRARY, Write::Atomic);
    berth.send_signal("HUP");
    logged(&berth, "serving context=v", 2);
    let switched = Instant::now();
    talks(&mut old, ONE, "draining").await;
    let mut new = session(&berth, TWO).await;

    assert_eq!(close_code(&mut old).await, 1012);
    let waited = switched.elapsed();
    // The drain began around the switch this test saw logged; half of it is a margin for
    // when the log line reached the test, not for the server's timer.
    assert!(
        waited >= drain / 2,
        "closed after {waited:?}, drain {drain:?}"
    );
    logged(
        &berth,
        "plugin: version_one closed code=1012 cause=Redeploy",
        1,
    );
    logged(&berth, "plugin: version_one undeploy Redeploy closed=1", 1);
    logged(&berth, "retired context=v departure=Redeploy", 1);
    talks(&mut new, TWO, "after the drain").await;
    bystander_unharmed(&berth, &mut bystander).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_the_directory_gives_open_sessions_1001_then_handshakes_404() {
    let (apps, berth, mut bystander) = server("live-undeploy", Some("")).await;
    let mut old = session(&berth, ONE).await;

    std::fs::remove_dir_all(apps.context_dir("v")).expect("the context dir can be removed");
    berth.send_signal("HUP");
    assert_eq!(close_code(&mut old).await, 1001);
    logged(&berth, "undeploying: its directory is gone context=v", 1);
    logged(
        &berth,
        "plugin: version_one closed code=1001 cause=Undeploy",
        1,
    );
    logged(&berth, "plugin: version_one undeploy Undeploy closed=1", 1);
    logged(&berth, "retired context=v departure=Undeploy", 1);
    assert_eq!(handshake_status(berth.addr(), "/v/", &[]).await, 404);
    bystander_unharmed(&berth, &mut bystander).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renamed_directory_is_an_undeploy_plus_a_deploy() {
    let (apps, berth, mut bystander) = server("live-rename", Some("")).await;
    let mut old = session(&berth, ONE).await;

    std::fs::rename(apps.context_dir("v"), apps.context_dir("w")).expect("rename");
    berth.send_signal("HUP");
    assert_eq!(close_code(&mut old).await, 1001);
    logged(&berth, "serving context=w", 1);
    logged(
        &berth,
        "plugin: version_one closed code=1001 cause=Undeploy",
        1,
    );
    assert_eq!(handshake_status(berth.addr(), "/v/", &[]).await, 404);
    let mut moved = connect(&berth.url("/w/")).await;
    talks(&mut moved, ONE, "at the new path").await;
    bystander_unharmed(&berth, &mut bystander).await;
}
