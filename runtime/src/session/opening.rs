//! What a session starts from: the accepted handshake as the listener hands it over
//! ([`Opening`]), the client's address as the endpoint is told it ([`RemoteAddress`]), and what
//! the session keeps of them — `on_open`'s view of the handshake and the JEUS remote-address
//! user properties. Only this much of the request outlives the handshake.

use std::net::{IpAddr, SocketAddr};

use bytes::Bytes;

use super::job::OpenInfo;
use super::properties::Properties;
use crate::codec::DeflateParams;

/// The client as reported to the endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RemoteAddress {
    /// The client's IP address (also its host: Berth does no reverse lookups); `None` when a
    /// trusted proxy hides it (`unknown` or an obfuscated identifier).
    pub(crate) addr: Option<IpAddr>,
    /// The client's port, when known; never without an address.
    pub(crate) port: Option<u16>,
}

impl RemoteAddress {
    /// A client a trusted proxy does not name.
    pub(crate) const HIDDEN: RemoteAddress = RemoteAddress {
        addr: None,
        port: None,
    };

    /// The socket peer as the client (its port only when `> 0`).
    pub(crate) fn of_socket(peer: SocketAddr) -> Self {
        RemoteAddress {
            addr: Some(peer.ip().to_canonical()),
            port: (peer.port() > 0).then_some(peer.port()),
        }
    }

    /// `ip:port`, `ip` without a known port, or nothing when a proxy hides the client.
    pub(crate) fn to_text(&self) -> String {
        match (self.addr, self.port) {
            (Some(ip), Some(port)) => SocketAddr::new(ip, port).to_string(),
            (Some(ip), None) => ip.to_string(),
            (None, _) => String::new(),
        }
    }
}

/// A handshake the listener accepted, as a session starts from it.
#[derive(Debug)]
pub(crate) struct Opening {
    /// The index of the endpoint in the plugin's declarations.
    pub(crate) endpoint: u32,
    pub(crate) path: String,
    pub(crate) query: String,
    pub(crate) path_params: Vec<(String, String)>,
    /// The request headers, names lower-case, values as received (lossy UTF-8).
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) subprotocol: Option<String>,
    /// The TCP peer (the proxy, behind one).
    pub(crate) peer: SocketAddr,
    /// The client, after trusted-proxy headers.
    pub(crate) remote: RemoteAddress,
    /// The negotiated permessage-deflate parameters, if any.
    pub(crate) deflate: Option<DeflateParams>,
    /// User properties the endpoint's `on_handshake` gave the session: key and JSON text.
    pub(crate) properties: Vec<(String, Bytes)>,
}

impl Opening {
    /// What `on_open` receives (consumes the handshake's data).
    pub(crate) fn into_open_info(self) -> OpenInfo {
        OpenInfo {
            remote_addr: self.remote.to_text(),
            path: self.path,
            query: self.query,
            path_params: self.path_params,
            headers: self.headers,
            subprotocol: self.subprotocol.unwrap_or_default(),
        }
    }

    /// The JEUS remote-address user properties: the client after trusted-proxy headers;
    /// none at all when a trusted proxy hides the client, no `remotePort` when the client's
    /// port is unknown. Strings, as JEUS stores them.
    pub(crate) fn remote_properties(&self) -> Properties {
        let json = |text: &str| Bytes::from(serde_json::Value::from(text).to_string());
        let given = self.properties.iter().cloned();
        let Some(addr) = self.remote.addr else {
            return Properties::from_entries(given);
        };
        let addr = addr.to_string();
        let port = self.remote.port.map(|port| {
            (
                "jeus.websocket.remotePort".to_owned(),
                json(&port.to_string()),
            )
        });
        // The host's own come last: they win over an endpoint's of the same name.
        Properties::from_entries(
            given.chain(
                [
                    ("jeus.websocket.remoteAddr".to_owned(), json(&addr)),
                    ("jeus.websocket.remoteHost".to_owned(), json(&addr)),
                ]
                .into_iter()
                .chain(port),
            ),
        )
    }
}
