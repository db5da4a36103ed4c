//! Typed values read out of a checked tree, and the record of where each one came from.
//!
//! An [`Extractor`] reads one setting at a time: it finds the element, parses its text as a
//! number, boolean, duration or string, reports malformed text at the text's position, and
//! records an [`EffectiveRow`] saying whether the value came from the file, from the default,
//! or was adjusted (clamped) — which is what `berth check --effective` prints. Which values
//! are legal for which setting is decided by the callers; this module only parses.

use std::fmt;
use std::time::Duration;

use super::diagnostic::Diagnostics;
use super::xml::{Element, Text};

/// Where an effective setting came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The file does not set it.
    Default,
    /// The file sets it and the value is used as written.
    File,
    /// The file sets it, but the value was adjusted; the written value is kept for display.
    Adjusted {
        /// What the file said.
        written: String,
    },
    /// Derived from something other than this file (the directory name, say).
    Derived(&'static str),
}

/// One line of the effective configuration: setting path, value, origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectiveRow {
    /// Element path, such as `websocket/websocket-executor/min`.
    pub path: String,
    /// The value in use, as text.
    pub value: String,
    /// Where it came from.
    pub origin: Origin,
}

impl fmt::Display for EffectiveRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} = {}", self.path, self.value)?;
        match &self.origin {
            Origin::Default => f.write_str("  (default)"),
            Origin::File => Ok(()),
            Origin::Adjusted { written } => write!(f, "  (adjusted from {written})"),
            Origin::Derived(from) => write!(f, "  ({from})"),
        }
    }
}

/// Reads typed values and records the effective configuration.
#[derive(Debug)]
pub(crate) struct Extractor<'d, 'a> {
    pub(crate) diagnostics: &'d mut Diagnostics<'a>,
    pub(crate) rows: Vec<EffectiveRow>,
}

impl<'d, 'a> Extractor<'d, 'a> {
    pub(crate) fn new(diagnostics: &'d mut Diagnostics<'a>) -> Self {
        Extractor {
            diagnostics,
            rows: Vec::new(),
        }
    }

    pub(crate) fn record(&mut self, path: &str, value: impl fmt::Display, origin: Origin) {
        self.rows.push(EffectiveRow {
            path: path.to_owned(),
            value: value.to_string(),
            origin,
        });
    }

    /// A whole number of any sign, or `None` (with an error) when the text is not one.
    pub(crate) fn integer(&mut self, element: &Element) -> Option<i64> {
        let text = element.text_or_empty();
        match text.value.parse::<i64>() {
            Ok(number) => Some(number),
            Err(_) if is_integer_shaped(&text.value) => {
                self.error_at(
                    &text,
                    format!("<{}> value {} is out of range", element.name, text.value),
                );
                None
            }
            Err(_) => {
                let message = format!(
                    "<{}> must be a whole number, found \"{}\"",
                    element.name,
                    text.value.escape_debug()
                );
                self.error_at(&text, message);
                None
            }
        }
    }

    /// A whole number that must not be negative (sizes, counts, thread numbers).
    pub(crate) fn unsigned(&mut self, element: &Element) -> Option<u64> {
        let number = self.integer(element)?;
        match u64::try_from(number) {
            Ok(number) => Some(number),
            Err(_) => {
                let message = format!("<{}> must not be negative, found {number}", element.name);
                self.error_at(&element.text_or_empty(), message);
                None
            }
        }
    }

    /// A boolean: `true`, `false`, `1` or `0` (as `xs:boolean` allows).
    pub(crate) fn boolean(&mut self, element: &Element) -> Option<bool> {
        let text = element.text_or_empty();
        match text.value.as_str() {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            other => {
                let message = format!(
                    "<{}> must be true or false, found \"{}\"",
                    element.name,
                    other.escape_debug()
                );
                self.error_at(&text, message);
                None
            }
        }
    }

    /// Non-empty text.
    pub(crate) fn string(&mut self, element: &Element) -> Option<String> {
        let text = element.text_or_empty();
        if text.value.is_empty() {
            self.error_at(&text, format!("<{}> must not be empty", element.name));
            return None;
        }
        Some(text.value)
    }

    /// A size or count with a default; the row is recorded under `path`.
    pub(crate) fn unsigned_or(
        &mut self,
        parent: Option<&Element>,
        path: &str,
        default: u64,
    ) -> u64 {
        let Some(element) = child_at(parent, path) else {
            self.record(path, default, Origin::Default);
            return default;
        };
        let value = self.unsigned(element).unwrap_or(default);
        self.record(path, value, Origin::File);
        value
    }

    /// A boolean with a default.
    pub(crate) fn boolean_or(
        &mut self,
        parent: Option<&Element>,
        path: &str,
        default: bool,
    ) -> bool {
        let Some(element) = child_at(parent, path) else {
            self.record(path, default, Origin::Default);
            return default;
        };
        let value = self.boolean(element).unwrap_or(default);
        self.record(path, value, Origin::File);
        value
    }

