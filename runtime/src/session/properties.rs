//! [`Properties`]: a session's user properties (JSON values by key), as the host keeps them.
//!
//! A sorted vector, not a tree: every session starts with the three JEUS remote-address
//! properties and most gain few more, and a tree node would cost each idle session more
//! than the whole vector. It holds values only; validation and the JSON rule are the host
//! service's.

use bytes::Bytes;

/// Keys in order, each once.
#[derive(Debug, Default)]
pub(crate) struct Properties {
    entries: Vec<(Box<str>, Bytes)>,
}

impl Properties {
    /// The entries given, in any order (a later duplicate wins).
    pub(crate) fn from_entries(entries: impl IntoIterator<Item = (String, Bytes)>) -> Self {
        let mut properties = Properties::default();
        for (key, value) in entries {
            properties.insert(key, value);
        }
        properties.entries.shrink_to_fit();
        properties
    }

    fn find(&self, key: &str) -> Result<usize, usize> {
        self.entries.binary_search_by(|(k, _)| (**k).cmp(key))
    }

    pub(crate) fn get(&self, key: &str) -> Option<&Bytes> {
        self.find(key).ok().map(|at| &self.entries[at].1)
    }

    pub(crate) fn insert(&mut self, key: String, value: Bytes) {
        match self.find(&key) {
            Ok(at) => self.entries[at].1 = value,
            Err(at) => self.entries.insert(at, (key.into_boxed_str(), value)),
        }
    }

    /// Whether the key was there.
    pub(crate) fn remove(&mut self, key: &str) -> bool {
        match self.find(key) {
            Ok(at) => {
                self.entries.remove(at);
                true
            }
            Err(_) => false,
        }
    }

    /// The keys, in order.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| &**k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_stay_sorted_and_unique_through_inserts_and_removals() {
        let mut properties = Properties::from_entries([
            ("b".to_owned(), Bytes::from_static(b"1")),
            ("a".to_owned(), Bytes::from_static(b"2")),
        ]);
        properties.insert("c".into(), Bytes::from_static(b"3"));
        properties.insert("a".into(), Bytes::from_static(b"4"));
        assert_eq!(properties.keys().collect::<Vec<_>>(), ["a", "b", "c"]);
        assert_eq!(properties.get("a"), Some(&Bytes::from_static(b"4")));
        assert!(properties.remove("b"));
        assert!(!properties.remove("b"));
        assert_eq!(properties.get("b"), None);
        assert_eq!(properties.keys().collect::<Vec<_>>(), ["a", "c"]);
    }
}
