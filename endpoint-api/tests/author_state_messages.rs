//! Items 2 and 3 of the author's day: typed per-session state (built by `on_open`, lent to
//! every callback, dropped after `on_close`) and typed messages (decoded on request, a
//! failure reported to `on_error`), driven through the mock host.

use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

use endpoint_api::mock::MockHost;
use endpoint_api::serde::Deserialize;
use endpoint_api::{
    Binary, CloseCause, CloseInfo, CloseReason, Endpoint, ErrorKind, Handshake, Lock, LogLevel,
    Session, SessionError, Text,
};

/// State drops, as `(serial, messages counted)`.
static DROPPED: Lock<Vec<(u64, u32)>> = Lock::new(Vec::new());

/// Serials unique in the test process (session ids repeat across mock hosts).
static SERIAL: AtomicU64 = AtomicU64::new(1);

/// A session's tally; records its drop.
#[derive(Default)]
struct Tally {
    id: u64,
    messages: u32,
}

impl Drop for Tally {
    fn drop(&mut self) {
        DROPPED.lock().push((self.id, self.messages));
    }
}

/// A move, derived through the SDK's re-exported serde.
#[derive(Deserialize, Debug, PartialEq)]
#[serde(crate = "endpoint_api::serde")]
struct Move<'a> {
    piece: &'a str,
    to: (u8, u8),
}

/// A command parsed with `FromStr`: `bid <n>`.
struct Bid(u64);

impl FromStr for Bid {
    type Err = String;

    fn from_str(text: &str) -> Result<Bid, String> {
        let amount = text.strip_prefix("bid ").ok_or("not a bid")?;
        amount
            .parse()
            .map(Bid)
            .map_err(|e| format!("bad amount: {e}"))
    }
}

struct Game;

impl Endpoint for Game {
    type State = Tally;

    fn on_open(&self, session: &Session, handshake: &Handshake) -> Result<Tally, CloseReason> {
        if handshake.query_param("refuse").is_some() {
            return Err(CloseReason::policy_violation());
        }
        let _ = session;
        let id = SERIAL.fetch_add(1, Ordering::Relaxed);
        Ok(Tally { id, messages: 0 })
    }

    fn on_text(&self, session: &Session, tally: &mut Tally, text: Text<'_>) {
        tally.messages += 1;
        let reply = if text == "count" {
            tally.messages.to_string()
        } else if text == "serial" {
            tally.id.to_string()
        } else if text == "tick" {
            return;
        } else if text == "panic" {
            panic!("asked to");
        } else if text.starts_with("bid") {
            let Some(Bid(amount)) = text.parsed() else {
                return;
            };
            format!("bid {amount}")
        } else {
            let Some(Move { piece, to }) = text.json() else {
                return;
            };
            format!("{piece} to {to:?}")
        };
        let _ = session.send_text(&reply);
    }

    fn on_binary(&self, session: &Session, tally: &mut Tally, data: Binary<'_>) {
        tally.messages += 1;
        if let Some(numbers) = data.json::<Vec<u32>>() {
            let _ = session.send_text(&numbers.iter().sum::<u32>().to_string());
        }
    }

    fn on_error(&self, session: &Session, tally: &mut Tally, error: &SessionError) {
        let line = format!(
            "error {:?} after {}: {}",
            error.kind, tally.messages, error.message
        );
        session.log(LogLevel::Info, &line);
    }

    fn on_close(&self, session: &Session, tally: &mut Tally, info: &CloseInfo) {
        let dropped = DROPPED
            .lock()
            .iter()
            .any(|(id, _)| *id == tally.id && tally.id != 0);
        let line = format!(
            "close {} {:?} dropped-yet={dropped}",
            tally.messages, info.cause
        );
        session.log(LogLevel::Info, &line);
    }
}

fn game() -> MockHost {
    MockHost::builder()
        .endpoint("/", |_| Game)
        .build()
        .expect("deployed")
}

