//! Routing a request path to a context and one of its endpoints.
//!
//! Contexts are matched by the longest context path that is the request path or a prefix of
//! it ending at a `/` (so `/chat` serves `/chat` and `/chat/rooms/a`, never `/chatter`); the
//! root context `/` matches everything else. The rest of the path (`/` when empty) is matched
//! against the context's endpoint templates with `matchit`, which yields path parameters.
//! This module is pure data: no I/O, no knowledge of what a context is.

use std::sync::Arc;

/// An endpoint template table for one context.
#[derive(Debug)]
pub(crate) struct EndpointRouter {
    router: matchit::Router<usize>,
}

/// A matched endpoint: its index in the context and the path parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EndpointMatch {
    pub(crate) endpoint: usize,
    pub(crate) params: Vec<(String, String)>,
}

/// Why a template could not be registered.
#[derive(Debug, thiserror::Error)]
#[error("endpoint path template {template:?}: {source}")]
pub(crate) struct TemplateError {
    template: String,
    source: matchit::InsertError,
}

impl EndpointRouter {
    /// Builds a router from templates such as `/` and `/rooms/{room}`; the index of each
    /// template is what a match returns.
    pub(crate) fn new<'a>(
        templates: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, TemplateError> {
        let mut router = matchit::Router::new();
        for (index, template) in templates.into_iter().enumerate() {
            router
                .insert(template, index)
                .map_err(|source| TemplateError {
                    template: template.to_owned(),
                    source,
                })?;
        }
        Ok(EndpointRouter { router })
    }

    /// Matches the path below the context (`/` when empty).
    pub(crate) fn find(&self, rest: &str) -> Option<EndpointMatch> {
        let rest = if rest.is_empty() { "/" } else { rest };
        let found = self.router.at(rest).ok()?;
        let params = found
            .params
            .iter()
            .map(|(k, v)| (k.to_owned(), percent_decode(v)))
            .collect();
        Some(EndpointMatch {
            endpoint: *found.value,
            params,
        })
    }
}

/// Every deployed context by context path, longest first.
#[derive(Debug)]
pub(crate) struct ContextTable<C> {
    contexts: Vec<(String, Arc<C>)>,
}

impl<C> Default for ContextTable<C> {
    fn default() -> Self {
        ContextTable {
            contexts: Vec::new(),
        }
    }
}

impl<C> ContextTable<C> {
    /// A table of `(context path, context)` pairs; paths are unique (the scanner ensures it).
    pub(crate) fn new(mut contexts: Vec<(String, Arc<C>)>) -> Self {
        contexts.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        ContextTable { contexts }
    }

    /// The context serving `path` and the rest of the path below it.
    pub(crate) fn find<'p>(&self, path: &'p str) -> Option<(&Arc<C>, &'p str)> {
        self.contexts.iter().find_map(|(prefix, context)| {
            let rest = strip_context(path, prefix)?;
            Some((context, rest))
        })
    }

    /// Every context with its path.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &(String, Arc<C>)> {
        self.contexts.iter()
    }
}

/// Decodes `%XX` escapes (lossy UTF-8); a malformed escape is kept as written.
pub(crate) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                decoded.push(byte);
                i += 3;
            }
            (byte, _) => {
                decoded.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

fn strip_context<'p>(path: &'p str, prefix: &str) -> Option<&'p str> {
    if prefix == "/" {
        return Some(path);
    }
    let rest = path.strip_prefix(prefix)?;
    (rest.is_empty() || rest.starts_with('/')).then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contexts_match_on_whole_segments_longest_first() {
        let table = ContextTable::new(vec![
            ("/".to_owned(), Arc::new("root")),
            ("/chat".to_owned(), Arc::new("chat")),
            ("/chat/admin".to_owned(), Arc::new("admin")),
        ]);
        let found = |path| table.find(path).map(|(c, rest)| (**c, rest));
        assert_eq!(found("/chat/rooms/a"), Some(("chat", "/rooms/a")));
        assert_eq!(found("/chat"), Some(("chat", "")));
        assert_eq!(found("/chat/admin/x"), Some(("admin", "/x")));
        assert_eq!(found("/chatter"), Some(("root", "/chatter")));
        assert_eq!(found("/"), Some(("root", "/")));
        let no_root = ContextTable::new(vec![("/echo".to_owned(), Arc::new("echo"))]);
        assert!(no_root.find("/other").is_none());
    }

    #[test]
    fn endpoints_yield_their_index_and_parameters() {
        let router = EndpointRouter::new(["/", "/rooms/{room}"]).expect("valid templates");
        assert_eq!(router.find("").map(|m| m.endpoint), Some(0));
        assert_eq!(router.find("/").map(|m| m.endpoint), Some(0));
        let room = router.find("/rooms/lobby").expect("match");
        assert_eq!(
            (room.endpoint, room.params),
            (1, vec![("room".to_owned(), "lobby".to_owned())])
        );
        assert!(router.find("/rooms").is_none());
        assert!(router.find("/nope").is_none());
    }

    #[test]
    fn parameters_are_percent_decoded() {
        let router = EndpointRouter::new(["/items/{item}"]).expect("valid");
        let found = router.find("/items/a%20b%C3%A9").expect("match");
        assert_eq!(found.params, vec![("item".to_owned(), "a bé".to_owned())]);
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }

    #[test]
    fn conflicting_templates_are_reported() {
        let error = EndpointRouter::new(["/rooms/{a}", "/rooms/{b}"]).expect_err("conflict");
        assert!(error.to_string().contains("/rooms/{b}"), "{error}");
    }
}
