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
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;

use crate::codec::Transport;

/// The socket; `Arc`-shared by the connection task's [`SocketIo`] and the session handle.
#[derive(Debug)]
pub(crate) struct SharedSocket {
    stream: TcpStream,
}

impl SharedSocket {
    pub(crate) fn new(stream: TcpStream) -> Arc<SharedSocket> {
        Arc::new(SharedSocket { stream })
    }

    /// Writes what the socket takes now, from a plugin thread, never blocking; `WouldBlock`
    /// when it takes nothing. A plain `sendmsg`, which skips the file layer a `writev` goes
    /// through, and leaves tokio's readiness alone: the connection task's next write finds
    /// out for itself whether the socket is full.
    pub(crate) fn send_now(&self, parts: &[IoSlice<'_>]) -> io::Result<usize> {
        socket2::SockRef::from(&self.stream).send_vectored_with_flags(parts, libc::MSG_NOSIGNAL)
    }

    /// The connection task's write: as [`SharedSocket::send_now`], but through tokio, so that
    /// a full socket clears the readiness the task waits on.
    fn try_write(&self, parts: &[IoSlice<'_>]) -> io::Result<usize> {
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

impl Transport for SocketIo {
    fn poll_read_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.early.is_empty() {
            return Poll::Ready(Ok(()));
        }
        self.socket.stream.poll_read_ready(cx)
    }
}

/// The upgraded connection as hyper hands it over, when it is not a plain TCP stream (it
/// always is today): no readiness, so it holds its read buffer while waiting.
impl Transport for TokioIo<Upgraded> {}

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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpListener;

    use super::*;
    use crate::codec::{CodecLimits, Connection, Inbound};

    const LIMITS: CodecLimits = CodecLimits {
        text: 1 << 20,
        binary: 1 << 20,
    };

    async fn tcp_pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let client = TcpStream::connect(address).await.expect("connect");
        let (server, _) = listener.accept().await.expect("accept");
        (server, client)
    }

    /// A masked binary frame of up to 125 bytes, as a client sends it (mask of zeros).
    fn client_binary(payload: &[u8]) -> Vec<u8> {
        let mut frame = vec![0x82, 0x80 | u8::try_from(payload.len()).expect("short")];
        frame.extend_from_slice(&[0, 0, 0, 0]);
        frame.extend_from_slice(payload);
        frame
    }

    #[tokio::test]
    async fn bytes_read_with_the_handshake_come_first_and_an_idle_connection_holds_no_read_buffer()
    {
        let (server, mut client) = tcp_pair().await;
        let socket = SharedSocket::new(server);
        let early = client_binary(b"early");
        let io = SocketIo::new(Arc::clone(&socket), &early);
        let mut conn = Connection::accept(io, LIMITS, None);
        assert_eq!(
            conn.next().await.expect("frame").expect("ok"),
            Inbound::Binary(bytes::Bytes::from_static(b"early"))
        );
        client
            .write_all(&client_binary(b"later"))
            .await
            .expect("write");
        assert_eq!(
            conn.next().await.expect("frame").expect("ok"),
            Inbound::Binary(bytes::Bytes::from_static(b"later"))
        );
        let waited = tokio::time::timeout(Duration::from_millis(50), conn.next()).await;
        assert!(waited.is_err(), "nothing more was sent");
        assert_eq!(conn.read_capacity(), 0, "no buffer held while waiting");
    }

    #[tokio::test]
    async fn a_direct_write_lands_on_the_socket_whole() {
        let (server, mut client) = tcp_pair().await;
        let socket = SharedSocket::new(server);
        let written = socket
            .send_now(&[IoSlice::new(b"\x82\x02"), IoSlice::new(b"hi")])
            .expect("write");
        assert_eq!(written, 4);
        let mut received = [0u8; 4];
        tokio::io::AsyncReadExt::read_exact(&mut client, &mut received)
            .await
            .expect("read");
        assert_eq!(&received, b"\x82\x02hi");
    }
}
