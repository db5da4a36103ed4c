//! The web-context descriptor, `jeus-web-dd.xml`.
//!
//! The format is JEUS 8's (`<jeus-web-dd>` with a `<websocket>` section, as the JEUS 8 WebSocket container manual describes it): a JEUS
//! descriptor is accepted unchanged, JEUS elements that only matter to servlet/JSP modules
//! are read past with a warning, and Berth's own extensions sit beside the JEUS elements in
//! `<websocket>` (and `<context-path>` at the root, where JEUS keeps it). `conf/descriptor.md`
//! is the reference for administrators and `conf/jeus-web-dd.xsd` the schema; both must
//! agree with its `SCHEMA` table.
//!
//! Parsing is pure: text in, [`ContextSettings`] plus every problem out. Errors mean the
//! context must not be deployed (or, on a redeploy, the running version stays); warnings
//! say what was clamped or ignored.

mod read;
mod settings;

#[cfg(test)]
mod tests;

use std::path::Path;

use super::diagnostic::{Diagnostics, Position};
use super::schema::{self, ElementSpec};
use super::value::EffectiveRow;
use super::{Parsed, xml};

pub(crate) use read::validate_context_path;
pub use settings::{
    ANY_ORIGIN, ContextSettings, DistributedProperties, ExecutorSettings, IdlePolicy, Keepalive,
    MessageLimits, RedeployPolicy, SendTimeouts, defaults,
};

/// The file name of a descriptor inside a context directory.
pub const FILE_NAME: &str = "jeus-web-dd.xml";

/// The JEUS descriptor namespace.
pub const NAMESPACE: &str = "http://www.tmaxsoft.com/xml/ns/jeus";

const EXECUTOR: &[ElementSpec] = &[
    ElementSpec::value("min"),
    ElementSpec::value("max"),
    ElementSpec::value("keep-alive-time"),
    ElementSpec::value("queue-size"),
];

const DISTRIBUTED: &[ElementSpec] = &[
    ElementSpec::value("enabled"),
    ElementSpec::value("use-write-through-policy"),
];

const INIT_PARAM: &[ElementSpec] = &[ElementSpec::value("name"), ElementSpec::value("value")];

const ORIGINS: &[ElementSpec] = &[ElementSpec::value("origin").repeatable()];

const WEBSOCKET: &[ElementSpec] = &[
    ElementSpec::value("max-incoming-binary-message-buffer-size"),
    ElementSpec::value("max-incoming-text-message-buffer-size"),
    ElementSpec::value("max-session-idle-timeout-in-millis"),
    ElementSpec::value("monitoring-period-in-millis"),
    ElementSpec::value("blocking-send-timeout-in-millis"),
    ElementSpec::value("async-send-timeout-in-millis"),
    ElementSpec::group("websocket-executor", EXECUTOR),
    ElementSpec::group("distributed-userProperties", DISTRIBUTED),
    ElementSpec::group("init-param", INIT_PARAM).repeatable(),
    ElementSpec::value("batching-buffer-size"),
    ElementSpec::value("websocket-timeout-min-threads"),
    // Berth extensions.
    ElementSpec::value("endpoint-library"),
    ElementSpec::group("allowed-origins", ORIGINS),
    ElementSpec::value("ping-interval-in-millis"),
    ElementSpec::value("pong-timeout-in-millis"),
    ElementSpec::value("max-sessions"),
    ElementSpec::value("idle-counts-control-frames"),
    ElementSpec::value("permessage-deflate"),
    ElementSpec::value("redeploy-policy"),
    ElementSpec::value("drain-timeout-in-millis"),
];

const SERVLET_ONLY: &str =
    "a JEUS setting for servlet and JSP modules; Berth serves only WebSocket endpoints";

const ROOT_CHILDREN: &[ElementSpec] = &[
    ElementSpec::value("context-path"),
    ElementSpec::group("websocket", WEBSOCKET),
    ElementSpec::ignored("docbase", SERVLET_ONLY),
    ElementSpec::ignored("auto-reload", SERVLET_ONLY),
    ElementSpec::ignored("added-classpath", SERVLET_ONLY),
    ElementSpec::ignored("allow-indexing", SERVLET_ONLY),
    ElementSpec::ignored("service-ref", SERVLET_ONLY),
    ElementSpec::ignored("res-env-ref", SERVLET_ONLY),
    ElementSpec::ignored("message-destination-ref", SERVLET_ONLY),
    ElementSpec::ignored("max-instance-pool-size", SERVLET_ONLY),
    ElementSpec::ignored("webinf-first", SERVLET_ONLY),
    ElementSpec::ignored("encoding", SERVLET_ONLY),
    ElementSpec::ignored("session-config", SERVLET_ONLY),
    ElementSpec::ignored("jsp-engine", SERVLET_ONLY),
    ElementSpec::ignored("enable-jsp", SERVLET_ONLY),
    ElementSpec::ignored("properties", SERVLET_ONLY),
    ElementSpec::ignored("attach-stacktrace-on-error", SERVLET_ONLY),
    ElementSpec::ignored("keep-alive-error-response", SERVLET_ONLY),
    ElementSpec::ignored("role-mapping", SERVLET_ONLY),
    ElementSpec::ignored("env", SERVLET_ONLY),
    ElementSpec::ignored("res-ref", SERVLET_ONLY),
    ElementSpec::ignored("ejb-ref", SERVLET_ONLY),
    ElementSpec::ignored("library-ref", SERVLET_ONLY),
    ElementSpec::ignored("async-config", SERVLET_ONLY),
];

/// The structure of `jeus-web-dd.xml`: every element Berth knows and where it may appear.
pub(crate) const SCHEMA: ElementSpec =
    ElementSpec::group("jeus-web-dd", ROOT_CHILDREN).with_attributes(&["version"]);

/// A descriptor that parsed without errors.
#[derive(Debug, Clone)]
pub struct Descriptor {
    /// What the runtime obeys.
    pub settings: ContextSettings,
    /// Every setting with its value and origin, for `berth check --effective`.
    pub effective: Vec<EffectiveRow>,
    /// Where `<endpoint-library>` is written, to point at it when the file is missing.
    pub endpoint_library_at: Option<Position>,
}

/// Parses descriptor `text` read from `file` (the name is used in problem reports only).
pub fn parse(file: &Path, text: &str) -> Parsed<Descriptor> {
    let mut diagnostics = Diagnostics::new(file, text);
    let descriptor = xml::parse(text, &mut diagnostics)
        .filter(|root| schema::check(root, &SCHEMA, &mut diagnostics))
        .map(|root| read::descriptor(&root, &mut diagnostics));
    Parsed::new(descriptor, diagnostics)
}

/// Reads and parses the descriptor file at `file`.
pub fn load(file: &Path) -> Parsed<Descriptor> {
    super::load_with(file, parse)
}
