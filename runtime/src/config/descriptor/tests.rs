//! Descriptor tests: every element's default, a valid value and each invalid form; the JEUS
//! clamps; the JEUS manual's example; exact positions.

use std::path::Path;
use std::time::Duration;

use super::*;
use crate::config::{Origin, Severity};

const SEED_EXAMPLE: &str = include_str!("testdata/jeus-seed-example.xml");

fn parse_text(text: &str) -> Parsed<Descriptor> {
    parse(Path::new("dd.xml"), text)
}

/// Wraps `inner` in a `<websocket>` section; the section's content starts on line 3.
fn websocket(inner: &str) -> String {
    format!(
        "<jeus-web-dd xmlns=\"{NAMESPACE}\" version=\"8.0\">\n<websocket>\n{inner}\n</websocket>\n</jeus-web-dd>\n"
    )
}

fn settings(inner: &str) -> ContextSettings {
    let parsed = parse_text(&websocket(inner));
    let problems: Vec<String> = parsed.diagnostics.iter().map(ToString::to_string).collect();
    match parsed.value {
        Some(descriptor) => descriptor.settings,
        None => panic!("expected a valid descriptor, got {problems:?}"),
    }
}

fn messages(text: &str) -> Vec<String> {
    parse_text(text)
        .diagnostics
        .iter()
        .map(ToString::to_string)
        .collect()
}

fn errors(inner: &str) -> Vec<String> {
    let parsed = parse_text(&websocket(inner));
    assert!(parsed.value.is_none(), "expected an error for {inner}");
    parsed
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(ToString::to_string)
        .collect()
}

fn warnings(inner: &str) -> Vec<String> {
    let parsed = parse_text(&websocket(inner));
    assert!(
        parsed.value.is_some(),
        "expected no error for {inner}: {:?}",
        parsed.diagnostics
    );
    parsed.diagnostics.iter().map(ToString::to_string).collect()
}

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

#[test]
fn the_seed_example_is_accepted_unchanged_and_equals_the_defaults() {
    let parsed = parse_text(SEED_EXAMPLE);
    assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
    let mut expected = ContextSettings::default();
    expected.init_params.insert("name".into(), "value".into());
    assert_eq!(parsed.value.expect("valid").settings, expected);
}

#[test]
fn an_empty_descriptor_and_a_bare_root_mean_every_default() {
    for text in ["<jeus-web-dd/>", "<jeus-web-dd><websocket/></jeus-web-dd>"] {
        let parsed = parse_text(text);
        assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
        assert_eq!(
            parsed.value.expect("valid").settings,
            ContextSettings::default()
        );
    }
}

#[test]
fn defaults_are_the_jeus_values() {
    let d = ContextSettings::default();
    assert_eq!((d.limits.text, d.limits.binary), (8192, 8192));
    assert_eq!(d.idle.timeout, Some(ms(1_800_000)));
    assert_eq!(d.idle.monitoring_period, ms(300_000));
    assert!(!d.idle.counts_control_frames);
    assert_eq!(d.send.blocking, Some(ms(10_000)));
    assert_eq!(d.send.asynchronous, Some(ms(30_000)));
    let e = d.executor;
    assert_eq!(
        (e.min_threads, e.max_threads, e.keep_alive, e.queue_size),
        (10, 30, ms(60_000), 4096)
    );
    assert_eq!(
        (d.distributed.enabled, d.distributed.write_through),
        (false, false)
    );
    assert!(d.init_params.is_empty());
    assert_eq!(d.batching_buffer_size, 655_536);
    assert_eq!(d.timeout_min_threads, 1);
    assert_eq!(d.keepalive.ping_interval, Some(ms(25_000)));
    assert_eq!(d.keepalive.pong_timeout, ms(10_000));
    assert!(d.allowed_origins.is_empty());
    assert_eq!(
        (
            d.max_sessions,
            d.context_path.clone(),
            d.endpoint_library.clone()
        ),
        (None, None, None)
    );
}

