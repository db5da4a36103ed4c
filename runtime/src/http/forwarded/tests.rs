use super::*;
use crate::http::testing::headers;

fn nets(list: &[&str]) -> Vec<IpNet> {
    list.iter().map(|n| n.parse().expect("test net")).collect()
}

const PROXY: &str = "10.0.0.5:40000";

fn proxy() -> SocketAddr {
    PROXY.parse().expect("proxy")
}

/// The client a request from `peer` names, with `trusted` proxies.
fn client(pairs: &[(&'static str, &'static str)], peer: &str, trusted: &[&str]) -> RemoteAddress {
    client_address(&headers(pairs), peer.parse().expect("peer"), &nets(trusted))
}

/// The client a request from the trusted proxy 10.0.0.5 names.
fn via_proxy(pairs: &[(&'static str, &'static str)]) -> RemoteAddress {
    client(pairs, PROXY, &["10.0.0.0/8"])
}

fn seen(addr: &str, port: Option<u16>) -> RemoteAddress {
    RemoteAddress {
        addr: Some(addr.parse().expect("test address")),
        port,
    }
}

#[test]
fn without_headers_the_socket_peer_is_the_client() {
    assert_eq!(
        client(&[], "192.0.2.9:5555", &[]),
        seen("192.0.2.9", Some(5555))
    );
    assert_eq!(
        client(&[], "[::ffff:192.0.2.9]:1", &[]),
        seen("192.0.2.9", Some(1))
    );
}

#[test]
fn headers_from_an_untrusted_peer_are_ignored() {
    let spoof = [("x-forwarded-for", "1.2.3.4"), ("forwarded", "for=1.2.3.4")];
    assert_eq!(
        client(&spoof, "192.0.2.9:5555", &["10.0.0.0/8"]),
        seen("192.0.2.9", Some(5555))
    );
}

#[test]
fn a_trusted_proxy_is_believed_for_x_forwarded_for() {
    let alone = [("x-forwarded-for", "203.0.113.7")];
    assert_eq!(via_proxy(&alone), seen("203.0.113.7", None));
    let with_port = [
        ("x-forwarded-for", "203.0.113.7"),
        ("x-forwarded-port", "51000"),
    ];
    assert_eq!(via_proxy(&with_port), seen("203.0.113.7", Some(51000)));
    let bare_v6 = [("x-forwarded-for", "2001:db8::7")];
    assert_eq!(via_proxy(&bare_v6), seen("2001:db8::7", None));
    let bracketed = [("x-forwarded-for", "[2001:db8::7]:80, 192.0.2.1:81")];
    assert_eq!(via_proxy(&bracketed), seen("192.0.2.1", Some(81)));
}

#[test]
fn the_right_most_untrusted_hop_wins() {
    // A client can prepend anything; only what trusted proxies appended is believed.
    let chain = [("x-forwarded-for", "6.6.6.6, 203.0.113.7, 10.0.0.9")];
    assert_eq!(via_proxy(&chain), seen("203.0.113.7", None));
    let all_trusted = [("x-forwarded-for", "10.0.0.1, 10.0.0.2")];
    assert_eq!(via_proxy(&all_trusted), seen("10.0.0.1", None));
}

#[test]
fn forwarded_handles_quoted_bracketed_ipv6_with_a_port() {
    let value = [(
        "forwarded",
        "for=\"[2001:db8::1]:4711\";proto=http;by=10.0.0.5",
    )];
    assert_eq!(via_proxy(&value), seen("2001:db8::1", Some(4711)));
}

#[test]
fn forwarded_wins_over_x_forwarded_for_and_spans_several_headers() {
    let both = [
        ("x-forwarded-for", "198.51.100.1"),
        ("forwarded", "for=192.0.2.60:80"),
    ];
    assert_eq!(via_proxy(&both), seen("192.0.2.60", Some(80)));
    let split = [
        ("forwarded", "for=192.0.2.43"),
        ("forwarded", "for=10.0.0.7, For=\"10.0.0.8\""),
    ];
    assert_eq!(via_proxy(&split), seen("192.0.2.43", None));
}

