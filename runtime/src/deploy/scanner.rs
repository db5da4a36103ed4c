//! Finds web contexts in an apps directory and works out what each would serve.
//!
//! A context directory holds `jeus-web-dd.xml` (optional: without it every setting is the
//! default, as in JEUS and Tomcat) and one plugin library: the file the descriptor names in
//! `<endpoint-library>`, else the single `*.so` at the directory's root, else the single one
//! in its `lib/`. The context path is the descriptor's `<context-path>`, else `/<directory
//! name>`, with `ROOT` meaning `/` and `#` meaning `/` (Tomcat's `foo#bar` → `/foo/bar`).
//! Hidden directories (`.name`) are skipped. Every problem of a directory is found in one
//! pass: a descriptor with errors does not hide a missing library, and the library found
//! beside it is still reported so that `berth check` can open it. This module reads files;
//! it loads no code.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use crate::config::descriptor::{self, ContextSettings, Descriptor};
use crate::config::{self, Diagnostic, EffectiveRow, Severity};

/// A context directory that can be deployed.
#[derive(Debug, Clone)]
pub struct AppCandidate {
    /// The directory.
    pub dir: PathBuf,
    /// The path it is served under.
    pub context_path: String,
    /// The plugin library to load.
    pub library: PathBuf,
    /// Its settings.
    pub settings: ContextSettings,
    /// Its effective settings, for display.
    pub effective: Vec<EffectiveRow>,
}

/// What inspecting one directory found.
#[derive(Debug)]
pub struct AppReport {
    /// The directory inspected.
    pub dir: PathBuf,
    /// The deployable context, when there was no error.
    pub app: Option<AppCandidate>,
    /// The descriptor file, when the directory has one.
    pub descriptor: Option<PathBuf>,
    /// The plugin library, when one was found, even if the context cannot be deployed: so
    /// `berth check` can open it in the same run that reports the descriptor's errors.
    pub library: Option<PathBuf>,
    /// Every problem found.
    pub diagnostics: Vec<Diagnostic>,
}

/// A descriptor with errors: whether it may name the plugin library.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Unusable {
    may_name_library: bool,
}

/// Inspects one context directory. Every problem is reported at once: a descriptor with
/// errors does not hide a missing library or a bad directory name.
pub fn inspect_app(dir: &Path) -> AppReport {
    let descriptor_file = dir.join(descriptor::FILE_NAME);
    let has_descriptor = descriptor_file.is_file();
    let mut diagnostics = Vec::new();
    let descriptor = read_descriptor(dir, &descriptor_file, has_descriptor, &mut diagnostics);
    let context_path = match &descriptor {
        Ok(descriptor) => context_path_of(dir, &descriptor.settings, &mut diagnostics),
        Err(_) => None,
    };
    let library = match &descriptor {
        Ok(descriptor) => find_library(dir, descriptor, &descriptor_file, &mut diagnostics),
        // Which library such a descriptor names cannot be known; it is checked once the
        // descriptor reads.
        Err(Unusable {
            may_name_library: true,
        }) => None,
        Err(_) => discover_library(dir, &mut diagnostics),
    };
    let app = match (descriptor, context_path, &library) {
        (Ok(descriptor), Some(context_path), Some(library)) => {
            Some(candidate(dir, descriptor, context_path, library.clone()))
        }
        _ => None,
    };
    AppReport {
        dir: dir.to_path_buf(),
        app,
        descriptor: has_descriptor.then_some(descriptor_file),
        library,
        diagnostics,
    }
}

fn read_descriptor(
    dir: &Path,
    file: &Path,
    exists: bool,
    diagnostics: &mut Vec<Diagnostic>,
) -> Result<Descriptor, Unusable> {
    if !exists {
        let message = format!("no {}: every setting is the default", descriptor::FILE_NAME);
        diagnostics.push(Diagnostic::about(dir, Severity::Warning, message));
        return Ok(default_descriptor());
    }
    let text = config::read_text(file).map_err(|problem| {
        diagnostics.push(problem);
        Unusable {
            may_name_library: true,
        }
    })?;
    let parsed = descriptor::parse(file, &text);
    diagnostics.extend(parsed.diagnostics);
    parsed.value.ok_or(Unusable {
        // Element names cannot be escaped, so a descriptor that names a library contains
        // the name; a mention in a comment only costs the early report.
        may_name_library: text.contains(LIBRARY_ELEMENT),
    })
}

