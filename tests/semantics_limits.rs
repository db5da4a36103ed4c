//! `max-incoming-text-message-buffer-size` and `max-incoming-binary-message-buffer-size`:
//! separate limits on whole messages, fragmented or not, enforced as the running size passes
//! the limit; close 1009, then `on_error` and `on_close` with cause "message too big".

use berth_tests::client::{WAIT, connect, expect_close, next_message, recv_text, send_text};
use berth_tests::server::probe;
use futures_util::SinkExt;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

#[tokio::test]
async fn a_text_message_one_byte_over_the_default_limit_gets_1009() {
    let (_apps, berth) = probe("limits-default", "");
    let mut ws = connect(&berth.url("/probe/")).await;
    send_text(&mut ws, &"a".repeat(8192)).await;
    assert_eq!(
        recv_text(&mut ws).await.len(),
        8192,
        "exactly the limit is accepted"
    );
    send_text(&mut ws, &"a".repeat(8193)).await;
    assert_eq!(
        expect_close(&mut ws).await.map(|f| u16::from(f.code)),
        Some(1009)
    );
    berth
        .wait_for_log("probe error", WAIT)
        .expect("on_error ran");
    let line = berth
        .wait_for_log("probe closed", WAIT)
        .expect("on_close ran");
    assert!(line.contains("code=1009 cause=MessageTooBig"), "{line}");
    let logs = berth.logs();
    let error_at = logs.find("probe error").expect("on_error logged");
    assert!(
        error_at < logs.find("probe closed").expect("on_close logged"),
        "on_error comes before on_close"
    );
}

#[tokio::test]
async fn a_fragmented_message_is_refused_as_soon_as_its_running_size_passes_the_limit() {
    let (_apps, berth) = probe("limits-fragments", "");
    let mut ws = connect(&berth.url("/probe/")).await;
    let fragment =
        |opcode: OpCode, fin: bool| Message::Frame(Frame::message(vec![b'x'; 5000], opcode, fin));
    ws.send(fragment(OpCode::Data(Data::Text), false))
        .await
        .expect("first fragment");
    ws.send(fragment(OpCode::Data(Data::Continue), false))
        .await
        .expect("second fragment");
    // 10 000 bytes are past the 8192 limit: the close comes before the final fragment is sent.
    assert_eq!(
        expect_close(&mut ws).await.map(|f| u16::from(f.code)),
        Some(1009)
    );
    let line = berth
        .wait_for_log("probe closed", WAIT)
        .expect("on_close ran");
    assert!(line.contains("cause=MessageTooBig"), "{line}");
}

#[tokio::test]
async fn text_and_binary_limits_are_separate() {
    let inner = "<max-incoming-text-message-buffer-size>100</max-incoming-text-message-buffer-size>\
                 <max-incoming-binary-message-buffer-size>100000</max-incoming-binary-message-buffer-size>";
    let (_apps, berth) = probe("limits-separate", inner);
    let mut ws = connect(&berth.url("/probe/")).await;
    ws.send(Message::binary(vec![1u8; 50_000]))
        .await
        .expect("send");
    assert_eq!(
        next_message(&mut ws).await,
        Message::binary(vec![1u8; 50_000]),
        "binary under its own limit"
    );
    send_text(&mut ws, &"t".repeat(101)).await;
    assert_eq!(
        expect_close(&mut ws).await.map(|f| u16::from(f.code)),
        Some(1009),
        "text over its limit"
    );

    let mut ws = connect(&berth.url("/probe/")).await;
    ws.send(Message::binary(vec![1u8; 100_001]))
        .await
        .expect("send");
    assert_eq!(
        expect_close(&mut ws).await.map(|f| u16::from(f.code)),
        Some(1009),
        "binary over its limit"
    );
}