#[test]
fn unknown_and_obfuscated_nodes_mean_no_address() {
    for node in [
        "for=unknown",
        "for=UNKNOWN",
        "for=_hidden",
        "for=\"_a.b-c_9:_p\"",
    ] {
        let forwarded = [("forwarded", node)];
        assert_eq!(via_proxy(&forwarded), RemoteAddress::HIDDEN, "{node}");
    }
    for node in ["unknown", "_hidden", "unknown:8080"] {
        let xff = [("x-forwarded-for", node), ("x-forwarded-port", "5555")];
        assert_eq!(via_proxy(&xff), RemoteAddress::HIDDEN, "{node}");
    }
    let quoted_comma = [("forwarded", "for=\"_a,b\";by=x, for=192.0.2.1")];
    assert_eq!(via_proxy(&quoted_comma), seen("192.0.2.1", None));
}

#[test]
fn an_obfuscated_port_means_no_port() {
    let obfuscated_port = [("forwarded", "for=\"192.0.2.43:_port\"")];
    assert_eq!(via_proxy(&obfuscated_port), seen("192.0.2.43", None));
}

#[test]
fn a_hop_that_is_not_a_node_means_the_peer() {
    let peer = RemoteAddress::of_socket(proxy());
    for garbage in [
        "<script>alert(1)</script>",
        "999.1.1.1",
        "01.2.3.4",
        "client.example.com",
        "",
        "_",
        "_a b",
        "_a!",
        "192.0.2.1:0",
        "192.0.2.1:65536",
        "192.0.2.1:",
        "192.0.2.1:+80",
        "[192.0.2.1]",
        "[2001:db8::1",
        "fe80::1%eth0",
        "203.0.113.7, ",
    ] {
        let xff = HeaderValue::from_str(garbage).expect("header value");
        let mut map = HeaderMap::new();
        map.insert("x-forwarded-for", xff);
        assert_eq!(
            client_address(&map, proxy(), &nets(&["10.0.0.0/8"])),
            peer,
            "{garbage:?}"
        );
    }
    for garbage in [
        "for=\"<script>alert(1)</script>\"",
        "for=999.1.1.1",
        "for=",
        "for=\"\"",
        "for=2001:db8::1",
        "for=\"2001:db8::1\"",
        "for=\"[2001:db8::1]:99999\"",
        "for=host.example",
    ] {
        let forwarded = HeaderValue::from_str(garbage).expect("header value");
        let mut map = HeaderMap::new();
        map.insert("forwarded", forwarded);
        map.insert("x-forwarded-for", HeaderValue::from_static("203.0.113.7"));
        assert_eq!(
            client_address(&map, proxy(), &nets(&["10.0.0.0/8"])),
            peer,
            "{garbage:?}"
        );
    }
}

#[test]
fn garbage_the_client_wrote_left_of_its_hop_is_not_read() {
    let prepended = [("x-forwarded-for", "<script>, 999.1.1.1, 203.0.113.7")];
    assert_eq!(via_proxy(&prepended), seen("203.0.113.7", None));
    let own_line = [
        ("forwarded", "for=\"<script>"),
        ("forwarded", "for=203.0.113.7"),
    ];
    assert_eq!(via_proxy(&own_line), seen("203.0.113.7", None));
    // Between the client and the peer every hop is read: garbage there is not believed.
    let behind = [("x-forwarded-for", "203.0.113.7, <script>, 10.0.0.9")];
    assert_eq!(via_proxy(&behind), RemoteAddress::of_socket(proxy()));
}

