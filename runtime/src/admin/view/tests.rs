use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;

use super::*;
use crate::config::{Position, Severity};
use crate::deploy::deployer::actions::{LibraryReport, RetiringReport};

fn at(seconds: u64, millis: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds) + Duration::from_millis(millis)
}

#[test]
fn times_are_rfc3339_utc_with_milliseconds() {
    assert_eq!(
        rfc3339(at(0, 0)).as_deref(),
        Some("1970-01-01T00:00:00.000Z")
    );
    assert_eq!(
        rfc3339(at(1_700_000_000, 42)).as_deref(),
        Some("2023-11-14T22:13:20.042Z")
    );
    // A leap day, the last second of a leap year, and the day after.
    assert_eq!(
        rfc3339(at(951_782_400, 0)).as_deref(),
        Some("2000-02-29T00:00:00.000Z")
    );
    assert_eq!(
        rfc3339(at(1_704_067_199, 999)).as_deref(),
        Some("2023-12-31T23:59:59.999Z")
    );
    assert_eq!(
        rfc3339(at(4_107_542_400, 0)).as_deref(),
        Some("2100-03-01T00:00:00.000Z")
    );
    assert_eq!(rfc3339(UNIX_EPOCH - Duration::from_secs(1)), None);
}

fn refused() -> Failure {
    Failure {
        diagnostics: vec![Diagnostic {
            file: PathBuf::from("apps/echo/jeus-web-dd.xml"),
            position: Some(Position { line: 3, column: 9 }),
            severity: Severity::Error,
            message: "unknown element <max-sesions> in <websocket>".into(),
        }],
        clash: false,
        attempt: None,
    }
}

fn running() -> ContextReport {
    ContextReport {
        name: "echo".into(),
        path: Some("/echo".into()),
        state: ContextState::Running,
        generation: Some(4),
        library: Some(LibraryReport {
            file: PathBuf::from("apps/echo/libecho.so"),
            modified: Some(at(1_700_000_000, 0)),
        }),
        sessions: 2,
        retiring: vec![RetiringReport {
            generation: 3,
            sessions: 1,
        }],
        held: false,
        last_error: Some(refused()),
    }
}

#[test]
fn a_context_is_one_flat_document() {
    let shown = serde_json::to_value(context(&running())).expect("serializes");
    assert_eq!(
        shown,
        json!({
            "name": "echo",
            "path": "/echo",
            "state": "running",
            "generation": 4,
            "library": {"file": "apps/echo/libecho.so", "modified": "2023-11-14T22:13:20.000Z"},
            "sessions": 2,
            "retiring": [{"generation": 3, "sessions": 1}],
            "held": false,
            "last_error": {
                "clash": false,
                "diagnostics": [{
                    "file": "apps/echo/jeus-web-dd.xml",
                    "line": 3,
                    "column": 9,
                    "severity": "error",
                    "message": "unknown element <max-sesions> in <websocket>",
                    "text": "apps/echo/jeus-web-dd.xml:3:9: error: unknown element <max-sesions> in <websocket>",
                }],
            },
        })
    );
}

#[test]
fn what_is_absent_is_null_and_each_state_has_its_word() {
    let report = ContextReport {
        name: "gone".into(),
        path: None,
        state: ContextState::Undeployed,
        generation: None,
        library: None,
        sessions: 0,
        retiring: Vec::new(),
        held: true,
        last_error: None,
    };
    let shown = serde_json::to_value(context(&report)).expect("serializes");
    assert_eq!(shown["path"], json!(null));
    assert_eq!(shown["generation"], json!(null));
    assert_eq!(shown["library"], json!(null));
    assert_eq!(shown["last_error"], json!(null));
    assert_eq!(shown["state"], json!("undeployed"));
    let words = [
        (ContextState::Running, "running"),
        (ContextState::Draining, "draining"),
        (ContextState::Undeployed, "undeployed"),
        (ContextState::Failed, "failed"),
    ];
    for (state, word) in words {
        assert_eq!(super::state(state), word);
    }
}

#[test]
fn an_error_carries_the_diagnostics_and_the_context() {
    let report = running();
    let shown = serde_json::to_value(error("refused".into(), Some(&report))).expect("serializes");
    assert_eq!(shown["error"], json!("refused"));
    assert_eq!(shown["diagnostics"][0]["line"], json!(3));
    assert_eq!(shown["context"]["name"], json!("echo"));
    let bare = serde_json::to_value(error("no such context".into(), None)).expect("serializes");
    assert_eq!(bare, json!({"error": "no such context"}));
}

#[test]
fn berth_status_reads_what_the_listener_writes() {
    let list = ContextList {
        contexts: vec![context(&running())],
    };
    let text = serde_json::to_string(&list).expect("serializes");
    let read: ContextList = serde_json::from_str(&text).expect("deserializes");
    assert_eq!(read, list);
}