#[test]
fn every_size_element_takes_a_value_and_rejects_bad_ones() {
    type Get = fn(&ContextSettings) -> u64;
    let cases: [(&str, Get); 7] = [
        ("max-incoming-binary-message-buffer-size", |s| {
            s.limits.binary as u64
        }),
        ("max-incoming-text-message-buffer-size", |s| {
            s.limits.text as u64
        }),
        ("batching-buffer-size", |s| s.batching_buffer_size as u64),
        ("websocket-timeout-min-threads", |s| {
            s.timeout_min_threads as u64
        }),
        ("ping-interval-in-millis", |s| {
            s.keepalive
                .ping_interval
                .map_or(0, |d| d.as_millis() as u64)
        }),
        ("pong-timeout-in-millis", |s| {
            s.keepalive.pong_timeout.as_millis() as u64
        }),
        ("max-sessions", |s| s.max_sessions.map_or(0, |n| n as u64)),
    ];
    for (name, get) in cases {
        assert_eq!(
            get(&settings(&format!("<{name}>4321</{name}>"))),
            4321,
            "{name}"
        );
        let found = errors(&format!("<{name}>12k</{name}>"));
        assert_eq!(
            found,
            [format!(
                "dd.xml:3:{}: error: <{name}> must be a whole number, found \"12k\"",
                name.len() + 3
            )]
        );
        let found = errors(&format!("<{name}>-1</{name}>"));
        assert_eq!(
            found,
            [format!(
                "dd.xml:3:{}: error: <{name}> must not be negative, found -1",
                name.len() + 3
            )]
        );
        let found = errors(&format!("<{name}>1</{name}><{name}>2</{name}>"));
        assert!(found[0].contains("appears more than once"), "{found:?}");
    }
}

#[test]
fn every_executor_element_takes_a_value() {
    let s = settings(
        "<websocket-executor><min>3</min><max>7</max><keep-alive-time>500</keep-alive-time><queue-size>9</queue-size></websocket-executor>",
    );
    let e = s.executor;
    assert_eq!(
        (e.min_threads, e.max_threads, e.keep_alive, e.queue_size),
        (3, 7, ms(500), 9)
    );
    for name in ["min", "max", "keep-alive-time", "queue-size"] {
        let found = errors(&format!(
            "<websocket-executor><{name}>x</{name}></websocket-executor>"
        ));
        assert!(
            found[0].contains(&format!("<{name}> must be a whole number")),
            "{found:?}"
        );
    }
}

#[test]
fn executor_min_above_max_is_an_error_at_min() {
    let found = errors("<websocket-executor><min>40</min><max>30</max></websocket-executor>");
    assert_eq!(
        found,
        ["dd.xml:3:26: error: <websocket-executor> <min> 40 is greater than <max> 30"]
    );
    // Against the default max of 30, too.
    let found = errors("<websocket-executor><min>31</min></websocket-executor>");
    assert!(
        found[0].contains("<min> 31 is greater than <max> 30"),
        "{found:?}"
    );
}

#[test]
fn executor_zero_max_and_zero_queue_are_errors() {
    assert!(
        errors("<websocket-executor><min>0</min><max>0</max></websocket-executor>")[0]
            .contains("<max> must be at least 1")
    );
    assert!(
        errors("<websocket-executor><queue-size>0</queue-size></websocket-executor>")[0]
            .contains("<queue-size> must be at least 1")
    );
    assert_eq!(
        settings("<websocket-executor><min>0</min></websocket-executor>")
            .executor
            .min_threads,
        0
    );
}

#[test]
fn idle_timeout_clamps_below_one_second_and_zero_or_negative_mean_never() {
    assert_eq!(
        settings("<max-session-idle-timeout-in-millis>5000</max-session-idle-timeout-in-millis>")
            .idle
            .timeout,
        Some(ms(5000))
    );
    assert_eq!(
        settings("<max-session-idle-timeout-in-millis>1000</max-session-idle-timeout-in-millis>")
            .idle
            .timeout,
        Some(ms(1000))
    );
    let inner = "<max-session-idle-timeout-in-millis>500</max-session-idle-timeout-in-millis>";
    assert_eq!(settings(inner).idle.timeout, Some(ms(1000)));
    assert_eq!(
        warnings(inner),
        [
            "dd.xml:3:37: warning: <max-session-idle-timeout-in-millis> 500 is below the minimum; 1000 is used instead"
        ]
    );
    assert_eq!(
        settings("<max-session-idle-timeout-in-millis>0</max-session-idle-timeout-in-millis>")
            .idle
            .timeout,
        None
    );
    let inner = "<max-session-idle-timeout-in-millis>-1</max-session-idle-timeout-in-millis>";
    assert_eq!(settings(inner).idle.timeout, None);
    assert!(warnings(inner)[0].contains("a negative timeout means never"));
    assert!(
        errors("<max-session-idle-timeout-in-millis>soon</max-session-idle-timeout-in-millis>")[0]
            .contains("must be a whole number")
    );
}

