//! Turns a structurally checked `<jeus-web-dd>` tree into [`ContextSettings`]: typed values,
//! the JEUS clamps, cross-field rules (`min <= max`) and Berth's extension rules.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::settings::{
    ANY_ORIGIN, ContextSettings, DistributedProperties, ExecutorSettings, IdlePolicy, Keepalive,
    MessageLimits, RedeployPolicy, SendTimeouts, defaults::*, usize_of,
};
use super::{Descriptor, NAMESPACE};
use crate::config::diagnostic::Diagnostics;
use crate::config::value::{Extractor, Origin, child_at};
use crate::config::xml::Element;

pub(super) fn descriptor(root: &Element, diagnostics: &mut Diagnostics<'_>) -> Descriptor {
    check_namespace(root, diagnostics);
    let mut x = Extractor::new(diagnostics);
    let websocket = root.child("websocket");
    let settings = ContextSettings {
        context_path: context_path(&mut x, root),
        endpoint_library: endpoint_library(&mut x, websocket),
        limits: limits(&mut x, websocket),
        idle: idle(&mut x, websocket),
        send: SendTimeouts {
            blocking: x.timeout_or(
                websocket,
                "websocket/blocking-send-timeout-in-millis",
                BLOCKING_SEND_TIMEOUT_MILLIS,
            ),
            asynchronous: x.timeout_or(
                websocket,
                "websocket/async-send-timeout-in-millis",
                ASYNC_SEND_TIMEOUT_MILLIS,
            ),
        },
        executor: executor(&mut x, websocket),
        distributed: distributed(&mut x, websocket),
        init_params: init_params(&mut x, websocket),
        batching_buffer_size: usize_of(x.unsigned_or(
            websocket,
            "websocket/batching-buffer-size",
            BATCHING_BUFFER_SIZE,
        )),
        timeout_min_threads: timeout_min_threads(&mut x, websocket),
        keepalive: keepalive(&mut x, websocket),
        allowed_origins: allowed_origins(&mut x, websocket),
        max_sessions: max_sessions(&mut x, websocket),
        permessage_deflate: x.boolean_or(
            websocket,
            "websocket/permessage-deflate",
            PERMESSAGE_DEFLATE,
        ),
        redeploy: redeploy_policy(&mut x, websocket),
    };
    let endpoint_library_at = websocket
        .and_then(|w| w.child("endpoint-library"))
        .map(|e| x.diagnostics.position(e.text_or_empty().offset));
    Descriptor {
        settings,
        effective: x.rows,
        endpoint_library_at,
    }
}

fn check_namespace(root: &Element, diagnostics: &mut Diagnostics<'_>) {
    if let Some(xmlns) = root.attribute("xmlns").filter(|a| a.value != NAMESPACE) {
        let message = format!(
            "namespace \"{}\" is not the JEUS descriptor namespace \"{NAMESPACE}\"; read as if it were",
            xmlns.value
        );
        diagnostics.warning(xmlns.offset, message);
    }
}

fn context_path(x: &mut Extractor<'_, '_>, root: &Element) -> Option<String> {
    const PATH: &str = "context-path";
    let Some(element) = root.child(PATH) else {
        x.record(
            PATH,
            "/<directory name>",
            Origin::Derived("from the directory name; ROOT serves at /"),
        );
        return None;
    };
    let path = x.string(element)?;
    match validate_context_path(&path) {
        Ok(()) => {
            x.record(PATH, &path, Origin::File);
            Some(path)
        }
        Err(why) => {
            x.error_at(
                &element.text_or_empty(),
                format!("<context-path> \"{path}\" {why}"),
            );
            None
        }
    }
}

/// A context path is `/` or `/segment[/segment…]` without a trailing slash, templates,
/// dot segments or characters that need escaping in a URL path.
pub(crate) fn validate_context_path(path: &str) -> Result<(), &'static str> {
    if path == "/" {
        return Ok(());
    }
    if !path.starts_with('/') {
        return Err("must start with /");
    }
    if path.ends_with('/') {
        return Err("must not end with / (only the root context is \"/\")");
    }
    let segment_ok = |s: &str| !s.is_empty() && s != "." && s != "..";
    if !path[1..].split('/').all(segment_ok) {
        return Err("must not contain empty, . or .. segments");
    }
    let char_ok = |c: char| c.is_ascii_alphanumeric() || "-._~!$&'()*+,;=:@%/".contains(c);
    if !path.chars().all(char_ok) {
        return Err("may contain only letters, digits and -._~!$&'()*+,;=:@%/");
    }
    Ok(())
}

