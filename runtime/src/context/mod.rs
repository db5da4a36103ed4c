//! One deployed web context, as the listener serves it: its path, its endpoint templates, its
//! admission of new sessions (session limit, saturation) and the [`Hub`] its sessions share.
//! Contexts share nothing but the listener.
//!
//! A context is assembled by `deploy` from a loaded plugin instance; this module loads
//! nothing itself. The hub's address is the `host_ctx` the plugin holds; it is never freed,
//! because a plugin may keep calling after undeploy (it gets `NO_SUCH_SESSION`).

mod router;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

#[cfg(test)]
pub(crate) use router::EndpointRouter;
pub(crate) use router::{EndpointMatch, TemplateError};

use crate::plugin::EndpointInfo;
use crate::session::{self, Departure, Hub, Opening, Outcome};
#[cfg(not(test))]
use router::EndpointRouter;

/// A served context.
#[derive(Debug)]
pub(crate) struct Context {
    hub: Arc<Hub>,
    path: String,
    router: EndpointRouter,
    endpoints: Vec<EndpointInfo>,
    admitted: Arc<AtomicUsize>,
}

/// Why a context takes no more sessions now (the listener answers 503).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unavailable {
    /// `max-sessions` are open.
    AtLimit,
    /// Every pool thread is busy and the pool's queue is full.
    Saturated,
}

impl Unavailable {
    /// Why, in words for the client.
    pub(crate) fn reason(self) -> &'static str {
        match self {
            Unavailable::AtLimit => "the context is at its session limit",
            Unavailable::Saturated => "the context is saturated",
        }
    }
}

/// Why a lifecycle callback (`on_deploy`, `on_undeploy`) did not finish well.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum LifecycleError {
    /// It failed or panicked.
    #[error("it failed ({0})")]
    Failed(&'static str),
    /// It did not return within its bound.
    #[error("it did not return within {0:?}")]
    TimedOut(Duration),
    /// The pool would not run it.
    #[error("the pool would not run it")]
    Refused,
}

/// One admitted session slot, released when dropped: when the handshake fails, or when the
/// session's connection has ended (just before its `on_close` is queued).
#[derive(Debug)]
pub(crate) struct Admission {
    admitted: Arc<AtomicUsize>,
}

impl Drop for Admission {
    fn drop(&mut self) {
        self.admitted.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Context {
    /// A context served at `path` whose sessions share `hub` (its endpoint attached), with
    /// the endpoints the plugin declared.
    pub(crate) fn new(
        hub: Arc<Hub>,
        path: String,
        endpoints: Vec<EndpointInfo>,
    ) -> Result<Context, TemplateError> {
        let router = EndpointRouter::new(endpoints.iter().map(|e| e.template.as_str()))?;
        session::spawn_idle_monitor(&hub);
        Ok(Context {
            hub,
            path,
            router,
            endpoints,
            admitted: Arc::default(),
        })
    }

    /// Runs the endpoint's `on_deploy` on the context's pool and waits up to `bound` (on the
    /// calling thread: deployment is not on the I/O path).
    pub(crate) fn deployed(&self, bound: Duration) -> Result<(), LifecycleError> {
        let (sender, receiver) = std::sync::mpsc::sync_channel(1);
        let hub = Arc::clone(&self.hub);
        let task = Box::new(move || {
            let _ = sender.send(hub.callbacks().map(|c| c.on_deploy()));
        });
        self.hub
            .executor()
            .try_submit(task)
            .map_err(|_| LifecycleError::Refused)?;
        match receiver.recv_timeout(bound) {
            Ok(outcome) => lifecycle_result(outcome),
            Err(_) => Err(LifecycleError::TimedOut(bound)),
        }
    }

    /// Runs the endpoint's `on_undeploy` on the context's pool (after every session's
    /// `on_close`) and waits up to `bound`.
    pub(crate) async fn departed(
        &self,
        departure: Departure,
        bound: Duration,
    ) -> Result<(), LifecycleError> {
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let hub = Arc::clone(&self.hub);
        let task = Box::new(move || {
            let _ = sender.send(hub.callbacks().map(|c| c.on_undeploy(departure)));
        });
        self.hub
            .executor()
            .try_submit(task)
            .map_err(|_| LifecycleError::Refused)?;
        match tokio::time::timeout(bound, receiver).await {
            Ok(Ok(outcome)) => lifecycle_result(outcome),
            Ok(Err(_)) => Err(LifecycleError::Refused),
            Err(_) => Err(LifecycleError::TimedOut(bound)),
        }
    }

    /// What its sessions share.
    pub(crate) fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    /// The context path.
    pub(crate) fn path(&self) -> &str {
        &self.path
    }

    pub(crate) fn find_endpoint(&self, rest: &str) -> Option<EndpointMatch> {
        self.router.find(rest)
    }

    pub(crate) fn subprotocols(&self, endpoint: usize) -> &[String] {
        self.endpoints
            .get(endpoint)
            .map(|e| e.subprotocols.as_slice())
            .unwrap_or_default()
    }

    /// Takes a session slot, unless the context is at its session limit or its pool is
    /// saturated.
    pub(crate) fn admit(&self) -> Result<Admission, Unavailable> {
        let settings = self.hub.settings();
        let limit = settings.max_sessions.unwrap_or(usize::MAX);
        let previous = self.admitted.fetch_add(1, Ordering::AcqRel);
        let admission = Admission {
            admitted: Arc::clone(&self.admitted),
        };
        if previous >= limit {
            return Err(Unavailable::AtLimit);
        }
        // Saturated: every thread busy and the queue full (a task on its way to an idle
        // thread is not saturation).
        let metrics = self.hub.executor().metrics();
        let pool = &settings.executor;
        if metrics.threads_busy >= pool.max_threads && metrics.queue_depth >= pool.queue_size {
            return Err(Unavailable::Saturated);
        }
        Ok(admission)
    }

    /// Opens a session on an upgraded connection; the future runs it until it ends.
    pub(crate) fn start_session<S>(
        &self,
        io: S,
        socket: Option<Arc<crate::session::SharedSocket>>,
        opening: Opening,
        admission: Admission,
    ) -> impl Future<Output = ()> + Send + 'static
    where
        S: crate::codec::Transport + Send + 'static,
    {
        session::start(io, socket, Arc::clone(&self.hub), opening, admission)
    }
}

fn lifecycle_result(outcome: Option<Outcome>) -> Result<(), LifecycleError> {
    match outcome {
        Some(Outcome::Failed(why)) => Err(LifecycleError::Failed(why)),
        Some(Outcome::Done | Outcome::Refused) | None => Ok(()),
    }
}
