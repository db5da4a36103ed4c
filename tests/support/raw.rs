//! A hand-made WebSocket client for what the tungstenite client cannot do: offer extensions
//! (permessage-deflate) and send frames with reserved bits set.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::client::WAIT;

/// `FIN` and the opcode of a final text frame.
pub const TEXT: u8 = 0x81;
/// `RSV1`: the frame's message is compressed (permessage-deflate).
pub const RSV1: u8 = 0x40;
/// The opcode of a close frame (`FIN` set).
pub const CLOSE: u8 = 0x88;

/// One frame from the server.
#[derive(Debug)]
pub struct Frame {
    /// The first byte: `FIN`, `RSV1-3`, opcode.
    pub first: u8,
    /// The payload (servers do not mask).
    pub payload: Vec<u8>,
}

/// An upgraded connection.
#[derive(Debug)]
pub struct RawWs {
    stream: TcpStream,
    buffered: Vec<u8>,
}

/// Opens `path` on `addr` with the opening handshake plus `extra` header lines; returns the
/// server's answer head (status line and headers) and the connection.
pub async fn open(addr: SocketAddr, path: &str, extra: &[&str]) -> (String, RawWs) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let mut request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    );
    for line in extra {
        request.push_str(line);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("write handshake");
    let mut ws = RawWs {
        stream,
        buffered: Vec::new(),
    };
    let end = loop {
        if let Some(at) = ws.buffered.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        ws.fill().await;
    };
    let head = String::from_utf8_lossy(&ws.buffered[..end]).into_owned();
    ws.buffered.drain(..end);
    (head, ws)
}

/// The value of header `name` in an answer head (names compared without regard to case).
pub fn header(head: &str, name: &str) -> Option<String> {
    head.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then(|| value.trim().to_owned())
    })
}

impl RawWs {
    async fn fill(&mut self) {
        let mut chunk = [0u8; 4096];
        let read = tokio::time::timeout(WAIT, self.stream.read(&mut chunk))
            .await
            .expect("the server answered in time")
            .expect("read");
        assert!(read > 0, "the server closed the connection");
        self.buffered.extend_from_slice(&chunk[..read]);
    }

    async fn take(&mut self, len: usize) -> Vec<u8> {
        while self.buffered.len() < len {
            self.fill().await;
        }
        self.buffered.drain(..len).collect()
    }

    /// Sends one masked frame whose first byte is `first`.
    pub async fn send(&mut self, first: u8, payload: &[u8]) {
        const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
        let mut frame = vec![first];
        match payload.len() {
            len @ 0..=125 => frame.push(0x80 | len as u8),
            len @ 126..=0xffff => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(len as u16).to_be_bytes());
            }
            len => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(len as u64).to_be_bytes());
            }
        }
        frame.extend_from_slice(&MASK);
        frame.extend(payload.iter().zip(MASK.iter().cycle()).map(|(b, m)| b ^ m));
        self.stream.write_all(&frame).await.expect("write frame");
    }

    /// The next frame from the server.
    pub async fn recv(&mut self) -> Frame {
        let head = self.take(2).await;
        assert_eq!(head[1] & 0x80, 0, "a server frame is never masked");
        let len = match head[1] & 0x7f {
            126 => u64::from(u16::from_be_bytes(
                self.take(2).await.try_into().expect("2 bytes"),
            )),
            127 => u64::from_be_bytes(self.take(8).await.try_into().expect("8 bytes")),
            len => u64::from(len),
        };
        let len = usize::try_from(len).expect("a frame that fits memory");
        Frame {
            first: head[0],
            payload: self.take(len).await,
        }
    }
}