fn endpoint_library(x: &mut Extractor<'_, '_>, websocket: Option<&Element>) -> Option<PathBuf> {
    const PATH: &str = "websocket/endpoint-library";
    let Some(element) = child_at(websocket, PATH) else {
        x.record(
            PATH,
            "the single *.so in the directory or its lib/",
            Origin::Derived("searched"),
        );
        return None;
    };
    let library = PathBuf::from(x.string(element)?);
    let inside = library.is_relative()
        && library
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)));
    if !inside {
        let message = format!(
            "<endpoint-library> \"{}\" must be a relative path inside the context directory, so that copying the directory deploys it",
            library.display()
        );
        x.error_at(&element.text_or_empty(), message);
        return None;
    }
    x.record(PATH, library.display(), Origin::File);
    Some(library)
}

fn limits(x: &mut Extractor<'_, '_>, websocket: Option<&Element>) -> MessageLimits {
    MessageLimits {
        binary: message_limit(
            x,
            websocket,
            "websocket/max-incoming-binary-message-buffer-size",
        ),
        text: message_limit(
            x,
            websocket,
            "websocket/max-incoming-text-message-buffer-size",
        ),
    }
}

fn message_limit(x: &mut Extractor<'_, '_>, websocket: Option<&Element>, path: &str) -> usize {
    let limit = x.unsigned_or(websocket, path, MESSAGE_BUFFER_SIZE);
    if let (0, Some(element)) = (limit, child_at(websocket, path)) {
        let message = format!(
            "<{}> is 0: every non-empty message of this kind is closed with 1009",
            element.name
        );
        x.warning_at(&element.text_or_empty(), message);
    }
    usize_of(limit)
}

fn idle(x: &mut Extractor<'_, '_>, websocket: Option<&Element>) -> IdlePolicy {
    IdlePolicy {
        timeout: idle_timeout(x, websocket),
        monitoring_period: monitoring_period(x, websocket),
        counts_control_frames: x.boolean_or(
            websocket,
            "websocket/idle-counts-control-frames",
            false,
        ),
    }
}

/// `max-session-idle-timeout-in-millis`: 0 = never; negative = never with a warning;
/// `0 < t < 1000` is treated as 1000 (JEUS).
fn idle_timeout(x: &mut Extractor<'_, '_>, websocket: Option<&Element>) -> Option<Duration> {
    const PATH: &str = "websocket/max-session-idle-timeout-in-millis";
    let timeout = x.timeout_or(websocket, PATH, IDLE_TIMEOUT_MILLIS)?;
    let Some(element) = child_at(websocket, PATH) else {
        return Some(timeout);
    };
    let floor = Duration::from_millis(MIN_PERIOD_MILLIS);
    if timeout >= floor {
        return Some(timeout);
    }
    clamp_warning(
        x,
        element,
        &timeout.as_millis().to_string(),
        MIN_PERIOD_MILLIS,
        PATH,
    );
    Some(floor)
}

/// `monitoring-period-in-millis`: anything below 1000 (zero and negatives too) is 1000.
fn monitoring_period(x: &mut Extractor<'_, '_>, websocket: Option<&Element>) -> Duration {
    const PATH: &str = "websocket/monitoring-period-in-millis";
    let Some(element) = child_at(websocket, PATH) else {
        x.record(PATH, MONITORING_PERIOD_MILLIS, Origin::Default);
        return Duration::from_millis(MONITORING_PERIOD_MILLIS);
    };
    let Some(written) = x.integer(element) else {
        return Duration::from_millis(MONITORING_PERIOD_MILLIS);
    };
    let millis = u64::try_from(written).unwrap_or(0);
    if millis >= MIN_PERIOD_MILLIS {
        x.record(PATH, millis, Origin::File);
        return Duration::from_millis(millis);
    }
    clamp_warning(x, element, &written.to_string(), MIN_PERIOD_MILLIS, PATH);
    Duration::from_millis(MIN_PERIOD_MILLIS)
}

/// Records a clamp: one warning naming the element and both values, and the adjusted row
/// (replacing a row already recorded for the same path).
fn clamp_warning(
    x: &mut Extractor<'_, '_>,
    element: &Element,
    written: &str,
    used: u64,
    path: &str,
) {
    let message = format!(
        "<{}> {written} is below the minimum; {used} is used instead",
        element.name
    );
    x.warning_at(&element.text_or_empty(), message);
    x.rows.retain(|row| row.path != path);
    x.record(
        path,
        used,
        Origin::Adjusted {
            written: written.to_owned(),
        },
    );
}

