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
//!
//! Hostile files are bounded before anything walks them: [`read_text`] reads at most
//! [`MAX_FILE_BYTES`], and `xml` refuses elements nested deeper than `xml::MAX_DEPTH`, so
//! every recursion over an element tree (drop, clone, the schema check) has a small fixed
//! bound whatever the input.

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

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::str::Utf8Error;

pub use diagnostic::{Diagnostic, Position, Severity};
pub use value::{EffectiveRow, Origin};

use diagnostic::{Diagnostics, LineIndex};

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

/// The largest configuration file Berth reads: 1 MiB. Real descriptors and server
/// configurations are a few KiB (a JEUS descriptor full of servlet elements stays far below
/// 100 KiB), so a larger file is a mistake or an attack; the limit bounds the memory and time
/// one file can cost before anything is parsed.
pub const MAX_FILE_BYTES: usize = 1024 * 1024;

/// Reads the text of a configuration file without its byte-order mark. An unreadable file, one
/// larger than [`MAX_FILE_BYTES`] (found out by reading one byte more, never the whole file)
/// or one that is not UTF-8 is a single error instead.
pub fn read_text(file: &Path) -> Result<String, Diagnostic> {
    let whole_file = |message: String| Diagnostic::about(file, Severity::Error, message);
    let bytes = match read_at_most(file, MAX_FILE_BYTES) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => {
            let message = format!(
                "the file is larger than {MAX_FILE_BYTES} bytes (1 MiB), the limit for a configuration file; it is not read"
            );
            return Err(whole_file(message));
        }
        Err(error) => return Err(whole_file(format!("cannot read: {error}"))),
    };
    match String::from_utf8(bytes) {
        Ok(mut text) => {
            if text.starts_with('\u{feff}') {
                text.drain(..'\u{feff}'.len_utf8());
            }
            Ok(text)
        }
        Err(error) => Err(not_utf8(file, error.as_bytes(), error.utf8_error())),
    }
}

/// The whole file when it has at most `limit` bytes, `None` when it has more.
fn read_at_most(file: &Path, limit: usize) -> io::Result<Option<Vec<u8>>> {
    let mut bytes = Vec::new();
    let most = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    File::open(file)?.take(most).read_to_end(&mut bytes)?;
    Ok((bytes.len() <= limit).then_some(bytes))
}

fn not_utf8(file: &Path, bytes: &[u8], error: Utf8Error) -> Diagnostic {
    let text = std::str::from_utf8(&bytes[..error.valid_up_to()]).unwrap_or_default();
    Diagnostic {
        file: file.to_path_buf(),
        position: Some(LineIndex::new(text).position(text.len())),
        severity: Severity::Error,
        message: "the file is not valid UTF-8 (save it as UTF-8)".to_owned(),
    }
}

/// Reads `file` and hands its text to `parse`; a file [`read_text`] refuses is its one error.
fn load_with<T>(file: &Path, parse: fn(&Path, &str) -> Parsed<T>) -> Parsed<T> {
    match read_text(file) {
        Ok(text) => parse(file, &text),
        Err(problem) => Parsed {
            value: None,
            diagnostics: vec![problem],
        },
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// A file in a fresh temporary directory, removed when dropped.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str, bytes: &[u8]) -> Scratch {
            let dir =
                std::env::temp_dir().join(format!("berth-config-{name}-{}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("temp dir");
            let file = dir.join("file.xml");
            std::fs::write(&file, bytes).expect("temp file");
            Scratch(file)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = self.0.parent().map(std::fs::remove_dir_all);
        }
    }

    #[test]
    fn a_file_of_exactly_the_limit_is_read_one_byte_more_is_refused() {
        let mut text = b"<jeus-web-dd/>".to_vec();
        text.resize(MAX_FILE_BYTES, b' ');
        let at_limit = Scratch::new("at-limit", &text);
        assert_eq!(read_text(&at_limit.0).map(|t| t.len()), Ok(MAX_FILE_BYTES));

        text.push(b' ');
        let over = Scratch::new("over-limit", &text);
        let problem = read_text(&over.0).expect_err("too large");
        assert_eq!(problem.position, None);
        assert!(problem.is_error());
        assert!(
            problem
                .message
                .contains("larger than 1048576 bytes (1 MiB)"),
            "{problem}"
        );
        let parsed = descriptor::load(&over.0);
        assert!(parsed.value.is_none());
        assert_eq!(parsed.diagnostics, [problem]);
    }

    #[test]
    fn the_size_limit_does_not_read_an_endless_file() {
        // /dev/zero never ends: reading it whole would never return.
        let problem = read_text(Path::new("/dev/zero")).expect_err("too large");
        assert!(problem.message.contains("larger than"), "{problem}");
    }

    #[test]
    fn unreadable_and_non_utf8_files_are_one_error_each() {
        let missing = read_text(Path::new("/nonexistent/berth.xml")).expect_err("missing");
        assert!(
            missing
                .to_string()
                .starts_with("/nonexistent/berth.xml: error: cannot read:")
        );

        let latin1 = Scratch::new("latin1", b"<a>\n<b>caf\xe9</b></a>");
        let problem = read_text(&latin1.0).expect_err("not UTF-8");
        assert_eq!(problem.position, Some(Position { line: 2, column: 7 }));
        assert!(problem.message.contains("not valid UTF-8"), "{problem}");
    }

    #[test]
    fn a_byte_order_mark_is_dropped() {
        let file = Scratch::new("bom", "\u{feff}<a/>".as_bytes());
        assert_eq!(read_text(&file.0).as_deref(), Ok("<a/>"));
    }
}
