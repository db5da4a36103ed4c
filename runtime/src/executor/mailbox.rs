//! [`Mailbox`]: one session's ordered, bounded queue of messages, run like an actor on the
//! context's pool — at most one message of the session handled at a time, in arrival order.
//!
//! Owns the per-session scheduling state (idle → scheduled → running) and the burst loop.
//! It must not block a poster, drop or reorder a message, or let a panicking handler wedge
//! the session; it never holds its queue lock while the handler runs.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Release, SeqCst};
use std::sync::atomic::{AtomicBool, AtomicU8};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use super::error::{RejectReason, Rejected};
use super::lane::{LaneKind, Lanes};
use super::waiters::Ready;
use super::{Executor, Task, worker};

/// Most messages one run handles before the session yields its thread to the back of the
/// pool's queue.
pub const BURST: usize = 32;

const IDLE: u8 = 0;
const SCHEDULED: u8 = 1;
const RUNNING: u8 = 2;

/// Where a mailbox is in its cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailboxState {
    /// Empty, and no pool task for it exists.
    Idle,
    /// A pool task that will run it is queued.
    Scheduled,
    /// A pool thread is handling its messages.
    Running,
}

/// A session's mailbox. Cloning gives another handle to the same mailbox (for the reader,
/// timers and send completions alike).
pub struct Mailbox<M> {
    inner: Arc<Inner<M>>,
}

type Handler<M> = Box<dyn FnMut(M) + Send>;

struct Inner<M> {
    state: AtomicU8,
    /// An expiry message is queued: yield to the timeout lane until the mailbox empties.
    urgent: AtomicBool,
    queue: Mutex<Queue<M>>,
    /// Only the claimant of `RUNNING` locks it, so it is never contended.
    handler: Mutex<Handler<M>>,
    limit: usize,
    lanes: Lanes,
}

struct Queue<M> {
    messages: VecDeque<M>,
    /// Posters waiting for room (a session has few producers).
    space_waiters: Vec<Waker>,
    /// Tasks waiting for every posted message to have been handled.
    drained_waiters: Vec<Waker>,
}

impl<M: Send + 'static> Mailbox<M> {
    /// A mailbox holding at most `limit` (at least 1) messages, each handed to `handler` on
    /// a thread of `executor`. The handler may keep the session's state: it is never called
    /// twice at once.
    pub fn new(executor: &Executor, limit: usize, handler: impl FnMut(M) + Send + 'static) -> Self {
        let inner = Inner {
            state: AtomicU8::new(IDLE),
            urgent: AtomicBool::new(false),
            queue: Mutex::new(Queue {
                messages: VecDeque::new(),
                space_waiters: Vec::new(),
                drained_waiters: Vec::new(),
            }),
            handler: Mutex::new(Box::new(handler)),
            limit: limit.max(1),
            lanes: executor.lanes().clone(),
        };
        Mailbox {
            inner: Arc::new(inner),
        }
    }

    /// Queues `message` behind the session's earlier ones, never blocking. If the mailbox
    /// was idle this schedules one pool task for it — the only time the pool is woken.
    /// Refused, with the message handed back, when the mailbox holds `limit` messages
    /// (`MailboxFull`) or, for an idle mailbox, when the pool cannot take the task
    /// (`QueueFull`, `ShutDown`, …): await [`Mailbox::ready`] and post it again.
    pub fn try_post(&self, message: M) -> Result<(), Rejected<M>> {
        let mut queue = self.inner.lock_queue();
        if queue.messages.len() >= self.inner.limit {
            return Err(Rejected::new(message, RejectReason::MailboxFull));
        }
        if self.inner.state.load(Acquire) == IDLE {
            if let Err(reason) = self.inner.start(LaneKind::Main) {
                return Err(Rejected::new(message, reason));
            }
        }
        queue.messages.push_back(message);
        Ok(())
    }

    /// Queues an expiry message (closing a timed-out session, its `on_close`) so that it
    /// runs even when every callback thread is blocked: it ignores `limit`, and the session
    /// is run on the timeout lane — at once if idle, racing its queued run if scheduled, from
    /// its next yield if running. Order is kept: earlier messages are handled first (on that
    /// lane). A session whose callback never returns cannot be expired by anyone. Refused
    /// only by a shut-down pool, or a full one when no timeout threads are reserved.
    pub fn post_expiry(&self, message: M) -> Result<(), Rejected<M>> {
        let mut queue = self.inner.lock_queue();
        // Set before reading the state, paired with `run` storing the state before reading
        // this flag (both `SeqCst`): either this call sees the run's yield (`SCHEDULED`) or
        // the run sees the flag, so the yield cannot slip onto the callback lane unnoticed.
        self.inner.urgent.store(true, SeqCst);
        match self.inner.state.load(SeqCst) {
            IDLE => {
                if let Err(reason) = self.inner.start(LaneKind::Timeout) {
                    self.inner.urgent.store(false, SeqCst);
                    return Err(Rejected::new(message, reason));
                }
            }
            SCHEDULED if self.inner.lanes.has_timeout_lane() => {
                // Whichever of the two runs claims the mailbox first runs it; the other finds
                // nothing to claim and returns at once.
                let _ = self.inner.schedule(LaneKind::Timeout);
            }
            _ => {}
        }
        queue.messages.push_back(message);
        Ok(())
    }

    /// Resolves when [`Mailbox::try_post`] would accept a message: the mailbox has room and,
    /// if it is idle, the pool can take its task (or has shut down). A hint, not a
    /// reservation: post, and on refusal wait again.
    pub fn ready(&self) -> MailboxReady<M> {
        MailboxReady {
            inner: Arc::clone(&self.inner),
            pool: None,
        }
    }
}