fn executor(x: &mut Extractor<'_, '_>, websocket: Option<&Element>) -> ExecutorSettings {
    const BASE: &str = "websocket/websocket-executor";
    let group = child_at(websocket, BASE);
    let min = x.unsigned_or(group, "websocket/websocket-executor/min", EXECUTOR_MIN);
    let max = x.unsigned_or(group, "websocket/websocket-executor/max", EXECUTOR_MAX);
    let keep_alive = x.unsigned_or(
        group,
        "websocket/websocket-executor/keep-alive-time",
        EXECUTOR_KEEP_ALIVE_MILLIS,
    );
    let queue_size = x.unsigned_or(
        group,
        "websocket/websocket-executor/queue-size",
        EXECUTOR_QUEUE_SIZE,
    );
    if let (0, Some(element)) = (max, group.and_then(|g| g.child("max"))) {
        x.error_at(
            &element.text_or_empty(),
            "<max> must be at least 1 thread".into(),
        );
    } else if min > max {
        let at = group.and_then(|g| g.child("min").or(g.child("max")));
        if let Some(element) = at {
            let message = format!("<websocket-executor> <min> {min} is greater than <max> {max}");
            x.error_at(&element.text_or_empty(), message);
        }
    }
    if let (0, Some(element)) = (queue_size, group.and_then(|g| g.child("queue-size"))) {
        let message =
            "<queue-size> must be at least 1 (a full queue pauses reading, it never drops)";
        x.error_at(&element.text_or_empty(), message.into());
    }
    ExecutorSettings {
        min_threads: usize_of(min),
        max_threads: usize_of(max.max(1)),
        keep_alive: Duration::from_millis(keep_alive),
        queue_size: usize_of(queue_size.max(1)),
    }
}

fn distributed(x: &mut Extractor<'_, '_>, websocket: Option<&Element>) -> DistributedProperties {
    let group = child_at(websocket, "websocket/distributed-userProperties");
    DistributedProperties {
        enabled: x.boolean_or(group, "websocket/distributed-userProperties/enabled", false),
        write_through: x.boolean_or(
            group,
            "websocket/distributed-userProperties/use-write-through-policy",
            false,
        ),
    }
}

fn init_params(x: &mut Extractor<'_, '_>, websocket: Option<&Element>) -> BTreeMap<String, String> {
    let mut params = BTreeMap::new();
    let Some(websocket) = websocket else {
        return params;
    };
    for param in websocket.children_named("init-param") {
        let Some(name_element) = param.child("name") else {
            let message = "<init-param> needs a <name>".to_owned();
            x.diagnostics.error(param.offset, message);
            continue;
        };
        let Some(name) = x.string(name_element) else {
            continue;
        };
        let value = param
            .child("value")
            .map(|v| v.text_or_empty().value)
            .unwrap_or_default();
        if params.contains_key(&name) {
            let message = format!("<init-param> \"{name}\" is declared twice");
            x.error_at(&name_element.text_or_empty(), message);
            continue;
        }
        x.record(
            &format!("websocket/init-param[{name}]"),
            &value,
            Origin::File,
        );
        params.insert(name, value);
    }
    params
}

fn timeout_min_threads(x: &mut Extractor<'_, '_>, websocket: Option<&Element>) -> usize {
    const PATH: &str = "websocket/websocket-timeout-min-threads";
    let threads = x.unsigned_or(websocket, PATH, TIMEOUT_MIN_THREADS);
    if let (0, Some(element)) = (threads, child_at(websocket, PATH)) {
        let message = "<websocket-timeout-min-threads> is 0: no thread is reserved, so idle expiry waits while the pool is saturated";
        x.warning_at(&element.text_or_empty(), message.into());
    }
    usize_of(threads)
}

fn keepalive(x: &mut Extractor<'_, '_>, websocket: Option<&Element>) -> Keepalive {
    const INTERVAL: &str = "websocket/ping-interval-in-millis";
    const PONG: &str = "websocket/pong-timeout-in-millis";
    let interval = x.unsigned_or(websocket, INTERVAL, PING_INTERVAL_MILLIS);
    let pong = x.unsigned_or(websocket, PONG, PONG_TIMEOUT_MILLIS);
    if let (0, Some(element)) = (pong, child_at(websocket, PONG)) {
        let message = "<pong-timeout-in-millis> must be at least 1 (set <ping-interval-in-millis> to 0 to turn keepalive off)";
        x.error_at(&element.text_or_empty(), message.into());
    }
    Keepalive {
        ping_interval: (interval > 0).then(|| Duration::from_millis(interval)),
        pong_timeout: Duration::from_millis(pong.max(1)),
    }
}

