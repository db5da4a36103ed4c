//! [`FfiHost`]: the [`Host`] trait over the host's C table.

use std::ffi::c_void;
use std::time::Duration;

use super::codes::send_mode;
use super::status::Status;
use super::tables::{HostApi, HostCtx, WriteFn};
use super::types::{Bytes, SessionIds};
use crate::close::CloseReason;
use crate::error::{HostError, SendError};
use crate::host::{Host, LogLevel, MessageKind, SendMode};
use crate::id::{EndpointId, SessionId};

/// The host's services for one deployed context: its `host_ctx` and a copy of its table
/// (missing services read as `None` and answer [`HostError::Unsupported`]).
pub(crate) struct FfiHost {
    ctx: HostCtx,
    api: HostApi,
}

// SAFETY: the ABI requires host services to accept their `host_ctx` from any thread,
// concurrently; the table is plain data.
unsafe impl Send for FfiHost {}
// SAFETY: as above.
unsafe impl Sync for FfiHost {}

impl FfiHost {
    pub(crate) fn new(ctx: HostCtx, api: HostApi) -> FfiHost {
        FfiHost { ctx, api }
    }

    /// Calls a service that writes chunks, collecting them with `write`.
    fn collect<T: Default>(
        &self,
        call: impl FnOnce(*mut c_void, WriteFn) -> Status,
        write: WriteFn,
    ) -> (Status, T) {
        let mut out = T::default();
        let status = call((&raw mut out).cast(), write);
        (status, out)
    }
}

/// Appends a chunk to the `Vec<u8>` behind `out`.
unsafe extern "C" fn append(out: *mut c_void, chunk: Bytes) {
    // SAFETY: `out` is the `Vec<u8>` the SDK passed for this very call (see `collect`), and
    // the chunk is valid for the call (ABI contract).
    unsafe { (*out.cast::<Vec<u8>>()).extend_from_slice(chunk.as_slice()) }
}

/// Pushes a chunk as one item onto the `Vec<String>` behind `out`.
unsafe extern "C" fn push(out: *mut c_void, chunk: Bytes) {
    // SAFETY: as for `append`, with a `Vec<String>`.
    unsafe { (*out.cast::<Vec<String>>()).push(chunk.to_string_lossy()) }
}

/// The ABI encoding of an idle timeout: `> 0` milliseconds, `0` for never.
fn idle_millis(timeout: Option<Duration>) -> i64 {
    match timeout {
        None => 0,
        Some(t) if t.is_zero() => 0,
        Some(t) => i64::try_from(t.as_millis().max(1)).unwrap_or(i64::MAX),
    }
}

impl Host for FfiHost {
    fn send(
        &self,
        session: SessionId,
        kind: MessageKind,
        data: &[u8],
        mode: SendMode,
    ) -> Result<(), SendError> {
        let send = self.api.send.ok_or(HostError::Unsupported)?;
        let (mode, token) = match mode {
            SendMode::Blocking => (send_mode::BLOCKING, 0),
            SendMode::Async(token) => (send_mode::ASYNC, token.raw()),
        };
        let data = Bytes::from_slice(data);
        // SAFETY: the host's service (ABI contract); `data` outlives the call.
        HostError::check(unsafe { send(self.ctx, session.raw(), kind.to_raw(), data, mode, token) })
    }

    fn send_many(
        &self,
        sessions: &[SessionId],
        kind: MessageKind,
        data: &[u8],
    ) -> Result<(), SendError> {
        let send_many = self.api.send_many.ok_or(HostError::Unsupported)?;
        // `SessionId` is `repr(transparent)` over `u64`.
        let ids = SessionIds {
            ptr: sessions.as_ptr().cast::<u64>(),
            len: sessions.len(),
        };
        let data = Bytes::from_slice(data);
        // SAFETY: the host's service; `ids` and `data` outlive the call.
        HostError::check(unsafe { send_many(self.ctx, ids, kind.to_raw(), data) })
    }

    fn close(&self, session: SessionId, reason: &CloseReason) -> Result<(), HostError> {
        let close = self.api.close.ok_or(HostError::Unsupported)?;
        let text = Bytes::from(reason.reason());
        // SAFETY: the host's service; `text` outlives the call.
        HostError::check(unsafe { close(self.ctx, session.raw(), reason.code(), text) })
    }

