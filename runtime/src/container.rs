//! The running container: the deployer (every context and its versions), the listener, and
//! an orderly shutdown.
//!
//! Start-up looks at the apps directory through the deployer: a context whose plugin or
//! descriptor is refused is logged and skipped, the others serve. Directories whose files are
//! still changing (the settle time) are waited for first, for at most three more looks
//! (`START_SETTLE_LOOKS`), so a server started right after its apps were copied in serves
//! them from its first request. Then the watcher takes over: it has the deployer
//! look again whenever the directory changes. [`Container::rescan`] looks at once (SIGHUP)
//! and deploys, redeploys and undeploys what changed while every other context serves on;
//! [`Container::reconfigure`] applies the server settings that can change while it runs.
//! Shutdown stops the watcher and stops accepting, asks every session of every version
//! (running or draining) to close with 1001, waits (up to the grace period) until every
//! `on_close` has run, runs each running context's `on_undeploy`, then stops the pools.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use tokio::net::TcpListener;
use tokio::sync::{Mutex, watch};

use crate::admin;
use crate::config::server::ServerConfig;
use crate::deploy::deployer::Deployer;
use crate::deploy::watcher::Watcher;
use crate::http::server::{self, ListenerSettings, SharedSettings};
use crate::plugin::Prober;
use crate::session::{Closure, Departure};

/// Why the container could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The listener could not bind.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address.
        address: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The apps directory cannot be read.
    #[error("cannot read the apps directory {dir}: {source}")]
    AppsDir {
        /// The directory.
        dir: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// How many more looks start-up takes while directories are still being written, before it
/// listens anyway (the watcher deploys them once they settle).
const START_SETTLE_LOOKS: usize = 3;

/// A started container.
#[derive(Debug)]
pub struct Container {
    deployer: Arc<Mutex<Deployer>>,
    watcher: Watcher,
    listener: SharedSettings,
    stop: watch::Sender<bool>,
    address: SocketAddr,
}

impl Container {
    /// Deploys the contexts of `config`'s apps directory, starts watching it and starts
    /// listening.
    pub async fn start(config: &ServerConfig) -> Result<Container, StartError> {
        let (stop, stopped) = watch::channel(false);
        let mut deployer = Deployer::new(&config.apps_dir, Prober::this_binary());
        deployer.set_settle_time(config.deploy_settle_time);
        let table = deployer.table();
        let deployer = Arc::new(Mutex::new(deployer));
        // Watching starts first, so what changes during the first look is looked at after it.
        let watcher = Watcher::start(
            &config.apps_dir,
            Arc::clone(&deployer),
            config.deploy_scan_interval,
            stopped.clone(),
        );
        first_look(&deployer)
            .await
            .map_err(|source| StartError::AppsDir {
                dir: config.apps_dir.clone(),
                source,
            })?;
        watcher.looked();
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| StartError::Bind {
                    address: config.listen,
                    source,
                })?;
        let address = listener.local_addr().unwrap_or(config.listen);
        let settings = Arc::new(ArcSwap::from_pointee(listener_settings(config)));
        let serving = server::serve(listener, table, Arc::clone(&settings), stopped);
        tokio::spawn(serving);
        crate::memory::spawn_trimmer();
        tracing::info!(addr = %address, "listening");
        if let Some(admin) = config.admin {
            admin::serve(admin, Arc::clone(&deployer), stop.subscribe()).await;
        }
        Ok(Container {
            deployer,
            watcher,
            listener: settings,
            stop,
            address,
        })
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }

    /// Looks at the apps directory again: deploys, redeploys and undeploys what changed.
    /// A directory whose files are still changing is looked at again once they have settled.
    pub async fn rescan(&self) -> std::io::Result<()> {
        let looked = self.deployer.lock().await.rescan().await;
        self.watcher.looked();
        looked
    }

    /// Applies the settings of `config` that can change while the container runs: the
    /// trusted proxies and the request head limit (for connections accepted from now on),
    /// the settle time (from the next look) and the scan interval (at once). The others
    /// take effect at the next start; shutdown is given its grace period when it starts.
    pub async fn reconfigure(&self, config: &ServerConfig) {
        self.listener.store(Arc::new(listener_settings(config)));
        (self.deployer.lock().await).set_settle_time(config.deploy_settle_time);
        self.watcher.set_scan_interval(config.deploy_scan_interval);
    }

    /// Stops watching and accepting, closes every session with 1001 and waits up to `grace`
    /// for their `on_close` callbacks; then runs each context's `on_undeploy` and stops the
    /// pools.
    pub async fn shutdown(mut self, grace: Duration) {
        let _ = self.stop.send(true);
        self.watcher.stopped().await;
        let deployer = self.deployer.lock().await;
        let contexts: Vec<_> = deployer.contexts().cloned().collect();
        for context in &contexts {
            for session in context.hub().sessions().all() {
                session.close(Closure::Shutdown);
            }
        }
        let deadline = Instant::now() + grace;
        for context in &contexts {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if tokio::time::timeout(remaining, context.hub().sessions().emptied())
                .await
                .is_err()
            {
                let left = context.hub().sessions().len();
                tracing::warn!(context = %context.hub().name(), sessions = left, "grace period over; sessions left without on_close");
            }
        }
        for context in deployer.running() {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if let Err(error) = context.departed(Departure::Shutdown, remaining).await {
                tracing::warn!(context = %context.hub().name(), "on_undeploy: {error}");
            }
        }
        for context in deployer.running() {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let hub = Arc::clone(context.hub());
            let _ = tokio::task::spawn_blocking(move || hub.executor().shutdown(remaining)).await;
        }
    }
}

fn listener_settings(config: &ServerConfig) -> ListenerSettings {
    ListenerSettings::new(&config.trusted_proxies, config.max_request_head)
}

/// The first look at the apps directory: while directories are still being written, waits
/// until they have settled and looks again, [`START_SETTLE_LOOKS`] times at most.
async fn first_look(deployer: &Mutex<Deployer>) -> std::io::Result<()> {
    let mut deployer = deployer.lock().await;
    deployer.rescan().await?;
    for _ in 0..START_SETTLE_LOOKS {
        let Some(settled_by) = deployer.settled_by() else {
            break;
        };
        tracing::info!("waiting for context directories whose files are still changing");
        tokio::time::sleep_until(settled_by.into()).await;
        deployer.rescan().await?;
    }
    Ok(())
}
