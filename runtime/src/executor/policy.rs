//! The pool's sizing rules as pure functions: given how many threads are alive and busy and
//! how many tasks wait, decide whether a new task starts a thread, waits, or is refused, and
//! whether an idle thread may exit.
//!
//! Owns the rules only. It must not touch atomics, threads or clocks: the lane feeds it
//! snapshots (see `counts`) and acts on the answer, so every rule is tested here without a
//! single thread.

use crate::config::descriptor::ExecutorSettings;

/// The most threads one lane may have: the width of the thread fields in `counts`.
pub(crate) const MAX_THREADS: u32 = (1 << 15) - 1;

/// The most tasks a lane may hold: the width of the queue field in `counts`, minus room for
/// the tasks running on every thread.
pub(crate) const MAX_QUEUE: u32 = u32::MAX - MAX_THREADS;

/// A lane's sizing after clamping to what the counters can represent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Threads that never exit for idleness.
    pub(crate) min: u32,
    /// Most threads at once; at least 1.
    pub(crate) max: u32,
    /// Most tasks waiting for a busy thread (tasks handed to idle threads do not count).
    pub(crate) queue: u32,
}

impl Limits {
    /// Clamps raw sizes: `1 <= max <= MAX_THREADS`, `min <= max`, `queue <= MAX_QUEUE`.
    pub(crate) fn new(min: usize, max: usize, queue: usize) -> Limits {
        let max = clamp(max, MAX_THREADS).max(1);
        Limits {
            min: clamp(min, MAX_THREADS).min(max),
            max,
            queue: clamp(queue, MAX_QUEUE),
        }
    }

    /// The limits of a context's `websocket-executor`.
    pub(crate) fn of(settings: &ExecutorSettings) -> Limits {
        Limits::new(
            settings.min_threads,
            settings.max_threads,
            settings.queue_size,
        )
    }

    /// A fixed-size lane whose queue is bounded only by the counters (the timeout lane).
    pub(crate) fn fixed(threads: usize) -> Limits {
        Limits::new(threads, threads, usize::MAX)
    }

    /// Whether these limits are what `settings` asked for.
    pub(crate) fn matches(&self, settings: &ExecutorSettings) -> bool {
        let same = |value: u32, wanted: usize| usize::try_from(value).is_ok_and(|v| v == wanted);
        same(self.min, settings.min_threads)
            && same(self.max, settings.max_threads)
            && same(self.queue, settings.queue_size)
    }
}

/// Limits packed into one word, so a lane can change them with one atomic store and read
/// them with one load: `min` in bits 48..63, `max` in 32..47, `queue` in 0..32.
impl Limits {
    pub(crate) fn pack(self) -> u64 {
        (u64::from(self.min) << 48) | (u64::from(self.max) << 32) | u64::from(self.queue)
    }

    pub(crate) fn unpack(bits: u64) -> Limits {
        let thread = |shift: u32| ((bits >> shift) & u64::from(MAX_THREADS)) as u32;
        Limits {
            min: thread(48),
            max: thread(32),
            // The mask makes it fit, so the cast cannot truncate.
            queue: (bits & u64::from(u32::MAX)) as u32,
        }
    }
}

fn clamp(value: usize, limit: u32) -> u32 {
    u32::try_from(value).map_or(limit, |value| value.min(limit))
}

/// One consistent snapshot of a lane's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Load {
    /// Threads started and not exited.
    pub(crate) alive: u32,
    /// Threads running a task.
    pub(crate) busy: u32,
    /// Tasks accepted and not yet taken by a thread.
    pub(crate) queued: u32,
}

impl Load {
    /// Threads not running a task: each will take a queued task or is about to.
    pub(crate) fn idle(self) -> u32 {
        self.alive.saturating_sub(self.busy)
    }

    /// Queued tasks no idle thread will take: those waiting for a busy thread to finish.
    pub(crate) fn waiting(self) -> u32 {
        self.queued.saturating_sub(self.idle())
    }
}

/// What to do with a submitted task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Queue it: an idle thread will take it, or all `max` threads are busy and the queue has
    /// room.
    Enqueue,
    /// Start a thread first, then queue it (the new thread is the idle one that takes it).
    StartThread,
    /// Refuse it: `max` threads are busy and `queue` tasks already wait.
    Reject,
}

/// Tomcat's rule: an idle thread takes the task; failing that the pool grows while fewer than
/// `max` threads exist; only then does the task wait, and at most `queue` tasks wait.
pub(crate) fn admit(load: Load, limits: Limits) -> Admission {
    if load.queued < load.idle() {
        Admission::Enqueue
    } else if load.alive < limits.max {
        Admission::StartThread
    } else if load.waiting() < limits.queue {
        Admission::Enqueue
    } else {
        Admission::Reject
    }
}

