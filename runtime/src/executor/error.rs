//! The executor's errors: a refused submission that hands the task back, and the failures of
//! starting and stopping a pool.
//!
//! Owns the error types and their messages. It must not decide anything: which reason
//! applies is up to the lane and the mailbox.

use std::fmt;
use std::io;

/// Why a task or message was not accepted. None of them loses it: it comes back in
/// [`Rejected`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectReason {
    /// All `max` threads are busy and `queue-size` tasks already wait. Await
    /// [`Executor::ready`](super::Executor::ready) (or
    /// [`Mailbox::ready`](super::Mailbox::ready)) and submit again.
    QueueFull,
    /// The session's mailbox holds its limit of messages. Await
    /// [`Mailbox::ready`](super::Mailbox::ready) and post again.
    MailboxFull,
    /// The pool is shutting down; nothing new will run.
    ShutDown,
    /// The pool needed a thread and the operating system refused to start one (logged).
    ThreadUnavailable,
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RejectReason::QueueFull => "the pool's queue is full",
            RejectReason::MailboxFull => "the session's mailbox is full",
            RejectReason::ShutDown => "the pool is shut down",
            RejectReason::ThreadUnavailable => "the pool could not start a thread",
        })
    }
}

/// A refused submission: the task (or message) is handed back with the reason, so the caller
/// can wait for capacity and try again without cloning or losing anything.
pub struct Rejected<T> {
    task: T,
    reason: RejectReason,
}

impl<T> Rejected<T> {
    pub(crate) fn new(task: T, reason: RejectReason) -> Self {
        Rejected { task, reason }
    }

    /// Why it was refused.
    pub fn reason(&self) -> RejectReason {
        self.reason
    }

    /// The task, to submit again.
    pub fn into_task(self) -> T {
        self.task
    }

    /// The task and the reason.
    pub fn into_parts(self) -> (T, RejectReason) {
        (self.task, self.reason)
    }
}

impl<T> fmt::Debug for Rejected<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rejected")
            .field("reason", &self.reason)
            .finish_non_exhaustive()
    }
}

impl<T> fmt::Display for Rejected<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rejected: {}", self.reason)
    }
}

impl<T> std::error::Error for Rejected<T> {}

/// Starting or stopping a pool failed.
#[derive(Debug, thiserror::Error)]
pub enum ExecutorError {
    /// The operating system refused to start a pool thread at construction.
    #[error("context {context}: cannot start pool thread {thread}: {source}")]
    Spawn {
        /// The context the pool serves.
        context: String,
        /// The thread's name.
        thread: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Threads were still running tasks when the shutdown grace period ended; they are left
    /// to finish on their own (detached).
    #[error(
        "context {context}: {threads} pool threads still running after the shutdown grace period"
    )]
    ShutdownTimedOut {
        /// The context the pool serves.
        context: String,
        /// Threads still alive.
        threads: usize,
    },
}
