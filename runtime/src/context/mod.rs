//! One deployed web context: its settings, plugin instance, endpoint table, pool and open
//! sessions. Contexts share nothing but the listener.
//!
//! A context is built from a scanned [`AppCandidate`]: the plugin library is loaded and an
//! instance created with the context's `init-param`s; the endpoint templates are routed with
//! `matchit`; the pool is started with the `websocket-executor` settings. Host services reach
//! the context through [`ContextCore`], whose address is the `host_ctx` the plugin holds; it is
//! never freed, because a plugin may keep calling after undeploy (it gets `NO_SUCH_SESSION`).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use hyper::StatusCode;
use hyper::header::HeaderMap;

use crate::config::descriptor::ContextSettings;
use crate::deploy::scanner::AppCandidate;
use crate::executor::{Executor, ExecutorError};
use crate::http::forwarded::RemoteAddress;
use crate::http::handshake::Refusal;
use crate::http::route::{EndpointMatch, EndpointRouter, TemplateError};
use crate::plugin::{self, EndpointInfo, LoadError, PluginInstance, Prober};
use crate::session::{self, Registry};

/// Why a context could not be deployed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DeployError {
    /// The plugin library was refused.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// Two endpoint templates conflict.
    #[error("{dir}: {source}")]
    Template {
        /// The context directory.
        dir: String,
        /// The conflict.
        #[source]
        source: TemplateError,
    },
    /// The pool could not start.
    #[error("{dir}: cannot start the context's pool: {source}")]
    Executor {
        /// The context directory.
        dir: String,
        /// Why.
        #[source]
        source: ExecutorError,
    },
}

/// What host services and session tasks share about a context.
#[derive(Debug)]
pub(crate) struct ContextCore {
    pub(crate) name: String,
    pub(crate) path: String,
    pub(crate) settings: ContextSettings,
    pub(crate) plugin: OnceLock<PluginInstance>,
    pub(crate) executor: Executor,
    pub(crate) sessions: Registry,
    admitted: AtomicUsize,
}

impl ContextCore {
    /// The plugin instance (set once at deploy, before any session exists).
    pub(crate) fn plugin(&self) -> Option<&PluginInstance> {
        self.plugin.get()
    }
}

/// A served context.
#[derive(Debug)]
pub(crate) struct Context {
    pub(crate) core: Arc<ContextCore>,
    router: EndpointRouter,
    endpoints: Vec<EndpointInfo>,
}

/// A handshake the listener accepted for this context.
#[derive(Debug)]
pub(crate) struct OpeningRequest {
    pub(crate) endpoint: EndpointMatch,
    pub(crate) path: String,
    pub(crate) query: String,
    pub(crate) headers: HeaderMap,
    pub(crate) subprotocol: Option<String>,
    pub(crate) peer: SocketAddr,
    /// The negotiated permessage-deflate parameters, if any.
    pub(crate) deflate: Option<crate::codec::DeflateParams>,
    /// The client, after trusted-proxy headers.
    pub(crate) remote: RemoteAddress,
}

/// One admitted session slot, released when dropped: when the handshake fails, or when the
/// session's connection has ended (just before its `on_close` is queued).
#[derive(Debug)]
pub(crate) struct Admission {
    core: Arc<ContextCore>,
}

impl Drop for Admission {
    fn drop(&mut self) {
        self.core.admitted.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Context {
    /// Loads the plugin and starts the pool of one context.
    pub(crate) fn deploy(app: &AppCandidate, prober: &Prober) -> Result<Arc<Context>, DeployError> {
        let dir = app.dir.display().to_string();
        let name = app
            .dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("context")
            .to_owned();
        let library = plugin::load(&app.library, prober)?;
        let executor = Executor::new(
            &name,
            app.settings.executor,
            app.settings.timeout_min_threads,
        )
        .map_err(|source| DeployError::Executor {
            dir: dir.clone(),
            source,
        })?;
        let core = Arc::new(ContextCore {
            name,
            path: app.context_path.clone(),
            settings: app.settings.clone(),
            plugin: OnceLock::new(),
            executor,
            sessions: Registry::default(),
            admitted: AtomicUsize::new(0),
        });
        let host_ctx = plugin::host_context(Arc::clone(&core));
        let instance = PluginInstance::create(
            &library,
            plugin::host_api(),
            host_ctx,
            &app.settings.init_params,
        )?;
        let endpoints = instance.endpoints().to_vec();
        let router = EndpointRouter::new(endpoints.iter().map(|e| e.template.as_str()))
            .map_err(|source| DeployError::Template { dir, source })?;
        let _ = core.plugin.set(instance);
        session::spawn_idle_monitor(&core);
        tracing::info!(
            context = %core.name,
            path = %core.path,
            endpoints = ?endpoints.iter().map(|e| e.template.as_str()).collect::<Vec<_>>(),
            pool_min = core.settings.executor.min_threads,
            pool_max = core.settings.executor.max_threads,
            plugin = %library.file.display(),
            abi = %library.abi,
            sdk = %library.sdk_version,
            "context deployed"
        );
        Ok(Arc::new(Context {
            core,
            router,
            endpoints,
        }))
    }

    pub(crate) fn find_endpoint(&self, rest: &str) -> Option<EndpointMatch> {
        self.router.find(rest)
    }

    pub(crate) fn allowed_origins(&self) -> &[String] {
        &self.core.settings.allowed_origins
    }

    pub(crate) fn subprotocols(&self, endpoint: usize) -> &[String] {
        self.endpoints
            .get(endpoint)
            .map(|e| e.subprotocols.as_slice())
            .unwrap_or_default()
    }

    /// Takes a session slot, or refuses with 503 when the context is at its session limit or
    /// its pool queue is full.
    pub(crate) fn admit(&self) -> Result<Admission, Refusal> {
        let limit = self.core.settings.max_sessions.unwrap_or(usize::MAX);
        let previous = self.core.admitted.fetch_add(1, Ordering::AcqRel);
        let admission = Admission {
            core: Arc::clone(&self.core),
        };
        if previous >= limit {
            return Err(Refusal {
                status: StatusCode::SERVICE_UNAVAILABLE,
                reason: "the context is at its session limit",
            });
        }
        // Saturated: every thread busy and the queue full (a task on its way to an idle
        // thread is not saturation).
        let metrics = self.core.executor.metrics();
        let pool = &self.core.settings.executor;
        if metrics.threads_busy >= pool.max_threads && metrics.queue_depth >= pool.queue_size {
            return Err(Refusal {
                status: StatusCode::SERVICE_UNAVAILABLE,
                reason: "the context is saturated",
            });
        }
        Ok(admission)
    }

    /// Opens a session on an upgraded connection; the future runs it until it ends.
    pub(crate) fn start_session<S>(
        &self,
        io: S,
        socket: Option<Arc<crate::session::SharedSocket>>,
        opening: OpeningRequest,
        admission: Admission,
    ) -> impl Future<Output = ()> + Send + 'static
    where
        S: crate::codec::Transport + Send + 'static,
    {
        session::start(io, socket, Arc::clone(&self.core), opening, admission)
    }
}
