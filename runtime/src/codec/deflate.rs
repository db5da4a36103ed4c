//! permessage-deflate compression (RFC 7692 §7.2): raw DEFLATE per message, each message
//! ending in an empty sync block whose `00 00 FF FF` tail is stripped on the wire.
//!
//! Memory is the point of this file. A compressor with a 32 KiB window costs about 300 KiB
//! and a decompressor about 40 KiB, so neither exists until the first compressed message in
//! its direction, and with `*_no_context_takeover` each goes back to a small per-thread
//! spare list after every message (reset, so no context leaks between connections).
//! Inflating writes into the message buffer and stops one byte past the limit, so a deflate
//! bomb costs at most the limit (close 1009) however small its compressed size.

use std::cell::RefCell;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// The tail of a sync flush, removed by the sender and added back by the receiver.
const SYNC_TAIL: [u8; 4] = [0x00, 0x00, 0xFF, 0xFF];

/// The smallest window zlib builds for raw DEFLATE. A 9-bit compressor never emits a
/// distance above 250 (its window less the 262-byte lookahead), so it also honours
/// `server_max_window_bits=8`.
const MIN_ZLIB_WINDOW_BITS: u8 = 9;

/// permessage-deflate parameters, seen from the server. Before negotiation they are the
/// server's policy, the most it allows; [`negotiate_deflate`](super::negotiate_deflate)
/// narrows them by the client's offer into what both sides use for the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DeflateParams {
    /// The server starts every message with an empty window (and frees its compressor). As
    /// policy: it does so whatever the client offers.
    pub(crate) server_no_context_takeover: bool,
    /// The client does the same (so the server frees its decompressor after each message).
    /// As policy: every client is asked to.
    pub(crate) client_no_context_takeover: bool,
    /// The server's compression window, 8–15. As policy: the largest it compresses with.
    pub(crate) server_max_window_bits: u8,
    /// The client's compression window, 8–15 (the server's decompressor needs as much). As
    /// policy: the largest the server asks clients to use when their offer lets it.
    pub(crate) client_max_window_bits: u8,
    /// zlib compression level, 0–9; negotiation keeps it.
    pub(crate) level: u32,
    /// Messages shorter than this are sent uncompressed (RFC 7692 allows either);
    /// negotiation keeps it.
    pub(crate) min_size: usize,
}

impl Default for DeflateParams {
    /// The server's policy: context takeover and full windows (what browsers expect), level
    /// 1 (fast), every message compressed.
    fn default() -> Self {
        DeflateParams {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
            level: 1,
            min_size: 0,
        }
    }
}

/// Why inflating a message failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum InflateError {
    /// The inflated message would exceed the limit (close 1009).
    TooBig,
    /// The compressed data is not valid DEFLATE (close 1002).
    Corrupt(String),
}

/// The server's decompressor for client messages.
#[derive(Debug)]
pub(crate) struct Inflater {
    state: Option<Decompress>,
    /// The message in progress already held a final block: nothing may follow it.
    ended: bool,
    /// The message in progress had compressed bytes (an empty one gets no sync tail).
    fed: bool,
    window_bits: u8,
    no_context_takeover: bool,
}

impl Inflater {
    /// A decompressor for messages from a client that uses `params`.
    pub(crate) fn new(params: &DeflateParams) -> Inflater {
        Inflater {
            state: None,
            ended: false,
            fed: false,
            window_bits: params
                .client_max_window_bits
                .clamp(MIN_ZLIB_WINDOW_BITS, 15),
            no_context_takeover: params.client_no_context_takeover,
        }
    }

    /// Whether decompression state is allocated (for tests and memory accounting).
    #[cfg(test)]
    pub(crate) fn is_allocated(&self) -> bool {
        self.state.is_some()
    }

    /// Inflates the next piece of a compressed message onto `out`, failing once `out`
    /// would grow past `limit`.
    pub(crate) fn inflate(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), InflateError> {
        if self.ended {
            return match input.is_empty() {
                true => Ok(()),
                false => Err(InflateError::Corrupt("data after the final block".into())),
            };
        }
        if input.is_empty() {
            return Ok(());
        }
        self.fed = true;
        let window_bits = self.window_bits;
        let state = self
            .state
            .get_or_insert_with(|| spare::take_decompressor(window_bits));
        let result = inflate_into(state, input, out, limit);
        if matches!(result, Ok(Status::StreamEnd)) {
            // A final block ends the DEFLATE stream: the next message starts a new one.
            if let Some(state) = self.state.take() {
                spare::give_decompressor(self.window_bits, state);
            }
            self.ended = true;
        }
        result.map(drop)
    }

    /// Ends a message: inflates the stripped sync tail, then drops or keeps the window.
    pub(crate) fn finish(&mut self, out: &mut Vec<u8>, limit: usize) -> Result<(), InflateError> {
        if self.fed && !self.ended {
            self.inflate(&SYNC_TAIL, out, limit)?;
        }
        self.ended = false;
        self.fed = false;
        if self.no_context_takeover {
            if let Some(state) = self.state.take() {
                spare::give_decompressor(self.window_bits, state);
            }
        }
        Ok(())
    }
}

