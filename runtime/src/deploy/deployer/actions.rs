//! What an administrator may ask of the deployer, one context at a time (the admin listener's
//! API): a report of every known context, and redeploy, undeploy and deploy by name.
//!
//! Each action looks at the whole apps directory and plans it with `plan::plan`, as a rescan
//! does, so the rules — context-path clashes above all — live in one place; then it carries
//! out only the step for the named context. The other contexts are left to the next rescan.
//!
//! - `redeploy` launches a new version of a running context even when nothing changed; its
//!   redeploy policy applies to the old sessions.
//! - `undeploy` takes a context out of service (404 to new handshakes, 1001 to its sessions)
//!   and *holds* it: rescans (SIGHUP, the watcher) leave its directory alone until `deploy`
//!   releases it, as Tomcat's manager "stop" does.
//! - `deploy` releases the hold and deploys the directory as it is now: a new version when
//!   it changed, nothing when it is the version running.
//!
//! A refused version changes nothing that runs; the action answers with its diagnostics.
//! This module speaks neither HTTP nor JSON: that is the `admin` module's.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::{Deployer, Failure, Leaving, Retiring};
use crate::deploy::plan::{self, Found, Known, Step};
use crate::session::{Closure, Departure};

/// Where a context stands, for an administrator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ContextState {
    /// A version serves new handshakes.
    Running,
    /// Nothing serves new handshakes, but an old version still has sessions.
    Draining,
    /// An administrator undeployed it: rescans leave it alone until it is deployed again.
    Undeployed,
    /// Nothing serves it and the last attempt to deploy it failed.
    Failed,
}

/// One context as an administrator sees it. Plain data, taken under the deployer's lock.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ContextReport {
    /// The directory's name.
    pub(crate) name: String,
    /// The context path of the version serving it (or of the newest one retiring).
    pub(crate) path: Option<String>,
    pub(crate) state: ContextState,
    /// The running version's generation.
    pub(crate) generation: Option<u64>,
    /// The running version's plugin library, as it was when that version was loaded.
    pub(crate) library: Option<LibraryReport>,
    /// The running version's open sessions.
    pub(crate) sessions: usize,
    /// Older versions still closing or draining their sessions.
    pub(crate) retiring: Vec<RetiringReport>,
    /// Held back from rescans by an undeploy.
    pub(crate) held: bool,
    /// Why the newest version was not deployed, if it was not.
    pub(crate) last_error: Option<Failure>,
}

/// A running version's plugin library.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LibraryReport {
    pub(crate) file: PathBuf,
    pub(crate) modified: Option<SystemTime>,
}

/// An old version on its way out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RetiringReport {
    pub(crate) generation: u64,
    pub(crate) sessions: usize,
}

/// Why an action was not carried out, or what it refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ActionError {
    /// No context, and no directory, of that name.
    #[error("there is no context {0:?}")]
    Unknown(String),
    /// The context's directory is not there (any more).
    #[error("there is no context directory {}", .0.display())]
    NoDirectory(PathBuf),
    /// Only a running context can be redeployed.
    #[error("{name} is not running: deploy it instead of redeploying it")]
    NotRunning {
        name: String,
        report: Option<Box<ContextReport>>,
    },
    /// Another context serves the new version's context path; both stay as they were.
    #[error("{} was not deployed: another context serves its context path", .0.name)]
    Clash(Box<ContextReport>),
    /// The new version was refused (its directory has errors, or its plugin failed to load);
    /// what ran before keeps running.
    #[error("{} was not deployed: its new version was refused", .0.name)]
    Refused(Box<ContextReport>),
    /// The apps directory cannot be read.
    #[error("cannot read the apps directory {}: {source}", dir.display())]
    AppsDir {
        dir: PathBuf,
        source: std::io::Error,
    },
}

impl Deployer {
    /// Every known context: running, draining, held back or failed, by name.
    pub(crate) fn reports(&self) -> Vec<ContextReport> {
        let names: BTreeSet<&str> = (self.running.keys().map(String::as_str))
            .chain(self.failures.keys().map(String::as_str))
            .chain(self.held.iter().map(String::as_str))
            .chain(self.retiring.iter().map(|r| r.context.hub().name()))
            .collect();
        names.into_iter().filter_map(|n| self.report(n)).collect()
    }

