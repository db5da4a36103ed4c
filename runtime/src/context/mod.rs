//! One deployed web context, as the listener serves it: its path, its endpoint templates, its
//! admission of new sessions (session limit, saturation) and the [`Hub`] its sessions share.
//! Contexts share nothing but the listener.
//!
//! A context is assembled by `deploy` from a loaded plugin instance; this module loads
//! nothing itself. The hub's address is the `host_ctx` the plugin holds; it is never freed,
//! because a plugin may keep calling after undeploy (it gets `NO_SUCH_SESSION`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use hyper::StatusCode;
use hyper::header::HeaderMap;

use crate::http::handshake::Refusal;
use crate::http::route::{EndpointMatch, EndpointRouter, TemplateError};
use crate::plugin::EndpointInfo;
use crate::session::{self, Hub, Opening, RemoteAddress};

/// A served context.
#[derive(Debug)]
pub(crate) struct Context {
    hub: Arc<Hub>,
    path: String,
    router: EndpointRouter,
    endpoints: Vec<EndpointInfo>,
    admitted: Arc<AtomicUsize>,
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

    pub(crate) fn allowed_origins(&self) -> &[String] {
        &self.hub.settings().allowed_origins
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
        let settings = self.hub.settings();
        let limit = settings.max_sessions.unwrap_or(usize::MAX);
        let previous = self.admitted.fetch_add(1, Ordering::AcqRel);
        let admission = Admission {
            admitted: Arc::clone(&self.admitted),
        };
        if previous >= limit {
            return Err(Refusal {
                status: StatusCode::SERVICE_UNAVAILABLE,
                reason: "the context is at its session limit",
            });
        }
        // Saturated: every thread busy and the queue full (a task on its way to an idle
        // thread is not saturation).
        let metrics = self.hub.executor().metrics();
        let pool = &settings.executor;
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
        let opening = Opening {
            endpoint: u32::try_from(opening.endpoint.endpoint).unwrap_or(u32::MAX),
            path: opening.path,
            query: opening.query,
            path_params: opening.endpoint.params,
            headers: header_pairs(&opening.headers),
            subprotocol: opening.subprotocol,
            peer: opening.peer,
            remote: opening.remote,
            deflate: opening.deflate,
        };
        session::start(io, socket, Arc::clone(&self.hub), opening, admission)
    }
}

/// Header names and values as the endpoint sees them (values lossy UTF-8).
fn header_pairs(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect()
}
