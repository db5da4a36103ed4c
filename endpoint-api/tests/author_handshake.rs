//! Item 1 of the author's day: `on_handshake` decides before the upgrade — refusals with a
//! status, headers and a body; acceptances with a subprotocol, headers and properties —
//! driven through the mock host, which routes by the declared templates.

use endpoint_api::mock::MockHost;
use endpoint_api::{
    Accept, CloseReason, Endpoint, Handshake, LogLevel, PluginContext, Refuse, Session,
};

/// `/items/{item}`: needs `?user=`; `vip` users get a cookie and a property.
struct Items {
    ctx: PluginContext,
}

impl Endpoint for Items {
    type State = ();
    const DECIDES_HANDSHAKES: bool = true;

    fn on_handshake(&self, handshake: &Handshake) -> Result<Accept, Refuse> {
        let item = handshake.path_param("item").unwrap_or_default();
        match handshake.query_param("user") {
            None => Err(Refuse::forbidden()
                .with_header("X-Reason", "user")
                .with_body("add ?user=NAME")),
            Some("ghost") if item == "boom" => panic!("no decision for ghosts"),
            Some("vip") => Ok(Accept::new()
                .with_header("Set-Cookie", "vip=1")
                .with_property("tier", &"gold")?),
            Some(_) => Ok(Accept::new()),
        }
    }

    fn on_open(&self, session: &Session, _: &Handshake) -> Result<(), CloseReason> {
        let tier: Option<String> = session.get("tier").ok().flatten();
        let line = format!(
            "open {} tier={tier:?}",
            session.path_param("item").unwrap_or("?")
        );
        self.ctx.log(LogLevel::Info, &line);
        Ok(())
    }
}

/// `/chat`: chooses `chat.v1` when offered, else lets the host choose.
struct Chat;

impl Endpoint for Chat {
    type State = ();
    const DECIDES_HANDSHAKES: bool = true;

    fn on_handshake(&self, handshake: &Handshake) -> Result<Accept, Refuse> {
        assert_eq!(handshake.subprotocol(), None, "nothing negotiated yet");
        let wants_v1 = handshake.offered_subprotocols().any(|p| p == "chat.v1");
        let wants_bogus = handshake.query_param("bogus").is_some();
        Ok(match (wants_v1, wants_bogus) {
            (_, true) => Accept::new().with_subprotocol("never-offered"),
            (true, false) => Accept::new().with_subprotocol("chat.v1"),
            (false, false) => Accept::new(),
        })
    }
}

endpoint_api::plugin! {
    "/items/{item}" => |ctx| Items { ctx: ctx.clone() },
    "/chat" [subprotocols: "chat.v2", "chat.v1"] => |_| Chat,
}

fn offering(path: &str, protocols: &str) -> Handshake {
    Handshake::new(path).with_header("Sec-WebSocket-Protocol", protocols)
}

#[test]
fn a_refusal_answers_its_status_headers_and_body_and_opens_nothing() {
    let host = MockHost::deploy(&PLUGIN).unwrap();
    let refused = host.connect("/items/lamp").unwrap_err();
    assert_eq!(refused.status(), 403);
    assert_eq!(refused.body(), "add ?user=NAME");
    assert_eq!(refused.header("x-reason"), Some("user"));
    assert!(host.context().sessions().unwrap().is_empty());
    assert!(host.logs().is_empty(), "no on_open ran");
}

#[test]
fn an_acceptance_brings_headers_and_properties_to_on_open() {
    let host = MockHost::deploy(&PLUGIN).unwrap();
    let vip = host.connect("/items/lamp?user=vip").unwrap();
    assert_eq!(
        host.response_headers(vip.id()),
        [("Set-Cookie".into(), "vip=1".into())]
    );
    assert_eq!(host.property(vip.id(), "tier"), Some("gold".into()));
    let plain = host.connect("/items/vase?user=ann").unwrap();
    assert!(host.response_headers(plain.id()).is_empty());
    let lines: Vec<String> = host.logs().into_iter().map(|l| l.message).collect();
    assert_eq!(
        lines,
        ["open lamp tier=Some(\"gold\")", "open vase tier=None"]
    );
}

