//! Turns a checked `<berth-server>` tree into a [`ServerConfig`].

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;

use super::{NAMESPACE, ServerConfig, ServerFile, SessionStoreConfig, SessionStoreKind};
use crate::config::diagnostic::Diagnostics;
use crate::config::value::{Extractor, Origin, child_at};
use crate::config::xml::Element;

pub(super) const DEFAULT_NODE_ID: &str = "node1";
pub(super) const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 8080);
pub(super) const DEFAULT_ADMIN_LISTEN: SocketAddr =
    SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 9090);
pub(super) const DEFAULT_APPS_DIR: &str = "apps";
pub(super) const DEFAULT_SHUTDOWN_GRACE_MILLIS: u64 = 10_000;
pub(super) const DEFAULT_KEY_PREFIX: &str = "berth:";
/// Twice Tomcat's and Jetty's 8 KiB, Node's default: room for a browser's cookies.
pub(super) const DEFAULT_MAX_REQUEST_HEAD: usize = 16 * 1024;
/// The smallest head limit: a browser's handshake alone takes about 1 KiB.
const MIN_REQUEST_HEAD: u64 = 4 * 1024;
/// The largest: hyper's own default read buffer is about 400 KiB.
const MAX_REQUEST_HEAD: u64 = 1024 * 1024;
pub(super) const DEFAULT_HTTP_SESSION_TIMEOUT_MILLIS: u64 = 1_800_000;
/// Tomcat's `autoDeploy` looks every 10 s; half that keeps "within seconds" true even where
/// inotify misses an event.
pub(super) const DEFAULT_DEPLOY_SCAN_INTERVAL_MILLIS: u64 = 5_000;
/// Below this a periodic look is a busy loop over every descriptor.
const MIN_DEPLOY_SCAN_INTERVAL_MILLIS: u64 = 100;
/// Longer than any pause of `cp` or `cargo build` between two writes of one file, short
/// enough that a deployment still happens within seconds.
pub(super) const DEFAULT_DEPLOY_SETTLE_MILLIS: u64 = 1_000;

pub(super) fn server(root: &Element, home: &Path, diagnostics: &mut Diagnostics<'_>) -> ServerFile {
    if let Some(xmlns) = root.attribute("xmlns").filter(|a| a.value != NAMESPACE) {
        let message = format!(
            "namespace \"{}\" is not \"{NAMESPACE}\"; read as if it were",
            xmlns.value
        );
        diagnostics.warning(xmlns.offset, message);
    }
    let mut x = Extractor::new(diagnostics);
    let root = Some(root);
    let defaults = ServerConfig::defaults(home);
    let config = ServerConfig {
        node_id: node_id(&mut x, root),
        listen: address(&mut x, root, "listen", defaults.listen),
        apps_dir: apps_dir(&mut x, root, home),
        trusted_proxies: trusted_proxies(&mut x, root),
        admin: admin(&mut x, root),
        shutdown_grace: grace(&mut x, root),
        max_request_head: request_head(&mut x, root),
        session_store: session_store(&mut x, root),
        deploy_scan_interval: scan_interval(&mut x, root),
        deploy_settle_time: Duration::from_millis(x.unsigned_or(
            root,
            "deploy-settle-time-in-millis",
            DEFAULT_DEPLOY_SETTLE_MILLIS,
        )),
    };
    ServerFile {
        config,
        effective: x.rows,
    }
}

fn node_id(x: &mut Extractor<'_, '_>, root: Option<&Element>) -> String {
    let Some(element) = child_at(root, "node-id") else {
        x.record("node-id", DEFAULT_NODE_ID, Origin::Default);
        return DEFAULT_NODE_ID.to_owned();
    };
    let Some(id) = x.string(element) else {
        return DEFAULT_NODE_ID.to_owned();
    };
    let id_ok = id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !id_ok {
        let message = format!(
            "<node-id> \"{id}\" may contain only letters, digits, - and _ (at most 64): it ends every JSESSIONID cookie"
        );
        x.error_at(&element.text_or_empty(), message);
    }
    x.record("node-id", &id, Origin::File);
    id
}

