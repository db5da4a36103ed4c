//! The running contexts and their changes: a rescan of the apps directory, planned by `plan`,
//! carried out here.
//!
//! A descriptor that changed only in settings that can change live is applied to the running
//! version and its open sessions (`Hub::retune`), one log line per setting; nothing closes.
//! A new version is launched (loaded, probed, its `on_deploy` run) *before* anything happens
//! to the old one; then one atomic store of the context table (an `ArcSwap` the listener
//! loads per request, never a lock) sends new handshakes to it. What it replaces is retired in
//! the background, so a long drain never holds up other deployments: old sessions get 1012
//! at once (`close`) or when they end or the drain timeout passes (`drain`); after the last
//! `on_close` the old plugin's `on_undeploy` runs and its pool stops. An undeployed context
//! leaves the table first (404), then its sessions get 1001. A version that cannot be
//! deployed changes nothing; its problems are kept as the context's last error and logged
//! once, until its directory is valid again or is the version running. A version that failed
//! to launch is not launched again by a rescan until its files change: every launch loads
//! its library anew, and libraries are never unloaded. Each launch of a context is a new
//! generation. A directory whose files are still changing is left alone until they have
//! settled (`settle`); [`Deployer::settled_by`] says when the next look should happen for it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwap;

use super::launch::launch;
use super::plan::{self, Found, Known, LibraryId, SettingChange, Step};
use super::scanner::{self, AppCandidate};
use super::settle::Settling;
use crate::config::descriptor::{ContextSettings, RedeployPolicy};
use crate::config::{Diagnostic, Severity};
use crate::context::Context;
use crate::http::route::ContextTable;
use crate::http::server::SharedTable as Table;
use crate::plugin::Prober;
use crate::session::{Closure, Departure};

pub(crate) mod actions;

/// How long retiring a version may wait for its sessions' `on_close`, and then for its
/// `on_undeploy`.
const RETIRE_BOUND: Duration = Duration::from_secs(30);

/// A context being served.
#[derive(Debug)]
struct Running {
    known: Known,
    context: Arc<Context>,
    generation: u64,
}

/// A version on its way out.
#[derive(Debug)]
struct Retiring {
    context: Arc<Context>,
    generation: u64,
    done: tokio::task::JoinHandle<()>,
}

/// The deployment state of every context, and the table the listener serves from.
#[derive(Debug)]
pub(crate) struct Deployer {
    apps_dir: PathBuf,
    prober: Prober,
    table: Table,
    running: BTreeMap<String, Running>,
    retiring: Vec<Retiring>,
    /// The last problems of each context whose newest version could not be deployed.
    failures: BTreeMap<String, Failure>,
    generation: u64,
    /// Contexts started since the last publication: "serving" is logged once they are.
    unannounced: Vec<String>,
    /// Contexts an administrator undeployed: rescans leave them alone until deployed again.
    held: BTreeSet<String>,
    /// How long a directory's files must have been unchanged before it is acted on.
    settle_time: Duration,
    /// When the directories the last look left alone will have settled.
    settled_by: Option<Instant>,
}

impl Deployer {
    /// A deployer of the contexts under `apps_dir`, serving nothing yet.
    pub(crate) fn new(apps_dir: &Path, prober: Prober) -> Deployer {
        Deployer {
            apps_dir: apps_dir.to_path_buf(),
            prober,
            table: Arc::new(ArcSwap::from_pointee(ContextTable::default())),
            running: BTreeMap::new(),
            retiring: Vec::new(),
            failures: BTreeMap::new(),
            generation: 0,
            unannounced: Vec::new(),
            held: BTreeSet::new(),
            settle_time: Duration::ZERO,
            settled_by: None,
        }
    }

    /// From the next look on, a directory is acted on once its files have been unchanged
    /// for `settle_time` (zero, the default: at once).
    pub(crate) fn set_settle_time(&mut self, settle_time: Duration) {
        self.settle_time = settle_time;
    }

    /// When the directories the last look left alone (their files were still changing)
    /// will have settled; `None` when it left none alone.
    pub(crate) fn settled_by(&self) -> Option<Instant> {
        self.settled_by
    }

    /// The table the listener serves from.
    pub(crate) fn table(&self) -> Table {
        Arc::clone(&self.table)
    }

    /// Looks at the apps directory again and deploys, redeploys and undeploys what changed.
    pub(crate) async fn rescan(&mut self) -> std::io::Result<()> {
        let found = self.look()?;
        let unsettled = found.iter().filter_map(|found| found.unsettled).min();
        self.settled_by = unsettled.map(|left| Instant::now() + left);
        let running: BTreeMap<String, Known> = (self.running.iter())
            .map(|(name, running)| (name.clone(), running.known.clone()))
            .collect();
        let mut leaving = Vec::new();
        for step in plan::plan(&running, &found) {
            // Loading the very files whose launch failed would fail again, and leave one
            // more copy of the library loaded for good.
            if self.failed_before(&step) {
                continue;
            }
            if let Some(retire) = self.carry_out(step).await {
                leaving.push(retire);
            }
        }
        self.settle(leaving);
        Ok(())
    }

