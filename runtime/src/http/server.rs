//! The listener: accepts TCP connections, speaks HTTP/1.1 with hyper, and turns valid
//! WebSocket handshakes into sessions of the matching context.
//!
//! Per request: route by context path, then by endpoint template (404 when nothing matches);
//! validate the handshake (400/426); check the Origin by the context's policy (403); ask the
//! context to admit one more session (503 when at its limit or saturated); answer 101 and
//! hand the upgraded connection to the context. A refused request that announces a body
//! also closes its connection. Nothing here runs plugin code.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use ipnet::IpNet;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

use super::accept;
use super::forwarded::{self, RemoteAddress};
use super::handshake::{self, Refusal};
use super::origin;
use super::route::ContextTable;
use crate::codec;
use crate::context::{Context, OpeningRequest};
use crate::session::{SharedSocket, SocketIo};

/// hyper refuses a read buffer limit below this.
const MIN_READ_BUFFER: usize = 8192;

/// How long a client may take to send its request head.
const HEADER_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The contexts being served; replaced whole on deploy, redeploy and undeploy.
pub(crate) type SharedTable = Arc<RwLock<Arc<ContextTable<Context>>>>;

/// Accepts connections until `stop` turns true.
pub(crate) async fn serve(
    listener: TcpListener,
    table: SharedTable,
    trusted_proxies: Arc<[IpNet]>,
    max_request_head: usize,
    mut stop: watch::Receiver<bool>,
) {
    let http = Arc::new(http1_builder(max_request_head));
    let mut backoff = accept::Backoff::default();
    while let Some((tcp, peer)) = accept::next(&listener, &mut backoff, &mut stop).await {
        let _ = tcp.set_nodelay(true);
        let table = Arc::clone(&table);
        let trusted = Arc::clone(&trusted_proxies);
        let http = Arc::clone(&http);
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let table = current(&table);
                let remote = forwarded::client_address(request.headers(), peer, &trusted);
                async move { Ok::<_, Infallible>(respond(request, &table, peer, remote)) }
            });
            let connection = http
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
    let guard = table
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Arc::clone(&guard)
}

fn respond(
    request: Request<Incoming>,
    table: &ContextTable<Context>,
    peer: SocketAddr,
    remote: RemoteAddress,
) -> Response<Full<Bytes>> {
    // A refused request with a body leaves its framing in doubt (a proxy may have framed it
    // otherwise): close the connection after the answer (RFC 9112 §6.3).
    let close = handshake::declares_body(request.headers());
    match upgrade(request, table, peer, remote) {
        Ok(response) => response,
        Err(refusal) => refusal_response(&refusal, close),
    }
}

fn upgrade(
    mut request: Request<Incoming>,
    table: &ContextTable<Context>,
    peer: SocketAddr,
    remote: RemoteAddress,
) -> Result<Response<Full<Bytes>>, Refusal> {
    let not_found = || Refusal {
        status: StatusCode::NOT_FOUND,
        reason: "no WebSocket endpoint at this path",
    };
    let path = request.uri().path().to_owned();
    let (context, rest) = table.find(&path).ok_or_else(not_found)?;
    let endpoint = context.find_endpoint(rest).ok_or_else(not_found)?;
    let headers = request.headers();
    let handshake = handshake::validate(request.method(), request.version(), headers)?;
    origin::check(headers, context.allowed_origins())?;
    let subprotocol = handshake::choose_subprotocol(
        &handshake.offered_subprotocols,
        context.subprotocols(endpoint.endpoint),
    );
    let admission = context.admit()?;
    let offers = headers.get_all(header::SEC_WEBSOCKET_EXTENSIONS).iter();
    let offers: Vec<&str> = offers.filter_map(|v| v.to_str().ok()).collect();
    let deflate = (context.hub().settings().permessage_deflate)
        .then(|| codec::negotiate_deflate(&offers.join(","), &codec::DeflateConfig::default()))
        .flatten();
    let opening = OpeningRequest {
        endpoint,
        path,
        query: request.uri().query().unwrap_or_default().to_owned(),
        headers: headers.clone(),
        subprotocol: subprotocol.clone(),
        peer,
        remote,
        deflate: deflate.as_ref().map(|(_, params)| *params),
    };
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let answer = response.headers_mut();
    answer.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    answer.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    let accept = derive_accept_key(handshake.key.as_bytes());
    answer.insert(header::SEC_WEBSOCKET_ACCEPT, header_value(&accept));
    if let Some(protocol) = &subprotocol {
        answer.insert(header::SEC_WEBSOCKET_PROTOCOL, header_value(protocol));
    }
    if let Some((extensions, _)) = &deflate {
        answer.insert(header::SEC_WEBSOCKET_EXTENSIONS, header_value(extensions));
    }
    let on_upgrade = hyper::upgrade::on(&mut request);
    let context = Arc::clone(context);
    // The session runs in a task of its own, spawned once the upgrade is through: its
    // future then carries none of this task's handshake data (an idle session's memory is
    // mostly that future).
    tokio::spawn(async move {
        match on_upgrade.await {
            // The TCP socket itself, so that plugin threads can write to it (see
            // `session::socket`); hyper always hands back the stream it was given.
            Ok(upgraded) => match upgraded.downcast::<TokioIo<TcpStream>>() {
                Ok(parts) => {
                    let socket = SharedSocket::new(parts.io.into_inner());
                    // Copied out, so that hyper's read buffer (which `read_buf` slices) is
                    // freed with this task.
                    let io = SocketIo::new(Arc::clone(&socket), &parts.read_buf);
                    tokio::spawn(context.start_session(io, Some(socket), opening, admission));
                }
                Err(upgraded) => {
                    let io = TokioIo::new(upgraded);
                    tokio::spawn(context.start_session(io, None, opening, admission));
                }
            },
            Err(error) => tracing::debug!(%error, "upgrade failed after 101"),
        }
    });
    Ok(response)
}

fn header_value(text: &str) -> HeaderValue {
    // Accept keys are base64 and subprotocols were header tokens: both are valid values.
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static(""))
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
