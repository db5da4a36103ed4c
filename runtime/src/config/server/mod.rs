//! The server configuration, `conf/server.xml`: what the whole container listens on and
//! shares among contexts.
//!
//! Relative paths resolve against the *server home*: the parent of the configuration file's
//! directory when that directory is named `conf` (the layout Berth ships, as Tomcat's
//! `CATALINA_BASE`), otherwise the file's own directory. Without a file, the working
//! directory. `conf/server.md` is the reference and `conf/berth-server.xsd` the schema; both
//! must agree with its `SCHEMA` table. Parsing is pure, like the descriptor's.

mod change;
mod read;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;

use super::diagnostic::Diagnostics;
use super::schema::{self, ElementSpec};
use super::value::EffectiveRow;
use super::{Parsed, xml};

pub use change::{SettingChange, changes};

/// The server configuration namespace.
pub const NAMESPACE: &str = "urn:berth:server:1";

/// Where `berth run` looks for the configuration when `--conf` is not given.
pub const DEFAULT_PATH: &str = "conf/server.xml";

const ADMIN: &[ElementSpec] = &[ElementSpec::value("enabled"), ElementSpec::value("listen")];

const PROXIES: &[ElementSpec] = &[ElementSpec::value("proxy").repeatable()];

const SESSION_STORE: &[ElementSpec] = &[
    ElementSpec::value("kind"),
    ElementSpec::value("redis-url"),
    ElementSpec::value("key-prefix"),
    ElementSpec::value("http-session-timeout-in-millis"),
];

const SERVER_CHILDREN: &[ElementSpec] = &[
    ElementSpec::value("node-id"),
    ElementSpec::value("listen"),
    ElementSpec::value("apps-dir"),
    ElementSpec::group("trusted-proxies", PROXIES),
    ElementSpec::group("admin", ADMIN),
    ElementSpec::value("shutdown-grace-in-millis"),
    ElementSpec::value("max-request-head-size"),
    ElementSpec::group("session-store", SESSION_STORE),
    ElementSpec::value("deploy-scan-interval-in-millis"),
    ElementSpec::value("deploy-settle-time-in-millis"),
];

/// The structure of `server.xml`.
pub(crate) const SCHEMA: ElementSpec =
    ElementSpec::group("berth-server", SERVER_CHILDREN).with_attributes(&["version"]);

/// Container-wide settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// This node's name; it ends every `JSESSIONID` Berth issues, for sticky proxies.
    pub node_id: String,
    /// The WebSocket/HTTP listener.
    pub listen: SocketAddr,
    /// Where web contexts are deployed from (resolved against the server home).
    pub apps_dir: PathBuf,
    /// Peers whose `Forwarded`/`X-Forwarded-For` headers are believed.
    pub trusted_proxies: Vec<IpNet>,
    /// The admin listener (list contexts, deploy, redeploy, undeploy); `None` when disabled.
    pub admin: Option<SocketAddr>,
    /// How long shutdown waits for sessions to close and `on_close` to run.
    pub shutdown_grace: Duration,
    /// The largest request head (request line and headers) accepted, in bytes; a larger one
    /// is answered 431.
    pub max_request_head: usize,
    /// Where distributed user properties are kept.
    pub session_store: SessionStoreConfig,
    /// How often the apps directory is looked at again besides what inotify reports;
    /// `None` turns watching it (inotify and the periodic look) off.
    pub deploy_scan_interval: Option<Duration>,
    /// How long a context directory's files must have stayed unchanged before it is acted
    /// on.
    pub deploy_settle_time: Duration,
}

/// The session store for distributed user properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionStoreConfig {
    /// Memory (one node) or Redis (several nodes).
    pub kind: SessionStoreKind,
    /// Prefix of every key Berth writes, so several clusters can share one Redis.
    pub key_prefix: String,
    /// How long an HTTP session lives without use (independent of WebSocket idle); zero
    /// means never, as a servlet `session-timeout` of 0.
    pub http_session_timeout: Duration,
}

/// Which store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionStoreKind {
    /// In this process; lost when it stops.
    Memory,
    /// Shared through Redis at this URL.
    Redis {
        /// `redis://`, `rediss://` or `unix://` URL.
        url: String,
    },
}

/// A server configuration that parsed without errors.
#[derive(Debug, Clone)]
pub struct ServerFile {
    /// The settings.
    pub config: ServerConfig,
    /// Every setting with its value and origin.
    pub effective: Vec<EffectiveRow>,
}

impl ServerConfig {
    /// The configuration used when there is no file: every default, paths against `home`.
    pub fn defaults(home: &Path) -> ServerConfig {
        ServerConfig {
            node_id: read::DEFAULT_NODE_ID.to_owned(),
            listen: read::DEFAULT_LISTEN,
            apps_dir: home.join(read::DEFAULT_APPS_DIR),
            trusted_proxies: Vec::new(),
            admin: Some(read::DEFAULT_ADMIN_LISTEN),
            shutdown_grace: Duration::from_millis(read::DEFAULT_SHUTDOWN_GRACE_MILLIS),
            max_request_head: read::DEFAULT_MAX_REQUEST_HEAD,
            session_store: SessionStoreConfig {
                kind: SessionStoreKind::Memory,
                key_prefix: read::DEFAULT_KEY_PREFIX.to_owned(),
                http_session_timeout: Duration::from_millis(
                    read::DEFAULT_HTTP_SESSION_TIMEOUT_MILLIS,
                ),
            },
            deploy_scan_interval: Some(Duration::from_millis(
                read::DEFAULT_DEPLOY_SCAN_INTERVAL_MILLIS,
            )),
            deploy_settle_time: Duration::from_millis(read::DEFAULT_DEPLOY_SETTLE_MILLIS),
        }
    }
}

/// The server home for a configuration file at `file` (see the module docs).
pub fn home_of(file: &Path) -> PathBuf {
    let directory = file.parent().unwrap_or(Path::new(""));
    let directory = if directory.as_os_str().is_empty() {
        Path::new(".")
    } else {
        directory
    };
    if directory.file_name().is_some_and(|name| name == "conf") {
        match directory.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        }
    } else {
        directory.to_path_buf()
    }
}

/// Parses server configuration `text` read from `file`.
pub fn parse(file: &Path, text: &str) -> Parsed<ServerFile> {
    let home = home_of(file);
    let mut diagnostics = Diagnostics::new(file, text);
    let server = xml::parse(text, &mut diagnostics)
        .filter(|root| schema::check(root, &SCHEMA, &mut diagnostics))
        .map(|root| read::server(&root, &home, &mut diagnostics));
    Parsed::new(server, diagnostics)
}

/// Reads and parses the server configuration at `file`.
pub fn load(file: &Path) -> Parsed<ServerFile> {
    super::load_with(file, parse)
}
