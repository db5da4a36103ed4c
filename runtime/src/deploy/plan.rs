//! What a rescan of the apps directory should change: the running contexts and a fresh look
//! at every context directory in, the steps out (deploy, redeploy, undeploy, refuse, keep).
//! Pure: no files, no plugins, no clocks; `deployer` carries the steps out.
//!
//! - A new, valid directory is deployed — unless its context path is served by a context that
//!   stays, which always keeps it (first come, first served; both stay as they were).
//! - A running context whose directory is now invalid keeps running; the problems are its
//!   last error. A directory that was never valid stays undeployed with its problems.
//! - A running context whose plugin library changed (another file, or the same file
//!   rewritten), whose context path changed, or whose descriptor changed is redeployed;
//!   `because` names what forced it.
//! - A running context whose directory is gone is undeployed. A renamed directory is one
//!   undeploy and one deploy.
//! - A directory whose files are still changing (not settled, see `settle`) waits: what runs
//!   keeps running unchanged (and keeps its context path), a new one is neither deployed nor
//!   refused, any earlier refusal stands. Only its disappearance is acted on.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use crate::config::Diagnostic;
use crate::config::descriptor::ContextSettings;
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
        Some(because) => Step::Redeploy {
            app: app.clone(),
            library: library.clone(),
            because,
        },
        None => Step::Keep { name },
    }
}

/// What forces a new version, if anything.
fn change(known: &Known, app: &AppCandidate, library: &LibraryId) -> Option<String> {
    if known.library.path != library.path {
        return Some(format!(
            "the plugin library is now {}",
            library.path.display()
        ));
    }
    if known.library != *library {
        return Some(format!(
            "the plugin library {} changed",
            library.path.display()
        ));
    }
    if known.app.context_path != app.context_path {
        return Some(format!(
            "<context-path> changed from {} to {}",
            known.app.context_path, app.context_path
        ));
    }
    changed_element(&known.app.settings, &app.settings)
        .map(|element| format!("<{element}> changed"))
}

/// The first descriptor element whose setting differs, if any.
fn changed_element(old: &ContextSettings, new: &ContextSettings) -> Option<&'static str> {
    let checks: [(&'static str, bool); 15] = [
        ("init-param", old.init_params != new.init_params),
        (
            "endpoint-library",
            old.endpoint_library != new.endpoint_library,
        ),
        (
            "permessage-deflate",
            old.permessage_deflate != new.permessage_deflate,
        ),
        (
            "max-incoming-*-message-buffer-size",
            old.limits != new.limits,
        ),
        (
            "max-session-idle-timeout-in-millis / monitoring-period-in-millis",
            old.idle != new.idle,
        ),
        ("*-send-timeout-in-millis", old.send != new.send),
        ("websocket-executor", old.executor != new.executor),
        (
            "distributed-userProperties",
            old.distributed != new.distributed,
        ),
        (
            "batching-buffer-size",
            old.batching_buffer_size != new.batching_buffer_size,
        ),
        (
            "websocket-timeout-min-threads",
            old.timeout_min_threads != new.timeout_min_threads,
        ),
        (
            "ping-interval-in-millis / pong-timeout-in-millis",
            old.keepalive != new.keepalive,
        ),
        (
            "allowed-origins",
            old.allowed_origins != new.allowed_origins,
        ),
        ("max-sessions", old.max_sessions != new.max_sessions),
        (
            "redeploy-policy / drain-timeout-in-millis",
            old.redeploy != new.redeploy,
        ),
        ("context-path", old.context_path != new.context_path),
    ];
    checks
        .into_iter()
        .find_map(|(element, differs)| differs.then_some(element))
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
