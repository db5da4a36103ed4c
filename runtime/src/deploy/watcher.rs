//! Watching the apps directory: when something in it changes, the deployer looks again.
//!
//! Two sources say "look": inotify (the `notify` crate, the apps directory and everything
//! under it), and, as a fallback that also catches what inotify misses (an event queue that
//! overflowed, a file system without inotify, a directory replaced wholesale), a periodic
//! look every `<deploy-scan-interval-in-millis>` since the last one. Events are debounced: the
//! first starts a short wait ([`DEBOUNCE`]) that absorbs the rest of a burst (a `cp -r`, a
//! `cargo build`), then one look follows. Events that are only reads (the deployer's own
//! reading of descriptors and libraries) are ignored. A look that left a directory alone
//! because its files were still changing (`settle`) is followed by another once they will
//! have settled, whoever asked for the first look (the watcher, SIGHUP or start-up): so a
//! directory copied in just before a SIGHUP still deploys, even with watching off.
//!
//! An interval of zero (`None`) turns watching off: no inotify, no periodic look; SIGHUP still
//! looks. If inotify cannot start (its watch limit, say), a warning says so and the periodic
//! look carries on alone. The interval can change while the watcher runs.
//!
//! One task does all of this; every look takes the deployer's lock, so looks never overlap
//! with each other or with SIGHUP's. After the container's stop signal the task ends, once
//! a look in progress has finished. This module never deploys anything itself.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::event::{AccessKind, AccessMode};
use notify::{Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher as _};
use tokio::sync::{Mutex, Notify, mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::deployer::Deployer;

/// How long a burst of events may go on before the look it causes.
const DEBOUNCE: Duration = Duration::from_millis(200);

/// Added to the moment a directory will have settled, so the look after it does not come a
/// hair too early for a file system's coarse timestamps.
const SETTLE_MARGIN: Duration = Duration::from_millis(20);

/// The running watcher; dropping it stops the task at once.
#[derive(Debug)]
pub(crate) struct Watcher {
    interval: watch::Sender<Option<Duration>>,
    looked: Arc<Notify>,
    task: JoinHandle<()>,
}

impl Watcher {
    /// Starts watching `apps_dir` for `deployer`, looking again every `interval` as well
    /// (`None`: watching off), until `stop` turns true.
    pub(crate) fn start(
        apps_dir: &Path,
        deployer: Arc<Mutex<Deployer>>,
        interval: Option<Duration>,
        stop: watch::Receiver<bool>,
    ) -> Watcher {
        let (interval_tx, interval_rx) = watch::channel(interval);
        let (events_tx, events) = mpsc::channel(1);
        let looked = Arc::new(Notify::new());
        let mut watching = Watching {
            apps_dir: apps_dir.to_path_buf(),
            deployer,
            interval: interval_rx,
            looked: Arc::clone(&looked),
            stop,
            events,
            events_tx,
            inotify: None,
            next_scan: None,
            settled_by: None,
            failing: false,
        };
        watching.configure();
        Watcher {
            interval: interval_tx,
            looked,
            task: tokio::spawn(watching.run()),
        }
    }

    /// From now on, looks again every `interval` (`None`: watching off).
    pub(crate) fn set_scan_interval(&self, interval: Option<Duration>) {
        self.interval.send_if_modified(|current| {
            let changed = *current != interval;
            *current = interval;
            changed
        });
    }

    /// Someone else had the deployer look (SIGHUP, start-up): the watcher follows up on the
    /// directories that look left alone, and its periodic look starts counting again.
    pub(crate) fn looked(&self) {
        self.looked.notify_one();
    }

    /// Waits until the task has ended (after the stop signal, once a look in progress is
    /// done).
    pub(crate) async fn stopped(&mut self) {
        let _ = (&mut self.task).await;
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The watcher task's state.
struct Watching {
    apps_dir: PathBuf,
    deployer: Arc<Mutex<Deployer>>,
    interval: watch::Receiver<Option<Duration>>,
    looked: Arc<Notify>,
    stop: watch::Receiver<bool>,
    /// One pending "something changed": inotify's callback never blocks and never queues
    /// more than one.
    events: mpsc::Receiver<()>,
    events_tx: mpsc::Sender<()>,
    /// Dropping it stops inotify.
    inotify: Option<RecommendedWatcher>,
    next_scan: Option<Instant>,
    settled_by: Option<Instant>,
    /// The last look could not read the apps directory (logged once until one can).
    failing: bool,
}

impl std::fmt::Debug for Watching {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watching")
            .field("apps_dir", &self.apps_dir)
            .field("inotify", &self.inotify.is_some())
            .field("next_scan", &self.next_scan)
            .field("settled_by", &self.settled_by)
            .finish_non_exhaustive()
    }
}

impl Watching {
    async fn run(mut self) {
        loop {
            let wake = earliest(self.next_scan, self.settled_by.map(|at| at + SETTLE_MARGIN));
            tokio::select! {
                biased;
                _ = stopped(&mut self.stop) => return,
                changed = self.interval.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    self.configure();
                    continue;
                }
                _ = self.looked.notified() => {
                    let settled_by = self.deployer.lock().await.settled_by();
                    self.after_look(settled_by);
                    continue;
                }
                Some(()) = self.events.recv() => {
                    tokio::select! {
                        _ = stopped(&mut self.stop) => return,
                        _ = tokio::time::sleep(DEBOUNCE) => {}
                    }
                    while self.events.try_recv().is_ok() {}
                }
                _ = until(wake) => {}
            }
            self.look().await;
        }
    }

    /// Has the deployer look at the apps directory again.
    async fn look(&mut self) {
        if *self.stop.borrow() {
            return;
        }
        let mut deployer = self.deployer.lock().await;
        match deployer.rescan().await {
            Ok(()) if self.failing => {
                self.failing = false;
                tracing::info!(dir = %self.apps_dir.display(), "the apps directory can be read again");
            }
            Ok(()) => {}
            Err(error) if !self.failing => {
                self.failing = true;
                tracing::error!(dir = %self.apps_dir.display(), %error, "cannot read the apps directory; the running contexts stay as they are");
            }
            Err(_) => {}
        }
        let settled_by = deployer.settled_by();
        drop(deployer);
        self.after_look(settled_by);
    }

    /// Plans the next look after one that happened now.
    fn after_look(&mut self, settled_by: Option<std::time::Instant>) {
        self.settled_by = settled_by.map(Instant::from_std);
        self.next_scan = (*self.interval.borrow()).map(|every| Instant::now() + every);
    }

    /// Applies the current interval: inotify on or off, the next periodic look.
    fn configure(&mut self) {
        let interval = *self.interval.borrow_and_update();
        let dir = self.apps_dir.display().to_string();
        let Some(every) = interval else {
            self.inotify = None;
            self.next_scan = None;
            tracing::info!(%dir, "watching the apps directory is off (<deploy-scan-interval-in-millis> 0): SIGHUP looks again");
            return;
        };
        if self.inotify.is_none() {
            self.inotify = inotify(&self.apps_dir, &self.events_tx, every);
        }
        self.next_scan = Some(Instant::now() + every);
        let scan_interval_ms = every.as_millis() as u64;
        tracing::info!(%dir, scan_interval_ms, inotify = self.inotify.is_some(), "watching the apps directory");
    }
}

/// Starts inotify on `apps_dir` and everything under it; `None` (with a warning) when it
/// cannot.
fn inotify(
    apps_dir: &Path,
    events: &mpsc::Sender<()>,
    every: Duration,
) -> Option<RecommendedWatcher> {
    let events = events.clone();
    let started = notify::recommended_watcher(move |event: notify::Result<Event>| {
        if is_change(&event) {
            // Full means a look is already pending; it will see this change too.
            let _ = events.try_send(());
        }
    })
    .and_then(|mut watcher| {
        watcher.watch(apps_dir, RecursiveMode::Recursive)?;
        Ok(watcher)
    });
    match started {
        Ok(watcher) => Some(watcher),
        Err(error) => {
            let every_ms = every.as_millis() as u64;
            tracing::warn!(dir = %apps_dir.display(), %error, every_ms, "cannot watch the apps directory with inotify; relying on the periodic look alone");
            None
        }
    }
}

/// Whether an inotify report may mean a change: anything but a read (opening a file,
/// closing it unwritten). An error or an overflowed queue may hide one, so it counts.
fn is_change(event: &notify::Result<Event>) -> bool {
    match event {
        Err(_) => true,
        Ok(event) if event.need_rescan() => true,
        Ok(event) => match event.kind {
            EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
            EventKind::Access(_) => false,
            _ => true,
        },
    }
}

/// The earlier of two optional moments.
fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Sleeps until `deadline`; for ever without one.
async fn until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Resolves once the stop signal is on (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

#[cfg(test)]
mod tests {
    use notify::event::{CreateKind, ModifyKind};

    use super::*;

    fn event(kind: EventKind) -> notify::Result<Event> {
        Ok(Event::new(kind))
    }

    #[test]
    fn reads_are_not_changes_and_everything_else_is() {
        assert!(!is_change(&event(EventKind::Access(AccessKind::Open(
            AccessMode::Any
        )))));
        assert!(!is_change(&event(EventKind::Access(AccessKind::Close(
            AccessMode::Read
        )))));
        assert!(is_change(&event(EventKind::Access(AccessKind::Close(
            AccessMode::Write
        )))));
        assert!(is_change(&event(EventKind::Create(CreateKind::File))));
        assert!(is_change(&event(EventKind::Modify(ModifyKind::Any))));
        assert!(is_change(&Err(notify::Error::generic("queue overflow"))));
        let overflowed = Event::new(EventKind::Other).set_flag(notify::event::Flag::Rescan);
        assert!(is_change(&Ok(overflowed)));
    }

    #[test]
    fn the_next_wake_is_the_earlier_deadline() {
        let now = Instant::now();
        let later = now + Duration::from_secs(1);
        assert_eq!(earliest(None, None), None);
        assert_eq!(earliest(Some(later), None), Some(later));
        assert_eq!(earliest(None, Some(now)), Some(now));
        assert_eq!(earliest(Some(later), Some(now)), Some(now));
    }
}
