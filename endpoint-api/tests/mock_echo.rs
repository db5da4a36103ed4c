//! Endpoints unit-tested against `MockHost`, as a plugin author would: no server, no ABI.

use std::time::Duration;

use endpoint_api::mock::{MockHost, Sent, SentFrame};
use endpoint_api::{
    CloseCause, CloseInfo, CloseReason, Endpoint, EndpointId, Handshake, HostError, PluginContext,
    SendError, SendToken, Session,
};

/// Echoes text and binary; answers "async" with an asynchronous send.
struct Echo;

impl Endpoint for Echo {
    fn on_text(&self, session: &Session, text: &str) {
        if text == "async" {
            let token = session.send_text_async("later").expect("queued");
            session.set("pending", &token.raw()).expect("stored");
        } else {
            let _ = session.send_text(text);
        }
    }

    fn on_binary(&self, session: &Session, data: &[u8]) {
        let _ = session.send_binary(data);
    }

    fn on_send_complete(&self, session: &Session, token: SendToken, result: Result<(), SendError>) {
        let outcome = result.map_or_else(|e| e.to_string(), |()| "ok".to_owned());
        let _ = session.set(&format!("done.{}", token.raw()), &outcome);
    }
}

/// A room: requires a nick, broadcasts to everyone on the endpoint, announces leavers.
struct Room {
    ctx: PluginContext,
}

impl Endpoint for Room {
    fn on_open(&self, session: &Session, handshake: &Handshake) -> Result<(), CloseReason> {
        let nick = handshake
            .query_param("nick")
            .ok_or_else(|| CloseReason::policy_violation().with_reason("nick required"))?;
        session
            .set("nick", &nick)
            .map_err(|_| CloseReason::internal_error())?;
        session.set_idle_timeout(Some(Duration::from_secs(60))).ok();
        session.set_batching(true).ok();
        Ok(())
    }

    fn on_text(&self, session: &Session, text: &str) {
        let nick: String = session.get("nick").ok().flatten().unwrap_or_default();
        let everyone = self.ctx.sessions().unwrap_or_default();
        let _ = self
            .ctx
            .broadcast_text(&everyone, &format!("{nick}: {text}"));
        let _ = session.flush();
    }

    fn on_close(&self, session: &Session, info: &CloseInfo) {
        let nick: String = session.get("nick").ok().flatten().unwrap_or_default();
        let others: Vec<_> = self.ctx.sessions().unwrap_or_default();
        let notice = format!("{nick} left ({:?})", info.cause);
        let _ = self.ctx.broadcast_text(&others, &notice);
    }
}

#[test]
fn echo_echoes_text_and_binary() {
    let host = MockHost::new();
    let session = host.connect(Handshake::new("/"));
    Echo.on_open(&session, session.handshake()).unwrap();
    Echo.on_text(&session, "hello");
    Echo.on_binary(&session, b"\x00\x01");
    assert_eq!(
        host.sent(session.id()),
        [Sent::Text("hello".into()), Sent::Binary(vec![0, 1])]
    );
}

#[test]
fn async_sends_carry_a_token_back_to_on_send_complete() {
    let host = MockHost::new();
    let session = host.connect(Handshake::new("/"));
    Echo.on_text(&session, "async");
    let pending: u64 = session.get("pending").unwrap().unwrap();
    let frames = host.frames();
    let expected = SentFrame {
        session: session.id(),
        message: Sent::Text("later".into()),
        token: Some(SendToken::from_raw(pending)),
    };
    assert_eq!(frames, [expected]);
    // The host reports completion later; the test plays that part.
    Echo.on_send_complete(
        &session,
        SendToken::from_raw(pending),
        Err(HostError::Timeout),
    );
    let key = format!("done.{pending}");
    assert_eq!(
        host.property(session.id(), &key),
        Some("the send timed out".into())
    );
}

#[test]
fn send_failures_and_stale_sessions_are_errors() {
    let host = MockHost::new();
    let session = host.connect(Handshake::new("/"));
    host.fail_sends(Some(HostError::QueueFull));
    assert_eq!(session.send_text("x"), Err(HostError::QueueFull));
    host.fail_sends(None);
    assert_eq!(
        session.send_ping(&[0; 126]),
        Err(HostError::InvalidArgument)
    );
    host.disconnect(session.id());
    assert_eq!(session.send_text("x"), Err(HostError::NoSuchSession));
    assert!(session.get::<String>("anything").is_err());
}

