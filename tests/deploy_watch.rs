//! Watching the apps directory: a context copied in while the server runs serves within
//! seconds of its last write while the other contexts carry on; a library still being
//! written is left alone until it has settled, never loaded half-written; with watching off
//! only SIGHUP deploys; SIGHUP reads `server.xml` again, applies what can change live and
//! names what needs a restart.

use std::io::Write;
use std::time::{Duration, Instant};

use berth_tests::apps::{Apps, descriptor};
use berth_tests::client::{connect, echo_round_trip, http_status, recv_text, send_text};
use berth_tests::plugin_library;
use berth_tests::server::Berth;

/// How soon after its last write a context must serve at the default settings.
const WITHIN: Duration = Duration::from_secs(5);

/// How long a test waits for something that must happen (generous: CI shares two cores).
const EVENTUALLY: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_context_copied_in_serves_within_5_s_of_its_last_write_while_others_carry_on() {
    let apps = Apps::new("watch-copy");
    apps.sample("echo");
    let berth = Berth::start(&apps);
    let mut ws = echo_round_trip(&berth.url("/echo/")).await;
    apps.context("late", "probe", &descriptor(""));
    let written = Instant::now();
    let served = berth.wait_for_log("serving context=late", EVENTUALLY);
    let took = written.elapsed();
    assert!(served.is_some(), "{}", berth.logs());
    assert!(took < WITHIN, "served {took:?} after the last write");
    let mut late = connect(&berth.url("/late/")).await;
    send_text(&mut late, "hello").await;
    assert_eq!(recv_text(&mut late).await, "hello");
    send_text(&mut ws, "still here").await;
    assert_eq!(recv_text(&mut ws).await, "still here");
    let logs = berth.logs();
    assert!(!logs.contains("echo closed"), "{logs}");
    assert!(!logs.contains("SIGHUP"), "the watcher deployed it: {logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_library_written_slowly_is_left_alone_until_complete_never_loaded_half_written() {
    let apps = Apps::new("watch-slow");
    // A settle time well above the pauses of this slow copy, even on a loaded machine.
    apps.server_conf("<deploy-settle-time-in-millis>2000</deploy-settle-time-in-millis>");
    let berth = Berth::start(&apps);
    let dir = apps.dir().join("slow");
    std::fs::create_dir_all(&dir).expect("context dir");
    std::fs::write(dir.join("jeus-web-dd.xml"), descriptor("")).expect("descriptor");
    let library = std::fs::read(plugin_library("probe")).expect("the probe plugin");
    let (first, rest) = library.split_at(library.len() / 2);
    let mut file = std::fs::File::create(dir.join("libprobe.so")).expect("library file");
    file.write_all(first).expect("first half");
    // A look now, half-way through the copy, must leave the directory alone.
    berth.send_signal("HUP");
    let left_alone = berth.wait_for_log("not settled yet", EVENTUALLY);
    assert!(
        left_alone.is_some_and(|line| line.contains("apps/slow")),
        "{}",
        berth.logs()
    );
    for chunk in rest.chunks(rest.len() / 4 + 1) {
        // Pauses that simulate a slow copy (not synchronisation): each is far below the
        // settle time, so the directory must stay unsettled throughout.
        std::thread::sleep(Duration::from_millis(200));
        file.write_all(chunk).expect("next chunk");
    }
    drop(file);
    let logs = berth.logs();
    assert!(!logs.contains("serving context=slow"), "{logs}");
    let served = berth.wait_for_log("serving context=slow", EVENTUALLY);
    assert!(served.is_some(), "{}", berth.logs());
    let mut ws = connect(&berth.url("/slow/")).await;
    send_text(&mut ws, "whole").await;
    assert_eq!(recv_text(&mut ws).await, "whole");
    let logs = berth.logs();
    assert!(!logs.contains("context not deployed"), "{logs}");
    assert_eq!(
        logs.matches("serving context=slow").count(),
        1,
        "deployed once: {logs}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_watching_off_only_sighup_deploys_and_turning_it_on_takes_effect_at_once() {
    let apps = Apps::new("watch-off");
    apps.server_conf(
        "<deploy-scan-interval-in-millis>0</deploy-scan-interval-in-millis>\
         <deploy-settle-time-in-millis>200</deploy-settle-time-in-millis>",
    );
    let berth = Berth::start(&apps);
    assert!(
        berth.logs().contains("watching the apps directory is off"),
        "{}",
        berth.logs()
    );
    apps.context("late", "probe", &descriptor(""));
    // Nothing announces that nothing happened. Watching would deploy this within the 200 ms
    // settle time and a 200 ms debounce; five times that passes without a deployment.
    let early = berth.wait_for_log("serving context=late", Duration::from_secs(2));
    assert!(early.is_none(), "{}", berth.logs());
    assert_eq!(http_status(berth.addr(), "/late/", &[]).await, 404);
    berth.send_signal("HUP");
    let served = berth.wait_for_log("serving context=late", EVENTUALLY);
    assert!(served.is_some(), "{}", berth.logs());
    let _late = connect(&berth.url("/late/")).await;

    apps.server_conf("");
    berth.send_signal("HUP");
    assert!(berth.wait_for_count("SIGHUP handled", 2, EVENTUALLY));
    let logs = berth.logs();
    assert!(
        logs.contains("<deploy-scan-interval-in-millis> 0 (off) → 5000: applied"),
        "{logs}"
    );
    apps.context("later", "probe", &descriptor(""));
    let served = berth.wait_for_log("serving context=later", EVENTUALLY);
    assert!(served.is_some(), "{}", berth.logs());
    assert_eq!(berth.logs().matches("SIGHUP handled").count(), 2);
}

/// Header lines making a request head of about 6 KB: within the default limit, past 4096.
fn big_head() -> Vec<String> {
    vec![format!("X-Big: {}", "b".repeat(6_000))]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_rereads_server_xml_applies_live_settings_and_names_those_needing_a_restart() {
    let apps = Apps::new("watch-reload");
    apps.sample("echo");
    apps.server_conf("<listen>127.0.0.1:8080</listen>");
    let berth = Berth::start(&apps);
    let big = big_head();
    let big: Vec<&str> = big.iter().map(String::as_str).collect();
    assert_eq!(http_status(berth.addr(), "/nowhere", &big).await, 404);
    let mut ws = echo_round_trip(&berth.url("/echo/")).await;

    apps.server_conf(
        "<listen>127.0.0.1:8081</listen><node-id>edge-2</node-id>\
         <max-request-head-size>4096</max-request-head-size>",
    );
    berth.send_signal("HUP");
    let applied = berth.wait_for_log("<max-request-head-size> 16384 → 4096: applied", EVENTUALLY);
    assert!(applied.is_some(), "{}", berth.logs());
    assert_eq!(http_status(berth.addr(), "/nowhere", &big).await, 431);
    assert_eq!(http_status(berth.addr(), "/nowhere", &[]).await, 404);
    let logs = berth.logs();
    assert!(
        logs.contains("<node-id> node1 → edge-2: needs a restart to take effect"),
        "{logs}"
    );
    assert!(
        logs.contains(
            "<listen> 127.0.0.1:8080 → 127.0.0.1:8081: not used, --listen on the command line overrides it"
        ),
        "{logs}"
    );
    send_text(&mut ws, "still here").await;
    assert_eq!(recv_text(&mut ws).await, "still here");

    apps.server_conf("<max-request-head-size>lots</max-request-head-size>");
    berth.send_signal("HUP");
    let refused = berth.wait_for_log("the running settings stay", EVENTUALLY);
    assert!(refused.is_some(), "{}", berth.logs());
    let logs = berth.logs();
    assert!(
        logs.lines().any(|line| line.contains("conf/server.xml:1:")
            && line.contains("<max-request-head-size> must be a whole number")),
        "{logs}"
    );
    assert_eq!(http_status(berth.addr(), "/nowhere", &big).await, 431);
    send_text(&mut ws, "and here").await;
    assert_eq!(recv_text(&mut ws).await, "and here");
}
