//! A session's outgoing queue: frames waiting for the connection task, bounded in bytes, each
//! with the instant by which it must be written.
//!
//! Producers are plugin threads (sends, broadcasts); the one consumer is the connection task.
//! The bound keeps a client that stops reading from growing the server's memory: an async
//! send or a broadcast that does not fit is refused, a blocking send waits for room until its
//! own deadline. The consumer sees every queued deadline, so a send that cannot be written in
//! time is detected by a timer even while the socket is stuck — not by the next send.
//!
//! The outbox also decides who may write to the socket. Normally that is the connection task;
//! a plugin thread may write a frame itself (a *direct* write) only while nothing is queued,
//! the task holds no claim on the socket and batching is off, so frames never overtake one
//! another and never interleave on the wire. The task claims the socket before any write of
//! its own (waiting out a direct write in progress, which never blocks) and gives it back
//! when it has nothing buffered.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::task::Poll;

use futures_util::task::AtomicWaker;
use tokio::time::Instant;

use tokio::sync::Notify;

use super::handle::Completion;
use crate::codec::Outbound;

/// One queued frame.
#[derive(Debug)]
pub(crate) struct Outgoing {
    pub(crate) frame: Outbound,
    pub(crate) done: Completion,
    /// Written by then, or the session is dropped (`None`: no limit).
    pub(crate) deadline: Option<Instant>,
}

/// Why a frame was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The queue is at its byte bound.
    Full,
    /// The session is closing.
    Closed,
    /// A blocking send found no room before its deadline.
    TimedOut,
}

#[derive(Debug, Default)]
struct State {
    frames: VecDeque<Outgoing>,
    bytes: usize,
    closed: bool,
    /// The connection task claimed the socket: plugin threads queue.
    task_writing: bool,
    /// A plugin thread is writing a frame to the socket.
    direct_writing: bool,
    /// The endpoint asked for batching: every frame goes through the task, which coalesces.
    batching: bool,
}

/// The queue.
#[derive(Debug)]
pub(crate) struct Outbox {
    state: Mutex<State>,
    /// Wakes the connection task when a frame (or a command of the handle's) arrives: a
    /// flag and the task's waker (one consumer, so no waiter list).
    arrived: AtomicBool,
    consumer: AtomicWaker,
    /// Wakes blocked senders when room is made or the session closes.
    room: Condvar,
    /// Wakes the connection task waiting for a direct write to end.
    direct_done: Notify,
    /// Read under the state's lock; changed when the context's settings change.
    limit: AtomicUsize,
}

impl Outbox {
    /// A queue holding at most `limit` bytes of payload (a single larger frame is still
    /// accepted into an empty queue, so any message can be sent).
    pub(crate) fn new(limit: usize) -> Outbox {
        Outbox {
            state: Mutex::new(State::default()),
            arrived: AtomicBool::new(false),
            consumer: AtomicWaker::new(),
            room: Condvar::new(),
            direct_done: Notify::new(),
            limit: AtomicUsize::new(limit),
        }
    }

    /// Bounds the queue at `limit` bytes from now on (frames already queued stay); senders
    /// waiting for room look again.
    pub(crate) fn set_limit(&self, limit: usize) {
        let _state = self.lock();
        self.limit.store(limit, Ordering::Relaxed);
        self.room.notify_all();
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn fits(&self, state: &State, len: usize) -> bool {
        state.frames.is_empty() || state.bytes + len <= self.limit.load(Ordering::Relaxed)
    }

    /// Queues a frame if it fits now.
    pub(crate) fn push(&self, outgoing: Outgoing) -> Result<(), (Refused, Outgoing)> {
        let mut state = self.lock();
        if state.closed {
            return Err((Refused::Closed, outgoing));
        }
        if !self.fits(&state, outgoing.frame.len()) {
            return Err((Refused::Full, outgoing));
        }
        let was_empty = state.frames.is_empty();
        state.bytes += outgoing.frame.len();
        state.frames.push_back(outgoing);
        drop(state);
        self.wake_consumer(was_empty);
        Ok(())
    }

    /// Queues a frame, waiting (on the calling thread) for room until its deadline.
    pub(crate) fn push_waiting(&self, outgoing: Outgoing) -> Result<(), (Refused, Outgoing)> {
        let mut state = self.lock();
        loop {
            if state.closed {
                return Err((Refused::Closed, outgoing));
            }
            if self.fits(&state, outgoing.frame.len()) {
                let was_empty = state.frames.is_empty();
                state.bytes += outgoing.frame.len();
                state.frames.push_back(outgoing);
                drop(state);
                self.wake_consumer(was_empty);
                return Ok(());
            }
            state = match outgoing.deadline {
                None => self
                    .room
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner),
                Some(deadline) => {
                    let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                        return Err((Refused::TimedOut, outgoing));
                    };
                    self.room
                        .wait_timeout(state, left)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
            };
        }
    }

