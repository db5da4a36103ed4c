//! `berth run`: load the server configuration, find the web contexts and serve them.
//!
//! The configuration is `--conf` when given, else `conf/server.xml` when it exists, else the
//! defaults with the working directory as the server home. `--listen` and `--apps` override
//! the file. A context with errors is reported and skipped; the others still deploy.
//! SIGTERM and SIGINT stop the container gracefully (every session closed with 1001 and its
//! `on_close` run, within the configured grace period) and the process exits 0. SIGHUP does
//! the same, with a warning, until live redeployment gives it a meaning of its own. An
//! enabled `<admin>` is warned about: nothing serves the admin listener yet.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::config::server::{self, ServerConfig};
use crate::config::{Diagnostic, Severity};
use crate::container::{Container, StartError};
use crate::deploy::scanner::{self, AppCandidate};

/// What `berth run` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// The server configuration file.
    pub conf: Option<PathBuf>,
    /// Overrides `<listen>`.
    pub listen: Option<SocketAddr>,
    /// Overrides `<apps-dir>` (relative to the working directory).
    pub apps: Option<PathBuf>,
}

/// Why the container could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The server configuration has errors (already logged one by one).
    #[error("{file}: the server configuration has {count} error(s)")]
    Config {
        /// The file.
        file: PathBuf,
        /// How many errors.
        count: usize,
    },
    /// The async runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    /// The listener could not start.
    #[error(transparent)]
    Start(#[from] StartError),
    /// The apps directory cannot be read.
    #[error("cannot read the apps directory {dir}: {source}")]
    AppsDir {
        /// The directory.
        dir: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Loads the configuration the way `berth run` does, applying the command-line overrides.
pub fn effective_config(options: &RunOptions) -> Result<ServerConfig, RunError> {
    let default_path = Path::new(server::DEFAULT_PATH);
    let file = options
        .conf
        .as_deref()
        .or(default_path.is_file().then_some(default_path));
    let mut config = match file {
        Some(file) => load_server(file)?,
        None => ServerConfig::defaults(Path::new(".")),
    };
    if let Some(listen) = options.listen {
        config.listen = listen;
    }
    if let Some(apps) = &options.apps {
        config.apps_dir = apps.clone();
    }
    Ok(config)
}

fn load_server(file: &Path) -> Result<ServerConfig, RunError> {
    let parsed = server::load(file);
    log_diagnostics(&parsed.diagnostics);
    let count = parsed.diagnostics.iter().filter(|d| d.is_error()).count();
    parsed
        .value
        .map(|f| f.config)
        .ok_or_else(|| RunError::Config {
            file: file.to_path_buf(),
            count,
        })
}

/// Finds every deployable context, logging the ones that are refused and why.
pub fn deployable_apps(config: &ServerConfig) -> Result<Vec<AppCandidate>, RunError> {
    let reports = scanner::scan_apps(&config.apps_dir).map_err(|source| RunError::AppsDir {
        dir: config.apps_dir.clone(),
        source,
    })?;
    let mut apps = Vec::new();
    for report in reports {
        log_diagnostics(&report.diagnostics);
        match report.app {
            Some(app) => apps.push(app),
            None => tracing::error!(dir = %report.dir.display(), "context not deployed"),
        }
    }
    Ok(apps)
}

/// Runs the container until SIGTERM, SIGINT or SIGHUP, then shuts it down within the grace
/// period.
pub fn run(options: &RunOptions) -> Result<(), RunError> {
    let config = effective_config(options)?;
    warn_unserved_admin(&config);
    log_open_files_limit();
    let apps = deployable_apps(&config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("berth-io")
        .build()
        .map_err(RunError::Runtime)?;
    runtime.block_on(serve(&config, &apps))
}

async fn serve(config: &ServerConfig, apps: &[AppCandidate]) -> Result<(), RunError> {
    // Installed before deploying: a signal during start-up stops the server once it is up.
    let signals = StopSignals::install();
    let container = Container::start(config, apps).await?;
    let signal = wait_for_signal(signals).await;
    tracing::info!(signal, "shutting down");
    container.shutdown(config.shutdown_grace).await;
    tracing::info!("stopped");
    Ok(())
}

fn warn_unserved_admin(config: &ServerConfig) {
    if let Some(admin) = config.admin {
        tracing::warn!(
            addr = %admin,
            "<admin> is enabled, but this version of Berth does not serve the admin listener yet: nothing listens on {admin}"
        );
    }
}

fn log_open_files_limit() {
    match crate::limits::raise_open_files() {
        Ok(limit) if limit.was < limit.now => {
            tracing::info!(from = limit.was, to = limit.now, "open files limit raised");
        }
        Ok(limit) => tracing::info!(limit = limit.now, "open files limit"),
        Err(error) => tracing::warn!(%error, "cannot raise the open files limit"),
    }
}

/// The signals that stop the server gracefully. SIGHUP's default action would end the
/// process without closing a single session.
#[derive(Debug)]
struct StopSignals {
    terminate: Signal,
    interrupt: Signal,
    hangup: Signal,
}

impl StopSignals {
    fn install() -> std::io::Result<StopSignals> {
        Ok(StopSignals {
            terminate: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
            hangup: signal(SignalKind::hangup())?,
        })
    }
}

async fn wait_for_signal(signals: std::io::Result<StopSignals>) -> &'static str {
    let mut signals = match signals {
        Ok(signals) => signals,
        Err(error) => {
            // Without signal handlers the process still stops on the default action.
            tracing::warn!(%error, "cannot handle signals; they end the process at once");
            std::future::pending::<()>().await;
            return "none";
        }
    };
    tokio::select! {
        _ = signals.terminate.recv() => "SIGTERM",
        _ = signals.interrupt.recv() => "SIGINT",
        _ = signals.hangup.recv() => {
            tracing::warn!(
                "SIGHUP: Berth does not reload yet, so it stops as on SIGTERM (every session closed with 1001)"
            );
            "SIGHUP"
        }
    }
}

fn log_diagnostics(diagnostics: &[Diagnostic]) {
    for diagnostic in diagnostics {
        match diagnostic.severity {
            Severity::Error => tracing::error!("{diagnostic}"),
            Severity::Warning => tracing::warn!("{diagnostic}"),
        }
    }
}
