//! The plain `#[repr(C)]` values that cross the boundary: byte slices, arrays, pairs, the
//! handshake view and endpoint declarations.
//!
//! Every type here borrows: it points into memory owned by the side that made it, valid only
//! for the duration of the call that carries it (or, for the plugin's static declarations and
//! version string, for the life of the process). The receiver copies what it wants to keep.

use std::{ptr, slice};

/// A borrowed byte slice: `(ptr, len)`. Text is UTF-8 unless a field says otherwise.
///
/// `ptr` may be null (or dangling) when `len == 0`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Bytes {
    /// The first byte.
    pub ptr: *const u8,
    /// The number of bytes.
    pub len: usize,
}

/// A borrowed array of [`Bytes`] (e.g. an endpoint's subprotocols).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct BytesArray {
    /// The first element.
    pub ptr: *const Bytes,
    /// The number of elements.
    pub len: usize,
}

/// One name/value pair (an init-param, a header, a path parameter).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Pair {
    /// The name.
    pub name: Bytes,
    /// The value.
    pub value: Bytes,
}

/// A borrowed array of [`Pair`]s, in their original order (duplicates allowed).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Pairs {
    /// The first pair.
    pub ptr: *const Pair,
    /// The number of pairs.
    pub len: usize,
}

/// A borrowed array of session ids (the recipients of `send_many`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct SessionIds {
    /// The first id.
    pub ptr: *const u64,
    /// The number of ids.
    pub len: usize,
}

/// The handshake of a new session, lent to `on_open` for the duration of the call.
///
/// Size-prefixed like the tables: a host sets `size` to the size of the version it was built
/// with, a plugin reads it with [`read_table`](super::read_table) (fields past `size` read as
/// empty). Every field is eight bytes or explicitly padded, so each addition grows `size`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct HandshakeRef {
    /// `size_of::<HandshakeRef>()` of the writer's version.
    pub size: usize,
    /// The request path (percent-encoded, as received, without the query).
    pub path: Bytes,
    /// The raw query string, without the `?`; empty when there is none.
    pub query: Bytes,
    /// The path parameters of the matched template (`{room}` → `room`), percent-decoded.
    pub path_params: Pairs,
    /// The request headers as received (names in any case; values may be non-UTF-8).
    pub headers: Pairs,
    /// The negotiated subprotocol; empty when none was chosen.
    pub subprotocol: Bytes,
    /// The client's address as the host determined it (trusted `Forwarded` /
    /// `X-Forwarded-For` applied): `ip:port`, or `ip` when no port is known.
    pub remote_addr: Bytes,
    /// Bit set of [`handshake_flags`](super::handshake_flags).
    pub flags: u64,
}

/// One endpoint the plugin declares: its path template (relative to the context path) and the
/// subprotocols it accepts, in preference order (empty: none).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct EndpointDecl {
    /// The path template, e.g. `/rooms/{room}`.
    pub path_template: Bytes,
    /// The accepted subprotocols.
    pub subprotocols: BytesArray,
}

// SAFETY: these are plain data. Nothing safe dereferences their pointers; whoever does (in
// `unsafe` code) carries the validity contract, whichever thread it runs on.
unsafe impl Send for Bytes {}
// SAFETY: as above.
unsafe impl Sync for Bytes {}
// SAFETY: as above.
unsafe impl Send for BytesArray {}
// SAFETY: as above.
unsafe impl Sync for BytesArray {}
// SAFETY: as above.
unsafe impl Send for EndpointDecl {}
// SAFETY: as above.
unsafe impl Sync for EndpointDecl {}

impl Bytes {
    /// The empty slice (null pointer, zero length).
    pub const EMPTY: Bytes = Bytes {
        ptr: ptr::null(),
        len: 0,
    };

    /// Borrows a `'static` string (usable in `const` and `static` initialisers).
    pub const fn from_static(text: &'static str) -> Bytes {
        Bytes {
            ptr: text.as_ptr(),
            len: text.len(),
        }
    }

    /// Borrows a slice; the result is valid as long as `data` is.
    pub const fn from_slice(data: &[u8]) -> Bytes {
        Bytes {
            ptr: data.as_ptr(),
            len: data.len(),
        }
    }