const LIBRARY_ELEMENT: &str = "endpoint-library";

fn candidate(
    dir: &Path,
    descriptor: Descriptor,
    context_path: String,
    library: PathBuf,
) -> AppCandidate {
    let mut effective = descriptor.effective;
    if descriptor.settings.context_path.is_none() {
        set_row(&mut effective, "context-path", &context_path);
    }
    set_row(
        &mut effective,
        "websocket/endpoint-library",
        &library.display().to_string(),
    );
    AppCandidate {
        dir: dir.to_path_buf(),
        context_path,
        library,
        settings: descriptor.settings,
        effective,
    }
}

/// Inspects every context directory under `apps_dir` (sorted by name) and reports contexts
/// that claim a path already taken by an earlier one.
pub fn scan_apps(apps_dir: &Path) -> Result<Vec<AppReport>, std::io::Error> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(apps_dir)?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_dir() && !is_hidden(path))
        .collect();
    dirs.sort();
    let mut reports: Vec<AppReport> = dirs.iter().map(|dir| inspect_app(dir)).collect();
    let mut claimed: BTreeMap<String, PathBuf> = BTreeMap::new();
    for report in &mut reports {
        let Some(app) = &report.app else { continue };
        if let Some(owner) = claimed.get(&app.context_path) {
            let message = format!(
                "context path {} is already served by {}; this context is not deployed",
                app.context_path,
                owner.display()
            );
            report
                .diagnostics
                .push(Diagnostic::about(&report.dir, Severity::Error, message));
            report.app = None;
        } else {
            claimed.insert(app.context_path.clone(), report.dir.clone());
        }
    }
    Ok(reports)
}

/// True when `dir` looks like a context directory (a descriptor or a plugin in it).
pub fn is_context_dir(dir: &Path) -> bool {
    dir.join(descriptor::FILE_NAME).is_file() || !libraries_in(dir).is_empty()
}

fn default_descriptor() -> Descriptor {
    let text = format!("<jeus-web-dd xmlns=\"{}\"/>", descriptor::NAMESPACE);
    let parsed = descriptor::parse(Path::new("(defaults)"), &text);
    parsed.value.unwrap_or(Descriptor {
        settings: ContextSettings::default(),
        effective: Vec::new(),
        endpoint_library_at: None,
    })
}

fn set_row(rows: &mut [EffectiveRow], path: &str, value: &str) {
    if let Some(row) = rows.iter_mut().find(|row| row.path == path) {
        row.value = value.to_owned();
    }
}

fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .and_then(OsStr::to_str)
        .is_some_and(|name| name.starts_with('.'))
}