#[test]
fn monitoring_period_below_one_second_is_one_second() {
    assert_eq!(
        settings("<monitoring-period-in-millis>2500</monitoring-period-in-millis>")
            .idle
            .monitoring_period,
        ms(2500)
    );
    for written in ["999", "0", "-5"] {
        let inner = format!("<monitoring-period-in-millis>{written}</monitoring-period-in-millis>");
        assert_eq!(settings(&inner).idle.monitoring_period, ms(1000));
        assert_eq!(
            warnings(&inner),
            [format!(
                "dd.xml:3:30: warning: <monitoring-period-in-millis> {written} is below the minimum; 1000 is used instead"
            )]
        );
    }
}

#[test]
fn a_clamp_is_shown_in_the_effective_settings_with_both_values() {
    let parsed = parse_text(&websocket(
        "<monitoring-period-in-millis>10</monitoring-period-in-millis>",
    ));
    let effective = parsed.value.expect("valid").effective;
    let row = effective
        .iter()
        .find(|r| r.path == "websocket/monitoring-period-in-millis")
        .expect("row");
    assert_eq!(
        row.to_string(),
        "websocket/monitoring-period-in-millis = 1000  (adjusted from 10)"
    );
    let defaulted = effective
        .iter()
        .find(|r| r.path == "websocket/batching-buffer-size")
        .expect("row");
    assert_eq!(defaulted.origin, Origin::Default);
}

#[test]
fn send_timeouts_take_values_and_non_positive_means_never() {
    let s = settings(
        "<blocking-send-timeout-in-millis>1500</blocking-send-timeout-in-millis><async-send-timeout-in-millis>2500</async-send-timeout-in-millis>",
    );
    assert_eq!(
        (s.send.blocking, s.send.asynchronous),
        (Some(ms(1500)), Some(ms(2500)))
    );
    let s = settings(
        "<blocking-send-timeout-in-millis>0</blocking-send-timeout-in-millis><async-send-timeout-in-millis>-1</async-send-timeout-in-millis>",
    );
    assert_eq!((s.send.blocking, s.send.asynchronous), (None, None));
    assert!(
        errors("<async-send-timeout-in-millis>1.5</async-send-timeout-in-millis>")[0]
            .contains("must be a whole number")
    );
}

#[test]
fn booleans_take_values_and_reject_others() {
    let s = settings(
        "<distributed-userProperties><enabled>true</enabled><use-write-through-policy>1</use-write-through-policy></distributed-userProperties><idle-counts-control-frames>true</idle-counts-control-frames>",
    );
    assert!(s.distributed.enabled && s.distributed.write_through && s.idle.counts_control_frames);
    for (group, name) in [
        ("distributed-userProperties", "enabled"),
        ("distributed-userProperties", "use-write-through-policy"),
    ] {
        let found = errors(&format!("<{group}><{name}>yes</{name}></{group}>"));
        assert!(
            found[0].contains(&format!("<{name}> must be true or false, found \"yes\"")),
            "{found:?}"
        );
    }
    assert!(
        errors("<idle-counts-control-frames>on</idle-counts-control-frames>")[0]
            .contains("must be true or false")
    );
}

#[test]
fn permessage_deflate_is_on_by_default_and_can_be_turned_off() {
    assert!(settings("").permessage_deflate);
    assert!(settings("<permessage-deflate>true</permessage-deflate>").permessage_deflate);
    assert!(!settings("<permessage-deflate>false</permessage-deflate>").permessage_deflate);
    assert!(
        errors("<permessage-deflate>gzip</permessage-deflate>")[0]
            .contains("<permessage-deflate> must be true or false")
    );
}

