//! Incoming messages as callbacks receive them: [`Text`] and [`Binary`], which read as `&str`
//! and `&[u8]` and decode themselves into typed values on request; a decode failure is kept
//! in the callback's [`Failures`] for the instance to deliver to `on_error` afterwards. Why
//! decoding is per call rather than a `type Message`: the crate docs' "Typed messages".

use std::cell::RefCell;
use std::fmt;
use std::ops::Deref;
use std::str::FromStr;

use serde::Deserialize;

use crate::error::{ErrorKind, SessionError};

/// Decode failures of one callback, delivered to `on_error` after it returns.
#[derive(Debug, Default)]
pub(crate) struct Failures(RefCell<Vec<SessionError>>);

impl Failures {
    fn record(&self, message: String) {
        let error = SessionError {
            kind: ErrorKind::Decode,
            message,
        };
        self.0.borrow_mut().push(error);
    }

    pub(crate) fn take(&self) -> Vec<SessionError> {
        self.0.take()
    }
}

/// A whole text message. Reads as a `&str` (it derefs to one, and compares with one); decodes
/// on request with [`json`](Text::json) or [`parsed`](Text::parsed), a failure going to
/// `on_error` right after the callback (see [Typed messages](crate#typed-messages)).
///
/// ```
/// use endpoint_api::serde::Deserialize;
/// use endpoint_api::{Endpoint, Session, Text};
///
/// #[derive(Deserialize)]
/// #[serde(crate = "endpoint_api::serde")]
/// struct Move { x: u8, y: u8 }
///
/// struct Board;
///
/// impl Endpoint for Board {
///     type State = ();
///
///     fn on_text(&self, session: &Session, _: &mut (), text: Text<'_>) {
///         let Some(Move { x, y }) = text.json() else { return }; // on_error follows
///         let _ = session.send_text(&format!("moved to {x},{y}"));
///     }
/// }
/// ```
///
/// It reads like the `&str` it wraps:
///
/// ```
/// # use endpoint_api::{Endpoint, Session, Text};
/// # struct Shout;
/// # impl Endpoint for Shout {
/// #     type State = ();
/// fn on_text(&self, session: &Session, _: &mut (), text: Text<'_>) {
///     if text == "bye" || text.starts_with("quit") {
///         let _ = session.close(endpoint_api::CloseReason::normal());
///     } else {
///         let _ = session.send_text(&text.to_uppercase());
///     }
/// }
/// # }
/// ```
#[derive(Clone, Copy)]
pub struct Text<'a> {
    text: &'a str,
    failures: &'a Failures,
}

impl<'a> Text<'a> {
    pub(crate) fn new(text: &'a str, failures: &'a Failures) -> Text<'a> {
        Text { text, failures }
    }

    /// The message.
    pub fn as_str(&self) -> &'a str {
        self.text
    }

    /// The message as JSON decoded into `T` (borrowing from the message where `T` does).
    /// `None` when it does not decode; `on_error` then follows this callback.
    pub fn json<T: Deserialize<'a>>(&self) -> Option<T> {
        serde_json::from_str(self.text)
            .map_err(|err| {
                self.failures
                    .record(format!("text message is not the JSON expected: {err}"))
            })
            .ok()
    }

    /// The message parsed with `T`'s [`FromStr`] (e.g. a command such as `bid 5`). `None`
    /// when it does not parse; `on_error` then follows this callback with `T::Err`'s message.
    pub fn parsed<T>(&self) -> Option<T>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        self.text
            .parse()
            .map_err(|err| {
                self.failures
                    .record(format!("text message does not parse: {err}"))
            })
            .ok()
    }
}

impl Deref for Text<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        self.text
    }
}

impl AsRef<str> for Text<'_> {
    fn as_ref(&self) -> &str {
        self.text
    }
}

impl PartialEq<str> for Text<'_> {
    fn eq(&self, other: &str) -> bool {
        self.text == other
    }
}

impl PartialEq<&str> for Text<'_> {
    fn eq(&self, other: &&str) -> bool {
        self.text == *other
    }
}

impl fmt::Display for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text)
    }
}

impl fmt::Debug for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.text, f)
    }
}

/// A whole binary message. Reads as a `&[u8]` (it derefs to one); decodes JSON on request
/// with [`json`](Binary::json), a failure going to `on_error` as for [`Text`].
///
/// ```
/// # use endpoint_api::{Binary, Endpoint, Session};
/// # struct Sum;
/// # impl Endpoint for Sum {
/// #     type State = ();
/// fn on_binary(&self, session: &Session, _: &mut (), data: Binary<'_>) {
///     let total: u32 = data.iter().map(|&b| u32::from(b)).sum();
///     let _ = session.send_text(&total.to_string());
/// }
/// # }
/// ```
#[derive(Clone, Copy)]
pub struct Binary<'a> {
    data: &'a [u8],
    failures: &'a Failures,
}

impl<'a> Binary<'a> {
    pub(crate) fn new(data: &'a [u8], failures: &'a Failures) -> Binary<'a> {
        Binary { data, failures }
    }

    /// The message.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.data
    }

    /// The message as JSON (UTF-8) decoded into `T`. `None` when it does not decode;
    /// `on_error` then follows this callback.
    pub fn json<T: Deserialize<'a>>(&self) -> Option<T> {
        serde_json::from_slice(self.data)
            .map_err(|err| {
                self.failures
                    .record(format!("binary message is not the JSON expected: {err}"))
            })
            .ok()
    }
}

impl Deref for Binary<'_> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.data
    }
}

impl AsRef<[u8]> for Binary<'_> {
    fn as_ref(&self) -> &[u8] {
        self.data
    }
}

impl PartialEq<[u8]> for Binary<'_> {
    fn eq(&self, other: &[u8]) -> bool {
        self.data == other
    }
}

impl fmt::Debug for Binary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.data, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Deserialize)]
    struct Point<'a> {
        name: &'a str,
        x: i32,
    }

    #[test]
    fn decodes_or_records_one_failure_per_attempt() {
        let failures = Failures::default();
        let good = Text::new(r#"{"name":"a","x":1}"#, &failures);
        assert_eq!(good.json(), Some(Point { name: "a", x: 1 }));
        let bad = Text::new("{nope", &failures);
        assert_eq!(bad.json::<Point<'_>>(), None);
        assert_eq!(bad.parsed::<u32>(), None);
        assert_eq!(Text::new("42", &failures).parsed::<u32>(), Some(42));
        let recorded = failures.take();
        assert_eq!(recorded.len(), 2);
        assert!(recorded.iter().all(|e| e.kind == ErrorKind::Decode));
        assert!(
            recorded[1].message.contains("invalid digit"),
            "{recorded:?}"
        );
        assert!(failures.take().is_empty(), "taken once");
    }

    #[test]
    fn binary_decodes_json_and_reads_as_bytes() {
        let failures = Failures::default();
        let data = Binary::new(br#"[1,2]"#, &failures);
        assert_eq!(data.json::<Vec<u8>>(), Some(vec![1, 2]));
        assert_eq!(data.len(), 5);
        assert_eq!(Binary::new(&[0xff], &failures).json::<u8>(), None);
        assert_eq!(failures.take().len(), 1);
    }
}