/// An `IP:PORT` listener address under `parent`.
fn address(
    x: &mut Extractor<'_, '_>,
    parent: Option<&Element>,
    path: &str,
    default: SocketAddr,
) -> SocketAddr {
    let Some(element) = child_at(parent, path) else {
        x.record(path, default, Origin::Default);
        return default;
    };
    let Some(text) = x.string(element) else {
        return default;
    };
    match text.parse::<SocketAddr>() {
        Ok(address) => {
            x.record(path, address, Origin::File);
            address
        }
        Err(_) => {
            let message = format!(
                "<{}> \"{text}\" must be IP:PORT, such as 0.0.0.0:8080 or [::1]:8080",
                element.name
            );
            x.error_at(&element.text_or_empty(), message);
            default
        }
    }
}

fn apps_dir(x: &mut Extractor<'_, '_>, root: Option<&Element>, home: &Path) -> PathBuf {
    let Some(element) = child_at(root, "apps-dir") else {
        let resolved = home.join(DEFAULT_APPS_DIR);
        x.record("apps-dir", resolved.display(), Origin::Default);
        return resolved;
    };
    let Some(text) = x.string(element) else {
        return home.join(DEFAULT_APPS_DIR);
    };
    let resolved = home.join(&text);
    x.record("apps-dir", resolved.display(), Origin::File);
    resolved
}

fn trusted_proxies(x: &mut Extractor<'_, '_>, root: Option<&Element>) -> Vec<IpNet> {
    let Some(group) = child_at(root, "trusted-proxies") else {
        x.record("trusted-proxies", "none", Origin::Default);
        return Vec::new();
    };
    let mut proxies = Vec::new();
    for element in group.children_named("proxy") {
        let Some(text) = x.string(element) else {
            continue;
        };
        let parsed = text
            .parse::<IpNet>()
            .or_else(|_| text.parse::<IpAddr>().map(IpNet::from));
        match parsed {
            Ok(net) => proxies.push(net),
            Err(_) => {
                let message = format!(
                    "<proxy> \"{text}\" must be an IP address or a CIDR range, such as 10.0.0.1 or 10.0.0.0/8"
                );
                x.error_at(&element.text_or_empty(), message);
            }
        }
    }
    let shown: Vec<String> = proxies.iter().map(ToString::to_string).collect();
    x.record(
        "trusted-proxies",
        if shown.is_empty() {
            "none".into()
        } else {
            shown.join(" ")
        },
        Origin::File,
    );
    proxies
}

fn admin(x: &mut Extractor<'_, '_>, root: Option<&Element>) -> Option<SocketAddr> {
    let group = child_at(root, "admin");
    let enabled = x.boolean_or(group, "admin/enabled", true);
    let listen = address(x, group, "admin/listen", DEFAULT_ADMIN_LISTEN);
    if enabled && !listen.ip().is_loopback() {
        if let Some(element) = group.and_then(|g| g.child("listen")) {
            let message = format!(
                "<admin> listens on {listen}, beyond this machine: anyone who reaches it can list, deploy and undeploy contexts"
            );
            x.warning_at(&element.text_or_empty(), message);
        }
    }
    enabled.then_some(listen)
}

fn grace(x: &mut Extractor<'_, '_>, root: Option<&Element>) -> Duration {
    let millis = x.unsigned_or(
        root,
        "shutdown-grace-in-millis",
        DEFAULT_SHUTDOWN_GRACE_MILLIS,
    );
    Duration::from_millis(millis)
}

fn request_head(x: &mut Extractor<'_, '_>, root: Option<&Element>) -> usize {
    const PATH: &str = "max-request-head-size";
    let default = DEFAULT_MAX_REQUEST_HEAD as u64;
    let bytes = x.unsigned_or(root, PATH, default);
    if let Some(element) = child_at(root, PATH)
        && !(MIN_REQUEST_HEAD..=MAX_REQUEST_HEAD).contains(&bytes)
    {
        let message = format!(
            "<{PATH}> {bytes} must be between {MIN_REQUEST_HEAD} and {MAX_REQUEST_HEAD} bytes"
        );
        x.error_at(&element.text_or_empty(), message);
        return DEFAULT_MAX_REQUEST_HEAD;
    }
    usize::try_from(bytes).unwrap_or(DEFAULT_MAX_REQUEST_HEAD)
}