    /// The context `name`, when it is known.
    pub(crate) fn report(&self, name: &str) -> Option<ContextReport> {
        let running = self.running.get(name);
        let retiring: Vec<RetiringReport> = (self.retiring_of(name))
            .map(|r| RetiringReport {
                generation: r.generation,
                sessions: r.context.hub().sessions().len(),
            })
            .collect();
        let held = self.held.contains(name);
        let last_error = self.failures.get(name).cloned();
        let state = if running.is_some() {
            ContextState::Running
        } else if !retiring.is_empty() {
            ContextState::Draining
        } else if held {
            ContextState::Undeployed
        } else if last_error.is_some() {
            ContextState::Failed
        } else {
            return None;
        };
        let newest_retiring = self.retiring_of(name).last().map(|r| &r.context);
        let serving = running.map(|r| &r.context).or(newest_retiring);
        Some(ContextReport {
            name: name.to_owned(),
            path: serving.map(|context| context.path().to_owned()),
            state,
            generation: running.map(|r| r.generation),
            library: running.map(|r| LibraryReport {
                file: r.known.library.path.clone(),
                modified: r.known.library.modified,
            }),
            sessions: running.map_or(0, |r| r.context.hub().sessions().len()),
            retiring,
            held,
            last_error,
        })
    }

    /// Launches a new version of the running context `name` from its directory, even when
    /// nothing changed.
    pub(crate) async fn redeploy(&mut self, name: &str) -> Result<ContextReport, ActionError> {
        let dir = self.existing_dir(name)?;
        if !self.running.contains_key(name) {
            let report = self.report(name).map(Box::new);
            let name = name.to_owned();
            return Err(ActionError::NotRunning { name, report });
        }
        let (step, found) = self.planned(name)?;
        let step = match (step, found) {
            // A new version even when nothing changed, or only what could change live.
            (Some(Step::Keep { .. } | Step::Retune { .. }), Some(found)) => forced_redeploy(found)
                .unwrap_or(Step::Keep {
                    name: name.to_owned(),
                }),
            (Some(step), _) => step,
            (None, _) => return Err(ActionError::NoDirectory(dir)),
        };
        self.act(name, step, &dir).await
    }

    /// Takes the context `name` out of service and holds it back from rescans until
    /// [`Deployer::deploy`]. A context that is not running is only held back.
    pub(crate) fn undeploy(&mut self, name: &str) -> Result<ContextReport, ActionError> {
        let dir = self.dir_of(name)?;
        if self.report(name).is_none() && !dir.is_dir() {
            return Err(ActionError::Unknown(name.to_owned()));
        }
        self.held.insert(name.to_owned());
        if let Some(old) = self.running.remove(name) {
            tracing::info!(context = %name, generation = old.generation, "undeploying: an administrator asked for it; rescans leave it alone until it is deployed again");
            let leaving = (
                name.to_owned(),
                old,
                Closure::Undeploy,
                Departure::Undeploy,
                None,
            );
            self.settle(vec![leaving]);
        }
        self.report(name)
            .ok_or_else(|| ActionError::Unknown(name.to_owned()))
    }

    /// Releases any hold on `name` and deploys its directory as it is now: a new context, a
    /// new version when it changed, nothing when it is the version running.
    pub(crate) async fn deploy(&mut self, name: &str) -> Result<ContextReport, ActionError> {
        let dir = self.dir_of(name)?;
        if self.held.remove(name) {
            tracing::info!(context = %name, "released: rescans deploy it again");
        }
        if !dir.is_dir() {
            return Err(ActionError::NoDirectory(dir));
        }
        let (step, _) = self.planned(name)?;
        let step = step.ok_or_else(|| ActionError::NoDirectory(dir.clone()))?;
        self.act(name, step, &dir).await
    }