    /// A timeout in milliseconds where zero or a negative value means "never", with a
    /// warning for negatives. `None` means no timeout.
    pub(crate) fn timeout_or(
        &mut self,
        parent: Option<&Element>,
        path: &str,
        default_millis: u64,
    ) -> Option<Duration> {
        let Some(element) = child_at(parent, path) else {
            self.record(path, default_millis, Origin::Default);
            return Some(Duration::from_millis(default_millis));
        };
        let Some(millis) = self.integer(element) else {
            return Some(Duration::from_millis(default_millis));
        };
        if millis < 0 {
            let message = format!(
                "<{}> is {millis}: a negative timeout means never (0 says so plainly)",
                element.name
            );
            self.warning_at(&element.text_or_empty(), message);
            self.record(
                path,
                "never",
                Origin::Adjusted {
                    written: millis.to_string(),
                },
            );
            return None;
        }
        let display = if millis == 0 {
            "never".to_owned()
        } else {
            millis.to_string()
        };
        self.record(path, display, Origin::File);
        (millis > 0).then(|| Duration::from_millis(millis.unsigned_abs()))
    }

    pub(crate) fn error_at(&mut self, text: &Text, message: String) {
        self.diagnostics.error(text.offset, message);
    }

    pub(crate) fn warning_at(&mut self, text: &Text, message: String) {
        self.diagnostics.warning(text.offset, message);
    }
}

/// The element at `path`'s last segment under `parent` (the path's leading segments name the
/// parent and are only for display).
pub(crate) fn child_at<'e>(parent: Option<&'e Element>, path: &str) -> Option<&'e Element> {
    let name = path.rsplit('/').next().unwrap_or(path);
    parent?.child(name)
}

fn is_integer_shaped(text: &str) -> bool {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::xml;
    use std::path::Path;

    fn with_element<T>(
        text: &str,
        read: impl FnOnce(&mut Extractor<'_, '_>, &Element) -> T,
    ) -> (T, Vec<String>) {
        let mut diagnostics = Diagnostics::new(Path::new("v.xml"), text);
        let root = xml::parse(text, &mut diagnostics).expect("well-formed");
        let mut extractor = Extractor::new(&mut diagnostics);
        let value = read(&mut extractor, &root);
        let messages = diagnostics
            .into_vec()
            .iter()
            .map(|d| d.to_string())
            .collect();
        (value, messages)
    }

    #[test]
    fn numbers_parse_and_report_their_position() {
        let (value, problems) = with_element("<n> 42 </n>", |x, e| x.unsigned(e));
        assert_eq!((value, problems.len()), (Some(42), 0));
        let (value, problems) = with_element("<n>\n  4x2</n>", |x, e| x.unsigned(e));
        assert_eq!(value, None);
        assert_eq!(
            problems,
            ["v.xml:2:3: error: <n> must be a whole number, found \"4x2\""]
        );
        let (_, problems) = with_element("<n>-5</n>", |x, e| x.unsigned(e));
        assert_eq!(
            problems,
            ["v.xml:1:4: error: <n> must not be negative, found -5"]
        );
        let (_, problems) = with_element("<n>99999999999999999999</n>", |x, e| x.unsigned(e));
        assert_eq!(
            problems,
            ["v.xml:1:4: error: <n> value 99999999999999999999 is out of range"]
        );
        let (_, problems) = with_element("<n/>", |x, e| x.unsigned(e));
        assert_eq!(
            problems,
            ["v.xml:1:5: error: <n> must be a whole number, found \"\""]
        );
    }

    #[test]
    fn booleans_accept_the_xsd_forms_only() {
        for (text, expected) in [("true", true), ("false", false), ("1", true), ("0", false)] {
            let (value, _) = with_element(&format!("<b>{text}</b>"), |x, e| x.boolean(e));
            assert_eq!(value, Some(expected));
        }
        let (value, problems) = with_element("<b>yes</b>", |x, e| x.boolean(e));
        assert_eq!(value, None);
        assert_eq!(
            problems,
            ["v.xml:1:4: error: <b> must be true or false, found \"yes\""]
        );
    }

    #[test]
    fn timeouts_treat_zero_and_negative_as_never() {
        let (value, problems) =
            with_element("<p><t>0</t></p>", |x, e| x.timeout_or(Some(e), "t", 5));
        assert_eq!((value, problems.len()), (None, 0));
        let (value, problems) =
            with_element("<p><t>-1</t></p>", |x, e| x.timeout_or(Some(e), "t", 5));
        assert_eq!(value, None);
        assert!(problems[0].contains("warning: <t> is -1: a negative timeout means never"));
        let (value, _) = with_element("<p/>", |x, e| x.timeout_or(Some(e), "t", 5));
        assert_eq!(value, Some(Duration::from_millis(5)));
    }

    #[test]
    fn rows_say_where_values_came_from() {
        let row = EffectiveRow {
            path: "a/b".into(),
            value: "1000".into(),
            origin: Origin::Adjusted {
                written: "5".into(),
            },
        };
        assert_eq!(row.to_string(), "a/b = 1000  (adjusted from 5)");
    }
}
