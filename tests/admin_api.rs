//! The admin listener against the real binary with real plugins: `GET /contexts` and
//! `/contexts/{name}`, the three actions and what they do to open sessions, refusals with
//! their status codes and positioned diagnostics, and `berth status`.

use std::net::SocketAddr;
use std::time::Duration;

use berth_tests::Finished;
use berth_tests::admin::{admin_get, admin_request};
use berth_tests::apps::{Apps, descriptor};
use berth_tests::berth_in;
use berth_tests::client::{
    connect, echo_round_trip, expect_close, handshake_status, recv_text, send_text,
};
use berth_tests::server::Berth;
use serde_json::Value;

/// How long a deployment step may take to show in the log (generous: CI has two cores).
const LOGGED: Duration = Duration::from_secs(20);

/// A descriptor with an unknown element at line 3, column 1.
fn misspelt() -> String {
    descriptor("<max-sesions>5</max-sesions>")
}

/// `count` round trips on a probe session.
async fn still_talks(ws: &mut berth_tests::client::Ws, count: usize) {
    for n in 0..count {
        let text = format!("still here {n}");
        send_text(ws, &text).await;
        assert_eq!(recv_text(ws).await, text);
    }
}

fn is_rfc3339_utc(text: &str) -> bool {
    let bytes = text.as_bytes();
    let digits = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 22];
    bytes.len() == 24
        && digits.iter().all(|&at| bytes[at].is_ascii_digit())
        && [
            (4, b'-'),
            (7, b'-'),
            (10, b'T'),
            (13, b':'),
            (16, b':'),
            (19, b'.'),
            (23, b'Z'),
        ]
        .iter()
        .all(|&(at, c)| bytes[at] == c)
}