    /// The bytes this points to.
    ///
    /// # Safety
    /// Unless `len == 0`, `ptr` must point to `len` initialised bytes that stay valid and
    /// unchanged for `'a`.
    pub unsafe fn as_slice<'a>(self) -> &'a [u8] {
        if self.len == 0 || self.ptr.is_null() {
            return &[];
        }
        // SAFETY: non-null, `len` bytes valid for 'a (the caller's contract).
        unsafe { slice::from_raw_parts(self.ptr, self.len) }
    }

    /// Copies the bytes into a `String`, replacing invalid UTF-8 with U+FFFD.
    ///
    /// # Safety
    /// As for [`Bytes::as_slice`], for the duration of the call.
    pub unsafe fn to_string_lossy(self) -> String {
        // SAFETY: the caller's contract.
        String::from_utf8_lossy(unsafe { self.as_slice() }).into_owned()
    }
}

impl From<&[u8]> for Bytes {
    fn from(data: &[u8]) -> Bytes {
        Bytes::from_slice(data)
    }
}

impl From<&str> for Bytes {
    fn from(text: &str) -> Bytes {
        Bytes::from_slice(text.as_bytes())
    }
}

impl BytesArray {
    /// Borrows a `'static` array (usable in `const` and `static` initialisers).
    pub const fn from_static(items: &'static [Bytes]) -> BytesArray {
        BytesArray {
            ptr: items.as_ptr(),
            len: items.len(),
        }
    }

    /// The elements.
    ///
    /// # Safety
    /// Unless `len == 0`, `ptr` must point to `len` valid elements for `'a`.
    pub unsafe fn as_slice<'a>(self) -> &'a [Bytes] {
        // SAFETY: the caller's contract.
        unsafe { raw_slice(self.ptr, self.len) }
    }
}

impl Pairs {
    /// Borrows a slice of pairs; valid as long as `pairs` (and what they point to) is.
    pub const fn from_slice(pairs: &[Pair]) -> Pairs {
        Pairs {
            ptr: pairs.as_ptr(),
            len: pairs.len(),
        }
    }

    /// The pairs.
    ///
    /// # Safety
    /// Unless `len == 0`, `ptr` must point to `len` valid pairs for `'a`.
    pub unsafe fn as_slice<'a>(self) -> &'a [Pair] {
        // SAFETY: the caller's contract.
        unsafe { raw_slice(self.ptr, self.len) }
    }

    /// Copies the pairs into owned strings (lossy UTF-8).
    ///
    /// # Safety
    /// As for [`Pairs::as_slice`], and every pair's [`Bytes`] valid for the call.
    pub unsafe fn to_vec_lossy(self) -> Vec<(String, String)> {
        // SAFETY: the caller's contract.
        let pairs = unsafe { self.as_slice() };
        pairs
            .iter()
            // SAFETY: the caller's contract.
            .map(|pair| unsafe { (pair.name.to_string_lossy(), pair.value.to_string_lossy()) })
            .collect()
    }
}

impl SessionIds {
    /// Borrows a slice of ids.
    pub const fn from_slice(ids: &[u64]) -> SessionIds {
        SessionIds {
            ptr: ids.as_ptr(),
            len: ids.len(),
        }
    }

    /// The ids.
    ///
    /// # Safety
    /// Unless `len == 0`, `ptr` must point to `len` valid, aligned ids for `'a`.
    pub unsafe fn as_slice<'a>(self) -> &'a [u64] {
        // SAFETY: the caller's contract.
        unsafe { raw_slice(self.ptr, self.len) }
    }
}

impl EndpointDecl {
    /// Declares an endpoint from `'static` data (usable in `const` initialisers).
    pub const fn new(path_template: &'static str, subprotocols: &'static [Bytes]) -> EndpointDecl {
        EndpointDecl {
            path_template: Bytes::from_static(path_template),
            subprotocols: BytesArray::from_static(subprotocols),
        }
    }
}

/// `slice::from_raw_parts` that accepts `(null, 0)`.
///
/// # Safety
/// Unless `len == 0`, `ptr` must point to `len` valid, aligned `T`s for `'a`.
unsafe fn raw_slice<'a, T>(ptr: *const T, len: usize) -> &'a [T] {
    if len == 0 || ptr.is_null() {
        return &[];
    }
    // SAFETY: non-null, `len` valid elements for 'a (the caller's contract).
    unsafe { slice::from_raw_parts(ptr, len) }
}
