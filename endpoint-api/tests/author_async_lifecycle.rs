//! Items 4 and 5 of the author's day: async sends answered by a closure (or by token in
//! `on_send_complete`), `on_deploy` / `on_undeploy`, and logging with the session — driven
//! through the mock host.

use std::sync::Arc;

use endpoint_api::mock::{MockHost, Sent};
use endpoint_api::{
    CloseCause, CloseInfo, Endpoint, HostError, Lock, LogLevel, SendError, SendToken, Session,
    Text, UndeployReason,
};

/// What happened, in order, shared with the test.
type Journal = Arc<Lock<Vec<String>>>;

struct Sender {
    journal: Journal,
}

impl Sender {
    fn note(&self, line: String) {
        self.journal.lock().push(line);
    }
}

impl Endpoint for Sender {
    /// Completions seen through `on_send_complete`.
    type State = Vec<SendToken>;

    fn on_text(&self, session: &Session, _: &mut Vec<SendToken>, text: Text<'_>) {
        let (kind, count) = text.split_once(' ').unwrap_or((&text, "1"));
        for n in 0..count.parse().unwrap_or(1) {
            let journal = self.journal.clone();
            let sent = match kind {
                "closure" => session.send_text_async(&format!("c{n}"), move |s, result| {
                    journal
                        .lock()
                        .push(format!("done {} c{n} {result:?}", s.id()));
                }),
                "binary" => session.send_binary_async(&[n], move |_, result| {
                    journal.lock().push(format!("done b{n} {result:?}"));
                }),
                "panicky" => session.send_text_async("p", |_, _| panic!("in a closure")),
                _ => session.send_text_async_token(&format!("t{n}")),
            };
            self.note(format!("sent {kind} {:?}", sent.map(|t| t.raw() > 0)));
        }
    }

    fn on_send_complete(
        &self,
        _: &Session,
        seen: &mut Vec<SendToken>,
        token: SendToken,
        result: Result<(), SendError>,
    ) {
        seen.push(token);
        self.note(format!(
            "token {} of {} {result:?}",
            seen.len(),
            token.raw()
        ));
    }

    fn on_close(&self, _: &Session, seen: &mut Vec<SendToken>, info: &CloseInfo) {
        self.note(format!(
            "close {:?} after {} token(s)",
            info.cause,
            seen.len()
        ));
    }

    fn on_deploy(&self) {
        self.note("deploy".to_owned());
    }

    fn on_undeploy(&self, reason: UndeployReason) {
        self.note(format!("undeploy {reason:?}"));
    }
}

fn deployed() -> (MockHost, Journal) {
    let journal = Journal::default();
    let kept = journal.clone();
    let host = MockHost::builder()
        .endpoint("/", move |_| Sender { journal: kept })
        .build()
        .expect("deployed");
    (host, journal)
}

fn entries(journal: &Journal) -> Vec<String> {
    journal.lock().clone()
}

#[test]
fn each_closure_runs_once_with_its_sends_result() {
    let (host, journal) = deployed();
    let session = host.connect("/").unwrap();
    host.text(&session, "closure 3");
    let pending = host.pending_sends(session.id());
    assert_eq!(pending.len(), 3);
    assert!(host.complete(&session, pending[1], Err(HostError::Timeout)));
    assert!(
        !host.complete(&session, pending[1], Ok(())),
        "completed already"
    );
    assert_eq!(host.complete_all(&session, Ok(())), 2);
    let id = session.id();
    assert_eq!(
        entries(&journal)[1..],
        [
            "sent closure Ok(true)".to_owned(),
            "sent closure Ok(true)".to_owned(),
            "sent closure Ok(true)".to_owned(),
            format!("done {id} c1 Err(Timeout)"),
            format!("done {id} c0 Ok(())"),
            format!("done {id} c2 Ok(())"),
        ]
    );
    assert_eq!(host.sent_texts(id), ["c0", "c1", "c2"]);
}

