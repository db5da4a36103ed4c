//! `berth check PATH…`: validate server configurations, descriptors, context directories
//! and apps directories, print every problem as `file:line:column: severity: message`, and
//! say whether any is an error (like `nginx -t`), ending with how many contexts and files
//! were checked and how many problems found. Nothing is started, and no library is
//! loaded into this process: a context's plugin library is opened by the same probe process
//! `berth run` uses before loading one, so a library that is not a plugin, is built for
//! another ABI, or crashes or hangs when opened is reported here too.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::config::{self, Diagnostic, EffectiveRow, FileKind, Severity, descriptor, server};
use crate::deploy::scanner::{self, AppReport};
use crate::plugin::{self, ProbeReport, Prober};

/// What `berth check` was asked to do.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// Files and directories to check.
    pub paths: Vec<PathBuf>,
    /// Also print the effective settings of every valid file.
    pub effective: bool,
    /// Also print every context's endpoints: full URL template and declared subprotocols.
    pub endpoints: bool,
    /// How plugin libraries are probed.
    pub prober: Prober,
}

/// Counts of what was checked and found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CheckSummary {
    /// Context directories inspected.
    pub contexts: usize,
    /// Files examined: configuration files and descriptors read, plugin libraries opened.
    pub files: usize,
    /// Problems that make a file unusable.
    pub errors: usize,
    /// Problems that were tolerated.
    pub warnings: usize,
}

impl std::fmt::Display for CheckSummary {
    /// `3 contexts, 6 files checked: 0 error(s), 1 warning(s)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let plural = |count: usize, noun: &str| match count {
            1 => format!("1 {noun}"),
            n => format!("{n} {noun}s"),
        };
        write!(
            f,
            "{}, {} checked: {} error(s), {} warning(s)",
            plural(self.contexts, "context"),
            plural(self.files, "file"),
            self.errors,
            self.warnings
        )
    }
}

/// Checks every path, writing the report to `out`.
pub fn check(options: &CheckOptions, out: &mut dyn Write) -> io::Result<CheckSummary> {
    let mut report = Report {
        out,
        summary: CheckSummary::default(),
        effective: options.effective,
        show_endpoints: options.endpoints,
        prober: &options.prober,
    };
    for path in &options.paths {
        report.path(path)?;
    }
    writeln!(report.out, "berth check: {}", report.summary)?;
    Ok(report.summary)
}

struct Report<'w> {
    out: &'w mut dyn Write,
    summary: CheckSummary,
    effective: bool,
    show_endpoints: bool,
    prober: &'w Prober,
}

/// A context path joined to an endpoint template (`/chat` + `/rooms/{room}`, `/` + `/`).
fn endpoint_url(context_path: &str, template: &str) -> String {
    match (context_path.trim_end_matches('/'), template) {
        ("", template) => template.to_owned(),
        (path, "/") => format!("{path}/"),
        (path, template) => format!("{path}{template}"),
    }
}

impl Report<'_> {
    fn path(&mut self, path: &Path) -> io::Result<()> {
        if path.is_dir() {
            return self.directory(path);
        }
        if path.is_file() {
            self.summary.files += 1;
        }
        let text = match config::read_text(path) {
            Ok(text) => text,
            Err(problem) => return self.problems(&[problem]),
        };
        match config::kind_of(&text) {
            FileKind::Server => {
                let parsed = server::parse(path, &text);
                self.problems(&parsed.diagnostics)?;
                let rows = parsed.value.map(|file| file.effective);
                self.effective_rows(path, rows.as_deref())
            }
            // A file that is not recognisably a server configuration is read as a
            // descriptor, so a wrong or misspelt root element gets a descriptor's message.
            FileKind::Descriptor | FileKind::Unknown(_) => {
                let parsed = descriptor::parse(path, &text);
                self.problems(&parsed.diagnostics)?;
                let rows = parsed.value.map(|file| file.effective);
                self.effective_rows(path, rows.as_deref())
            }
        }
    }

    fn directory(&mut self, dir: &Path) -> io::Result<()> {
        if scanner::is_context_dir(dir) {
            return self.app(&scanner::inspect_app(dir));
        }
        match scanner::scan_apps(dir) {
            Ok(reports) if !reports.is_empty() => reports.iter().try_for_each(|r| self.app(r)),
            Ok(_) => {
                let message = "neither a context directory (jeus-web-dd.xml or a plugin library) nor an apps directory (context directories)";
                self.problems(&[Diagnostic::about(dir, Severity::Error, message)])
            }
            Err(error) => {
                let message = format!("cannot read the directory: {error}");
                self.problems(&[Diagnostic::about(dir, Severity::Error, message)])
            }
        }
    }

    fn app(&mut self, report: &AppReport) -> io::Result<()> {
        self.summary.contexts += 1;
        self.summary.files += usize::from(report.descriptor.is_some());
        self.problems(&report.diagnostics)?;
        // The library is opened even when the descriptor has errors, so that every problem
        // of the context is reported in one run.
        if let Some(library) = &report.library {
            self.summary.files += 1;
            match plugin::probe(library, self.prober) {
                Ok(probed) => self.endpoints(report, &probed)?,
                Err(error) => {
                    let message = error.problem.to_string();
                    self.problems(&[Diagnostic::about(&error.file, Severity::Error, message)])?;
                    return Ok(());
                }
            }
        }
        let rows = report.app.as_ref().map(|app| app.effective.as_slice());
        self.effective_rows(&report.dir, rows)
    }

    /// With `--endpoints`: one line per endpoint, the context path joined to its template.
    fn endpoints(&mut self, report: &AppReport, probed: &ProbeReport) -> io::Result<()> {
        let (true, Some(app)) = (self.show_endpoints, &report.app) else {
            return Ok(());
        };
        for endpoint in &probed.endpoints {
            let url = endpoint_url(&app.context_path, &endpoint.template);
            let subprotocols = match endpoint.subprotocols.as_slice() {
                [] => "none".to_owned(),
                list => list.join(", "),
            };
            writeln!(
                self.out,
                "{}: endpoint {url} (subprotocols: {subprotocols})",
                report.dir.display()
            )?;
        }
        Ok(())
    }

    fn problems(&mut self, diagnostics: &[Diagnostic]) -> io::Result<()> {
        for diagnostic in diagnostics {
            match diagnostic.severity {
                Severity::Error => self.summary.errors += 1,
                Severity::Warning => self.summary.warnings += 1,
            }
            writeln!(self.out, "{diagnostic}")?;
        }
        Ok(())
    }

    fn effective_rows(&mut self, path: &Path, rows: Option<&[EffectiveRow]>) -> io::Result<()> {
        let (true, Some(rows)) = (self.effective, rows) else {
            return Ok(());
        };
        writeln!(self.out, "{}: effective settings:", path.display())?;
        rows.iter()
            .try_for_each(|row| writeln!(self.out, "  {row}"))
    }
}

#[cfg(test)]
mod tests {
    use super::endpoint_url;

    #[test]
    fn endpoint_urls_join_the_context_path_and_the_template() {
        assert_eq!(endpoint_url("/chat", "/rooms/{room}"), "/chat/rooms/{room}");
        assert_eq!(endpoint_url("/echo", "/"), "/echo/");
        assert_eq!(endpoint_url("/", "/"), "/");
        assert_eq!(endpoint_url("/", "/items/{id}"), "/items/{id}");
        assert_eq!(endpoint_url("/a/b/", "/x"), "/a/b/x");
    }
}