/// Whether a thread should start without a new task, after the limits changed: fewer than
/// `min` are alive, or tasks wait for a busy thread while fewer than `max` are alive.
pub(crate) fn should_grow(load: Load, limits: Limits) -> bool {
    load.alive < limits.min || (load.alive < limits.max && load.waiting() > 0)
}

/// Whether an idle thread whose keep-alive ran out may exit: only above `min`, and only when
/// the threads left idle still cover every queued task (so no task is stranded).
pub(crate) fn may_retire(load: Load, limits: Limits) -> bool {
    load.alive > limits.min && load.idle() > load.queued
}

#[cfg(test)]
mod tests {
    #[test]
    fn limits_survive_packing() {
        for limits in [
            Limits::new(0, 1, 0),
            Limits::new(10, 30, 4096),
            Limits::new(usize::MAX, usize::MAX, usize::MAX),
        ] {
            assert_eq!(Limits::unpack(limits.pack()), limits);
        }
    }

    #[test]
    fn a_resize_grows_to_min_and_for_waiting_tasks_up_to_max() {
        let load = |alive, busy, queued| Load {
            alive,
            busy,
            queued,
        };
        let limits = Limits::new(2, 4, 10);
        assert!(should_grow(load(1, 0, 0), limits), "below min");
        assert!(!should_grow(load(2, 0, 0), limits), "at min, nothing waits");
        assert!(
            should_grow(load(2, 2, 3), limits),
            "tasks wait, room below max"
        );
        assert!(!should_grow(load(4, 4, 3), limits), "at max");
        assert!(
            !should_grow(load(3, 1, 2), limits),
            "idle threads cover the queue"
        );
    }

    use super::*;
    use std::time::Duration;

    fn load(alive: u32, busy: u32, queued: u32) -> Load {
        Load {
            alive,
            busy,
            queued,
        }
    }

    const LIMITS: Limits = Limits {
        min: 2,
        max: 4,
        queue: 3,
    };

    #[test]
    fn admission_follows_tomcat_not_the_jdk() {
        use Admission::*;
        let cases = [
            // (alive, busy, queued) → decision
            ((2, 0, 0), Enqueue, "an idle thread takes it"),
            ((2, 1, 0), Enqueue, "one thread is still idle"),
            (
                (2, 1, 1),
                StartThread,
                "the idle thread is spoken for: grow",
            ),
            (
                (2, 2, 0),
                StartThread,
                "all busy, below max: grow before queueing",
            ),
            ((3, 3, 0), StartThread, "still below max"),
            ((4, 4, 0), Enqueue, "max busy: wait in the queue"),
            ((4, 4, 2), Enqueue, "queue has room"),
            ((4, 4, 3), Reject, "queue full"),
            (
                (4, 3, 3),
                Enqueue,
                "one queued task goes to the idle thread",
            ),
            ((4, 3, 4), Reject, "three wait for busy threads: full"),
            ((0, 0, 0), StartThread, "min 0 and nothing alive: start one"),
        ];
        for ((alive, busy, queued), expected, why) in cases {
            let got = admit(load(alive, busy, queued), LIMITS);
            assert_eq!(got, expected, "{alive}/{busy}/{queued}: {why}");
        }
    }

    #[test]
    fn zero_queue_still_hands_tasks_to_idle_threads() {
        let limits = Limits::new(1, 2, 0);
        assert_eq!(admit(load(1, 0, 0), limits), Admission::Enqueue);
        assert_eq!(admit(load(1, 1, 0), limits), Admission::StartThread);
        assert_eq!(admit(load(2, 2, 0), limits), Admission::Reject);
    }

    #[test]
    fn retirement_keeps_min_and_covers_queued_tasks() {
        let cases = [
            ((3, 0, 0), true, "above min, idle"),
            ((2, 0, 0), false, "at min"),
            ((3, 2, 0), true, "one idle thread, nothing queued"),
            (
                (3, 2, 1),
                false,
                "the idle thread must take the queued task",
            ),
            ((4, 2, 1), true, "two idle, one queued: one may go"),
        ];
        for ((alive, busy, queued), expected, why) in cases {
            let got = may_retire(load(alive, busy, queued), LIMITS);
            assert_eq!(got, expected, "{alive}/{busy}/{queued}: {why}");
        }
    }

    #[test]
    fn limits_are_clamped_to_the_counters() {
        assert_eq!(Limits::new(5, 3, 10), Limits::new(3, 3, 10));
        assert_eq!(Limits::new(0, 0, 0).max, 1);
        assert_eq!(Limits::new(0, usize::MAX, usize::MAX).max, MAX_THREADS);
        assert_eq!(Limits::fixed(2).queue, MAX_QUEUE);
        let settings = ExecutorSettings {
            min_threads: 10,
            max_threads: 30,
            keep_alive: Duration::from_secs(60),
            queue_size: 4096,
        };
        assert!(Limits::of(&settings).matches(&settings));
        let huge = ExecutorSettings {
            max_threads: usize::MAX,
            ..settings
        };
        assert!(!Limits::of(&huge).matches(&huge));
    }
}
