//! The verdict `on_handshake` writes (ABI 1.2): one JSON document, the same types on both
//! sides of the boundary (the host deserializes what the SDK serialized).
//!
//! ```json
//! {"accept": {"subprotocol": "chat.v1", "headers": [["Set-Cookie", "a=b"]],
//!             "properties": {"user": "ann"}}}
//! {"refuse": {"status": 403, "headers": [["WWW-Authenticate", "Bearer"]], "body": "no token"}}
//! ```
//!
//! Every field but the variant's name is optional. The host checks what it is given: a
//! refusal's status must be 400–599, header names and values must be valid HTTP, the body is
//! cut to [`MAX_BODY_BYTES`], an accepted subprotocol must be one the client offered; a
//! verdict that breaks a rule is the plugin's fault and answered 500 (and logged). Unknown
//! fields are ignored, so later minors may add some.

use serde::{Deserialize, Serialize};

/// The longest refusal body the host sends; longer bodies are cut on a character boundary.
pub const MAX_BODY_BYTES: usize = 4096;

/// What the endpoint decided about a handshake.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Answer 101 and open the session.
    Accept(Acceptance),
    /// Answer with an HTTP error instead; no session is opened.
    Refuse(Refusal),
}

/// An accepted handshake's additions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Acceptance {
    /// The subprotocol to answer with (one the client offered), instead of the host's choice
    /// among the endpoint's declared ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subprotocol: Option<String>,
    /// Extra headers of the 101 answer, such as `Set-Cookie`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<(String, String)>,
    /// User properties the session starts with (JSON values), beside the host's own.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub properties: serde_json::Map<String, serde_json::Value>,
}

/// A refused handshake's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Refusal {
    /// The HTTP status, 400–599.
    pub status: u16,
    /// Headers of the answer, such as `WWW-Authenticate`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<(String, String)>,
    /// A short text body (at most [`MAX_BODY_BYTES`]).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub body: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_read_as_documented() {
        let refuse: Verdict = serde_json::from_str(
            r#"{"refuse": {"status": 403, "headers": [["WWW-Authenticate", "Bearer"]], "body": "no token"}}"#,
        )
        .expect("a refusal");
        assert_eq!(
            refuse,
            Verdict::Refuse(Refusal {
                status: 403,
                headers: vec![("WWW-Authenticate".into(), "Bearer".into())],
                body: "no token".into(),
            })
        );
        let accept: Verdict =
            serde_json::from_str(r#"{"accept": {"properties": {"user": "ann"}, "later": 1}}"#)
                .expect("an acceptance, unknown fields ignored");
        let Verdict::Accept(acceptance) = accept else {
            panic!("accept");
        };
        assert_eq!(acceptance.properties["user"], "ann");
        assert_eq!(acceptance.subprotocol, None);
        let round = serde_json::to_string(&Verdict::Accept(Acceptance::default())).expect("json");
        assert_eq!(round, r#"{"accept":{}}"#);
    }
}