    /// Every context directory as it is now, but those an undeploy holds back.
    fn look(&self) -> std::io::Result<Vec<Found>> {
        self.look_settled_for(self.settle_time)
    }

    /// Every context directory as it is now, but those an undeploy holds back; a directory
    /// changed within `settle_time` waits.
    fn look_settled_for(&self, settle_time: Duration) -> std::io::Result<Vec<Found>> {
        let dirs = scanner::context_dirs(&self.apps_dir)?;
        let settling = Settling::new(settle_time, SystemTime::now());
        let looked_at = dirs.iter().filter(|dir| !self.is_held(dir));
        Ok(looked_at.map(|dir| found(dir, &settling)).collect())
    }

    /// Carries one step out; returns what must be retired once the new table is published.
    async fn carry_out(&mut self, step: Step) -> Option<Leaving> {
        match step {
            // The directory is the version running again: an older refusal no longer holds.
            Step::Keep { name } => {
                self.failures.remove(&name);
                None
            }
            // Still being written: what runs and what was refused stay as they are.
            Step::Wait { .. } => None,
            Step::Retune { app, changes } => {
                self.retune(app, &changes);
                None
            }
            Step::Deploy { app, library } => {
                let name = plan::app_name(&app);
                let context = self.launch(&name, &app, &library, "deploy").await?;
                self.start(name, app, library, context);
                None
            }
            Step::Redeploy {
                app,
                library,
                because,
            } => {
                let name = plan::app_name(&app);
                tracing::info!(context = %name, "redeploying: {because}");
                let context = self.launch(&name, &app, &library, "redeploy").await?;
                let drain = match app.settings.redeploy {
                    RedeployPolicy::Close => None,
                    RedeployPolicy::Drain { timeout } => Some(timeout),
                };
                let old = self.start(name.clone(), app, library, context)?;
                Some((name, old, Closure::Redeploy, Departure::Redeploy, drain))
            }
            Step::Undeploy { name } => {
                self.failures.remove(&name);
                let old = self.running.remove(&name)?;
                tracing::info!(context = %name, generation = old.generation, "undeploying: its directory is gone");
                Some((name, old, Closure::Undeploy, Departure::Undeploy, None))
            }
            Step::Refuse {
                name,
                diagnostics,
                clash,
            } => {
                let attempt = None;
                self.failed(
                    &name,
                    Failure {
                        diagnostics,
                        clash,
                        attempt,
                    },
                );
                None
            }
        }
    }

    /// Applies a descriptor's live changes to the running context and its open sessions.
    fn retune(&mut self, app: AppCandidate, changes: &[SettingChange]) {
        let name = plan::app_name(&app);
        let Some(running) = self.running.get_mut(&name) else {
            return;
        };
        running.context.hub().retune(app.settings.clone());
        for change in changes {
            let element = &change.element;
            tracing::info!(context = %name, generation = running.generation, "setting changed live: {element}: {change}");
        }
        running.known.app = app;
        self.failures.remove(&name);
    }

    /// Whether `step` would launch exactly the files whose launch failed last time.
    fn failed_before(&self, step: &Step) -> bool {
        let (Step::Deploy { app, library } | Step::Redeploy { app, library, .. }) = step else {
            return false;
        };
        let failure = self.failures.get(&plan::app_name(app));
        failure.and_then(|f| f.attempt.as_ref()) == Some(&Attempt::of(app, library))
    }

    /// Launches `app` off the I/O threads; `None` (recorded) when it cannot be deployed.
    async fn launch(
        &mut self,
        name: &str,
        app: &AppCandidate,
        library: &LibraryId,
        what: &str,
    ) -> Option<Arc<Context>> {
        let attempt = Some(Attempt::of(app, library));
        let (app, prober) = (app.clone(), self.prober.clone());
        let dir = app.dir.clone();
        let launched = tokio::task::spawn_blocking(move || launch(&app, &prober)).await;
        let message = match launched {
            Ok(Ok(context)) => return Some(context),
            Ok(Err(error)) => format!("{what} refused: {error}"),
            Err(error) => format!("{what} failed: {error}"),
        };
        let diagnostics = vec![Diagnostic::about(&dir, Severity::Error, message)];
        let clash = false;
        self.failed(
            name,
            Failure {
                diagnostics,
                clash,
                attempt,
            },
        );
        None
    }

    /// Serves `context` under `name` from the next publication; returns the version it
    /// replaces.
    fn start(
        &mut self,
        name: String,
        app: AppCandidate,
        library: LibraryId,
        context: Arc<Context>,
    ) -> Option<Running> {
        self.generation += 1;
        self.failures.remove(&name);
        self.unannounced.push(name.clone());
        let running = Running {
            known: Known { app, library },
            context,
            generation: self.generation,
        };
        self.running.insert(name, running)
    }

