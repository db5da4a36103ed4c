//! Giving memory back to the OS after a flood ends.
//!
//! glibc's allocator keeps freed memory resident: after 10 000 sessions, or a burst of large
//! request heads, or a slowloris crowd, the freed chunks sit between live ones and its heaps
//! only shrink from the top. `malloc_trim` releases the free pages wherever they are. glibc's
//! own trimming is turned off (under load it gives back and faults in the same pages for
//! every message); instead, once a second, a blocking thread asks the allocator how much it
//! holds free (`mallinfo2`) and trims when that is at least [`TRIM_FREE`] and at least a
//! quarter of what is in use — that is, when something large has come and gone, whatever it
//! was. Steady load keeps little memory free for long and is not trimmed over and over. This
//! module sets the allocator's policy; it must not touch sessions or sockets.

use std::time::Duration;

/// Free memory below this is not worth a trim.
const TRIM_FREE: usize = 4 << 20;

/// How often the allocator is asked.
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// What the allocator holds, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Heap {
    in_use: usize,
    free: usize,
}

/// Whether freed memory is worth giving back.
fn worth_trimming(heap: Heap) -> bool {
    heap.free >= TRIM_FREE && heap.free >= heap.in_use / 4
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
            let _ = tokio::task::spawn_blocking(trim_if_worth_it).await;
        }
    });
}

fn trim_if_worth_it() {
    let Some(before) = heap() else { return };
    if worth_trimming(before) {
        trim();
        tracing::debug!(
            free = before.free,
            in_use = before.in_use,
            "freed memory returned to the OS"
        );
    }
}

/// Read buffers come and go with every message (a payload is handed to the plugin as a
/// slice of the buffer it arrived in). glibc returns a heap's free top to the OS as soon as
/// it passes 128 KiB, so under load the same pages are given back and faulted in (and
/// zeroed) again and again: a tenth of the CPU at 16 KiB messages. Freed memory is kept
/// instead; [`spawn_trimmer`] gives it back when a flood has really gone.
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

/// The allocator's totals over every arena.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn heap() -> Option<Heap> {
    // SAFETY: `mallinfo2` takes each arena's lock and returns a struct by value; no
    // preconditions.
    let info = unsafe { libc::mallinfo2() };
    Some(Heap {
        in_use: info.uordblks,
        free: info.fordblks,
    })
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn heap() -> Option<Heap> {
    None
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn trim() {
    // SAFETY: `malloc_trim` only releases free memory of the allocator's own heaps; it
    // takes the allocator's locks like any allocation and has no preconditions.
    unsafe { libc::malloc_trim(0) };
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() {}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: usize = 1 << 20;

    fn heap_of(in_use: usize, free: usize) -> Heap {
        Heap { in_use, free }
    }

    #[test]
    fn only_much_free_memory_is_worth_a_trim() {
        assert!(
            worth_trimming(heap_of(3 * MIB, 150 * MIB)),
            "a flood of heads ended"
        );
        assert!(
            worth_trimming(heap_of(40 * MIB, 10 * MIB)),
            "a quarter of the heap free"
        );
        assert!(
            !worth_trimming(heap_of(MIB, 3 * MIB)),
            "too little to bother"
        );
        assert!(!worth_trimming(heap_of(400 * MIB, 60 * MIB)), "steady load");
        assert!(!worth_trimming(heap_of(0, 0)));
    }
}
