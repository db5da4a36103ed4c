//! One lane of a context's executor: a set of threads, a queue and their counters. The normal
//! callback pool is one lane; the reserved timeout threads are another.
//!
//! Owns submission (admission by `policy`, growth, the channel), thread start-up and naming,
//! the metrics counters, and shutdown. It must not run tasks (that is `worker`) or hold any
//! lock while a task runs; the only locks are the waiter list and the list of thread handles,
//! taken when a thread starts or exits.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use super::counts::Counts;
use super::error::{ExecutorError, RejectReason, Rejected};
use super::policy::{Admission, Limits};
use super::waiters::Waiters;
use super::{PoolMetrics, Task, worker};

/// What travels to the threads.
pub(crate) enum Message {
    /// A task to run.
    Run(Task),
    /// Nothing to run: wakes a thread blocked on the channel so it notices the shutdown.
    Wake,
}

/// Which lane: decides thread names and where a mailbox runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LaneKind {
    /// Callbacks: `berth-<context>-<n>`.
    Main,
    /// Reserved timeout threads: `berth-<context>-t<n>`.
    Timeout,
}

/// Counters that only ever grow.
#[derive(Debug, Default)]
pub(crate) struct Totals {
    pub(crate) rejected: AtomicU64,
    pub(crate) completed: AtomicU64,
    pub(crate) panicked: AtomicU64,
}

#[derive(Debug, Default)]
struct Threads {
    handles: Vec<JoinHandle<()>>,
    started: u64,
}

/// The state a lane's threads and submitters share.
pub(crate) struct Lane {
    context: String,
    kind: LaneKind,
    /// `Limits`, packed: they can change while the lane runs.
    limits: AtomicU64,
    /// How long a thread above `min` may wait for work before it exits, in nanoseconds.
    keep_alive: AtomicU64,
    pub(crate) counts: Counts,
    pub(crate) waiters: Waiters,
    pub(crate) totals: Totals,
    sender: Sender<Message>,
    pub(crate) receiver: Receiver<Message>,
    threads: Mutex<Threads>,
    exited: Condvar,
}

impl Lane {
    /// Creates the lane and starts its `min` threads eagerly. Those threads are not special:
    /// any thread may be the one that exits, but never below `min`.
    pub(crate) fn start(
        context: &str,
        kind: LaneKind,
        limits: Limits,
        keep_alive: Duration,
    ) -> Result<Arc<Lane>, ExecutorError> {
        // Unbounded: admission, not the channel, bounds the queue, and the limits may grow.
        let (sender, receiver) = crossbeam_channel::unbounded();
        let lane = Arc::new(Lane {
            context: context.to_owned(),
            kind,
            limits: AtomicU64::new(limits.pack()),
            keep_alive: AtomicU64::new(nanos(keep_alive)),
            counts: Counts::default(),
            waiters: Waiters::default(),
            totals: Totals::default(),
            sender,
            receiver,
            threads: Mutex::new(Threads::default()),
            exited: Condvar::new(),
        });
        for _ in 0..limits.min {
            lane.counts.add_thread();
            if let Err(error) = lane.spawn() {
                lane.counts.exit();
                lane.begin_shutdown();
                return Err(error);
            }
        }
        Ok(lane)
    }

    pub(crate) fn context(&self) -> &str {
        &self.context
    }

    pub(crate) fn limits(&self) -> Limits {
        Limits::unpack(self.limits.load(Relaxed))
    }

    pub(crate) fn keep_alive(&self) -> Duration {
        Duration::from_nanos(self.keep_alive.load(Relaxed))
    }

    /// Applies new limits and keep-alive: threads start at once to reach a raised `min` or
    /// to take tasks that wait while a raised `max` allows; threads above a lowered `min` or
    /// `max` exit as they go idle (every thread is woken to look at the new keep-alive), and
    /// submitters waiting for room look again. Tasks already queued all run.
    pub(crate) fn resize(self: &Arc<Self>, limits: Limits, keep_alive: Duration) {
        self.limits.store(limits.pack(), Relaxed);
        self.keep_alive.store(nanos(keep_alive), Relaxed);
        while self.counts.try_grow(limits) {
            if let Err(error) = self.spawn() {
                tracing::error!(context = %self.context, %error, "cannot grow the pool");
                self.counts.exit();
                break;
            }
        }
        self.pass_wake_tokens(self.counts.snapshot().load.alive);
        self.waiters.wake_all();
    }

    /// Admits the task (Tomcat's rule, see `policy`), starting a thread first when needed.
    /// Never blocks: starting a thread is the slowest step.
    pub(crate) fn try_submit(self: &Arc<Self>, task: Task) -> Result<(), Rejected<Task>> {
        match self.counts.admit(self.limits()) {
            Ok(Admission::StartThread) => {
                if let Err(error) = self.spawn() {
                    tracing::error!(context = %self.context, %error, "cannot grow the pool");
                    if !self.counts.spawn_failed() {
                        return Err(Rejected::new(task, RejectReason::ThreadUnavailable));
                    }
                }
                self.send(task)
            }
            Ok(_) => self.send(task),
            Err(reason) => {
                if reason == RejectReason::QueueFull {
                    self.totals.rejected.fetch_add(1, Relaxed);
                }
                Err(Rejected::new(task, reason))
            }
        }
    }

