//! The receiving half of the protocol, sans I/O: bytes in (whatever the socket delivered so
//! far), [`Inbound`] messages and control frames out.
//!
//! A message of one uncompressed frame that has wholly arrived is taken as it lies: unmasked
//! in place and split off the read buffer, without a copy. Otherwise data-frame payloads
//! are consumed as they arrive, not when the frame is complete: each
//! piece is unmasked, inflated if the message is compressed, appended to the message and,
//! for text, UTF-8-checked at once. So an invalid text message fails at its first impossible
//! byte even inside one large frame, a message is refused as soon as a header or the
//! running (inflated) size shows it will exceed its kind's limit, and the read buffer never
//! has to hold a whole frame. Control frames (at most 125 bytes) are handled whole.

use bytes::{Buf, Bytes, BytesMut};

use super::deflate::{DeflateParams, InflateError, Inflater};
use super::frame::{self, Header, OpCode};
use super::utf8::Utf8Validator;
use super::{CodecError, CodecLimits, Inbound};

/// Reassembles messages from client frames and checks every receiving rule.
#[derive(Debug)]
pub(crate) struct Decoder {
    limits: CodecLimits,
    /// Present when permessage-deflate was negotiated (boxed: most sessions have none).
    inflater: Option<Box<Inflater>>,
    /// The data frame whose payload is arriving.
    frame: Option<FrameProgress>,
    /// The data message being reassembled.
    message: Option<Message>,
}

#[derive(Debug)]
struct FrameProgress {
    header: Header,
    /// Payload bytes not yet consumed.
    remaining: u64,
    /// Payload bytes consumed, for the mask's phase.
    done: usize,
}

#[derive(Debug)]
struct Message {
    text: bool,
    compressed: bool,
    data: Vec<u8>,
    utf8: Utf8Validator,
}

impl Decoder {
    /// A decoder enforcing `limits`, inflating RSV1 messages when `deflate` is negotiated.
    pub(crate) fn new(limits: CodecLimits, deflate: Option<&DeflateParams>) -> Decoder {
        Decoder {
            limits,
            inflater: deflate.map(|params| Box::new(Inflater::new(params))),
            frame: None,
            message: None,
        }
    }

    /// Enforces `limits` from now on.
    pub(crate) fn set_limits(&mut self, limits: CodecLimits) {
        self.limits = limits;
    }

    /// Whether the decoder is between messages (an end of stream here is not mid-frame).
    pub(crate) fn is_between_messages(&self) -> bool {
        self.frame.is_none() && self.message.is_none()
    }

    /// Consumes what it can from `buf`: the next message or control frame, or `None` when
    /// more bytes are needed. Any error is fatal for the connection.
    pub(crate) fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Inbound>, CodecError> {
        loop {
            if self.frame.is_none() {
                let Some((header, header_len)) = frame::parse_header(buf).map_err(protocol)? else {
                    return Ok(None);
                };
                if header.opcode.is_control() {
                    return self.control(header, header_len, buf);
                }
                if let Some(message) = self.whole_message(&header, header_len, buf)? {
                    return Ok(Some(message));
                }
                self.start_frame(&header)?;
                buf.advance(header_len);
                self.frame = Some(FrameProgress {
                    header,
                    remaining: header.len,
                    done: 0,
                });
            }
            let Some(progress) = self.frame.as_mut() else {
                continue;
            };
            let available =
                usize::try_from(progress.remaining).map_or(buf.len(), |r| r.min(buf.len()));
            if available == 0 && progress.remaining > 0 {
                return Ok(None);
            }
            let piece = &mut buf[..available];
            frame::apply_mask(piece, progress.header.mask, progress.done);
            progress.remaining -= available as u64;
            progress.done += available;
            let fin = progress.header.fin && progress.remaining == 0;
            let frame_done = progress.remaining == 0;
            self.append(&buf[..available])?;
            buf.advance(available);
            if frame_done {
                self.frame = None;
            }
            if fin {
                return self.finish_message().map(Some);
            }
        }
    }

    /// The common case without a copy: a message of one uncompressed frame that is wholly in
    /// `buf` is unmasked in place and split off the buffer. `None` leaves everything else
    /// (including every error) to the piecewise path.
    fn whole_message(
        &mut self,
        header: &Header,
        header_len: usize,
        buf: &mut BytesMut,
    ) -> Result<Option<Inbound>, CodecError> {
        let text = match header.opcode {
            OpCode::Text => true,
            OpCode::Binary => false,
            _ => return Ok(None),
        };
        let limit = if text {
            self.limits.text
        } else {
            self.limits.binary
        };
        let Ok(len) = usize::try_from(header.len) else {
            return Ok(None);
        };
        let whole = buf.len().saturating_sub(header_len) >= len;
        if !header.fin || header.rsv1 || self.message.is_some() || len > limit || !whole {
            return Ok(None);
        }
        buf.advance(header_len);
        let mut payload = buf.split_to(len);
        frame::apply_mask(&mut payload, header.mask, 0);
        let payload = payload.freeze();
        if text {
            std::str::from_utf8(&payload).map_err(|_| CodecError::InvalidUtf8)?;
            return Ok(Some(Inbound::Text(payload)));
        }
        Ok(Some(Inbound::Binary(payload)))
    }

