//! [`Executor`], the handle a context owns: its callback lane, its reserved timeout lane,
//! metrics and shutdown.
//!
//! Owns the public face of the pool and the wiring of its lanes from the context's settings.
//! It must not hold tasks itself or block a submitter; the work is done by `lane` and
//! `worker`.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::descriptor::ExecutorSettings;

use super::Task;
use super::error::{ExecutorError, Rejected};
use super::lane::{Lane, LaneKind, Lanes};
use super::policy::Limits;
use super::waiters::Ready;

/// A per-context thread pool: callbacks on one lane, timeout work on reserved threads.
///
/// Dropping it begins a shutdown without waiting: queued tasks still run, on threads that
/// then exit on their own. Call [`Executor::shutdown`] to wait for them.
pub struct Executor {
    lanes: Lanes,
}

/// A snapshot of one lane's gauges and counters; each read is one atomic load.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolMetrics {
    /// Threads started and not exited.
    pub threads_alive: usize,
    /// Threads running a task.
    pub threads_busy: usize,
    /// Tasks accepted and not yet taken by a thread.
    pub queue_depth: usize,
    /// Submissions refused because the queue was full (each retry counts again).
    pub tasks_rejected: u64,
    /// Tasks that ran to the end, normally or by panicking.
    pub tasks_completed: u64,
    /// Tasks that panicked (a subset of `tasks_completed`).
    pub tasks_panicked: u64,
}

impl Executor {
    /// Starts the pool of context `context`: `settings.min_threads` callback threads at once
    /// (named `berth-<context>-<n>`), plus `timeout_threads` reserved threads for timeout
    /// work (`berth-<context>-t<n>`; none when 0). Sizes beyond what the counters hold are
    /// clamped with a warning; `max_threads` is at least 1 and `min_threads` at most
    /// `max_threads`.
    pub fn new(
        context: &str,
        settings: ExecutorSettings,
        timeout_threads: usize,
    ) -> Result<Executor, ExecutorError> {
        let limits = Limits::of(&settings);
        if !limits.matches(&settings) {
            tracing::warn!(
                context,
                ?settings,
                min = limits.min,
                max = limits.max,
                queue = limits.queue,
                "executor settings clamped"
            );
        }
        let main = Lane::start(context, LaneKind::Main, limits, settings.keep_alive)?;
        let timeout = match timeout_threads {
            0 => None,
            threads => {
                let limits = Limits::fixed(threads);
                match Lane::start(context, LaneKind::Timeout, limits, Duration::MAX) {
                    Ok(lane) => Some(lane),
                    Err(error) => {
                        main.begin_shutdown();
                        return Err(error);
                    }
                }
            }
        };
        Ok(Executor {
            lanes: Lanes { main, timeout },
        })
    }

    /// Applies new `websocket-executor` settings to the callback lane (see `Lane::resize`):
    /// no task is lost or refused by the change itself. Clamped as in [`Executor::new`].
    pub fn resize(&self, settings: &ExecutorSettings) {
        self.lanes
            .main
            .resize(Limits::of(settings), settings.keep_alive);
    }

    /// The context this pool serves.
    pub fn context(&self) -> &str {
        self.lanes.main.context()
    }

    /// Submits a callback task without ever blocking. An idle thread takes it; failing that a
    /// thread is started while fewer than `max` exist; only then does it wait in the queue.
    /// When `max` threads are busy and `queue-size` tasks wait, the task comes back in
    /// [`Rejected`] (`QueueFull`): await [`Executor::ready`] and submit it again.
    pub fn try_submit(&self, task: Task) -> Result<(), Rejected<Task>> {
        self.lanes.main.try_submit(task)
    }

    /// Resolves when [`Executor::try_submit`] would accept a task (or the pool shut down).
    pub fn ready(&self) -> Ready {
        Ready::new(Arc::clone(&self.lanes.main))
    }

    /// Submits timeout work (expiring a session, running its `on_close`) to the reserved
    /// threads, which callbacks cannot occupy. Their queue is bounded only by the counters
    /// (billions), so this is refused only after shutdown. With no reserved threads it is
    /// [`Executor::try_submit`].
    pub fn submit_timeout_work(&self, task: Task) -> Result<(), Rejected<Task>> {
        self.lanes.get(LaneKind::Timeout).try_submit(task)
    }

    /// The callback lane's metrics.
    pub fn metrics(&self) -> PoolMetrics {
        self.lanes.main.metrics()
    }

    /// The timeout lane's metrics; `None` when no threads are reserved.
    pub fn timeout_metrics(&self) -> Option<PoolMetrics> {
        self.lanes.timeout.as_deref().map(Lane::metrics)
    }

    /// Stops accepting tasks (submissions get `ShutDown`), lets every queued task run, and
    /// waits up to `grace` for all threads to exit and joins them. Threads still running a
    /// task then are left to finish on their own, reported as `ShutdownTimedOut`. Blocks the
    /// caller: from async code, call it on a blocking thread. Calling it from a task of this
    /// pool waits out the whole grace period (the caller's own thread cannot exit).
    pub fn shutdown(&self, grace: Duration) -> Result<(), ExecutorError> {
        self.begin_shutdown();
        let deadline = Instant::now() + grace;
        let mut threads = self.lanes.main.wait_for_exit(deadline);
        if let Some(timeout) = &self.lanes.timeout {
            threads += timeout.wait_for_exit(deadline);
        }
        match threads {
            0 => Ok(()),
            threads => Err(ExecutorError::ShutdownTimedOut {
                context: self.context().to_owned(),
                threads,
            }),
        }
    }

    fn begin_shutdown(&self) {
        self.lanes.main.begin_shutdown();
        if let Some(timeout) = &self.lanes.timeout {
            timeout.begin_shutdown();
        }
    }

    pub(crate) fn lanes(&self) -> &Lanes {
        &self.lanes
    }
}

impl Drop for Executor {
    fn drop(&mut self) {
        self.begin_shutdown();
    }
}

impl fmt::Debug for Executor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Executor")
            .field("main", &self.lanes.main)
            .field("timeout", &self.lanes.timeout)
            .finish()
    }
}
