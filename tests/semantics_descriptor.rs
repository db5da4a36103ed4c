//! The remaining descriptor elements, each proved by its effect: `batching-buffer-size` (and
//! the endpoint's batching switch), `context-path`, `endpoint-library`, the executor's
//! `queue-size` and `keep-alive-time`.

use std::time::Duration;

use berth_tests::apps::Apps;
use berth_tests::client::{WAIT, connect, handshake_status, recv_text, send_text};
use berth_tests::plugin_library;
use berth_tests::server::{Berth, probe};
use futures_util::StreamExt;

#[tokio::test]
async fn batched_frames_wait_for_a_flush_or_a_full_batching_buffer() {
    let (_apps, berth) = probe(
        "batching",
        "<batching-buffer-size>4096</batching-buffer-size>",
    );
    let mut ws = connect(&berth.url("/probe/")).await;
    // 10 × 100 bytes stay below 4096: held until the endpoint flushes.
    send_text(&mut ws, "batch:10:100").await;
    let early = tokio::time::timeout(Duration::from_millis(500), ws.next()).await;
    assert!(
        early.is_err(),
        "a batched frame arrived before the flush: {early:?}"
    );
    send_text(&mut ws, "flush").await;
    for n in 0..10 {
        assert!(recv_text(&mut ws).await.starts_with(&format!("{n:04}")));
    }
    // 100 × 100 bytes pass 4096: frames go out without a flush.
    send_text(&mut ws, "batch:100:100").await;
    for n in 0..40 {
        assert!(
            recv_text(&mut ws).await.starts_with(&format!("{n:04}")),
            "frame {n} came without a flush"
        );
    }
    send_text(&mut ws, "nobatch").await;
    for n in 40..100 {
        assert!(
            recv_text(&mut ws).await.starts_with(&format!("{n:04}")),
            "turning batching off flushes"
        );
    }
    send_text(&mut ws, "unbatched").await;
    assert_eq!(recv_text(&mut ws).await, "unbatched");
}

#[tokio::test]
async fn context_path_moves_a_context_and_endpoint_library_picks_its_plugin() {
    let apps = Apps::new("context-path");
    let inner = "<endpoint-library>lib/libprobe.so</endpoint-library>";
    let xml = format!(
        "<jeus-web-dd xmlns=\"http://www.tmaxsoft.com/xml/ns/jeus\"><context-path>/api/v2</context-path><websocket>{inner}</websocket></jeus-web-dd>"
    );
    apps.context("moved", "echo", &xml);
    let lib = apps.dir().join("moved/lib");
    std::fs::create_dir_all(&lib).expect("lib dir");
    std::fs::copy(plugin_library("probe"), lib.join("libprobe.so")).expect("stage probe");
    let berth = Berth::start(&apps);
    assert_eq!(
        handshake_status(berth.addr(), "/moved/", &[]).await,
        404,
        "not under the directory name"
    );
    let mut ws = connect(&berth.url("/api/v2/")).await;
    // The probe answers `param:` queries; the echo plugin beside it would echo them.
    send_text(&mut ws, "param:none").await;
    assert_eq!(
        recv_text(&mut ws).await,
        "none",
        "the named library, not the other .so, was loaded"
    );
}

#[tokio::test]
async fn a_full_queue_refuses_new_handshakes_with_503() {
    let pool = "<websocket-executor><min>1</min><max>1</max><queue-size>1</queue-size></websocket-executor>";
    let (_apps, berth) = probe("queue-size", pool);
    let mut first = connect(&berth.url("/probe/")).await;
    // The first session's on_open (and the round trip) has left the one thread idle before
    // the second handshake is admitted: on a loaded machine it could still be queued.
    send_text(&mut first, "sleep:0").await;
    assert_eq!(recv_text(&mut first).await, "slept:0");
    let mut second = connect(&berth.url("/probe/")).await;
    send_text(&mut second, "sleep:0").await;
    assert_eq!(recv_text(&mut second).await, "slept:0");
    send_text(&mut first, "sleep:3000").await;
    send_text(&mut second, "sleep:10").await;
    // One thread busy, one task queued: the queue (size 1) is full.
    let mut refused = false;
    for _ in 0..50 {
        if handshake_status(berth.addr(), "/probe/", &[]).await == 503 {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        refused,
        "a saturated context answered something other than 503"
    );
    assert_eq!(recv_text(&mut first).await, "slept:3000");
    assert_eq!(
        recv_text(&mut second).await,
        "slept:10",
        "the queued work was not lost"
    );
}

/// The names of the server's threads that belong to a context's pool.
fn pool_threads(pid: u32, context: &str) -> usize {
    let prefix = format!("berth-{context}-");
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .filter_map(Result::ok)
        .filter_map(|task| std::fs::read_to_string(task.path().join("comm")).ok())
        .filter(|name| {
            name.starts_with(&prefix[..prefix.len().min(15)])
                && !name.trim_end().ends_with(char::is_alphabetic)
        })
        .count()
}

#[tokio::test]
async fn threads_above_min_exit_after_keep_alive_time() {
    let pool = "<websocket-executor><min>1</min><max>4</max><keep-alive-time>1000</keep-alive-time><queue-size>16</queue-size></websocket-executor>\
                <websocket-timeout-min-threads>0</websocket-timeout-min-threads>";
    let (_apps, berth) = probe("keep-alive-time", pool);
    let mut sessions = Vec::new();
    for _ in 0..4 {
        sessions.push(connect(&berth.url("/probe/")).await);
    }
    // No callback can begin before this, so none ends before +1.5 s and no thread above min
    // may exit before +2.5 s.
    let sent = std::time::Instant::now();
    for ws in &mut sessions {
        send_text(ws, "sleep:1500").await;
    }
    // Sampled before any thread may exit (a thread names itself once it runs: poll).
    let mut grown = pool_threads(berth.pid(), "probe");
    while grown < 4 && sent.elapsed() < Duration::from_millis(2400) {
        tokio::time::sleep(Duration::from_millis(20)).await;
        grown = pool_threads(berth.pid(), "probe");
    }
    assert_eq!(grown, 4, "the pool grew to max while four callbacks slept");
    for ws in &mut sessions {
        assert_eq!(recv_text(ws).await, "slept:1500");
    }
    let mut shrunk = grown;
    while sent.elapsed() < WAIT && shrunk > 1 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        shrunk = pool_threads(berth.pid(), "probe");
    }
    assert_eq!(shrunk, 1, "threads above min exited after keep-alive-time");
    assert!(
        sent.elapsed() >= Duration::from_millis(2500),
        "threads above min exited {:?} after their callbacks began, before 1.5 s of work and 1 s of keep-alive",
        sent.elapsed()
    );
}