#[test]
fn pending_closures_run_with_closed_before_on_close_and_refused_sends_never() {
    let (host, journal) = deployed();
    let session = host.connect("/").unwrap();
    host.text(&session, "binary 2");
    host.fail_sends(Some(HostError::QueueFull));
    host.text(&session, "closure 1");
    host.fail_sends(None);
    host.close(&session, CloseCause::ConnectionLost);
    assert_eq!(
        entries(&journal)[1..],
        [
            "sent binary Ok(true)",
            "sent binary Ok(true)",
            "sent closure Err(QueueFull)",
            "done b0 Err(Closed)",
            "done b1 Err(Closed)",
            "close ConnectionLost after 0 token(s)",
        ]
    );
    assert_eq!(
        host.sent(session.id()),
        [Sent::Binary(vec![0]), Sent::Binary(vec![1])]
    );
}

#[test]
fn token_sends_complete_in_on_send_complete_with_the_state() {
    let (host, journal) = deployed();
    let session = host.connect("/").unwrap();
    host.text(&session, "token 2");
    assert_eq!(host.complete_all(&session, Ok(())), 2);
    host.close(&session, CloseCause::RemoteClose);
    let lines = entries(&journal);
    assert!(lines[3].starts_with("token 1 of ") && lines[4].starts_with("token 2 of "));
    assert_eq!(lines[5], "close RemoteClose after 2 token(s)");
}

#[test]
fn a_panicking_closure_is_reported_and_closes_the_session_with_1011() {
    let (host, _journal) = deployed();
    let session = host.connect("/").unwrap();
    host.text(&session, "panicky");
    host.complete_all(&session, Ok(()));
    let logs = host.logs();
    assert!(
        logs[0]
            .message
            .starts_with("plugin panicked in an async send's closure at ")
    );
    assert_eq!(logs[0].session, Some(session.id()));
    assert_eq!(host.close_info(session.id()).map(|i| i.code), Some(1011));
}

#[test]
fn deploy_and_undeploy_frame_every_session() {
    let (host, journal) = deployed();
    assert_eq!(entries(&journal), ["deploy"]);
    let a = host.connect("/").unwrap();
    let b = host.connect("/").unwrap();
    host.undeploy(UndeployReason::Redeploy);
    assert_eq!(
        entries(&journal),
        [
            "deploy",
            "close Redeploy after 0 token(s)",
            "close Redeploy after 0 token(s)",
            "undeploy Redeploy",
        ]
    );
    for session in [a, b] {
        assert_eq!(host.close_info(session.id()).map(|i| i.code), Some(1012));
        assert!(!session.is_open());
    }
}

#[test]
fn a_panicking_on_deploy_fails_the_deployment() {
    struct Fragile;
    impl Endpoint for Fragile {
        type State = ();
        fn on_deploy(&self) {
            panic!("no database");
        }
    }
    let failed = MockHost::builder()
        .endpoint("/", |_| Fragile)
        .build()
        .unwrap_err();
    let endpoint_api::mock::MockError::OnDeployPanicked(line) = failed else {
        panic!("an on_deploy panic: {failed:?}");
    };
    assert!(
        line.contains("on_deploy") && line.ends_with("no database"),
        "{line}"
    );
}

#[test]
fn session_logs_carry_the_session_and_context_logs_do_not() {
    struct Chatty;
    impl Endpoint for Chatty {
        type State = ();
        fn on_text(&self, session: &Session, _: &mut (), text: Text<'_>) {
            session.log(LogLevel::Warn, &text);
            session.context().log(LogLevel::Debug, "context-wide");
        }
    }
    let host = MockHost::builder()
        .endpoint("/", |_| Chatty)
        .build()
        .unwrap();
    let session = host.connect("/").unwrap();
    host.text(&session, "about me");
    let logs = host.logs();
    assert_eq!(
        (logs[0].session, logs[0].level),
        (Some(session.id()), LogLevel::Warn)
    );
    assert_eq!(logs[0].message, "about me");
    assert_eq!((logs[1].session, logs[1].level), (None, LogLevel::Debug));
}
