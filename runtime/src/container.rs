//! The running container: the deployer (every context and its versions), the listener, and
//! an orderly shutdown.
//!
//! Start-up scans the apps directory once through the deployer: a context whose plugin or
//! descriptor is refused is logged and skipped, the others serve. [`Container::rescan`] looks
//! again and deploys, redeploys and undeploys what changed while every other context serves
//! on. Shutdown stops accepting, asks every session of every version (running or draining)
//! to close with 1001, waits (up to the grace period) until every `on_close` has run, runs
//! each running context's `on_undeploy`, then stops the pools.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::{Mutex, watch};

use crate::admin;
use crate::config::server::ServerConfig;
use crate::deploy::deployer::Deployer;
use crate::http::server;
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

/// A started container.
#[derive(Debug)]
pub struct Container {
    deployer: Arc<Mutex<Deployer>>,
    stop: watch::Sender<bool>,
    address: SocketAddr,
}

impl Container {
    /// Deploys the contexts of `config`'s apps directory and starts listening.
    pub async fn start(config: &ServerConfig) -> Result<Container, StartError> {
        let mut deployer = Deployer::new(&config.apps_dir, Prober::this_binary());
        deployer
            .rescan()
            .await
            .map_err(|source| StartError::AppsDir {
                dir: config.apps_dir.clone(),
                source,
            })?;
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| StartError::Bind {
                    address: config.listen,
                    source,
                })?;
        let address = listener.local_addr().unwrap_or(config.listen);
        let (stop, stopped) = watch::channel(false);
        let trusted: Arc<[ipnet::IpNet]> = config.trusted_proxies.clone().into();
        tokio::spawn(server::serve(
            listener,
            deployer.table(),
            trusted,
            config.max_request_head,
            stopped,
        ));
        crate::memory::spawn_trimmer();
        tracing::info!(addr = %address, "listening");
        let deployer = Arc::new(Mutex::new(deployer));
        if let Some(admin) = config.admin {
            admin::serve(admin, Arc::clone(&deployer), stop.subscribe()).await;
        }
        Ok(Container {
            deployer,
            stop,
            address,
        })
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }

    /// Looks at the apps directory again: deploys, redeploys and undeploys what changed.
    pub async fn rescan(&self) -> std::io::Result<()> {
        self.deployer.lock().await.rescan().await
    }

    /// Stops accepting, closes every session with 1001 and waits up to `grace` for their
    /// `on_close` callbacks; then runs each context's `on_undeploy` and stops the pools.
    pub async fn shutdown(self, grace: Duration) {
        let _ = self.stop.send(true);
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
