//! The async side of the codec: one server connection over any `AsyncRead + AsyncWrite`.
//!
//! [`Connection::next`] is cancel-safe (the session polls it inside `select!`): its only
//! await is a read into the buffer, and all decoding state lives in the connection.
//! [`Connection::feed`] encodes into the write buffer (writing it out once it passes
//! 64 KiB, and writing large payloads directly instead of copying them);
//! [`Connection::flush`] writes everything and flushes.

use std::io;
use std::task::{Context, Poll};

use bytes::{BufMut, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::decoder::Decoder;
use super::deflate::{DeflateParams, Deflater};
use super::frame::{self, MAX_CONTROL_PAYLOAD, OpCode};
use super::{CodecError, CodecLimits, Inbound, Outbound};

/// The smallest read.
const READ_MIN: usize = 512;
/// The most one read asks for.
const READ_MAX: usize = 64 * 1024;
/// Buffered output beyond this is written out by `feed`.
const WRITE_HIGH: usize = 64 * 1024;
/// A write buffer larger than this is released after a flush.
const WRITE_KEEP: usize = 4 * 1024;
/// Payloads at least this large are written from their own buffer, not copied.
const DIRECT_WRITE: usize = 16 * 1024;
/// The longest close reason that fits a control frame.
const MAX_CLOSE_REASON: usize = MAX_CONTROL_PAYLOAD - 2;

/// What a connection runs over: a byte stream that can say when it has bytes to read, so
/// that a connection waiting between messages holds no read buffer.
pub(crate) trait Transport: AsyncRead + AsyncWrite + Unpin {
    /// Ready once a read would find bytes, the end of the stream or an error. The default
    /// is always ready (the buffer is then held while the read waits).
    fn poll_read_ready(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
impl Transport for tokio::io::DuplexStream {}

/// One server-side WebSocket connection.
#[derive(Debug)]
pub(crate) struct Connection<S> {
    io: S,
    /// Received bytes not yet decoded; released whenever it is empty (between messages).
    read: BytesMut,
    /// How much the next read asks for: doubles while reads fill it, halves while they
    /// use less than a quarter of it.
    read_size: usize,
    write: BytesMut,
    decoder: Decoder,
    /// Boxed: most sessions have none.
    deflater: Option<Box<Deflater>>,
    close_sent: bool,
    close_received: bool,
    /// A fatal decoding error happened: the rest of the input is discarded.
    failed: bool,
    /// The peer's end of stream was seen.
    eof: bool,
    shut_down: bool,
}

impl<S: Transport> Connection<S> {
    /// Wraps an upgraded connection whose handshake has been answered, with the
    /// permessage-deflate parameters negotiated there, if any.
    pub(crate) fn accept(io: S, limits: CodecLimits, deflate: Option<DeflateParams>) -> Self {
        Connection {
            io,
            read: BytesMut::new(),
            read_size: READ_MIN,
            write: BytesMut::new(),
            decoder: Decoder::new(limits, deflate.as_ref()),
            deflater: deflate
                .as_ref()
                .map(|params| Box::new(Deflater::new(params))),
            close_sent: false,
            close_received: false,
            failed: false,
            eof: false,
            shut_down: false,
        }
    }

    /// Enforces `limits` from the next message on (one being reassembled is held to them
    /// too).
    pub(crate) fn set_limits(&mut self, limits: CodecLimits) {
        self.decoder.set_limits(limits);
    }

    /// The next message or control frame; `None` once the connection is finished (after
    /// the peer's close frame, at the end of the stream, or after a fatal error once the
    /// peer has closed).
    pub(crate) async fn next(&mut self) -> Option<Result<Inbound, CodecError>> {
        loop {
            if self.close_received || self.eof {
                return None;
            }
            if self.failed {
                self.read.clear();
            } else {
                match self.decoder.decode(&mut self.read) {
                    Ok(Some(inbound)) => {
                        self.answer(&inbound);
                        return Some(Ok(inbound));
                    }
                    Ok(None) => {}
                    Err(error) => {
                        self.failed = true;
                        return Some(Err(error));
                    }
                }
            }
            match self.fill().await {
                Ok(0) => {
                    self.eof = true;
                    if self.failed || (self.read.is_empty() && self.decoder.is_between_messages()) {
                        return None;
                    }
                    let why = "the connection ended inside a frame".to_owned();
                    return Some(Err(CodecError::ConnectionLost(why)));
                }
                Ok(_) => {}
                Err(error) => {
                    self.eof = true;
                    return Some(Err(CodecError::ConnectionLost(error.to_string())));
                }
            }
        }
    }

    /// Queues a frame without flushing it.
    pub(crate) async fn feed(&mut self, frame: Outbound) -> Result<(), CodecError> {
        if self.close_sent {
            return Err(lost("a close frame was already sent"));
        }
        match frame {
            Outbound::Text(text) => self.feed_data(OpCode::Text, text.into()).await?,
            Outbound::Binary(data) => self.feed_data(OpCode::Binary, data).await?,
            Outbound::Ping(data) => self.encode_control(OpCode::Ping, &data),
            Outbound::Pong(data) => self.encode_control(OpCode::Pong, &data),
            Outbound::Close(code, reason) => {
                self.encode_close(Some((code, &reason)));
            }
            Outbound::Encoded(bytes) => self.feed_encoded(bytes).await?,
        }
        if self.write.len() >= WRITE_HIGH {
            self.write_out().await?;
        }
        Ok(())
    }

    /// Writes everything queued to the socket; once the close handshake is over (or ours
    /// answered a violation), also shuts down the write half.
    pub(crate) async fn flush(&mut self) -> Result<(), CodecError> {
        self.write_out().await?;
        self.io.flush().await.map_err(|e| lost(e.to_string()))?;
        if self.close_sent && (self.close_received || self.failed) && !self.shut_down {
            self.shut_down = true;
            let _ = self.io.shutdown().await;
        }
        Ok(())
    }

    /// Queues the automatic answer to a ping or a close.
    fn answer(&mut self, inbound: &Inbound) {
        match inbound {
            Inbound::Ping(data) if !self.close_sent => self.encode_control(OpCode::Pong, data),
            Inbound::Close(frame) => {
                self.close_received = true;
                if !self.close_sent {
                    self.encode_close(frame.as_ref().map(|(code, _)| (*code, "")));
                }
            }
            _ => {}
        }
    }

    async fn feed_data(&mut self, opcode: OpCode, payload: Bytes) -> Result<(), CodecError> {
        let deflater = self.deflater.as_mut().filter(|d| d.wants(payload.len()));
        let (rsv1, payload) = match deflater {
            Some(deflater) => {
                let mut compressed = Vec::new();
                deflater
                    .deflate(&payload, &mut compressed)
                    .map_err(|e| lost(format!("compression failed: {e}")))?;
                (true, Bytes::from(compressed))
            }
            None => (false, payload),
        };
        frame::encode_header(&mut self.write, true, rsv1, opcode, payload.len());
        self.feed_encoded(payload).await
    }

    /// Bytes that go out as they are: copied into the write buffer when small, written from
    /// their own buffer when large.
    async fn feed_encoded(&mut self, bytes: Bytes) -> Result<(), CodecError> {
        if bytes.len() < DIRECT_WRITE {
            self.write.put_slice(&bytes);
            return Ok(());
        }
        self.write_out().await?;
        self.io
            .write_all(&bytes)
            .await
            .map_err(|e| lost(e.to_string()))
    }

    /// Whether encoded bytes wait in the write buffer for a flush.
    pub(crate) fn has_buffered(&self) -> bool {
        !self.write.is_empty()
    }

    fn encode_control(&mut self, opcode: OpCode, payload: &[u8]) {
        let payload = &payload[..payload.len().min(MAX_CONTROL_PAYLOAD)];
        frame::encode_header(&mut self.write, true, false, opcode, payload.len());
        self.write.put_slice(payload);
    }

    fn encode_close(&mut self, frame: Option<(u16, &str)>) {
        let mut payload = Vec::with_capacity(MAX_CONTROL_PAYLOAD);
        if let Some((code, reason)) = frame {
            payload.extend_from_slice(&code.to_be_bytes());
            payload.extend_from_slice(crate::text::cut(reason, MAX_CLOSE_REASON).as_bytes());
        }
        self.encode_control(OpCode::Close, &payload);
        self.close_sent = true;
    }

    /// Reads once into the buffer, sizing the read by recent traffic. Between messages the
    /// buffer is dropped before waiting: an idle connection holds no read memory.
    async fn fill(&mut self) -> io::Result<usize> {
        let fresh = self.read.is_empty();
        if fresh {
            self.read = BytesMut::new();
            std::future::poll_fn(|cx| self.io.poll_read_ready(cx)).await?;
        }
        self.read.reserve(self.read_size);
        let room = self.read.capacity() - self.read.len();
        let n = self.io.read_buf(&mut self.read).await?;
        // Only a read that starts a message says how large messages are: the short read
        // that completes a frame must not shrink the next (which would split every frame).
        if fresh || n >= room {
            self.read_size = next_read_size(self.read_size, room, n);
        }
        Ok(n)
    }

    #[cfg(test)]
    pub(crate) fn read_capacity(&self) -> usize {
        self.read.capacity()
    }

    async fn write_out(&mut self) -> Result<(), CodecError> {
        if !self.write.is_empty() {
            let result = self.io.write_all(&self.write).await;
            self.write.clear();
            result.map_err(|e| lost(e.to_string()))?;
        }
        if self.write.capacity() > WRITE_KEEP {
            self.write = BytesMut::new();
        }
        Ok(())
    }
}

/// The size of the read after one that had `room` and got `n` bytes asked for `size`.
fn next_read_size(size: usize, room: usize, n: usize) -> usize {
    if n >= room {
        (size * 2).min(READ_MAX)
    } else if n < size / 4 {
        (size / 2).max(READ_MIN)
    } else {
        size
    }
}

fn lost(why: impl Into<String>) -> CodecError {
    CodecError::ConnectionLost(why.into())
}

#[cfg(test)]
mod tests;
