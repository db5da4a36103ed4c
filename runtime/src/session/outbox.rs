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
use std::sync::atomic::{AtomicBool, Ordering};
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
    limit: usize,
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
            limit,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn fits(&self, state: &State, len: usize) -> bool {
        state.frames.is_empty() || state.bytes + len <= self.limit
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
mod tests {
    use super::*;
    use bytes::Bytes;
    use std::sync::Arc;
    use std::time::Duration;

    fn frame(len: usize) -> Outgoing {
        Outgoing {
            frame: Outbound::Binary(Bytes::from(vec![0u8; len])),
            done: Completion::None,
            deadline: None,
        }
    }

    #[test]
    fn a_refused_direct_claim_leaves_the_writers_claim_alone() {
        let outbox = Outbox::new(100);
        assert!(outbox.claim_direct(), "a free socket is granted");
        assert!(!outbox.claim_direct(), "one direct writer at a time");
        assert!(
            !outbox.claim_direct(),
            "a refused claim must not release the writer's"
        );
        assert!(outbox.end_direct(None).is_ok());
        assert!(outbox.claim_direct(), "free again once the writer is done");
    }

    #[test]
    fn the_byte_bound_refuses_but_one_large_frame_always_fits_an_empty_queue() {
        let outbox = Outbox::new(100);
        assert!(
            outbox.push(frame(500)).is_ok(),
            "an empty queue takes any frame"
        );
        assert_eq!(
            outbox.push(frame(1)).map_err(|(r, _)| r),
            Err(Refused::Full)
        );
        let mut taken = Vec::new();
        outbox.take(usize::MAX, &mut taken);
        assert_eq!(taken.len(), 1);
        assert!(outbox.push(frame(60)).is_ok() && outbox.push(frame(40)).is_ok());
        assert_eq!(
            outbox.push(frame(1)).map_err(|(r, _)| r),
            Err(Refused::Full)
        );
    }

    #[test]
    fn take_stops_near_the_byte_budget_but_takes_at_least_one() {
        let outbox = Outbox::new(1000);
        for _ in 0..5 {
            outbox.push(frame(100)).expect("fits");
        }
        let mut taken = Vec::new();
        outbox.take(250, &mut taken);
        assert_eq!(taken.len(), 2);
        taken.clear();
        outbox.take(10, &mut taken);
        assert_eq!(taken.len(), 1);
    }

    #[test]
    fn a_waiting_sender_gets_room_or_times_out() {
        let outbox = Arc::new(Outbox::new(10));
        outbox.push(frame(10)).expect("fits");
        let mut late = frame(5);
        late.deadline = Some(Instant::now() + Duration::from_millis(50));
        assert_eq!(
            outbox.push_waiting(late).map_err(|(r, _)| r),
            Err(Refused::TimedOut)
        );

        let consumer = Arc::clone(&outbox);
        let (started, wait) = std::sync::mpsc::channel();
        let waiter = std::thread::spawn(move || {
            let mut patient = frame(5);
            patient.deadline = Some(Instant::now() + Duration::from_secs(10));
            started.send(()).expect("signal");
            outbox.push_waiting(patient).map_err(|(r, _)| r)
        });
        wait.recv().expect("waiter started");
        let mut taken = Vec::new();
        consumer.take(usize::MAX, &mut taken);
        assert_eq!(waiter.join().expect("waiter"), Ok(()));
    }

    #[test]
    fn closing_refuses_new_frames_and_returns_queued_ones() {
        let outbox = Outbox::new(100);
        let mut timed = frame(1);
        let deadline = Instant::now() + Duration::from_secs(1);
        timed.deadline = Some(deadline);
        outbox.push(timed).expect("fits");
        assert_eq!(outbox.earliest_deadline(), Some(deadline));
        assert_eq!(outbox.close().len(), 1);
        assert_eq!(
            outbox.push(frame(1)).map_err(|(r, _)| r),
            Err(Refused::Closed)
        );
        assert_eq!(outbox.earliest_deadline(), None);
    }

    #[test]
    fn a_direct_write_needs_an_empty_queue_a_free_socket_no_batching_and_an_open_session() {
        let outbox = Outbox::new(100);
        assert!(outbox.claim_direct());
        assert!(!outbox.claim_direct(), "one direct writer at a time");
        assert!(outbox.end_direct(None).is_ok());

        outbox.push(frame(1)).expect("fits");
        assert!(!outbox.claim_direct(), "queued frames go first");
        outbox.take(usize::MAX, &mut Vec::new());
        assert!(outbox.claim_direct());
        assert!(outbox.end_direct(None).is_ok());

        outbox.set_batching(true);
        assert!(!outbox.claim_direct(), "batching coalesces in the task");
        outbox.set_batching(false);

        outbox.close();
        assert!(!outbox.claim_direct(), "closed");
    }

    #[tokio::test]
    async fn the_task_holds_the_socket_until_it_releases_it_with_nothing_queued() {
        let outbox = Outbox::new(100);
        outbox.claim_for_task().await;
        assert!(!outbox.claim_direct(), "the task writes");
        outbox.push(frame(1)).expect("fits");
        assert!(!outbox.release_task(), "not while frames wait");
        outbox.take(usize::MAX, &mut Vec::new());
        assert!(outbox.release_task());
        assert!(outbox.claim_direct());
        assert!(outbox.end_direct(None).is_ok());
    }

    #[tokio::test]
    async fn what_a_direct_write_left_over_is_queued_first_and_wakes_the_task() {
        let outbox = Arc::new(Outbox::new(100));
        outbox.push(frame(1)).expect("fits");
        outbox.take(usize::MAX, &mut Vec::new());
        assert!(outbox.claim_direct());
        // The task wants the socket while the direct write is in progress: it waits.
        let task = {
            let outbox = Arc::clone(&outbox);
            tokio::spawn(async move { outbox.claim_for_task().await })
        };
        tokio::task::yield_now().await;
        assert!(!task.is_finished(), "waits for the direct write to end");
        outbox.push(frame(2)).expect("fits behind");
        let mut rest = frame(3);
        rest.frame = Outbound::Encoded(Bytes::from_static(b"rest"));
        assert!(outbox.end_direct(Some(rest)).is_ok());
        task.await.expect("claimed");
        outbox.arrived().await;
        let mut taken = Vec::new();
        outbox.take(usize::MAX, &mut taken);
        let lengths: Vec<usize> = taken.iter().map(|o| o.frame.len()).collect();
        assert_eq!(
            lengths,
            [4, 2],
            "the rest first, then what queued meanwhile"
        );
    }

    /// Counts the wake-ups of the consumer's waker.
    #[derive(Debug, Default)]
    struct Wakes(std::sync::atomic::AtomicUsize);

    impl std::task::Wake for Wakes {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }

        fn wake_by_ref(self: &Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    impl Wakes {
        fn count(&self) -> usize {
            self.0.load(Ordering::SeqCst)
        }
    }

    /// Polls a fresh `arrived()` once, as each turn of the connection task's `select!` does.
    fn poll_arrived(outbox: &Outbox, waker: &std::task::Waker) -> bool {
        let mut cx = std::task::Context::from_waker(waker);
        std::pin::pin!(outbox.arrived()).poll(&mut cx).is_ready()
    }

    /// The connection task's side, one operation at a time: wait on `arrived()`; when it
    /// resolves, `take` bursts (at most 250 bytes) until one comes back empty, as
    /// `write_queued` does; stop once parked, i.e. `arrived()` was pending and nothing woke
    /// the waker since. Before operation number `at` a producer pushes one 7-byte frame.
    /// Returns the lengths taken, whether a frame was left queued behind the parked task and
    /// how many operations there were.
    fn consume_with_a_push_before(at: usize) -> (Vec<usize>, bool, usize) {
        let outbox = Outbox::new(1000);
        for _ in 0..3 {
            outbox.push(frame(100)).expect("fits");
        }
        let wakes = Arc::new(Wakes::default());
        let waker = std::task::Waker::from(Arc::clone(&wakes));
        let mut operation = 0;
        let mut maybe_push = || {
            if operation == at {
                outbox.push(frame(7)).expect("fits");
            }
            operation += 1;
            assert!(operation < 100, "the consumer never parked");
        };
        let mut taken = Vec::new();
        loop {
            maybe_push();
            let woken_before = wakes.count();
            if poll_arrived(&outbox, &waker) {
                loop {
                    maybe_push();
                    let mut burst = Vec::new();
                    outbox.take(250, &mut burst);
                    if burst.is_empty() {
                        break;
                    }
                    taken.extend(burst.iter().map(|o| o.frame.len()));
                }
                continue;
            }
            // Pending: a push now (or during the poll) must wake the task again.
            maybe_push();
            if wakes.count() == woken_before {
                break;
            }
        }
        (taken, outbox.has_frames(), operation)
    }

    #[test]
    fn a_push_at_any_point_of_the_consumers_cycle_is_taken_or_wakes_it() {
        let (without, _, operations) = consume_with_a_push_before(usize::MAX);
        assert_eq!(without, [100, 100, 100]);
        // poll, take × 3 (the last one empty), poll (pending), park.
        assert_eq!(operations, 6);
        // Before every operation of the consumer: before, between and after the bursts of a
        // drain, during the wait, after parking.
        for at in 0..operations {
            let (mut taken, stranded, _) = consume_with_a_push_before(at);
            taken.sort_unstable();
            assert_eq!(taken, [7, 100, 100, 100], "push before operation {at}");
            assert!(
                !stranded,
                "push before operation {at}: the task parked with a frame queued"
            );
        }
    }

    #[test]
    fn only_a_push_into_an_empty_queue_wakes_the_consumer_so_it_drains_to_empty() {
        let outbox = Outbox::new(1000);
        let wakes = Arc::new(Wakes::default());
        let waker = std::task::Waker::from(Arc::clone(&wakes));
        assert!(!poll_arrived(&outbox, &waker), "nothing yet");
        outbox.push(frame(100)).expect("fits");
        assert_eq!(wakes.count(), 1, "empty → non-empty wakes");
        outbox.push(frame(100)).expect("fits");
        assert_eq!(wakes.count(), 1, "a burst costs one wake-up");
        assert!(poll_arrived(&outbox, &waker));
        // A take that leaves frames behind: a push now wakes nobody, so the consumer must
        // take again rather than wait (write_queued loops until a take comes back empty).
        outbox.take(100, &mut Vec::new());
        outbox.push(frame(100)).expect("fits");
        assert_eq!(wakes.count(), 1);
        assert!(!poll_arrived(&outbox, &waker), "no wake-up pending");
        assert!(outbox.has_frames());
        let mut rest = Vec::new();
        outbox.take(usize::MAX, &mut rest);
        assert_eq!(rest.len(), 2);
        // Drained: the next push wakes the parked consumer.
        outbox.push(frame(1)).expect("fits");
        assert_eq!(wakes.count(), 2);
        assert!(poll_arrived(&outbox, &waker));
    }

    /// A waker that pushes a frame when its last reference is dropped. `AtomicWaker::register`
    /// drops the waker it replaces while it registers the next one: in the middle of an
    /// `arrived()` poll, after its first look at the flag.
    #[derive(Debug)]
    struct PushOnDrop {
        outbox: Arc<Outbox>,
        pushed: Arc<AtomicBool>,
    }

    impl std::task::Wake for PushOnDrop {
        fn wake(self: Arc<Self>) {}
    }

    impl Drop for PushOnDrop {
        fn drop(&mut self) {
            self.outbox.push(frame(7)).expect("fits");
            self.pushed.store(true, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_push_while_the_consumer_registers_its_waker_is_not_lost() {
        let outbox = Arc::new(Outbox::new(100));
        let pushed = Arc::new(AtomicBool::new(false));
        let first = std::task::Waker::from(Arc::new(PushOnDrop {
            outbox: Arc::clone(&outbox),
            pushed: Arc::clone(&pushed),
        }));
        assert!(!poll_arrived(&outbox, &first));
        // The outbox now holds the only reference to the first waker.
        drop(first);
        assert!(!pushed.load(Ordering::SeqCst));
        let wakes = Arc::new(Wakes::default());
        let second = std::task::Waker::from(Arc::clone(&wakes));
        let ready = poll_arrived(&outbox, &second);
        assert!(
            pushed.load(Ordering::SeqCst),
            "the push ran inside the poll (while the waker was being replaced)"
        );
        assert!(
            ready || wakes.count() > 0,
            "a push between the poll's looks at the flag neither resolved it nor woke the task"
        );
        let mut taken = Vec::new();
        outbox.take(usize::MAX, &mut taken);
        assert_eq!(taken.len(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_producer_thread_racing_the_consumer_never_strands_a_frame() {
        const FRAMES: usize = 20_000;
        let outbox = Arc::new(Outbox::new(1 << 20));
        let producer = {
            let outbox = Arc::clone(&outbox);
            std::thread::spawn(move || {
                for n in 0..FRAMES {
                    outbox.push(frame(1 + n % 3)).expect("fits");
                    if n % 7 == 0 {
                        std::thread::yield_now();
                    }
                }
            })
        };
        // A task of its own: a timeout wrapped around the future itself would poll it once
        // more when it fires, and that poll would find the flag a lost wake-up left set.
        let consumer = tokio::spawn({
            let outbox = Arc::clone(&outbox);
            async move {
                let mut taken = 0;
                while taken < FRAMES {
                    outbox.arrived().await;
                    loop {
                        let mut burst = Vec::new();
                        outbox.take(4, &mut burst);
                        if burst.is_empty() {
                            break;
                        }
                        taken += burst.len();
                    }
                }
                taken
            }
        });
        let taken = tokio::time::timeout(Duration::from_secs(20), consumer)
            .await
            .expect("every frame was taken: no wake-up was lost")
            .expect("the consumer task");
        assert_eq!(taken, FRAMES);
        producer.join().expect("producer");
    }

    #[test]
    fn a_rest_after_the_session_closed_comes_back() {
        let outbox = Outbox::new(100);
        assert!(outbox.claim_direct());
        outbox.close();
        assert!(outbox.end_direct(Some(frame(1))).is_err());
    }
}
