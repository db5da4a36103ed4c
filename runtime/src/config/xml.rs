//! A small XML document tree that remembers where everything came from.
//!
//! Configuration files are read with quick-xml events into [`Element`]s that carry the byte
//! offset of each start tag, attribute and text, so later checks can report exact
//! positions. This module knows XML syntax only: which elements are allowed and what their
//! values mean is decided by `schema` and the file parsers. A DOCTYPE is refused (no entity
//! expansion from hostile files); syntax errors end the read with one positioned error,
//! because nothing after a syntax error can be trusted.
//!
//! The tree is built with a loop and an explicit stack, never by recursion, and an element
//! nested deeper than [`MAX_DEPTH`] ends the read with one positioned error. So no tree
//! deeper than that ever exists, and every recursive walk over one — the derived `Drop`,
//! `Clone`, `PartialEq` and `Debug`, the schema check — is bounded whatever the input.

use quick_xml::Reader;
use quick_xml::errors::IllFormedError;
use quick_xml::escape::{EscapeError, resolve_predefined_entity};
use quick_xml::events::{BytesRef, BytesStart, Event};

use super::diagnostic::Diagnostics;

/// The deepest an element may be nested; the root is at depth 1. Berth's own elements nest
/// four deep (`<jeus-web-dd><websocket><websocket-executor><min>`) and JEUS servlet elements
/// a few more; a recursive walk 64 deep needs only a few KiB of stack.
pub(crate) const MAX_DEPTH: usize = 64;

/// The most attributes one element may have. Configuration elements have one or two
/// (`xmlns`, `version`, `xsi:` hints); checking a tag's attributes for duplicates costs the
/// square of their number, so thousands in one tag would stall a read.
pub(crate) const MAX_ATTRIBUTES: usize = 32;

/// An attribute with the offset of its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Attribute {
    pub(crate) name: String,
    pub(crate) value: String,
    pub(crate) offset: usize,
}

/// Character data of an element, trimmed, with the offset of its first non-blank character.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Text {
    pub(crate) value: String,
    pub(crate) offset: usize,
}

/// One element: its local name (namespace prefix dropped), attributes, children and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Element {
    pub(crate) name: String,
    pub(crate) offset: usize,
    /// Offset just past the start tag: where an element's missing text would have been.
    pub(crate) content_offset: usize,
    pub(crate) attributes: Vec<Attribute>,
    pub(crate) children: Vec<Element>,
    pub(crate) text: Option<Text>,
}

impl Element {
    /// The text, or an empty string at the content position when the element has none.
    pub(crate) fn text_or_empty(&self) -> Text {
        self.text.clone().unwrap_or(Text {
            value: String::new(),
            offset: self.content_offset,
        })
    }

    pub(crate) fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }

    /// The first child with this name.
    pub(crate) fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every child with this name, in document order.
    pub(crate) fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> {
        self.children.iter().filter(move |c| c.name == name)
    }
}

/// Reads `text` into a tree. Returns `None` (with the error recorded) when the text is not
/// well-formed XML or has no root element.
pub(crate) fn parse(text: &str, diagnostics: &mut Diagnostics<'_>) -> Option<Element> {
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_comments = true;
    let mut builder = TreeBuilder::default();
    loop {
        let event_offset = offset_of(reader.buffer_position());
        let event = match reader.read_event() {
            Ok(event) => event,
            Err(error) => {
                let at = offset_of(reader.error_position());
                diagnostics.error(at, syntax_message(&error));
                return None;
            }
        };
        let end_offset = offset_of(reader.buffer_position());
        let step = match event {
            Event::Eof => return builder.finish(text.len(), diagnostics),
            Event::Start(start) => builder.open(&start, event_offset, end_offset, diagnostics),
            Event::Empty(start) => builder
                .open(&start, event_offset, end_offset, diagnostics)
                .and_then(|()| builder.close()),
            Event::End(_) => builder.close(),
            Event::Text(data) => builder.text(&data.xml10_content(), event_offset, diagnostics),
            Event::CData(data) => {
                let data = data.xml10_content();
                builder.text(&data, event_offset + "<![CDATA[".len(), diagnostics)
            }
            Event::GeneralRef(reference) => match resolve_reference(&reference) {
                Some(resolved) => builder.text(&resolved, event_offset, diagnostics),
                None if is_bare_ampersand(&reference) => Err(BARE_AMPERSAND.into()),
                None => Err(format!("unknown entity reference &{};", &*reference)),
            },
            Event::DocType(_) => Err("a DOCTYPE is not allowed in configuration files".into()),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => Ok(()),
        };
        if let Err(message) = step {
            diagnostics.error(event_offset, message);
            return None;
        }
    }
}

