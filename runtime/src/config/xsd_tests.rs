//! The schemas in `conf/` must describe exactly the element trees the parsers accept:
//! `jeus-web-dd.xsd` the descriptor's [`descriptor::SCHEMA`], `berth-server.xsd` the server
//! configuration's [`server::SCHEMA`].
//!
//! Each XSD is read into a small tree with quick-xml and flattened into element paths such as
//! `jeus-web-dd/websocket/websocket-executor/min`, each with its content (a value, a group of
//! elements, or ignored content), whether it may repeat and which attributes it takes; the
//! parser's `SCHEMA` is flattened the same way. A difference fails the test with every path
//! found in one but not the other, then every path whose details differ.
//!
//! Whether an element may repeat is read from its own `maxOccurs`. Inside `xs:all` and plain
//! sequences the schema enforces it. Inside an unbounded `xs:choice` (the XSD's "any order")
//! any element may occur again whatever its `maxOccurs` says, so there `maxOccurs` documents
//! what `berth check` enforces — and this test keeps that documentation true.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use super::schema::{Content, ElementSpec};
use super::{descriptor, server};

const DESCRIPTOR_XSD: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../conf/jeus-web-dd.xsd"
));
const SERVER_XSD: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../conf/berth-server.xsd"
));

const XML_SCHEMA_NAMESPACE: &str = "http://www.w3.org/2001/XMLSchema";

/// What an element may contain, as both sides can say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Value,
    Group,
    Ignored,
}

/// Everything compared about one element path.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Declared {
    kind: Kind,
    repeatable: bool,
    attributes: BTreeSet<String>,
}

impl fmt::Display for Declared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let repeat = if self.repeatable {
            "repeatable"
        } else {
            "single"
        };
        write!(
            f,
            "{:?}, {repeat}, attributes {:?}",
            self.kind, self.attributes
        )
    }
}

/// Element path → what is declared there.
type Paths = BTreeMap<String, Declared>;

/// An XML element: local name, attributes and child elements (text is not needed).
#[derive(Debug, Default)]
struct Node {
    name: String,
    attributes: BTreeMap<String, String>,
    children: Vec<Node>,
}

impl Node {
    fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.get(name).map(String::as_str)
    }

    fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> {
        self.children.iter().filter(move |c| c.name == name)
    }

    fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }
}