#[test]
fn room_refuses_without_nick_and_broadcasts_with_one() {
    let host = MockHost::new();
    let room = Room {
        ctx: host.context(),
    };
    let anonymous = host.connect(Handshake::new("/rooms/a"));
    let refused = room.on_open(&anonymous, anonymous.handshake()).unwrap_err();
    assert_eq!((refused.code(), refused.reason()), (1008, "nick required"));

    let ada = host.connect(Handshake::new("/rooms/a").with_query("nick=ada"));
    let bob = host.connect(Handshake::new("/rooms/a").with_query("nick=bob"));
    host.disconnect(anonymous.id());
    room.on_open(&ada, ada.handshake()).unwrap();
    room.on_open(&bob, bob.handshake()).unwrap();
    room.on_text(&ada, "hi");
    assert_eq!(host.sent_texts(bob.id()), ["ada: hi"]);
    assert_eq!(host.sent_texts(ada.id()), ["ada: hi"]);
    assert_eq!(
        host.idle_timeout(ada.id()),
        Some(Some(Duration::from_secs(60)))
    );
    assert_eq!(
        (host.batching(ada.id()), host.flushes(ada.id())),
        (Some(true), 1)
    );

    // Bob's connection drops: `on_close` runs with his properties intact, then the host
    // forgets him.
    let info = CloseInfo {
        code: 1006,
        reason: String::new(),
        cause: CloseCause::ConnectionLost,
    };
    room.on_close(&bob, &info);
    host.disconnect(bob.id());
    assert_eq!(
        host.sent_texts(ada.id()),
        ["ada: hi", "bob left (ConnectionLost)"]
    );
}

#[test]
fn endpoints_and_sessions_are_separate_per_endpoint() {
    let host = MockHost::with_init_params([("motd", "be nice")]);
    let second = host.context_for(EndpointId::new(1));
    assert_eq!(second.init_param("motd"), Some("be nice"));
    let on_first = host.connect(Handshake::new("/"));
    let on_second = host.connect_to(EndpointId::new(1), Handshake::new("/b"));
    assert_eq!(second.sessions().unwrap(), [on_second.id()]);
    assert_eq!(host.context().sessions().unwrap(), [on_first.id()]);
    let found = second.session(on_second.id()).unwrap();
    assert_eq!(found.handshake().path(), "/b");
    assert_eq!(found.endpoint(), EndpointId::new(1));
}

#[test]
fn properties_round_trip_as_json() {
    #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    struct Profile {
        name: String,
        age: u32,
    }
    let host = MockHost::new();
    let session = host.connect(Handshake::new("/"));
    host.set_property(session.id(), "jeus.websocket.remotePort", &51000);
    let profile = Profile {
        name: "ada".into(),
        age: 36,
    };
    session.set("profile", &profile).unwrap();
    assert_eq!(session.get::<Profile>("profile").unwrap(), Some(profile));
    assert_eq!(
        session.get::<u16>("jeus.websocket.remotePort").unwrap(),
        Some(51000)
    );
    assert!(
        session.get::<u16>("profile").is_err(),
        "wrong type is a decode error"
    );
    assert_eq!(
        session.keys().unwrap(),
        ["jeus.websocket.remotePort", "profile"]
    );
    assert!(session.remove("profile").unwrap());
    assert!(!session.remove("profile").unwrap());
    assert_eq!(session.get::<Profile>("profile").unwrap(), None);
}

#[test]
fn close_is_recorded_and_later_sends_fail() {
    let host = MockHost::new();
    let session = host.connect(Handshake::new("/"));
    session
        .close(CloseReason::going_away().with_reason("maintenance"))
        .unwrap();
    let closed = host.closed_with(session.id()).unwrap();
    assert_eq!((closed.code(), closed.reason()), (1001, "maintenance"));
    assert_eq!(session.send_text("x"), Err(HostError::Closed));
}