    fn send(&self, task: Task) -> Result<(), Rejected<Task>> {
        // Admission keeps at most `max + queue` tasks and `max` wake tokens in a channel of
        // `2 max + queue`, and the lane holds a receiver: this cannot fail. Still, never lose
        // the task if it does.
        match self.sender.try_send(Message::Run(task)) {
            Ok(()) => Ok(()),
            Err(error) => {
                self.counts.unqueue();
                tracing::error!(context = %self.context, "pool channel refused an admitted task");
                match error.into_inner() {
                    Message::Run(task) => Err(Rejected::new(task, RejectReason::QueueFull)),
                    Message::Wake => Ok(()),
                }
            }
        }
    }

    pub(crate) fn has_capacity(&self) -> bool {
        self.counts.has_capacity(self.limits())
    }

    /// Starts one thread, already counted alive. The handle list is locked only here and
    /// when threads exit or are joined.
    fn spawn(self: &Arc<Self>) -> Result<(), ExecutorError> {
        let mut threads = self.lock_threads();
        threads.handles.retain(|handle| !handle.is_finished());
        threads.started += 1;
        let name = match self.kind {
            LaneKind::Main => format!("berth-{}-{}", self.context, threads.started),
            LaneKind::Timeout => format!("berth-{}-t{}", self.context, threads.started),
        };
        let lane = Arc::clone(self);
        let spawned = thread::Builder::new()
            .name(name.clone())
            .spawn(move || worker::run(lane));
        match spawned {
            Ok(handle) => {
                threads.handles.push(handle);
                Ok(())
            }
            Err(source) => Err(ExecutorError::Spawn {
                context: self.context.clone(),
                thread: name,
                source,
            }),
        }
    }

    fn lock_threads(&self) -> MutexGuard<'_, Threads> {
        // The handle list stays consistent whatever panicked while it was locked.
        self.threads.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Called by a thread after it counted itself out (`counts.exit` or `try_retire`).
    pub(crate) fn note_exit(&self) {
        let _threads = self.lock_threads();
        self.exited.notify_all();
    }

    /// Refuses new tasks from now on, wakes idle threads so they drain the queue and exit,
    /// and wakes every waiting submitter. Does not wait.
    pub(crate) fn begin_shutdown(&self) {
        if let Some(alive) = self.counts.shut_down() {
            // One token per thread that may be blocked on the channel.
            self.pass_wake_tokens(alive);
        }
        self.waiters.wake_all();
    }

    /// Sends `tokens` wake-ups to threads blocked on the channel. A thread blocked there
    /// takes one and drains; a draining thread hands back the ones it swallowed when it
    /// exits, so every blocked thread gets one. Spare tokens are harmless, and room for
    /// `max` of them is reserved in the channel's capacity.
    pub(crate) fn pass_wake_tokens(&self, tokens: u32) {
        for _ in 0..tokens {
            let _ = self.sender.try_send(Message::Wake);
        }
    }

    /// Waits until every thread has exited or `deadline` passes, joins those that exited,
    /// and returns how many are still running. Must not be called from a pool thread of
    /// this lane (it would wait for itself; that thread is skipped, not joined).
    pub(crate) fn wait_for_exit(&self, deadline: Instant) -> usize {
        let mut threads = self.lock_threads();
        loop {
            let alive = self.counts.snapshot().load.alive;
            let now = Instant::now();
            if alive == 0 || now >= deadline {
                break;
            }
            threads = match self.exited.wait_timeout(threads, deadline - now) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        let me = thread::current().id();
        let alive = self.counts.snapshot().load.alive;
        let (done, running): (Vec<_>, Vec<_>) = std::mem::take(&mut threads.handles)
            .into_iter()
            .partition(|handle| handle.thread().id() != me && (alive == 0 || handle.is_finished()));
        threads.handles = running;
        drop(threads);
        for handle in done {
            // Workers catch task panics, so a worker thread itself never ends in a panic.
            let _ = handle.join();
        }
        usize::try_from(alive).unwrap_or(usize::MAX)
    }

    pub(crate) fn metrics(&self) -> PoolMetrics {
        let load = self.counts.snapshot().load;
        let size = |value: u32| usize::try_from(value).unwrap_or(usize::MAX);
        PoolMetrics {
            threads_alive: size(load.alive),
            threads_busy: size(load.busy),
            queue_depth: size(load.queued),
            tasks_rejected: self.totals.rejected.load(Relaxed),
            tasks_completed: self.totals.completed.load(Relaxed),
            tasks_panicked: self.totals.panicked.load(Relaxed),
        }
    }
}

impl fmt::Debug for Lane {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lane")
            .field("context", &self.context)
            .field("kind", &self.kind)
            .field("limits", &self.limits())
            .field("metrics", &self.metrics())
            .finish_non_exhaustive()
    }
}

/// A keep-alive in nanoseconds, at least a millisecond (a zero timeout would spin).
fn nanos(keep_alive: Duration) -> u64 {
    let keep_alive = keep_alive.max(Duration::from_millis(1));
    u64::try_from(keep_alive.as_nanos()).unwrap_or(u64::MAX)
}

/// The lanes a mailbox or an executor submits to.
#[derive(Debug, Clone)]
pub(crate) struct Lanes {
    pub(crate) main: Arc<Lane>,
    /// `None` when `websocket-timeout-min-threads` is 0: timeout work uses `main`.
    pub(crate) timeout: Option<Arc<Lane>>,
}

impl Lanes {
    pub(crate) fn get(&self, kind: LaneKind) -> &Arc<Lane> {
        match (kind, &self.timeout) {
            (LaneKind::Timeout, Some(timeout)) => timeout,
            _ => &self.main,
        }
    }

    pub(crate) fn has_timeout_lane(&self) -> bool {
        self.timeout.is_some()
    }
}