    /// Handles a whole control frame, or waits for the rest of it.
    fn control(
        &mut self,
        header: Header,
        header_len: usize,
        buf: &mut BytesMut,
    ) -> Result<Option<Inbound>, CodecError> {
        // Control frames are at most 125 bytes (checked by the parser).
        let len = header.len as usize;
        if buf.len() < header_len + len {
            return Ok(None);
        }
        if header.rsv1 {
            return Err(protocol("RSV1 set on a control frame"));
        }
        buf.advance(header_len);
        frame::apply_mask(&mut buf[..len], header.mask, 0);
        let payload = Bytes::copy_from_slice(&buf[..len]);
        buf.advance(len);
        Ok(Some(match header.opcode {
            OpCode::Ping => Inbound::Ping(payload),
            OpCode::Pong => Inbound::Pong(payload),
            _ => Inbound::Close(close_payload(&payload)?),
        }))
    }

    /// Checks a data frame's header against the message in progress and the limits.
    fn start_frame(&mut self, header: &Header) -> Result<(), CodecError> {
        match (header.opcode, &self.message) {
            (OpCode::Continuation, None) => {
                return Err(protocol("continuation frame without a message to continue"));
            }
            (OpCode::Continuation, Some(_)) if header.rsv1 => {
                return Err(protocol("RSV1 set on a continuation frame"));
            }
            (OpCode::Continuation, Some(_)) => {}
            (_, Some(_)) => {
                return Err(protocol("a new message started before the last one ended"));
            }
            (opcode, None) => {
                if header.rsv1 && self.inflater.is_none() {
                    return Err(protocol("RSV1 set without a negotiated extension"));
                }
                self.message = Some(Message {
                    text: opcode == OpCode::Text,
                    compressed: header.rsv1,
                    data: Vec::new(),
                    utf8: Utf8Validator::default(),
                });
            }
        }
        let limits = self.limits;
        let Some(message) = self.message.as_mut() else {
            return Ok(());
        };
        if !message.compressed {
            let limit = message.limit(limits);
            let total = (message.data.len() as u64).saturating_add(header.len);
            if total > limit as u64 {
                return Err(message.too_big(limit));
            }
            // Within the limit, so a bounded reservation.
            message.data.reserve(header.len as usize);
        }
        Ok(())
    }

    /// Appends unmasked payload bytes to the message in progress.
    fn append(&mut self, piece: &[u8]) -> Result<(), CodecError> {
        let Some(message) = self.message.as_mut() else {
            return Ok(());
        };
        let start = message.data.len();
        if message.compressed {
            let limit = message.limit(self.limits);
            if let Some(inflater) = self.inflater.as_mut() {
                let result = inflater.inflate(piece, &mut message.data, limit);
                result.map_err(|e| message.inflate_error(e, limit))?;
            }
        } else {
            message.data.extend_from_slice(piece);
        }
        message.check_utf8(start)
    }

    fn finish_message(&mut self) -> Result<Inbound, CodecError> {
        let Some(mut message) = self.message.take() else {
            return Err(protocol("no message to finish"));
        };
        if message.compressed {
            let limit = message.limit(self.limits);
            let start = message.data.len();
            if let Some(inflater) = self.inflater.as_mut() {
                let result = inflater.finish(&mut message.data, limit);
                result.map_err(|e| message.inflate_error(e, limit))?;
            }
            message.check_utf8(start)?;
        }
        if message.text {
            message.utf8.finish().map_err(|_| CodecError::InvalidUtf8)?;
            return Ok(Inbound::Text(Bytes::from(message.data)));
        }
        Ok(Inbound::Binary(Bytes::from(message.data)))
    }
}

impl Message {
    fn limit(&self, limits: CodecLimits) -> usize {
        if self.text {
            limits.text
        } else {
            limits.binary
        }
    }

    fn kind(&self) -> &'static str {
        if self.text { "text" } else { "binary" }
    }

    fn too_big(&self, limit: usize) -> CodecError {
        CodecError::TooBig(format!(
            "{} message exceeds the limit of {limit} bytes",
            self.kind()
        ))
    }

    fn inflate_error(&self, error: InflateError, limit: usize) -> CodecError {
        match error {
            InflateError::TooBig => self.too_big(limit),
            InflateError::Corrupt(why) => protocol(format!("invalid compressed data: {why}")),
        }
    }

    fn check_utf8(&mut self, from: usize) -> Result<(), CodecError> {
        if !self.text {
            return Ok(());
        }
        let new = self.data.get(from..).unwrap_or_default();
        self.utf8.feed(new).map_err(|_| CodecError::InvalidUtf8)
    }
}

/// Validates a close frame's payload (RFC 6455 §5.5.1, §7.4).
fn close_payload(payload: &[u8]) -> Result<Option<(u16, String)>, CodecError> {
    let (code, reason) = match payload {
        [] => return Ok(None),
        [_] => return Err(protocol("close frame with a 1-byte payload")),
        [high, low, reason @ ..] => (u16::from_be_bytes([*high, *low]), reason),
    };
    // A peer may send exactly the codes an endpoint may: the SDK's rule is the only one.
    if !endpoint_api::CloseReason::is_sendable(code) {
        return Err(protocol(format!("invalid close code {code}")));
    }
    let reason = std::str::from_utf8(reason).map_err(|_| CodecError::InvalidUtf8)?;
    Ok(Some((code, reason.to_owned())))
}

fn protocol(detail: impl ToString) -> CodecError {
    CodecError::Protocol(detail.to_string())
}

#[cfg(test)]
mod tests;
