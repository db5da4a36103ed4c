//! The boundary end to end, without a server: a plugin declared with `plugin!` in this module,
//! driven through its C table by a fake host built from `extern "C"` functions, exactly as the
//! runtime's loader will drive a `cdylib`.

#![allow(unreachable_pub)] // `plugin!` exports `pub` symbols from this private module.

use std::mem::{offset_of, size_of};
use std::ptr;
use std::sync::Mutex;

use super::*;
use crate::{
    Accept, CloseCause, CloseInfo, CloseReason, Endpoint, Handshake, PluginContext, Refuse,
    Session, Text, UndeployReason,
};

mod fake;

use fake::{Deployed, FakeHost, host_api};

struct Echo;

/// A session an endpoint keeps past `destroy` (as a plugin thread might).
static KEPT: Mutex<Option<Session>> = Mutex::new(None);

impl Echo {
    fn new(ctx: &PluginContext) -> Echo {
        assert!(ctx.init_param("explode").is_none(), "factory exploded");
        Echo
    }
}

impl Endpoint for Echo {
    /// Messages seen.
    type State = u32;
    const DECIDES_HANDSHAKES: bool = true;

    fn on_handshake(&self, handshake: &Handshake) -> Result<Accept, Refuse> {
        match handshake.query_param("deny") {
            Some("panic") => panic!("no decision"),
            Some(why) => Err(Refuse::forbidden().with_header("X-Why", why).with_body(why)),
            None => Ok(Accept::new()),
        }
    }

    fn on_open(&self, _session: &Session, handshake: &Handshake) -> Result<u32, CloseReason> {
        match handshake.query_param("reject") {
            Some(_) => Err(CloseReason::policy_violation().with_reason("go away")),
            None => Ok(0),
        }
    }

    fn on_text(&self, session: &Session, seen: &mut u32, text: Text<'_>) {
        *seen += 1;
        match text.as_str() {
            "panic" => panic!("boom at {}", session.id()),
            "who" => drop(session.send_text(session.header("x-user").unwrap_or("?"))),
            "keep" => *KEPT.lock().unwrap() = Some(session.clone()),
            "async" => drop(session.send_text_async("later", |s, result| {
                s.log(crate::LogLevel::Info, &format!("async done {result:?}"));
            })),
            _ => drop(session.send_text(&text)),
        }
    }

    fn on_close(&self, session: &Session, seen: &mut u32, info: &CloseInfo) {
        let line = format!(
            "closed {} {} {:?} after {seen}",
            info.code, info.reason, info.cause
        );
        session.context().log(crate::LogLevel::Info, &line);
    }

    fn on_undeploy(&self, reason: UndeployReason) {
        if reason == UndeployReason::Unknown(99) {
            panic!("unknown reason");
        }
    }
}

struct Room(PluginContext);

impl Endpoint for Room {
    type State = ();

    fn on_open(&self, session: &Session, _handshake: &Handshake) -> Result<(), CloseReason> {
        let room = session.path_param("room").unwrap_or_default();
        session
            .set("room", room)
            .map_err(|_| CloseReason::internal_error())
    }

    fn on_text(&self, session: &Session, _: &mut (), text: Text<'_>) {
        let room: String = session.get("room").ok().flatten().unwrap_or_default();
        let everyone = self.0.sessions().unwrap_or_default();
        let _ = self.0.broadcast_text(&everyone, &format!("{room}: {text}"));
    }
}

crate::plugin! {
    "/" => |ctx| Echo::new(ctx),
    "/rooms/{room}" [subprotocols: "chat.v2", "chat.v1"] => |ctx| Room(ctx.clone()),
}

#[test]
fn entry_exports_versions_and_declarations() {
    assert_eq!(berth_abi_version(), ABI_VERSION);
    // SAFETY: the static table and its static declarations.
    unsafe {
        let table = read_table(berth_plugin_entry(ptr::null())).unwrap();
        assert_eq!(table.size, size_of::<PluginApi>());
        assert_eq!(table.sdk_version.as_slice(), SDK_VERSION.as_bytes());
        let decls = std::slice::from_raw_parts(table.endpoints, table.endpoint_count);
        let paths: Vec<&[u8]> = decls.iter().map(|d| d.path_template.as_slice()).collect();
        assert_eq!(paths, [&b"/"[..], b"/rooms/{room}"]);
        let protocols: Vec<&[u8]> = decls[1]
            .subprotocols
            .as_slice()
            .iter()
            .map(|b| b.as_slice())
            .collect();
        assert_eq!(protocols, [&b"chat.v2"[..], b"chat.v1"]);
        assert!(decls[0].subprotocols.as_slice().is_empty());
    }
}

