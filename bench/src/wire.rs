//! A minimal WebSocket client on raw tokio sockets, cheap enough not to be the bottleneck.
//!
//! The opening handshake uses the RFC 6455 sample key, so the expected accept value is a
//! constant (no SHA-1 per connection). Frames are masked with a fixed key: a server cannot
//! tell, and a frame can be encoded once and written many times. Server frames are parsed in
//! place in one growable buffer; only whole frames are handed out (no fragment reassembly:
//! the servers measured here never fragment what they echo).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::BenchError;
use crate::target::Target;

/// The RFC 6455 section 1.3 sample key.
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
/// Its accept value.
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
/// The masking key of every frame this client sends.
const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
/// The longest handshake response accepted.
const MAX_HEAD: usize = 16 * 1024;
/// How long a close handshake may take before the socket is just dropped.
pub const CLOSE_WAIT: Duration = Duration::from_secs(3);

/// Frame opcodes.
pub mod opcode {
    /// A text frame.
    pub const TEXT: u8 = 0x1;
    /// A binary frame.
    pub const BINARY: u8 = 0x2;
    /// A close frame.
    pub const CLOSE: u8 = 0x8;
    /// A ping.
    pub const PING: u8 = 0x9;
    /// A pong.
    pub const PONG: u8 = 0xa;
}

/// Opens a TCP connection to `addr`, first binding to `source` (port chosen by the kernel)
/// when given, with `TCP_NODELAY` set.
pub async fn tcp(addr: SocketAddr, source: Option<IpAddr>) -> Result<TcpStream, BenchError> {
    let err = |source| BenchError::Connect { addr, source };
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4(),
        SocketAddr::V6(_) => TcpSocket::new_v6(),
    }
    .map_err(err)?;
    if let Some(ip) = source {
        socket.bind(SocketAddr::new(ip, 0)).map_err(err)?;
    }
    let stream = socket.connect(addr).await.map_err(err)?;
    stream.set_nodelay(true).map_err(err)?;
    Ok(stream)
}

/// Connects and performs the opening handshake; returns the stream and a reader holding any
/// bytes the server sent after its response.
pub async fn connect(
    target: &Target,
    source: Option<IpAddr>,
) -> Result<(TcpStream, FrameReader), BenchError> {
    let mut stream = tcp(target.addr, source).await?;
    let mut reader = FrameReader::new();
    handshake(&mut stream, &mut reader, target).await?;
    Ok((stream, reader))
}

/// Sends the upgrade request and checks the response: 101 with the expected accept value.
pub async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    reader: &mut FrameReader,
    target: &Target,
) -> Result<(), BenchError> {
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n",
        target.path, target.host
    );
    stream.write_all(request.as_bytes()).await?;
    loop {
        let seen = &reader.buf[reader.start..reader.end];
        if let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&seen[..end]).into_owned();
            reader.start += end + 4;
            return check_response(&head);
        }
        if seen.len() > MAX_HEAD {
            return Err(BenchError::Handshake("response head too long".into()));
        }
        reader.reserve(1024);
        if reader.fill(stream).await? == 0 {
            return Err(BenchError::Handshake("connection closed".into()));
        }
    }
}

fn check_response(head: &str) -> Result<(), BenchError> {
    let status = head.lines().next().unwrap_or_default();
    if !status.starts_with("HTTP/1.1 101") {
        return Err(BenchError::Handshake(status.to_owned()));
    }
    if !head.contains(ACCEPT) {
        return Err(BenchError::Handshake("wrong Sec-WebSocket-Accept".into()));
    }
    Ok(())
}

/// Appends one masked, unfragmented frame to `out`.
pub fn encode(opcode: u8, payload: &[u8], out: &mut Vec<u8>) {
    out.push(0x80 | opcode);
    let len = payload.len();
    if len < 126 {
        out.push(0x80 | len as u8);
    } else if let Ok(short) = u16::try_from(len) {
        out.push(0x80 | 126);
        out.extend_from_slice(&short.to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(&MASK);
    out.extend(payload.iter().zip(MASK.iter().cycle()).map(|(b, m)| b ^ m));
}

/// One encoded frame, for writing as is.
pub fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 14);
    encode(opcode, payload, &mut out);
    out
}

/// A close frame with `code` and no reason.
pub fn close_frame(code: u16) -> Vec<u8> {
    frame(opcode::CLOSE, &code.to_be_bytes())
}

/// A payload of `len` printable ASCII bytes (valid as text and as binary).
pub fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| b'a' + (i % 26) as u8).collect()
}

/// A server frame, borrowed from the reader's buffer.
#[derive(Debug)]
pub struct Frame<'a> {
    /// The opcode.
    pub opcode: u8,
    /// The payload (server frames are never masked).
    pub payload: &'a [u8],
}

/// Buffers what the server sent and cuts it into frames.
#[derive(Debug)]
pub struct FrameReader {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl Default for FrameReader {
    fn default() -> Self {
        FrameReader::new()
    }
}

impl FrameReader {
    /// An empty reader (4 KiB to start with; grows to fit the largest frame).
    pub fn new() -> FrameReader {
        FrameReader {
            buf: vec![0; 4096],
            start: 0,
            end: 0,
        }
    }