#[test]
fn x_forwarded_port_must_be_a_plain_port_number() {
    for (value, port) in [
        ("443", Some(443)),
        ("00443", Some(443)),
        ("443, 80", Some(443)),
        (" 443 ", Some(443)),
        ("+443", None),
        ("0", None),
        ("65536", None),
        ("443a", None),
        ("", None),
        ("_p", None),
    ] {
        let xff = [
            ("x-forwarded-for", "203.0.113.7"),
            ("x-forwarded-port", value),
        ];
        assert_eq!(via_proxy(&xff), seen("203.0.113.7", port), "{value:?}");
    }
}

#[test]
fn a_trusted_peer_without_usable_headers_is_the_client() {
    assert_eq!(
        via_proxy(&[("forwarded", "proto=https")]),
        seen("10.0.0.5", Some(40000))
    );
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn trusted() -> Vec<IpNet> {
        nets(&["10.0.0.0/8"])
    }

    fn untrusted_ip() -> impl Strategy<Value = IpAddr> {
        any::<IpAddr>().prop_filter("not a trusted proxy", |ip| {
            !trusted().iter().any(|net| net.contains(&ip.to_canonical()))
        })
    }

    proptest! {
        #[test]
        fn an_untrusted_peer_is_always_the_client(
            forwarded in "[ -~]{0,80}",
            xff in "[ -~]{0,80}",
            port in "[ -~]{0,8}",
        ) {
            let peer: SocketAddr = "192.0.2.9:7".parse().expect("peer");
            let map = headers(&[("forwarded", &forwarded), ("x-forwarded-for", &xff), ("x-forwarded-port", &port)]);
            prop_assert_eq!(client_address(&map, peer, &trusted()), RemoteAddress::of_socket(peer));
        }

        #[test]
        fn a_trusted_peer_yields_an_ip_or_nothing_and_never_port_zero(
            forwarded in "[ -~]{0,80}",
            xff in "[ -~]{0,80}",
            port in "[ -~]{0,8}",
        ) {
            let map = headers(&[("forwarded", &forwarded), ("x-forwarded-for", &xff), ("x-forwarded-port", &port)]);
            let found = client_address(&map, proxy(), &trusted());
            if let Some(addr) = found.addr {
                // What becomes remoteAddr always reads back as the same IP address.
                prop_assert_eq!(addr.to_string().parse::<IpAddr>().ok(), Some(addr));
            }
            prop_assert!(found.addr.is_some() || found.port.is_none());
            prop_assert_ne!(found.port, Some(0));
        }

        #[test]
        fn any_ip_a_trusted_proxy_names_is_the_client(ip in untrusted_ip(), port in 1u16..) {
            let xff = headers(&[("x-forwarded-for", &ip.to_string()), ("x-forwarded-port", &port.to_string())]);
            let expected = RemoteAddress { addr: Some(ip.to_canonical()), port: Some(port) };
            prop_assert_eq!(client_address(&xff, proxy(), &trusted()), expected.clone());
            let forwarded = headers(&[("forwarded", &format!("for=\"{}\"", SocketAddr::new(ip, port)))]);
            prop_assert_eq!(client_address(&forwarded, proxy(), &trusted()), expected);
        }

        #[test]
        fn what_a_client_writes_before_the_proxy_hop_changes_nothing(written in "[ -~]{0,80}") {
            let expected = seen("203.0.113.7", None);
            let xff = headers(&[("x-forwarded-for", &written), ("x-forwarded-for", "203.0.113.7")]);
            prop_assert_eq!(client_address(&xff, proxy(), &trusted()), expected.clone());
            let forwarded = headers(&[("forwarded", &written), ("forwarded", "for=203.0.113.7")]);
            prop_assert_eq!(client_address(&forwarded, proxy(), &trusted()), expected);
        }

        #[test]
        fn a_hop_with_markup_from_a_trusted_proxy_means_the_peer(
            before in "[ -+--~]{0,20}",
            after in "[ -+--~]{0,20}",
        ) {
            let hop = format!("{before}<{after}");
            let xff = headers(&[("x-forwarded-for", &hop)]);
            prop_assert_eq!(client_address(&xff, proxy(), &trusted()), RemoteAddress::of_socket(proxy()));
        }
    }
}
