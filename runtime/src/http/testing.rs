//! What the HTTP tests share: header maps written as pairs.

use hyper::header::{HeaderMap, HeaderValue};

/// A header map of `(name, value)` pairs, repeated names appended in order. A value a
/// header cannot hold (a control character) is left out, as hyper would never deliver it.
pub(crate) fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        if let Ok(value) = HeaderValue::from_str(value) {
            map.append(*name, value);
        }
    }
    map
}
