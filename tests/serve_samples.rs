//! The sample contexts, served by the real binary with the real plugins, talked to by a real
//! client: echo, chat rooms, presence (which client vanished, however it went).

use std::time::Duration;

use berth_tests::apps::Apps;
use berth_tests::client::{connect, next_message, recv_text, send_text};
use berth_tests::server::Berth;
use futures_util::SinkExt;
use tokio_tungstenite::tungstenite::Message;

fn samples(label: &str) -> (Apps, Berth) {
    let apps = Apps::new(label);
    apps.sample("echo").sample("chat").sample("presence");
    let berth = Berth::start(&apps);
    (apps, berth)
}

#[tokio::test]
async fn echo_returns_text_binary_and_a_one_mebibyte_message() {
    let (_apps, berth) = samples("echo");
    let mut ws = connect(&berth.url("/echo/")).await;
    assert_eq!(
        recv_text(&mut ws).await,
        "welcome to berth echo",
        "the greeting init-param"
    );
    send_text(&mut ws, "hello, berth").await;
    assert_eq!(recv_text(&mut ws).await, "hello, berth");
    ws.send(Message::binary(vec![0u8, 1, 2, 255]))
        .await
        .expect("send");
    assert_eq!(
        next_message(&mut ws).await,
        Message::binary(vec![0u8, 1, 2, 255])
    );
    let big: Vec<u8> = (0..1024 * 1024).map(|i| (i % 251) as u8).collect();
    ws.send(Message::binary(big.clone())).await.expect("send");
    assert_eq!(next_message(&mut ws).await, Message::binary(big));
    let text = "é".repeat(512 * 1024);
    send_text(&mut ws, &text).await;
    assert_eq!(recv_text(&mut ws).await, text);
    ws.close(None).await.expect("close");
}

#[tokio::test]
async fn chat_broadcasts_within_a_room_only() {
    let (_apps, berth) = samples("chat");
    let mut ann = connect(&berth.url("/chat/rooms/red?name=ann")).await;
    assert_eq!(recv_text(&mut ann).await, "joined:ann");
    let mut bob = connect(&berth.url("/chat/rooms/red?name=bob")).await;
    assert_eq!(recv_text(&mut ann).await, "joined:bob");
    assert_eq!(recv_text(&mut bob).await, "joined:bob");
    let mut cid = connect(&berth.url("/chat/rooms/blue?name=cid")).await;
    assert_eq!(recv_text(&mut cid).await, "joined:cid");

    send_text(&mut ann, "hi red").await;
    assert_eq!(recv_text(&mut ann).await, "ann: hi red");
    assert_eq!(recv_text(&mut bob).await, "ann: hi red");
    send_text(&mut cid, "hi blue").await;
    // Had the red message leaked into blue, cid would see it first.
    assert_eq!(recv_text(&mut cid).await, "cid: hi blue");

    bob.close(None).await.expect("close");
    assert_eq!(recv_text(&mut ann).await, "left:bob");
    send_text(&mut cid, "still alone").await;
    assert_eq!(recv_text(&mut cid).await, "cid: still alone");
}

#[tokio::test]
async fn presence_announces_a_client_that_vanished_without_a_close_frame() {
    let (_apps, berth) = samples("presence");
    let mut watcher = connect(&berth.url("/presence/?user=watcher")).await;
    // The 101 reaches the client before the server has opened the session: until its
    // `on_open` has run, the watcher is nobody's "other" and would miss the next join.
    send_text(&mut watcher, "who").await;
    assert_eq!(recv_text(&mut watcher).await, "you:watcher");
    let vanishing = connect(&berth.url("/presence/?user=tab-42")).await;
    assert_eq!(recv_text(&mut watcher).await, "joined:tab-42");
    // The process dies: the kernel closes the socket, no close frame is ever sent.
    drop(vanishing);
    assert_eq!(recv_text(&mut watcher).await, "left:tab-42");

    let reset = connect(&berth.url("/presence/?user=reset-7")).await;
    assert_eq!(recv_text(&mut watcher).await, "joined:reset-7");
    if let tokio_tungstenite::MaybeTlsStream::Plain(tcp) = reset.get_ref() {
        // A zero linger never blocks: the drop below resets the connection at once.
        #[allow(deprecated)]
        tcp.set_linger(Some(Duration::ZERO)).expect("linger");
    }
    // SO_LINGER 0: the connection is reset (RST), as when a host drops off the network.
    drop(reset);
    assert_eq!(recv_text(&mut watcher).await, "left:reset-7");
    let line = berth
        .wait_for_log("reset-7 left: code 1006", Duration::from_secs(10))
        .expect("on_close saw 1006");
    assert!(line.contains("ConnectionLost"), "{line}");
}

#[tokio::test]
async fn presence_refuses_an_anonymous_client_with_its_own_code() {
    let (_apps, berth) = samples("presence-anon");
    let mut anonymous = connect(&berth.url("/presence/")).await;
    match next_message(&mut anonymous).await {
        Message::Close(Some(frame)) => assert_eq!(u16::from(frame.code), 1008),
        other => panic!("expected a 1008 close, got {other:?}"),
    }
}