#[test]
fn unknown_paths_are_404_and_a_panicking_decision_is_500_reported_once() {
    let host = MockHost::deploy(&PLUGIN).unwrap();
    assert_eq!(host.connect("/elsewhere").unwrap_err().status(), 404);
    assert_eq!(
        host.connect("/items/boom?user=ghost").unwrap_err().status(),
        500
    );
    let logs = host.logs();
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert_eq!((logs[0].session, logs[0].level), (None, LogLevel::Error));
    assert!(
        logs[0]
            .message
            .starts_with("plugin panicked in on_handshake at ")
    );
    assert!(logs[0].message.ends_with("no decision for ghosts"));
    assert!(
        host.connect("/items/boom?user=ann").is_ok(),
        "the plugin keeps working"
    );
}

#[test]
fn the_subprotocol_is_the_endpoints_choice_or_the_hosts() {
    let host = MockHost::deploy(&PLUGIN).unwrap();
    let chosen = host
        .connect_with(offering("/chat", "chat.v2, chat.v1"))
        .unwrap();
    assert_eq!(
        chosen.subprotocol(),
        Some("chat.v1"),
        "the endpoint's choice"
    );
    let by_host = host.connect_with(offering("/chat", "x, chat.v2")).unwrap();
    assert_eq!(
        by_host.subprotocol(),
        Some("chat.v2"),
        "the first declared one offered"
    );
    let none = host.connect("/chat").unwrap();
    assert_eq!(none.subprotocol(), None);
    let bogus = host.connect_with(offering("/chat", "chat.v2").with_query("bogus"));
    assert_eq!(
        bogus.unwrap_err().status(),
        500,
        "a subprotocol the client did not offer"
    );
}

/// Decides handshakes but forgot to say so.
struct Forgetful;

impl Endpoint for Forgetful {
    type State = ();

    fn on_handshake(&self, handshake: &Handshake) -> Result<Accept, Refuse> {
        match handshake.query_param("user") {
            Some(user) => Ok(Accept::new()
                .with_header("Set-Cookie", "lost=1")
                .with_property("user", user)?),
            None => Err(Refuse::forbidden().with_body("who are you?")),
        }
    }
}

#[test]
fn an_endpoint_that_does_not_declare_it_still_decides_right_after_the_upgrade() {
    let host = MockHost::builder()
        .endpoint("/", |_| Forgetful)
        .build()
        .unwrap();
    let refused = host.connect("/").expect("upgraded: the host was not asked");
    let info = host.close_info(refused.id()).unwrap();
    assert_eq!((info.code, info.reason.as_str()), (1008, "who are you?"));
    let accepted = host.connect("/?user=ann").unwrap();
    assert!(accepted.is_open());
    assert_eq!(host.property(accepted.id(), "user"), Some("ann".into()));
    assert!(
        host.response_headers(accepted.id()).is_empty(),
        "too late for headers"
    );
    let warnings: Vec<_> = host
        .logs()
        .into_iter()
        .filter(|l| l.level == LogLevel::Warn)
        .collect();
    assert_eq!(warnings.len(), 1, "warned once: {warnings:?}");
    assert!(
        warnings[0].message.contains("DECIDES_HANDSHAKES"),
        "{warnings:?}"
    );
}

#[test]
fn only_a_plugin_with_a_deciding_endpoint_offers_on_handshake_to_the_host() {
    assert!(PLUGIN.decides_handshakes());
    let flags: Vec<bool> = PLUGIN.endpoints().map(|e| e.decides_handshakes()).collect();
    assert_eq!(flags, [true, true]);
}

#[test]
fn refusal_statuses_are_checked_and_conveniences_cover_the_usual_ones() {
    let usual = [
        (Refuse::bad_request(), 400),
        (Refuse::unauthorized(), 401),
        (Refuse::forbidden(), 403),
        (Refuse::not_found(), 404),
        (Refuse::conflict(), 409),
        (Refuse::too_many_requests(), 429),
        (Refuse::internal_error(), 500),
        (Refuse::service_unavailable(), 503),
    ];
    for (refuse, status) in usual {
        assert_eq!(refuse.status(), status);
    }
    assert_eq!(Refuse::new(451).unwrap().status(), 451);
    assert_eq!(Refuse::new(101).unwrap_err().status(), 101);
}
