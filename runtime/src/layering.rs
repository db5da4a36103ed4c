//! The runtime's layering, enforced: a module may import only the modules below it.
//!
//! ```text
//!   command   container                 start-up, shutdown, the subcommands
//!        \     /
//!          admin                         the admin listener's JSON API
//!           |
//!         deploy                         scanning apps/, launching contexts
//!           |
//!          http                          listener, handshake, routing
//!           |
//!        context                         one context: endpoints, admission
//!           |
//!         plugin                         the plugin boundary, host side
//!           |
//!        session                         one connection; the Callbacks trait it calls
//!           |
//!   codec  config  executor  memory  limits  text     foundations
//! ```
//!
//! This test reads every source file and fails when a module names a module it may not
//! (`crate::x`), or when a top-level module is missing from [`LAYERS`], so that a new module
//! takes its place in the diagram on purpose. `docs/ARCHITECTURE.md` draws the same picture.

use std::path::{Path, PathBuf};

/// Each top-level module and the modules it may import.
const LAYERS: &[(&str, &[&str])] = &[
    ("text", &[]),
    ("codec", &["text"]),
    ("config", &[]),
    ("memory", &[]),
    ("limits", &[]),
    ("executor", &["config"]),
    ("session", &["codec", "config", "executor"]),
    ("plugin", &["codec", "config", "session", "text"]),
    (
        "context",
        &["codec", "config", "executor", "plugin", "session"],
    ),
    (
        "http",
        &["codec", "config", "context", "executor", "session", "text"],
    ),
    (
        "deploy",
        &[
            "codec", "config", "context", "executor", "http", "plugin", "session",
        ],
    ),
    ("admin", &["config", "deploy", "http", "plugin"]),
    (
        "container",
        &[
            "admin", "codec", "config", "context", "deploy", "executor", "http", "memory",
            "plugin", "session",
        ],
    ),
    (
        "command",
        &[
            "admin",
            "config",
            "container",
            "deploy",
            "limits",
            "plugin",
            "session",
        ],
    ),
    // This test names every module in its own text; it imports none.
    ("layering", &[]),
];

fn source_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The `.rs` files of a top-level module: `name.rs`, or everything under `name/`.
fn files_of(name: &str) -> Vec<PathBuf> {
    let root = source_root();
    let single = root.join(format!("{name}.rs"));
    if single.is_file() {
        return vec![single];
    }
    let mut files = Vec::new();
    let mut dirs = vec![root.join(name)];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("a module directory") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files
}

/// Every `crate::<module>` a text names.
fn imports(text: &str) -> Vec<String> {
    text.match_indices("crate::")
        .filter(|(at, _)| {
            // `crate::` itself, not the tail of `endpoint_api::…crate::` or an identifier.
            !text[..*at].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':')
        })
        .map(|(at, found)| {
            text[at + found.len()..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect()
        })
        .collect()
}

#[test]
fn every_module_imports_only_the_layers_below_it() {
    let mut violations = Vec::new();
    for (module, allowed) in LAYERS.iter().filter(|(name, _)| *name != "layering") {
        for file in files_of(module) {
            let text = std::fs::read_to_string(&file).expect("a readable source file");
            for import in imports(&text) {
                let upward = LAYERS.iter().any(|(name, _)| *name == import)
                    && import != *module
                    && !allowed.contains(&import.as_str());
                if upward {
                    let file = file.strip_prefix(source_root()).unwrap_or(&file);
                    violations.push(format!("{} imports crate::{import}", file.display()));
                }
            }
        }
    }
    violations.sort();
    violations.dedup();
    assert!(
        violations.is_empty(),
        "imports against the layering:\n{}",
        violations.join("\n")
    );
}

#[test]
fn every_top_level_module_has_a_layer() {
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(source_root()).expect("src") {
        let path = entry.expect("an entry").path();
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        let is_module = path.is_dir() || path.extension().is_some_and(|e| e == "rs");
        let is_root = matches!(name, "lib" | "main");
        if is_module && !is_root && !LAYERS.iter().any(|(layer, _)| *layer == name) {
            missing.push(name.to_owned());
        }
    }
    assert!(missing.is_empty(), "modules without a layer: {missing:?}");
}

#[test]
fn the_scanner_finds_imports_and_ignores_other_paths() {
    let text = "use crate::session::Hub;\nlet x = crate::codec::Inbound::Text;\nfoo::crate::bar";
    assert_eq!(imports(text), ["session", "codec"]);
}
