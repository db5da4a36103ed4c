//! Server configuration tests: every element, defaults, the server-home rule, positions.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;

fn parse_at(file: &str, text: &str) -> Parsed<ServerFile> {
    parse(Path::new(file), text)
}

fn config(inner: &str) -> ServerConfig {
    let parsed = parse_at(
        "conf/server.xml",
        &format!("<berth-server>\n{inner}\n</berth-server>"),
    );
    match parsed.value {
        Some(file) => file.config,
        None => panic!("expected a valid configuration: {:?}", parsed.diagnostics),
    }
}

fn messages(inner: &str) -> Vec<String> {
    let parsed = parse_at(
        "conf/server.xml",
        &format!("<berth-server>\n{inner}\n</berth-server>"),
    );
    parsed.diagnostics.iter().map(ToString::to_string).collect()
}

fn addr(text: &str) -> SocketAddr {
    text.parse().expect("test address")
}

#[test]
fn an_empty_file_is_every_default() {
    let home = Path::new(".");
    assert_eq!(config(""), ServerConfig::defaults(home));
    let d = ServerConfig::defaults(home);
    assert_eq!(d.node_id, "node1");
    assert_eq!(d.listen, addr("0.0.0.0:8080"));
    assert_eq!(d.admin, Some(addr("127.0.0.1:9090")));
    assert_eq!(d.apps_dir, PathBuf::from("./apps"));
    assert_eq!(d.shutdown_grace, Duration::from_secs(10));
    assert_eq!(d.session_store.kind, SessionStoreKind::Memory);
    assert_eq!(
        d.session_store.http_session_timeout,
        Duration::from_secs(1800)
    );
}

#[test]
fn the_shipped_sample_is_valid() {
    let text = include_str!("../../../../conf/server.xml");
    let parsed = parse_at("conf/server.xml", text);
    assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
    let config = parsed.value.expect("valid").config;
    assert_eq!(config.listen, addr("127.0.0.1:8080"));
    assert!(
        config.trusted_proxies.is_empty(),
        "trusting loopback lets any local process claim any client address"
    );
}

#[test]
fn relative_paths_resolve_against_the_server_home() {
    assert_eq!(
        home_of(Path::new("/srv/berth/conf/server.xml")),
        PathBuf::from("/srv/berth")
    );
    assert_eq!(home_of(Path::new("/etc/berth.xml")), PathBuf::from("/etc"));
    assert_eq!(home_of(Path::new("conf/server.xml")), PathBuf::from("."));
    assert_eq!(home_of(Path::new("server.xml")), PathBuf::from("."));
    let parsed = parse_at(
        "/srv/berth/conf/server.xml",
        "<berth-server><apps-dir>webapps</apps-dir></berth-server>",
    );
    assert_eq!(
        parsed.value.expect("valid").config.apps_dir,
        PathBuf::from("/srv/berth/webapps")
    );
    let parsed = parse_at(
        "/srv/berth/conf/server.xml",
        "<berth-server><apps-dir>/opt/apps</apps-dir></berth-server>",
    );
    assert_eq!(
        parsed.value.expect("valid").config.apps_dir,
        PathBuf::from("/opt/apps")
    );
}

#[test]
fn listen_and_node_id_take_values_and_reject_bad_ones() {
    let c = config("<listen>[::1]:9000</listen><node-id>edge-2</node-id>");
    assert_eq!(
        (c.listen, c.node_id.as_str()),
        (addr("[::1]:9000"), "edge-2")
    );
    assert_eq!(
        messages("<listen>localhost</listen>"),
        [
            "conf/server.xml:2:9: error: <listen> \"localhost\" must be IP:PORT, such as 0.0.0.0:8080 or [::1]:8080"
        ]
    );
    assert!(
        messages("<node-id>a.b</node-id>")[0].contains("may contain only letters, digits, - and _")
    );
}

#[test]
fn trusted_proxies_take_addresses_and_ranges() {
    let c = config(
        "<trusted-proxies><proxy>10.0.0.0/8</proxy><proxy>192.168.1.7</proxy><proxy>fd00::/8</proxy></trusted-proxies>",
    );
    let shown: Vec<String> = c.trusted_proxies.iter().map(ToString::to_string).collect();
    assert_eq!(shown, ["10.0.0.0/8", "192.168.1.7/32", "fd00::/8"]);
    let found = messages("<trusted-proxies><proxy>10.0.0.0/33</proxy></trusted-proxies>");
    assert_eq!(
        found,
        [
            "conf/server.xml:2:25: error: <proxy> \"10.0.0.0/33\" must be an IP address or a CIDR range, such as 10.0.0.1 or 10.0.0.0/8"
        ]
    );
}

