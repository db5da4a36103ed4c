//! The per-context executor: the threads endpoint callbacks run on.
//!
//! Plugin code may block, like servlet code, so it never runs on a tokio worker. Each
//! context owns one [`Executor`], sized by its `websocket-executor` settings, so a slow or
//! blocking endpoint exhausts only its own context. Nothing here depends on tokio: callers
//! are tokio tasks, and everything they call returns at once; waiting is done with plain
//! [`Waker`](std::task::Waker)s.
//!
//! # Growth: Tomcat's rule, not the JDK's
//!
//! A submitted task goes to an idle thread if there is one. Otherwise, while fewer than
//! `max` threads exist, a thread is started for it **before** anything is queued. Only when
//! `max` threads are busy does it wait in the queue, and at most `queue-size` tasks wait
//! (tasks already promised to idle threads do not count). `min` threads are started eagerly
//! with the pool; threads above `min` exit after `keep-alive-time` without work, and the
//! count never drops below `min` (any thread may be the one that stays). A thread never exits
//! while a queued task would be left without one. The rules are pure functions
//! (`policy.rs`); the counters they read are one atomic word, so each decision is taken on a
//! consistent snapshot.
//!
//! # Overflow and back-pressure: nothing is dropped
//!
//! [`Executor::try_submit`] never blocks. When the queue is full the task comes back in
//! [`Rejected`] with [`RejectReason::QueueFull`]; the caller keeps it, stops reading from its
//! socket (TCP back-pressure), awaits [`Executor::ready`], and submits again:
//!
//! ```
//! # use berth::executor::{Executor, RejectReason, Task};
//! async fn submit(pool: &Executor, mut task: Task) -> Result<(), RejectReason> {
//!     loop {
//!         match pool.try_submit(task) {
//!             Ok(()) => return Ok(()),
//!             Err(rejected) if rejected.reason() == RejectReason::QueueFull => {
//!                 task = rejected.into_task();
//!                 pool.ready().await; // woken when a task finishes
//!             }
//!             Err(rejected) => return Err(rejected.reason()),
//!         }
//!     }
//! }
//! ```
//!
//! Waiters are woken one per finished task, oldest first; readiness is a hint (someone else
//! may take the slot first), hence the loop. A waiter dropped after its wake-up passes it on.
//!
//! # Sessions run like actors
//!
//! A session's callbacks go through its [`Mailbox`]: a bounded queue of the session's
//! messages with an atomic state — idle, scheduled, running. Posting to an idle mailbox
//! schedules **one** pool task; posting to a scheduled or running one only queues the message,
//! so the pool is woken only when a session becomes runnable. The task handles up to
//! [`BURST`] messages in arrival order, then re-submits itself to the back of the pool's queue
//! so other sessions get a turn. Hence at most one message of a session is handled at a time,
//! in the order posted.
//!
//! Refusals never lose a message or stall a session:
//! - [`Mailbox::try_post`] hands the message back when the mailbox is at its limit
//!   (`MailboxFull`), or when the mailbox is idle and the pool refuses its task
//!   (`QueueFull`). The reader awaits [`Mailbox::ready`] — which waits for room in the
//!   mailbox, then if needed for the pool — and posts again, with its socket paused meanwhile.
//! - When the pool refuses a running mailbox's re-submission after a burst, nobody else could
//!   run the session, so the same thread simply continues with the next burst. Fairness
//!   yields to progress while the pool is saturated; nothing waits for a poster to retry.
//!
//! # Timeouts
//!
//! `websocket-timeout-min-threads` reserved threads form a second lane, which callbacks
//! cannot occupy: [`Executor::submit_timeout_work`] runs expiry work there even when all
//! `max` callback threads are blocked, and [`Mailbox::post_expiry`] moves an idle or queued
//! session onto it so its `on_close` still runs in order after its earlier messages. With 0
//! reserved threads, timeout work goes to the callback lane like any other task.
//!
//! # Panics
//!
//! A panicking task or mailbox handler is caught, logged with `tracing` (context and thread),
//! and counted; the thread carries on with the next task and the counters stay exact. Plugin
//! callbacks are already wrapped on the plugin side; this is the second net.
//!
//! # Shutdown
//!
//! [`Executor::shutdown`] refuses new submissions (`ShutDown`), lets every queued task run,
//! and joins the threads within a grace period; threads still inside a task after it are
//! reported and left to finish detached. Dropping the executor starts the same shutdown
//! without waiting, so a drop never hangs.
//!
//! # Observability
//!
//! Threads are named `berth-<context>-<n>` (timeout lane: `berth-<context>-t<n>`) so that
//! `top -H` shows whose they are (Linux shows the first 15 bytes). [`PoolMetrics`] gives
//! threads alive and busy, queue depth, and tasks rejected, completed and panicked, each one
//! atomic load.
//!
//! # Files
//!
//! `policy` (sizing rules, pure), `counts` (the packed atomic counters), `lane` (submission,
//! threads, shutdown of one lane), `worker` (a thread's loop), `waiters` (readiness),
//! `pool` ([`Executor`]), `mailbox` ([`Mailbox`]), `error`.

mod counts;
mod error;
mod lane;
mod mailbox;
mod policy;
mod pool;
mod waiters;
mod worker;

#[cfg(test)]
mod tests;

pub use error::{ExecutorError, RejectReason, Rejected};
pub use mailbox::{BURST, Mailbox, MailboxDrained, MailboxReady, MailboxState};
pub use pool::{Executor, PoolMetrics};
pub use waiters::Ready;

/// A unit of work for the pool.
pub type Task = Box<dyn FnOnce() + Send + 'static>;
