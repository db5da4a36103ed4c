//! Connection tests over an in-memory duplex pipe: automatic answers, closing, deflate on
//! the wire, buffer sizes.

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, duplex};

use super::{Connection, READ_MAX, READ_MIN, next_read_size};
use crate::codec::deflate::{DeflateParams, Deflater, Inflater};
use crate::codec::frame::client_frame;
use crate::codec::{CodecError, CodecLimits, Inbound, Outbound};

const MASK: [u8; 4] = [1, 2, 3, 4];
const LIMITS: CodecLimits = CodecLimits {
    text: 1 << 20,
    binary: 1 << 20,
};

fn params() -> DeflateParams {
    DeflateParams {
        server_no_context_takeover: false,
        client_no_context_takeover: false,
        server_max_window_bits: 15,
        client_max_window_bits: 15,
        level: 1,
        min_size: 0,
    }
}

async fn pair(deflate: Option<DeflateParams>) -> (Connection<DuplexStream>, DuplexStream) {
    let (server, client) = duplex(1 << 20);
    (Connection::accept(server, LIMITS, deflate), client)
}

/// A server frame as the client sees it: (first byte, payload).
fn parse_server_frames(mut bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut frames = Vec::new();
    while let [first, second, rest @ ..] = bytes {
        assert_eq!(second & 0x80, 0, "server frames are unmasked");
        let (len, rest) = match second & 0x7F {
            126 => (u16::from_be_bytes([rest[0], rest[1]]) as usize, &rest[2..]),
            127 => (
                u64::from_be_bytes(rest[..8].try_into().expect("8")) as usize,
                &rest[8..],
            ),
            len => (len as usize, rest),
        };
        frames.push((*first, rest[..len].to_vec()));
        bytes = &rest[len..];
    }
    frames
}

async fn read_to_end(client: &mut DuplexStream) -> Vec<(u8, Vec<u8>)> {
    let mut bytes = Vec::new();
    client.read_to_end(&mut bytes).await.expect("read");
    parse_server_frames(&bytes)
}

#[tokio::test]
async fn a_ping_is_answered_with_the_same_payload_and_a_close_is_echoed() {
    let (mut conn, mut client) = pair(None).await;
    client
        .write_all(&client_frame(true, false, 0x9, MASK, b"are you there"))
        .await
        .expect("write");
    client
        .write_all(&client_frame(true, false, 0x8, MASK, &[0x0B, 0xB8, b'x']))
        .await
        .expect("write");
    let ping = conn.next().await.expect("frame").expect("ok");
    assert_eq!(ping, Inbound::Ping(Bytes::from_static(b"are you there")));
    conn.flush().await.expect("flush");
    let close = conn.next().await.expect("frame").expect("ok");
    assert_eq!(close, Inbound::Close(Some((3000, "x".into()))));
    conn.flush().await.expect("flush");
    assert!(conn.next().await.is_none(), "nothing after the close");
    let frames = read_to_end(&mut client).await;
    assert_eq!(
        frames,
        vec![(0x8A, b"are you there".to_vec()), (0x88, vec![0x0B, 0xB8])],
        "pong, then close echoing the code, then the server shut down its side"
    );
}

#[tokio::test]
async fn a_server_close_waits_for_the_peer_and_is_not_answered_twice() {
    let (mut conn, mut client) = pair(None).await;
    conn.feed(Outbound::Close(1001, "going away".into()))
        .await
        .expect("feed");
    conn.flush().await.expect("flush");
    assert!(
        conn.feed(Outbound::Binary(Bytes::new())).await.is_err(),
        "nothing after close"
    );
    client
        .write_all(&client_frame(true, false, 0x8, MASK, &[0x03, 0xE9]))
        .await
        .expect("write");
    assert_eq!(
        conn.next().await.expect("frame").expect("ok"),
        Inbound::Close(Some((1001, String::new())))
    );
    conn.flush().await.expect("flush");
    let frames = read_to_end(&mut client).await;
    assert_eq!(
        frames,
        vec![(0x88, [&[0x03, 0xE9][..], b"going away"].concat())]
    );
}

#[tokio::test]
async fn after_a_violation_input_is_discarded_until_the_peer_closes() {
    let (mut conn, mut client) = pair(None).await;
    let mut bad = client_frame(true, false, 0x1, MASK, b"x");
    bad[1] &= 0x7F;
    client.write_all(&bad).await.expect("write");
    let error = conn.next().await.expect("frame").expect_err("unmasked");
    assert!(matches!(error, CodecError::Protocol(_)), "{error}");
    conn.feed(Outbound::Close(1002, error.to_string()))
        .await
        .expect("feed");
    conn.flush().await.expect("flush");
    client
        .write_all(&client_frame(true, false, 0x1, MASK, b"ignored"))
        .await
        .expect("write");
    let frames = {
        let mut bytes = vec![0u8; 256];
        let n = client.read(&mut bytes).await.expect("read");
        parse_server_frames(&bytes[..n])
    };
    assert_eq!(frames[0].0, 0x88);
    assert_eq!(frames[0].1[..2], [0x03, 0xEA]);
    drop(client);
    assert!(conn.next().await.is_none());
}