fn inflate_into(
    state: &mut Decompress,
    mut input: &[u8],
    out: &mut Vec<u8>,
    limit: usize,
) -> Result<Status, InflateError> {
    loop {
        if out.len() == out.capacity() {
            grow(out, limit)?;
        }
        let (in_before, out_before) = (state.total_in(), state.total_out());
        let status = state
            .decompress_vec(input, out, FlushDecompress::Sync)
            .map_err(|e| InflateError::Corrupt(e.to_string()))?;
        let consumed = usize::try_from(state.total_in() - in_before).unwrap_or(input.len());
        input = input.get(consumed..).unwrap_or_default();
        let produced = state.total_out() != out_before;
        if out.len() > limit {
            return Err(InflateError::TooBig);
        }
        let room_left = out.len() < out.capacity();
        if status == Status::StreamEnd {
            return if input.is_empty() {
                Ok(Status::StreamEnd)
            } else {
                Err(InflateError::Corrupt("data after the final block".into()))
            };
        }
        if (input.is_empty() && room_left) || (consumed == 0 && !produced && room_left) {
            return Ok(status);
        }
    }
}

/// Doubles `out`'s capacity (at least 4 KiB), but never past one byte over `limit`.
fn grow(out: &mut Vec<u8>, limit: usize) -> Result<(), InflateError> {
    let cap_limit = limit.saturating_add(1);
    if out.capacity() >= cap_limit {
        return Err(InflateError::TooBig);
    }
    let target = out.capacity().saturating_mul(2).max(4096).min(cap_limit);
    out.reserve_exact(target - out.len());
    Ok(())
}

/// The server's compressor for its own messages.
#[derive(Debug)]
pub(crate) struct Deflater {
    state: Option<Compress>,
    window_bits: u8,
    level: u32,
    no_context_takeover: bool,
    min_size: usize,
}

impl Deflater {
    /// A compressor that honours `params`.
    pub(crate) fn new(params: &DeflateParams) -> Deflater {
        Deflater {
            state: None,
            window_bits: params
                .server_max_window_bits
                .clamp(MIN_ZLIB_WINDOW_BITS, 15),
            level: params.level.min(9),
            no_context_takeover: params.server_no_context_takeover,
            min_size: params.min_size,
        }
    }

    /// Whether compression state is allocated (for tests and memory accounting).
    #[cfg(test)]
    pub(crate) fn is_allocated(&self) -> bool {
        self.state.is_some()
    }

    /// Whether a message of `len` bytes should be compressed.
    pub(crate) fn wants(&self, len: usize) -> bool {
        len >= self.min_size
    }

    /// Compresses one whole message into `out` (cleared first), without the sync tail.
    pub(crate) fn deflate(&mut self, payload: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        let (bits, level) = (self.window_bits, self.level);
        let state = self
            .state
            .get_or_insert_with(|| spare::take_compressor(bits, level));
        out.clear();
        out.reserve(payload.len() / 2 + 64);
        let mut input = payload;
        loop {
            let before = state.total_in();
            // Errors mean "no progress possible", which room in `out` rules out.
            state
                .compress_vec(input, out, FlushCompress::Sync)
                .map_err(|e| e.to_string())?;
            let consumed = usize::try_from(state.total_in() - before).unwrap_or(input.len());
            input = input.get(consumed..).unwrap_or_default();
            if input.is_empty() && out.len() < out.capacity() {
                break;
            }
            out.reserve(out.capacity().max(64));
        }
        if out.ends_with(&SYNC_TAIL) {
            out.truncate(out.len() - SYNC_TAIL.len());
        }
        if out.is_empty() {
            // Nothing new to flush: an empty stored block's header stands for the message
            // (RFC 7692 §7.2.3.6), so the receiver's appended tail completes a valid block.
            out.push(0x00);
        }
        if self.no_context_takeover {
            if let Some(state) = self.state.take() {
                spare::give_compressor(self.window_bits, self.level, state);
            }
        }
        Ok(())
    }
}

/// Per-thread spares for `*_no_context_takeover`: a message borrows a reset state instead of
/// allocating and initialising ~300 KiB, and the connection keeps nothing between messages.
/// At most a few states per worker thread, whatever the number of connections.
mod spare {
    use super::*;

    const PER_THREAD: usize = 2;

    thread_local! {
        static COMPRESSORS: RefCell<Vec<(u8, u32, Compress)>> = const { RefCell::new(Vec::new()) };
        static DECOMPRESSORS: RefCell<Vec<(u8, Decompress)>> = const { RefCell::new(Vec::new()) };
    }

    pub(super) fn take_compressor(bits: u8, level: u32) -> Compress {
        let found = COMPRESSORS.with_borrow_mut(|spares| {
            let at = spares
                .iter()
                .position(|(b, l, _)| (*b, *l) == (bits, level))?;
            Some(spares.swap_remove(at).2)
        });
        found
            .unwrap_or_else(|| Compress::new_with_window_bits(Compression::new(level), false, bits))
    }

    pub(super) fn give_compressor(bits: u8, level: u32, mut state: Compress) {
        state.reset();
        COMPRESSORS.with_borrow_mut(|spares| {
            if spares.len() < PER_THREAD {
                spares.push((bits, level, state));
            }
        });
    }

    pub(super) fn take_decompressor(bits: u8) -> Decompress {
        let found = DECOMPRESSORS.with_borrow_mut(|spares| {
            let at = spares.iter().position(|(b, _)| *b == bits)?;
            Some(spares.swap_remove(at).1)
        });
        found.unwrap_or_else(|| Decompress::new_with_window_bits(false, bits))
    }

    pub(super) fn give_decompressor(bits: u8, mut state: Decompress) {
        state.reset(false);
        DECOMPRESSORS.with_borrow_mut(|spares| {
            if spares.len() < PER_THREAD {
                spares.push((bits, state));
            }
        });
    }
}

#[cfg(test)]
mod tests;
