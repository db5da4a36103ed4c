//! [`Handshake`]: the opening HTTP request of a session, copied out of the host.

/// What the client sent to open the session: path, query, path parameters, headers, the
/// negotiated subprotocol and the client's address.
///
/// The SDK copies it for `on_handshake` and again at `on_open`, and keeps the second copy
/// with the session until `on_close`, so [`Session`](crate::Session) answers `header`,
/// `cookie`, `query_param`, ... in every callback.
///
/// One rule for every accessor: it borrows, `Option<&str>`; what needs decoding (the query's
/// parameters: `%XX` and `+`) is decoded once, when the handshake is copied, not at each
/// lookup. Path parameters arrive decoded from the host; header and cookie values are as
/// sent. Build one by hand in tests (or let [`MockHost`](crate::mock::MockHost) do it):
///
/// ```
/// use endpoint_api::Handshake;
///
/// let hs = Handshake::new("/rooms/lobby")
///     .with_query("name=J%C3%BCrgen&x")
///     .with_path_param("room", "lobby")
///     .with_header("Cookie", "theme=dark; JSESSIONID=abc.node1")
///     .with_subprotocol("chat.v1")
///     .with_remote_addr("192.0.2.7:51000");
/// assert_eq!(hs.query_param("name"), Some("Jürgen"));
/// assert_eq!(hs.query_param("x"), Some(""));
/// assert_eq!(hs.path_param("room"), Some("lobby"));
/// assert_eq!(hs.header("cookie"), Some("theme=dark; JSESSIONID=abc.node1"));
/// assert_eq!(hs.cookie("JSESSIONID"), Some("abc.node1"));
/// assert_eq!(hs.subprotocol(), Some("chat.v1"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Handshake {
    path: String,
    query: String,
    /// The query's parameters, decoded when the query was set.
    query_params: Vec<(String, String)>,
    path_params: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    subprotocol: Option<String>,
    remote_addr: Option<String>,
    properties_restored: bool,
}

impl Handshake {
    /// A handshake for `path` with nothing else.
    pub fn new(path: impl Into<String>) -> Handshake {
        Handshake {
            path: path.into(),
            ..Handshake::default()
        }
    }

    /// With this raw query string (without `?`); its parameters are decoded now.
    pub fn with_query(mut self, query: impl Into<String>) -> Handshake {
        self.query = query.into();
        self.query_params = decode_query(&self.query);
        self
    }

    /// Room for exactly this many path parameters and headers (a plugin keeps every open
    /// session's handshake: no slack per session).
    pub(crate) fn with_room(mut self, path_params: usize, headers: usize) -> Self {
        self.path_params.reserve_exact(path_params);
        self.headers.reserve_exact(headers);
        self
    }

    /// With one more path parameter.
    pub fn with_path_param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.path_params.push((name.into(), value.into()));
        self
    }

    /// With one more header.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The same request before the host matched it: no path parameters, no subprotocol.
    pub(crate) fn without_negotiation(mut self) -> Handshake {
        self.path_params.clear();
        self.subprotocol = None;
        self
    }

    /// With this negotiated subprotocol.
    pub fn with_subprotocol(mut self, subprotocol: impl Into<String>) -> Handshake {
        self.subprotocol = Some(subprotocol.into());
        self
    }

    /// With this client address (`ip:port` or `ip`).
    pub fn with_remote_addr(mut self, addr: impl Into<String>) -> Handshake {
        self.remote_addr = Some(addr.into());
        self
    }

    /// With the "properties restored" flag.
    pub fn with_properties_restored(mut self, restored: bool) -> Handshake {
        self.properties_restored = restored;
        self
    }

    /// The request path, as received (percent-encoded), without the query.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The raw query string, without `?` (empty when there is none).
    pub fn query(&self) -> &str {
        &self.query
    }

    /// The first query parameter called `name` (compared decoded), percent- and
    /// `+`-decoded; `Some("")` for a bare `name` or `name=`.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        find(&self.query_params, |key| key == name)
    }

    /// Every query parameter, decoded, in order (duplicates kept).
    pub fn query_params(&self) -> &[(String, String)] {
        &self.query_params
    }

    /// A path parameter of the endpoint's template (`{room}` → `"room"`), decoded.
    pub fn path_param(&self, name: &str) -> Option<&str> {
        find(&self.path_params, |key| key == name)
    }

    /// All path parameters, in template order.
    pub fn path_params(&self) -> &[(String, String)] {
        &self.path_params
    }

    /// The first header called `name`, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        find(&self.headers, |key| key.eq_ignore_ascii_case(name))
    }

    /// Every value of the headers called `name` (case-insensitive), in order.
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// All headers, as received.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The value of the cookie called `name` (exact case) from the `Cookie` headers, without
    /// surrounding quotes.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.header_values("cookie")
            .flat_map(|header| header.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(key, _)| key.trim() == name)
            .map(|(_, value)| value.trim().trim_matches('"'))
    }

    /// The negotiated subprotocol, if any (always `None` in `on_handshake`: nothing is
    /// negotiated yet).
    pub fn subprotocol(&self) -> Option<&str> {
        self.subprotocol.as_deref()
    }

    /// The subprotocols the client offered (`Sec-WebSocket-Protocol`), in its order.
    ///
    /// ```
    /// use endpoint_api::Handshake;
    ///
    /// let hs = Handshake::new("/")
    ///     .with_header("Sec-WebSocket-Protocol", "chat.v2, chat.v1")
    ///     .with_header("sec-websocket-protocol", "json");
    /// assert_eq!(hs.offered_subprotocols().collect::<Vec<_>>(), ["chat.v2", "chat.v1", "json"]);
    /// ```
    pub fn offered_subprotocols(&self) -> impl Iterator<Item = &str> + '_ {
        self.header_values("sec-websocket-protocol")
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .filter(|name| !name.is_empty())
    }

    /// The client's address (`ip:port`, or `ip` when no port is known), as the host
    /// determined it (trusted proxy headers applied); `None` when a trusted proxy hides the
    /// client (`unknown` or an obfuscated name).
    pub fn remote_addr(&self) -> Option<&str> {
        self.remote_addr.as_deref()
    }

    /// Whether the session's user properties were restored from the session store
    /// (failover: a reconnect with a known `JSESSIONID`).
    pub fn properties_restored(&self) -> bool {
        self.properties_restored
    }
}

