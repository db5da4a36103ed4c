//! The shield around plugin code: catches panics, and reports each one once, structured,
//! through the host's `log` (with the context, and the session when there is one).
//!
//! # The panic hook
//! Rust prints every panic to stderr through the process-wide panic hook before unwinding
//! starts; the SDK's own report would come on top of it. So the first shield installs a hook,
//! once, that chains to the hook it replaces: while the panicking thread is inside a shield
//! (a thread-local depth counter), the hook only notes the message and the location for the
//! shield to report; anywhere else (the host's own code, a thread the plugin started) it
//! calls the previous hook, so those panics print exactly as before.
//!
//! A panic that plugin code catches itself (its own `catch_unwind` inside a callback) is
//! reported too, as a warning, when the callback returns: the hook stayed silent for it.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe, PanicHookInfo, catch_unwind};
use std::sync::Once;

use crate::host::{Host, LogLevel};
use crate::id::SessionId;

/// How many panics one shield remembers (a callback that catches panics in a loop must not
/// grow this without bound); the rest are only counted.
const REMEMBERED: usize = 8;

thread_local! {
    /// How many shields this thread is inside.
    static DEPTH: Cell<usize> = const { Cell::new(0) };
    /// What the hook noted while inside a shield.
    static NOTED: RefCell<Noted> = const { RefCell::new(Noted { panics: Vec::new(), more: 0 }) };
}

/// Panics the hook saw on this thread inside shields, not yet reported.
struct Noted {
    panics: Vec<Panic>,
    more: usize,
}

/// One panic as the hook saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Panic {
    message: String,
    location: Option<String>,
}

/// Where a shielded body runs: for the report.
#[derive(Clone, Copy)]
pub(crate) struct Scope<'a> {
    pub(crate) host: &'a dyn Host,
    pub(crate) session: Option<SessionId>,
    /// The plugin code that runs, e.g. `on_text` or `an endpoint factory`.
    pub(crate) what: &'a str,
}

/// Runs `body`, catching a panic; `None` if it panicked. Every panic inside is reported
/// through the host once.
pub(crate) fn shielded<R>(scope: Scope<'_>, body: impl FnOnce() -> R) -> Option<R> {
    install_hook();
    let outcome = {
        let _inside = Inside::enter();
        catch_unwind(AssertUnwindSafe(body))
    };
    let noted = take_noted();
    match outcome {
        Ok(value) => {
            report_caught_inside(scope, noted);
            Some(value)
        }
        Err(payload) => {
            report_escaped(scope, noted, payload);
            None
        }
    }
}

/// Marks this thread as inside a shield while it lives (also while unwinding).
struct Inside;

impl Inside {
    fn enter() -> Inside {
        DEPTH.with(|depth| depth.set(depth.get() + 1));
        Inside
    }
}

impl Drop for Inside {
    fn drop(&mut self) {
        DEPTH.with(|depth| depth.set(depth.get().saturating_sub(1)));
    }
}

fn is_inside() -> bool {
    DEPTH.with(Cell::get) > 0
}

/// Installs the chaining hook, once per process (per copy of `std`).
fn install_hook() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if is_inside() {
                note(info);
            } else {
                previous(info);
            }
        }));
    });
}

/// Notes a panic for the shield; must not panic (a panic in a hook aborts).
fn note(info: &PanicHookInfo<'_>) {
    let payload = info.payload();
    let message = payload_text(payload);
    let location = info.location().map(ToString::to_string);
    let _ = NOTED.try_with(|noted| {
        let Ok(mut noted) = noted.try_borrow_mut() else {
            return;
        };
        if noted.panics.len() < REMEMBERED {
            let message = message.to_owned();
            noted.panics.push(Panic { message, location });
        } else {
            noted.more += 1;
        }
    });
}

fn take_noted() -> Noted {
    let empty = || Noted {
        panics: Vec::new(),
        more: 0,
    };
    NOTED
        .try_with(|noted| {
            noted
                .try_borrow_mut()
                .map(|mut n| std::mem::replace(&mut *n, empty()))
        })
        .ok()
        .and_then(Result::ok)
        .unwrap_or_else(empty)
}

/// The panic that ended the body: the last one noted (a panic while unwinding from another
/// aborts, so the last is the one that escaped), or the payload alone.
fn report_escaped(scope: Scope<'_>, mut noted: Noted, payload: Box<dyn Any + Send>) {
    let escaped = noted.panics.pop().unwrap_or_else(|| Panic {
        message: payload_text(&*payload).to_owned(),
        location: None,
    });
    log(scope, LogLevel::Error, &describe(scope.what, &escaped, ""));
    report_caught_inside(scope, noted);
    // Dropping a payload can itself panic; that must not unwind into the host either.
    let _inside = Inside::enter();
    let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
    let _ = take_noted();
}

fn report_caught_inside(scope: Scope<'_>, noted: Noted) {
    for caught in &noted.panics {
        let line = describe(scope.what, caught, " (caught inside the plugin)");
        log(scope, LogLevel::Warn, &line);
    }
    if noted.more > 0 {
        let line = format!(
            "plugin panicked {} more time(s) in {}",
            noted.more, scope.what
        );
        log(scope, LogLevel::Warn, &line);
    }
}

