//! Running out of file descriptors: the accept loop pauses instead of spinning, logs each
//! episode once, and recovers by itself; and at start the soft open-files limit is raised to
//! the hard one, so a default soft limit of 1 024 does not cap the container.

use std::time::{Duration, Instant};

use berth_tests::apps::Apps;
use berth_tests::client::{WAIT, echo_round_trip};
use berth_tests::server::{Berth, Launch};
use tokio::net::TcpStream;

/// `(soft, hard)` open-files limits of a process, from `/proc/PID/limits`.
fn open_files_limits(pid: &str) -> (u64, u64) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).expect("limits");
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .expect("an open files line");
    let numbers: Vec<u64> = line
        .split_whitespace()
        .filter_map(|word| word.parse().ok())
        .collect();
    (numbers[0], numbers[1])
}

#[tokio::test]
async fn at_the_open_files_limit_accepting_pauses_instead_of_spinning_and_recovers() {
    let apps = Apps::new("exhaustion-emfile");
    apps.sample("echo");
    let berth = Berth::launch(
        &apps,
        &Launch {
            wrapper: &["prlimit", "--nofile=64:64", "--"],
            ..Launch::default()
        },
    );
    // The kernel completes these handshakes into the listen backlog; the server runs out
    // of descriptors accepting them.
    let mut held = Vec::new();
    for _ in 0..150 {
        held.push(TcpStream::connect(berth.addr()).await.expect("connect"));
    }
    berth
        .wait_for_log("accept failed for lack of resources", WAIT)
        .unwrap_or_else(|| panic!("the server never ran out:\n{}", berth.logs()));

    let (cpu_before, started) = (berth.cpu_time(), Instant::now());
    // A measurement window, not a wait for an event: how much CPU does a stuck accept cost?
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (cpu, window) = (berth.cpu_time() - cpu_before, started.elapsed());
    println!("server CPU while at EMFILE: {cpu:?} in {window:?}");
    assert!(
        cpu < window / 5,
        "the accept loop spins: {cpu:?} of CPU in {window:?}"
    );
    let logged = berth.logs().matches("accept failed").count();
    assert_eq!(logged, 1, "one line per episode:\n{}", berth.logs());

    drop(held);
    let line = berth
        .wait_for_log("accepting connections again", Duration::from_secs(20))
        .unwrap_or_else(|| panic!("no recovery:\n{}", berth.logs()));
    assert!(line.contains("failed_accepts="), "{line}");
    echo_round_trip(&berth.url("/echo/")).await;
}

#[tokio::test]
async fn the_soft_open_files_limit_is_raised_to_the_hard_limit_at_start() {
    let (_, our_hard) = open_files_limits("self");
    let hard = our_hard.min(4096);
    let soft = 256.min(hard);
    let limit = format!("--nofile={soft}:{hard}");
    let apps = Apps::new("exhaustion-rlimit");
    apps.sample("echo");
    let berth = Berth::launch(
        &apps,
        &Launch {
            wrapper: &["prlimit", &limit, "--"],
            ..Launch::default()
        },
    );
    assert_eq!(
        open_files_limits(&berth.pid().to_string()),
        (hard, hard),
        "{}",
        berth.logs()
    );
    if soft < hard {
        let line = berth
            .wait_for_log("open files limit raised", WAIT)
            .expect("the raise is logged");
        assert!(line.contains(&format!("from={soft} to={hard}")), "{line}");
    }
    echo_round_trip(&berth.url("/echo/")).await;
}
