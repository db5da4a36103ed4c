//! The admin listener: binds `<admin>`, accepts connections, speaks HTTP/1.1 with hyper and
//! hands each request to `api`.
//!
//! It keeps out of the WebSocket listener's way: its own accept task and one task per
//! connection, at most [`MAX_CONNECTIONS`] at once (accepting waits while they are all
//! taken), request heads of at most [`MAX_HEAD`] bytes read within [`HEADER_READ_TIMEOUT`],
//! request bodies never read (a request that announces one is answered and its connection
//! closed). One connection's failure is logged at debug. When its address cannot be bound
//! the admin listener logs an error and the container serves on without it.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

use super::api::{self, SharedDeployer};
use crate::http::accept;
use crate::http::handshake::declares_body;

/// Admin connections served at once.
const MAX_CONNECTIONS: usize = 16;

/// The largest request head read; hyper answers 431 beyond it.
const MAX_HEAD: usize = 16 * 1024;

/// How long a client may take to send its request head.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Binds `address` and serves the admin API from its own tasks until `stop` turns true.
/// Returns once bound (or once binding failed, which is logged: the container serves on).
pub(crate) async fn serve(
    address: SocketAddr,
    deployer: SharedDeployer,
    stop: watch::Receiver<bool>,
) -> Option<SocketAddr> {
    let listener = match TcpListener::bind(address).await {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(addr = %address, %error, "cannot start the admin listener; WebSockets are served without it");
            return None;
        }
    };
    let bound = listener.local_addr().unwrap_or(address);
    tracing::info!(addr = %bound, "admin listening");
    tokio::spawn(accept_loop(listener, deployer, stop));
    Some(bound)
}

async fn accept_loop(
    listener: TcpListener,
    deployer: SharedDeployer,
    mut stop: watch::Receiver<bool>,
) {
    let http = Arc::new(http1_builder());
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut backoff = accept::Backoff::default();
    loop {
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => slot,
            _ = stop.changed() => return,
        };
        let Ok(slot) = slot else { return };
        let Some((tcp, peer)) = accept::next(&listener, &mut backoff, &mut stop).await else {
            return;
        };
        let connection = Connection {
            http: Arc::clone(&http),
            deployer: Arc::clone(&deployer),
            stop: stop.clone(),
            _slot: slot,
        };
        tokio::spawn(connection.serve(tcp, peer));
    }
}

fn http1_builder() -> hyper::server::conn::http1::Builder {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_header_size(MAX_HEAD)
        .max_buf_size(MAX_HEAD);
    builder
}

/// One admin connection and what it holds.
#[derive(Debug)]
struct Connection {
    http: Arc<hyper::server::conn::http1::Builder>,
    deployer: SharedDeployer,
    stop: watch::Receiver<bool>,
    /// Released when the connection ends.
    _slot: OwnedSemaphorePermit,
}

impl Connection {
    async fn serve(mut self, tcp: TcpStream, peer: SocketAddr) {
        let deployer = self.deployer;
        let service = service_fn(move |request: Request<Incoming>| {
            let deployer = Arc::clone(&deployer);
            async move { Ok::<_, Infallible>(respond(request, &deployer).await) }
        });
        let connection = self.http.serve_connection(TokioIo::new(tcp), service);
        tokio::pin!(connection);
        let served = tokio::select! {
            served = connection.as_mut() => served,
            _ = self.stop.changed() => {
                connection.as_mut().graceful_shutdown();
                connection.await
            }
        };
        if let Err(error) = served {
            tracing::debug!(%error, %peer, "admin connection ended with an error");
        }
    }
}

async fn respond(
    request: Request<Incoming>,
    deployer: &SharedDeployer,
) -> Response<http_body_util::Full<bytes::Bytes>> {
    // The API reads no body; one left unread leaves the connection's framing to hyper's
    // guess, so it ends after the answer.
    let close = declares_body(request.headers());
    let mut response = api::answer(request.method(), request.uri().path(), deployer).await;
    if close {
        (response.headers_mut()).insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}
