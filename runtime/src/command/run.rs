//! `berth run`: load the server configuration, find the web contexts and serve them.
//!
//! The configuration is `--conf` when given, else `conf/server.xml` when it exists, else the
//! defaults with the working directory as the server home. `--listen` and `--apps` override
//! the file. A context with errors is reported and skipped; the others still deploy.
//! SIGTERM and SIGINT stop the container gracefully (every session closed with 1001 and its
//! `on_close` run, within the configured grace period) and the process exits 0. SIGHUP reads
//! the configuration again (`reload`: what can change while the server runs is applied, the
//! rest is reported as needing a restart) and makes the container look at the apps directory
//! again at once. An enabled `<admin>` is served by the container (`berth status` reads it).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use tokio::signal::unix::{SignalKind, signal};

use crate::config::server::{self, ServerConfig};
use crate::config::{Diagnostic, Severity};
use crate::container::{Container, StartError};

use super::reload;

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
}

/// Loads the configuration the way `berth run` does, applying the command-line overrides.
pub fn effective_config(options: &RunOptions) -> Result<ServerConfig, RunError> {
    file_config(options).map(|config| overridden(config, options))
}

/// The configuration as the file says (every default without a file), before the
/// command-line overrides; its problems are logged.
pub(super) fn file_config(options: &RunOptions) -> Result<ServerConfig, RunError> {
    let default_path = Path::new(server::DEFAULT_PATH);
    let file = options
        .conf
        .as_deref()
        .or(default_path.is_file().then_some(default_path));
    match file {
        Some(file) => load_server(file),
        None => Ok(ServerConfig::defaults(Path::new("."))),
    }
}

/// `config` with the command-line overrides applied.
pub(super) fn overridden(mut config: ServerConfig, options: &RunOptions) -> ServerConfig {
    if let Some(listen) = options.listen {
        config.listen = listen;
    }
    if let Some(apps) = &options.apps {
        config.apps_dir = apps.clone();
    }
    config
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

/// Runs the container until SIGTERM or SIGINT, then shuts it down within the grace period.
pub fn run(options: &RunOptions) -> Result<(), RunError> {
    let file = file_config(options)?;
    log_open_files_limit();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("berth-io")
        .build()
        .map_err(RunError::Runtime)?;
    runtime.block_on(serve(options, file))
}

/// Serves until SIGTERM or SIGINT; `file` is the configuration as its file says, which
/// SIGHUP compares the file with again.
async fn serve(options: &RunOptions, mut file: ServerConfig) -> Result<(), RunError> {
    // Installed before deploying: a signal during start-up stops the server once it is up.
    let signals = Signals::install();
    let container = Container::start(&overridden(file.clone(), options)).await?;
    let mut signals = signals;
    let signal = loop {
        match wait_for_signal(&mut signals).await {
            Signal::Stop(name) => break name,
            Signal::Rescan => {
                reload::reload(options, &mut file, &container).await;
                tracing::info!("SIGHUP: looking at the apps directory again");
                if let Err(error) = container.rescan().await {
                    tracing::error!(%error, "cannot read the apps directory");
                }
                tracing::debug!("SIGHUP handled");
            }
        }
    };
    tracing::info!(signal, "shutting down");
    container.shutdown(file.shutdown_grace).await;
    tracing::info!("stopped");
    Ok(())
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

/// The signals Berth handles: SIGTERM and SIGINT stop it gracefully; SIGHUP makes it read
/// its configuration and look at the apps directory again (the Unix habit, as `nginx -s
/// reload`), where its default action would end the process without closing a single
/// session.
#[derive(Debug)]
struct Signals {
    terminate: tokio::signal::unix::Signal,
    interrupt: tokio::signal::unix::Signal,
    hangup: tokio::signal::unix::Signal,
}

/// What a signal asks for.
#[derive(Debug)]
enum Signal {
    Stop(&'static str),
    Rescan,
}

impl Signals {
    fn install() -> std::io::Result<Signals> {
        Ok(Signals {
            terminate: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
            hangup: signal(SignalKind::hangup())?,
        })
    }
}

async fn wait_for_signal(signals: &mut std::io::Result<Signals>) -> Signal {
    let signals = match signals {
        Ok(signals) => signals,
        Err(error) => {
            // Without signal handlers the process still stops on the default action.
            tracing::warn!(%error, "cannot handle signals; they end the process at once");
            std::future::pending::<()>().await;
            return Signal::Stop("none");
        }
    };
    tokio::select! {
        _ = signals.terminate.recv() => Signal::Stop("SIGTERM"),
        _ = signals.interrupt.recv() => Signal::Stop("SIGINT"),
        _ = signals.hangup.recv() => Signal::Rescan,
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
