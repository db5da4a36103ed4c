//! Shared support for Berth's end-to-end tests: build and locate the real `berth` binary and
//! run it the way an administrator would.
//!
//! Tests never reach into the runtime's internals; they start processes and read what those
//! print. The binary is built once per test process with the same cargo and profile that
//! built the test, into the same target directory, so `cargo test` alone is enough.

pub mod admin;
pub mod apps;
pub mod client;
pub mod live;
pub mod raw;
pub mod server;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The workspace root (the directory holding the top `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(".."))
}

/// The profile directory the running test was built into (`target/debug`, say).
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable has a path");
    // target/<profile>/deps/<test>-<hash>
    exe.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .expect("test executables live in target/<profile>/deps")
}

/// Every package the end-to-end tests run: the binary, the sample apps and the fixtures.
const PACKAGES: &[&str] = &[
    "berth",
    "berth-tests",
    "berth-app-echo",
    "berth-app-chat",
    "berth-app-presence",
    "berth-app-auction",
    "fixture-probe",
    "fixture-abi-next-major",
    "fixture-old-minor",
    "fixture-load-abort",
    "fixture-load-hang",
    "fixture-gate",
    "fixture-version-one",
    "fixture-version-two",
];

/// Builds the binary and every plugin (once per test process) with the cargo and profile
/// that built the running test, into the same target directory.
fn build_all() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let profile_dir = profile_dir();
        let target_dir = profile_dir.parent().expect("target/<profile>");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = Command::new(cargo);
        build
            .current_dir(workspace_root())
            .args(["build", "--quiet"]);
        for package in PACKAGES {
            build.args(["-p", package]);
        }
        build.arg("--target-dir").arg(target_dir);
        if profile_dir
            .file_name()
            .is_some_and(|name| name == "release")
        {
            build.arg("--release");
        }
        let status = build.status().expect("cargo can be started");
        assert!(status.success(), "building berth and the plugins failed");
    });
}

/// The `berth` binary, built if needed.
pub fn berth_binary() -> PathBuf {
    build_all();
    profile_dir().join("berth")
}

/// A plugin library by its library name (`echo` → `target/<profile>/libecho.so`), built if
/// needed.
pub fn plugin_library(name: &str) -> PathBuf {
    build_all();
    profile_dir().join(format!("lib{name}.{}", std::env::consts::DLL_EXTENSION))
}

/// The `hold-client` test binary (a separate client process), built if needed.
pub fn hold_client_binary() -> PathBuf {
    build_all();
    profile_dir().join("hold-client")
}

/// Runs `berth` with `args` in `dir` and waits for it.
pub fn berth_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(berth_binary())
        .current_dir(dir)
        .args(args)
        .output()
        .expect("berth can be started")
}

/// What a finished command printed and how it exited.
#[derive(Debug)]
pub struct Finished {
    /// The exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl From<Output> for Finished {
    fn from(output: Output) -> Self {
        Finished {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// A fresh temporary directory, removed when dropped.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates `$TMPDIR/berth-test-<label>-<pid>-<n>`.
    pub fn new(label: &str) -> TempDir {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("berth-test-{label}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("temp dir can be created");
        TempDir { path }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `content` to `relative` inside the directory, creating parents.
    pub fn write(&self, relative: &str, content: &str) -> PathBuf {
        let file = self.path.join(relative);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent).expect("parent dir can be created");
        }
        std::fs::write(&file, content).expect("file can be written");
        file
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
