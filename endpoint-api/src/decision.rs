//! What [`Endpoint::on_handshake`](crate::Endpoint::on_handshake) decides: [`Accept`] (with a
//! subprotocol, response headers and initial user properties) or [`Refuse`] (an HTTP error
//! instead of the upgrade). Both become the ABI's [`Verdict`](crate::abi::verdict::Verdict).

use std::fmt;

use serde::Serialize;

use crate::abi::verdict::{Acceptance, MAX_BODY_BYTES, Refusal, Verdict};
use crate::close::truncated_len;
use crate::error::PropertyError;

/// An accepted handshake: the host answers 101 and opens the session, with these additions.
///
/// ```
/// use endpoint_api::Accept;
///
/// let accept = Accept::new()
///     .with_subprotocol("chat.v2")
///     .with_header("Set-Cookie", "seen=1; HttpOnly")
///     .with_property("user", "ann")
///     .unwrap();
/// assert_eq!(accept.subprotocol(), Some("chat.v2"));
/// assert_eq!(accept.headers(), [("Set-Cookie".to_owned(), "seen=1; HttpOnly".to_owned())]);
/// assert_eq!(accept.property("user"), Some(&endpoint_api::json::json!("ann")));
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Accept {
    inner: Acceptance,
}

impl Accept {
    /// Accept as the host would on its own (its choice of subprotocol, no extra headers).
    pub fn new() -> Accept {
        Accept::default()
    }

    /// Answer with this subprotocol. It must be one the client offered
    /// ([`Handshake::offered_subprotocols`](crate::Handshake::offered_subprotocols)); the
    /// host answers 500 (the endpoint's fault, logged) otherwise.
    pub fn with_subprotocol(mut self, subprotocol: impl Into<String>) -> Accept {
        self.inner.subprotocol = Some(subprotocol.into());
        self
    }

    /// Adds a header to the 101 answer (e.g. `Set-Cookie`). Names and values must be valid
    /// HTTP; the host answers 500 otherwise.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Accept {
        self.inner.headers.push((name.into(), value.into()));
        self
    }

    /// Adds a user property the session starts with, serialized to JSON; it is readable in
    /// `on_open` and later with [`Session::get`](crate::Session::get). Fails only when `value`
    /// does not serialize (a map with non-string keys, a failing `Serialize` impl); with `?`
    /// in `on_handshake` that answers 500 (see `From<PropertyError> for Refuse`).
    pub fn with_property<T: Serialize + ?Sized>(
        mut self,
        key: &str,
        value: &T,
    ) -> Result<Accept, PropertyError> {
        let value = serde_json::to_value(value).map_err(|err| PropertyError::Encode {
            key: key.to_owned(),
            message: err.to_string(),
        })?;
        self.inner.properties.insert(key.to_owned(), value);
        Ok(self)
    }

    /// The subprotocol to answer with, if chosen.
    pub fn subprotocol(&self) -> Option<&str> {
        self.inner.subprotocol.as_deref()
    }

    /// The extra response headers, in order.
    pub fn headers(&self) -> &[(String, String)] {
        &self.inner.headers
    }

    /// An initial user property, as JSON.
    pub fn property(&self, key: &str) -> Option<&serde_json::Value> {
        self.inner.properties.get(key)
    }

    /// Whether this adds nothing to the host's own answer.
    pub fn is_plain(&self) -> bool {
        self.inner == Acceptance::default()
    }

    pub(crate) fn into_acceptance(self) -> Acceptance {
        self.inner
    }
}

/// A refused handshake: the host answers this HTTP error instead of 101, and no session is
/// opened (no `on_open`, no `on_close`).
///
/// ```
/// use endpoint_api::Refuse;
///
/// let refuse = Refuse::unauthorized()
///     .with_header("WWW-Authenticate", "Bearer realm=\"auction\"")
///     .with_body("a bearer token is required");
/// assert_eq!(refuse.status(), 401);
/// assert_eq!(refuse.body(), "a bearer token is required");
/// assert_eq!(Refuse::new(418).map(|r| r.status()), Ok(418));
/// assert!(Refuse::new(302).is_err(), "only 400-599");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Refuse {
    inner: Refusal,
}

impl Refuse {
    /// A refusal with any status from 400 to 599.
    pub fn new(status: u16) -> Result<Refuse, StatusCodeError> {
        if !(400..=599).contains(&status) {
            return Err(StatusCodeError(status));
        }
        Ok(Refuse::with_status(status))
    }

    const fn with_status(status: u16) -> Refuse {
        Refuse {
            inner: Refusal {
                status,
                headers: Vec::new(),
                body: String::new(),
            },
        }
    }

    /// 400 Bad Request: the request lacks or garbles something the endpoint needs.
    pub const fn bad_request() -> Refuse {
        Refuse::with_status(400)
    }

    /// 401 Unauthorized: no valid credentials. Add a `WWW-Authenticate` header saying which
    /// ones (HTTP requires it).
    pub const fn unauthorized() -> Refuse {
        Refuse::with_status(401)
    }