/// Reads `text` into a tree of elements and returns the root.
fn parse_xml(text: &str) -> Node {
    let mut reader = Reader::from_str(text);
    let mut stack = vec![Node::default()];
    loop {
        match reader.read_event().expect("the XSD is well-formed XML") {
            Event::Start(start) => stack.push(node_of(&start)),
            Event::Empty(start) => add_child(&mut stack, node_of(&start)),
            Event::End(_) => {
                let node = stack.pop().expect("end tags match start tags");
                add_child(&mut stack, node);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    let mut document = stack.pop().expect("the document node");
    assert!(stack.is_empty(), "unclosed elements");
    document.children.pop().expect("a root element")
}

fn node_of(start: &BytesStart<'_>) -> Node {
    let attributes = start
        .attributes()
        .map(|attribute| {
            let attribute = attribute.expect("well-formed attributes");
            let value = attribute
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .expect("attribute values with known entities");
            (attribute.key.into_inner().to_owned(), value.into_owned())
        })
        .collect();
    Node {
        name: start.local_name().into_inner().to_owned(),
        attributes,
        children: Vec::new(),
    }
}

fn add_child(stack: &mut [Node], node: Node) {
    let parent = stack.last_mut().expect("an element inside the document");
    parent.children.push(node);
}

fn join(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_owned()
    } else {
        format!("{parent}/{name}")
    }
}

/// Flattens an XSD's element declarations into paths.
struct Xsd<'a> {
    file: &'a str,
    schema: &'a Node,
}

impl Xsd<'_> {
    fn paths(&self) -> Paths {
        let mut out = Paths::new();
        for element in self.schema.children_named("element") {
            self.element("", element, &mut out);
        }
        out
    }

    fn element(&self, parent: &str, element: &Node, out: &mut Paths) {
        let Some(name) = element.attribute("name") else {
            panic!(
                "{}: an element under {parent:?} has no name (ref= is not supported here)",
                self.file
            );
        };
        let path = join(parent, name);
        let mut attributes = BTreeSet::new();
        let kind = self.content(&path, element, &mut attributes, out);
        let repeatable = element
            .attribute("maxOccurs")
            .is_some_and(|max| max == "unbounded" || max.parse::<u64>().is_ok_and(|n| n > 1));
        let declared = Declared {
            kind,
            repeatable,
            attributes,
        };
        let earlier = out.insert(path.clone(), declared);
        assert!(earlier.is_none(), "{}: {path} is declared twice", self.file);
    }

    fn content(
        &self,
        path: &str,
        element: &Node,
        attributes: &mut BTreeSet<String>,
        out: &mut Paths,
    ) -> Kind {
        if let Some(complex) = element.child("complexType") {
            return self.complex(path, complex, attributes, out);
        }
        if element.child("simpleType").is_some() {
            return Kind::Value;
        }
        match element.attribute("type") {
            // No type at all is xs:anyType.
            None => Kind::Ignored,
            Some(reference) => self.named_type(path, reference, attributes, out),
        }
    }

    fn named_type(
        &self,
        path: &str,
        reference: &str,
        attributes: &mut BTreeSet<String>,
        out: &mut Paths,
    ) -> Kind {
        let (prefix, local) = reference.split_once(':').unwrap_or(("", reference));
        let namespace_attribute = if prefix.is_empty() {
            "xmlns".to_owned()
        } else {
            format!("xmlns:{prefix}")
        };
        if self.schema.attribute(&namespace_attribute) == Some(XML_SCHEMA_NAMESPACE) {
            return if local == "anyType" {
                Kind::Ignored
            } else {
                Kind::Value
            };
        }
        let named = |kind: &'static str| {
            self.schema
                .children_named(kind)
                .find(|t| t.attribute("name") == Some(local))
        };
        if let Some(complex) = named("complexType") {
            return self.complex(path, complex, attributes, out);
        }
        if named("simpleType").is_some() {
            return Kind::Value;
        }
        panic!(
            "{}: {path} has type {reference}, which the schema does not define",
            self.file
        )
    }

    fn complex(
        &self,
        path: &str,
        complex: &Node,
        attributes: &mut BTreeSet<String>,
        out: &mut Paths,
    ) -> Kind {
        let names = complex
            .children_named("attribute")
            .filter_map(|a| a.attribute("name"));
        attributes.extend(names.map(str::to_owned));
        let mut wildcard = false;
        self.particles(path, complex, &mut wildcard, out);
        if wildcard { Kind::Ignored } else { Kind::Group }
    }

    /// Declares the elements of a content model, however deeply its groups nest.
    fn particles(&self, path: &str, model: &Node, wildcard: &mut bool, out: &mut Paths) {
        for child in &model.children {
            match child.name.as_str() {
                "sequence" | "choice" | "all" => self.particles(path, child, wildcard, out),
                "element" => self.element(path, child, out),
                "any" => *wildcard = true,
                "annotation" | "attribute" | "anyAttribute" => {}
                other => panic!(
                    "{}: {path} uses xs:{other}, which this test does not read; extend xsd_tests.rs",
                    self.file
                ),
            }
        }
    }
}

/// Flattens the parser's `SCHEMA` into paths.
fn parser_paths(spec: &ElementSpec) -> Paths {
    let mut out = Paths::new();
    add_spec("", spec, &mut out);
    out
}

fn add_spec(parent: &str, spec: &ElementSpec, out: &mut Paths) {
    let path = join(parent, spec.name);
    let kind = match spec.content {
        Content::Value => Kind::Value,
        Content::Ignored(_) => Kind::Ignored,
        Content::Group(children) => {
            children
                .iter()
                .for_each(|child| add_spec(&path, child, out));
            Kind::Group
        }
    };
    let declared = Declared {
        kind,
        repeatable: spec.repeatable,
        attributes: spec.attributes.iter().map(|a| (*a).to_owned()).collect(),
    };
    out.insert(path, declared);
}

/// Paths declared on one side only.
fn path_differences(xsd: &Paths, parser: &Paths) -> Vec<String> {
    let only_xsd = xsd
        .keys()
        .filter(|path| !parser.contains_key(*path))
        .map(|path| format!("only in the XSD:     {path}"));
    let only_parser = parser
        .keys()
        .filter(|path| !xsd.contains_key(*path))
        .map(|path| format!("only in the parser:  {path}"));
    only_xsd.chain(only_parser).collect()
}

/// Paths on both sides whose content, repetition or attributes differ.
fn detail_differences(xsd: &Paths, parser: &Paths) -> Vec<String> {
    xsd.iter()
        .filter_map(|(path, declared)| {
            let expected = parser.get(path)?;
            (declared != expected)
                .then(|| format!("{path}: the XSD says {declared}; the parser says {expected}"))
        })
        .collect()
}

fn both_sides(file: &str, xsd_text: &str, spec: &ElementSpec) -> (Paths, Paths) {
    let schema = parse_xml(xsd_text);
    let xsd = Xsd {
        file,
        schema: &schema,
    }
    .paths();
    (xsd, parser_paths(spec))
}

