//! The settle time: a context directory is acted on only once its files have stopped
//! changing, so a plugin library being copied in, or written by `cargo build`, is never
//! loaded half-written.
//!
//! A directory is *unsettled* while the newest change in it — the modification or status
//! change time (`mtime`, `ctime`) of the directory itself and of every file and directory in
//! it, following symbolic links as well — is younger than the settle time. The status change
//! time counts because `cp -p` and `tar` give a new file an old modification time; the
//! status change time of a file is always when it was last written here. A time up to
//! [`FUTURE_TOLERANCE`] ahead of the clock (a file server whose clock runs ahead) counts as
//! a change that has not settled yet; a time further ahead cannot be a write in progress
//! and is not counted, so such a file does not hold its directory back for ever.
//!
//! [`unsettled_for`] is the rule, pure (the clock is an argument); [`Settling`] applies it
//! to the directories of one look. This module reads metadata only, never file contents.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

/// How far ahead of the clock a change time may be and still count.
const FUTURE_TOLERANCE: Duration = Duration::from_secs(60);

/// How deep below a context directory changes are looked for (`lib/` is one level).
const MAX_DEPTH: usize = 4;

/// How many entries of one context directory are looked at, at most.
const MAX_ENTRIES: usize = 4096;

/// How much longer a directory whose files changed at `changes` must wait before it is
/// settled, at `now`; `None` when it is settled.
pub(crate) fn unsettled_for(
    changes: impl IntoIterator<Item = SystemTime>,
    now: SystemTime,
    settle: Duration,
) -> Option<Duration> {
    let newest = changes
        .into_iter()
        .filter(|&time| time <= now + FUTURE_TOLERANCE)
        .max()?;
    let left = match now.duration_since(newest) {
        Ok(age) => settle.saturating_sub(age),
        Err(ahead) => ahead.duration() + settle,
    };
    (!left.is_zero()).then_some(left)
}

/// The settle rule over the directories of one look.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settling {
    now: SystemTime,
    settle: Duration,
}

impl Settling {
    /// A look at `now` with this settle time.
    pub(crate) fn new(settle: Duration, now: SystemTime) -> Settling {
        Settling { now, settle }
    }

    /// How much longer `dir`'s files must stay unchanged; `None` once they have settled.
    pub(crate) fn unsettled(&self, dir: &Path) -> Option<Duration> {
        if self.settle.is_zero() {
            return None;
        }
        let left = unsettled_for(change_times(dir), self.now, self.settle)?;
        tracing::debug!(dir = %dir.display(), left_ms = left.as_millis() as u64, "context directory not settled yet: left alone this time");
        Some(left)
    }
}

/// The modification and status change times of `dir` and of what is in it (bounded in
/// depth and count); a file that vanishes meanwhile is skipped.
fn change_times(dir: &Path) -> Vec<SystemTime> {
    let mut times = Vec::new();
    let mut pending = vec![(dir.to_path_buf(), 0)];
    let mut seen = 0;
    while let Some((path, depth)) = pending.pop() {
        seen += 1;
        if seen > MAX_ENTRIES {
            break;
        }
        let Ok(own) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        times.extend(times_of(&own));
        let target = if own.file_type().is_symlink() {
            std::fs::metadata(&path).ok()
        } else {
            None
        };
        times.extend(target.iter().flat_map(times_of));
        let is_dir = target.as_ref().unwrap_or(&own).is_dir();
        if is_dir && depth < MAX_DEPTH {
            let entries = std::fs::read_dir(&path).into_iter().flatten();
            pending.extend(entries.flatten().map(|entry| (entry.path(), depth + 1)));
        }
    }
    times
}

fn times_of(meta: &std::fs::Metadata) -> impl Iterator<Item = SystemTime> {
    let modified = meta.modified().ok();
    let changed = u64::try_from(meta.ctime()).ok().map(|seconds| {
        let nanos = u32::try_from(meta.ctime_nsec()).unwrap_or(0);
        SystemTime::UNIX_EPOCH + Duration::new(seconds, nanos)
    });
    modified.into_iter().chain(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SETTLE: Duration = Duration::from_secs(1);

    fn at(millis: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000) + Duration::from_millis(millis)
    }

    #[test]
    fn a_directory_settles_once_its_newest_change_is_older_than_the_settle_time() {
        let changes = [at(0), at(400), at(100)];
        assert_eq!(
            unsettled_for(changes, at(500), SETTLE),
            Some(Duration::from_millis(900)),
            "the newest change counts"
        );
        assert_eq!(
            unsettled_for(changes, at(1399), SETTLE),
            Some(Duration::from_millis(1))
        );
        assert_eq!(unsettled_for(changes, at(1400), SETTLE), None);
        assert_eq!(unsettled_for(changes, at(90_000), SETTLE), None);
    }

    #[test]
    fn nothing_to_look_at_or_no_settle_time_is_settled() {
        assert_eq!(unsettled_for([], at(0), SETTLE), None);
        assert_eq!(unsettled_for([at(0)], at(0), Duration::ZERO), None);
    }

    #[test]
    fn a_change_slightly_ahead_of_the_clock_waits_and_one_far_ahead_is_ignored() {
        assert_eq!(
            unsettled_for([at(2_000)], at(0), SETTLE),
            Some(Duration::from_secs(3)),
            "two seconds ahead, then the settle time"
        );
        let far = at(0) + FUTURE_TOLERANCE + Duration::from_secs(1);
        assert_eq!(unsettled_for([far], at(0), SETTLE), None);
        assert_eq!(
            unsettled_for([far, at(0)], at(500), SETTLE),
            Some(Duration::from_millis(500)),
            "the others still count"
        );
    }

    #[test]
    fn a_file_just_written_in_a_subdirectory_unsettles_its_context() {
        let root = std::env::temp_dir().join(format!("berth-settle-{}", std::process::id()));
        let lib = root.join("chat").join("lib");
        std::fs::create_dir_all(&lib).expect("temp dir");
        std::fs::write(lib.join("libchat.so"), b"half").expect("temp file");
        let settling = Settling::new(Duration::from_secs(3600), SystemTime::now());
        let left = settling.unsettled(&root.join("chat"));
        assert!(left.is_some_and(|left| left > Duration::from_secs(3500)));
        let later = SystemTime::now() + Duration::from_secs(7200);
        let settling = Settling::new(Duration::from_secs(3600), later);
        assert_eq!(settling.unsettled(&root.join("chat")), None);
        let _ = std::fs::remove_dir_all(&root);
    }
}
