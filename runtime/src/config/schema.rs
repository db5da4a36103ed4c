//! Which elements may appear where: the structural rules shared by every configuration file.
//!
//! A file format is a static tree of [`ElementSpec`]s. [`check`] walks a parsed document
//! against it and reports unknown elements (with the closest known name, or the group the
//! element belongs in), duplicated single elements, unexpected attributes, and text or
//! children where they do not belong. It does not read values: typed extraction is the job
//! of each file's parser, which may then trust the structure.
//!
//! The walk recurses only into the groups of the static format tree (ignored and unknown
//! elements are not entered), so its depth is the format's, not the file's — and `xml` caps
//! a file's nesting anyway.

use super::diagnostic::Diagnostics;
use super::xml::Element;

/// What an element may contain.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Content {
    /// Text only (a number, a boolean, a name, an address).
    Value,
    /// Child elements only.
    Group(&'static [ElementSpec]),
    /// Anything: a known element of the original format that Berth reads past with a warning.
    Ignored(&'static str),
}

/// One element a format allows.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ElementSpec {
    pub(crate) name: &'static str,
    pub(crate) content: Content,
    /// May appear more than once in its parent.
    pub(crate) repeatable: bool,
    /// Attributes it may carry (namespace declarations and `xsi:` attributes are always fine).
    pub(crate) attributes: &'static [&'static str],
}

impl ElementSpec {
    pub(crate) const fn value(name: &'static str) -> Self {
        ElementSpec {
            name,
            content: Content::Value,
            repeatable: false,
            attributes: &[],
        }
    }

    pub(crate) const fn group(name: &'static str, children: &'static [ElementSpec]) -> Self {
        ElementSpec {
            name,
            content: Content::Group(children),
            repeatable: false,
            attributes: &[],
        }
    }

    pub(crate) const fn ignored(name: &'static str, why: &'static str) -> Self {
        ElementSpec {
            name,
            content: Content::Ignored(why),
            repeatable: true,
            attributes: &[],
        }
    }

    pub(crate) const fn repeatable(mut self) -> Self {
        self.repeatable = true;
        self
    }

    pub(crate) const fn with_attributes(mut self, attributes: &'static [&'static str]) -> Self {
        self.attributes = attributes;
        self
    }

    fn children(&self) -> &'static [ElementSpec] {
        match self.content {
            Content::Group(children) => children,
            Content::Value | Content::Ignored(_) => &[],
        }
    }
}

/// Checks `root` against `spec` (the root's own spec), recording every structural problem.
/// Returns false when the root element itself is the wrong one, as nothing else can be read.
pub(crate) fn check(root: &Element, spec: &ElementSpec, diagnostics: &mut Diagnostics<'_>) -> bool {
    if root.name != spec.name {
        let message = format!(
            "the root element is <{}>, expected <{}>",
            root.name, spec.name
        );
        diagnostics.error(root.offset, message);
        return false;
    }
    check_element(root, spec, spec, diagnostics);
    true
}

fn check_element(
    element: &Element,
    spec: &ElementSpec,
    root: &ElementSpec,
    diagnostics: &mut Diagnostics<'_>,
) {
    if !matches!(spec.content, Content::Ignored(_)) {
        check_attributes(element, spec, diagnostics);
    }
    match spec.content {
        Content::Ignored(why) => {
            let message = format!("<{}> is ignored: {why}", element.name);
            diagnostics.warning(element.offset, message);
        }
        Content::Value => {
            if let Some(child) = element.children.first() {
                let message = format!(
                    "<{}> takes a value, not child elements (found <{}>)",
                    element.name, child.name
                );
                diagnostics.error(child.offset, message);
            }
        }
        Content::Group(children) => {
            if let Some(text) = &element.text {
                let message = format!("<{}> takes child elements, not text", element.name);
                diagnostics.error(text.offset, message);
            }
            check_children(element, children, root, diagnostics);
        }
    }
}

fn check_children(
    element: &Element,
    allowed: &'static [ElementSpec],
    root: &ElementSpec,
    diagnostics: &mut Diagnostics<'_>,
) {
    for (index, child) in element.children.iter().enumerate() {
        let Some(spec) = allowed.iter().find(|s| s.name == child.name) else {
            let message = unknown_element_message(&element.name, &child.name, allowed, root);
            diagnostics.error(child.offset, message);
            continue;
        };
        let earlier = element.children[..index]
            .iter()
            .find(|c| c.name == child.name);
        if let (false, Some(first)) = (spec.repeatable, earlier) {
            let first = diagnostics.position(first.offset);
            let message = format!(
                "<{}> appears more than once in <{}>; it is a single setting (first at line {}, column {})",
                child.name, element.name, first.line, first.column
            );
            diagnostics.error(child.offset, message);
            continue;
        }
        check_element(child, spec, root, diagnostics);
    }
}

fn check_attributes(element: &Element, spec: &ElementSpec, diagnostics: &mut Diagnostics<'_>) {
    for attribute in &element.attributes {
        let name = attribute.name.as_str();
        let is_namespace =
            name == "xmlns" || name.starts_with("xmlns:") || name.starts_with("xsi:");
        if is_namespace || spec.attributes.contains(&name) {
            continue;
        }
        let mut message = format!("unknown attribute {name} on <{}>", element.name);
        if let Some(close) = closest(name, spec.attributes.iter().copied()) {
            message.push_str(&format!("; did you mean {close}?"));
        }
        diagnostics.error(attribute.offset, message);
    }
}