/// The local name of the document's root element, if the text gets that far.
pub(crate) fn root_name(text: &str) -> Option<String> {
    let mut reader = Reader::from_str(text);
    loop {
        match reader.read_event().ok()? {
            Event::Start(start) | Event::Empty(start) => {
                return Some(start.local_name().into_inner().to_owned());
            }
            Event::Eof => return None,
            _ => {}
        }
    }
}

/// What an administrator who typed `&` in a value (a URL's query, say) needs to hear.
const BARE_AMPERSAND: &str =
    "a bare & must be written &amp; (in XML, & starts a reference such as &lt; that ends with ;)";

fn syntax_message(error: &quick_xml::Error) -> String {
    match error {
        quick_xml::Error::IllFormed(IllFormedError::UnclosedReference) => BARE_AMPERSAND.into(),
        other => format!("malformed XML: {other}"),
    }
}

/// True when a reference's "name" cannot be one, as in `fish & chips;`: the `&` was meant
/// as a character and the `;` is a later one.
fn is_bare_ampersand(reference: &str) -> bool {
    reference.is_empty() || reference.contains(char::is_whitespace)
}

fn offset_of(position: u64) -> usize {
    usize::try_from(position).unwrap_or(usize::MAX)
}

fn resolve_reference(reference: &BytesRef<'_>) -> Option<String> {
    if reference.is_char_ref() {
        return reference
            .resolve_char_ref()
            .ok()
            .flatten()
            .map(String::from);
    }
    resolve_predefined_entity(reference).map(String::from)
}

#[derive(Debug, Default)]
struct TreeBuilder {
    stack: Vec<Element>,
    root: Option<Element>,
}

impl TreeBuilder {
    fn open(
        &mut self,
        start: &BytesStart<'_>,
        offset: usize,
        content_offset: usize,
        diagnostics: &mut Diagnostics<'_>,
    ) -> Result<(), String> {
        if self.stack.is_empty() && self.root.is_some() {
            return Err("a second root element; a file has exactly one".into());
        }
        let name = start.local_name().into_inner().to_owned();
        if self.stack.len() >= MAX_DEPTH {
            return Err(format!(
                "<{name}> is nested more than {MAX_DEPTH} elements deep, the limit for a configuration file; the file is not read further"
            ));
        }
        let element = Element {
            name,
            offset,
            content_offset,
            attributes: read_attributes(start, offset, diagnostics),
            children: Vec::new(),
            text: None,
        };
        self.stack.push(element);
        Ok(())
    }

    fn close(&mut self) -> Result<(), String> {
        let mut element = self
            .stack
            .pop()
            .ok_or_else(|| String::from("an end tag without a start tag"))?;
        if let Some(text) = &mut element.text {
            trim(&mut text.value);
        }
        match self.stack.last_mut() {
            Some(parent) => parent.children.push(element),
            None => self.root = Some(element),
        }
        Ok(())
    }

    fn text(
        &mut self,
        data: &str,
        offset: usize,
        diagnostics: &mut Diagnostics<'_>,
    ) -> Result<(), String> {
        let Some(current) = self.stack.last_mut() else {
            if !data.trim().is_empty() {
                let lead = data.len() - data.trim_start().len();
                diagnostics.error(offset + lead, "text outside the root element");
            }
            return Ok(());
        };
        match &mut current.text {
            Some(text) => text.value.push_str(data),
            None if data.trim().is_empty() => {}
            None => {
                let lead = data.len() - data.trim_start().len();
                current.text = Some(Text {
                    value: data.to_owned(),
                    offset: offset + lead,
                });
            }
        }
        Ok(())
    }

    fn finish(mut self, end: usize, diagnostics: &mut Diagnostics<'_>) -> Option<Element> {
        if let Some(open) = self.stack.first() {
            let message = format!("element <{}> is never closed", open.name);
            diagnostics.error(open.offset, message);
            return None;
        }
        let root = self.root.take();
        if root.is_none() {
            diagnostics.error(end, "no root element: the file is empty");
        }
        root
    }
}

