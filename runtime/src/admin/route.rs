//! Which API call a request is: its method and path in, a [`Route`] out. Pure.
//!
//! Paths are matched segment by segment before percent-decoding, so an encoded `/` stays
//! inside a context name (and then names no context); names are decoded afterwards, so a
//! directory such as `foo#bar` is reached as `/contexts/foo%23bar`. One trailing `/` is
//! ignored and the query is never read.

use hyper::Method;

/// What a context action asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Redeploy,
    Undeploy,
    Deploy,
}

impl Action {
    fn from_segment(segment: &str) -> Option<Action> {
        match segment {
            "redeploy" => Some(Action::Redeploy),
            "undeploy" => Some(Action::Undeploy),
            "deploy" => Some(Action::Deploy),
            _ => None,
        }
    }
}

/// The `Allow` header of the read-only resources.
pub(crate) const ALLOW_READ: &str = "GET, HEAD";

/// The `Allow` header of the actions.
pub(crate) const ALLOW_ACTION: &str = "POST";

/// What a request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    /// `GET /contexts`.
    List,
    /// `GET /contexts/{name}`.
    Show(String),
    /// `POST /contexts/{name}/{action}`.
    Act(String, Action),
    /// A known resource with another method; `Allow` lists the right ones.
    WrongMethod { allow: &'static str },
    /// Nothing lives at this path.
    NotFound,
}

/// The route of a request for `path` (without its query) with `method`.
pub(crate) fn route(method: &Method, path: &str) -> Route {
    let path = match path.strip_suffix('/') {
        Some(trimmed) if !trimmed.is_empty() => trimmed,
        _ => path,
    };
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let reads = *method == Method::GET || *method == Method::HEAD;
    let (resource, allow) = match segments.as_slice() {
        ["contexts"] => (Some(Route::List), ALLOW_READ),
        ["contexts", name] => (decode(name).map(Route::Show), ALLOW_READ),
        ["contexts", name, action] => {
            let act = Action::from_segment(action);
            let route = act.and_then(|act| Some(Route::Act(decode(name)?, act)));
            (route, ALLOW_ACTION)
        }
        _ => (None, ALLOW_READ),
    };
    let allowed = match &resource {
        Some(Route::Act(..)) => *method == Method::POST,
        _ => reads,
    };
    match resource {
        None => Route::NotFound,
        Some(route) if allowed => route,
        Some(_) => Route::WrongMethod { allow },
    }
}

/// A path segment with its `%XX` escapes decoded; `None` when empty, malformed or not UTF-8.
fn decode(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] == b'%' {
            let hex = segment.get(at + 1..at + 3)?;
            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            decoded.push(u8::from_str_radix(hex, 16).ok()?);
            at += 3;
        } else {
            decoded.push(bytes[at]);
            at += 1;
        }
    }
    String::from_utf8(decoded).ok().filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str) -> Route {
        route(&Method::GET, path)
    }

    fn post(path: &str) -> Route {
        route(&Method::POST, path)
    }

    #[test]
    fn the_api_routes() {
        assert_eq!(get("/contexts"), Route::List);
        assert_eq!(get("/contexts/"), Route::List);
        assert_eq!(route(&Method::HEAD, "/contexts"), Route::List);
        assert_eq!(get("/contexts/echo"), Route::Show("echo".into()));
        assert_eq!(get("/contexts/echo/"), Route::Show("echo".into()));
        let act = |name: &str, action| Route::Act(name.into(), action);
        assert_eq!(
            post("/contexts/echo/redeploy"),
            act("echo", Action::Redeploy)
        );
        assert_eq!(
            post("/contexts/echo/undeploy"),
            act("echo", Action::Undeploy)
        );
        assert_eq!(post("/contexts/echo/deploy"), act("echo", Action::Deploy));
    }

    #[test]
    fn a_wrong_method_names_the_allowed_ones() {
        let read = Route::WrongMethod { allow: ALLOW_READ };
        let action = Route::WrongMethod {
            allow: ALLOW_ACTION,
        };
        assert_eq!(post("/contexts"), read);
        assert_eq!(route(&Method::DELETE, "/contexts/echo"), read);
        assert_eq!(get("/contexts/echo/redeploy"), action);
        assert_eq!(route(&Method::PUT, "/contexts/echo/deploy"), action);
    }

    #[test]
    fn anything_else_is_not_found() {
        for path in [
            "/",
            "",
            "/context",
            "/contexts/echo/restart",
            "/contexts//deploy",
            "/contexts/echo/deploy/now",
            "/metrics",
            "/contexts/%zz",
            "/contexts/%ff",
            "/contexts/%+5",
        ] {
            assert_eq!(get(path), Route::NotFound, "GET {path}");
            assert_eq!(post(path), Route::NotFound, "POST {path}");
        }
    }

    #[test]
    fn names_are_percent_decoded_after_the_split() {
        assert_eq!(get("/contexts/foo%23bar"), Route::Show("foo#bar".into()));
        assert_eq!(get("/contexts/a%2Fb"), Route::Show("a/b".into()));
        assert_eq!(get("/contexts/caf%C3%A9"), Route::Show("café".into()));
        assert_eq!(get("/contexts/50%"), Route::NotFound);
    }
}