fn context_path_of(
    dir: &Path,
    settings: &ContextSettings,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<String> {
    if let Some(path) = &settings.context_path {
        return Some(path.clone());
    }
    let Some(name) = dir.file_name().and_then(OsStr::to_str) else {
        let message = "the directory name is not valid UTF-8, so it cannot name a context path; set <context-path>";
        diagnostics.push(Diagnostic::about(dir, Severity::Error, message));
        return None;
    };
    let path = if name == "ROOT" {
        "/".to_owned()
    } else {
        format!("/{}", name.replace('#', "/"))
    };
    match descriptor::validate_context_path(&path) {
        Ok(()) => Some(path),
        Err(why) => {
            let message = format!(
                "the context path {path} taken from the directory name {why}; rename the directory or set <context-path>"
            );
            diagnostics.push(Diagnostic::about(dir, Severity::Error, message));
            None
        }
    }
}

fn find_library(
    dir: &Path,
    descriptor: &Descriptor,
    descriptor_file: &Path,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<PathBuf> {
    let Some(named) = &descriptor.settings.endpoint_library else {
        return discover_library(dir, diagnostics);
    };
    let library = dir.join(named);
    if library.is_file() {
        return Some(library);
    }
    let message = format!("<endpoint-library> {} does not exist", library.display());
    let mut problem = Diagnostic::about(descriptor_file, Severity::Error, message);
    problem.position = descriptor.endpoint_library_at;
    diagnostics.push(problem);
    None
}

/// The single library at the directory's root, else the single one in its `lib/`.
fn discover_library(dir: &Path, diagnostics: &mut Vec<Diagnostic>) -> Option<PathBuf> {
    let lib_dir = dir.join("lib");
    let found = [dir.to_path_buf(), lib_dir]
        .into_iter()
        .map(|d| libraries_in(&d))
        .find(|found| !found.is_empty())
        .unwrap_or_default();
    match found.as_slice() {
        [library] => Some(library.clone()),
        [] => {
            let message = format!(
                "no plugin library: expected one *.{} here or in lib/ (build the plugin, or name it with <endpoint-library>)",
                std::env::consts::DLL_EXTENSION
            );
            diagnostics.push(Diagnostic::about(dir, Severity::Error, message));
            None
        }
        several => {
            let names: Vec<String> = several.iter().map(|p| p.display().to_string()).collect();
            let message = format!(
                "several plugin libraries ({}); name the one to load with <endpoint-library>",
                names.join(", ")
            );
            diagnostics.push(Diagnostic::about(dir, Severity::Error, message));
            None
        }
    }
}

fn libraries_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.is_file() && path.extension() == Some(OsStr::new(std::env::consts::DLL_EXTENSION))
        })
        .collect();
    found.sort();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory under the system's temporary directory, removed when dropped.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(label: &str) -> Scratch {
            let dir =
                std::env::temp_dir().join(format!("berth-scanner-{label}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("scratch dir");
            Scratch(dir)
        }

        /// A context directory `name` holding `files` (relative path, content).
        fn context(&self, name: &str, files: &[(&str, &str)]) -> PathBuf {
            let dir = self.0.join(name);
            for (relative, content) in files {
                let file = dir.join(relative);
                std::fs::create_dir_all(file.parent().expect("parent")).expect("dir");
                std::fs::write(file, content).expect("file");
            }
            dir
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    const TYPO: &str = "<jeus-web-dd>\n<websocket>\n  <max-sesions>5</max-sesions>\n</websocket>\n</jeus-web-dd>\n";

    fn messages(report: &AppReport) -> Vec<String> {
        report
            .diagnostics
            .iter()
            .map(|d| format!("{}: {}", d.severity, d.message))
            .collect()
    }

    #[test]
    fn a_descriptor_with_errors_does_not_hide_a_missing_library() {
        let scratch = Scratch::new("missing");
        let dir = scratch.context("app", &[("jeus-web-dd.xml", TYPO)]);
        let report = inspect_app(&dir);
        let found = messages(&report);
        assert_eq!(found.len(), 2, "{found:#?}");
        assert!(
            found[0].contains("unknown element <max-sesions>"),
            "{found:#?}"
        );
        assert!(
            found[1].starts_with("error: no plugin library"),
            "{found:#?}"
        );
        assert!(report.app.is_none() && report.library.is_none());
        assert_eq!(report.descriptor, Some(dir.join("jeus-web-dd.xml")));
    }

    #[test]
    fn a_descriptor_with_errors_still_yields_the_library_to_open() {
        let scratch = Scratch::new("beside");
        let dir = scratch.context("app", &[("jeus-web-dd.xml", TYPO), ("lib/libx.so", "")]);
        let report = inspect_app(&dir);
        assert_eq!(messages(&report).len(), 1, "{:#?}", report.diagnostics);
        assert!(report.app.is_none());
        assert_eq!(report.library, Some(dir.join("lib/libx.so")));
    }

    #[test]
    fn a_descriptor_with_errors_that_may_name_its_library_is_not_second_guessed() {
        let scratch = Scratch::new("named");
        let named = "<jeus-web-dd><websocket><endpoint-library>x/liby.so</endpoint-library><max-sesions>5</max-sesions></websocket></jeus-web-dd>";
        let dir = scratch.context(
            "app",
            &[("jeus-web-dd.xml", named), ("a.so", ""), ("b.so", "")],
        );
        let report = inspect_app(&dir);
        let found = messages(&report);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(
            found[0].contains("unknown element <max-sesions>"),
            "{found:#?}"
        );
        assert!(report.library.is_none());
    }

    #[test]
    fn a_bad_directory_name_does_not_hide_a_missing_library() {
        let scratch = Scratch::new("name");
        let dir = scratch.context("a b", &[("jeus-web-dd.xml", "<jeus-web-dd/>")]);
        let found = messages(&inspect_app(&dir));
        assert_eq!(found.len(), 2, "{found:#?}");
        assert!(
            found[0].contains("taken from the directory name"),
            "{found:#?}"
        );
        assert!(
            found[1].starts_with("error: no plugin library"),
            "{found:#?}"
        );
    }

    #[test]
    fn a_valid_context_is_deployable_with_its_library() {
        let scratch = Scratch::new("valid");
        let dir = scratch.context(
            "app",
            &[("jeus-web-dd.xml", "<jeus-web-dd/>"), ("libapp.so", "")],
        );
        let report = inspect_app(&dir);
        assert!(report.diagnostics.is_empty(), "{:#?}", report.diagnostics);
        let app = report.app.expect("deployable");
        assert_eq!(
            (app.context_path.as_str(), &app.library),
            ("/app", &dir.join("libapp.so"))
        );
        assert_eq!(report.library, Some(dir.join("libapp.so")));
    }

    fn descriptor(root_children: &str, websocket: &str) -> String {
        format!(
            "<jeus-web-dd xmlns=\"{}\">{root_children}<websocket>{websocket}</websocket></jeus-web-dd>",
            descriptor::NAMESPACE
        )
    }

    fn errors(report: &AppReport) -> Vec<&str> {
        report
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .map(|d| d.message.as_str())
            .collect()
    }

    /// The library found for `dir`, or its errors. Libraries are empty files: the scanner
    /// reads names, it loads no code.
    fn library(dir: &Path) -> Result<PathBuf, Vec<String>> {
        let report = inspect_app(dir);
        match report.app {
            Some(app) => Ok(app.library),
            None => Err(errors(&report).into_iter().map(str::to_owned).collect()),
        }
    }

    #[test]
    fn the_single_library_at_the_root_is_loaded_and_a_missing_descriptor_is_a_warning() {
        let scratch = Scratch::new("root-one");
        let dir = scratch.context(
            "chat",
            &[("libchat.so", ""), ("README.txt", "not a library")],
        );
        let report = inspect_app(&dir);
        let app = report.app.as_ref().expect("deployable");
        assert_eq!(app.library, dir.join("libchat.so"));
        assert_eq!(app.context_path, "/chat");
        assert!(errors(&report).is_empty());
        assert!(report.diagnostics.iter().any(|d| {
            d.severity == Severity::Warning && d.message.contains("no jeus-web-dd.xml")
        }));
    }

    #[test]
    fn several_libraries_in_the_place_searched_are_an_error_naming_each() {
        let scratch = Scratch::new("several");
        let dir = scratch.context("app", &[("liba.so", ""), ("libb.so", "")]);
        let why = library(&dir).expect_err("ambiguous").join("\n");
        assert!(why.contains("several plugin libraries"), "{why}");
        assert!(why.contains("liba.so") && why.contains("libb.so"), "{why}");
        assert!(why.contains("<endpoint-library>"), "{why}");

        let dir = scratch.context("nested", &[("lib/liba.so", ""), ("lib/libb.so", "")]);
        let why = library(&dir).expect_err("ambiguous in lib/").join("\n");
        assert!(why.contains("several plugin libraries"), "{why}");
    }

    #[test]
    fn lib_is_searched_only_when_the_root_has_no_library() {
        let scratch = Scratch::new("lib-fallback");
        let dir = scratch.context("fallback", &[("lib/libx.so", "")]);
        assert_eq!(library(&dir), Ok(dir.join("lib/libx.so")));

        // Several in lib/ do not matter while the root has one.
        let dir = scratch.context(
            "rooted",
            &[("liby.so", ""), ("lib/libx.so", ""), ("lib/libz.so", "")],
        );
        assert_eq!(library(&dir), Ok(dir.join("liby.so")));

        // Deeper directories and other extensions are never looked at.
        let dir = scratch.context(
            "empty",
            &[
                ("jeus-web-dd.xml", &descriptor("", "")),
                ("lib/deeper/libx.so", ""),
                ("libx.so.1", ""),
            ],
        );
        let why = library(&dir).expect_err("none").join("\n");
        assert!(why.contains("no plugin library"), "{why}");
    }

    #[test]
    fn a_named_library_is_loaded_whatever_else_is_there_and_must_exist() {
        let scratch = Scratch::new("named-library");
        let named = descriptor("", "<endpoint-library>lib/libchosen.so</endpoint-library>");
        let dir = scratch.context(
            "named",
            &[
                ("jeus-web-dd.xml", &named),
                ("libother.so", ""),
                ("lib/libchosen.so", ""),
                ("lib/libthird.so", ""),
            ],
        );
        assert_eq!(library(&dir), Ok(dir.join("lib/libchosen.so")));

        let dir = scratch.context(
            "missing",
            &[("jeus-web-dd.xml", &named), ("libother.so", "")],
        );
        let report = inspect_app(&dir);
        assert!(report.app.is_none());
        let problem = report
            .diagnostics
            .iter()
            .find(|d| d.severity == Severity::Error)
            .expect("an error");
        assert!(problem.message.contains("does not exist"), "{problem:?}");
        assert!(problem.position.is_some(), "points at the element");
    }

    #[test]
    fn the_context_path_comes_from_the_descriptor_or_the_directory_name() {
        let scratch = Scratch::new("paths");
        let path = |dir: &Path| inspect_app(dir).app.map(|app| app.context_path);
        let dir = scratch.context("api#v1#admin", &[("libx.so", "")]);
        assert_eq!(path(&dir).as_deref(), Some("/api/v1/admin"), "# is /");
        let dir = scratch.context("ROOT", &[("libx.so", "")]);
        assert_eq!(path(&dir).as_deref(), Some("/"));
        let moved = descriptor("<context-path>/moved/here</context-path>", "");
        let dir = scratch.context("shop#v2", &[("libx.so", ""), ("jeus-web-dd.xml", &moved)]);
        assert_eq!(path(&dir).as_deref(), Some("/moved/here"));

        let dir = scratch.context("my app", &[("libx.so", "")]);
        let report = inspect_app(&dir);
        assert!(report.app.is_none());
        let why = errors(&report).join("\n");
        assert!(
            why.contains("rename the directory or set <context-path>"),
            "{why}"
        );
        let dir = scratch.context("a##b", &[("libx.so", "")]);
        assert!(inspect_app(&dir).app.is_none(), "an empty segment");
    }

    #[test]
    fn a_scan_skips_hidden_directories_and_files_and_refuses_a_second_claim_on_a_path() {
        let scratch = Scratch::new("scan");
        let same = descriptor("<context-path>/same</context-path>", "");
        scratch.context(".hidden", &[("libx.so", "")]);
        scratch.context("b", &[("libx.so", ""), ("jeus-web-dd.xml", &same)]);
        scratch.context("a", &[("libx.so", ""), ("jeus-web-dd.xml", &same)]);
        scratch.context("api#v1", &[("libx.so", "")]);
        scratch.context("api", &[("v1/libx.so", "")]);
        std::fs::write(scratch.0.join("stray.so"), "").expect("file");
        let reports = scan_apps(&scratch.0).expect("readable");
        let names: Vec<String> = reports
            .iter()
            .map(|r| {
                let name = r.dir.file_name().expect("a name");
                name.to_string_lossy().into_owned()
            })
            .collect();
        assert_eq!(
            names,
            ["a", "api", "api#v1", "b"],
            "sorted, hidden and files skipped"
        );
        let served: Vec<Option<&str>> = reports
            .iter()
            .map(|r| r.app.as_ref().map(|a| a.context_path.as_str()))
            .collect();
        // `api` has no library of its own (lib/ is not `v1/`); `api#v1` serves /api/v1.
        assert_eq!(served, [Some("/same"), None, Some("/api/v1"), None]);
        let why = errors(&reports[3]).join("\n");
        assert!(why.contains("already served by"), "{why}");
        assert!(
            why.contains(&scratch.0.join("a").display().to_string()),
            "{why}"
        );
    }

    #[test]
    fn a_context_directory_has_a_descriptor_or_a_library_at_its_root() {
        let scratch = Scratch::new("is-context");
        let dir = scratch.context("lib-only", &[("libx.so", "")]);
        assert!(is_context_dir(&dir));
        let dir = scratch.context("dd-only", &[("jeus-web-dd.xml", &descriptor("", ""))]);
        assert!(is_context_dir(&dir));
        let dir = scratch.context("neither", &[("notes.txt", "")]);
        assert!(!is_context_dir(&dir));
    }
}
