//! The mock host as a plugin author's test bench (item 7), and the session API's one rule
//! (item 6): routing by the declaration's templates, every close cause, properties, sends,
//! stale sessions, `is_open`, and handshake accessors that all borrow.

use std::time::Duration;

use endpoint_api::mock::{MockError, MockHost, Sent, SentFrame};
use endpoint_api::{
    CloseCause, CloseInfo, CloseReason, Endpoint, EndpointId, Handshake, HostError, LogLevel,
    PluginContext, Session, Text,
};

/// Files under `/files/{*path}`; answers with the path parameter.
struct Files;

impl Endpoint for Files {
    type State = ();

    fn on_text(&self, session: &Session, _: &mut (), _: Text<'_>) {
        let _ = session.send_text(session.path_param("path").unwrap_or("?"));
    }
}

/// A room: broadcasts to everyone on the endpoint; tells the others who left and why.
struct Room {
    ctx: PluginContext,
}

impl Endpoint for Room {
    type State = String; // the nick

    fn on_open(&self, session: &Session, handshake: &Handshake) -> Result<String, CloseReason> {
        session.log(
            LogLevel::Info,
            &format!("open is_open={}", session.is_open()),
        );
        let nick = handshake.query_param("nick").unwrap_or("anon").to_owned();
        session
            .set("nick", &nick)
            .map_err(|_| CloseReason::internal_error())?;
        let _ = session.set_idle_timeout(Some(Duration::from_secs(60)));
        let _ = session.set_batching(true);
        Ok(nick)
    }

    fn on_text(&self, session: &Session, nick: &mut String, text: Text<'_>) {
        if text == "leave" {
            let _ = session.close(CloseReason::going_away().with_reason("bye"));
            session.log(
                LogLevel::Info,
                &format!("after close is_open={}", session.is_open()),
            );
            return;
        }
        let everyone = self.ctx.sessions().unwrap_or_default();
        let _ = self
            .ctx
            .broadcast_text(&everyone, &format!("{nick}: {text}"));
        let _ = session.flush();
    }

    fn on_close(&self, session: &Session, nick: &mut String, info: &CloseInfo) {
        let others: Vec<_> = self.ctx.sessions().unwrap_or_default();
        let others: Vec<_> = others
            .into_iter()
            .filter(|id| *id != session.id())
            .collect();
        let notice = format!("{nick} left ({} {:?})", info.code, info.cause);
        let _ = self.ctx.broadcast_text(&others, &notice);
        let stored: Option<String> = session.get("nick").ok().flatten();
        let line = format!("close is_open={} nick={stored:?}", session.is_open());
        session.log(LogLevel::Info, &line);
    }
}

endpoint_api::plugin! {
    "/rooms/{room}" => |ctx| Room { ctx: ctx.clone() },
    "/files/{*path}" => |_| Files,
}

#[test]
fn urls_are_routed_by_the_declared_templates() {
    let host = MockHost::deploy(&PLUGIN).unwrap();
    let file = host.connect("/files/a/b%20c.txt").unwrap();
    assert_eq!(file.endpoint(), EndpointId::new(1));
    host.text(&file, "which?");
    assert_eq!(host.sent_texts(file.id()), ["a/b c.txt"]);
    let room = host.connect("/rooms/lobby?nick=ada").unwrap();
    assert_eq!(
        (room.endpoint(), room.path_param("room")),
        (EndpointId::new(0), Some("lobby"))
    );
    assert_eq!(host.connect("/rooms").unwrap_err().status(), 404);
    assert_eq!(
        host.context_for(EndpointId::new(1)).sessions().unwrap(),
        [file.id()]
    );
    assert_eq!(host.context().sessions().unwrap(), [room.id()]);
}

#[test]
fn every_close_cause_ends_the_session_with_berths_code() {
    let expected = [
        (CloseCause::RemoteClose, 1000),
        (CloseCause::ConnectionLost, 1006),
        (CloseCause::IdleTimeout, 1001),
        (CloseCause::PongTimeout, 1006),
        (CloseCause::MessageTooBig, 1009),
        (CloseCause::ProtocolError, 1002),
        (CloseCause::InvalidUtf8, 1007),
        (CloseCause::SendTimeout, 1006),
        (CloseCause::SlowConsumer, 1006),
        (CloseCause::Shutdown, 1001),
    ];
    let host = MockHost::deploy(&PLUGIN).unwrap();
    let watcher = host.connect("/rooms/r?nick=watcher").unwrap();
    for (cause, code) in expected {
        let session = host.connect("/rooms/r?nick=x").unwrap();
        host.close(&session, cause);
        assert_eq!(
            host.close_info(session.id()).map(|i| (i.code, i.cause)),
            Some((code, cause))
        );
        let notice = format!("x left ({code} {cause:?})");
        assert_eq!(host.sent_texts(watcher.id()).last(), Some(&notice));
        assert_eq!(session.send_text("late"), Err(HostError::NoSuchSession));
    }
}

