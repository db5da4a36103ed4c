//! A fake host built from `extern "C"` functions, and a deployed plugin driven through its
//! table, as the runtime's loader drives a `cdylib`.

use std::collections::HashMap;
use std::ffi::c_void;
use std::mem::size_of;
use std::ptr;
use std::sync::Mutex;

use super::super::*;
use super::berth_plugin_entry;

/// What the fake host saw.
#[derive(Default)]
pub(super) struct FakeHost {
    pub(super) logs: Mutex<Vec<(u64, u32, String)>>,
    pub(super) sends: Mutex<Vec<(u64, u32, String)>>,
    pub(super) closes: Mutex<Vec<(u64, u16, String)>>,
    pub(super) properties: Mutex<HashMap<(u64, String), String>>,
    pub(super) open: Mutex<Vec<u64>>,
    /// The tokens of async sends.
    pub(super) tokens: Mutex<Vec<u64>>,
}

/// The fake host behind a `host_ctx`.
///
/// # Safety
/// `ctx` is a `&FakeHost` that outlives the call.
unsafe fn fake<'a>(ctx: HostCtx) -> &'a FakeHost {
    // SAFETY: the caller's contract.
    unsafe { &*ctx.cast::<FakeHost>() }
}

unsafe extern "C" fn fake_log(ctx: HostCtx, session: u64, level: u32, message: Bytes) {
    // SAFETY: test contract: ctx is a live FakeHost, message valid for the call.
    let (host, text) = unsafe { (fake(ctx), message.to_string_lossy()) };
    host.logs.lock().unwrap().push((session, level, text));
}

unsafe extern "C" fn fake_send(
    ctx: HostCtx,
    session: u64,
    kind: u32,
    data: Bytes,
    mode: u32,
    token: u64,
) -> Status {
    // SAFETY: as above.
    let (host, text) = unsafe { (fake(ctx), data.to_string_lossy()) };
    if !host.open.lock().unwrap().contains(&session) {
        return Status::NO_SUCH_SESSION;
    }
    if mode == send_mode::ASYNC {
        host.tokens.lock().unwrap().push(token);
    }
    host.sends.lock().unwrap().push((session, kind, text));
    Status::OK
}

unsafe extern "C" fn fake_send_many(
    ctx: HostCtx,
    ids: SessionIds,
    kind: u32,
    data: Bytes,
) -> Status {
    // SAFETY: as above.
    let (host, ids, text) = unsafe { (fake(ctx), ids.as_slice(), data.to_string_lossy()) };
    let mut sends = host.sends.lock().unwrap();
    sends.extend(ids.iter().map(|id| (*id, kind, text.clone())));
    Status::OK
}

unsafe extern "C" fn fake_close(ctx: HostCtx, session: u64, code: u16, reason: Bytes) -> Status {
    // SAFETY: as above.
    let (host, reason) = unsafe { (fake(ctx), reason.to_string_lossy()) };
    host.closes.lock().unwrap().push((session, code, reason));
    Status::OK
}

unsafe extern "C" fn fake_property_get(
    ctx: HostCtx,
    session: u64,
    key: Bytes,
    out: *mut c_void,
    write: WriteFn,
) -> Status {
    // SAFETY: as above.
    let (host, key) = unsafe { (fake(ctx), key.to_string_lossy()) };
    let properties = host.properties.lock().unwrap();
    let Some(value) = properties.get(&(session, key)) else {
        return Status::NOT_FOUND;
    };
    // Two chunks, to check that the SDK concatenates them.
    let (head, tail) = value.split_at(value.len() / 2);
    // SAFETY: `write` and `out` come from the SDK for this call.
    unsafe {
        write(out, Bytes::from(head));
        write(out, Bytes::from(tail));
    }
    Status::OK
}

unsafe extern "C" fn fake_property_set(
    ctx: HostCtx,
    session: u64,
    key: Bytes,
    value: Bytes,
) -> Status {
    // SAFETY: as above.
    let (host, key, value) = unsafe { (fake(ctx), key.to_string_lossy(), value.to_string_lossy()) };
    host.properties
        .lock()
        .unwrap()
        .insert((session, key), value);
    Status::OK
}

unsafe extern "C" fn fake_endpoint_sessions(
    ctx: HostCtx,
    _endpoint: u32,
    out: *mut c_void,
    write: WriteFn,
) -> Status {
    // SAFETY: as above.
    let host = unsafe { fake(ctx) };
    let raw: Vec<u8> = host
        .open
        .lock()
        .unwrap()
        .iter()
        .flat_map(|id| id.to_ne_bytes())
        .collect();
    // SAFETY: `write` and `out` come from the SDK for this call.
    unsafe { write(out, Bytes::from(raw.as_slice())) };
    Status::OK
}