#[test]
fn init_params_are_collected_and_checked() {
    let s = settings(
        "<init-param><name>a</name><value>1</value></init-param><init-param><name>b</name><value/></init-param>",
    );
    assert_eq!(s.init_params.get("a").map(String::as_str), Some("1"));
    assert_eq!(s.init_params.get("b").map(String::as_str), Some(""));
    let found =
        errors("<init-param><name>a</name></init-param>\n<init-param><name>a</name></init-param>");
    assert_eq!(
        found,
        ["dd.xml:4:19: error: <init-param> \"a\" is declared twice"]
    );
    assert_eq!(
        errors("<init-param><value>1</value></init-param>"),
        ["dd.xml:3:1: error: <init-param> needs a <name>"]
    );
    assert!(
        errors("<init-param><name>a</name><nmae>b</nmae></init-param>")[0]
            .contains("did you mean <name>?")
    );
}

#[test]
fn context_path_is_read_at_the_root_and_validated() {
    let text = "<jeus-web-dd><context-path>/api/ws</context-path></jeus-web-dd>";
    assert_eq!(
        parse_text(text)
            .value
            .expect("valid")
            .settings
            .context_path
            .as_deref(),
        Some("/api/ws")
    );
    let text = "<jeus-web-dd><context-path>/</context-path></jeus-web-dd>";
    assert_eq!(
        parse_text(text)
            .value
            .expect("valid")
            .settings
            .context_path
            .as_deref(),
        Some("/")
    );
    for (path, why) in [
        ("api", "must start with /"),
        ("/api/", "must not end with /"),
        ("/a//b", "must not contain empty"),
        ("/a/../b", "must not contain empty, . or .."),
        ("/a b", "may contain only"),
        ("/rooms/{room}", "may contain only"),
    ] {
        let found = messages(&format!(
            "<jeus-web-dd><context-path>{path}</context-path></jeus-web-dd>"
        ));
        assert!(
            found[0].starts_with(&format!(
                "dd.xml:1:28: error: <context-path> \"{path}\" {why}"
            )),
            "{found:?}"
        );
    }
}

#[test]
fn endpoint_library_must_stay_inside_the_context() {
    let s = settings("<endpoint-library>lib/libecho.so</endpoint-library>");
    assert_eq!(
        s.endpoint_library.as_deref(),
        Some(Path::new("lib/libecho.so"))
    );
    for bad in ["/usr/lib/x.so", "../other/x.so"] {
        let found = errors(&format!("<endpoint-library>{bad}</endpoint-library>"));
        assert!(
            found[0].contains("must be a relative path inside the context directory"),
            "{found:?}"
        );
    }
}

#[test]
fn allowed_origins_are_validated_and_lower_cased() {
    let s = settings(
        "<allowed-origins><origin>https://Example.com</origin><origin>http://localhost:8080</origin><origin>http://[::1]:3000</origin></allowed-origins>",
    );
    assert_eq!(
        s.allowed_origins,
        [
            "https://example.com",
            "http://localhost:8080",
            "http://[::1]:3000"
        ]
    );
    for (bad, why) in [
        ("example.com", "must be scheme://host[:port]"),
        ("https://example.com/", "must not have a path"),
        ("https://example.com:http", "port that is not a number"),
        ("https://*.example.com", "patterns such as"),
        ("**", "patterns such as"),
    ] {
        let found = errors(&format!(
            "<allowed-origins><origin>{bad}</origin></allowed-origins>"
        ));
        assert!(found[0].contains(why), "{bad}: {found:?}");
    }
    assert!(warnings("<allowed-origins/>")[0].contains("only pages of the server's own origin"));
}

#[test]
fn a_star_origin_allows_every_origin_and_makes_the_others_redundant() {
    let star = "<allowed-origins><origin>*</origin></allowed-origins>";
    assert_eq!(settings(star).allowed_origins, ["*"]);
    assert!(warnings(star).is_empty(), "{:?}", warnings(star));
    let mixed =
        "<allowed-origins><origin>https://a.example</origin><origin>*</origin></allowed-origins>";
    assert!(warnings(mixed)[0].contains("the other <origin> elements change nothing"));
}

#[test]
fn max_sessions_zero_is_an_error() {
    assert!(errors("<max-sessions>0</max-sessions>")[0].contains("leave it out for no limit"));
}

#[test]
fn keepalive_zero_interval_disables_pings_and_zero_pong_timeout_is_an_error() {
    assert_eq!(
        settings("<ping-interval-in-millis>0</ping-interval-in-millis>")
            .keepalive
            .ping_interval,
        None
    );
    assert!(
        errors("<pong-timeout-in-millis>0</pong-timeout-in-millis>")[0]
            .contains("must be at least 1")
    );
}