/// `None` (watching off) for 0.
fn scan_interval(x: &mut Extractor<'_, '_>, root: Option<&Element>) -> Option<Duration> {
    const PATH: &str = "deploy-scan-interval-in-millis";
    let default = DEFAULT_DEPLOY_SCAN_INTERVAL_MILLIS;
    let millis = x.unsigned_or(root, PATH, default);
    if let Some(element) = child_at(root, PATH)
        && (1..MIN_DEPLOY_SCAN_INTERVAL_MILLIS).contains(&millis)
    {
        let message = format!(
            "<{PATH}> {millis} must be 0 (watching off) or at least {MIN_DEPLOY_SCAN_INTERVAL_MILLIS}"
        );
        x.error_at(&element.text_or_empty(), message);
        return Some(Duration::from_millis(default));
    }
    (millis > 0).then(|| Duration::from_millis(millis))
}

fn session_store(x: &mut Extractor<'_, '_>, root: Option<&Element>) -> SessionStoreConfig {
    let group = child_at(root, "session-store");
    let kind_element = group.and_then(|g| g.child("kind"));
    let kind_name = match kind_element {
        Some(element) => x.string(element).unwrap_or_default(),
        None => "memory".to_owned(),
    };
    let url_element = group.and_then(|g| g.child("redis-url"));
    let kind = match (kind_name.as_str(), url_element) {
        ("memory", None) => SessionStoreKind::Memory,
        ("memory", Some(url)) => {
            let message = "<redis-url> is ignored: <kind> is memory".to_owned();
            x.warning_at(&url.text_or_empty(), message);
            SessionStoreKind::Memory
        }
        ("redis", Some(url)) => redis_url(x, url),
        ("redis", None) => {
            let at = kind_element.map(|k| k.offset).unwrap_or_default();
            x.diagnostics
                .error(at, "<session-store> of kind redis needs a <redis-url>");
            SessionStoreKind::Memory
        }
        (other, _) => {
            if let Some(element) = kind_element {
                let message = format!("<kind> \"{other}\" must be memory or redis");
                x.error_at(&element.text_or_empty(), message);
            }
            SessionStoreKind::Memory
        }
    };
    match &kind {
        SessionStoreKind::Memory => {
            x.record("session-store/kind", "memory", origin_of(kind_element))
        }
        SessionStoreKind::Redis { url } => {
            x.record("session-store/kind", format!("redis {url}"), Origin::File)
        }
    }
    let key_prefix = match group.and_then(|g| g.child("key-prefix")) {
        Some(element) => {
            let prefix = x
                .string(element)
                .unwrap_or_else(|| DEFAULT_KEY_PREFIX.to_owned());
            x.record("session-store/key-prefix", &prefix, Origin::File);
            prefix
        }
        None => {
            x.record(
                "session-store/key-prefix",
                DEFAULT_KEY_PREFIX,
                Origin::Default,
            );
            DEFAULT_KEY_PREFIX.to_owned()
        }
    };
    let timeout = x.unsigned_or(
        group,
        "session-store/http-session-timeout-in-millis",
        DEFAULT_HTTP_SESSION_TIMEOUT_MILLIS,
    );
    SessionStoreConfig {
        kind,
        key_prefix,
        http_session_timeout: Duration::from_millis(timeout),
    }
}

fn redis_url(x: &mut Extractor<'_, '_>, element: &Element) -> SessionStoreKind {
    let url = x.string(element).unwrap_or_default();
    let scheme_ok = ["redis://", "rediss://", "unix://"]
        .iter()
        .any(|s| url.starts_with(s));
    if !scheme_ok {
        let message =
            format!("<redis-url> \"{url}\" must start with redis://, rediss:// or unix://");
        x.error_at(&element.text_or_empty(), message);
    }
    SessionStoreKind::Redis { url }
}

fn origin_of(element: Option<&Element>) -> Origin {
    if element.is_some() {
        Origin::File
    } else {
        Origin::Default
    }
}
