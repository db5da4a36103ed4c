//! The auction sample's contract, against the mock host.

use auction::PLUGIN;
use endpoint_api::CloseCause;
use endpoint_api::mock::MockHost;

fn texts(host: &MockHost, session: &endpoint_api::Session) -> Vec<String> {
    host.sent_texts(session.id())
}

#[test]
fn a_handshake_without_a_user_is_refused_with_403_a_body_and_a_header() {
    let host = MockHost::deploy(&PLUGIN).expect("deployed");
    for url in ["/auctions/lamp", "/auctions/lamp?user="] {
        let refused = host.connect(url).expect_err("refused");
        assert_eq!(refused.status(), 403);
        assert_eq!(refused.header("x-auction-requires"), Some("user"));
        assert!(refused.body().contains("?user=NAME"));
    }
    assert!(host.context().sessions().expect("sessions").is_empty());
}

#[test]
fn bids_above_the_high_are_announced_to_the_items_bidders_only() {
    let host = MockHost::deploy(&PLUGIN).expect("deployed");
    let ann = host.connect("/auctions/lamp?user=ann").expect("ann");
    let bob = host.connect("/auctions/lamp?user=bob").expect("bob");
    let cy = host.connect("/auctions/vase?user=cy").expect("cy");
    host.text(&ann, "bid 5");
    host.text(&bob, "bid 5");
    host.text(&bob, "bid 7");
    let late = host.connect("/auctions/lamp?user=dee").expect("dee");
    assert_eq!(
        texts(&host, &ann),
        ["high none 0", "new-high ann 5", "new-high bob 7"]
    );
    assert_eq!(
        texts(&host, &bob),
        [
            "high none 0",
            "new-high ann 5",
            "rejected",
            "new-high bob 7"
        ]
    );
    assert_eq!(texts(&host, &cy), ["high none 0"], "another item");
    assert_eq!(texts(&host, &late), ["high bob 7"]);
}

#[test]
fn malformed_bids_are_rejected() {
    let host = MockHost::deploy(&PLUGIN).expect("deployed");
    let ann = host.connect("/auctions/lamp?user=ann").expect("ann");
    for bad in ["bid", "bid x", "offer 5", "bid -1", "bid 0"] {
        host.text(&ann, bad);
    }
    assert_eq!(texts(&host, &ann)[1..], ["rejected"; 5]);
    assert!(ann.is_open(), "a bad bid does not end the session");
}

#[test]
fn every_departure_tells_the_others_who_left() {
    let host = MockHost::deploy(&PLUGIN).expect("deployed");
    let ann = host.connect("/auctions/lamp?user=ann").expect("ann");
    let causes = [
        CloseCause::RemoteClose,
        CloseCause::ConnectionLost,
        CloseCause::PongTimeout,
        CloseCause::IdleTimeout,
        CloseCause::Shutdown,
    ];
    for cause in causes {
        let bob = host.connect("/auctions/lamp?user=bob").expect("bob");
        host.close(&bob, cause);
        assert_eq!(
            texts(&host, &ann).last().map(String::as_str),
            Some("left bob")
        );
        assert_eq!(texts(&host, &bob), ["high none 0"], "not told of itself");
    }
    let elsewhere = host.connect("/auctions/vase?user=cy").expect("cy");
    host.close(&ann, CloseCause::ConnectionLost);
    assert_eq!(texts(&host, &elsewhere), ["high none 0"]);
}