#[test]
fn messages_reach_the_endpoint_and_handshake_stays_readable() {
    let host = FakeHost::default();
    let api = host_api(size_of::<HostApi>());
    let plugin = Deployed::new(&host, &api, &[]).unwrap();
    assert_eq!(plugin.open(&host, 0, 7, "", ("X-User", "ada")), Status::OK);
    assert_eq!(plugin.text(0, 7, "hello"), Status::OK);
    assert_eq!(plugin.text(0, 7, "who"), Status::OK);
    let sends = host.sends.lock().unwrap().clone();
    assert_eq!(
        sends,
        [
            (7, message_kind::TEXT, "hello".into()),
            (7, message_kind::TEXT, "ada".into())
        ]
    );
    assert_eq!(
        plugin.text(5, 7, "x"),
        Status::INVALID_ARGUMENT,
        "endpoint out of range"
    );
}

#[test]
fn properties_and_broadcast_cross_as_json_and_ids() {
    let host = FakeHost::default();
    let api = host_api(size_of::<HostApi>());
    let plugin = Deployed::new(&host, &api, &[]).unwrap();
    assert_eq!(plugin.open(&host, 1, 1, "", ("a", "b")), Status::OK);
    assert_eq!(plugin.open(&host, 1, 2, "", ("a", "b")), Status::OK);
    assert_eq!(
        host.properties.lock().unwrap()[&(1, "room".into())],
        "\"lobby\""
    );
    assert_eq!(plugin.text(1, 2, "hi"), Status::OK);
    let sends = host.sends.lock().unwrap().clone();
    let expected = |id| (id, message_kind::TEXT, "lobby: hi".to_owned());
    assert_eq!(sends, [expected(1), expected(2)]);
}

#[test]
fn a_panic_becomes_panicked_is_logged_and_the_plugin_keeps_working() {
    let host = FakeHost::default();
    let api = host_api(size_of::<HostApi>());
    let plugin = Deployed::new(&host, &api, &[]).unwrap();
    plugin.open(&host, 0, 3, "", ("a", "b"));
    assert_eq!(plugin.text(0, 3, "panic"), Status::PANICKED);
    let logs = host.logs.lock().unwrap().clone();
    assert_eq!(logs.len(), 1);
    let (session, level, text) = &logs[0];
    assert_eq!((*session, *level), (3, log_level::ERROR));
    assert!(
        text.contains("on_text at ") && text.contains("mod.rs") && text.ends_with("boom at 3"),
        "one structured line, with the location: {text}"
    );
    assert_eq!(plugin.text(0, 3, "still here"), Status::OK);
}

#[test]
fn a_factory_panic_fails_create() {
    let host = FakeHost::default();
    let api = host_api(size_of::<HostApi>());
    assert!(Deployed::new(&host, &api, &[("explode", "yes")]).is_none());
    let logs = host.logs.lock().unwrap().clone();
    assert!(logs[0].2.contains("factory exploded"), "{logs:?}");
}

#[test]
fn on_open_refusal_closes_with_the_code_and_on_close_follows() {
    let host = FakeHost::default();
    let api = host_api(size_of::<HostApi>());
    let plugin = Deployed::new(&host, &api, &[]).unwrap();
    assert_eq!(
        plugin.open(&host, 0, 9, "reject=1", ("a", "b")),
        Status::REJECTED
    );
    assert_eq!(
        host.closes.lock().unwrap().clone(),
        [(9, 1008, "go away".into())]
    );
    assert_eq!(
        plugin.close(9, 1008, close_cause::ENDPOINT_CLOSE),
        Status::OK
    );
    let logs = host.logs.lock().unwrap().clone();
    assert_eq!(
        logs[0].2,
        format!("closed 1008 bye {:?} after 0", CloseCause::EndpointClose),
        "on_close gets the default state of a refused session"
    );
    assert_eq!(plugin.text(0, 9, "after refusal"), Status::NO_SUCH_SESSION);
}

