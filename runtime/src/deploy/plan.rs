//! What a rescan of the apps directory should change: the running contexts and a fresh look
//! at every context directory in, the steps out (deploy, redeploy, undeploy, refuse, keep).
//! Pure: no files, no plugins, no clocks; `deployer` carries the steps out.
//!
//! - A new, valid directory is deployed — unless its context path is served by a context that
//!   stays, which always keeps it (first come, first served; both stay as they were).
//! - A running context whose directory is now invalid keeps running; the problems are its
//!   last error. A directory that was never valid stays undeployed with its problems.
//! - A running context whose plugin library changed (another file, or the same file
//!   rewritten), whose context path changed, or one of whose descriptor settings that cannot
//!   change live changed is redeployed; `because` names what forced it.
//! - A running context whose descriptor changed only in settings that can change live
//!   ([`is_live`]) is retuned: the changes are listed, old and new value.
//! - A running context whose directory is gone is undeployed. A renamed directory is one
//!   undeploy and one deploy.
//! - A directory whose files are still changing (not settled, see `settle`) waits: what runs
//!   keeps running unchanged (and keeps its context path), a new one is neither deployed nor
//!   refused, any earlier refusal stands. Only its disappearance is acted on.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use crate::config::Diagnostic;
use crate::config::EffectiveRow;
use crate::deploy::scanner::AppCandidate;

/// Which file a plugin library is, and which version of it: a replaced or rewritten file
/// differs in one of these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LibraryId {
    pub(crate) path: PathBuf,
    pub(crate) inode: u64,
    pub(crate) len: u64,
    pub(crate) modified: Option<SystemTime>,
}

impl LibraryId {
    /// The identity of the file at `path` now; `None` when it cannot be read.
    pub(crate) fn of(path: &std::path::Path) -> Option<LibraryId> {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(path).ok()?;
        Some(LibraryId {
            path: path.to_path_buf(),
            inode: meta.ino(),
            len: meta.len(),
            modified: meta.modified().ok(),
        })
    }
}

/// A context directory as a rescan found it.
#[derive(Debug, Clone)]
pub(crate) struct Found {
    /// The directory's name: the context's name.
    pub(crate) name: String,
    /// The deployable context, when the directory has no error.
    pub(crate) app: Option<AppCandidate>,
    /// Its library's identity, when it has one.
    pub(crate) library: Option<LibraryId>,
    /// Every problem found.
    pub(crate) diagnostics: Vec<Diagnostic>,
    /// How much longer its files must stay unchanged before it is acted on; `None` once
    /// they have settled.
    pub(crate) unsettled: Option<Duration>,
}

/// A running context, as the plan compares it.
#[derive(Debug, Clone)]
pub(crate) struct Known {
    pub(crate) app: AppCandidate,
    pub(crate) library: LibraryId,
}

/// One thing to do.
#[derive(Debug, Clone)]
pub(crate) enum Step {
    /// Deploy a new context.
    Deploy {
        app: AppCandidate,
        library: LibraryId,
    },
    /// Apply changed settings to a running context and its open sessions.
    Retune {
        app: AppCandidate,
        changes: Vec<SettingChange>,
    },
    /// Replace a running context by a new version of it.
    Redeploy {
        app: AppCandidate,
        library: LibraryId,
        because: String,
    },
    /// Stop a running context whose directory is gone.
    Undeploy { name: String },
    /// A new version (or a new context) that cannot be deployed; what runs stays.
    Refuse {
        name: String,
        diagnostics: Vec<Diagnostic>,
        /// Refused because another context serves its context path (rather than because
        /// its directory has errors).
        clash: bool,
    },
    /// Nothing changed.
    Keep { name: String },
    /// Its files are still changing: left alone this time, whatever they hold.
    Wait { name: String },
}

/// The steps that take the `running` contexts to what `found` describes.
pub(crate) fn plan(running: &BTreeMap<String, Known>, found: &[Found]) -> Vec<Step> {
    let mut steps: Vec<Step> = found
        .iter()
        .map(|f| step_for(running.get(&f.name), f))
        .collect();
    let present: BTreeSet<&str> = found.iter().map(|f| f.name.as_str()).collect();
    steps.extend(
        (running.keys())
            .filter(|name| !present.contains(name.as_str()))
            .map(|name| Step::Undeploy { name: name.clone() }),
    );
    refuse_clashes(running, &mut steps);
    steps
}

fn step_for(known: Option<&Known>, found: &Found) -> Step {
    let name = found.name.clone();
    if found.unsettled.is_some() {
        return Step::Wait { name };
    }
    let (Some(app), Some(library)) = (&found.app, &found.library) else {
        return Step::Refuse {
            name,
            diagnostics: found.diagnostics.clone(),
            clash: false,
        };
    };
    let Some(known) = known else {
        return Step::Deploy {
            app: app.clone(),
            library: library.clone(),
        };
    };
    match change(known, app, library) {
        Some(Change::Fixed(because)) => Step::Redeploy {
            app: app.clone(),
            library: library.clone(),
            because,
        },
        Some(Change::Live(changes)) => Step::Retune {
            app: app.clone(),
            changes,
        },
        None => Step::Keep { name },
    }
}

/// What changed in a running context, if anything.
enum Change {
    /// Only settings that can change live.
    Live(Vec<SettingChange>),
    /// Something that needs a new version; the words say what.
    Fixed(String),
}

