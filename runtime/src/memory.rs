//! Giving memory back to the OS after many sessions have closed.
//!
//! glibc's allocator keeps freed memory resident: a server that held 10 000 sessions keeps
//! their memory after they close, because the freed chunks sit between live ones and its
//! heaps only shrink from the top. `malloc_trim` releases the free pages wherever they are.
//! It walks every heap, so it runs only after a real drop — at least [`TRIM_DROP`] sessions
//! fewer than the peak since the last trim, and at most half that peak — checked once a
//! second on a blocking thread; steady churn (many short sessions, few open) never triggers
//! it. glibc's own trimming is turned off, since under load it gives back and faults in the
//! same pages over and over. This module counts sessions and sets the allocator's policy; it
//! must not touch sessions or sockets.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

/// Sessions that must have closed (from the peak) before a trim is worth it.
const TRIM_DROP: usize = 1024;

/// How often the drop is checked.
const CHECK_EVERY: Duration = Duration::from_secs(1);

static OPEN: AtomicUsize = AtomicUsize::new(0);
static PEAK_SINCE_TRIM: AtomicUsize = AtomicUsize::new(0);

/// Counts a session in (from its opening until its last callback).
pub(crate) fn session_opened() {
    let open = OPEN.fetch_add(1, Relaxed) + 1;
    PEAK_SINCE_TRIM.fetch_max(open, Relaxed);
}

/// Counts a session out.
pub(crate) fn session_closed() {
    OPEN.fetch_sub(1, Relaxed);
}

/// Whether `open` sessions, after a peak of `peak`, are a drop worth a trim.
fn worth_trimming(peak: usize, open: usize) -> bool {
    peak.saturating_sub(open) >= TRIM_DROP && open <= peak / 2
}

/// Starts the once-a-second check on the current runtime; it ends with the runtime. Also
/// turns off glibc's own trimming (see [`keep_freed_memory`]).
pub(crate) fn spawn_trimmer() {
    keep_freed_memory();
    tokio::spawn(async {
        let mut ticks = tokio::time::interval(CHECK_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let open = OPEN.load(Relaxed);
            if worth_trimming(PEAK_SINCE_TRIM.load(Relaxed), open) {
                PEAK_SINCE_TRIM.store(open, Relaxed);
                let _ = tokio::task::spawn_blocking(trim).await;
            }
        }
    });
}

/// Read buffers come and go with every message (a payload is handed to the plugin as a
/// slice of the buffer it arrived in). glibc returns a heap's free top to the OS as soon as
/// it passes 128 KiB, so under load the same pages are given back and faulted in (and
/// zeroed) again and again: a tenth of the CPU at 16 KiB messages. Freed memory is kept
/// instead; [`spawn_trimmer`] gives it back when sessions have really gone.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn keep_freed_memory() {
    // SAFETY: `mallopt` only sets allocator parameters; it has no preconditions. The mmap
    // threshold is fixed too (setting the trim threshold does that in glibc), at 1 MiB.
    let set = unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX)
            & libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20)
    };
    if set != 1 {
        tracing::debug!("mallopt refused a setting; glibc trims on its own");
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn keep_freed_memory() {}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn trim() {
    // SAFETY: `malloc_trim` only releases free memory of the allocator's own heaps; it
    // takes the allocator's locks like any allocation and has no preconditions.
    let released = unsafe { libc::malloc_trim(0) };
    tracing::debug!(released, "freed memory returned to the OS");
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_large_drop_from_the_peak_is_worth_a_trim() {
        assert!(worth_trimming(10_000, 0));
        assert!(worth_trimming(2048, 1024));
        assert!(!worth_trimming(2048, 1025), "more than half still open");
        assert!(!worth_trimming(1000, 0), "too few closed");
        assert!(!worth_trimming(32, 31), "steady churn");
        assert!(!worth_trimming(0, 0));
    }
}
