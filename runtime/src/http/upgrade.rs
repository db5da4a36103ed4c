//! From a handshake request to a session, as a pipeline of named steps:
//!
//! ```text
//! route ─► validate ─────► negotiate ────────────► admit ─► answer ─► hand over
//! 404      400/426, 403    subprotocol, deflate    503      101       after the 101, in a task
//! ```
//!
//! - [`route`]: the context by context path, then the endpoint by template (404);
//! - [`validate`]: the handshake itself (400/426, `super::handshake`), then the `Origin` by the
//!   context's policy (403, `super::origin`);
//! - [`negotiate`]: the subprotocol by the client's preference among the endpoint's, and
//!   permessage-deflate when the context's `<permessage-deflate>` allows it; refuses nothing;
//! - admit: `Context::admit` takes a session slot (503 at the session limit or when the pool is
//!   saturated); the slot is released when anything after it fails;
//! - [`answer`]: the 101 and its headers;
//! - [`hand_over`]: once hyper has switched protocols, the TCP socket goes to a session task
//!   of its own.
//!
//! Every step but admission and the hand-over is pure (a request or its headers and the
//! context's settings in, a value or a [`Refusal`] out) and unit-tested without a server.
//! The request's headers move into the session; nothing of the request is copied but its path,
//! its query and the chosen subprotocol. Nothing here runs plugin code.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::upgrade::OnUpgrade;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::decision::{self, Ruling};
use super::forwarded::RemoteAddress;
use super::handshake::{self, Handshake, Refusal};
use super::origin;
use super::route::ContextTable;
use crate::codec::{self, DeflateParams};
use crate::config::descriptor::ContextSettings;
use crate::context::{Admission, Context, EndpointMatch, Unavailable};
use crate::session::{Opening, SharedSocket, SocketIo};

#[cfg(test)]
mod tests;

const NOT_FOUND: Refusal = Refusal {
    status: StatusCode::NOT_FOUND,
    reason: "no WebSocket endpoint at this path",
};

/// What the server and the client agreed on besides the upgrade itself.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Agreement {
    /// The subprotocol, when the client offered one the endpoint supports.
    subprotocol: Option<String>,
    /// permessage-deflate: the `Sec-WebSocket-Extensions` answer and the session's parameters.
    deflate: Option<(String, DeflateParams)>,
}

/// Answers a handshake request with a 101, starting its session once hyper has switched
/// protocols; or with the endpoint's own refusal; or refuses it.
pub(super) async fn upgrade(
    mut request: Request<Incoming>,
    table: &ContextTable<Context>,
    peer: SocketAddr,
    remote: RemoteAddress,
) -> Result<Response<Full<Bytes>>, Refusal> {
    let (context, endpoint) = route(table, request.uri().path(), Context::find_endpoint)?;
    let settings = context.hub().settings();
    let handshake = validate(&request, &settings.allowed_origins)?;
    let supported = context.subprotocols(endpoint.endpoint);
    let mut agreed = negotiate(request.headers(), &handshake, supported, &settings);
    drop(settings);
    let key = handshake.key.to_owned();
    let offered = handshake.offered_subprotocols;
    let admission = context.admit().map_err(unavailable)?;
    let opening = opening(&request, endpoint, &agreed, peer, remote);
    let (mut opening, ruling) = decision::decide(context, opening, &offered).await?;
    let acceptance = match ruling {
        Ruling::Accept(acceptance) => acceptance,
        Ruling::Answer(refused) => return Ok(refused),
    };
    if acceptance.subprotocol.is_some() {
        agreed.subprotocol.clone_from(&acceptance.subprotocol);
        opening.subprotocol = acceptance.subprotocol;
    }
    opening.properties = acceptance.properties;
    let mut response = answer(&key, &agreed);
    let extra = decision::header_map(&acceptance.headers).unwrap_or_default();
    for (name, value) in extra {
        if let Some(name) = name {
            response.headers_mut().append(name, value);
        }
    }
    let on_upgrade = hyper::upgrade::on(&mut request);
    let session = hand_over(on_upgrade, Arc::clone(context), opening, admission);
    tokio::spawn(session);
    Ok(response)
}

/// The context serving `path` and the endpoint below it that `find_endpoint` matches.
fn route<'t, C>(
    table: &'t ContextTable<C>,
    path: &str,
    find_endpoint: impl Fn(&C, &str) -> Option<EndpointMatch>,
) -> Result<(&'t Arc<C>, EndpointMatch), Refusal> {
    let (context, rest) = table.find(path).ok_or(NOT_FOUND)?;
    let endpoint = find_endpoint(context, rest).ok_or(NOT_FOUND)?;
    Ok((context, endpoint))
}