    /// 403 Forbidden: the client is known, or needs no credentials, but may not connect.
    pub const fn forbidden() -> Refuse {
        Refuse::with_status(403)
    }

    /// 404 Not Found: the addressed thing (a room, an item) does not exist.
    pub const fn not_found() -> Refuse {
        Refuse::with_status(404)
    }

    /// 409 Conflict: e.g. the name is already connected.
    pub const fn conflict() -> Refuse {
        Refuse::with_status(409)
    }

    /// 429 Too Many Requests: the client should come back later (add `Retry-After`).
    pub const fn too_many_requests() -> Refuse {
        Refuse::with_status(429)
    }

    /// 500 Internal Server Error: the endpoint failed to decide.
    pub const fn internal_error() -> Refuse {
        Refuse::with_status(500)
    }

    /// 503 Service Unavailable: the endpoint cannot take sessions now (add `Retry-After`).
    pub const fn service_unavailable() -> Refuse {
        Refuse::with_status(503)
    }

    /// Adds a header to the answer (e.g. `WWW-Authenticate`, `Retry-After`). Names and values
    /// must be valid HTTP; the host answers 500 otherwise.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Refuse {
        self.inner.headers.push((name.into(), value.into()));
        self
    }

    /// Sets a short text body, cut to [`MAX_BODY_BYTES`] on a character boundary.
    pub fn with_body(mut self, body: impl Into<String>) -> Refuse {
        let mut body = body.into();
        body.truncate(truncated_len(&body, MAX_BODY_BYTES));
        self.inner.body = body;
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.inner.status
    }

    /// The headers of the answer, in order.
    pub fn headers(&self) -> &[(String, String)] {
        &self.inner.headers
    }

    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let mut headers = self.inner.headers.iter();
        let found = headers.find(|(key, _)| key.eq_ignore_ascii_case(name));
        found.map(|(_, value)| value.as_str())
    }

    /// The body (possibly empty).
    pub fn body(&self) -> &str {
        &self.inner.body
    }

    pub(crate) fn into_refusal(self) -> Refusal {
        self.inner
    }
}

/// A property that does not serialize cannot start the session: the endpoint failed, 500.
impl From<PropertyError> for Refuse {
    fn from(_: PropertyError) -> Refuse {
        Refuse::internal_error()
    }
}

/// The verdict the SDK writes for the host; `None` for a plain acceptance (writing nothing
/// accepts unchanged, and spares the host a parse).
pub(crate) fn verdict(decision: Result<Accept, Refuse>) -> Option<Verdict> {
    match decision {
        Ok(accept) if accept.is_plain() => None,
        Ok(accept) => Some(Verdict::Accept(accept.into_acceptance())),
        Err(refuse) => Some(Verdict::Refuse(refuse.into_refusal())),
    }
}

/// An HTTP status a refusal may not carry (only 400–599 may).
///
/// ```
/// use endpoint_api::Refuse;
///
/// assert_eq!(Refuse::new(200).unwrap_err().status(), 200);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatusCodeError(u16);

impl StatusCodeError {
    /// The rejected status.
    pub fn status(self) -> u16 {
        self.0
    }
}

impl fmt::Display for StatusCodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "HTTP status {} cannot refuse a handshake (400-599 can)",
            self.0
        )
    }
}

impl std::error::Error for StatusCodeError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_are_written_only_when_they_say_something() {
        assert_eq!(verdict(Ok(Accept::new())), None);
        let json = serde_json::to_string(&verdict(Err(Refuse::forbidden().with_body("no"))))
            .expect("serializes");
        assert_eq!(json, r#"{"refuse":{"status":403,"body":"no"}}"#);
        let accept = Accept::new().with_property("n", &3).expect("a number");
        let json = serde_json::to_string(&verdict(Ok(accept))).expect("serializes");
        assert_eq!(json, r#"{"accept":{"properties":{"n":3}}}"#);
    }

    #[test]
    fn statuses_and_bodies_are_bounded() {
        for status in [0, 200, 399, 600, u16::MAX] {
            assert_eq!(Refuse::new(status), Err(StatusCodeError(status)));
        }
        let body = "é".repeat(MAX_BODY_BYTES);
        assert_eq!(
            Refuse::forbidden().with_body(body).body().len(),
            MAX_BODY_BYTES
        );
        let body = format!("x{}", "é".repeat(MAX_BODY_BYTES / 2));
        assert_eq!(
            Refuse::forbidden().with_body(body).body().len(),
            MAX_BODY_BYTES - 1
        );
    }

    #[test]
    fn a_property_that_does_not_serialize_refuses_with_500() {
        let bad: std::collections::HashMap<(u8, u8), u8> = [((1, 2), 3)].into();
        let error = Accept::new().with_property("bad", &bad).unwrap_err();
        assert_eq!(Refuse::from(error).status(), 500);
    }
}
