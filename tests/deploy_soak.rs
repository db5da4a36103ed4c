//! The redeploy soak (issue 13, item 3): one context is redeployed 50 times in a row — its
//! library rewritten with the other build each time, SIGHUP, the new generation's "serving"
//! line awaited — while four sessions of another context exchange messages all along without
//! a single error or close. Each round also proves the switch: the session opened on the
//! previous version gets 1012, a new one talks to the new build.
//!
//! RSS is printed before, after and per redeploy (`cargo test --test deploy_soak --
//! --nocapture`): libraries are never unloaded (`docs/ARCHITECTURE.md`), so each redeploy
//! keeps at least the pages of its library copy that were touched, and the bound asserted is
//! derived from what was measured, see [`RSS_PER_REDEPLOY_BOUND_KIB`]. Each load also keeps
//! its whole library file in memory (the sealed memfd it was loaded from, debug sections
//! included), which RSS does not count: printed too, and bounded by one file per load.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use berth_tests::apps::{Apps, descriptor};
use berth_tests::client::{Ws, connect, echo_round_trip};
use berth_tests::live::{
    self, Write, close_code, close_normally, echoes, lines_with, logged, talks,
};
use berth_tests::plugin_library;
use berth_tests::server::Berth;

/// Redeploys in a row.
const REDEPLOYS: usize = 50;
/// Sessions of the bystander context exchanging messages meanwhile.
const CLIENTS: usize = 4;
/// The file both builds are copied onto, in turn.
const LIBRARY: &str = "libversioned.so";

/// How much the server's RSS may grow per redeploy, in KiB.
///
/// Measured with the debug build of the versioned fixture (a 10.5 MiB file, 0.8 MiB of it
/// loadable), two shared cores: 830 KiB per redeploy, steady from the first to the fiftieth —
/// about 675 KiB of it the mapped pages of the new library copy (`RssShmem`: the copy is a
/// memfd, mapped by the dynamic loader and kept for ever) and about 155 KiB anonymous (the
/// loader's and the plugin's own bookkeeping, the old version's hub, which the plugin's host
/// context keeps alive on purpose, allocator noise). The bound is about two and a half times
/// that: it catches a redeploy that keeps megabytes (a second copy of its library, say, or
/// the old sessions' buffers), not a few threads' stacks — the test counts the old pools'
/// threads for that.
const RSS_PER_REDEPLOY_BOUND_KIB: u64 = 2048;

/// What the server's memory looks like.
#[derive(Debug, Clone, Copy)]
struct Memory {
    rss: u64,
    anon: u64,
    file: u64,
    shmem: u64,
    copies: usize,
    copies_bytes: u64,
}

impl Memory {
    fn of(berth: &Berth) -> Memory {
        let (copies, copies_bytes) = berth.plugin_copies();
        Memory {
            rss: berth.rss_kib(),
            anon: berth.status_kib("RssAnon"),
            file: berth.status_kib("RssFile"),
            shmem: berth.status_kib("RssShmem"),
            copies,
            copies_bytes,
        }
    }
}

impl std::fmt::Display for Memory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "RSS {} KiB (anon {}, file {}, shmem {}); {} library copies held, {} KiB",
            self.rss,
            self.anon,
            self.file,
            self.shmem,
            self.copies,
            self.copies_bytes / 1024
        )
    }
}

/// How many threads of the server belong to context `v`'s pools.
fn pool_threads_of_v(berth: &Berth) -> usize {
    let names = berth.thread_names();
    names
        .iter()
        .filter(|name| name.starts_with("berth-v-"))
        .count()
}

/// The build a round copies in, and its marker.
fn build(round: usize) -> (&'static str, &'static str) {
    match round % 2 {
        0 => ("version_one", "version_one"),
        _ => ("version_two", "version_two"),
    }
}

