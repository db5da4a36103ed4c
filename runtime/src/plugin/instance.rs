//! One plugin instance (one per deployed context) and safe calls into its callbacks.
//!
//! Every call copies nothing: payloads are lent to the plugin for the duration of the call
//! as `(ptr, len)`. A callback the plugin's table lacks (an older minor) falls back to the
//! default behaviour: accept on open, ignore everything else. Calls may come from any pool
//! thread; the SDK's contract makes the instance `Sync`.

#![allow(unsafe_code)]

use std::collections::BTreeMap;

use endpoint_api::abi::{
    Bytes, EndpointDecl, HandshakeRef, HostApi, HostCtx, InstancePtr as Instance, Pair, Pairs,
    PluginApi, Status, error_kind, undeploy_reason,
};

use super::loader::{LoadError, LoadProblem, PluginLibrary};
use super::verdict;
use crate::session::{
    Acceptance, Callbacks, Cause, Decision, Departure, ErrorKind, OpenInfo, Opening, Outcome, Sent,
};

/// What a plugin declared for one endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointInfo {
    /// The path template below the context path, such as `/rooms/{room}`.
    pub template: String,
    /// Subprotocols it supports, in its order of preference.
    pub subprotocols: Vec<String>,
}

/// A created plugin instance.
#[derive(Debug)]
pub(crate) struct PluginInstance {
    api: PluginApi,
    instance: Instance,
    endpoints: Vec<EndpointInfo>,
}

// SAFETY: the ABI requires instances to be usable from any thread, concurrently (the SDK's
// `Endpoint: Send + Sync`); the table is plain data.
unsafe impl Send for PluginInstance {}
// SAFETY: as above.
unsafe impl Sync for PluginInstance {}

impl PluginInstance {
    /// Reads the endpoint declarations and creates the instance for one context.
    pub(crate) fn create(
        library: &PluginLibrary,
        host: &'static HostApi,
        host_ctx: HostCtx,
        init_params: &BTreeMap<String, String>,
    ) -> Result<PluginInstance, LoadError> {
        let bad = |reason: String| LoadError::new(&library.file, LoadProblem::BadTable(reason));
        let pairs: Vec<Pair> = init_params
            .iter()
            .map(|(name, value)| Pair {
                name: Bytes::from(name.as_str()),
                value: Bytes::from(value.as_str()),
            })
            .collect();
        let create = library
            .api
            .create
            .ok_or_else(|| bad("no create callback".into()))?;
        // SAFETY: `host` is 'static; `pairs` outlives the call; the plugin follows the ABI.
        let instance = unsafe { create(host_ctx, host, Pairs::from_slice(&pairs)) };
        if instance.is_null() {
            return Err(bad(
                "create failed (its reason was logged by the plugin)".into()
            ));
        }
        Ok(PluginInstance {
            api: library.api,
            instance,
            endpoints: library.endpoints.clone(),
        })
    }

    /// The declared endpoints, by index.
    pub(crate) fn endpoints(&self) -> &[EndpointInfo] {
        &self.endpoints
    }

    /// A data callback (text, binary, pong), or the default when the table lacks it.
    fn data(
        &self,
        callback: Option<endpoint_api::abi::OnDataFn>,
        endpoint: u32,
        session: u64,
        data: &[u8],
    ) -> Status {
        match callback {
            // SAFETY: `data` lives until the call returns.
            Some(callback) => unsafe {
                callback(self.instance, endpoint, session, Bytes::from(data))
            },
            None => Status::OK,
        }
    }
}

/// The runtime's view of a status a callback returned.
fn outcome(status: Status) -> Outcome {
    match status {
        Status::OK => Outcome::Done,
        Status::REJECTED => Outcome::Refused,
        failed => Outcome::Failed(failed.name()),
    }
}

fn to_pairs(items: &[(String, String)]) -> Vec<Pair> {
    items
        .iter()
        .map(|(n, v)| Pair {
            name: Bytes::from(n.as_str()),
            value: Bytes::from(v.as_str()),
        })
        .collect()
}

/// The ABI's code for an error kind.
fn error_kind_code(kind: ErrorKind) -> u32 {
    match kind {
        ErrorKind::Protocol => error_kind::PROTOCOL,
        ErrorKind::InvalidUtf8 => error_kind::INVALID_UTF8,
        ErrorKind::MessageTooBig => error_kind::MESSAGE_TOO_BIG,
        ErrorKind::EndpointFailure => error_kind::ENDPOINT_PANIC,
    }
}

impl Callbacks for PluginInstance {
    fn decides_handshakes(&self) -> bool {
        self.api.on_handshake.is_some()
    }

    fn on_handshake(&self, endpoint: u32, opening: &Opening) -> Decision {
        let Some(callback) = self.api.on_handshake else {
            return Decision::Accept(Acceptance::default());
        };
        let params = to_pairs(&opening.path_params);
        let headers = to_pairs(&opening.headers);
        let remote = opening.remote.to_text();
        let handshake = HandshakeRef {
            size: std::mem::size_of::<HandshakeRef>(),
            path: Bytes::from(opening.path.as_str()),
            query: Bytes::from(opening.query.as_str()),
            path_params: Pairs::from_slice(&params),
            headers: Pairs::from_slice(&headers),
            subprotocol: Bytes::from(""),
            remote_addr: Bytes::from(remote.as_str()),
            flags: 0,
        };
        let mut written: Vec<u8> = Vec::new();
        let out = std::ptr::from_mut(&mut written).cast::<std::ffi::c_void>();
        // SAFETY: everything lent lives until the call returns; `collect` appends to
        // `written`, which outlives the call.
        let status =
            unsafe { callback(self.instance, endpoint, &handshake, out, verdict::collect) };
        verdict::decide(status, &written)
    }