    /// Records why the newest version of `name` is not served; logs it when it is new.
    fn failed(&mut self, name: &str, failure: Failure) {
        if self.failures.get(name) == Some(&failure) {
            return;
        }
        let serving = self.running.contains_key(name);
        for diagnostic in &failure.diagnostics {
            tracing::error!(context = %name, serving, "context not deployed: {diagnostic}");
        }
        self.failures.insert(name.to_owned(), failure);
    }

    /// Stores the table of every running context: one atomic switch.
    fn publish(&self) {
        let contexts = (self.running.values())
            .map(|r| (r.context.path().to_owned(), Arc::clone(&r.context)))
            .collect();
        self.table.store(Arc::new(ContextTable::new(contexts)));
    }

    /// Takes a replaced or undeployed version out of service in the background.
    fn retire(
        &mut self,
        name: String,
        old: Running,
        closure: Closure,
        departure: Departure,
        drain: Option<Duration>,
    ) {
        let context = Arc::clone(&old.context);
        let done = tokio::spawn(retire(context, closure, departure, drain));
        tracing::info!(context = %name, generation = old.generation, "retiring");
        self.retiring.push(Retiring {
            context: old.context,
            generation: old.generation,
            done,
        });
    }

    /// The running versions.
    pub(crate) fn running(&self) -> impl Iterator<Item = &Arc<Context>> {
        self.running.values().map(|r| &r.context)
    }

    /// Every context still serving sessions: running and retiring versions.
    pub(crate) fn contexts(&self) -> impl Iterator<Item = &Arc<Context>> {
        (self.running.values().map(|r| &r.context)).chain(self.retiring.iter().map(|r| &r.context))
    }
}

/// Why the newest version of a context is not served.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Failure {
    /// Every problem, positioned where it has a position.
    pub(crate) diagnostics: Vec<Diagnostic>,
    /// Another context serves its context path.
    pub(crate) clash: bool,
    /// The files of a version that failed to launch (rather than being refused unlaunched).
    pub(crate) attempt: Option<Attempt>,
}

/// What a launch was tried with: when these are unchanged, so is the outcome.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Attempt {
    library: LibraryId,
    context_path: String,
    settings: ContextSettings,
}

impl Attempt {
    fn of(app: &AppCandidate, library: &LibraryId) -> Attempt {
        Attempt {
            library: library.clone(),
            context_path: app.context_path.clone(),
            settings: app.settings.clone(),
        }
    }
}

/// What a step leaves to retire: the name, the old version, how its sessions are closed,
/// what `on_undeploy` is told, and the drain time.
type Leaving = (String, Running, Closure, Departure, Option<Duration>);

/// A context directory as it is now; one still changing is not read.
fn found(dir: &Path, settling: &Settling) -> Found {
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("context")
        .to_owned();
    let unsettled = settling.unsettled(dir);
    if unsettled.is_some() {
        return Found {
            name,
            app: None,
            library: None,
            diagnostics: Vec::new(),
            unsettled,
        };
    }
    let report = scanner::inspect_app(dir);
    let library = report.library.as_deref().and_then(LibraryId::of);
    let mut diagnostics = report.diagnostics;
    if report.app.is_some() && library.is_none() {
        let message = "the plugin library cannot be read";
        diagnostics.push(Diagnostic::about(dir, Severity::Error, message));
    }
    Found {
        name,
        app: report.app,
        library,
        diagnostics: diagnostics.into_iter().filter(|d| d.is_error()).collect(),
        unsettled,
    }
}

/// Closes a version's sessions as `closure` says (after they had `drain` to end on their
/// own), waits for their `on_close`, runs `on_undeploy`, stops the pool.
async fn retire(
    context: Arc<Context>,
    closure: Closure,
    departure: Departure,
    drain: Option<Duration>,
) {
    let hub = Arc::clone(context.hub());
    let sessions = hub.sessions();
    if let Some(drain) = drain {
        let _ = tokio::time::timeout(drain, sessions.emptied()).await;
    }
    for session in sessions.all() {
        session.close(closure.clone());
    }
    if tokio::time::timeout(RETIRE_BOUND, sessions.emptied())
        .await
        .is_err()
    {
        tracing::warn!(context = %hub.name(), sessions = sessions.len(), "retiring: sessions left without on_close");
    }
    if let Err(error) = context.departed(departure, RETIRE_BOUND).await {
        tracing::warn!(context = %hub.name(), "on_undeploy: {error}");
    }
    let pool = Arc::clone(&hub);
    let _ = tokio::task::spawn_blocking(move || pool.executor().shutdown(RETIRE_BOUND)).await;
    tracing::info!(context = %hub.name(), ?departure, "retired");
}
