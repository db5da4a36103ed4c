//! Threaded tests of the executor. Every wait is on an event (channel, waker) with a
//! deadline, so a bug fails a test in about a second instead of hanging it; the only
//! polling is for thread exits, which have no event.

mod mailbox;
mod pool;
mod resize;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use super::{Executor, Task};
use crate::config::descriptor::ExecutorSettings;

/// How long any single expected event may take, generous for 2 shared CI cores.
const EVENT: Duration = Duration::from_secs(1);

fn settings(min: usize, max: usize, queue: usize) -> ExecutorSettings {
    ExecutorSettings {
        min_threads: min,
        max_threads: max,
        keep_alive: Duration::from_secs(60),
        queue_size: queue,
    }
}

fn executor(min: usize, max: usize, queue: usize, timeout_threads: usize) -> Executor {
    Executor::new("test", settings(min, max, queue), timeout_threads).expect("pool starts")
}

/// Tasks that report they started, then block until the gate opens (its sender drops).
struct Gate {
    started_tx: Sender<()>,
    started_rx: Receiver<()>,
    open_tx: Option<Sender<()>>,
    open_rx: Receiver<()>,
}

impl Gate {
    fn new() -> Gate {
        let (started_tx, started_rx) = crossbeam_channel::unbounded();
        let (open_tx, open_rx) = crossbeam_channel::bounded(0);
        Gate {
            started_tx,
            started_rx,
            open_tx: Some(open_tx),
            open_rx,
        }
    }

    fn task(&self) -> Task {
        let (started, open) = (self.started_tx.clone(), self.open_rx.clone());
        Box::new(move || {
            let _ = started.send(());
            let _ = open.recv();
        })
    }

    fn wait_started(&self, tasks: usize) {
        for _ in 0..tasks {
            self.started_rx
                .recv_timeout(EVENT)
                .expect("a gated task starts");
        }
    }

    fn open(&mut self) {
        self.open_tx = None;
    }
}

/// Counts wake-ups and reports each on a channel.
struct CountingWaker {
    count: AtomicUsize,
    woken: Sender<()>,
}

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.count.fetch_add(1, SeqCst);
        let _ = self.woken.send(());
    }
}

fn counting_waker() -> (Arc<CountingWaker>, Waker, Receiver<()>) {
    let (woken, rx) = crossbeam_channel::unbounded();
    let counter = Arc::new(CountingWaker {
        count: AtomicUsize::new(0),
        woken,
    });
    let waker = Waker::from(Arc::clone(&counter));
    (counter, waker, rx)
}

fn poll_once<F: Future + Unpin>(future: &mut F, waker: &Waker) -> Poll<F::Output> {
    Pin::new(future).poll(&mut Context::from_waker(waker))
}

struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Drives `future` on this thread, parking between polls; panics after `EVENT`.
fn block_on<F: Future + Unpin>(mut future: F) -> F::Output {
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let deadline = Instant::now() + EVENT;
    loop {
        if let Poll::Ready(output) = poll_once(&mut future, &waker) {
            return output;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "future not woken within {EVENT:?}");
        thread::park_timeout(left);
    }
}

/// Polls `condition` (for events that have no notification, like a thread exiting).
fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_millis(1500);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(5));
    }
}
