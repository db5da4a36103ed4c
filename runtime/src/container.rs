//! The running container: every deployed context, the listener, and an orderly shutdown.
//!
//! Start-up deploys each context found by the scanner; a context whose plugin or descriptor
//! is refused is logged and skipped, the others serve. Shutdown stops accepting, asks every
//! session to close with 1001, waits (up to the grace period) until every `on_close` has run,
//! then stops the pools.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::server::ServerConfig;
use crate::deploy::launch::launch;
use crate::deploy::scanner::AppCandidate;
use crate::http::route::ContextTable;
use crate::http::server::{self, SharedTable};
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
}

/// A started container.
#[derive(Debug)]
pub struct Container {
    table: SharedTable,
    stop: watch::Sender<bool>,
    address: SocketAddr,
}

impl Container {
    /// Deploys `apps` and starts listening on `config.listen`.
    pub async fn start(
        config: &ServerConfig,
        apps: &[AppCandidate],
    ) -> Result<Container, StartError> {
        let prober = Prober::this_binary();
        let mut contexts = Vec::new();
        for app in apps {
            match launch(app, &prober) {
                Ok(context) => contexts.push((context.path().to_owned(), context)),
                Err(error) => {
                    tracing::error!(dir = %app.dir.display(), "context not deployed: {error}")
                }
            }
        }
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| StartError::Bind {
                    address: config.listen,
                    source,
                })?;
        let address = listener.local_addr().unwrap_or(config.listen);
        let table: SharedTable = Arc::new(RwLock::new(Arc::new(ContextTable::new(contexts))));
        let (stop, stopped) = watch::channel(false);
        let trusted: Arc<[ipnet::IpNet]> = config.trusted_proxies.clone().into();
        tokio::spawn(server::serve(
            listener,
            Arc::clone(&table),
            trusted,
            config.max_request_head,
            stopped,
        ));
        crate::memory::spawn_trimmer();
        tracing::info!(addr = %address, "listening");
        Ok(Container {
            table,
            stop,
            address,
        })
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }

    /// Stops accepting, closes every session with 1001 and waits up to `grace` for their
    /// `on_close` callbacks; then stops the pools.
    pub async fn shutdown(self, grace: Duration) {
        let _ = self.stop.send(true);
        let table = {
            let guard = self
                .table
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            Arc::clone(&guard)
        };
        for (_, context) in table.iter() {
            for session in context.hub().sessions().all() {
                session.close(Closure::Shutdown);
            }
        }
        let deadline = Instant::now() + grace;
        for (_, context) in table.iter() {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if tokio::time::timeout(remaining, context.hub().sessions().emptied())
                .await
                .is_err()
            {
                let left = context.hub().sessions().len();
                tracing::warn!(context = %context.hub().name(), sessions = left, "grace period over; sessions left without on_close");
            }
        }
        for (_, context) in table.iter() {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if let Err(error) = context.departed(Departure::Shutdown, remaining).await {
                tracing::warn!(context = %context.hub().name(), "on_undeploy: {error}");
            }
        }
        for (_, context) in table.iter() {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let hub = Arc::clone(context.hub());
            let _ = tokio::task::spawn_blocking(move || hub.executor().shutdown(remaining)).await;
        }
    }
}