fn describe(what: &str, panic: &Panic, note: &str) -> String {
    match &panic.location {
        Some(at) => format!("plugin panicked in {what} at {at}{note}: {}", panic.message),
        None => format!("plugin panicked in {what}{note}: {}", panic.message),
    }
}

/// Logs through the host; a host whose `log` panics is not asked twice.
fn log(scope: Scope<'_>, level: LogLevel, line: &str) {
    let _inside = Inside::enter();
    let _ = catch_unwind(AssertUnwindSafe(|| {
        scope.host.log(scope.session, level, line)
    }));
    drop(_inside);
    let _ = take_noted();
}

fn payload_text(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(a non-string panic payload)")
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::close::CloseReason;
    use crate::error::{HostError, SendError};
    use crate::host::{MessageKind, SendMode};
    use crate::id::EndpointId;

    /// A host that records logs only.
    #[derive(Default)]
    struct Logs(Mutex<Vec<(Option<SessionId>, LogLevel, String)>>);

    impl Logs {
        fn lines(&self) -> Vec<(Option<SessionId>, LogLevel, String)> {
            self.0.lock().unwrap().clone()
        }
    }

    impl Host for Logs {
        fn send(
            &self,
            _: SessionId,
            _: MessageKind,
            _: &[u8],
            _: SendMode,
        ) -> Result<(), SendError> {
            Err(HostError::Unsupported)
        }
        fn send_many(&self, _: &[SessionId], _: MessageKind, _: &[u8]) -> Result<(), SendError> {
            Err(HostError::Unsupported)
        }
        fn close(&self, _: SessionId, _: &CloseReason) -> Result<(), HostError> {
            Err(HostError::Unsupported)
        }
        fn property_get(&self, _: SessionId, _: &str) -> Result<Option<String>, HostError> {
            Err(HostError::Unsupported)
        }
        fn property_set(&self, _: SessionId, _: &str, _: &str) -> Result<(), HostError> {
            Err(HostError::Unsupported)
        }
        fn property_remove(&self, _: SessionId, _: &str) -> Result<bool, HostError> {
            Err(HostError::Unsupported)
        }
        fn property_keys(&self, _: SessionId) -> Result<Vec<String>, HostError> {
            Err(HostError::Unsupported)
        }
        fn set_idle_timeout(
            &self,
            _: SessionId,
            _: Option<std::time::Duration>,
        ) -> Result<(), HostError> {
            Err(HostError::Unsupported)
        }
        fn set_batching(&self, _: SessionId, _: bool) -> Result<(), HostError> {
            Err(HostError::Unsupported)
        }
        fn flush(&self, _: SessionId) -> Result<(), HostError> {
            Err(HostError::Unsupported)
        }
        fn endpoint_sessions(&self, _: EndpointId) -> Result<Vec<SessionId>, HostError> {
            Err(HostError::Unsupported)
        }
        fn log(&self, session: Option<SessionId>, level: LogLevel, message: &str) {
            if message.contains("log panics") {
                panic!("the host's log failed");
            }
            self.0
                .lock()
                .unwrap()
                .push((session, level, message.to_owned()));
        }
    }

    fn scope<'a>(host: &'a Logs, what: &'a str) -> Scope<'a> {
        Scope {
            host,
            session: Some(SessionId::from_raw(9)),
            what,
        }
    }

    #[test]
    fn an_escaping_panic_is_reported_once_with_its_location() {
        let host = Logs::default();
        let line = line!() + 1;
        let result: Option<()> = shielded(scope(&host, "on_text"), || panic!("boom {}", 7));
        assert_eq!(result, None);
        let logs = host.lines();
        assert_eq!(logs.len(), 1, "{logs:?}");
        let (session, level, text) = &logs[0];
        assert_eq!(
            (*session, *level),
            (Some(SessionId::from_raw(9)), LogLevel::Error)
        );
        let at = format!("plugin panicked in on_text at {}:{line}:", file!());
        assert!(
            text.starts_with(&at) && text.ends_with(": boom 7"),
            "{text}"
        );
        assert!(!is_inside(), "the depth is restored after unwinding");
    }

    #[test]
    fn a_panic_caught_by_plugin_code_is_reported_as_a_warning() {
        let host = Logs::default();
        let value = shielded(scope(&host, "on_open"), || {
            let caught = catch_unwind(|| panic!("inner"));
            caught.is_err()
        });
        assert_eq!(value, Some(true));
        let logs = host.lines();
        assert_eq!(logs.len(), 1, "{logs:?}");
        assert_eq!(logs[0].1, LogLevel::Warn);
        assert!(
            logs[0].2.contains("(caught inside the plugin): inner"),
            "{logs:?}"
        );
    }

    #[test]
    fn many_caught_panics_are_counted_not_kept() {
        let host = Logs::default();
        shielded(scope(&host, "on_text"), || {
            for _ in 0..20 {
                let _ = catch_unwind(|| panic!("again"));
            }
        });
        let logs = host.lines();
        assert_eq!(logs.len(), REMEMBERED + 1);
        assert!(logs[REMEMBERED].2.contains("12 more time(s)"), "{logs:?}");
    }

    #[test]
    fn a_host_whose_log_panics_does_not_unwind_out() {
        let host = Logs::default();
        let result: Option<()> = shielded(scope(&host, "log panics"), || panic!("first"));
        assert_eq!(result, None);
        assert!(host.lines().is_empty());
        assert!(!is_inside());
    }
}
