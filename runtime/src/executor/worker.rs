//! The loop each pool thread runs: take a task, run it with panics caught, account for it,
//! wake one waiting submitter; exit after `keep-alive` idle when `policy` allows, or once the
//! queue is drained after shutdown.
//!
//! Owns a thread's life. It must not decide sizing (that is `policy` via `counts`) and must
//! not let a panic escape: a panicking task is logged and the thread carries on, so neither
//! the thread nor the lane's counters are lost.

use std::any::Any;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::thread;

use crossbeam_channel::{RecvTimeoutError, TryRecvError};

use super::Task;
use super::lane::{Lane, Message};

/// The body of a pool thread, counted alive by whoever started it.
pub(crate) fn run(lane: Arc<Lane>) {
    loop {
        if lane.counts.snapshot().shut_down {
            let tokens = drain(&lane);
            lane.counts.exit();
            lane.pass_wake_tokens(tokens);
            break;
        }
        match lane.receiver.recv_timeout(lane.keep_alive()) {
            Ok(Message::Run(task)) => execute(&lane, task),
            Ok(Message::Wake) => {}
            Err(RecvTimeoutError::Timeout) => {
                if lane.counts.try_retire(lane.limits()) {
                    break;
                }
            }
            Err(RecvTimeoutError::Disconnected) => {
                // The lane owns a sender, so this cannot happen; leave cleanly if it does.
                lane.counts.exit();
                break;
            }
        }
    }
    lane.note_exit();
}

/// After shutdown: run what is queued, then return once no admitted task can still arrive.
/// No new task is admitted after shutdown, so `queued == 0` with an empty channel is final.
/// `queued > 0` with an empty channel means a submitter is between admission and sending, or
/// another thread is between receiving and counting: a window of a few instructions.
///
/// Returns the wake tokens swallowed on the way: they were meant for threads still blocked
/// on the channel, and must be passed on once this thread is counted out.
fn drain(lane: &Lane) -> u32 {
    let mut tokens = 0;
    loop {
        match lane.receiver.try_recv() {
            Ok(Message::Run(task)) => execute(lane, task),
            Ok(Message::Wake) => tokens += 1,
            Err(TryRecvError::Empty) if lane.counts.snapshot().load.queued > 0 => {
                thread::yield_now();
            }
            Err(_) => return tokens,
        }
    }
}

/// Runs one task received from the channel.
fn execute(lane: &Lane, task: Task) {
    lane.counts.take();
    let outcome = panic::catch_unwind(AssertUnwindSafe(task));
    lane.counts.finish();
    lane.totals.completed.fetch_add(1, Relaxed);
    if let Err(payload) = outcome {
        lane.totals.panicked.fetch_add(1, Relaxed);
        report_panic(lane.context(), payload.as_ref());
        // A payload whose destructor panics must not take the thread down either.
        let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(payload)));
    }
    lane.waiters.wake_one();
}

/// Logs a caught panic with the context and thread; the default hook has already printed
/// the location.
pub(crate) fn report_panic(context: &str, payload: &(dyn Any + Send)) {
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(non-string panic payload)");
    let current = thread::current();
    let thread = current.name().unwrap_or("(unnamed)");
    tracing::error!(
        context,
        thread,
        panic = message,
        "task panicked; the thread carries on"
    );
}