#[test]
fn the_state_lives_from_on_open_to_on_close() {
    let host = FakeHost::default();
    let api = host_api(size_of::<HostApi>());
    let plugin = Deployed::new(&host, &api, &[]).unwrap();
    plugin.open(&host, 0, 12, "", ("a", "b"));
    for _ in 0..5 {
        assert_eq!(plugin.text(0, 12, "x"), Status::OK);
    }
    assert_eq!(
        plugin.close(12, 1000, close_cause::REMOTE_CLOSE),
        Status::OK
    );
    let logs = host.logs.lock().unwrap().clone();
    assert!(logs[0].2.ends_with("after 5"), "{logs:?}");
}

#[test]
fn on_handshake_writes_a_verdict_only_when_it_says_something() {
    let host = FakeHost::default();
    let api = host_api(size_of::<HostApi>());
    let plugin = Deployed::new(&host, &api, &[]).unwrap();
    assert_eq!(plugin.handshake(0, ""), (Status::OK, String::new()));
    let (status, json) = plugin.handshake(0, "deny=closed");
    assert_eq!(status, Status::OK);
    let verdict: verdict::Verdict = serde_json::from_str(&json).unwrap();
    let verdict::Verdict::Refuse(refusal) = verdict else {
        panic!("a refusal: {json}");
    };
    assert_eq!(refusal.status, 403);
    assert_eq!(refusal.body, "closed");
    assert_eq!(refusal.headers, [("X-Why".to_owned(), "closed".to_owned())]);
    assert_eq!(
        plugin.handshake(0, "deny=panic"),
        (Status::PANICKED, String::new())
    );
    let logs = host.logs.lock().unwrap().clone();
    assert_eq!(logs.len(), 1);
    assert!(logs[0].2.contains("on_handshake") && logs[0].2.ends_with("no decision"));
    assert_eq!(logs[0].0, 0, "no session yet");
}

#[test]
fn under_a_host_before_abi_1_2_on_handshake_runs_at_on_open() {
    let host = FakeHost::default();
    let mut api = host_api(size_of::<HostApi>());
    api.abi_version = AbiVersion {
        major: ABI_MAJOR,
        minor: 1,
    }
    .to_raw();
    let plugin = Deployed::new(&host, &api, &[]).unwrap();
    assert_eq!(
        plugin.open(&host, 0, 14, "deny=late", ("a", "b")),
        Status::REJECTED
    );
    assert_eq!(
        host.closes.lock().unwrap().clone(),
        [(14, 1008, "late".into())]
    );
    let logs = host.logs.lock().unwrap().clone();
    assert!(
        logs[0].2.contains("the host is older than ABI 1.2"),
        "{logs:?}"
    );
    assert_eq!(plugin.open(&host, 0, 15, "", ("a", "b")), Status::OK);
}

#[test]
fn lifecycle_callbacks_reach_every_endpoint() {
    let host = FakeHost::default();
    let api = host_api(size_of::<HostApi>());
    let plugin = Deployed::new(&host, &api, &[]).unwrap();
    assert_eq!(plugin.deploy(), Status::OK);
    assert_eq!(plugin.undeploy(undeploy_reason::SHUTDOWN), Status::OK);
    assert_eq!(plugin.undeploy(99), Status::PANICKED);
    let logs = host.logs.lock().unwrap().clone();
    assert!(logs[0].2.contains("on_undeploy"), "{logs:?}");
}

#[test]
fn an_async_closure_runs_on_its_completion() {
    let host = FakeHost::default();
    let api = host_api(size_of::<HostApi>());
    let plugin = Deployed::new(&host, &api, &[]).unwrap();
    plugin.open(&host, 0, 13, "", ("a", "b"));
    assert_eq!(plugin.text(0, 13, "async"), Status::OK);
    let token = host.tokens.lock().unwrap()[0];
    assert_eq!(plugin.complete(13, token, Status::TIMEOUT), Status::OK);
    assert_eq!(
        plugin.complete(13, token, Status::OK),
        Status::OK,
        "a second completion finds nothing"
    );
    let logs = host.logs.lock().unwrap().clone();
    assert_eq!(logs.len(), 1, "once: {logs:?}");
    assert_eq!(logs[0].2, "async done Err(Timeout)");
}

