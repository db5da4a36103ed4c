//! Direct writes: a data frame written to the socket by the plugin thread that sends it.
//!
//! The common case of a send — nothing queued for the session, its connection task not
//! writing — needs no queue, no copy of the payload and no wake-up of the connection task:
//! the sending thread writes header and payload with one non-blocking `sendmsg`. Whatever the
//! socket does not take is queued ahead of everything else and finished by the task, with
//! the send's deadline, exactly like a queued frame. When the socket is not free the frame
//! takes the queued path of `handle`. Broadcasts never come here: one thread writing to
//! thousands of sockets pays a system call per frame, where the connection tasks coalesce
//! whatever piled up for their session into one write (a room where everyone joins at once
//! sends N²/2 notices). The `Outbox` decides when the socket is free; this
//! module must not write without its claim, and never blocks on the socket. The handle's
//! `send_blocking_lent` is its way in.

use std::io::{self, IoSlice};
use std::time::Duration;

use tokio::time::Instant;

use bytes::Bytes;

use super::ending::Closure;
use super::handle::{COMPLETION_SLOT, SendError, Sent, SessionHandle};
use super::outbox::Outgoing;
use crate::codec::{DataHeader, Outbound, Utf8Bytes};

/// A data payload as the plugin lends it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Payload<'a> {
    Text(&'a str),
    Binary(&'a [u8]),
}

impl Payload<'_> {
    fn bytes(&self) -> &[u8] {
        match self {
            Payload::Text(text) => text.as_bytes(),
            Payload::Binary(data) => data,
        }
    }

    /// The frame for the queued path (the only place the payload is copied).
    fn to_outbound(self) -> Outbound {
        match self {
            Payload::Text(text) => Outbound::Text(Utf8Bytes::from(text)),
            Payload::Binary(data) => Outbound::Binary(Bytes::copy_from_slice(data)),
        }
    }
}

/// What became of a direct write.
enum Direct {
    /// All of it is on the socket.
    Written,
    /// The first `n` bytes are on the socket; the claim is still held and must be ended
    /// with the rest queued.
    Partly(usize),
    /// The socket is not free or not ready: queue the frame instead.
    NotNow,
    /// The connection failed.
    Failed,
}

/// Sends a data frame and waits until it is written, up to `timeout` (`None`: no limit),
/// writing it from this thread when the socket is free.
pub(super) fn send_blocking(
    session: &SessionHandle,
    payload: Payload<'_>,
    timeout: Option<Duration>,
) -> Sent {
    let header = DataHeader::new(matches!(payload, Payload::Text(_)), payload.bytes().len());
    match write_direct(session, header.as_bytes(), payload.bytes()) {
        Direct::Written => Ok(()),
        Direct::Failed => Err(SendError::Closed),
        Direct::NotNow => session.send_blocking(payload.to_outbound(), timeout),
        Direct::Partly(written) => {
            let rest = rest_of(header.as_bytes(), payload.bytes(), written);
            let deadline = timeout.map(|t| Instant::now() + t);
            COMPLETION_SLOT.with(|slot| {
                let (done, sequence) = slot.waiter();
                let outgoing = Outgoing {
                    frame: Outbound::Encoded(rest),
                    done,
                    deadline,
                };
                match session.outbox.end_direct(Some(outgoing)) {
                    Ok(()) => session.wait_written(slot, sequence, deadline),
                    Err(_) => Err(SendError::Closed),
                }
            })
        }
    }
}

/// Writes `head` then `tail` with one non-blocking `sendmsg` if the outbox grants the
/// socket to this thread.
fn write_direct(session: &SessionHandle, head: &[u8], tail: &[u8]) -> Direct {
    let Some(socket) = &session.socket else {
        return Direct::NotNow;
    };
    if !session.outbox.claim_direct() {
        return Direct::NotNow;
    }
    let total = head.len() + tail.len();
    let outcome = match socket.send_now(&[IoSlice::new(head), IoSlice::new(tail)]) {
        Ok(written) if written == total => Direct::Written,
        Ok(written) => return Direct::Partly(written),
        Err(error) if is_not_ready(&error) => Direct::NotNow,
        Err(error) => {
            session.close(Closure::WriteFailed(error.to_string()));
            Direct::Failed
        }
    };
    // Nothing is left over, so nothing can come back.
    let _ = session.outbox.end_direct(None);
    if matches!(outcome, Direct::Written) {
        session.touch();
    }
    outcome
}

fn is_not_ready(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

/// The bytes of `head` + `tail` after the first `written`.
fn rest_of(head: &[u8], tail: &[u8], written: usize) -> Bytes {
    let mut rest = Vec::with_capacity(head.len() + tail.len() - written);
    if written < head.len() {
        rest.extend_from_slice(&head[written..]);
        rest.extend_from_slice(tail);
    } else {
        rest.extend_from_slice(&tail[written - head.len()..]);
    }
    Bytes::from(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rest_of_a_partial_write_starts_where_the_socket_stopped() {
        assert_eq!(rest_of(b"ab", b"cdef", 0), Bytes::from_static(b"abcdef"));
        assert_eq!(rest_of(b"ab", b"cdef", 1), Bytes::from_static(b"bcdef"));
        assert_eq!(rest_of(b"ab", b"cdef", 2), Bytes::from_static(b"cdef"));
        assert_eq!(rest_of(b"ab", b"cdef", 5), Bytes::from_static(b"f"));
    }
}
