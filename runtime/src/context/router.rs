//! A context's endpoint templates: the path below the context path (`/` when empty) matched
//! with `matchit`, which yields the endpoint's index and its path parameters
//! (percent-decoded). Pure data.

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

#[cfg(test)]
mod tests {
    use super::*;

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