fn assert_same_paths(file: &str, xsd_text: &str, spec: &ElementSpec) {
    let (xsd, parser) = both_sides(file, xsd_text, spec);
    let differences = path_differences(&xsd, &parser);
    assert!(
        differences.is_empty(),
        "conf/{file} and the parser's SCHEMA declare different elements:\n  {}",
        differences.join("\n  ")
    );
}

fn assert_same_details(file: &str, xsd_text: &str, spec: &ElementSpec) {
    let (xsd, parser) = both_sides(file, xsd_text, spec);
    let differences = detail_differences(&xsd, &parser);
    assert!(
        differences.is_empty(),
        "conf/{file} and the parser's SCHEMA disagree:\n  {}",
        differences.join("\n  ")
    );
}

/// Every `xs:element` anywhere below `node` without an `xs:annotation/xs:documentation`.
fn undocumented(node: &Node, out: &mut Vec<String>) {
    if node.name == "element" {
        let documented = node
            .child("annotation")
            .and_then(|a| a.child("documentation"))
            .is_some();
        if !documented {
            out.push(node.attribute("name").unwrap_or("?").to_owned());
        }
    }
    node.children
        .iter()
        .for_each(|child| undocumented(child, out));
}

#[test]
fn the_descriptor_xsd_declares_exactly_the_parsers_elements() {
    assert_same_paths("jeus-web-dd.xsd", DESCRIPTOR_XSD, &descriptor::SCHEMA);
}

#[test]
fn the_server_xsd_declares_exactly_the_parsers_elements() {
    assert_same_paths("berth-server.xsd", SERVER_XSD, &server::SCHEMA);
}

#[test]
fn the_descriptor_xsd_agrees_on_content_repetition_and_attributes() {
    assert_same_details("jeus-web-dd.xsd", DESCRIPTOR_XSD, &descriptor::SCHEMA);
}

#[test]
fn the_server_xsd_agrees_on_content_repetition_and_attributes() {
    assert_same_details("berth-server.xsd", SERVER_XSD, &server::SCHEMA);
}

#[test]
fn both_xsds_use_the_parsers_namespaces_with_qualified_elements() {
    for (file, text, namespace) in [
        ("jeus-web-dd.xsd", DESCRIPTOR_XSD, descriptor::NAMESPACE),
        ("berth-server.xsd", SERVER_XSD, server::NAMESPACE),
    ] {
        let schema = parse_xml(text);
        assert_eq!(
            schema.attribute("targetNamespace"),
            Some(namespace),
            "{file}"
        );
        assert_eq!(
            schema.attribute("elementFormDefault"),
            Some("qualified"),
            "{file}"
        );
    }
}

#[test]
fn every_element_in_both_xsds_is_documented() {
    for (file, text) in [
        ("jeus-web-dd.xsd", DESCRIPTOR_XSD),
        ("berth-server.xsd", SERVER_XSD),
    ] {
        let mut missing = Vec::new();
        undocumented(&parse_xml(text), &mut missing);
        assert!(
            missing.is_empty(),
            "{file}: elements without xs:documentation: {missing:?}"
        );
    }
}

#[test]
fn the_comparison_finds_the_paths_and_details_that_differ() {
    const CHILDREN: &[ElementSpec] = &[
        ElementSpec::value("kept"),
        ElementSpec::value("only-parsed"),
        ElementSpec::value("many").repeatable(),
        ElementSpec::ignored("legacy", "not used"),
    ];
    const ROOT: ElementSpec = ElementSpec::group("root", CHILDREN).with_attributes(&["version"]);
    let text = r#"<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:t="urn:t">
        <xs:complexType name="anything"><xs:sequence><xs:any/></xs:sequence></xs:complexType>
        <xs:element name="root"><xs:complexType>
            <xs:choice maxOccurs="unbounded">
                <xs:element name="kept" type="xs:long"/>
                <xs:element name="only-declared" type="xs:string"/>
                <xs:element name="many" type="xs:string"/>
                <xs:element name="legacy" type="t:anything" maxOccurs="unbounded"/>
            </xs:choice>
        </xs:complexType></xs:element>
    </xs:schema>"#;
    let (xsd, parser) = both_sides("test.xsd", text, &ROOT);
    assert_eq!(
        path_differences(&xsd, &parser),
        [
            "only in the XSD:     root/only-declared",
            "only in the parser:  root/only-parsed"
        ]
    );
    let details = detail_differences(&xsd, &parser);
    assert_eq!(details.len(), 2, "{details:?}");
    assert!(details[0].starts_with("root: the XSD says Group, single, attributes {}"));
    assert!(details[1].starts_with("root/many: the XSD says Value, single"));
}
