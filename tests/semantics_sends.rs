//! How sends reach the wire: a plugin thread writes a frame to the socket itself when the
//! socket is free, and queues it for the connection task otherwise. Whatever mix of the two
//! happens, frames arrive whole and in order.

use berth_tests::client::{connect, recv_text, send_text};
use berth_tests::server::probe;

#[tokio::test]
async fn frames_sent_by_many_plugin_threads_at_once_arrive_whole_and_in_order_per_thread() {
    // Each plugin thread's send writes to the socket itself when it is free and queues
    // otherwise; 64 KiB frames overflow the socket buffer, so direct writes, partial writes
    // and queued frames all mix. No frame may be torn, lost or reordered within its thread.
    let (_apps, berth) = probe("threads", "");
    let mut ws = connect(&berth.url("/probe/")).await;
    let (threads, count) = (4usize, 100usize);
    send_text(&mut ws, &format!("threads:{threads}:{count}:65536")).await;
    let mut next = vec![0usize; threads];
    let mut started = false;
    for _ in 0..=threads * count {
        let text = recv_text(&mut ws).await;
        if text == "threads-started" {
            started = true;
            continue;
        }
        assert_eq!(text.len(), 65536, "a torn frame");
        let mut fields = text.splitn(3, ':');
        let thread: usize = fields
            .next()
            .and_then(|t| t[1..].parse().ok())
            .expect("thread");
        let n: usize = fields.next().and_then(|n| n.parse().ok()).expect("number");
        assert_eq!(n, next[thread], "thread {thread} out of order");
        next[thread] += 1;
    }
    assert!(started);
    assert_eq!(next, vec![count; threads]);
}