#[test]
fn admin_can_move_or_be_disabled_and_warns_off_loopback() {
    assert_eq!(
        config("<admin><listen>127.0.0.1:0</listen></admin>").admin,
        Some(addr("127.0.0.1:0"))
    );
    assert_eq!(
        config("<admin><enabled>false</enabled></admin>").admin,
        None
    );
    let found = messages("<admin><listen>0.0.0.0:9090</listen></admin>");
    assert!(
        found[0].contains("warning: <admin> listens on 0.0.0.0:9090, beyond this machine"),
        "{found:?}"
    );
    assert!(
        messages("<admin><enabled>maybe</enabled></admin>")[0].contains("must be true or false")
    );
}

#[test]
fn shutdown_grace_takes_milliseconds() {
    assert_eq!(
        config("<shutdown-grace-in-millis>2500</shutdown-grace-in-millis>").shutdown_grace,
        Duration::from_millis(2500)
    );
    assert!(
        messages("<shutdown-grace-in-millis>-1</shutdown-grace-in-millis>")[0]
            .contains("must not be negative")
    );
}

#[test]
fn the_request_head_limit_is_bytes_within_bounds() {
    assert_eq!(
        ServerConfig::defaults(Path::new(".")).max_request_head,
        16 * 1024
    );
    assert_eq!(
        config("<max-request-head-size>8192</max-request-head-size>").max_request_head,
        8192
    );
    assert_eq!(
        messages("<max-request-head-size>1024</max-request-head-size>"),
        [
            "conf/server.xml:2:24: error: <max-request-head-size> 1024 must be between 4096 and 1048576 bytes"
        ]
    );
    assert!(
        messages("<max-request-head-size>2000000</max-request-head-size>")[0]
            .contains("must be between 4096 and 1048576")
    );
}

#[test]
fn session_store_is_memory_or_redis_with_a_url() {
    let c = config(
        "<session-store><kind>redis</kind><redis-url>redis://127.0.0.1:6379/0</redis-url><key-prefix>t:</key-prefix><http-session-timeout-in-millis>60000</http-session-timeout-in-millis></session-store>",
    );
    assert_eq!(
        c.session_store.kind,
        SessionStoreKind::Redis {
            url: "redis://127.0.0.1:6379/0".into()
        }
    );
    assert_eq!(c.session_store.key_prefix, "t:");
    assert_eq!(
        c.session_store.http_session_timeout,
        Duration::from_secs(60)
    );
    assert!(
        messages("<session-store><kind>redis</kind></session-store>")[0]
            .contains("needs a <redis-url>")
    );
    assert!(
        messages("<session-store><kind>etcd</kind></session-store>")[0]
            .contains("must be memory or redis")
    );
    assert!(
        messages(
            "<session-store><kind>redis</kind><redis-url>http://x</redis-url></session-store>"
        )[0]
        .contains("must start with redis://")
    );
    assert!(
        messages("<session-store><redis-url>redis://x</redis-url></session-store>")[0]
            .contains("warning: <redis-url> is ignored")
    );
}

#[test]
fn unknown_and_duplicated_elements_are_errors_with_suggestions() {
    assert_eq!(
        messages("<lisen>127.0.0.1:1</lisen>"),
        [
            "conf/server.xml:2:1: error: unknown element <lisen> in <berth-server>; did you mean <listen>?"
        ]
    );
    assert!(
        messages("<listen>127.0.0.1:1</listen><listen>127.0.0.1:2</listen>")[0]
            .contains("appears more than once")
    );
}

#[test]
fn watching_the_apps_directory_has_an_interval_that_zero_turns_off_and_a_settle_time() {
    let d = ServerConfig::defaults(Path::new("."));
    assert_eq!(d.deploy_scan_interval, Some(Duration::from_secs(5)));
    assert_eq!(d.deploy_settle_time, Duration::from_secs(1));
    let c = config(
        "<deploy-scan-interval-in-millis>0</deploy-scan-interval-in-millis><deploy-settle-time-in-millis>250</deploy-settle-time-in-millis>",
    );
    assert_eq!(c.deploy_scan_interval, None);
    assert_eq!(c.deploy_settle_time, Duration::from_millis(250));
    assert_eq!(
        config("<deploy-scan-interval-in-millis>2000</deploy-scan-interval-in-millis>")
            .deploy_scan_interval,
        Some(Duration::from_secs(2))
    );
    assert_eq!(
        messages("<deploy-scan-interval-in-millis>10</deploy-scan-interval-in-millis>"),
        [
            "conf/server.xml:2:33: error: <deploy-scan-interval-in-millis> 10 must be 0 (watching off) or at least 100"
        ]
    );
    assert!(
        messages("<deploy-settle-time-in-millis>-5</deploy-settle-time-in-millis>")[0]
            .contains("must not be negative")
    );
}