    /// The consumer drains the queue until it is empty before it waits again, so only the
    /// empty → non-empty transition needs a wake-up (one per burst, not one per frame).
    fn wake_consumer(&self, was_empty: bool) {
        if was_empty {
            self.wake_task();
        }
    }

    /// Takes queued frames, oldest first, until about `max_bytes` are taken (at least one).
    pub(crate) fn take(&self, max_bytes: usize, into: &mut Vec<Outgoing>) {
        let mut state = self.lock();
        let mut taken = 0;
        while let Some(front) = state.frames.front() {
            if taken > 0 && taken + front.frame.len() > max_bytes {
                break;
            }
            let Some(outgoing) = state.frames.pop_front() else {
                break;
            };
            taken += outgoing.frame.len();
            state.bytes -= outgoing.frame.len();
            into.push(outgoing);
        }
        drop(state);
        if taken > 0 {
            self.room.notify_all();
        }
    }

    /// Wakes the connection task (for a frame or a command).
    pub(crate) fn wake_task(&self) {
        self.arrived.store(true, Ordering::Release);
        self.consumer.wake();
    }

    /// Whether frames wait.
    pub(crate) fn has_frames(&self) -> bool {
        !self.lock().frames.is_empty()
    }

    /// The earliest deadline among queued frames.
    pub(crate) fn earliest_deadline(&self) -> Option<Instant> {
        self.lock().frames.iter().filter_map(|o| o.deadline).min()
    }

    /// Resolves when a frame (or command) may have arrived since the last time it resolved.
    /// Cancel-safe: a wake-up is only consumed by a completed call.
    pub(crate) async fn arrived(&self) {
        std::future::poll_fn(|cx| {
            if self.arrived.swap(false, Ordering::AcqRel) {
                return Poll::Ready(());
            }
            self.consumer.register(cx.waker());
            if self.arrived.swap(false, Ordering::AcqRel) {
                return Poll::Ready(());
            }
            Poll::Pending
        })
        .await
    }

    /// Claims the socket for a direct write by the calling thread, if it is free: nothing
    /// queued, the task not writing, batching off, the session open. A `true` must be
    /// followed by [`Outbox::end_direct`].
    pub(crate) fn claim_direct(&self) -> bool {
        let mut state = self.lock();
        let free = !(state.closed
            || state.task_writing
            || state.direct_writing
            || state.batching
            || !state.frames.is_empty());
        // Only a granted claim marks the writer: a refused one must not clear the mark of the
        // thread that is writing (which let a third writer in mid-frame).
        if free {
            state.direct_writing = true;
        }
        free
    }

    /// Ends a direct write. What the socket did not take (`rest`) is queued ahead of
    /// everything, for the task to finish; it comes back if the session closed meanwhile.
    pub(crate) fn end_direct(&self, rest: Option<Outgoing>) -> Result<(), Outgoing> {
        let mut state = self.lock();
        state.direct_writing = false;
        let task_waits = state.task_writing;
        let mut outcome = Ok(());
        let mut queued = false;
        if let Some(rest) = rest {
            if state.closed {
                outcome = Err(rest);
            } else {
                state.bytes += rest.frame.len();
                state.frames.push_front(rest);
                queued = true;
            }
        }
        drop(state);
        if task_waits {
            self.direct_done.notify_one();
        }
        if queued {
            self.wake_task();
        }
        outcome
    }

    /// Claims the socket for the connection task, waiting for a direct write in progress.
    pub(crate) async fn claim_for_task(&self) {
        loop {
            {
                let mut state = self.lock();
                state.task_writing = true;
                if !state.direct_writing {
                    return;
                }
            }
            self.direct_done.notified().await;
        }
    }

    /// Gives the socket back for direct writes; `false` (keeping the claim) while frames
    /// are queued.
    pub(crate) fn release_task(&self) -> bool {
        let mut state = self.lock();
        if state.frames.is_empty() {
            state.task_writing = false;
            true
        } else {
            false
        }
    }

    /// Turns batching on (frames only through the task) or off, effective at once.
    pub(crate) fn set_batching(&self, on: bool) {
        self.lock().batching = on;
    }

    /// Refuses every later frame and hands back the queued ones (to fail their completions).
    pub(crate) fn close(&self) -> Vec<Outgoing> {
        let mut state = self.lock();
        state.closed = true;
        state.bytes = 0;
        let frames = state.frames.drain(..).collect();
        drop(state);
        self.room.notify_all();
        frames
    }
}

#[cfg(test)]
mod tests;
