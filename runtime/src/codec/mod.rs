//! The WebSocket codec: frames in, frames out, behind one small interface.
//!
//! Everything above this module speaks [`Inbound`], [`Outbound`] and [`CodecError`]; the
//! framing is our own, strict RFC 6455 with permessage-deflate (RFC 7692). The parts:
//! - `frame`: header parsing and encoding, masking (pure);
//! - `utf8`: UTF-8 validation that fails at the first impossible byte across pieces (pure);
//! - `deflate`: per-message DEFLATE with lazily allocated state, bounded inflation;
//! - `negotiate`: the `Sec-WebSocket-Extensions` offer/response within the server's
//!   [`DeflateParams`] policy (pure, called at the handshake by the listener);
//! - `decoder`: the receiving state machine — fragments, limits, UTF-8, inflation (pure);
//! - `connection`: the thin async [`Connection`] over any `AsyncRead + AsyncWrite`.
//!
//! The codec knows nothing of sessions; its one dependency besides bytes and tokio is
//! `endpoint-api`'s pure close-code rule ([`endpoint_api::CloseReason::is_sendable`]): a peer
//! may send exactly the codes an endpoint may, and one rule serves both (the SDK has no
//! tokio, hyper or runtime in it, so depending on it keeps the codec pure).
//!
//! What the peer gets wrong, and what the session sees:
//! - a protocol violation (unmasked frame, RSV bits without an extension, reserved opcode,
//!   long or fragmented control frame, continuation out of order, bad close payload or
//!   code, corrupt compressed data) → [`CodecError::Protocol`] → close 1002;
//! - invalid UTF-8 in a text message or close reason, found as soon as the bytes arrive,
//!   even mid-frame → [`CodecError::InvalidUtf8`] → close 1007;
//! - a text or binary message that will exceed its own limit in [`CodecLimits`] — known
//!   from a frame header for plain messages, from the running inflated size for compressed
//!   ones — → [`CodecError::TooBig`] → close 1009, without buffering the message.
//!
//! After any of these the connection reads no more frames: further reads are discarded
//! until the peer closes, so the close frame the session sends can still reach it.
//!
//! Control frames: a ping is answered by queuing a pong with the same payload; a close is
//! answered by queuing a close echoing its code (unless ours went first). Both are written
//! by the next [`Connection::flush`], which the session calls after `Ping` and `Close`.
//! Once close frames went both ways (or ours followed a violation), `flush` also shuts
//! down the write half: the server closes the TCP connection first (RFC 6455 §7.1.1).
//!
//! Memory per connection: no read buffer while waiting between messages (when the transport
//! reports readiness); reads of 512 bytes that double while they fill the buffer (up to
//! 64 KiB) and halve while traffic is small; a write buffer released after each flush
//! when larger than 4 KiB; deflate state only after the first compressed message in each
//! direction, freed after every message under `*_no_context_takeover`.

mod connection;
mod decoder;
mod deflate;
mod frame;
mod negotiate;
mod utf8;

use bytes::Bytes;

pub(crate) use connection::{Connection, Transport};
pub(crate) use deflate::DeflateParams;
pub(crate) use negotiate::negotiate_deflate;

/// Size limits the codec enforces while reading, per kind of message, after reassembling
/// fragments and inflating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CodecLimits {
    /// Largest text message, in bytes of UTF-8.
    pub(crate) text: usize,
    /// Largest binary message, in bytes.
    pub(crate) binary: usize,
}

/// A frame or message received from the peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Inbound {
    /// A whole text message; the bytes are valid UTF-8.
    Text(Bytes),
    /// A whole binary message.
    Binary(Bytes),
    /// A ping (the codec has already queued the pong).
    Ping(Bytes),
    /// A pong.
    Pong(Bytes),
    /// The peer's close frame: code and reason, if it sent any (the codec has already
    /// queued the answering close frame).
    Close(Option<(u16, String)>),
}

/// A frame to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outbound {
    /// A text message; the bytes are valid UTF-8 (checked when built).
    Text(Utf8Bytes),
    /// A binary message.
    Binary(Bytes),
    /// A ping (payloads over 125 bytes are cut).
    Ping(Bytes),
    /// A pong (payloads over 125 bytes are cut).
    Pong(Bytes),
    /// A close frame with code and reason (cut to 123 bytes on a character boundary).
    Close(u16, String),
    /// Bytes of data frames already encoded (a broadcast's frame, shared by every recipient,
    /// or what a direct write left over), written as they are.
    Encoded(Bytes),
}

impl Outbound {
    /// A text frame from bytes, refusing invalid UTF-8.
    pub(crate) fn text(bytes: Bytes) -> Option<Outbound> {
        Utf8Bytes::try_from(bytes).ok().map(Outbound::Text)
    }

    /// Payload bytes, for accounting.
    pub(crate) fn len(&self) -> usize {
        match self {
            Outbound::Text(text) => text.len(),
            Outbound::Binary(data)
            | Outbound::Ping(data)
            | Outbound::Pong(data)
            | Outbound::Encoded(data) => data.len(),
            Outbound::Close(_, reason) => reason.len() + 2,
        }
    }
}

/// The encoded header of a whole, unmasked, uncompressed data frame, built on the stack so
/// the payload can be written from where it lies.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DataHeader {
    bytes: [u8; 10],
    len: usize,
}

impl DataHeader {
    /// The header of a text (`text`) or binary frame carrying `payload_len` bytes.
    pub(crate) fn new(text: bool, payload_len: usize) -> DataHeader {
        let opcode = if text {
            frame::OpCode::Text
        } else {
            frame::OpCode::Binary
        };
        let mut bytes = [0u8; 10];
        let mut out = &mut bytes[..];
        frame::encode_header(&mut out, true, false, opcode, payload_len);
        let len = 10 - out.len();
        DataHeader { bytes, len }
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// A whole data frame (header and payload) in one buffer: what a broadcast shares.
pub(crate) fn encode_data_frame(text: bool, payload: &[u8]) -> Bytes {
    let header = DataHeader::new(text, payload.len());
    let mut frame = Vec::with_capacity(header.as_bytes().len() + payload.len());
    frame.extend_from_slice(header.as_bytes());
    frame.extend_from_slice(payload);
    Bytes::from(frame)
}

/// Bytes known to be valid UTF-8.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Utf8Bytes(Bytes);

impl Utf8Bytes {
    /// Length in bytes.
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
}

impl TryFrom<Bytes> for Utf8Bytes {
    type Error = std::str::Utf8Error;

    fn try_from(bytes: Bytes) -> Result<Self, Self::Error> {
        std::str::from_utf8(&bytes)?;
        Ok(Utf8Bytes(bytes))
    }
}

impl From<&str> for Utf8Bytes {
    fn from(text: &str) -> Self {
        Utf8Bytes(Bytes::copy_from_slice(text.as_bytes()))
    }
}

impl From<Utf8Bytes> for Bytes {
    fn from(text: Utf8Bytes) -> Bytes {
        text.0
    }
}

/// Why reading or writing failed; the session maps each to a close code.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CodecError {
    /// A message exceeded its kind's limit in [`CodecLimits`] (close 1009).
    #[error("message too big: {0}")]
    TooBig(String),
    /// The peer broke the protocol (close 1002).
    #[error("protocol error: {0}")]
    Protocol(String),
    /// A text message or close reason was not valid UTF-8 (close 1007).
    #[error("invalid UTF-8 in a text message")]
    InvalidUtf8,
    /// The connection failed or was closed (reported as 1006).
    #[error("connection lost: {0}")]
    ConnectionLost(String),
}