    fn property_get(&self, session: SessionId, key: &str) -> Result<Option<String>, HostError> {
        let get = self.api.property_get.ok_or(HostError::Unsupported)?;
        let key = Bytes::from(key);
        // SAFETY: the host's service; `key` and the buffer outlive the call.
        let call = |out, write| unsafe { get(self.ctx, session.raw(), key, out, write) };
        let (status, json): (_, Vec<u8>) = self.collect(call, append);
        if status == Status::NOT_FOUND {
            return Ok(None);
        }
        HostError::check(status)?;
        String::from_utf8(json)
            .map(Some)
            .map_err(|_| HostError::Internal)
    }

    fn property_set(&self, session: SessionId, key: &str, json: &str) -> Result<(), HostError> {
        let set = self.api.property_set.ok_or(HostError::Unsupported)?;
        let (key, value) = (Bytes::from(key), Bytes::from(json));
        // SAFETY: the host's service; `key` and `value` outlive the call.
        HostError::check(unsafe { set(self.ctx, session.raw(), key, value) })
    }

    fn property_remove(&self, session: SessionId, key: &str) -> Result<bool, HostError> {
        let remove = self.api.property_remove.ok_or(HostError::Unsupported)?;
        // SAFETY: the host's service; `key` outlives the call.
        let status = unsafe { remove(self.ctx, session.raw(), Bytes::from(key)) };
        if status == Status::NOT_FOUND {
            return Ok(false);
        }
        HostError::check(status).map(|()| true)
    }

    fn property_keys(&self, session: SessionId) -> Result<Vec<String>, HostError> {
        let keys = self.api.property_keys.ok_or(HostError::Unsupported)?;
        // SAFETY: the host's service; the buffer outlives the call.
        let call = |out, write| unsafe { keys(self.ctx, session.raw(), out, write) };
        let (status, keys) = self.collect(call, push);
        HostError::check(status).map(|()| keys)
    }

    fn set_idle_timeout(
        &self,
        session: SessionId,
        timeout: Option<Duration>,
    ) -> Result<(), HostError> {
        let set = self.api.set_idle_timeout.ok_or(HostError::Unsupported)?;
        // SAFETY: the host's service.
        HostError::check(unsafe { set(self.ctx, session.raw(), idle_millis(timeout)) })
    }

    fn set_batching(&self, session: SessionId, enabled: bool) -> Result<(), HostError> {
        let set = self.api.set_batching.ok_or(HostError::Unsupported)?;
        // SAFETY: the host's service.
        HostError::check(unsafe { set(self.ctx, session.raw(), u32::from(enabled)) })
    }

    fn flush(&self, session: SessionId) -> Result<(), HostError> {
        let flush = self.api.flush.ok_or(HostError::Unsupported)?;
        // SAFETY: the host's service.
        HostError::check(unsafe { flush(self.ctx, session.raw()) })
    }

    fn endpoint_sessions(&self, endpoint: EndpointId) -> Result<Vec<SessionId>, HostError> {
        let list = self.api.endpoint_sessions.ok_or(HostError::Unsupported)?;
        // SAFETY: the host's service; the buffer outlives the call.
        let call = |out, write| unsafe { list(self.ctx, endpoint.raw(), out, write) };
        let (status, raw): (_, Vec<u8>) = self.collect(call, append);
        HostError::check(status)?;
        if raw.len() % 8 != 0 {
            return Err(HostError::Internal);
        }
        let ids = raw.chunks_exact(8).map(|chunk| {
            let mut id = [0; 8];
            id.copy_from_slice(chunk);
            SessionId::from_raw(u64::from_ne_bytes(id))
        });
        Ok(ids.collect())
    }

    fn log(&self, session: Option<SessionId>, level: LogLevel, message: &str) {
        let Some(log) = self.api.log else { return };
        let session = session.map_or(0, SessionId::raw);
        // SAFETY: the host's service; `message` outlives the call.
        unsafe { log(self.ctx, session, level.to_raw(), Bytes::from(message)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_timeout_encoding() {
        assert_eq!(idle_millis(None), 0);
        assert_eq!(idle_millis(Some(Duration::ZERO)), 0);
        assert_eq!(idle_millis(Some(Duration::from_micros(10))), 1);
        assert_eq!(idle_millis(Some(Duration::from_secs(90))), 90_000);
        assert_eq!(idle_millis(Some(Duration::MAX)), i64::MAX);
    }
}
