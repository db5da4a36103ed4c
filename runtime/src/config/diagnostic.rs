//! Problems found in a configuration file, each with the place it was found.
//!
//! A [`Diagnostic`] names the file, the 1-based line and column (counted in characters, as
//! editors count them) and a severity. Parsers collect every problem of a file into a
//! [`Diagnostics`] list instead of stopping at the first, so an administrator fixes a file in
//! one pass. This module only formats and counts; it never decides what is wrong.

use std::fmt;
use std::path::{Path, PathBuf};

/// How bad a problem is: errors stop a deployment, warnings are only reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The file is used, but something in it was adjusted or looks wrong.
    Warning,
    /// The file cannot be used.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// A 1-based line and column; the column counts characters, not bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    /// Line number, starting at 1.
    pub line: u32,
    /// Column number in characters, starting at 1.
    pub column: u32,
}

/// One problem in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file the problem is in.
    pub file: PathBuf,
    /// Where in the file; `None` for a problem with a whole file or directory.
    pub position: Option<Position>,
    /// Error or warning.
    pub severity: Severity,
    /// What is wrong, naming the element and the values involved.
    pub message: String,
}

impl Diagnostic {
    /// A problem with a whole file or directory rather than a place in it.
    pub fn about(file: &Path, severity: Severity, message: impl Into<String>) -> Self {
        Diagnostic {
            file: file.to_path_buf(),
            position: None,
            severity,
            message: message.into(),
        }
    }

    /// True for errors.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.file.display())?;
        if let Some(at) = self.position {
            write!(f, "{}:{}:", at.line, at.column)?;
        }
        write!(f, " {}: {}", self.severity, self.message)
    }
}

/// Maps byte offsets of one text to line/column positions.
#[derive(Debug)]
pub(crate) struct LineIndex<'a> {
    text: &'a str,
    line_starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(at, _)| at + 1))
            .collect();
        LineIndex { text, line_starts }
    }

    /// The position of the character at `offset` (clamped to the text, rounded down to a
    /// character boundary).
    pub(crate) fn position(&self, offset: usize) -> Position {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.line_starts.partition_point(|&start| start <= offset);
        let line_start = self.line_starts[line - 1];
        let column = self.text[line_start..offset].chars().count() + 1;
        Position {
            line: u32::try_from(line).unwrap_or(u32::MAX),
            column: u32::try_from(column).unwrap_or(u32::MAX),
        }
    }
}

/// Every problem found in one file, in the order found.
#[derive(Debug)]
pub(crate) struct Diagnostics<'a> {
    file: PathBuf,
    index: LineIndex<'a>,
    items: Vec<Diagnostic>,
}

impl<'a> Diagnostics<'a> {
    /// Starts an empty list for `file`, whose content is `text`.
    pub(crate) fn new(file: &Path, text: &'a str) -> Self {
        Diagnostics {
            file: file.to_path_buf(),
            index: LineIndex::new(text),
            items: Vec::new(),
        }
    }

    pub(crate) fn error(&mut self, offset: usize, message: impl Into<String>) {
        self.push(offset, Severity::Error, message.into());
    }

    pub(crate) fn warning(&mut self, offset: usize, message: impl Into<String>) {
        self.push(offset, Severity::Warning, message.into());
    }

    fn push(&mut self, offset: usize, severity: Severity, message: String) {
        self.items.push(Diagnostic {
            file: self.file.clone(),
            position: Some(self.index.position(offset)),
            severity,
            message,
        });
    }

    /// The line and column of a byte offset in this file.
    pub(crate) fn position(&self, offset: usize) -> Position {
        self.index.position(offset)
    }

    /// True when at least one problem is an error.
    pub(crate) fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Error)
    }

    /// The problems, in the order they appear in the file.
    pub(crate) fn into_vec(mut self) -> Vec<Diagnostic> {
        self.items.sort_by_key(|d| d.position);
        self.items
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_lines_and_characters_from_one() {
        let index = LineIndex::new("ab\nçd\n\nx");
        assert_eq!(index.position(0), Position { line: 1, column: 1 });
        assert_eq!(index.position(2), Position { line: 1, column: 3 });
        assert_eq!(index.position(3), Position { line: 2, column: 1 });
        // 'ç' is two bytes; 'd' is the second character of line 2.
        assert_eq!(index.position(5), Position { line: 2, column: 2 });
        assert_eq!(index.position(7), Position { line: 3, column: 1 });
        assert_eq!(index.position(8), Position { line: 4, column: 1 });
    }

    #[test]
    fn offsets_past_the_end_or_inside_a_character_do_not_panic() {
        let index = LineIndex::new("é");
        assert_eq!(index.position(1), Position { line: 1, column: 1 });
        assert_eq!(index.position(99), Position { line: 1, column: 2 });
    }

    #[test]
    fn display_is_file_line_column_severity_message() {
        let mut list = Diagnostics::new(Path::new("a/b.xml"), "x\n  y");
        list.error(4, "bad y");
        let shown = list.into_vec()[0].to_string();
        assert_eq!(shown, "a/b.xml:2:3: error: bad y");
    }
}