fn lines(host: &MockHost) -> Vec<String> {
    host.logs().into_iter().map(|l| l.message).collect()
}

#[test]
fn the_state_survives_many_messages_and_is_dropped_after_on_close() {
    let host = game();
    let a = host.connect("/").unwrap();
    let b = host.connect("/").unwrap();
    host.text(&a, "serial");
    host.text(&b, "serial");
    let serial = |s: &Session| -> u64 { host.sent_texts(s.id())[0].parse().unwrap() };
    let (serial_a, serial_b) = (serial(&a), serial(&b));
    for _ in 0..100 {
        host.text(&a, "tick");
    }
    host.text(&a, "count");
    host.text(&b, "count");
    assert_eq!(
        host.sent_texts(a.id()).last().map(String::as_str),
        Some("102")
    );
    assert_eq!(host.sent_texts(b.id())[1], "2", "each session has its own");
    host.close(&a, CloseCause::RemoteClose);
    assert_eq!(lines(&host), ["close 102 RemoteClose dropped-yet=false"]);
    assert!(
        DROPPED.lock().contains(&(serial_a, 102)),
        "dropped after on_close"
    );
    assert!(!DROPPED.lock().iter().any(|(id, _)| *id == serial_b));
}

#[test]
fn a_refused_session_closes_with_the_default_state_and_gets_no_messages() {
    let host = game();
    let refused = host.connect("/?refuse").unwrap();
    assert!(!refused.is_open());
    host.text(&refused, "count");
    assert!(host.sent_texts(refused.id()).is_empty());
    let info = host.close_info(refused.id()).unwrap();
    assert_eq!((info.code, info.cause), (1008, CloseCause::EndpointClose));
    assert_eq!(lines(&host), ["close 0 EndpointClose dropped-yet=false"]);
}

#[test]
fn a_panic_keeps_the_state_for_on_error_and_on_close() {
    let host = game();
    let session = host.connect("/").unwrap();
    host.text(&session, "tick");
    host.text(&session, "panic");
    let lines = lines(&host);
    assert!(
        lines[0].starts_with("plugin panicked in on_text at "),
        "{lines:?}"
    );
    assert_eq!(
        lines[1],
        "error EndpointPanic after 2: on_text failed: panicked"
    );
    assert_eq!(lines[2], "close 2 EndpointFailure dropped-yet=false");
    assert_eq!(host.close_info(session.id()).map(|i| i.code), Some(1011));
}

#[test]
fn typed_messages_decode_or_reach_on_error_and_the_session_stays_open() {
    let host = game();
    let session = host.connect("/").unwrap();
    host.text(&session, r#"{"piece": "knight", "to": [2, 3]}"#);
    host.text(&session, r#"{"piece": "knight"}"#);
    host.text(&session, "bid 7");
    host.text(&session, "bid seven");
    host.binary(&session, b"[1, 2, 3]");
    host.binary(&session, b"\xff");
    assert_eq!(
        host.sent_texts(session.id()),
        ["knight to (2, 3)", "bid 7", "6"]
    );
    let logs = host.logs();
    let errors: Vec<&str> = logs.iter().map(|l| l.message.as_str()).collect();
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(errors[0].starts_with("error Decode after 2: text message is not the JSON"));
    assert!(errors[0].contains("missing field `to`"), "{errors:?}");
    assert_eq!(
        errors[1],
        "error Decode after 4: text message does not parse: bad amount: invalid digit found in string"
    );
    assert!(errors[2].starts_with("error Decode after 6: binary message is not the JSON"));
    assert!(logs.iter().all(|l| l.session == Some(session.id())));
    assert!(session.is_open() && host.close_info(session.id()).is_none());
}

#[test]
fn decode_errors_are_a_kind_of_their_own_without_an_abi_code() {
    assert_eq!(ErrorKind::Decode.to_raw(), None);
    assert_eq!(ErrorKind::Decode.to_string(), "message does not decode");
}