fn allowed_origins(x: &mut Extractor<'_, '_>, websocket: Option<&Element>) -> Vec<String> {
    const PATH: &str = "websocket/allowed-origins";
    let Some(group) = child_at(websocket, PATH) else {
        x.record(PATH, "same-origin", Origin::Default);
        return Vec::new();
    };
    if group.children.is_empty() {
        let message = "<allowed-origins> lists no <origin>, so only pages of the server's own \
                       origin are allowed, as without it (<origin>*</origin> allows every origin)";
        x.diagnostics.warning(group.offset, message);
    }
    let mut origins = Vec::new();
    for element in group.children_named("origin") {
        let Some(origin) = x.string(element) else {
            continue;
        };
        match validate_origin(&origin) {
            Ok(()) => origins.push(origin.to_ascii_lowercase()),
            Err(why) => x.error_at(
                &element.text_or_empty(),
                format!("<origin> \"{origin}\" {why}"),
            ),
        }
    }
    if origins.len() > 1 && origins.iter().any(|o| o == ANY_ORIGIN) {
        let message = "<allowed-origins> lists *, which allows every origin: the other \
                       <origin> elements change nothing";
        x.diagnostics.warning(group.offset, message);
    }
    let shown = if origins.is_empty() {
        "same-origin".to_owned()
    } else {
        origins.join(" ")
    };
    x.record(PATH, shown, Origin::File);
    origins
}

/// An `<origin>` is `*` (every origin) or `scheme://host[:port]` (RFC 6454 serialisation): no
/// path, no trailing slash, no `*` inside.
pub(crate) fn validate_origin(origin: &str) -> Result<(), &'static str> {
    if origin == ANY_ORIGIN {
        return Ok(());
    }
    if origin.contains('*') {
        return Err(
            "uses *, which allows every origin only on its own: patterns such as \
                    https://*.example.com are not supported",
        );
    }
    let Some((scheme, rest)) = origin.split_once("://") else {
        return Err("must be scheme://host[:port], such as https://example.com");
    };
    let scheme_ok = scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    if !scheme_ok || rest.is_empty() {
        return Err("must be scheme://host[:port], such as https://example.com");
    }
    if rest.contains('/') || rest.contains('?') || rest.contains('#') {
        return Err("must not have a path, query or trailing slash (browsers send none)");
    }
    if let Some((_, port)) = rest.rsplit_once(':').filter(|_| !rest.ends_with(']')) {
        if port.parse::<u16>().is_err() {
            return Err("has a port that is not a number from 0 to 65535");
        }
    }
    Ok(())
}

/// `redeploy-policy` (`close` or `drain`) and, for `drain`, `drain-timeout-in-millis`.
fn redeploy_policy(x: &mut Extractor<'_, '_>, websocket: Option<&Element>) -> RedeployPolicy {
    const POLICY: &str = "websocket/redeploy-policy";
    const TIMEOUT: &str = "websocket/drain-timeout-in-millis";
    let millis = x.unsigned_or(websocket, TIMEOUT, DRAIN_TIMEOUT_MILLIS);
    let drain = RedeployPolicy::Drain {
        timeout: Duration::from_millis(millis),
    };
    let Some(element) = child_at(websocket, POLICY) else {
        x.record(POLICY, "close", Origin::Default);
        return RedeployPolicy::Close;
    };
    let Some(text) = x.string(element) else {
        return RedeployPolicy::Close;
    };
    match text.as_str() {
        "close" => {
            x.record(POLICY, "close", Origin::File);
            RedeployPolicy::Close
        }
        "drain" => {
            x.record(POLICY, "drain", Origin::File);
            drain
        }
        other => {
            let message = format!("<redeploy-policy> \"{other}\" must be close or drain");
            x.error_at(&element.text_or_empty(), message);
            RedeployPolicy::Close
        }
    }
}

fn max_sessions(x: &mut Extractor<'_, '_>, websocket: Option<&Element>) -> Option<usize> {
    const PATH: &str = "websocket/max-sessions";
    let Some(element) = child_at(websocket, PATH) else {
        x.record(PATH, "unlimited", Origin::Default);
        return None;
    };
    let limit = x.unsigned(element)?;
    if limit == 0 {
        let message = "<max-sessions> must be at least 1; leave it out for no limit";
        x.error_at(&element.text_or_empty(), message.into());
        return None;
    }
    x.record(PATH, limit, Origin::File);
    Some(usize_of(limit))
}
