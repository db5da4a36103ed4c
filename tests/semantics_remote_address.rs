//! `jeus.websocket.remoteAddr`, `remoteHost` and `remotePort`: proxy headers
//! believed only from trusted proxies, the right-most untrusted hop wins, and only an IP
//! address is ever reported (`unknown` or an obfuscated hop: no properties; anything else: the
//! socket peer).

use berth_tests::apps::{Apps, descriptor};
use berth_tests::client::{Ws, recv_text, send_text};
use berth_tests::server::Berth;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

async fn connect_with(berth: &Berth, headers: &[(&'static str, &'static str)]) -> (Ws, u16) {
    let mut request = berth.url("/probe/").into_client_request().expect("request");
    for (name, value) in headers {
        request
            .headers_mut()
            .append(*name, HeaderValue::from_static(value));
    }
    let (ws, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("connect");
    let local_port = match ws.get_ref() {
        tokio_tungstenite::MaybeTlsStream::Plain(tcp) => {
            tcp.local_addr().expect("local addr").port()
        }
        _ => 0,
    };
    (ws, local_port)
}

async fn properties(ws: &mut Ws) -> (String, String, String) {
    let mut ask = async |key: &str| {
        send_text(ws, &format!("prop:jeus.websocket.{key}")).await;
        recv_text(ws).await
    };
    (
        ask("remoteAddr").await,
        ask("remoteHost").await,
        ask("remotePort").await,
    )
}

fn probe_apps(label: &str) -> Apps {
    let apps = Apps::new(label);
    apps.context("probe", "probe", &descriptor(""));
    apps
}

#[tokio::test]
async fn without_trusted_proxies_the_socket_is_the_client_and_headers_are_ignored() {
    let apps = probe_apps("remote-untrusted");
    let berth = Berth::start(&apps);
    let (mut ws, port) = connect_with(
        &berth,
        &[
            ("x-forwarded-for", "203.0.113.7"),
            ("forwarded", "for=198.51.100.1"),
        ],
    )
    .await;
    let (addr, host, remote_port) = properties(&mut ws).await;
    assert_eq!(
        (addr.as_str(), host.as_str()),
        ("\"127.0.0.1\"", "\"127.0.0.1\"")
    );
    assert_eq!(remote_port, format!("\"{port}\""));
}

/// A server that trusts every loopback peer as a proxy (the tests are their own proxy).
fn behind_trusted_proxy(apps: &Apps) -> Berth {
    let conf = apps.server_conf("<trusted-proxies><proxy>127.0.0.0/8</proxy></trusted-proxies>");
    Berth::start_with(apps, &["--conf", conf.to_str().expect("utf-8 path")])
}

#[tokio::test]
async fn a_trusted_proxy_is_believed() {
    let apps = probe_apps("remote-trusted");
    let berth = behind_trusted_proxy(&apps);

    let (mut ws, _) = connect_with(
        &berth,
        &[
            ("x-forwarded-for", "6.6.6.6, 203.0.113.7, 127.0.0.2"),
            ("x-forwarded-port", "5555"),
        ],
    )
    .await;
    // 6.6.6.6 was written by the client itself: 203.0.113.7 is the right-most untrusted hop.
    let (addr, _, port) = properties(&mut ws).await;
    assert_eq!(
        (addr.as_str(), port.as_str()),
        ("\"203.0.113.7\"", "none"),
        "X-Forwarded-Port belongs to the client-most hop"
    );

    let (mut ws, _) = connect_with(
        &berth,
        &[
            ("x-forwarded-for", "203.0.113.7"),
            ("x-forwarded-port", "5555"),
        ],
    )
    .await;
    let (addr, host, port) = properties(&mut ws).await;
    assert_eq!(
        (addr.as_str(), host.as_str(), port.as_str()),
        ("\"203.0.113.7\"", "\"203.0.113.7\"", "\"5555\"")
    );

    let (mut ws, _) = connect_with(
        &berth,
        &[("forwarded", "for=\"[2001:db8::1]:4711\";proto=http")],
    )
    .await;
    let (addr, _, port) = properties(&mut ws).await;
    assert_eq!(
        (addr.as_str(), port.as_str()),
        ("\"2001:db8::1\"", "\"4711\"")
    );

    let (mut ws, _) = connect_with(&berth, &[("forwarded", "for=192.0.2.60")]).await;
    let (addr, _, port) = properties(&mut ws).await;
    assert_eq!(
        (addr.as_str(), port.as_str()),
        ("\"192.0.2.60\"", "none"),
        "no port in the header: no remotePort"
    );
}

#[tokio::test]
async fn a_trusted_proxys_hop_that_is_not_an_address_is_not_believed() {
    let apps = probe_apps("remote-garbage");
    let berth = behind_trusted_proxy(&apps);
    for header in [
        ("x-forwarded-for", "<script>alert(1)</script>"),
        ("x-forwarded-for", "999.1.1.1"),
        ("x-forwarded-for", "203.0.113.7, client.example.com"),
        ("forwarded", "for=\"<script>alert(1)</script>\""),
        ("forwarded", "for=999.1.1.1"),
    ] {
        let (mut ws, port) = connect_with(&berth, &[header]).await;
        let (addr, host, remote_port) = properties(&mut ws).await;
        assert_eq!(
            (addr.as_str(), host.as_str(), remote_port),
            ("\"127.0.0.1\"", "\"127.0.0.1\"", format!("\"{port}\"")),
            "{header:?}: the socket peer is the client"
        );
    }
}

#[tokio::test]
async fn a_trusted_proxy_that_hides_the_client_leaves_no_address() {
    let apps = probe_apps("remote-hidden");
    let berth = behind_trusted_proxy(&apps);
    for header in [
        ("x-forwarded-for", "unknown"),
        ("x-forwarded-for", "_hidden"),
        ("forwarded", "for=unknown"),
        ("forwarded", "for=\"_hidden:_port\""),
    ] {
        let (mut ws, _) = connect_with(&berth, &[header, ("x-forwarded-port", "5555")]).await;
        let found = properties(&mut ws).await;
        assert_eq!(
            found,
            ("none".into(), "none".into(), "none".into()),
            "{header:?}: no remote-address property at all"
        );
    }
}

/// What `Session::remote_addr` (the handshake's client) says on a connection with `headers`.
async fn handshake_client(berth: &Berth, headers: &[(&'static str, &'static str)]) -> String {
    let (mut ws, port) = connect_with(berth, headers).await;
    send_text(&mut ws, "remote").await;
    recv_text(&mut ws).await.replace(&port.to_string(), "PORT")
}

#[tokio::test]
async fn the_handshake_names_the_same_client_as_the_properties() {
    let apps = probe_apps("remote-handshake-untrusted");
    let berth = Berth::start(&apps);
    let spoof = [("x-forwarded-for", "203.0.113.7")];
    assert_eq!(handshake_client(&berth, &spoof).await, "127.0.0.1:PORT");
    drop(berth);

    let apps = probe_apps("remote-handshake-trusted");
    let berth = behind_trusted_proxy(&apps);
    for (headers, expected) in [
        (
            &[
                ("x-forwarded-for", "203.0.113.7"),
                ("x-forwarded-port", "5555"),
            ][..],
            "203.0.113.7:5555",
        ),
        (
            &[("forwarded", "for=\"[2001:db8::1]:4711\"")][..],
            "[2001:db8::1]:4711",
        ),
        (&[("forwarded", "for=192.0.2.60")][..], "192.0.2.60"),
        (&[("forwarded", "for=unknown")][..], "none"),
        (&[("x-forwarded-for", "999.1.1.1")][..], "127.0.0.1:PORT"),
    ] {
        assert_eq!(
            handshake_client(&berth, headers).await,
            expected,
            "{headers:?}"
        );
    }
}