fn unknown_element_message(
    parent: &str,
    name: &str,
    allowed: &[ElementSpec],
    root: &ElementSpec,
) -> String {
    let mut message = format!("unknown element <{name}> in <{parent}>");
    if let Some(close) = closest(name, allowed.iter().map(|s| s.name)) {
        message.push_str(&format!("; did you mean <{close}>?"));
    } else if let Some(home) = parent_of(name, root) {
        message.push_str(&format!("; <{name}> belongs inside <{home}>"));
    }
    message
}

/// The name of the group that allows `name` somewhere in the format, if any.
fn parent_of(name: &str, spec: &ElementSpec) -> Option<&'static str> {
    let children = spec.children();
    if children.iter().any(|c| c.name == name) {
        return Some(spec.name);
    }
    children.iter().find_map(|c| parent_of(name, c))
}

/// The known name closest to `name`, when it is close enough to be a likely misspelling.
pub(crate) fn closest<'a>(name: &str, known: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let wanted = normalize(name);
    known
        .map(|candidate| (edit_distance(&wanted, &normalize(candidate)), candidate))
        .filter(|(distance, candidate)| *distance <= (candidate.len() / 3).max(2))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

fn normalize(name: &str) -> Vec<char> {
    name.chars()
        .map(|c| {
            if c == '_' {
                '-'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

/// Levenshtein distance between two character sequences.
fn edit_distance(a: &[char], b: &[char]) -> usize {
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::xml;
    use std::path::Path;

    const EXECUTOR: &[ElementSpec] = &[ElementSpec::value("min"), ElementSpec::value("max")];
    const TOP: &[ElementSpec] = &[
        ElementSpec::value("timeout"),
        ElementSpec::value("param").repeatable(),
        ElementSpec::group("executor", EXECUTOR),
        ElementSpec::ignored("legacy", "not used here"),
    ];
    const ROOT: ElementSpec = ElementSpec::group("root", TOP).with_attributes(&["version"]);

    fn problems(text: &str) -> Vec<String> {
        let mut diagnostics = Diagnostics::new(Path::new("f.xml"), text);
        let root = xml::parse(text, &mut diagnostics).expect("well-formed");
        check(&root, &ROOT, &mut diagnostics);
        diagnostics
            .into_vec()
            .iter()
            .map(|d| d.to_string())
            .collect()
    }

    #[test]
    fn a_valid_tree_has_no_problems() {
        let text = "<root version=\"1\" xmlns=\"urn:x\"><timeout>1</timeout><param>a</param>\
                    <param>b</param><executor><min>1</min></executor></root>";
        assert_eq!(problems(text), Vec::<String>::new());
    }

    #[test]
    fn misspelt_elements_get_a_suggestion() {
        let found = problems("<root>\n  <timeuot>1</timeuot>\n</root>");
        assert_eq!(
            found,
            ["f.xml:2:3: error: unknown element <timeuot> in <root>; did you mean <timeout>?"]
        );
    }

    #[test]
    fn misplaced_elements_name_their_group() {
        let found = problems("<root><min>1</min></root>");
        assert_eq!(
            found,
            ["f.xml:1:7: error: unknown element <min> in <root>; <min> belongs inside <executor>"]
        );
    }

    #[test]
    fn duplicated_single_elements_are_errors_repeatable_ones_are_not() {
        let found = problems("<root><timeout>1</timeout>\n<timeout>2</timeout></root>");
        assert_eq!(found.len(), 1);
        assert!(found[0].starts_with("f.xml:2:1: error: <timeout> appears more than once"));
    }

    #[test]
    fn text_in_groups_and_children_in_values_are_errors() {
        let found = problems("<root>x<timeout><a/></timeout></root>");
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].contains("takes child elements, not text"));
        assert!(found[1].contains("takes a value, not child elements"));
    }

    #[test]
    fn ignored_elements_warn_and_unknown_attributes_error() {
        let found = problems("<root versoin=\"1\"><legacy><x/></legacy></root>");
        assert_eq!(
            found,
            [
                "f.xml:1:7: error: unknown attribute versoin on <root>; did you mean version?",
                "f.xml:1:19: warning: <legacy> is ignored: not used here",
            ]
        );
    }

    #[test]
    fn the_wrong_root_is_reported() {
        let mut diagnostics = Diagnostics::new(Path::new("f.xml"), "<other/>");
        let root = xml::parse("<other/>", &mut diagnostics).expect("well-formed");
        assert!(!check(&root, &ROOT, &mut diagnostics));
        assert!(diagnostics.has_errors());
    }

    #[test]
    fn closest_only_suggests_near_names() {
        let known = ["max-sessions", "context-path"];
        assert_eq!(
            closest("max_session", known.into_iter()),
            Some("max-sessions")
        );
        assert_eq!(
            closest("Context-Path", known.into_iter()),
            Some("context-path")
        );
        assert_eq!(closest("banana", known.into_iter()), None);
    }
}
