//! [`SharedSocket`]: a session's TCP socket, shared between its connection task (reads, queued
//! writes, control frames, the close handshake) and the plugin threads that send on it.
//!
//! Why shared: a plugin thread whose send finds the outgoing queue empty and the socket idle
//! writes the frame itself, without a copy, a queue or a wake-up of the connection task (see
//! `handle::SessionHandle::send_blocking`). Who may write when is decided by the session's
//! `Outbox` (one writer at a time, queued frames first); this module only does the I/O and
//! must not decide it. Every write here is non-blocking: a plugin thread never waits on the
//! socket, it queues what did not fit.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;

/// The socket; `Arc`-shared by the connection task's [`SocketIo`] and the session handle.
#[derive(Debug)]
pub(crate) struct SharedSocket {
    stream: TcpStream,
}

impl SharedSocket {
    pub(crate) fn new(stream: TcpStream) -> Arc<SharedSocket> {
        Arc::new(SharedSocket { stream })
    }

    /// Writes what the socket takes now, from any thread, never blocking; `WouldBlock` when
    /// it takes nothing.
    pub(crate) fn try_write(&self, parts: &[IoSlice<'_>]) -> io::Result<usize> {
        self.stream.try_write_vectored(parts)
    }

    /// One read into `buf`, never blocking. A read that returns less than there was room for
    /// drained the socket, so the readiness is cleared at once, as tokio's own `poll_read`
    /// does: the next read waits for the next edge instead of costing a `recv` that returns
    /// `EAGAIN`. (`try_io` clears readiness when its closure reports `WouldBlock`; the bytes
    /// that were read are kept aside and returned.)
    fn try_read(&self, buf: &mut ReadBuf<'_>) -> io::Result<usize> {
        let room = buf.remaining();
        let mut read = None;
        let outcome = self.stream.try_io(Interest::READABLE, || {
            let n = self.stream.try_read_buf(&mut *buf)?;
            read = Some(n);
            if n > 0 && n < room {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            Ok(n)
        });
        match read {
            Some(n) => Ok(n),
            None => outcome,
        }
    }
}

/// The connection task's reading and writing end of a [`SharedSocket`].
#[derive(Debug)]
pub(crate) struct SocketIo {
    socket: Arc<SharedSocket>,
    /// Bytes the client sent right behind its handshake, read by the HTTP layer.
    early: BytesMut,
}

impl SocketIo {
    pub(crate) fn new(socket: Arc<SharedSocket>, early: &[u8]) -> SocketIo {
        SocketIo {
            socket,
            early: BytesMut::from(early),
        }
    }
}

impl AsyncRead for SocketIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.early.is_empty() {
            let n = self.early.len().min(buf.remaining());
            buf.put_slice(&self.early.split_to(n));
            if self.early.is_empty() {
                self.early = BytesMut::new();
            }
            return Poll::Ready(Ok(()));
        }
        loop {
            ready!(self.socket.stream.poll_read_ready(cx))?;
            match self.socket.try_read(buf) {
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => continue,
                read => return Poll::Ready(read.map(drop)),
            }
        }
    }
}

impl AsyncWrite for SocketIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[IoSlice::new(data)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        parts: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.socket.stream.poll_write_ready(cx))?;
            match self.socket.try_write(parts) {
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => continue,
                written => return Poll::Ready(written),
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        let socket = socket2::SockRef::from(&self.socket.stream);
        Poll::Ready(socket.shutdown(std::net::Shutdown::Write))
    }
}