/// The parameters of an `application/x-www-form-urlencoded` query, decoded.
fn decode_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|part| !part.is_empty())
        .map(|part| part.split_once('=').unwrap_or((part, "")))
        .map(|(key, value)| (decode_component(key), decode_component(value)))
        .collect()
}

fn find(pairs: &[(String, String)], wanted: impl Fn(&str) -> bool) -> Option<&str> {
    pairs
        .iter()
        .find(|(key, _)| wanted(key))
        .map(|(_, value)| value.as_str())
}

/// Decodes one `application/x-www-form-urlencoded` component: `+` is a space, `%XX` a byte;
/// malformed escapes stay as they are; invalid UTF-8 becomes U+FFFD.
fn decode_component(text: &str) -> String {
    decode(text, true)
}

/// Decodes `%XX` escapes of a path segment (`+` stays), as the host's router does.
pub(crate) fn percent_decode(text: &str) -> String {
    decode(text, false)
}

fn decode(text: &str, plus_is_space: bool) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match bytes.get(i..i + 3) {
            Some([b'%', high, low]) => hex_pair(*high, *low),
            _ => None,
        };
        match (escaped, bytes[i]) {
            (Some(byte), _) => {
                out.push(byte);
                i += 3;
                continue;
            }
            (None, b'+') if plus_is_space => out.push(b' '),
            (None, byte) => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_pair(high: u8, low: u8) -> Option<u8> {
    let digit = |b: u8| (b as char).to_digit(16);
    Some((digit(high)? * 16 + digit(low)?) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_components() {
        assert_eq!(decode_component("a+b%20c%C3%A9"), "a b cé");
        assert_eq!(decode_component("100%"), "100%");
        assert_eq!(decode_component("%zz%4"), "%zz%4");
        assert_eq!(decode_component("%41"), "A");
    }

    #[test]
    fn query_params_first_match_wins() {
        let hs = Handshake::new("/").with_query("a=1&a=2&b&&c=x%3Dy");
        assert_eq!(hs.query_param("a"), Some("1"));
        assert_eq!(hs.query_param("b"), Some(""));
        assert_eq!(hs.query_param("c"), Some("x=y"));
        assert_eq!(hs.query_param("d"), None);
        assert_eq!(hs.query_params().len(), 4);
        let encoded_key = Handshake::new("/").with_query("n%61me=x+y");
        assert_eq!(encoded_key.query_param("name"), Some("x y"));
    }

    #[test]
    fn headers_and_cookies() {
        let hs = Handshake::new("/")
            .with_header("X-Client", "android")
            .with_header("Cookie", "a=1")
            .with_header("cookie", "b=\"two\"; c=3");
        assert_eq!(hs.header("x-CLIENT"), Some("android"));
        assert_eq!(hs.header_values("COOKIE").count(), 2);
        assert_eq!(hs.cookie("b"), Some("two"));
        assert_eq!(hs.cookie("c"), Some("3"));
        assert_eq!(hs.cookie("A"), None);
    }
}
