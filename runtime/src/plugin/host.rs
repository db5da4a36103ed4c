//! The host services a plugin calls: the [`HostApi`] table and its `extern "C"` functions.
//!
//! `host_ctx` is the address of the context's [`Hub`] (leaked on purpose: a plugin
//! may call after undeploy, and then gets `NO_SUCH_SESSION`, never a dangling pointer).
//! Every service copies what it is lent before returning, looks sessions up by id (a stale
//! id is simply not found), and catches panics so none unwinds into the plugin.

#![allow(unsafe_code)]

use std::ffi::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use endpoint_api::CloseReason;
use endpoint_api::abi::{
    ABI_VERSION, Bytes as AbiBytes, HostApi, HostCtx, SessionIds, Status, WriteFn, log_level,
    message_kind, send_mode,
};

use crate::codec::{self, Outbound};
use crate::session::{Closure, Command, Completion, Hub, Payload, SendError, Sent, SessionHandle};

static HOST_VERSION: &str = concat!("berth ", env!("CARGO_PKG_VERSION"));

static HOST_API: HostApi = HostApi {
    size: std::mem::size_of::<HostApi>(),
    abi_version: ABI_VERSION,
    reserved: 0,
    host_version: AbiBytes::from_static(HOST_VERSION),
    log: Some(log),
    send: Some(send),
    send_many: Some(send_many),
    close: Some(close),
    property_get: Some(property_get),
    property_set: Some(property_set),
    property_remove: Some(property_remove),
    property_keys: Some(property_keys),
    set_idle_timeout: Some(set_idle_timeout),
    set_batching: Some(set_batching),
    flush: Some(flush),
    endpoint_sessions: Some(endpoint_sessions),
};

/// The host's service table, valid for the life of the process.
pub(crate) fn host_api() -> &'static HostApi {
    &HOST_API
}

/// The `host_ctx` for a context: a reference the plugin may hold forever.
pub(crate) fn host_context(hub: Arc<Hub>) -> HostCtx {
    Arc::into_raw(hub).cast::<c_void>()
}

/// The ABI's status for what became of a send.
pub(crate) fn status_of(sent: Sent) -> Status {
    match sent {
        Ok(()) => Status::OK,
        Err(SendError::QueueFull) => Status::QUEUE_FULL,
        Err(SendError::Closed) => Status::CLOSED,
        Err(SendError::TimedOut) => Status::TIMEOUT,
    }
}

/// Runs a service body with the context, turning a panic into `INTERNAL`.
fn with_context(ctx: HostCtx, body: impl FnOnce(&Hub) -> Status) -> Status {
    if ctx.is_null() {
        return Status::INVALID_ARGUMENT;
    }
    // SAFETY: `ctx` came from `host_context`, whose `Arc` is never released.
    let hub = unsafe { &*ctx.cast::<Hub>() };
    catch_unwind(AssertUnwindSafe(|| body(hub))).unwrap_or(Status::INTERNAL)
}

fn with_session(
    ctx: HostCtx,
    session: u64,
    body: impl FnOnce(&Hub, &SessionHandle) -> Status,
) -> Status {
    with_context(ctx, |hub| match hub.sessions().get(session) {
        Some(handle) => body(hub, &handle),
        None => Status::NO_SUCH_SESSION,
    })
}

/// The lent bytes as a slice, for the duration of a service call.
fn lent<'a>(bytes: AbiBytes) -> &'a [u8] {
    // SAFETY: the ABI lends `bytes` for the duration of the call, which outlives every use.
    unsafe { bytes.as_slice() }
}

fn lent_str<'a>(bytes: AbiBytes) -> Option<&'a str> {
    std::str::from_utf8(lent(bytes)).ok()
}

fn frame(kind: u32, data: AbiBytes) -> Option<Outbound> {
    let payload = bytes::Bytes::copy_from_slice(lent(data));
    match kind {
        message_kind::TEXT => Outbound::text(payload),
        message_kind::BINARY => Some(Outbound::Binary(payload)),
        message_kind::PING if payload.len() <= 125 => Some(Outbound::Ping(payload)),
        message_kind::PONG if payload.len() <= 125 => Some(Outbound::Pong(payload)),
        _ => None,
    }
}

unsafe extern "C" fn log(ctx: HostCtx, session: u64, level: u32, message: AbiBytes) {
    let _ = with_context(ctx, |hub| {
        let text = String::from_utf8_lossy(lent(message));
        let context = hub.name();
        match level {
            log_level::ERROR => tracing::error!(context, session, "plugin: {text}"),
            log_level::WARN => tracing::warn!(context, session, "plugin: {text}"),
            log_level::INFO => tracing::info!(context, session, "plugin: {text}"),
            log_level::DEBUG => tracing::debug!(context, session, "plugin: {text}"),
            _ => tracing::trace!(context, session, "plugin: {text}"),
        }
        Status::OK
    });
}

unsafe extern "C" fn send(
    ctx: HostCtx,
    session: u64,
    kind: u32,
    data: AbiBytes,
    mode: u32,
    token: u64,
) -> Status {
    with_session(ctx, session, |hub, handle| {
        let timeout = hub.settings().send.blocking;
        match (mode, kind) {
            // The common sends borrow the plugin's bytes: a direct write copies nothing.
            (send_mode::BLOCKING, message_kind::TEXT) => match lent_str(data) {
                Some(text) => status_of(handle.send_blocking_lent(Payload::Text(text), timeout)),
                None => Status::INVALID_ARGUMENT,
            },
            (send_mode::BLOCKING, message_kind::BINARY) => {
                status_of(handle.send_blocking_lent(Payload::Binary(lent(data)), timeout))
            }
            _ => send_copied(hub, handle, kind, data, mode, token),
        }
    })
}