fn change(known: &Known, app: &AppCandidate, library: &LibraryId) -> Option<Change> {
    if known.library.path != library.path {
        let path = library.path.display();
        return Some(Change::Fixed(format!("the plugin library is now {path}")));
    }
    if known.library != *library {
        let path = library.path.display();
        return Some(Change::Fixed(format!("the plugin library {path} changed")));
    }
    if known.app.context_path != app.context_path {
        return Some(Change::Fixed(format!(
            "<context-path> changed from {} to {}",
            known.app.context_path, app.context_path
        )));
    }
    if known.app.settings == app.settings {
        return None;
    }
    let changes = changed_settings(&known.app.effective, &app.effective);
    if let Some(fixed) = changes.iter().find(|c| !is_live(&c.element)) {
        return Some(Change::Fixed(format!(
            "<{}> changed ({fixed}), which cannot change live",
            fixed.element
        )));
    }
    if changes.is_empty() {
        // The settings differ in something the effective rows do not show: be safe.
        return Some(Change::Fixed("the descriptor changed".to_owned()));
    }
    Some(Change::Live(changes))
}

/// One descriptor setting that differs between two versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SettingChange {
    /// Its element path, as `berth check --effective` prints it.
    pub(crate) element: String,
    /// Its value before, if it had one.
    pub(crate) old: Option<String>,
    /// Its value now, if it has one.
    pub(crate) new: Option<String>,
}

impl std::fmt::Display for SettingChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = |value: &Option<String>| value.clone().unwrap_or_else(|| "(none)".into());
        write!(f, "{} → {}", shown(&self.old), shown(&self.new))
    }
}

/// Every setting whose effective value differs, by element path (where a value comes from
/// does not matter: a default written out is no change).
fn changed_settings(old: &[EffectiveRow], new: &[EffectiveRow]) -> Vec<SettingChange> {
    let values = |rows: &[EffectiveRow]| -> BTreeMap<String, String> {
        (rows.iter())
            .map(|row| (row.path.clone(), row.value.clone()))
            .collect()
    };
    let (old, new) = (values(old), values(new));
    let elements: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    (elements.into_iter())
        .filter(|element| old.get(*element) != new.get(*element))
        .map(|element| SettingChange {
            element: element.clone(),
            old: old.get(element).cloned(),
            new: new.get(element).cloned(),
        })
        .collect()
}

/// The descriptor elements a running context and its open sessions take live (see
/// `Hub::retune`); a change of any other needs a new version.
const LIVE_ELEMENTS: &[&str] = &[
    "websocket/max-incoming-text-message-buffer-size",
    "websocket/max-incoming-binary-message-buffer-size",
    "websocket/max-session-idle-timeout-in-millis",
    "websocket/monitoring-period-in-millis",
    "websocket/idle-counts-control-frames",
    "websocket/blocking-send-timeout-in-millis",
    "websocket/async-send-timeout-in-millis",
    "websocket/websocket-executor/min",
    "websocket/websocket-executor/max",
    "websocket/websocket-executor/keep-alive-time",
    "websocket/websocket-executor/queue-size",
    "websocket/batching-buffer-size",
    "websocket/ping-interval-in-millis",
    "websocket/pong-timeout-in-millis",
    "websocket/allowed-origins",
    "websocket/max-sessions",
    "websocket/permessage-deflate",
    "websocket/redeploy-policy",
    "websocket/drain-timeout-in-millis",
];

/// Whether a change of `element` (an effective row's path) can be taken live.
pub(crate) fn is_live(element: &str) -> bool {
    LIVE_ELEMENTS.contains(&element)
}

/// A deploy (or a redeploy to a new path) that claims a path a context that stays already
/// serves is refused: the one serving keeps it.
fn refuse_clashes(running: &BTreeMap<String, Known>, steps: &mut [Step]) {
    let mut served: BTreeMap<String, String> = BTreeMap::new();
    for step in steps.iter() {
        let keeps = match step {
            Step::Keep { name } | Step::Wait { name } | Step::Refuse { name, .. } => {
                running.get(name)
            }
            Step::Retune { app, .. } => running.get(&app_name(app)),
            Step::Redeploy { app, .. } => running
                .get(&app_name(app))
                .filter(|known| known.app.context_path == app.context_path),
            Step::Deploy { .. } | Step::Undeploy { .. } => None,
        };
        if let Some(known) = keeps {
            served.insert(known.app.context_path.clone(), app_name(&known.app));
        }
    }
    for step in steps.iter_mut() {
        let (Step::Deploy { app, .. } | Step::Redeploy { app, .. }) = step else {
            continue;
        };
        let name = app_name(app);
        match served.get(&app.context_path) {
            Some(owner) if *owner != name => {
                let message = format!(
                    "context path {} is already served by {owner}; this context is not deployed",
                    app.context_path
                );
                *step = Step::Refuse {
                    name,
                    diagnostics: vec![Diagnostic::about(
                        &app.dir,
                        crate::config::Severity::Error,
                        message,
                    )],
                    clash: true,
                };
            }
            _ => {
                served.insert(app.context_path.clone(), name);
            }
        }
    }
}

/// A context's name: its directory's.
pub(crate) fn app_name(app: &AppCandidate) -> String {
    app.dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("context")
        .to_owned()
}

#[cfg(test)]
mod tests;
