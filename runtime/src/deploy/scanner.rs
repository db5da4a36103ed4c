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
    let dirs = context_dirs(apps_dir)?;
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

/// The context directories under `apps_dir`, sorted by name (hidden ones skipped).
pub fn context_dirs(apps_dir: &Path) -> Result<Vec<PathBuf>, std::io::Error> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(apps_dir)?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_dir() && !is_hidden(path))
        .collect();
    dirs.sort();
    Ok(dirs)
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
mod tests;
