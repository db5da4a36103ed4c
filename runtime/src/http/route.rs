//! Routing a request path to a context: by the longest context path that is the request path
//! or a prefix of it ending at a `/` (so `/chat` serves `/chat` and `/chat/rooms/a`, never
//! `/chatter`); the root context `/` matches everything else. The rest of the path is then the
//! context's to match against its endpoint templates (`context::router`). This module is pure
//! data: no I/O, no knowledge of what a context is.

use std::sync::Arc;

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
}