    /// The next whole frame, reading from `io` as needed. A closed connection is an error.
    pub async fn next<R: AsyncRead + Unpin>(
        &mut self,
        io: &mut R,
    ) -> Result<Frame<'_>, BenchError> {
        loop {
            let need = match parse_header(&self.buf[self.start..self.end])? {
                Some((opcode, header, len)) if self.end - self.start >= header + len => {
                    let at = self.start + header;
                    self.start = at + len;
                    if self.start == self.end {
                        (self.start, self.end) = (0, 0);
                    }
                    return Ok(Frame {
                        opcode,
                        payload: &self.buf[at..at + len],
                    });
                }
                Some((_, header, len)) => header + len,
                None => 14,
            };
            self.reserve(need);
            if self.fill(io).await? == 0 {
                return Err(BenchError::Protocol(
                    "connection closed by the server".into(),
                ));
            }
        }
    }

    /// Makes room for `need` bytes from `start`, compacting or growing the buffer.
    fn reserve(&mut self, need: usize) {
        if self.buf.len() - self.start >= need && self.end < self.buf.len() {
            return;
        }
        self.buf.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
        if self.buf.len() < need.max(self.end + 1) {
            self.buf
                .resize(need.max(self.end + 1).next_power_of_two(), 0);
        }
    }

    async fn fill<R: AsyncRead + Unpin>(&mut self, io: &mut R) -> Result<usize, BenchError> {
        let n = io.read(&mut self.buf[self.end..]).await?;
        self.end += n;
        Ok(n)
    }
}

/// `(opcode, header length, payload length)` when a whole header is buffered.
fn parse_header(bytes: &[u8]) -> Result<Option<(u8, usize, usize)>, BenchError> {
    let [b0, b1, rest @ ..] = bytes else {
        return Ok(None);
    };
    if b1 & 0x80 != 0 {
        return Err(BenchError::Protocol("the server masked a frame".into()));
    }
    if b0 & 0x80 == 0 {
        return Err(BenchError::Protocol(
            "the server fragmented a message".into(),
        ));
    }
    let (header, len) = match b1 & 0x7f {
        126 => match rest {
            [a, b, ..] => (4, usize::from(u16::from_be_bytes([*a, *b]))),
            _ => return Ok(None),
        },
        127 => match rest.get(..8) {
            Some(ext) => {
                let mut be = [0u8; 8];
                be.copy_from_slice(ext);
                let len = usize::try_from(u64::from_be_bytes(be))
                    .map_err(|_| BenchError::Protocol("frame too long".into()))?;
                (10, len)
            }
            None => return Ok(None),
        },
        short => (2, usize::from(short)),
    };
    Ok(Some((b0 & 0x0f, header, len)))
}

/// Sends our close frame and waits (at most [`CLOSE_WAIT`]) for the server's.
pub async fn close<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S, reader: &mut FrameReader) {
    let closing = async {
        stream.write_all(&close_frame(1000)).await?;
        loop {
            if reader.next(stream).await?.opcode == opcode::CLOSE {
                return Ok::<(), BenchError>(());
            }
        }
    };
    let _ = tokio::time::timeout(CLOSE_WAIT, closing).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mut masked = frame(opcode, payload);
        // Unmask in place and clear the mask bit: what a server would send.
        let header = masked.len() - payload.len() - 4;
        masked[1] &= 0x7f;
        masked.drain(header..header + 4);
        masked[header..].copy_from_slice(payload);
        masked
    }

    #[test]
    fn encode_masks_and_picks_the_length_form() {
        let f = frame(opcode::BINARY, b"abcd");
        assert_eq!(&f[..2], &[0x82, 0x84]);
        assert_eq!(&f[2..6], &MASK);
        assert_eq!(f[6], b'a' ^ MASK[0]);
        assert_eq!(frame(opcode::TEXT, &payload(200))[1], 0x80 | 126);
        assert_eq!(frame(opcode::TEXT, &payload(70_000))[1], 0x80 | 127);
    }

    #[tokio::test]
    async fn the_reader_splits_coalesced_and_partial_frames() {
        let big = payload(20_000);
        let mut bytes = server_frame(opcode::TEXT, b"hi");
        bytes.extend(server_frame(opcode::BINARY, &big));
        bytes.extend(server_frame(opcode::CLOSE, &1000u16.to_be_bytes()));
        let (mut client, mut server) = tokio::io::duplex(64);
        let writer = tokio::spawn(async move {
            for chunk in bytes.chunks(7) {
                server.write_all(chunk).await.expect("write");
            }
        });
        let mut reader = FrameReader::new();
        let f = reader.next(&mut client).await.expect("text");
        assert_eq!((f.opcode, f.payload), (opcode::TEXT, &b"hi"[..]));
        let f = reader.next(&mut client).await.expect("binary");
        assert_eq!((f.opcode, f.payload.len()), (opcode::BINARY, big.len()));
        assert_eq!(f.payload, &big[..]);
        assert_eq!(
            reader.next(&mut client).await.expect("close").opcode,
            opcode::CLOSE
        );
        writer.await.expect("writer");
    }

    #[test]
    fn the_response_needs_101_and_the_accept_value() {
        assert!(
            check_response(&format!(
                "HTTP/1.1 101 Switching\r\nSec-WebSocket-Accept: {ACCEPT}"
            ))
            .is_ok()
        );
        assert!(check_response("HTTP/1.1 404 Not Found").is_err());
        assert!(check_response("HTTP/1.1 101 Switching\r\nSec-WebSocket-Accept: x").is_err());
    }
}
