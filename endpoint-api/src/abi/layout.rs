//! [`layout_fingerprint`]: the ABI as text, compared with a committed golden file.

use std::fmt::Write as _;
use std::mem::{align_of, offset_of, size_of};

use super::codes::ALL_CODES;
use super::status::Status;
use super::tables::ALL_ALIASES;
use super::types::{Bytes, BytesArray, EndpointDecl, HandshakeRef, Pair, Pairs, SessionIds};
use super::version::AbiVersion;

/// Describes one struct. The exhaustive pattern makes a forgotten field a compile error, and
/// the typed accessor makes a wrong field type one.
macro_rules! describe {
    ($out:ident, $ty:ident { $($field:tt: $fty:ty),* $(,)? }) => {{
        let _exhaustive = |value: &$ty| {
            let $ty { $($field: _),* } = value;
        };
        $( let _typed: fn(&$ty) -> &$fty = |value| &value.$field; )*
        let _ = writeln!($out, "struct {} size={} align={}",
            stringify!($ty), size_of::<$ty>(), align_of::<$ty>());
        $(
            let _ = writeln!($out, "  {} @{} size={}: {}", stringify!($field),
                offset_of!($ty, $field), size_of::<$fty>(), normalize(stringify!($fty)));
        )*
    }};
}

/// The ABI of this version as text: for every `#[repr(C)]` type its size, alignment and each
/// field's name, offset, size and type; every type alias (function signatures); every status and
/// code value; and the exported symbol names. Meant for 64-bit targets (the golden files are).
///
/// A test compares it with `endpoint-api/abi/v{MAJOR}.{MINOR}.layout`; any difference without
/// a version bump fails the build.
///
/// ```
/// let text = endpoint_api::abi::layout_fingerprint();
/// assert!(text.contains("struct PluginApi"));
/// ```
pub fn layout_fingerprint() -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Berth plugin ABI {}", AbiVersion::CURRENT);
    let _ = writeln!(
        out,
        "symbol berth_abi_version: AbiVersionFn\nsymbol berth_plugin_entry: EntryFn"
    );
    describe_types(&mut out);
    for (name, signature) in ALL_ALIASES {
        let _ = writeln!(out, "type {name} = {}", normalize(signature));
    }
    for (status, name) in Status::ALL {
        let _ = writeln!(out, "status {} = {name}", status.0);
    }
    for (group, name, value) in ALL_CODES {
        let _ = writeln!(out, "code {group}::{name} = {value}");
    }
    out
}

fn describe_types(out: &mut String) {
    describe!(out, Status { 0: i32 });
    describe!(out, Bytes { ptr: *const u8, len: usize });
    describe!(out, BytesArray { ptr: *const Bytes, len: usize });
    describe!(
        out,
        Pair {
            name: Bytes,
            value: Bytes
        }
    );
    describe!(out, Pairs { ptr: *const Pair, len: usize });
    describe!(out, SessionIds { ptr: *const u64, len: usize });
    describe!(
        out,
        EndpointDecl {
            path_template: Bytes,
            subprotocols: BytesArray
        }
    );
    describe!(
        out,
        HandshakeRef {
            size: usize,
            path: Bytes,
            query: Bytes,
            path_params: Pairs,
            headers: Pairs,
            subprotocol: Bytes,
            remote_addr: Bytes,
            flags: u64,
        }
    );
    describe_plugin_api(out);
    describe_host_api(out);
}

fn describe_plugin_api(out: &mut String) {
    use super::tables::*;
    describe!(out, PluginApi {
        size: usize,
        abi_version: u32,
        reserved: u32,
        sdk_version: Bytes,
        endpoint_count: usize,
        endpoints: *const EndpointDecl,
        create: Option<CreateFn>,
        destroy: Option<DestroyFn>,
        on_open: Option<OnOpenFn>,
        on_text: Option<OnDataFn>,
        on_binary: Option<OnDataFn>,
        on_pong: Option<OnDataFn>,
        on_close: Option<OnCloseFn>,
        on_error: Option<OnErrorFn>,
        on_send_complete: Option<OnSendCompleteFn>,
        on_handshake: Option<OnHandshakeFn>,
        on_deploy: Option<OnDeployFn>,
        on_undeploy: Option<OnUndeployFn>,
    });
}

fn describe_host_api(out: &mut String) {
    use super::tables::*;
    describe!(out, HostApi {
        size: usize,
        abi_version: u32,
        reserved: u32,
        host_version: Bytes,
        log: Option<LogFn>,
        send: Option<SendFn>,
        send_many: Option<SendManyFn>,
        close: Option<CloseFn>,
        property_get: Option<PropertyGetFn>,
        property_set: Option<PropertySetFn>,
        property_remove: Option<PropertyRemoveFn>,
        property_keys: Option<PropertyKeysFn>,
        set_idle_timeout: Option<SetIdleTimeoutFn>,
        set_batching: Option<SetBatchingFn>,
        flush: Option<FlushFn>,
        endpoint_sessions: Option<EndpointSessionsFn>,
    });
}

/// Token text without compiler-dependent spacing: a space survives only between two word
/// characters (`*const u8`, `unsafe extern`).
fn normalize(tokens: &str) -> String {
    let mut out = String::with_capacity(tokens.len());
    let mut pending_space = false;
    for c in tokens.chars() {
        if c.is_whitespace() {
            pending_space = true;
            continue;
        }
        let word = |c: char| c.is_alphanumeric() || c == '_';
        if pending_space && out.chars().next_back().is_some_and(word) && word(c) {
            out.push(' ');
        }
        pending_space = false;
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_keeps_word_spaces_only() {
        assert_eq!(
            normalize("unsafe extern \"C\" fn(a : * const u8) -> u32"),
            "unsafe extern\"C\"fn(a:*const u8)->u32"
        );
    }

    #[test]
    fn fingerprint_lists_every_table_field() {
        let text = layout_fingerprint();
        for field in ["on_send_complete @", "endpoint_sessions @", "flags @"] {
            assert!(text.contains(field), "{field} missing:\n{text}");
        }
        assert!(text.contains("type SendFn = unsafe extern\"C\"fn(ctx:HostCtx,"));
        assert!(text.contains("code close_cause::SHUTDOWN = 13"));
        assert!(text.contains("status 7 = panicked"));
    }
}