#[test]
fn the_table_has_every_callback_of_this_minor() {
    // SAFETY: the static table.
    let table = unsafe { read_table(berth_plugin_entry(ptr::null())) }.unwrap();
    assert!(
        table.on_handshake.is_some(),
        "an endpoint decides handshakes"
    );
    assert!(table.on_deploy.is_some());
    assert!(table.on_undeploy.is_some());
}

#[test]
fn a_shorter_host_table_makes_missing_services_unsupported() {
    let host = FakeHost::default();
    let api = host_api(offset_of!(HostApi, send));
    let plugin = Deployed::new(&host, &api, &[]).unwrap();
    plugin.open(&host, 0, 4, "", ("a", "b"));
    assert_eq!(plugin.text(0, 4, "echo?"), Status::OK);
    assert!(
        host.sends.lock().unwrap().is_empty(),
        "send is past the host's size"
    );
    // SAFETY: a valid table.
    let copy = unsafe { read_table(&api) }.unwrap();
    assert!(copy.has(offset_of!(HostApi, log)));
    assert!(!copy.has(offset_of!(HostApi, send)));
    assert!(copy.send.is_none() && copy.endpoint_sessions.is_none() && copy.log.is_some());
}

#[test]
fn a_shorter_plugin_table_reads_defaults_for_missing_callbacks() {
    // An "older plugin": its table ends before `on_pong`, and nothing after it is readable.
    let full = PluginApi {
        size: offset_of!(PluginApi, on_pong),
        // SAFETY: the static table.
        ..unsafe { *berth_plugin_entry(ptr::null()) }
    };
    let mut older = vec![0usize; full.size / size_of::<usize>()];
    // SAFETY: copies exactly `full.size` bytes of a valid table into a buffer that long.
    let table = unsafe {
        ptr::copy_nonoverlapping(
            ptr::from_ref(&full).cast::<u8>(),
            older.as_mut_ptr().cast(),
            full.size,
        );
        read_table(older.as_ptr().cast::<PluginApi>()).unwrap()
    };
    assert!(table.on_text.is_some() && table.on_binary.is_some());
    assert!(
        table.on_pong.is_none() && table.on_close.is_none() && table.on_send_complete.is_none()
    );
    assert!(table.has(offset_of!(PluginApi, on_binary)));
    assert!(!table.has(offset_of!(PluginApi, on_pong)));
    assert_eq!(table.size, offset_of!(PluginApi, on_pong));
    // A table claiming to be larger than this side knows is read up to what this side knows.
    let newer = PluginApi {
        size: size_of::<PluginApi>() + 64,
        ..full
    };
    // SAFETY: reads only `size_of::<PluginApi>()` bytes of `newer`.
    assert!(
        unsafe { read_table(&newer) }
            .unwrap()
            .on_send_complete
            .is_some()
    );
    // SAFETY: null is allowed.
    assert!(unsafe { read_table::<PluginApi>(ptr::null()) }.is_none());
}

#[test]
fn handles_kept_past_destroy_no_longer_reach_the_host() {
    let host = FakeHost::default();
    let api = host_api(size_of::<HostApi>());
    let plugin = Deployed::new(&host, &api, &[]).unwrap();
    plugin.open(&host, 0, 11, "", ("a", "b"));
    assert_eq!(plugin.text(0, 11, "keep"), Status::OK);
    let kept = KEPT.lock().unwrap().take().unwrap();
    assert_eq!(kept.send_text("before"), Ok(()));
    drop(plugin);
    assert_eq!(
        kept.send_text("after"),
        Err(crate::HostError::NoSuchSession)
    );
    assert_eq!(kept.context().sessions(), Ok(Vec::new()));
    let sends = host.sends.lock().unwrap().clone();
    assert_eq!(sends, [(11, message_kind::TEXT, "before".into())]);
}
