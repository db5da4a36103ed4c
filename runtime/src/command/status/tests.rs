use super::*;
use crate::admin::view::{DiagnosticView, LastErrorView, LibraryView, RetiringView};

fn context(name: &str, state: &str) -> ContextView {
    ContextView {
        name: name.into(),
        path: None,
        state: state.into(),
        generation: None,
        library: None,
        sessions: 0,
        retiring: Vec::new(),
        held: false,
        last_error: None,
    }
}

fn problem(text: &str) -> DiagnosticView {
    DiagnosticView {
        file: "apps/bad/jeus-web-dd.xml".into(),
        line: Some(3),
        column: Some(9),
        severity: "error".into(),
        message: "m".into(),
        text: text.into(),
    }
}

#[test]
fn the_table_aligns_columns_and_notes_errors_and_retiring_versions() {
    let echo = ContextView {
        path: Some("/echo".into()),
        generation: Some(12),
        library: Some(LibraryView {
            file: "apps/echo/libecho.so".into(),
            modified: Some("2023-11-14T22:13:20.000Z".into()),
        }),
        sessions: 3,
        retiring: vec![RetiringView {
            generation: 11,
            sessions: 1,
        }],
        ..context("echo", "running")
    };
    let bad = ContextView {
        last_error: Some(LastErrorView {
            clash: false,
            diagnostics: vec![
                problem("apps/bad/jeus-web-dd.xml:3:9: error: unknown element"),
                problem("second"),
            ],
        }),
        ..context("bad", "failed")
    };
    let stopped = ContextView {
        held: true,
        ..context("stopped", "draining")
    };
    assert_eq!(
        table(&[echo, bad, stopped]),
        "NAME     PATH   STATE            GEN  SESSIONS  LIBRARY MODIFIED\n\
         echo     /echo  running          12   3         2023-11-14T22:13:20.000Z\n\
         \x20 retiring generation 11: 1 session(s)\n\
         bad      -      failed           -    0         -\n\
         \x20 error: apps/bad/jeus-web-dd.xml:3:9: error: unknown element (and 1 more)\n\
         stopped  -      draining (held)  -    0         -\n"
    );
}

#[test]
fn no_contexts_says_so() {
    assert_eq!(table(&[]), "no contexts\n");
}

#[test]
fn an_answer_splits_into_status_and_body() {
    let answer = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n{\"contexts\": []}\n";
    assert_eq!(
        split_answer(answer),
        Some((200, &b"{\"contexts\": []}\n"[..]))
    );
    assert_eq!(split_answer(b"SSH-2.0-OpenSSH\r\n\r\n"), None);
    assert_eq!(split_answer(b"HTTP/1.1 200 OK\r\n"), None);
}

#[test]
fn an_unspecified_address_is_asked_on_loopback() {
    let addr = |s: &str| s.parse::<SocketAddr>().expect("an address");
    assert_eq!(reachable(addr("0.0.0.0:9090")), addr("127.0.0.1:9090"));
    assert_eq!(reachable(addr("[::]:9090")), addr("[::1]:9090"));
    assert_eq!(reachable(addr("10.0.0.7:9091")), addr("10.0.0.7:9091"));
}

#[test]
fn the_address_comes_from_the_flag_then_the_configuration() {
    let dir = std::env::temp_dir().join(format!("berth-status-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let conf = |name: &str, admin: &str| {
        let file = dir.join(name);
        let xml = format!("<berth-server xmlns=\"urn:berth:server:1\">{admin}</berth-server>\n");
        std::fs::write(&file, xml).expect("server.xml");
        Some(file)
    };
    let moved = conf(
        "moved.xml",
        "<admin><listen>127.0.0.1:9999</listen></admin>",
    );
    let off = conf("off.xml", "<admin><enabled>false</enabled></admin>");
    let broken = conf("broken.xml", "<admin><enabled>maybe</enabled></admin>");
    let flag = Some("127.0.0.1:7000".parse().expect("an address"));
    let address = |admin, conf| admin_address(&StatusOptions { admin, conf });
    assert_eq!(address(flag, off.clone()).ok(), flag);
    assert_eq!(
        address(None, moved).ok(),
        Some("127.0.0.1:9999".parse().expect("an address"))
    );
    assert!(matches!(
        address(None, off),
        Err(StatusError::Disabled { .. })
    ));
    assert!(matches!(
        address(None, broken),
        Err(StatusError::Config { count: 1, .. })
    ));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn nothing_answering_says_where_it_asked() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let address = listener.local_addr().expect("its address");
    drop(listener);
    let error = contexts(address).expect_err("nothing listens there now");
    assert!(matches!(error, StatusError::Unreachable { .. }), "{error}");
    assert!(
        error
            .to_string()
            .starts_with(&format!("nothing answers on {address}")),
        "{error}"
    );
}