#[tokio::test]
async fn messages_are_compressed_and_inflated_on_the_wire() {
    let (mut conn, mut client) = pair(Some(params())).await;
    let text = "hello hello hello hello hello hello".repeat(10);
    let mut wire = Vec::new();
    Deflater::new(&params())
        .deflate(text.as_bytes(), &mut wire)
        .expect("deflate");
    client
        .write_all(&client_frame(true, true, 0x1, MASK, &wire))
        .await
        .expect("write");
    let got = conn.next().await.expect("frame").expect("ok");
    assert_eq!(got, Inbound::Text(Bytes::from(text.clone())));
    let echo = Outbound::text(Bytes::from(text.clone())).expect("utf-8");
    conn.feed(echo).await.expect("feed");
    conn.feed(Outbound::Close(1000, String::new()))
        .await
        .expect("feed");
    conn.flush().await.expect("flush");
    drop(conn);
    let frames = read_to_end(&mut client).await;
    assert_eq!(frames[0].0, 0xC1, "FIN + RSV1 + text");
    assert!(frames[0].1.len() < text.len() / 4);
    let mut inflated = Vec::new();
    let mut inflater = Inflater::new(&params());
    inflater
        .inflate(&frames[0].1, &mut inflated, usize::MAX)
        .expect("inflate");
    inflater.finish(&mut inflated, usize::MAX).expect("finish");
    assert_eq!(inflated, text.as_bytes());
}

#[tokio::test]
async fn large_payloads_are_written_whole_and_in_order() {
    let (mut conn, mut client) = pair(None).await;
    let big = Bytes::from(vec![7u8; 200_000]);
    let reader = tokio::spawn(async move { read_to_end(&mut client).await });
    conn.feed(Outbound::Ping(Bytes::from_static(b"first")))
        .await
        .expect("feed");
    conn.feed(Outbound::Binary(big.clone()))
        .await
        .expect("feed");
    conn.feed(Outbound::Pong(Bytes::from(vec![1u8; 300])))
        .await
        .expect("feed");
    conn.flush().await.expect("flush");
    drop(conn);
    let frames = reader.await.expect("reader");
    assert_eq!(frames[0], (0x89, b"first".to_vec()));
    assert_eq!(frames[1], (0x82, big.to_vec()));
    assert_eq!(
        frames[2],
        (0x8A, vec![1u8; 125]),
        "control payloads are cut to 125"
    );
}

#[tokio::test]
async fn reads_grow_for_a_burst_and_shrink_back_as_traffic_calms() {
    let (mut conn, mut client) = pair(None).await;
    let big = vec![b'a'; 300_000];
    client
        .write_all(&client_frame(true, false, 0x2, MASK, &big))
        .await
        .expect("write");
    assert_eq!(
        conn.next().await.expect("frame").expect("ok"),
        Inbound::Binary(Bytes::from(big))
    );
    assert_eq!(conn.read_size, READ_MAX, "reads grew while they filled");
    for _ in 0..8 {
        client
            .write_all(&client_frame(true, false, 0x2, MASK, b"small"))
            .await
            .expect("write");
        assert_eq!(
            conn.next().await.expect("frame").expect("ok"),
            Inbound::Binary(Bytes::from_static(b"small"))
        );
    }
    assert_eq!(conn.read_size, READ_MIN, "reads shrank back");
}

#[test]
fn the_read_size_doubles_when_filled_halves_when_mostly_empty_and_keeps_otherwise() {
    assert_eq!(next_read_size(512, 512, 512), 1024);
    assert_eq!(next_read_size(READ_MAX, READ_MAX, READ_MAX), READ_MAX);
    assert_eq!(
        next_read_size(32 * 1024, 32 * 1024, 16 * 1024 + 10),
        32 * 1024
    );
    assert_eq!(next_read_size(32 * 1024, 32 * 1024, 20), 16 * 1024);
    assert_eq!(next_read_size(READ_MIN, READ_MIN, 1), READ_MIN);
}

#[tokio::test]
async fn an_end_of_stream_inside_a_frame_is_a_lost_connection() {
    let (mut conn, mut client) = pair(None).await;
    let frame = client_frame(true, false, 0x2, MASK, b"truncated");
    client.write_all(&frame[..8]).await.expect("write");
    drop(client);
    let error = conn.next().await.expect("an error").expect_err("lost");
    assert!(matches!(error, CodecError::ConnectionLost(_)), "{error}");
    assert!(conn.next().await.is_none());
}
