//! The listener: accepts TCP connections, speaks HTTP/1.1 with hyper, and turns valid
//! WebSocket handshakes into sessions of the matching context.
//!
//! Each request goes through `super::upgrade`'s steps: a 101 and a session, or a refusal
//! (404, 400/426, 403, 503) answered here as plain text. A refused request that announces a
//! body also closes its connection. Nothing here runs plugin code.
//!
//! The settings an administrator may change while the server runs (the trusted proxies, the
//! request head limit) are [`ListenerSettings`] behind an atomic pointer, loaded once per
//! connection: a new connection sees a change at once, one already open keeps the settings
//! it started with, and no request takes a lock for them.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use ipnet::IpNet;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::accept;
use super::forwarded::{self, RemoteAddress};
use super::handshake::{self, Refusal};
use super::route::ContextTable;
use super::upgrade::upgrade;
use crate::context::Context;

/// hyper refuses a read buffer limit below this.
const MIN_READ_BUFFER: usize = 8192;

/// How long a client may take to send its request head.
const HEADER_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The contexts being served; replaced whole, by one atomic store, on every deployment
/// change. Loading it is lock-free.
pub(crate) type SharedTable = Arc<arc_swap::ArcSwap<ContextTable<Context>>>;

/// The listener's settings; replaced whole, by one atomic store, when the administrator
/// changes them. Loading them is lock-free.
pub(crate) type SharedSettings = Arc<arc_swap::ArcSwap<ListenerSettings>>;

/// What the listener applies to each new connection.
#[derive(Debug)]
pub(crate) struct ListenerSettings {
    /// Peers whose `Forwarded`/`X-Forwarded-For` headers are believed.
    trusted_proxies: Arc<[IpNet]>,
    /// hyper's settings, with the request head limit.
    http: hyper::server::conn::http1::Builder,
}

impl ListenerSettings {
    /// Settings that believe `trusted_proxies` and answer a head larger than
    /// `max_request_head` bytes with 431.
    pub(crate) fn new(trusted_proxies: &[IpNet], max_request_head: usize) -> ListenerSettings {
        ListenerSettings {
            trusted_proxies: trusted_proxies.into(),
            http: http1_builder(max_request_head),
        }
    }
}

/// Accepts connections until `stop` turns true.
pub(crate) async fn serve(
    listener: TcpListener,
    table: SharedTable,
    settings: SharedSettings,
    mut stop: watch::Receiver<bool>,
) {
    let mut backoff = accept::Backoff::default();
    while let Some((tcp, peer)) = accept::next(&listener, &mut backoff, &mut stop).await {
        let _ = tcp.set_nodelay(true);
        let table = Arc::clone(&table);
        let settings = settings.load_full();
        tokio::spawn(async move {
            let trusted = Arc::clone(&settings.trusted_proxies);
            let service = service_fn(move |request| {
                let table = current(&table);
                let remote = forwarded::client_address(request.headers(), peer, &trusted);
                async move { Ok::<_, Infallible>(respond(request, &table, peer, remote).await) }
            });
            let connection = (settings.http)
                .serve_connection(TokioIo::new(tcp), service)
                .with_upgrades();
            if let Err(error) = connection.await {
                tracing::debug!(%error, %peer, "HTTP connection ended with an error");
            }
        });
    }
}

/// hyper's HTTP/1 settings for every connection. A head larger than `max_request_head`
/// gets 431; the read buffer never grows past it (hyper's floor is 8 KiB), so a client
/// cannot make the server hold more while the head arrives.
fn http1_builder(max_request_head: usize) -> hyper::server::conn::http1::Builder {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        // A peer that never finishes its request head cannot hold a socket forever.
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_header_size(max_request_head)
        .max_buf_size(max_request_head.max(MIN_READ_BUFFER));
    builder
}

fn current(table: &SharedTable) -> Arc<ContextTable<Context>> {
    table.load_full()
}

async fn respond(
    request: Request<Incoming>,
    table: &ContextTable<Context>,
    peer: SocketAddr,
    remote: RemoteAddress,
) -> Response<Full<Bytes>> {
    // A refused request with a body leaves its framing in doubt (a proxy may have framed it
    // otherwise): close the connection after the answer (RFC 9112 §6.3).
    let close = handshake::declares_body(request.headers());
    match upgrade(request, table, peer, remote).await {
        Ok(response) => response,
        Err(refusal) => refusal_response(&refusal, close),
    }
}

fn refusal_response(refusal: &Refusal, close: bool) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(format!("{}\n", refusal.reason))));
    *response.status_mut() = refusal.status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    if close {
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    match refusal.status {
        StatusCode::UPGRADE_REQUIRED => {
            headers.insert(
                header::SEC_WEBSOCKET_VERSION,
                HeaderValue::from_static("13"),
            );
        }
        StatusCode::SERVICE_UNAVAILABLE => {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        _ => {}
    }
    response
}