fn send_copied(
    hub: &Hub,
    handle: &SessionHandle,
    kind: u32,
    data: AbiBytes,
    mode: u32,
    token: u64,
) -> Status {
    let Some(frame) = frame(kind, data) else {
        return Status::INVALID_ARGUMENT;
    };
    let timeouts = &hub.settings().send;
    match mode {
        send_mode::BLOCKING => status_of(handle.send_blocking(frame, timeouts.blocking)),
        send_mode::ASYNC => {
            status_of(handle.send_async(frame, Completion::Async(token), timeouts.asynchronous))
        }
        _ => Status::INVALID_ARGUMENT,
    }
}

unsafe extern "C" fn send_many(
    ctx: HostCtx,
    sessions: SessionIds,
    kind: u32,
    data: AbiBytes,
) -> Status {
    with_context(ctx, |hub| {
        let Some(frame) = frame(kind, data) else {
            return Status::INVALID_ARGUMENT;
        };
        // Data frames are encoded once; every recipient shares the bytes (`Bytes` clones
        // are reference counts). Sessions with permessage-deflate compress their own copy.
        let encoded = match kind {
            message_kind::TEXT => Some(codec::encode_data_frame(true, lent(data))),
            message_kind::BINARY => Some(codec::encode_data_frame(false, lent(data))),
            _ => None,
        };
        // SAFETY: the ids are lent for the duration of the call.
        let ids = unsafe { sessions.as_slice() };
        for id in ids {
            let Some(handle) = hub.sessions().get(*id) else {
                continue;
            };
            match &encoded {
                Some(encoded) if !handle.compresses => {
                    handle.send_broadcast(Outbound::Encoded(encoded.clone()));
                }
                _ => handle.send_broadcast(frame.clone()),
            }
        }
        Status::OK
    })
}

unsafe extern "C" fn close(ctx: HostCtx, session: u64, code: u16, reason: AbiBytes) -> Status {
    with_session(ctx, session, |_, handle| {
        let reason = String::from_utf8_lossy(lent(reason));
        let Ok(close) = CloseReason::new(code, reason) else {
            return Status::INVALID_ARGUMENT;
        };
        handle.close(Closure::EndpointClose(close));
        Status::OK
    })
}

unsafe extern "C" fn property_get(
    ctx: HostCtx,
    session: u64,
    key: AbiBytes,
    out: *mut c_void,
    write: WriteFn,
) -> Status {
    with_session(ctx, session, |_, handle| {
        let Some(key) = lent_str(key) else {
            return Status::INVALID_ARGUMENT;
        };
        match handle.property(key) {
            Some(value) => {
                // SAFETY: the plugin's writer copies the chunk during the call.
                unsafe { write(out, AbiBytes::from(value.as_ref())) };
                Status::OK
            }
            None => Status::NOT_FOUND,
        }
    })
}

unsafe extern "C" fn property_set(
    ctx: HostCtx,
    session: u64,
    key: AbiBytes,
    value: AbiBytes,
) -> Status {
    with_session(ctx, session, |_, handle| {
        let Some(key) = lent_str(key) else {
            return Status::INVALID_ARGUMENT;
        };
        if serde_json::from_slice::<serde::de::IgnoredAny>(lent(value)).is_err() {
            return Status::INVALID_ARGUMENT;
        }
        handle.set_property(key.to_owned(), bytes::Bytes::copy_from_slice(lent(value)));
        Status::OK
    })
}

unsafe extern "C" fn property_remove(ctx: HostCtx, session: u64, key: AbiBytes) -> Status {
    with_session(ctx, session, |_, handle| match lent_str(key) {
        Some(key) if handle.remove_property(key) => Status::OK,
        Some(_) => Status::NOT_FOUND,
        None => Status::INVALID_ARGUMENT,
    })
}

unsafe extern "C" fn property_keys(
    ctx: HostCtx,
    session: u64,
    out: *mut c_void,
    write: WriteFn,
) -> Status {
    with_session(ctx, session, |_, handle| {
        for key in handle.property_keys() {
            // SAFETY: the plugin's writer copies the chunk during the call.
            unsafe { write(out, AbiBytes::from(key.as_str())) };
        }
        Status::OK
    })
}

unsafe extern "C" fn set_idle_timeout(ctx: HostCtx, session: u64, millis: i64) -> Status {
    with_session(ctx, session, |_, handle| {
        handle.set_idle_override(millis);
        Status::OK
    })
}

unsafe extern "C" fn set_batching(ctx: HostCtx, session: u64, enabled: u32) -> Status {
    with_session(ctx, session, |_, handle| {
        // At once for this thread's next send, which must not be written directly.
        handle.outbox.set_batching(enabled != 0);
        handle.request(Command::SetBatching(enabled != 0));
        Status::OK
    })
}

unsafe extern "C" fn flush(ctx: HostCtx, session: u64) -> Status {
    with_session(ctx, session, |_, handle| {
        handle.request(Command::Flush);
        Status::OK
    })
}

unsafe extern "C" fn endpoint_sessions(
    ctx: HostCtx,
    endpoint: u32,
    out: *mut c_void,
    write: WriteFn,
) -> Status {
    with_context(ctx, |hub| {
        let ids = hub.sessions().of_endpoint(endpoint);
        let bytes: Vec<u8> = ids.iter().flat_map(|id| id.to_ne_bytes()).collect();
        // SAFETY: the plugin's writer copies the chunk during the call.
        unsafe { write(out, AbiBytes::from(bytes.as_slice())) };
        Status::OK
    })
}