impl<M> Mailbox<M> {
    /// Resolves once every message posted so far has been handled and no run is scheduled
    /// or running.
    pub fn drained(&self) -> MailboxDrained<M> {
        MailboxDrained {
            inner: Arc::clone(&self.inner),
        }
    }

    /// Messages waiting (not counting one being handled).
    pub fn len(&self) -> usize {
        self.inner.lock_queue().messages.len()
    }

    /// Whether no message waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Where the mailbox is in its cycle (racy: for metrics and tests).
    pub fn state(&self) -> MailboxState {
        match self.inner.state.load(Acquire) {
            IDLE => MailboxState::Idle,
            SCHEDULED => MailboxState::Scheduled,
            _ => MailboxState::Running,
        }
    }
}

impl<M> Inner<M> {
    fn lock_queue(&self) -> MutexGuard<'_, Queue<M>> {
        // Every critical section leaves the queue consistent; a poisoned lock is still usable.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn claim(&self) -> bool {
        let claimed = self
            .state
            .compare_exchange(SCHEDULED, RUNNING, AcqRel, Acquire);
        claimed.is_ok()
    }

    /// Takes the next message, or marks the mailbox idle (under the queue lock, so a poster
    /// either sees the message taken or sees `IDLE` and schedules a new run).
    fn next(&self) -> Option<M> {
        let mut queue = self.lock_queue();
        let message = queue.messages.pop_front();
        if message.is_none() {
            self.go_idle(queue);
            return None;
        }
        let waiters = std::mem::take(&mut queue.space_waiters);
        drop(queue);
        waiters.into_iter().for_each(Waker::wake);
        message
    }

    /// After a full burst: `true` if messages remain, else the mailbox goes idle.
    fn has_more(&self) -> bool {
        let queue = self.lock_queue();
        if queue.messages.is_empty() {
            self.go_idle(queue);
            return false;
        }
        true
    }

    /// Marks the mailbox idle (with its queue locked and empty), releases the queue's storage
    /// and wakes whoever waits for it to drain.
    fn go_idle(&self, mut queue: MutexGuard<'_, Queue<M>>) {
        self.urgent.store(false, Release);
        self.state.store(IDLE, Release);
        // An idle session keeps no queue memory: one small allocation per busy spell.
        let storage = std::mem::take(&mut queue.messages);
        let waiters = std::mem::take(&mut queue.drained_waiters);
        drop(queue);
        drop(storage);
        waiters.into_iter().for_each(Waker::wake);
    }
}

