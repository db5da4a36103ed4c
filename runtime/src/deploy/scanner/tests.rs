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

const TYPO: &str =
    "<jeus-web-dd>\n<websocket>\n  <max-sesions>5</max-sesions>\n</websocket>\n</jeus-web-dd>\n";

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
    assert!(
        report.diagnostics.iter().any(|d| {
            d.severity == Severity::Warning && d.message.contains("no jeus-web-dd.xml")
        })
    );
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