/// The handshake, when the request is one (400/426) from an origin the context accepts (403).
fn validate<'r, B>(
    request: &'r Request<B>,
    allowed_origins: &[String],
) -> Result<Handshake<'r>, Refusal> {
    let headers = request.headers();
    let handshake = handshake::validate(request.method(), request.version(), headers)?;
    origin::check(headers, allowed_origins)?;
    Ok(handshake)
}

/// The subprotocol among the endpoint's `supported` ones, and permessage-deflate among the
/// client's `Sec-WebSocket-Extensions` offers when `settings` allow it.
///
/// The descriptor's one deflate setting, `<permessage-deflate>`, turns negotiation on or
/// off; the windows, context takeover and level the server allows are
/// [`DeflateParams::default`] (no descriptor element sets them), which an offer can narrow.
fn negotiate(
    headers: &HeaderMap,
    handshake: &Handshake<'_>,
    supported: &[String],
    settings: &ContextSettings,
) -> Agreement {
    let subprotocol = handshake::choose_subprotocol(&handshake.offered_subprotocols, supported);
    let policy = settings.permessage_deflate.then(DeflateParams::default);
    let deflate = policy.and_then(|policy| {
        let offers = headers.get_all(header::SEC_WEBSOCKET_EXTENSIONS).iter();
        codec::negotiate_deflate(offers.filter_map(|v| v.to_str().ok()), &policy)
    });
    Agreement {
        subprotocol,
        deflate,
    }
}

/// The 101 for a handshake with `key` and what was `agreed`.
fn answer(key: &str, agreed: &Agreement) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    let accept = handshake::accept_key(key);
    headers.insert(header::SEC_WEBSOCKET_ACCEPT, header_value(accept));
    if let Some(protocol) = &agreed.subprotocol {
        headers.insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            header_value(protocol.clone()),
        );
    }
    if let Some((extensions, _)) = &agreed.deflate {
        headers.insert(
            header::SEC_WEBSOCKET_EXTENSIONS,
            header_value(extensions.clone()),
        );
    }
    response
}

/// A header value made of text that is valid in one: base64, our own extension parameters,
/// a token the client sent in a valid header value.
fn header_value(text: String) -> HeaderValue {
    HeaderValue::try_from(text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// 503 for a context that takes no more sessions now.
fn unavailable(why: Unavailable) -> Refusal {
    Refusal {
        status: StatusCode::SERVICE_UNAVAILABLE,
        reason: why.reason(),
    }
}

/// What the session is told about its request: only this much of it outlives the handshake.
fn opening<B>(
    request: &Request<B>,
    endpoint: EndpointMatch,
    agreed: &Agreement,
    peer: SocketAddr,
    remote: RemoteAddress,
) -> Opening {
    Opening {
        endpoint: u32::try_from(endpoint.endpoint).unwrap_or(u32::MAX),
        path: request.uri().path().to_owned(),
        query: request.uri().query().unwrap_or_default().to_owned(),
        path_params: endpoint.params,
        headers: header_pairs(request.headers()),
        subprotocol: agreed.subprotocol.clone(),
        peer,
        remote,
        deflate: agreed.deflate.as_ref().map(|(_, params)| *params),
        properties: Vec::new(),
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

/// Waits for hyper to switch protocols, then starts the session in a task of its own: its
/// future then carries none of the handshake's data (an idle session's memory is mostly that
/// future).
async fn hand_over(
    on_upgrade: OnUpgrade,
    context: Arc<Context>,
    opening: Opening,
    admission: Admission,
) {
    let upgraded = match on_upgrade.await {
        Ok(upgraded) => upgraded,
        Err(error) => {
            tracing::debug!(%error, "upgrade failed after 101");
            return;
        }
    };
    // The TCP socket itself, so that plugin threads can write to it (see `session::socket`);
    // hyper always hands back the stream it was given.
    match upgraded.downcast::<TokioIo<TcpStream>>() {
        Ok(parts) => {
            let socket = SharedSocket::new(parts.io.into_inner());
            // Copied out, so that hyper's read buffer (which `read_buf` slices) is freed
            // with this task.
            let io = SocketIo::new(Arc::clone(&socket), &parts.read_buf);
            tokio::spawn(context.start_session(io, Some(socket), opening, admission));
        }
        Err(upgraded) => {
            let io = TokioIo::new(upgraded);
            tokio::spawn(context.start_session(io, None, opening, admission));
        }
    }
}
