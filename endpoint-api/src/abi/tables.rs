//! The two function tables, their function types, and the size-prefix reading rule.

use std::ffi::c_void;
use std::mem::{MaybeUninit, size_of};
use std::ptr;

use super::status::Status;
use super::types::{Bytes, EndpointDecl, HandshakeRef, Pairs, SessionIds};

/// Declares the ABI's type aliases (mostly function types) and the list of their definitions
/// for the layout fingerprint.
macro_rules! abi_fns {
    ($( $(#[$doc:meta])* $name:ident = $sig:ty; )*) => {
        $( $(#[$doc])* pub type $name = $sig; )*

        /// Every alias as `(name, definition)`, for the layout fingerprint.
        pub(crate) const ALL_ALIASES: &[(&str, &str)] = &[ $( (stringify!($name), stringify!($sig)), )* ];
    };
}

abi_fns! {
    /// The opaque per-context pointer the host passes to `create` and as the first argument
    /// of every host service. The plugin never dereferences it.
    HostCtx = *const c_void;
    /// The opaque plugin instance returned by `create` and passed to every plugin callback.
    /// The host never dereferences it.
    InstancePtr = *mut c_void;
    /// The writer through which the host returns variable-length results: the caller passes
    /// `out` (its own buffer, opaque to the callee) and `write`; the callee calls
    /// `write(out, chunk)` zero or more times during the call and never after it returns.
    /// The caller copies each chunk. What one chunk means is stated by each service.
    WriteFn = unsafe extern "C" fn(out: *mut c_void, chunk: Bytes);

    /// `berth_abi_version`: the exported symbol whose signature never changes.
    AbiVersionFn = extern "C" fn() -> u32;
    /// `berth_plugin_entry`: returns the plugin's static table. `host` may be null; the entry
    /// has no side effects. The returned pointer is valid for the life of the process.
    EntryFn = unsafe extern "C" fn(host: *const HostApi) -> *const PluginApi;

    /// Creates the plugin instance for one deployed context (null on failure, e.g. a factory
    /// panicked; the reason was logged through `host`). The SDK copies `*host` and
    /// `init_params` during the call; `host_ctx` must stay valid for the life of the process.
    CreateFn = unsafe extern "C" fn(host_ctx: HostCtx, host: *const HostApi, init_params: Pairs) -> InstancePtr;
    /// Destroys an instance after its last callback returned; called at most once.
    DestroyFn = unsafe extern "C" fn(instance: InstancePtr);
    /// A session was accepted on endpoint `endpoint` (an index into the declarations).
    /// `OK` accepts; anything else means the host must close the session (with the code the
    /// plugin passed to `close` for `REJECTED`, else 1011) and still deliver `on_close`.
    OnOpenFn = unsafe extern "C" fn(instance: InstancePtr, endpoint: u32, session: u64, handshake: *const HandshakeRef) -> Status;
    /// A whole text message (UTF-8), binary message or pong payload arrived.
    OnDataFn = unsafe extern "C" fn(instance: InstancePtr, endpoint: u32, session: u64, data: Bytes) -> Status;
    /// The session ended: exactly once per session that got `on_open`, last of its callbacks.
    OnCloseFn = unsafe extern "C" fn(instance: InstancePtr, endpoint: u32, session: u64, code: u16, reason: Bytes, cause: u32) -> Status;
    /// Something went wrong on the session (`kind` is an `error_kind` code).
    OnErrorFn = unsafe extern "C" fn(instance: InstancePtr, endpoint: u32, session: u64, kind: u32, message: Bytes) -> Status;
    /// An asynchronous send finished: `status` is `OK`, `TIMEOUT`, `CLOSED`, ...
    OnSendCompleteFn = unsafe extern "C" fn(instance: InstancePtr, endpoint: u32, session: u64, token: u64, status: Status) -> Status;
    /// Decides a handshake on endpoint `endpoint` before the host answers it (ABI 1.2), on the
    /// context's pool. `handshake` is as for `on_open`, but belongs to no session yet (its
    /// `subprotocol` is empty: the offers are in the headers). The plugin writes its verdict
    /// through `write(out, chunk)` as one UTF-8 JSON document (chunks concatenated; see
    /// [`verdict`](super::verdict)); writing nothing accepts the handshake unchanged. `OK` with
    /// a verdict applies it; any other status (`PANICKED`, ...) makes the host answer 500.
    OnHandshakeFn = unsafe extern "C" fn(instance: InstancePtr, endpoint: u32, handshake: *const HandshakeRef, out: *mut c_void, write: WriteFn) -> Status;
    /// The context is deployed (ABI 1.2): called once, on the context's pool, after `create`
    /// and before any session's callback.
    OnDeployFn = unsafe extern "C" fn(instance: InstancePtr) -> Status;
    /// The context goes away (ABI 1.2): called once, on the context's pool, after every
    /// session's `on_close`, with an [`undeploy_reason`](super::undeploy_reason) code; the host
    /// bounds the time it waits for it.
    OnUndeployFn = unsafe extern "C" fn(instance: InstancePtr, reason: u32) -> Status;

    /// Logs a message for the plugin (`session` 0: not about a session).
    LogFn = unsafe extern "C" fn(ctx: HostCtx, session: u64, level: u32, message: Bytes);
    /// Sends one message (`kind`: `message_kind`, `mode`: `send_mode`).
    SendFn = unsafe extern "C" fn(ctx: HostCtx, session: u64, kind: u32, data: Bytes, mode: u32, token: u64) -> Status;
    /// Broadcasts one message: encoded once, queued to every listed live session of this
    /// context without waiting; stale or closed ids are skipped. No completions.
    SendManyFn = unsafe extern "C" fn(ctx: HostCtx, sessions: SessionIds, kind: u32, data: Bytes) -> Status;
    /// Starts closing a session with `code` (never 1005, 1006, 1015) and `reason` (<= 123 bytes).
    CloseFn = unsafe extern "C" fn(ctx: HostCtx, session: u64, code: u16, reason: Bytes) -> Status;
    /// Writes a property's JSON value (possibly in several chunks, to be concatenated);
    /// `NOT_FOUND` when the key is absent.
    PropertyGetFn = unsafe extern "C" fn(ctx: HostCtx, session: u64, key: Bytes, out: *mut c_void, write: WriteFn) -> Status;
    /// Stores a property; `value` is JSON text.
    PropertySetFn = unsafe extern "C" fn(ctx: HostCtx, session: u64, key: Bytes, value: Bytes) -> Status;
    /// Removes a property; `NOT_FOUND` when it was absent.
    PropertyRemoveFn = unsafe extern "C" fn(ctx: HostCtx, session: u64, key: Bytes) -> Status;
    /// Writes every property key, one key per chunk.
    PropertyKeysFn = unsafe extern "C" fn(ctx: HostCtx, session: u64, out: *mut c_void, write: WriteFn) -> Status;
    /// Overrides the session's idle timeout: `millis > 0`, or `<= 0` for never.
    SetIdleTimeoutFn = unsafe extern "C" fn(ctx: HostCtx, session: u64, millis: i64) -> Status;
    /// Turns batching of outgoing frames on (`1`) or off (`0`, each send flushes).
    SetBatchingFn = unsafe extern "C" fn(ctx: HostCtx, session: u64, enabled: u32) -> Status;
    /// Writes out the session's batched frames now.
    FlushFn = unsafe extern "C" fn(ctx: HostCtx, session: u64) -> Status;
    /// Writes the ids of the open sessions of one endpoint of this context (from the start of
    /// their `on_open` until their `on_close` is delivered), as native-endian `u64`s; each
    /// chunk's length is a multiple of 8.
    EndpointSessionsFn = unsafe extern "C" fn(ctx: HostCtx, endpoint: u32, out: *mut c_void, write: WriteFn) -> Status;
}

/// The plugin's table: its declarations and callbacks. Returned by `berth_plugin_entry`,
/// static, never freed. Grows only at the end; a `None` callback means "default behaviour".
///
/// Frozen forever, across majors: `size`, `abi_version` and `sdk_version` stay the first
/// fields, so a host can always name the plugin's versions in an error.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct PluginApi {
    /// `size_of::<PluginApi>()` of the plugin's SDK version.
    pub size: usize,
    /// The plugin's ABI version (`major << 16 | minor`).
    pub abi_version: u32,
    /// Zero; keeps the layout explicit.
    pub reserved: u32,
    /// The `endpoint-api` version the plugin was built with (UTF-8, static).
    pub sdk_version: Bytes,
    /// The number of declared endpoints.
    pub endpoint_count: usize,
    /// The declared endpoints (static); the index is the `endpoint` argument of callbacks.
    pub endpoints: *const EndpointDecl,
    /// Required: creates an instance per deployed context.
    pub create: Option<CreateFn>,
    /// Default: the instance is leaked.
    pub destroy: Option<DestroyFn>,
    /// Default: accept.
    pub on_open: Option<OnOpenFn>,
    /// Default: ignore.
    pub on_text: Option<OnDataFn>,
    /// Default: ignore.
    pub on_binary: Option<OnDataFn>,
    /// Default: ignore.
    pub on_pong: Option<OnDataFn>,
    /// Default: nothing.
    pub on_close: Option<OnCloseFn>,
    /// Default: nothing.
    pub on_error: Option<OnErrorFn>,
    /// Default: nothing.
    pub on_send_complete: Option<OnSendCompleteFn>,
    /// Default: accept unchanged. Since ABI 1.2.
    pub on_handshake: Option<OnHandshakeFn>,
    /// Default: nothing. Since ABI 1.2.
    pub on_deploy: Option<OnDeployFn>,
    /// Default: nothing. Since ABI 1.2.
    pub on_undeploy: Option<OnUndeployFn>,
}

/// The host's table: its services. Passed to `create`; must stay valid for the life of the
/// process. Grows only at the end; a `None` service means "unsupported" (the SDK then returns
/// [`Status::UNSUPPORTED`] without calling anything).
///
/// Every service takes the `host_ctx` given to `create` first, may be called from any thread
/// (including threads the plugin started itself), concurrently, and never unwinds.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct HostApi {
    /// `size_of::<HostApi>()` of the host's version.
    pub size: usize,
    /// The host's ABI version (`major << 16 | minor`).
    pub abi_version: u32,
    /// Zero; keeps the layout explicit.
    pub reserved: u32,
    /// The host's name and version, e.g. `berth 0.1.0` (UTF-8, static).
    pub host_version: Bytes,
    /// See [`LogFn`].
    pub log: Option<LogFn>,
    /// See [`SendFn`].
    pub send: Option<SendFn>,
    /// See [`SendManyFn`].
    pub send_many: Option<SendManyFn>,
    /// See [`CloseFn`].
    pub close: Option<CloseFn>,
    /// See [`PropertyGetFn`].
    pub property_get: Option<PropertyGetFn>,
    /// See [`PropertySetFn`].
    pub property_set: Option<PropertySetFn>,
    /// See [`PropertyRemoveFn`].
    pub property_remove: Option<PropertyRemoveFn>,
    /// See [`PropertyKeysFn`].
    pub property_keys: Option<PropertyKeysFn>,
    /// See [`SetIdleTimeoutFn`].
    pub set_idle_timeout: Option<SetIdleTimeoutFn>,
    /// See [`SetBatchingFn`].
    pub set_batching: Option<SetBatchingFn>,
    /// See [`FlushFn`].
    pub flush: Option<FlushFn>,
    /// See [`EndpointSessionsFn`].
    pub endpoint_sessions: Option<EndpointSessionsFn>,
}

// SAFETY: plain data (pointers to static declarations and functions); nothing safe
// dereferences the pointers.
unsafe impl Send for PluginApi {}
// SAFETY: as above.
unsafe impl Sync for PluginApi {}
// SAFETY: as above.
unsafe impl Send for HostApi {}
// SAFETY: as above.
unsafe impl Sync for HostApi {}

/// A `#[repr(C)]` structure that begins with `size: usize` and grows only at the end.
///
/// # Safety
/// Implementors are `#[repr(C)]`, their first field is `size: usize`, every field is valid
/// when all its bytes are zero (integers, raw pointers, `Option` of function pointers,
/// [`Bytes`]), and every field ends on a multiple of `size_of::<usize>()` or is followed by
/// explicit padding fields.
pub unsafe trait SizePrefixed: Copy {
    /// The `size` field.
    fn declared_size(&self) -> usize;

    /// Whether the writer's version has the pointer-sized field at `offset` (from
    /// [`std::mem::offset_of!`]), i.e. it lies within `min(size, size_of::<Self>())`.
    fn has(&self, offset: usize) -> bool {
        field_known(
            self.declared_size(),
            size_of::<Self>(),
            offset,
            size_of::<usize>(),
        )
    }
}

impl PluginApi {
    /// Whether the plugin's table has the callback at `offset` (`offset_of!(PluginApi, on_pong)`);
    /// see [`SizePrefixed::has`].
    pub fn has(&self, offset: usize) -> bool {
        SizePrefixed::has(self, offset)
    }
}

impl HostApi {
    /// Whether the host's table has the service at `offset` (`offset_of!(HostApi, flush)`);
    /// see [`SizePrefixed::has`].
    pub fn has(&self, offset: usize) -> bool {
        SizePrefixed::has(self, offset)
    }
}

// SAFETY: repr(C), `size` first, all fields zero-valid and eight-byte sized or padded.
unsafe impl SizePrefixed for PluginApi {
    fn declared_size(&self) -> usize {
        self.size
    }
}
// SAFETY: as above.
unsafe impl SizePrefixed for HostApi {
    fn declared_size(&self) -> usize {
        self.size
    }
}
// SAFETY: as above.
unsafe impl SizePrefixed for HandshakeRef {
    fn declared_size(&self) -> usize {
        self.size
    }
}

/// Whether a field at `offset` of `field_size` bytes lies within what both sides know:
/// `min(declared, known)` bytes of the table.
pub const fn field_known(declared: usize, known: usize, offset: usize, field_size: usize) -> bool {
    let readable = if declared < known { declared } else { known };
    offset + field_size <= readable
}

/// Reads a size-prefixed table written by the other side: copies the first
/// `min(size, size_of::<T>())` bytes (rounded down to whole pointer-sized words) and leaves
/// the rest zero, so fields the writer did not have read as `None` / empty / 0. The copy keeps
/// the writer's `size`. Returns `None` for a null pointer or a `size` too small to hold it.
///
/// # Safety
/// `table` is null or points to a readable `T` prefix of at least its own `size` bytes
/// (the writer's `size_of::<T>()`), written by a side that follows the ABI rules.
pub unsafe fn read_table<T: SizePrefixed>(table: *const T) -> Option<T> {
    if table.is_null() {
        return None;
    }
    // SAFETY: non-null; every version has `size: usize` first.
    let declared = unsafe { table.cast::<usize>().read_unaligned() };
    let word = size_of::<usize>();
    if declared < word {
        return None;
    }
    let readable = declared.min(size_of::<T>()) / word * word;
    let mut copy = MaybeUninit::<T>::zeroed();
    // SAFETY: `readable` bytes are within both the writer's table and `copy`; they do not
    // overlap (`copy` is a fresh local).
    unsafe {
        ptr::copy_nonoverlapping(table.cast::<u8>(), copy.as_mut_ptr().cast::<u8>(), readable);
    }
    // SAFETY: zero is valid for every field (trait contract); the copied prefix consists of
    // whole fields the writer initialised.
    Some(unsafe { copy.assume_init() })
}
