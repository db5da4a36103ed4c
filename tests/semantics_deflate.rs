//! `permessage-deflate` (RFC 7692): on by default and with `true`, an offer is accepted in the
//! handshake answer and a compressed message is inflated (and the answer compressed); with
//! `false` the answer has no extension and a compressed frame is a protocol error (1002).

use berth_tests::apps::{Apps, descriptor};
use berth_tests::raw::{self, CLOSE, RSV1, RawWs, TEXT};
use berth_tests::server::Berth;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};

const OFFER: &str = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits";

/// A message that compresses well.
fn message() -> String {
    "berth compresses repetitive text; ".repeat(64)
}

/// `text` as one permessage-deflate message: raw DEFLATE, sync-flushed, without the trailing
/// `00 00 ff ff` (RFC 7692 §7.2.1).
fn deflate(text: &str) -> Vec<u8> {
    let mut compressor = Compress::new(Compression::fast(), false);
    let mut out = Vec::with_capacity(text.len() + 64);
    compressor
        .compress_vec(text.as_bytes(), &mut out, FlushCompress::Sync)
        .expect("compress");
    assert!(out.ends_with(&[0, 0, 0xff, 0xff]), "a sync flush");
    out.truncate(out.len() - 4);
    out
}

/// The text of a permessage-deflate message.
fn inflate(payload: &[u8]) -> String {
    let mut input = payload.to_vec();
    input.extend_from_slice(&[0, 0, 0xff, 0xff]);
    let mut decompressor = Decompress::new(false);
    let mut out = Vec::with_capacity(64 * 1024);
    decompressor
        .decompress_vec(&input, &mut out, FlushDecompress::Sync)
        .expect("inflate");
    String::from_utf8(out).expect("UTF-8")
}

/// A server with three probe contexts: `/on/` (`true`), `/default/` (no element) and `/off/`
/// (`false`).
fn server(label: &str) -> (Apps, Berth) {
    let apps = Apps::new(label);
    let on = descriptor("<permessage-deflate>true</permessage-deflate>");
    let off = descriptor("<permessage-deflate>false</permessage-deflate>");
    apps.context("on", "probe", &on);
    apps.context("default", "probe", &descriptor(""));
    apps.context("off", "probe", &off);
    let berth = Berth::start(&apps);
    (apps, berth)
}

/// Opens `path` offering permessage-deflate; asserts the upgrade.
async fn offer(berth: &Berth, path: &str) -> (Option<String>, RawWs) {
    let (head, ws) = raw::open(berth.addr(), path, &[OFFER]).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    (raw::header(&head, "Sec-WebSocket-Extensions"), ws)
}

#[tokio::test]
async fn with_permessage_deflate_on_an_offer_is_accepted_and_messages_are_compressed() {
    let (_apps, berth) = server("deflate-on");
    let (accepted, _) = offer(&berth, "/default/").await;
    assert!(
        accepted.is_some_and(|value| value.starts_with("permessage-deflate")),
        "on by default"
    );
    let (accepted, mut ws) = offer(&berth, "/on/").await;
    let accepted = accepted.expect("an extension in the answer");
    assert!(accepted.starts_with("permessage-deflate"), "{accepted}");

    let text = message();
    let compressed = deflate(&text);
    assert!(compressed.len() < text.len() / 4);
    ws.send(TEXT | RSV1, &compressed).await;
    let echo = ws.recv().await;
    assert_eq!(echo.first & 0x0f, TEXT & 0x0f, "a text frame: {echo:?}");
    assert_ne!(
        echo.first & RSV1,
        0,
        "the echo of a compressible message is compressed"
    );
    assert!(echo.payload.len() < text.len() / 4);
    assert_eq!(inflate(&echo.payload), text);
}

#[tokio::test]
async fn with_permessage_deflate_off_an_offer_is_declined_and_a_compressed_frame_refused() {
    let (_apps, berth) = server("deflate-off");
    let (accepted, mut ws) = offer(&berth, "/off/").await;
    assert_eq!(accepted, None, "no extension in the answer");
    // Uncompressed messages still flow, and come back uncompressed.
    let text = message();
    ws.send(TEXT, text.as_bytes()).await;
    let echo = ws.recv().await;
    assert_eq!(echo.first, TEXT, "an uncompressed text frame");
    assert_eq!(echo.payload, text.as_bytes());
    // RSV1 without a negotiated extension is a protocol error.
    ws.send(TEXT | RSV1, &deflate(&text)).await;
    let close = ws.recv().await;
    assert_eq!(close.first, CLOSE, "a close frame: {close:?}");
    assert_eq!(
        close.payload.get(..2),
        Some(&1002u16.to_be_bytes()[..]),
        "{close:?}"
    );
}
