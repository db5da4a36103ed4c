//! A real WebSocket client (tokio-tungstenite) and raw HTTP probes for the tests.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// A client connection.
pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long a test waits for any single expected event.
pub const WAIT: Duration = Duration::from_secs(10);

/// The echo sample's greeting (its `greeting` init-param).
pub const ECHO_GREETING: &str = "welcome to berth echo";

/// Connects to the echo sample at `url`, takes its greeting and round-trips one message;
/// returns the open connection.
pub async fn echo_round_trip(url: &str) -> Ws {
    let mut ws = connect(url).await;
    assert_eq!(recv_text(&mut ws).await, ECHO_GREETING);
    send_text(&mut ws, "still serving").await;
    assert_eq!(recv_text(&mut ws).await, "still serving");
    ws
}

/// Connects to `url`, panicking with the server's answer when refused.
pub async fn connect(url: &str) -> Ws {
    match tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(url)).await {
        Ok(Ok((ws, _))) => ws,
        Ok(Err(error)) => panic!("connecting to {url} failed: {error}"),
        Err(_) => panic!("connecting to {url} timed out"),
    }
}

/// Connects to `url` (`ws://ADDR/path`) over a socket whose receive buffer is fixed at
/// `bytes` (which turns the kernel's autotuning off for it): a client that then stops reading
/// makes the server's sends back up after little more than the server's own send buffer,
/// instead of after the tens of MiB a loopback receive window may grow to.
pub async fn connect_small_window(url: &str, bytes: u32) -> Ws {
    let addr: SocketAddr = url
        .strip_prefix("ws://")
        .and_then(|rest| rest.split('/').next())
        .and_then(|addr| addr.parse().ok())
        .unwrap_or_else(|| panic!("not ws://ADDR/…: {url}"));
    let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
    socket.set_recv_buffer_size(bytes).expect("SO_RCVBUF");
    let stream = tokio::time::timeout(WAIT, socket.connect(addr))
        .await
        .expect("connected in time")
        .expect("connect");
    let handshake = tokio_tungstenite::client_async(url, MaybeTlsStream::Plain(stream));
    match tokio::time::timeout(WAIT, handshake).await {
        Ok(Ok((ws, _))) => ws,
        Ok(Err(error)) => panic!("connecting to {url} failed: {error}"),
        Err(_) => panic!("connecting to {url} timed out"),
    }
}

/// The next data message or close frame, skipping pings and pongs.
pub async fn next_message(ws: &mut Ws) -> Message {
    loop {
        match tokio::time::timeout(WAIT, ws.next()).await {
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
            Ok(Some(Ok(message))) => return message,
            Ok(Some(Err(error))) => panic!("the connection failed: {error}"),
            Ok(None) => panic!("the connection ended"),
            Err(_) => panic!("no message within {WAIT:?}"),
        }
    }
}

/// The next text message.
pub async fn recv_text(ws: &mut Ws) -> String {
    match next_message(ws).await {
        Message::Text(text) => text.as_str().to_owned(),
        other => panic!("expected a text message, got {other:?}"),
    }
}

/// Sends a text message.
pub async fn send_text(ws: &mut Ws, text: &str) {
    ws.send(Message::text(text)).await.expect("send");
}

/// Waits for the server's close frame and returns it.
pub async fn expect_close(ws: &mut Ws) -> Option<CloseFrame> {
    loop {
        match next_message(ws).await {
            Message::Close(frame) => return frame,
            Message::Text(_) | Message::Binary(_) => continue,
            other => panic!("unexpected {other:?} while waiting for a close"),
        }
    }
}

/// Sends a raw HTTP/1.1 GET with WebSocket upgrade headers (plus `extra` header lines) and
/// returns the status code of the answer.
pub async fn handshake_status(addr: SocketAddr, path: &str, extra: &[&str]) -> u16 {
    let mut lines = vec![
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Version: 13",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    ];
    lines.extend_from_slice(extra);
    http_status(addr, path, &lines).await
}

/// Sends a raw HTTP/1.1 GET with exactly these header lines (besides `Host`) and returns the
/// status code of the answer.
pub async fn http_status(addr: SocketAddr, path: &str, headers: &[&str]) -> u16 {
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n");
    for line in headers {
        request.push_str(line);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    raw_status(addr, &request).await
}

/// Sends `request` as it is (head and any body, lines ending in `\r\n`) and returns the status
/// code of the answer.
pub async fn raw_status(addr: SocketAddr, request: &str) -> u16 {
    status_of(&raw_answer(addr, request).await)
}

/// Sends `request` as it is and returns the first bytes of the answer (up to 1 KiB: the
/// head and a short body, which the server writes at once).
pub async fn raw_answer(addr: SocketAddr, request: &str) -> String {
    let mut stream = send_raw(addr, request).await;
    let mut head = vec![0u8; 1024];
    let read = tokio::time::timeout(WAIT, stream.read(&mut head))
        .await
        .expect("an answer in time")
        .expect("read answer");
    String::from_utf8_lossy(&head[..read]).into_owned()
}

/// Sends `request` as it is and returns everything the server sends until it closes the
/// connection (a reset counts as closing); panics if it does not close within [`WAIT`].
pub async fn raw_exchange(addr: SocketAddr, request: &str) -> String {
    let mut stream = send_raw(addr, request).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut answer = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Ok(Ok(0) | Err(_)) => return String::from_utf8_lossy(&answer).into_owned(),
            Ok(Ok(read)) => answer.extend_from_slice(&chunk[..read]),
            Err(_) => panic!(
                "the server kept the connection open after sending {:?}",
                String::from_utf8_lossy(&answer)
            ),
        }
    }
}

/// The status code in the first line of an HTTP answer.
pub fn status_of(answer: &str) -> u16 {
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {answer:?}"))
}

async fn send_raw(addr: SocketAddr, request: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("write request");
    stream
}