#[test]
fn is_open_follows_the_endpoints_view_of_the_session() {
    let host = MockHost::deploy(&PLUGIN).unwrap();
    let session = host.connect("/rooms/r?nick=ada").unwrap();
    assert!(session.is_open());
    host.text(&session, "leave");
    assert!(!session.is_open());
    let closed = host.closed_with(session.id()).unwrap();
    assert_eq!((closed.code(), closed.reason()), (1001, "bye"));
    let info = host.close_info(session.id()).unwrap();
    assert_eq!((info.code, info.cause), (1001, CloseCause::EndpointClose));
    assert_eq!(session.send_text("x"), Err(HostError::NoSuchSession));
    assert!(
        session.get::<String>("nick").is_err(),
        "the id is stale after on_close"
    );
}

#[test]
fn properties_batching_and_idle_timeouts_are_recorded() {
    let host = MockHost::deploy(&PLUGIN).unwrap();
    let ada = host.connect("/rooms/a?nick=ada").unwrap();
    let bob = host.connect("/rooms/a?nick=bob").unwrap();
    host.text(&ada, "hi");
    assert_eq!(host.sent_texts(bob.id()), ["ada: hi"]);
    assert_eq!(
        host.idle_timeout(ada.id()),
        Some(Some(Duration::from_secs(60)))
    );
    assert_eq!(
        (host.batching(ada.id()), host.flushes(ada.id())),
        (Some(true), 1)
    );
    assert_eq!(host.property(ada.id(), "nick"), Some("ada".into()));
    host.set_property(ada.id(), "jeus.websocket.remotePort", &51000);
    assert_eq!(
        ada.get::<u16>("jeus.websocket.remotePort").unwrap(),
        Some(51000)
    );
    assert!(
        ada.get::<u16>("nick").is_err(),
        "the wrong type is a decode error"
    );
    assert_eq!(ada.keys().unwrap(), ["jeus.websocket.remotePort", "nick"]);
    assert!(ada.remove("nick").unwrap() && !ada.remove("nick").unwrap());
    host.close(&bob, CloseCause::ConnectionLost);
    assert_eq!(
        host.sent_texts(ada.id()).last().unwrap(),
        "bob left (1006 ConnectionLost)"
    );
}

#[test]
fn send_failures_are_errors_and_broadcasts_are_recorded_per_recipient() {
    let host = MockHost::deploy(&PLUGIN).unwrap();
    let session = host.connect("/rooms/a").unwrap();
    host.fail_sends(Some(HostError::QueueFull));
    assert_eq!(session.send_text("x"), Err(HostError::QueueFull));
    host.fail_sends(None);
    assert_eq!(
        session.send_ping(&[0; 126]),
        Err(HostError::InvalidArgument)
    );
    assert_eq!(session.send_ping(b"p"), Ok(()));
    let expected = SentFrame {
        session: session.id(),
        message: Sent::Ping(b"p".to_vec()),
        token: None,
    };
    assert_eq!(host.frames(), [expected]);
}

#[test]
fn the_endpoint_sees_is_open_change_and_properties_until_on_close() {
    let host = MockHost::deploy(&PLUGIN).unwrap();
    let session = host.connect("/rooms/a?nick=ada").unwrap();
    host.text(&session, "leave");
    let lines: Vec<String> = host.logs().into_iter().map(|l| l.message).collect();
    assert_eq!(
        lines,
        [
            "open is_open=true",
            "after close is_open=false",
            "close is_open=false nick=Some(\"ada\")",
        ]
    );
}

#[test]
fn handshake_accessors_borrow_and_decode_once() {
    let hs = Handshake::new("/rooms/x")
        .with_query("nick=J%C3%BCrgen&tag=a+b")
        .with_path_param("room", "x")
        .with_header("Cookie", "theme=dark")
        .with_header("X-Client", "android");
    let borrowed: [Option<&str>; 4] = [
        hs.query_param("nick"),
        hs.path_param("room"),
        hs.header("x-client"),
        hs.cookie("theme"),
    ];
    assert_eq!(
        borrowed,
        [Some("Jürgen"), Some("x"), Some("android"), Some("dark")]
    );
    assert_eq!(hs.query_param("tag"), Some("a b"));
    assert_eq!(
        hs.query(),
        "nick=J%C3%BCrgen&tag=a+b",
        "the raw query stays"
    );
}

#[test]
fn a_factory_panic_fails_the_deployment() {
    struct Never;
    impl Endpoint for Never {
        type State = ();
    }
    let failed = MockHost::builder()
        .endpoint("/", |_| -> Never { panic!("no config") })
        .build()
        .unwrap_err();
    let MockError::FactoryPanicked(line) = failed else {
        panic!("a factory panic");
    };
    assert!(
        line.contains("an endpoint factory") && line.ends_with("no config"),
        "{line}"
    );
}
