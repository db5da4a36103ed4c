//! The WebSocket codec: frames in, frames out, behind one small interface.
//!
//! Everything above this module speaks [`Inbound`], [`Outbound`] and [`CodecError`]; only this
//! module knows which library frames the bytes (today tokio-tungstenite). Replacing the library
//! (for permessage-deflate, say) must not change anything outside this directory.
//!
//! Buffers are sized explicitly: the library's 128 KiB default read buffer would cost that
//! much per idle connection. Messages larger than [`CodecLimits::max_message`] fail with
//! [`CodecError::TooBig`]; per-type limits (text vs binary) are the session's job.

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};

/// Size limits the codec enforces while reading.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CodecLimits {
    /// Largest message, after reassembling fragments.
    pub(crate) max_message: usize,
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
    /// The peer's close frame: code and reason, if it sent any.
    Close(Option<(u16, String)>),
}

/// A frame to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outbound {
    /// A text message; the bytes must be valid UTF-8 (checked when built).
    Text(Utf8Bytes),
    /// A binary message.
    Binary(Bytes),
    /// A ping.
    Ping(Bytes),
    /// A pong.
    Pong(Bytes),
    /// A close frame with code and reason.
    Close(u16, String),
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
            Outbound::Binary(data) | Outbound::Ping(data) | Outbound::Pong(data) => data.len(),
            Outbound::Close(_, reason) => reason.len() + 2,
        }
    }
}

/// Why reading or writing failed; the session maps each to a close code.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CodecError {
    /// A message exceeded [`CodecLimits::max_message`] (close 1009).
    #[error("message too big: {0}")]
    TooBig(String),
    /// The peer broke the protocol (close 1002).
    #[error("protocol error: {0}")]
    Protocol(String),
    /// A text message was not valid UTF-8 (close 1007).
    #[error("invalid UTF-8 in a text message")]
    InvalidUtf8,
    /// The connection failed or was closed (reported as 1006).
    #[error("connection lost: {0}")]
    ConnectionLost(String),
}

/// One server-side WebSocket connection.
#[derive(Debug)]
pub(crate) struct Connection<S> {
    stream: WebSocketStream<S>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<S> {
    /// Wraps an upgraded connection whose handshake has been answered.
    pub(crate) async fn accept(io: S, limits: CodecLimits) -> Self {
        let config = WebSocketConfig::default()
            .read_buffer_size(4096)
            .write_buffer_size(0)
            .max_write_buffer_size(usize::MAX)
            .max_message_size(Some(limits.max_message))
            .max_frame_size(Some(limits.max_message));
        let stream = WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await;
        Connection { stream }
    }

    /// The next message or control frame; `None` once the connection is finished.
    pub(crate) async fn next(&mut self) -> Option<Result<Inbound, CodecError>> {
        loop {
            let message = match self.stream.next().await? {
                Ok(message) => message,
                Err(error) => return Some(Err(classify(error))),
            };
            let inbound = match message {
                Message::Text(text) => Inbound::Text(Bytes::from(text)),
                Message::Binary(data) => Inbound::Binary(data),
                Message::Ping(data) => Inbound::Ping(data),
                Message::Pong(data) => Inbound::Pong(data),
                Message::Close(frame) => {
                    Inbound::Close(frame.map(|f| (u16::from(f.code), f.reason.as_str().to_owned())))
                }
                Message::Frame(_) => continue,
            };
            return Some(Ok(inbound));
        }
    }

    /// Queues a frame without flushing it.
    pub(crate) async fn feed(&mut self, frame: Outbound) -> Result<(), CodecError> {
        let message = match frame {
            Outbound::Text(text) => Message::Text(text),
            Outbound::Binary(data) => Message::Binary(data),
            Outbound::Ping(data) => Message::Ping(data),
            Outbound::Pong(data) => Message::Pong(data),
            Outbound::Close(code, reason) => Message::Close(Some(CloseFrame {
                code: CloseCode::from(code),
                reason: Utf8Bytes::from(reason),
            })),
        };
        self.stream.feed(message).await.map_err(classify)
    }

    /// Writes everything queued to the socket.
    pub(crate) async fn flush(&mut self) -> Result<(), CodecError> {
        self.stream.flush().await.map_err(classify)
    }
}

fn classify(error: WsError) -> CodecError {
    match error {
        WsError::Capacity(detail) => CodecError::TooBig(detail.to_string()),
        WsError::Protocol(detail) => CodecError::Protocol(detail.to_string()),
        WsError::Utf8(_) => CodecError::InvalidUtf8,
        WsError::AttackAttempt => CodecError::Protocol("attack attempt".into()),
        other => CodecError::ConnectionLost(other.to_string()),
    }
}
