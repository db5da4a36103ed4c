//! What differs between two readings of `server.xml`, setting by setting, and whether a
//! running server can apply each difference or needs a restart for it.
//!
//! Pure: the caller (SIGHUP in `berth run`) logs the differences and applies the live ones.
//! Live: `trusted-proxies` and `max-request-head-size` (read by the listener per
//! connection), `shutdown-grace-in-millis` (read when shutdown starts) and the two
//! `deploy-*` settings (read by the watcher and at each look). Everything else is bound
//! into something built once at start (the listening socket, the apps directory being
//! watched, the cookie suffix, the admin listener, the session store).

use std::time::Duration;

use super::{ServerConfig, SessionStoreKind};

/// One setting whose value differs between two readings of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingChange {
    /// The element, as written in the file (`session-store/kind`).
    pub element: &'static str,
    /// The value before, for display.
    pub old: String,
    /// The value now, for display.
    pub new: String,
    /// Whether a running server applies it; otherwise it takes effect at the next start.
    pub live: bool,
}

/// How one setting is shown.
type Show = fn(&ServerConfig) -> String;

/// Every setting: its element, whether it is live, how it is shown.
const SETTINGS: &[(&str, bool, Show)] = &[
    ("node-id", false, |c| c.node_id.clone()),
    ("listen", false, |c| c.listen.to_string()),
    ("apps-dir", false, |c| c.apps_dir.display().to_string()),
    ("trusted-proxies", true, proxies),
    ("admin", false, admin),
    ("shutdown-grace-in-millis", true, |c| {
        millis(Some(c.shutdown_grace))
    }),
    ("max-request-head-size", true, |c| {
        c.max_request_head.to_string()
    }),
    ("session-store/kind", false, store_kind),
    ("session-store/key-prefix", false, |c| {
        c.session_store.key_prefix.clone()
    }),
    ("session-store/http-session-timeout-in-millis", false, |c| {
        millis(Some(c.session_store.http_session_timeout))
    }),
    ("deploy-scan-interval-in-millis", true, |c| {
        millis(c.deploy_scan_interval)
    }),
    ("deploy-settle-time-in-millis", true, |c| {
        millis(Some(c.deploy_settle_time))
    }),
];

/// Every setting that differs from `old` to `new`, in the order of the reference.
pub fn changes(old: &ServerConfig, new: &ServerConfig) -> Vec<SettingChange> {
    SETTINGS
        .iter()
        .filter_map(|&(element, live, show)| {
            let (old, new) = (show(old), show(new));
            (old != new).then_some(SettingChange {
                element,
                old,
                new,
                live,
            })
        })
        .collect()
}

fn proxies(config: &ServerConfig) -> String {
    if config.trusted_proxies.is_empty() {
        return "none".to_owned();
    }
    let shown: Vec<String> = config
        .trusted_proxies
        .iter()
        .map(|p| p.to_string())
        .collect();
    shown.join(" ")
}

fn admin(config: &ServerConfig) -> String {
    match config.admin {
        Some(address) => address.to_string(),
        None => "disabled".to_owned(),
    }
}

/// The store, with any password in a Redis URL left out: this goes to the log.
fn store_kind(config: &ServerConfig) -> String {
    match &config.session_store.kind {
        SessionStoreKind::Memory => "memory".to_owned(),
        SessionStoreKind::Redis { url } => match url.split_once("://") {
            Some((scheme, rest)) => {
                let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
                format!("redis {scheme}://{host}")
            }
            None => "redis".to_owned(),
        },
    }
}

/// Milliseconds as written in the file; `None` is 0 (off).
fn millis(duration: Option<Duration>) -> String {
    match duration {
        Some(duration) => duration.as_millis().to_string(),
        None => "0 (off)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn only_what_differs_is_listed_with_whether_it_is_live() {
        let old = ServerConfig::defaults(Path::new("."));
        assert_eq!(changes(&old, &old), []);
        let mut new = old.clone();
        new.max_request_head = 4096;
        new.listen = "127.0.0.1:9000".parse().expect("address");
        new.deploy_scan_interval = None;
        let shown: Vec<String> = changes(&old, &new)
            .iter()
            .map(|c| format!("{} {} → {} live={}", c.element, c.old, c.new, c.live))
            .collect();
        assert_eq!(
            shown,
            [
                "listen 0.0.0.0:8080 → 127.0.0.1:9000 live=false",
                "max-request-head-size 16384 → 4096 live=true",
                "deploy-scan-interval-in-millis 5000 → 0 (off) live=true",
            ]
        );
    }

    #[test]
    fn a_redis_password_never_reaches_the_log() {
        let old = ServerConfig::defaults(Path::new("."));
        let mut new = old.clone();
        new.session_store.kind = SessionStoreKind::Redis {
            url: "redis://user:secret@10.0.0.5:6379/0".into(),
        };
        let change = &changes(&old, &new)[0];
        assert_eq!(change.new, "redis redis://10.0.0.5:6379/0");
        assert!(!change.live);
    }
}
