//! A whole session driven over an in-memory connection, with tokio's clock paused: the
//! lifecycle's deadlines are tested at their exact virtual instants, without sockets or
//! sleeps, and with a recording endpoint in place of a plugin.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{
    Acceptance, Callbacks, Cause, Decision, Departure, ErrorKind, Hub, OpenInfo, Opening, Outcome,
    RemoteAddress, Sent,
};
use crate::config::descriptor::ContextSettings;
use crate::executor::Executor;

/// What the endpoint saw, in order; `on_close` also goes to the channel.
#[derive(Debug)]
struct Recorder {
    calls: Arc<Mutex<Vec<String>>>,
    closed: mpsc::UnboundedSender<(u16, Cause)>,
}

impl Recorder {
    fn record(&self, call: String) -> Outcome {
        self.calls.lock().expect("calls").push(call);
        Outcome::Done
    }
}

impl Callbacks for Recorder {
    fn decides_handshakes(&self) -> bool {
        false
    }
    fn on_handshake(&self, _: u32, _: &Opening) -> Decision {
        Decision::Accept(Acceptance::default())
    }
    fn on_deploy(&self) -> Outcome {
        Outcome::Done
    }
    fn on_undeploy(&self, _: Departure) -> Outcome {
        Outcome::Done
    }
    fn on_open(&self, _: u32, _: u64, info: &OpenInfo) -> Outcome {
        self.record(format!("open {}", info.path))
    }
    fn on_text(&self, _: u32, _: u64, data: &[u8]) -> Outcome {
        self.record(format!("text {}", String::from_utf8_lossy(data)))
    }
    fn on_binary(&self, _: u32, _: u64, data: &[u8]) -> Outcome {
        self.record(format!("binary {}", data.len()))
    }
    fn on_pong(&self, _: u32, _: u64, _: &[u8]) -> Outcome {
        self.record("pong".into())
    }
    fn on_error(&self, _: u32, _: u64, kind: ErrorKind, _: &str) -> Outcome {
        self.record(format!("error {kind:?}"))
    }
    fn on_send_complete(&self, _: u32, _: u64, token: u64, sent: Sent) -> Outcome {
        self.record(format!("sent {token} {sent:?}"))
    }
    fn on_close(&self, _: u32, _: u64, code: u16, _: &str, cause: Cause) -> Outcome {
        let outcome = self.record(format!("close {code}"));
        let _ = self.closed.send((code, cause));
        outcome
    }
}

/// A session of a context with `settings`, started on the server end of an in-memory
/// connection.
struct Started {
    client: DuplexStream,
    hub: Arc<Hub>,
    /// Where `on_close` arrives.
    on_close: mpsc::UnboundedReceiver<(u16, Cause)>,
    /// Every callback, in order.
    calls: Arc<Mutex<Vec<String>>>,
}

fn session(settings: ContextSettings) -> Started {
    let (client, server) = tokio::io::duplex(64 * 1024);
    let executor =
        Executor::new("test", settings.executor, settings.timeout_min_threads).expect("a pool");
    let hub = Hub::new("test".into(), settings, executor);
    let (closed, on_close) = mpsc::unbounded_channel();
    let calls = Arc::<Mutex<Vec<String>>>::default();
    hub.attach(Box::new(Recorder {
        calls: Arc::clone(&calls),
        closed,
    }));
    let peer: SocketAddr = ([127, 0, 0, 1], 40000).into();
    let opening = Opening {
        endpoint: 0,
        path: "/t".into(),
        query: String::new(),
        path_params: Vec::new(),
        headers: Vec::new(),
        subprotocol: None,
        peer,
        remote: RemoteAddress::of_socket(peer),
        deflate: None,
        properties: Vec::new(),
    };
    tokio::spawn(super::start(server, None, Arc::clone(&hub), opening, ()));
    Started {
        client,
        hub,
        on_close,
        calls,
    }
}

/// A masked client frame.
fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [1u8, 2, 3, 4];
    let mut frame = vec![
        0x80 | opcode,
        0x80 | u8::try_from(payload.len()).expect("small"),
    ];
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

/// Reads one unmasked server frame: opcode and payload.
async fn server_frame(client: &mut DuplexStream) -> (u8, Vec<u8>) {
    let mut head = [0u8; 2];
    client.read_exact(&mut head).await.expect("a frame head");
    let mut payload = vec![0u8; usize::from(head[1] & 0x7F)];
    client.read_exact(&mut payload).await.expect("a payload");
    (head[0] & 0x0F, payload)
}

fn with_keepalive(interval: u64, pong_timeout: u64) -> ContextSettings {
    let mut settings = ContextSettings::default();
    settings.keepalive.ping_interval = Some(Duration::from_millis(interval));
    settings.keepalive.pong_timeout = Duration::from_millis(pong_timeout);
    settings
}

#[tokio::test(start_paused = true)]
async fn a_peer_that_never_answers_pings_is_dropped_at_interval_plus_pong_timeout() {
    let started = Instant::now();
    let Started {
        mut client,
        hub,
        mut on_close,
        ..
    } = session(with_keepalive(1_000, 500));
    let (opcode, _) = server_frame(&mut client).await;
    assert_eq!(opcode, 0x9, "a ping");
    assert_eq!(started.elapsed(), Duration::from_millis(1_000));
    let (code, cause) = on_close.recv().await.expect("on_close");
    assert_eq!((code, cause), (1006, Cause::PongTimeout));
    assert!(
        started.elapsed() >= Duration::from_millis(1_500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(hub.sessions().len(), 0, "the session left the registry");
}

#[tokio::test(start_paused = true)]
async fn a_peer_that_answers_pings_stays_and_its_messages_arrive_in_order() {
    let Started {
        mut client,
        mut on_close,
        calls,
        ..
    } = session(with_keepalive(1_000, 500));
    for round in 0..3 {
        let (opcode, payload) = server_frame(&mut client).await;
        assert_eq!(opcode, 0x9, "ping {round}");
        let pong = client_frame(0xA, &payload);
        client.write_all(&pong).await.expect("pong");
        let text = client_frame(0x1, format!("m{round}").as_bytes());
        client.write_all(&text).await.expect("text");
    }
    client
        .write_all(&client_frame(0x8, &1000u16.to_be_bytes()))
        .await
        .expect("close");
    let (code, cause) = on_close.recv().await.expect("on_close");
    assert_eq!((code, cause), (1000, Cause::RemoteClose));
    let calls = calls.lock().expect("calls").clone();
    let expected = [
        "open /t",
        "pong",
        "text m0",
        "pong",
        "text m1",
        "pong",
        "text m2",
        "close 1000",
    ];
    assert_eq!(calls, expected);
}