impl<M: Send + 'static> Inner<M> {
    /// Idle → scheduled. Called with the queue locked and the state `IDLE`; the run cannot
    /// observe the queue before the caller pushes, since it needs the same lock.
    fn start(self: &Arc<Self>, kind: LaneKind) -> Result<(), RejectReason> {
        self.state.store(SCHEDULED, Release);
        self.schedule(kind)
            .inspect_err(|_| self.state.store(IDLE, Release))
    }

    fn schedule(self: &Arc<Self>, kind: LaneKind) -> Result<(), RejectReason> {
        let inner = Arc::clone(self);
        let task: Task = Box::new(move || inner.run(kind));
        let lane = self.lanes.get(kind);
        lane.try_submit(task).map_err(|rejected| rejected.reason())
    }

    /// The pool task: claim the mailbox, handle bursts until it is empty. After each full
    /// burst it re-submits itself to the back of the queue so other sessions get a turn; if
    /// the pool refuses (full or shut down) nobody else could run the session, so this
    /// thread carries on with the next burst instead — no message is lost or stalled.
    fn run(self: Arc<Self>, kind: LaneKind) {
        if !self.claim() {
            return;
        }
        while self.run_burst() {
            self.state.store(SCHEDULED, SeqCst);
            let lane = if self.urgent.load(SeqCst) {
                LaneKind::Timeout
            } else {
                kind
            };
            if self.schedule(lane).is_ok() || !self.claim() {
                return;
            }
        }
    }

    /// Handles up to `BURST` messages; `true` if more wait (the mailbox is still `RUNNING`).
    fn run_burst(&self) -> bool {
        let mut handler = self.handler.lock().unwrap_or_else(PoisonError::into_inner);
        for _ in 0..BURST {
            let Some(message) = self.next() else {
                return false;
            };
            let handled = panic::catch_unwind(AssertUnwindSafe(|| (*handler)(message)));
            if let Err(payload) = handled {
                worker::report_panic(self.lanes.main.context(), payload.as_ref());
                let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(payload)));
            }
        }
        self.has_more()
    }
}

/// Resolves when [`Mailbox::try_post`] would accept a message. Returned by
/// [`Mailbox::ready`]; `'static` (for `M: 'static`) and `Unpin`, so a hand-written future
/// can keep it in its state and poll it by hand.
#[must_use = "futures do nothing unless polled"]
pub struct MailboxReady<M> {
    inner: Arc<Inner<M>>,
    pool: Option<Ready>,
}

impl<M> Future for MailboxReady<M> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let inner = &this.inner;
        let idle = {
            let mut queue = inner.lock_queue();
            if queue.messages.len() >= inner.limit {
                // Full means scheduled or running: a run will take a message and wake us.
                if !queue.space_waiters.iter().any(|w| w.will_wake(cx.waker())) {
                    queue.space_waiters.push(cx.waker().clone());
                }
                return Poll::Pending;
            }
            inner.state.load(Acquire) == IDLE
        };
        if !idle {
            return Poll::Ready(());
        }
        let pool = this
            .pool
            .get_or_insert_with(|| Ready::new(Arc::clone(&inner.lanes.main)));
        Pin::new(pool).poll(cx)
    }
}

/// Resolves when the mailbox is idle and empty. Returned by [`Mailbox::drained`].
#[must_use = "futures do nothing unless polled"]
pub struct MailboxDrained<M> {
    inner: Arc<Inner<M>>,
}

impl<M> Future for MailboxDrained<M> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut queue = self.inner.lock_queue();
        if queue.messages.is_empty() && self.inner.state.load(Acquire) == IDLE {
            return Poll::Ready(());
        }
        // Going idle happens under the queue lock, so this registration cannot miss it.
        if !queue
            .drained_waiters
            .iter()
            .any(|w| w.will_wake(cx.waker()))
        {
            queue.drained_waiters.push(cx.waker().clone());
        }
        Poll::Pending
    }
}

impl<M> fmt::Debug for MailboxDrained<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailboxDrained").finish_non_exhaustive()
    }
}

impl<M> Clone for Mailbox<M> {
    fn clone(&self) -> Self {
        Mailbox {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<M> fmt::Debug for Mailbox<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mailbox")
            .field("state", &self.state())
            .field("len", &self.len())
            .field("limit", &self.inner.limit)
            .finish()
    }
}

impl<M> fmt::Debug for MailboxReady<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailboxReady")
            .field("waiting_for_pool", &self.pool.is_some())
            .finish()
    }
}