    /// Carries out `step` for `name` and says how it went.
    async fn act(
        &mut self,
        name: &str,
        step: Step,
        dir: &Path,
    ) -> Result<ContextReport, ActionError> {
        match &step {
            Step::Undeploy { .. } => return Err(ActionError::NoDirectory(dir.to_path_buf())),
            Step::Keep { .. }
            | Step::Wait { .. }
            | Step::Deploy { .. }
            | Step::Redeploy { .. }
            | Step::Retune { .. }
            | Step::Refuse { .. } => {}
        }
        let leaving = self.carry_out(step).await;
        self.settle(leaving.into_iter().collect());
        let report = (self.report(name)).ok_or_else(|| ActionError::Unknown(name.to_owned()))?;
        match &report.last_error {
            Some(failure) if failure.clash => Err(ActionError::Clash(Box::new(report))),
            Some(_) => Err(ActionError::Refused(Box::new(report))),
            None => Ok(report),
        }
    }

    /// The plan's step for `name` (with every other directory planned around it, for the
    /// clash rules) and what was found in its directory.
    fn planned(&self, name: &str) -> Result<(Option<Step>, Option<Found>), ActionError> {
        // An administrator's request is acted on as the files are now: nothing waits for them
        // to settle (a directory being written would be refused, with its problems).
        let found =
            (self.look_settled_for(Duration::ZERO)).map_err(|source| ActionError::AppsDir {
                dir: self.apps_dir.clone(),
                source,
            })?;
        let running: BTreeMap<String, Known> = (self.running.iter())
            .map(|(name, running)| (name.clone(), running.known.clone()))
            .collect();
        let step = (plan::plan(&running, &found).into_iter()).find(|step| step_name(step) == name);
        let found = found.into_iter().find(|f| f.name == name);
        Ok((step, found))
    }

    /// Publishes the table, announces what started and retires what left: the end of a
    /// rescan or of an administrator's action.
    pub(super) fn settle(&mut self, leaving: Vec<Leaving>) {
        self.publish();
        for name in std::mem::take(&mut self.unannounced) {
            if let Some(running) = self.running.get(&name) {
                let path = running.context.path();
                tracing::info!(context = %name, generation = running.generation, path, "serving");
            }
        }
        for (name, running, closure, departure, drain) in leaving {
            self.retire(name, running, closure, departure, drain);
        }
        self.retiring.retain(|r| !r.done.is_finished());
    }

    /// The versions of `name` still retiring, oldest first.
    fn retiring_of<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Retiring> + 'a {
        (self.retiring.iter())
            .filter(move |r| !r.done.is_finished() && r.context.hub().name() == name)
    }

    /// Whether `dir` is the directory of a context held back by an undeploy.
    pub(super) fn is_held(&self, dir: &Path) -> bool {
        (dir.file_name().and_then(|n| n.to_str())).is_some_and(|name| self.held.contains(name))
    }

    /// Where the context `name` lives; `Unknown` for a name no context directory can have.
    fn dir_of(&self, name: &str) -> Result<PathBuf, ActionError> {
        if is_context_name(name) {
            Ok(self.apps_dir.join(name))
        } else {
            Err(ActionError::Unknown(name.to_owned()))
        }
    }

    /// The directory of `name`, which must exist.
    fn existing_dir(&self, name: &str) -> Result<PathBuf, ActionError> {
        let dir = self.dir_of(name)?;
        if dir.is_dir() {
            Ok(dir)
        } else if self.report(name).is_some() {
            Err(ActionError::NoDirectory(dir))
        } else {
            Err(ActionError::Unknown(name.to_owned()))
        }
    }
}

/// A redeploy of what `found` holds, which the plan would keep.
fn forced_redeploy(found: Found) -> Option<Step> {
    Some(Step::Redeploy {
        app: found.app?,
        library: found.library?,
        because: "an administrator asked for it".to_owned(),
    })
}

/// The context a step is about.
fn step_name(step: &Step) -> String {
    match step {
        Step::Deploy { app, .. } | Step::Redeploy { app, .. } | Step::Retune { app, .. } => {
            plan::app_name(app)
        }
        Step::Undeploy { name }
        | Step::Refuse { name, .. }
        | Step::Keep { name }
        | Step::Wait { name } => name.clone(),
    }
}

/// Whether `name` can be a context directory's name under the apps directory: one path
/// component, not hidden (the scanner skips hidden directories), no NUL.
fn is_context_name(name: &str) -> bool {
    !name.is_empty() && !name.starts_with('.') && !name.contains(['/', '\0'])
}

#[cfg(test)]
mod tests;