/// A host table with the services above (others missing), cut to `size` bytes.
pub(super) fn host_api(size: usize) -> HostApi {
    HostApi {
        size,
        abi_version: ABI_VERSION,
        reserved: 0,
        host_version: Bytes::from_static("fake-host 0"),
        log: Some(fake_log),
        send: Some(fake_send),
        send_many: Some(fake_send_many),
        close: Some(fake_close),
        property_get: Some(fake_property_get),
        property_set: Some(fake_property_set),
        property_remove: None,
        property_keys: None,
        set_idle_timeout: None,
        set_batching: None,
        flush: None,
        endpoint_sessions: Some(fake_endpoint_sessions),
    }
}

/// One deployed context of the test plugin, driven through the table.
pub(super) struct Deployed {
    table: PluginApi,
    instance: InstancePtr,
}

impl Deployed {
    pub(super) fn new(host: &FakeHost, api: &HostApi, params: &[(&str, &str)]) -> Option<Deployed> {
        let pairs: Vec<Pair> = params
            .iter()
            .map(|(k, v)| Pair {
                name: Bytes::from(*k),
                value: Bytes::from(*v),
            })
            .collect();
        // SAFETY: the entry returns a static table; `read_table` copies it.
        let table = unsafe { read_table(berth_plugin_entry(api)) }.unwrap();
        let ctx = ptr::from_ref(host).cast::<c_void>();
        // SAFETY: host and api outlive the instance in every test; pairs live for the call.
        let instance = unsafe { table.create.unwrap()(ctx, api, Pairs::from_slice(&pairs)) };
        (!instance.is_null()).then_some(Deployed { table, instance })
    }

    /// Calls `on_handshake` for a request with `query`; the status and what was written.
    pub(super) fn handshake(&self, endpoint: u32, query: &str) -> (Status, String) {
        let handshake = handshake_ref("/x", query, &[], &[]);
        let mut out = Vec::<u8>::new();
        // SAFETY: a live instance; the handshake and `out` live for the call.
        let status = unsafe {
            self.table.on_handshake.unwrap()(
                self.instance,
                endpoint,
                &handshake,
                (&raw mut out).cast(),
                collect,
            )
        };
        (status, String::from_utf8(out).unwrap())
    }

    pub(super) fn deploy(&self) -> Status {
        // SAFETY: a live instance.
        unsafe { self.table.on_deploy.unwrap()(self.instance) }
    }

    pub(super) fn undeploy(&self, reason: u32) -> Status {
        // SAFETY: a live instance.
        unsafe { self.table.on_undeploy.unwrap()(self.instance, reason) }
    }

    pub(super) fn complete(&self, session: u64, token: u64, status: Status) -> Status {
        // SAFETY: a live instance.
        unsafe { self.table.on_send_complete.unwrap()(self.instance, 0, session, token, status) }
    }

    pub(super) fn open(
        &self,
        host: &FakeHost,
        endpoint: u32,
        session: u64,
        query: &str,
        header: (&str, &str),
    ) -> Status {
        host.open.lock().unwrap().push(session);
        let headers = [Pair {
            name: Bytes::from(header.0),
            value: Bytes::from(header.1),
        }];
        let params = [Pair {
            name: Bytes::from("room"),
            value: Bytes::from("lobby"),
        }];
        let handshake = handshake_ref("/x", query, &params, &headers);
        // SAFETY: a live instance; the handshake lives for the call.
        unsafe { self.table.on_open.unwrap()(self.instance, endpoint, session, &handshake) }
    }

    pub(super) fn text(&self, endpoint: u32, session: u64, text: &str) -> Status {
        // SAFETY: a live instance; the text lives for the call.
        unsafe { self.table.on_text.unwrap()(self.instance, endpoint, session, Bytes::from(text)) }
    }

    pub(super) fn close(&self, session: u64, code: u16, cause: u32) -> Status {
        // SAFETY: a live instance.
        unsafe {
            self.table.on_close.unwrap()(self.instance, 0, session, code, Bytes::from("bye"), cause)
        }
    }
}

/// A handshake view over borrowed parts.
fn handshake_ref(path: &str, query: &str, params: &[Pair], headers: &[Pair]) -> HandshakeRef {
    HandshakeRef {
        size: size_of::<HandshakeRef>(),
        path: Bytes::from(path),
        query: Bytes::from(query),
        path_params: Pairs::from_slice(params),
        headers: Pairs::from_slice(headers),
        subprotocol: Bytes::EMPTY,
        remote_addr: Bytes::from("192.0.2.1:4000"),
        flags: 0,
    }
}

/// Appends a chunk to the `Vec<u8>` behind `out`.
unsafe extern "C" fn collect(out: *mut c_void, chunk: Bytes) {
    // SAFETY: `out` is the test's `Vec<u8>`, the chunk valid for the call.
    unsafe { (*out.cast::<Vec<u8>>()).extend_from_slice(chunk.as_slice()) }
}

impl Drop for Deployed {
    fn drop(&mut self) {
        // SAFETY: created by `create`, destroyed once.
        unsafe { self.table.destroy.unwrap()(self.instance) }
    }
}