#[test]
fn zero_limits_and_zero_timeout_threads_warn() {
    assert!(
        warnings(
            "<max-incoming-text-message-buffer-size>0</max-incoming-text-message-buffer-size>"
        )[0]
        .contains("closed with 1009")
    );
    assert!(
        warnings("<websocket-timeout-min-threads>0</websocket-timeout-min-threads>")[0]
            .contains("no thread is reserved")
    );
}

#[test]
fn unknown_elements_get_the_closest_known_name_at_their_position() {
    let found =
        errors("  <max-incoming-text-message-bufer-size>1</max-incoming-text-message-bufer-size>");
    assert_eq!(
        found,
        [
            "dd.xml:3:3: error: unknown element <max-incoming-text-message-bufer-size> in <websocket>; did you mean <max-incoming-text-message-buffer-size>?"
        ]
    );
    let found = errors("<queue-size>5</queue-size>");
    assert_eq!(
        found,
        [
            "dd.xml:3:1: error: unknown element <queue-size> in <websocket>; <queue-size> belongs inside <websocket-executor>"
        ]
    );
}

#[test]
fn every_problem_of_a_file_is_reported_not_just_the_first() {
    let found = errors(
        "<min>1</min>\n<batching-buffer-size>x</batching-buffer-size>\n<monitoring-period-in-millis>5</monitoring-period-in-millis>",
    );
    assert_eq!(found.len(), 2, "{found:?}");
    let all = messages(&websocket(
        "<min>1</min>\n<batching-buffer-size>x</batching-buffer-size>\n<monitoring-period-in-millis>5</monitoring-period-in-millis>",
    ));
    assert_eq!(all.len(), 3, "{all:?}");
    assert!(
        all[0].starts_with("dd.xml:3:1:")
            && all[1].starts_with("dd.xml:4:23:")
            && all[2].starts_with("dd.xml:5:30:"),
        "{all:?}"
    );
}

#[test]
fn servlet_only_jeus_elements_are_ignored_with_a_warning() {
    let found = messages(
        "<jeus-web-dd>\n  <session-config><timeout>30</timeout></session-config>\n</jeus-web-dd>",
    );
    assert_eq!(
        found,
        [
            "dd.xml:2:3: warning: <session-config> is ignored: a JEUS setting for servlet and JSP modules; Berth serves only WebSocket endpoints"
        ]
    );
}

#[test]
fn a_foreign_namespace_warns_and_a_wrong_root_errors() {
    let found = messages("<jeus-web-dd xmlns=\"urn:other\"/>");
    assert!(
        found[0].starts_with("dd.xml:1:14: warning: namespace \"urn:other\""),
        "{found:?}"
    );
    let found = messages("<web-app/>");
    assert_eq!(
        found,
        ["dd.xml:1:1: error: the root element is <web-app>, expected <jeus-web-dd>"]
    );
}

#[test]
fn malformed_xml_is_reported_with_its_position() {
    let found = messages("<jeus-web-dd>\n<websocket>\n<min>1</max>\n</websocket></jeus-web-dd>");
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with("dd.xml:3:") && found[0].contains("error: malformed XML"),
        "{found:?}"
    );
}

#[test]
fn text_where_children_belong_and_children_where_a_value_belongs_are_errors() {
    assert!(
        errors("<websocket-executor>10</websocket-executor>")[0]
            .contains("takes child elements, not text")
    );
    assert!(
        errors("<max-sessions><n>1</n></max-sessions>")[0]
            .contains("takes a value, not child elements")
    );
}

#[test]
fn the_redeploy_policy_is_close_or_drain_with_a_timeout() {
    use std::time::Duration;
    assert_eq!(settings("").redeploy, RedeployPolicy::Close);
    assert_eq!(
        settings("<redeploy-policy>drain</redeploy-policy>").redeploy,
        RedeployPolicy::Drain {
            timeout: Duration::from_secs(60)
        }
    );
    assert_eq!(
        settings("<redeploy-policy>drain</redeploy-policy><drain-timeout-in-millis>2500</drain-timeout-in-millis>")
            .redeploy,
        RedeployPolicy::Drain {
            timeout: Duration::from_millis(2500)
        }
    );
    assert!(
        errors("<redeploy-policy>later</redeploy-policy>")[0]
            .contains("<redeploy-policy> \"later\" must be close or drain")
    );
}