    fn on_deploy(&self) -> Outcome {
        match self.api.on_deploy {
            // SAFETY: the instance from `create`, not destroyed.
            Some(callback) => outcome(unsafe { callback(self.instance) }),
            None => Outcome::Done,
        }
    }

    fn on_undeploy(&self, departure: Departure) -> Outcome {
        let reason = match departure {
            Departure::Undeploy => undeploy_reason::UNDEPLOY,
            Departure::Redeploy => undeploy_reason::REDEPLOY,
            Departure::Shutdown => undeploy_reason::SHUTDOWN,
        };
        match self.api.on_undeploy {
            // SAFETY: as above.
            Some(callback) => outcome(unsafe { callback(self.instance, reason) }),
            None => Outcome::Done,
        }
    }

    fn on_open(&self, endpoint: u32, session: u64, info: &OpenInfo) -> Outcome {
        let Some(callback) = self.api.on_open else {
            return Outcome::Done;
        };
        let params = to_pairs(&info.path_params);
        let headers = to_pairs(&info.headers);
        let handshake = HandshakeRef {
            size: std::mem::size_of::<HandshakeRef>(),
            path: Bytes::from(info.path.as_str()),
            query: Bytes::from(info.query.as_str()),
            path_params: Pairs::from_slice(&params),
            headers: Pairs::from_slice(&headers),
            subprotocol: Bytes::from(info.subprotocol.as_str()),
            remote_addr: Bytes::from(info.remote_addr.as_str()),
            flags: 0,
        };
        // SAFETY: everything lent lives until the call returns.
        outcome(unsafe { callback(self.instance, endpoint, session, &handshake) })
    }

    fn on_text(&self, endpoint: u32, session: u64, data: &[u8]) -> Outcome {
        outcome(self.data(self.api.on_text, endpoint, session, data))
    }

    fn on_binary(&self, endpoint: u32, session: u64, data: &[u8]) -> Outcome {
        outcome(self.data(self.api.on_binary, endpoint, session, data))
    }

    fn on_pong(&self, endpoint: u32, session: u64, data: &[u8]) -> Outcome {
        outcome(self.data(self.api.on_pong, endpoint, session, data))
    }

    fn on_error(&self, endpoint: u32, session: u64, kind: ErrorKind, message: &str) -> Outcome {
        let Some(callback) = self.api.on_error else {
            return Outcome::Done;
        };
        let kind = error_kind_code(kind);
        // SAFETY: `message` lives until the call returns.
        outcome(unsafe { callback(self.instance, endpoint, session, kind, Bytes::from(message)) })
    }

    fn on_send_complete(&self, endpoint: u32, session: u64, token: u64, sent: Sent) -> Outcome {
        let Some(callback) = self.api.on_send_complete else {
            return Outcome::Done;
        };
        let status = super::host::status_of(sent);
        // SAFETY: plain values.
        outcome(unsafe { callback(self.instance, endpoint, session, token, status) })
    }

    fn on_close(
        &self,
        endpoint: u32,
        session: u64,
        code: u16,
        reason: &str,
        cause: Cause,
    ) -> Outcome {
        let Some(callback) = self.api.on_close else {
            return Outcome::Done;
        };
        let (reason, cause) = (Bytes::from(reason), cause.to_raw());
        // SAFETY: `reason` lives until the call returns.
        outcome(unsafe { callback(self.instance, endpoint, session, code, reason, cause) })
    }
}

pub(super) fn read_endpoints(api: &PluginApi) -> Result<Vec<EndpointInfo>, String> {
    if api.endpoint_count == 0 || api.endpoints.is_null() {
        return Err("the plugin declares no endpoint".into());
    }
    if api.endpoint_count > 1024 {
        return Err(format!(
            "the plugin declares {} endpoints; at most 1024",
            api.endpoint_count
        ));
    }
    // SAFETY: the plugin's static declarations: `endpoint_count` valid elements.
    let declarations: &[EndpointDecl] =
        unsafe { std::slice::from_raw_parts(api.endpoints, api.endpoint_count) };
    declarations
        .iter()
        .map(|declaration| {
            // SAFETY: static UTF-8 in the plugin.
            let template = unsafe { declaration.path_template.to_string_lossy() };
            if !template.starts_with('/') {
                return Err(format!(
                    "endpoint path template {template:?} must start with /"
                ));
            }
            // SAFETY: static array of static strings in the plugin.
            let subprotocols = unsafe { declaration.subprotocols.as_slice() }
                .iter()
                // SAFETY: as above.
                .map(|p| unsafe { p.to_string_lossy() })
                .collect();
            Ok(EndpointInfo {
                template,
                subprotocols,
            })
        })
        .collect()
}