/// Trims white space on both ends in place (the offset already points past the leading run).
fn trim(value: &mut String) {
    value.truncate(value.trim_end().len());
    let lead = value.len() - value.trim_start().len();
    value.drain(..lead);
}

fn read_attributes(
    start: &BytesStart<'_>,
    tag_offset: usize,
    diagnostics: &mut Diagnostics<'_>,
) -> Vec<Attribute> {
    let raw_tag: &str = start;
    let mut attributes = Vec::new();
    for (index, attribute) in start.attributes().with_checks(true).enumerate() {
        if index == MAX_ATTRIBUTES {
            let message = format!(
                "<{}> has more than {MAX_ATTRIBUTES} attributes, the limit for a configuration element",
                start.local_name().into_inner()
            );
            diagnostics.error(tag_offset, message);
            break;
        }
        match attribute {
            Ok(attribute) => {
                let name = attribute.key.into_inner().to_owned();
                let offset = tag_offset + 1 + raw_tag.find(name.as_str()).unwrap_or(0);
                let value = attribute
                    .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                    .map(|v| v.into_owned());
                match value {
                    Ok(value) => attributes.push(Attribute {
                        name,
                        value,
                        offset,
                    }),
                    Err(quick_xml::Error::Escape(EscapeError::UnterminatedEntity(at))) => {
                        let value_start = raw_tag[offset - tag_offset - 1..]
                            .find(['"', '\''])
                            .map_or(offset, |quote| offset + quote + 1);
                        diagnostics.error(value_start + at.start, BARE_AMPERSAND);
                    }
                    Err(error) => diagnostics.error(offset, format!("attribute {name}: {error}")),
                }
            }
            Err(error) => diagnostics.error(tag_offset, format!("malformed attribute: {error}")),
        }
    }
    attributes
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn tree(text: &str) -> (Option<Element>, Vec<String>) {
        let mut diagnostics = Diagnostics::new(Path::new("t.xml"), text);
        let root = parse(text, &mut diagnostics);
        let messages = diagnostics
            .into_vec()
            .iter()
            .map(|d| d.to_string())
            .collect();
        (root, messages)
    }

    #[test]
    fn elements_keep_offsets_and_trimmed_text() {
        let (root, problems) =
            tree("<?xml version=\"1.0\"?>\n<a x=\"1\">\n  <b> 42 </b><c/>\n</a>");
        assert!(problems.is_empty(), "{problems:?}");
        let root = root.expect("well-formed");
        assert_eq!(root.name, "a");
        assert_eq!(root.offset, 22);
        assert_eq!(root.attribute("x").map(|a| a.value.as_str()), Some("1"));
        let b = root.child("b").expect("b");
        assert_eq!(b.offset, 34);
        let text = b.text.as_ref().expect("text");
        assert_eq!((text.value.as_str(), text.offset), ("42", 38));
        assert!(root.child("c").expect("c").text.is_none());
    }

    #[test]
    fn entities_and_cdata_join_the_text() {
        let (root, problems) = tree("<a>x &amp; &#65;<![CDATA[<y>]]></a>");
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(root.expect("root").text.expect("text").value, "x & A<y>");
    }

    #[test]
    fn prefixes_are_dropped_from_names() {
        let (root, _) = tree("<j:a xmlns:j=\"urn:x\"><j:b/></j:a>");
        let root = root.expect("root");
        assert_eq!(root.name, "a");
        assert_eq!(root.children[0].name, "b");
    }

    #[test]
    fn syntax_errors_are_positioned() {
        let (root, problems) = tree("<a>\n  <b></c>\n</a>");
        assert!(root.is_none());
        assert_eq!(problems.len(), 1);
        assert!(problems[0].starts_with("t.xml:2:"), "{problems:?}");
    }

    #[test]
    fn unclosed_root_and_empty_file_are_errors() {
        let (_, problems) = tree("<a>\n<b>");
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].starts_with("t.xml:1:1:"), "{problems:?}");
        let (root, problems) = tree("   ");
        assert!(root.is_none());
        assert!(problems[0].contains("no root element"), "{problems:?}");
    }

    #[test]
    fn doctype_and_unknown_entities_are_refused() {
        let (root, problems) = tree("<!DOCTYPE a [<!ENTITY e \"x\">]><a>&e;</a>");
        assert!(root.is_none());
        assert!(problems[0].contains("DOCTYPE"), "{problems:?}");
        let (_, problems) = tree("<a>&nope;</a>");
        assert!(problems[0].contains("unknown entity"), "{problems:?}");
    }

    #[test]
    fn nesting_up_to_the_limit_is_read() {
        let depth = MAX_DEPTH;
        let text = format!("{}{}", "<a>".repeat(depth), "</a>".repeat(depth));
        let (root, problems) = tree(&text);
        assert!(problems.is_empty(), "{problems:?}");
        let mut element = &root.expect("well-formed");
        for _ in 1..depth {
            element = &element.children[0];
        }
        assert!(element.children.is_empty());
    }

    #[test]
    fn the_first_element_past_the_depth_limit_is_one_positioned_error() {
        let inner = "<a>".repeat(MAX_DEPTH - 1);
        let closing = "</a>".repeat(MAX_DEPTH - 1);
        let text = format!("<r>{inner}\n  <deep bad=\"1\" bad=\"2\"><deeper/></deep>{closing}</r>");
        let (root, problems) = tree(&text);
        assert!(root.is_none());
        assert_eq!(
            problems,
            [
                "t.xml:2:3: error: <deep> is nested more than 64 elements deep, the limit for a configuration file; the file is not read further"
            ]
        );
    }

    #[test]
    fn a_document_200_000_deep_is_refused_without_exhausting_the_stack() {
        // Runs on an ordinary test thread (2 MiB of stack): a recursive build, trim or drop
        // of this tree would overflow it.
        let depth = 200_000;
        let text = format!(
            "<r><session-config>{}{}</session-config></r>",
            "<a>".repeat(depth),
            "</a>".repeat(depth)
        );
        let (root, problems) = tree(&text);
        assert!(root.is_none());
        assert_eq!(problems.len(), 1, "{problems:?}");
        let column = "<r><session-config>".len() + "<a>".len() * (MAX_DEPTH - 2) + 1;
        assert!(
            problems[0].starts_with(&format!(
                "t.xml:1:{column}: error: <a> is nested more than 64"
            )),
            "{problems:?}"
        );
    }

    #[test]
    fn an_element_with_too_many_attributes_is_one_error_and_quick() {
        let attributes: String = (0..80_000).map(|i| format!(" a{i}=\"1\"")).collect();
        let started = std::time::Instant::now();
        let (_, problems) = tree(&format!("<r>\n <e{attributes}/>\n</r>"));
        assert_eq!(
            problems,
            [
                "t.xml:2:2: error: <e> has more than 32 attributes, the limit for a configuration element"
            ]
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        let (root, problems) = tree("<r a=\"1\" b=\"2\"/>");
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(root.expect("root").attributes.len(), 2);
    }

    #[test]
    fn a_bare_ampersand_is_explained_where_it_is() {
        const BARE: &str = "error: a bare & must be written &amp; (in XML, & starts a reference such as &lt; that ends with ;)";
        let (root, problems) = tree("<a>\n  <url>redis://h/0?x=1&y=2</url>\n</a>");
        assert!(root.is_none());
        assert_eq!(problems, [format!("t.xml:2:23: {BARE}")]);
        let (_, problems) = tree("<a>\n <v>fish & chips; peas</v>\n</a>");
        assert_eq!(problems, [format!("t.xml:2:10: {BARE}")]);
        let (_, problems) = tree("<a>\n <v>fish &</v>\n</a>");
        assert_eq!(problems, [format!("t.xml:2:10: {BARE}")]);
        let (_, problems) = tree("<a>\n  <b x=\"1 & 2\"/>\n</a>");
        assert_eq!(problems, [format!("t.xml:2:11: {BARE}")]);
        let (root, problems) = tree("<a>&amp;&lt;&#38;</a>");
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(root.expect("root").text.expect("text").value, "&<&");
    }

    #[test]
    fn a_second_root_is_an_error() {
        let (_, problems) = tree("<a/><b/>");
        assert!(problems[0].contains("second root"), "{problems:?}");
    }
}
