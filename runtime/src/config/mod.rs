//! Configuration files: the server configuration (`conf/server.xml`) and web-context
//! descriptors (`jeus-web-dd.xml`).
//!
//! Reading a file is pure and total: any bytes in, typed settings and a list of
//! [`Diagnostic`]s out, never a panic. Every problem carries file, line and column; all
//! problems of a file are collected, not just the first. A file with any error yields no
//! settings ([`Parsed::value`] is `None`), so a half-understood file is never deployed.
//!
//! Layers, bottom up: `xml` (positioned tree), `schema` (which elements go where, with
//! suggestions), `value` (typed values and the effective-settings record), then one module
//! per file format. Nothing here opens sockets, loads plugins or reads clocks.

pub mod descriptor;
mod diagnostic;
mod schema;
pub mod server;
mod value;
mod xml;
#[cfg(test)]
mod xsd_tests;

#[cfg(test)]
mod proptests;

use std::path::Path;

pub use diagnostic::{Diagnostic, Position, Severity};
pub use value::{EffectiveRow, Origin};

use diagnostic::Diagnostics;

/// The outcome of reading one file: the settings when there was no error, and every problem.
#[derive(Debug)]
pub struct Parsed<T> {
    /// The settings, or `None` when any problem is an error.
    pub value: Option<T>,
    /// Errors and warnings, in file order.
    pub diagnostics: Vec<Diagnostic>,
}

impl<T> Parsed<T> {
    fn new(value: Option<T>, diagnostics: Diagnostics<'_>) -> Self {
        let value = value.filter(|_| !diagnostics.has_errors());
        Parsed {
            value,
            diagnostics: diagnostics.into_vec(),
        }
    }

    /// True when any problem is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error)
    }
}

/// Reads `file` and hands its text to `parse`; unreadable or non-UTF-8 files become a
/// positioned error instead.
fn load_with<T>(file: &Path, parse: fn(&Path, &str) -> Parsed<T>) -> Parsed<T> {
    let bytes = match std::fs::read(file) {
        Ok(bytes) => bytes,
        Err(error) => return single_error(file, "", 0, format!("cannot read the file: {error}")),
    };
    match std::str::from_utf8(&bytes) {
        Ok(text) => parse(file, text.strip_prefix('\u{feff}').unwrap_or(text)),
        Err(error) => {
            let valid = &bytes[..error.valid_up_to()];
            let text = std::str::from_utf8(valid).unwrap_or_default();
            let message = "the file is not valid UTF-8 (save it as UTF-8)".to_owned();
            single_error(file, text, text.len(), message)
        }
    }
}

fn single_error<T>(file: &Path, text: &str, offset: usize, message: String) -> Parsed<T> {
    let mut diagnostics = Diagnostics::new(file, text);
    diagnostics.error(offset, message);
    Parsed::new(None, diagnostics)
}

/// Which configuration format a text holds, judged by its root element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileKind {
    /// `<jeus-web-dd>`.
    Descriptor,
    /// `<berth-server>`.
    Server,
    /// Something else (the root's name, if one was found).
    Unknown(Option<String>),
}

/// Tells a descriptor from a server configuration by the root element.
pub fn kind_of(text: &str) -> FileKind {
    match xml::root_name(text) {
        Some(name) if name == descriptor::SCHEMA.name => FileKind::Descriptor,
        Some(name) if name == server::SCHEMA.name => FileKind::Server,
        other => FileKind::Unknown(other),
    }
}
