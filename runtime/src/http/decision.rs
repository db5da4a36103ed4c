//! The endpoint's say over a handshake (its `on_handshake`), between admission and the 101.
//!
//! The callback runs on the context's pool, never on an I/O thread, and the listener waits
//! for it at most the context's blocking-send timeout (10 s when sends never time out). An
//! endpoint without the callback (an older plugin) costs nothing: no trip to the pool.
//!
//! What the endpoint says is checked here, since it becomes HTTP: a refusal's status must be
//! 400–599 and its headers valid, an acceptance's headers valid and its subprotocol one the
//! client offered. A verdict that breaks a rule, a callback that failed or panicked, answers
//! 500 and is logged with the context; a pool that cannot take the callback, or a callback
//! still running at the deadline, answers 503.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Response, StatusCode};

use super::handshake::Refusal;
use crate::context::Context;
use crate::session::{Acceptance, Decision, Opening};

/// How long a handshake waits for the endpoint when its sends never time out.
const FALLBACK_BOUND: Duration = Duration::from_secs(10);

const FAILED: Refusal = Refusal {
    status: StatusCode::INTERNAL_SERVER_ERROR,
    reason: "the endpoint failed to decide the handshake",
};

const BUSY: Refusal = Refusal {
    status: StatusCode::SERVICE_UNAVAILABLE,
    reason: "the endpoint could not decide the handshake in time",
};

/// What the endpoint decided, once checked: the additions of an acceptance, or the answer
/// to send instead of the 101.
#[derive(Debug)]
pub(super) enum Ruling {
    Accept(Acceptance),
    Answer(Response<Full<Bytes>>),
}

/// Asks the endpoint about `opening` on the context's pool and checks its answer against
/// the client's `offered` subprotocols; the opening comes back with the ruling.
pub(super) async fn decide(
    context: &Context,
    opening: Opening,
    offered: &[&str],
) -> Result<(Opening, Ruling), Refusal> {
    let hub = context.hub();
    if !hub.callbacks().is_some_and(|c| c.decides_handshakes()) {
        return Ok((opening, Ruling::Accept(Acceptance::default())));
    }
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let task_hub = std::sync::Arc::clone(hub);
    let task = Box::new(move || {
        let decision = task_hub
            .callbacks()
            .map(|c| c.on_handshake(opening.endpoint, &opening));
        let _ = sender.send((opening, decision));
    });
    if hub.executor().try_submit(task).is_err() {
        return Err(BUSY);
    }
    let bound = hub.settings().send.blocking.unwrap_or(FALLBACK_BOUND);
    match tokio::time::timeout(bound, receiver).await {
        Ok(Ok((opening, decision))) => Ok((opening, rule(context, decision, offered)?)),
        Ok(Err(_)) | Err(_) => {
            tracing::warn!(context = %hub.name(), ?bound, "on_handshake did not answer in time; 503");
            Err(BUSY)
        }
    }
}

fn rule(
    context: &Context,
    decision: Option<Decision>,
    offered: &[&str],
) -> Result<Ruling, Refusal> {
    let checked = match decision.unwrap_or(Decision::Failed("no endpoint".into())) {
        Decision::Accept(acceptance) => accept(acceptance, offered).map(Ruling::Accept),
        Decision::Refuse {
            status,
            headers,
            body,
        } => refusal(status, &headers, body).map(Ruling::Answer),
        Decision::Failed(why) => Err(why),
    };
    checked.map_err(|why| {
        tracing::error!(context = %context.hub().name(), "on_handshake: {why}; 500");
        FAILED
    })
}

fn accept(acceptance: Acceptance, offered: &[&str]) -> Result<Acceptance, String> {
    if let Some(chosen) = &acceptance.subprotocol {
        if !offered.contains(&chosen.as_str()) {
            return Err(format!(
                "it chose the subprotocol {chosen:?}, which the client did not offer"
            ));
        }
    }
    header_map(&acceptance.headers)?;
    Ok(acceptance)
}

/// The answer for an endpoint's refusal.
fn refusal(
    status: u16,
    headers: &[(String, String)],
    body: String,
) -> Result<Response<Full<Bytes>>, String> {
    let status = StatusCode::from_u16(status)
        .ok()
        .filter(|s| s.is_client_error() || s.is_server_error())
        .ok_or_else(|| format!("it refused with status {status}, not 400-599"))?;
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let answer = response.headers_mut();
    answer.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    for (name, value) in header_map(headers)? {
        if let Some(name) = name {
            answer.append(name, value);
        }
    }
    Ok(response)
}

/// Headers an endpoint gave, as HTTP headers; an invalid name or value is the endpoint's bug.
pub(super) fn header_map(headers: &[(String, String)]) -> Result<HeaderMap, String> {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        let name = HeaderName::try_from(name.as_str())
            .map_err(|_| format!("it gave an invalid header name {name:?}"))?;
        let value = HeaderValue::try_from(value.as_str())
            .map_err(|_| format!("it gave an invalid value for the header {name}"))?;
        map.append(name, value);
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_refusal_becomes_its_status_headers_and_body() {
        let headers = pairs(&[("WWW-Authenticate", "Bearer"), ("x-why", "no token")]);
        let response = refusal(401, &headers, "log in first".into()).expect("valid");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        assert_eq!(response.headers()["x-why"], "no token");
    }

    #[test]
    fn a_refusal_outside_400_599_or_with_a_bad_header_is_the_endpoints_bug() {
        for status in [101, 200, 302, 399, 600, 1000] {
            assert!(refusal(status, &[], String::new()).is_err(), "{status}");
        }
        assert!(refusal(403, &pairs(&[("bad name", "x")]), String::new()).is_err());
        assert!(refusal(403, &pairs(&[("x", "line\nbreak")]), String::new()).is_err());
    }

    #[test]
    fn an_acceptance_may_choose_only_an_offered_subprotocol() {
        let chosen = |name: &str| Acceptance {
            subprotocol: Some(name.to_owned()),
            ..Acceptance::default()
        };
        assert!(accept(chosen("v2"), &["v1", "v2"]).is_ok());
        assert!(accept(chosen("v3"), &["v1", "v2"]).is_err());
        let cookie = Acceptance {
            headers: pairs(&[("Set-Cookie", "a=b")]),
            ..Acceptance::default()
        };
        assert!(accept(cookie, &[]).is_ok());
    }
}