fn first_problem(document: &Value) -> &Value {
    &document["diagnostics"][0]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_contexts_lists_every_context_and_get_one_shows_it() {
    let apps = Apps::new("admin-list");
    apps.sample("echo");
    apps.context("probe", "probe", &descriptor(""));
    apps.context("broken", "probe", &misspelt());
    let (berth, admin) = Berth::start_with_admin(&apps);
    let _ws = echo_round_trip(&berth.url("/echo/")).await;

    let answer = admin_request(admin, "GET", "/contexts").await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let content_type = answer.header("content-type");
    assert_eq!(content_type.as_deref(), Some("application/json"));
    let list = answer.json();
    let contexts = list["contexts"].as_array().expect("a list of contexts");
    let names: Vec<&str> = contexts.iter().filter_map(|c| c["name"].as_str()).collect();
    assert_eq!(names, ["broken", "echo", "probe"], "{list:#}");

    let echo = &contexts[1];
    assert_eq!(echo["path"], "/echo");
    assert_eq!(echo["state"], "running");
    assert!(
        echo["generation"].as_u64().is_some_and(|g| g > 0),
        "{echo:#}"
    );
    assert_eq!(echo["sessions"], 1, "the open session is counted: {echo:#}");
    let library = echo["library"]["file"].as_str().expect("a library file");
    assert!(library.ends_with("echo/libecho.so"), "{library}");
    let modified = echo["library"]["modified"]
        .as_str()
        .expect("a modification time");
    assert!(is_rfc3339_utc(modified), "{modified}");
    assert_eq!(echo["last_error"], Value::Null);
    assert_eq!(echo["held"], false);
    assert_eq!(echo["retiring"], serde_json::json!([]));

    let broken = &contexts[0];
    assert_eq!(broken["state"], "failed");
    assert_eq!(broken["generation"], Value::Null);
    let problem = &broken["last_error"]["diagnostics"][0];
    assert!(
        problem["file"]
            .as_str()
            .is_some_and(|f| f.ends_with("broken/jeus-web-dd.xml"))
    );
    assert_eq!(
        (&problem["line"], &problem["column"]),
        (&Value::from(3), &Value::from(1))
    );
    let text = problem["text"].as_str().expect("the berth check line");
    assert!(
        text.ends_with("broken/jeus-web-dd.xml:3:1: error: unknown element <max-sesions> in <websocket>; did you mean <max-sessions>?"),
        "{text}"
    );

    assert_eq!(admin_get(admin, "/contexts/echo").await, *echo);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_contexts_paths_and_methods_are_refused_in_json() {
    let apps = Apps::new("admin-refusals");
    apps.context("probe", "probe", &descriptor(""));
    apps.context("broken", "probe", &misspelt());
    let (_berth, admin) = Berth::start_with_admin(&apps);
    let cases = [
        ("GET", "/contexts/nope", 404, None),
        ("GET", "/metrics", 404, None),
        ("POST", "/contexts/nope/deploy", 404, None),
        ("POST", "/contexts/nope/redeploy", 404, None),
        ("POST", "/contexts/..%2F..%2Fetc/deploy", 404, None),
        ("POST", "/contexts/probe/restart", 404, None),
        ("POST", "/contexts", 405, Some("GET, HEAD")),
        ("DELETE", "/contexts/probe", 405, Some("GET, HEAD")),
        ("GET", "/contexts/probe/redeploy", 405, Some("POST")),
        ("POST", "/contexts/broken/redeploy", 409, None),
    ];
    for (method, path, status, allow) in cases {
        let answer = admin_request(admin, method, path).await;
        assert_eq!(answer.status, status, "{method} {path}: {answer:?}");
        assert_eq!(answer.header("allow").as_deref(), allow, "{method} {path}");
        let content_type = answer.header("content-type");
        assert_eq!(content_type.as_deref(), Some("application/json"));
        assert!(
            answer.json()["error"].is_string(),
            "{method} {path}: {answer:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_redeploy_gives_an_open_session_1012_and_new_sessions_the_next_generation() {
    let apps = Apps::new("admin-redeploy");
    apps.context("probe", "probe", &descriptor(""));
    let (berth, admin) = Berth::start_with_admin(&apps);
    let before = admin_get(admin, "/contexts/probe").await["generation"].as_u64();
    let before = before.expect("a running generation");
    let mut old = connect(&berth.url("/probe/")).await;
    still_talks(&mut old, 1).await;

    let answer = admin_request(admin, "POST", "/contexts/probe/redeploy").await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let after = answer.json();
    assert_eq!(after["state"], "running");
    let generation = after["generation"].as_u64().expect("a running generation");
    assert!(generation > before, "{before} → {after:#}");

    let frame = expect_close(&mut old).await;
    assert_eq!(frame.map(|f| u16::from(f.code)), Some(1012));
    let closed = berth.wait_for_log("code=1012 cause=Redeploy", LOGGED);
    assert!(
        closed.is_some_and(|line| line.contains("probe closed")),
        "{}",
        berth.logs()
    );
    let undeployed = berth.wait_for_log("probe undeploy Redeploy closed=1", LOGGED);
    assert!(undeployed.is_some(), "{}", berth.logs());
    let mut new = connect(&berth.url("/probe/")).await;
    still_talks(&mut new, 1).await;
    let shown = admin_get(admin, "/contexts/probe").await;
    assert_eq!(
        (shown["generation"].as_u64(), &shown["sessions"]),
        (Some(generation), &Value::from(1))
    );
    assert!(
        berth
            .logs()
            .contains("redeploying: an administrator asked for it"),
        "{}",
        berth.logs()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_undeploy_gives_1001_then_404_and_holds_it_back_until_post_deploy() {
    let apps = Apps::new("admin-undeploy");
    apps.context("probe", "probe", &descriptor(""));
    let (berth, admin) = Berth::start_with_admin(&apps);
    let mut ws = connect(&berth.url("/probe/")).await;
    still_talks(&mut ws, 1).await;

    let answer = admin_request(admin, "POST", "/contexts/probe/undeploy").await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let undeployed = answer.json();
    assert_eq!(undeployed["held"], true, "{undeployed:#}");
    assert_eq!(
        undeployed["generation"],
        Value::Null,
        "nothing serves it: {undeployed:#}"
    );
    let state = undeployed["state"].as_str();
    assert!(
        matches!(state, Some("draining" | "undeployed")),
        "{undeployed:#}"
    );
    let frame = expect_close(&mut ws).await;
    assert_eq!(frame.map(|f| u16::from(f.code)), Some(1001));
    assert_eq!(handshake_status(berth.addr(), "/probe/", &[]).await, 404);
    let closed = berth.wait_for_log("code=1001 cause=Undeploy", LOGGED);
    assert!(closed.is_some(), "{}", berth.logs());
    let retired = berth.wait_for_log("retired context=probe", LOGGED);
    assert!(retired.is_some(), "{}", berth.logs());

    // A rescan deploys a new context beside it and leaves the held one alone.
    apps.context("other", "probe", &descriptor(""));
    berth.send_signal("HUP");
    let rescanned = berth.wait_for_log("serving context=other", LOGGED);
    assert!(rescanned.is_some(), "{}", berth.logs());
    assert_eq!(handshake_status(berth.addr(), "/probe/", &[]).await, 404);
    let held = admin_get(admin, "/contexts/probe").await;
    assert_eq!(
        (&held["state"], &held["held"]),
        (&Value::from("undeployed"), &Value::from(true))
    );

    let answer = admin_request(admin, "POST", "/contexts/probe/deploy").await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let deployed = answer.json();
    assert_eq!(
        (&deployed["state"], &deployed["held"]),
        (&Value::from("running"), &Value::from(false))
    );
    let mut again = connect(&berth.url("/probe/")).await;
    still_talks(&mut again, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_descriptor_is_reported_with_its_position_while_the_old_version_serves() {
    let apps = Apps::new("admin-broken");
    apps.context("probe", "probe", &descriptor(""));
    let (berth, admin) = Berth::start_with_admin(&apps);
    let generation = admin_get(admin, "/contexts/probe").await["generation"].clone();
    let mut ws = connect(&berth.url("/probe/")).await;
    still_talks(&mut ws, 1).await;
    let file = apps.dir().join("probe").join("jeus-web-dd.xml");
    std::fs::write(&file, misspelt()).expect("the descriptor can be rewritten");

    berth.send_signal("HUP");
    let refused = berth.wait_for_log("context not deployed", LOGGED);
    assert!(refused.is_some(), "{}", berth.logs());
    let shown = admin_get(admin, "/contexts/probe").await;
    assert_eq!(
        (&shown["state"], &shown["generation"]),
        (&Value::from("running"), &generation)
    );
    let problem = &shown["last_error"]["diagnostics"][0];
    assert_eq!(
        (&problem["line"], &problem["column"]),
        (&Value::from(3), &Value::from(1))
    );
    assert_eq!(shown["last_error"]["clash"], false);

    let answer = admin_request(admin, "POST", "/contexts/probe/deploy").await;
    assert_eq!(answer.status, 422, "{answer:?}");
    let body = answer.json();
    let text = first_problem(&body)["text"]
        .as_str()
        .expect("the berth check line");
    let expected = format!(
        "{}:3:1: error: unknown element <max-sesions>",
        file.display()
    );
    assert!(text.starts_with(&expected), "{text}");
    assert_eq!(body["context"]["state"], "running");
    assert_eq!(body["context"]["generation"], generation);

    still_talks(&mut ws, 2).await;
    let mut late = connect(&berth.url("/probe/")).await;
    still_talks(&mut late, 1).await;

    // Put back as it was: the running version is kept and the error is gone.
    std::fs::write(&file, descriptor("")).expect("the descriptor can be rewritten");
    let answer = admin_request(admin, "POST", "/contexts/probe/deploy").await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let fixed = answer.json();
    assert_eq!(
        (&fixed["generation"], &fixed["last_error"]),
        (&generation, &Value::Null)
    );
    assert!(
        !berth.logs().contains("code=1012"),
        "no session was closed: {}",
        berth.logs()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_library_without_its_entry_symbol_is_reported_while_the_old_version_serves() {
    let apps = Apps::new("admin-no-entry");
    apps.context("probe", "probe", &descriptor(""));
    let (berth, admin) = Berth::start_with_admin(&apps);
    let generation = admin_get(admin, "/contexts/probe").await["generation"].clone();
    let mut ws = connect(&berth.url("/probe/")).await;
    still_talks(&mut ws, 1).await;
    // Built beside the context, then renamed over the library: a new file in one step.
    let library = apps.dir().join("probe").join("libprobe.so");
    let built = apps.home().join("libprobe.so");
    berth_tests::live::library_without_entry(&built);
    std::fs::rename(&built, &library).expect("the library can be replaced");

    let answer = admin_request(admin, "POST", "/contexts/probe/deploy").await;
    assert_eq!(answer.status, 422, "{answer:?}");
    let body = answer.json();
    let text = first_problem(&body)["text"]
        .as_str()
        .expect("the berth check line");
    assert!(text.contains("berth_plugin_entry"), "{text}");
    assert_eq!(body["context"]["state"], "running");
    assert_eq!(body["context"]["generation"], generation);
    let shown = admin_get(admin, "/contexts/probe").await;
    assert_eq!(shown["last_error"]["diagnostics"][0]["text"], text);
    still_talks(&mut ws, 2).await;
    assert!(!berth.logs().contains("code=1012"), "{}", berth.logs());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_context_path_clash_answers_409_and_both_stay_as_they_were() {
    let apps = Apps::new("admin-clash");
    apps.context("probe", "probe", &descriptor(""));
    let (berth, admin) = Berth::start_with_admin(&apps);
    let mut ws = connect(&berth.url("/probe/")).await;
    let before = admin_get(admin, "/contexts/probe").await;
    let claims_probe = "<jeus-web-dd xmlns=\"http://www.tmaxsoft.com/xml/ns/jeus\" version=\"8.0\">\n\
        <context-path>/probe</context-path>\n</jeus-web-dd>\n";
    apps.context("copycat", "probe", claims_probe);

    let answer = admin_request(admin, "POST", "/contexts/copycat/deploy").await;
    assert_eq!(answer.status, 409, "{answer:?}");
    let body = answer.json();
    let message = first_problem(&body)["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("/probe is already served by probe"),
        "{body:#}"
    );
    assert_eq!(body["context"]["state"], "failed");
    assert_eq!(body["context"]["last_error"]["clash"], true);

    assert_eq!(admin_get(admin, "/contexts/probe").await, before);
    still_talks(&mut ws, 2).await;
    assert_eq!(handshake_status(berth.addr(), "/copycat/", &[]).await, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn berth_status_prints_the_contexts_as_a_table() {
    let apps = Apps::new("admin-status");
    apps.sample("echo");
    apps.context("broken", "probe", &misspelt());
    let (berth, admin) = Berth::start_with_admin(&apps);
    let _ws = echo_round_trip(&berth.url("/echo/")).await;
    let admin_arg = admin.to_string();
    let status: Finished = tokio::task::block_in_place(|| {
        berth_in(apps.home(), &["status", "--admin", &admin_arg]).into()
    });
    assert_eq!(status.code, Some(0), "{status:?}");
    let lines: Vec<Vec<&str>> = (status.stdout.lines())
        .map(|line| line.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines[0],
        [
            "NAME", "PATH", "STATE", "GEN", "SESSIONS", "LIBRARY", "MODIFIED"
        ]
    );
    assert_eq!(
        lines[1][..4],
        ["broken", "-", "failed", "-"],
        "{}",
        status.stdout
    );
    assert_eq!(
        lines[2][..2],
        [
            "error:",
            &*format!(
                "{}:3:1:",
                apps.dir().join("broken/jeus-web-dd.xml").display()
            )
        ]
    );
    assert_eq!(
        (lines[3][0], lines[3][1], lines[3][2]),
        ("echo", "/echo", "running")
    );
    assert_eq!(lines[3][4], "1", "one open session: {}", status.stdout);
    assert!(is_rfc3339_utc(lines[3][5]), "{}", status.stdout);
}

#[test]
fn berth_status_says_when_nothing_answers() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let free: SocketAddr = listener.local_addr().expect("its address");
    drop(listener);
    let home = berth_tests::TempDir::new("admin-status-none");
    let status: Finished = berth_in(home.path(), &["status", "--admin", &free.to_string()]).into();
    assert_eq!(status.code, Some(1), "{status:?}");
    let expected = format!("berth status: nothing answers on {free} (");
    assert!(status.stderr.starts_with(&expected), "{status:?}");
    assert_eq!(status.stdout, "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_address_in_use_is_logged_and_websockets_are_served_anyway() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a port to take");
    let address = taken.local_addr().expect("its address");
    let apps = Apps::new("admin-taken");
    apps.context("probe", "probe", &descriptor(""));
    let conf = apps.server_conf(&format!("<admin><listen>{address}</listen></admin>"));
    let conf = conf.to_str().expect("a UTF-8 path");
    let berth = Berth::start_with(&apps, &["--conf", conf]);
    let line = berth.wait_for_log("cannot start the admin listener", LOGGED);
    let line = line.unwrap_or_else(|| panic!("{}", berth.logs()));
    assert!(
        line.contains("ERROR") && line.contains(&format!("addr={address}")),
        "{line}"
    );
    let mut ws = connect(&berth.url("/probe/")).await;
    still_talks(&mut ws, 1).await;
}
