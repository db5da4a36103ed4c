//! Property tests: no input, however hostile, makes a configuration parser panic, and every
//! reported position lies inside the file.

use std::path::Path;

use proptest::prelude::*;

use super::{Diagnostic, descriptor, server};

const NAMES: &[&str] = &[
    "jeus-web-dd",
    "websocket",
    "berth-server",
    "websocket-executor",
    "min",
    "max",
    "queue-size",
    "init-param",
    "name",
    "value",
    "context-path",
    "allowed-origins",
    "origin",
    "max-session-idle-timeout-in-millis",
    "monitoring-period-in-millis",
    "listen",
    "trusted-proxies",
    "proxy",
    "session-store",
    "kind",
    "redis-url",
    "admin",
    "enabled",
    "session-config",
    "x",
    "j:websocket",
];

const TEXTS: &[&str] = &[
    "",
    "0",
    "-1",
    "999",
    "1000",
    "18446744073709551616",
    "true",
    "nope",
    " 42 ",
    "&amp;",
    "&#x1F600;",
    "&bogus;",
    "<![CDATA[7]]>",
    "/",
    "/a//b",
    "127.0.0.1:0",
    "10.0.0.0/33",
    "é",
    "\u{0}",
    "]]>",
    "<",
    "redis://x",
];

fn element() -> impl Strategy<Value = String> {
    let leaf = (prop::sample::select(NAMES), prop::sample::select(TEXTS))
        .prop_map(|(name, text)| format!("<{name}>{text}</{name}>"));
    leaf.prop_recursive(4, 64, 6, |inner| {
        (
            prop::sample::select(NAMES),
            prop::collection::vec(inner, 0..6),
            any::<bool>(),
        )
            .prop_map(|(name, children, attribute)| {
                let attribute = if attribute {
                    " version=\"8.0\" a='&lt;'"
                } else {
                    ""
                };
                format!("<{name}{attribute}>{}</{name}>", children.concat())
            })
    })
}

/// A document of known elements, then cut and spliced at random places.
fn xml_shaped() -> impl Strategy<Value = String> {
    (
        element(),
        any::<prop::sample::Index>(),
        any::<prop::sample::Index>(),
        ".{0,3}",
    )
        .prop_map(|(mut text, cut, splice, insert)| {
            if !text.is_empty() {
                let mut at = splice.index(text.len());
                while !text.is_char_boundary(at) {
                    at -= 1;
                }
                text.insert_str(at, &insert);
                let mut end = text.len() - cut.index(text.len() / 4 + 1);
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                text.truncate(end);
            }
            text
        })
}

fn assert_positions_inside(text: &str, diagnostics: &[Diagnostic]) {
    let lines = u32::try_from(text.split('\n').count()).unwrap_or(u32::MAX);
    for diagnostic in diagnostics {
        if let Some(at) = diagnostic.position {
            assert!(
                at.line >= 1 && at.line <= lines && at.column >= 1,
                "{diagnostic} in {text:?}"
            );
        }
    }
}

fn parse_both(text: &str) {
    let parsed = descriptor::parse(Path::new("f.xml"), text);
    assert_positions_inside(text, &parsed.diagnostics);
    assert_eq!(parsed.value.is_some(), !parsed.has_errors());
    let parsed = server::parse(Path::new("f.xml"), text);
    assert_positions_inside(text, &parsed.diagnostics);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let text = String::from_utf8_lossy(&bytes);
        parse_both(&text);
    }

    #[test]
    fn xml_shaped_input_never_panics(text in xml_shaped()) {
        parse_both(&text);
    }

    #[test]
    fn descriptors_built_from_known_elements_never_panic(body in prop::collection::vec(element(), 0..8)) {
        let text = format!("<jeus-web-dd><websocket>{}</websocket></jeus-web-dd>", body.concat());
        parse_both(&text);
    }
}