/// One bystander session: round trips until `stop`, each counted in `exchanged`.
async fn chatter(
    url: String,
    client: usize,
    stop: Arc<AtomicBool>,
    exchanged: Arc<AtomicU64>,
) -> Ws {
    let mut ws = echo_round_trip(&url).await;
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        echoes(&mut ws, &format!("client {client}, message {n}")).await;
        exchanged.fetch_add(1, Ordering::Relaxed);
        n += 1;
    }
    ws
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_redeploys_in_a_row_leave_other_sessions_untouched_and_rss_bounded() {
    let apps = Apps::new("soak");
    apps.sample("echo");
    apps.context_as("v", "version_one", LIBRARY, &descriptor(""));
    let berth = live::start(&apps);
    let stop = Arc::new(AtomicBool::new(false));
    let exchanged = Arc::new(AtomicU64::new(0));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let url = berth.url("/echo/");
            tokio::spawn(chatter(
                url,
                client,
                Arc::clone(&stop),
                Arc::clone(&exchanged),
            ))
        })
        .collect();
    let mut current = connect(&berth.url("/v/")).await;
    talks(&mut current, "version_one", "first").await;

    let started = Instant::now();
    let before = Memory::of(&berth);
    let pool_threads = pool_threads_of_v(&berth);
    let mut rss = Vec::with_capacity(REDEPLOYS);
    for round in 1..=REDEPLOYS {
        let (plugin, marker) = build(round);
        let seen = exchanged.load(Ordering::Relaxed);
        apps.put_library("v", plugin, LIBRARY, Write::Atomic);
        berth.send_signal("HUP");
        logged(&berth, "serving context=v", round + 1);
        let mut next = connect(&berth.url("/v/")).await;
        talks(&mut next, marker, &format!("round {round}")).await;
        assert_eq!(close_code(&mut current).await, 1012, "round {round}");
        current = next;
        logged(&berth, "retired context=v", round);
        assert!(
            exchanged.load(Ordering::Relaxed) > seen || round == 1,
            "the bystanders made no progress during round {round}"
        );
        rss.push(berth.rss_kib());
    }
    let took = started.elapsed();
    let after = Memory::of(&berth);
    assert_eq!(
        pool_threads_of_v(&berth),
        pool_threads,
        "every retired version's pool stopped: {:?}",
        berth.thread_names()
    );

    stop.store(true, Ordering::Relaxed);
    for client in clients {
        let mut ws = client.await.expect("a bystander session failed");
        echoes(&mut ws, "after the soak").await;
        close_normally(&mut ws).await;
    }
    let logs = berth.logs();
    let echo_closes = lines_with(&logs, &["session closed", "context=echo"]);
    assert!(
        echo_closes.iter().all(|line| line.contains("code=1000")),
        "a bystander session was closed by something else:\n{}",
        echo_closes.join("\n")
    );
    assert_eq!(
        lines_with(
            &logs,
            &["plugin: version_", "closed code=1012 cause=Redeploy"]
        )
        .len(),
        REDEPLOYS,
        "every round's old session was closed by its redeploy"
    );

    let grown = after.rss.saturating_sub(before.rss);
    println!(
        "{REDEPLOYS} redeploys in {took:?} while {CLIENTS} bystanders exchanged {} messages",
        exchanged.load(Ordering::Relaxed)
    );
    println!("before: {before}");
    println!("after:  {after}");
    println!(
        "RSS +{grown} KiB, {} KiB per redeploy; library copies held +{} KiB",
        grown / REDEPLOYS as u64,
        (after.copies_bytes - before.copies_bytes) / 1024
    );
    println!("RSS after each redeploy (KiB): {rss:?}");
    let largest = ["version_one", "version_two"]
        .map(|build| std::fs::metadata(plugin_library(build)).map_or(0, |meta| meta.len()))
        .into_iter()
        .max()
        .unwrap_or(0);
    assert!(
        after.copies <= before.copies + REDEPLOYS
            && after.copies_bytes - before.copies_bytes <= largest * REDEPLOYS as u64,
        "one library copy per load at most: {before} → {after}"
    );
    let bound = RSS_PER_REDEPLOY_BOUND_KIB * REDEPLOYS as u64;
    assert!(
        grown <= bound,
        "RSS grew by {grown} KiB over {REDEPLOYS} redeploys (bound {bound} KiB): {rss:?}"
    );
}
