//! Live deployment from a test's side: a server whose apps directory changes under it, and
//! the changes an administrator makes there — a library replaced atomically or rewritten in
//! place, a descriptor edited, a context directory removed or renamed.
//!
//! Rescans are triggered with SIGHUP; [`start`] writes the one server configuration these
//! tests run with, so that what a live test needs from `server.xml` is said in one place.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::apps::Apps;
use crate::client::{Ws, expect_close, recv_text, send_text};
use crate::plugin_library;
use crate::server::Berth;

/// How long a rescan may take to deploy, redeploy or retire a version (generous: staging and
/// probing a library starts a child process, and CI shares two cores).
pub const RESCAN_WAIT: Duration = Duration::from_secs(30);

/// The content of `<berth-server>` for live deployment tests. The tests trigger every rescan
/// themselves (SIGHUP) once their files are written whole, so watching is off and nothing
/// waits for files to settle (`tests/deploy_watch.rs` tests both).
const LIVE_SERVER_CONF: &str = "<deploy-scan-interval-in-millis>0</deploy-scan-interval-in-millis>\
    <deploy-settle-time-in-millis>0</deploy-settle-time-in-millis>";

/// Starts `berth run` on `apps` with the live deployment tests' `server.xml`.
pub fn start(apps: &Apps) -> Berth {
    let conf = apps.server_conf(LIVE_SERVER_CONF);
    let conf = conf.to_str().expect("the temp dir's path is UTF-8");
    Berth::start_with(apps, &["--conf", conf])
}

/// How a file is put in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    /// Written beside it under a hidden name, then renamed over it: a new inode, never seen
    /// half-written (what `install` and a careful deploy script do).
    Atomic,
    /// Truncated and rewritten: the same inode (what `cp` over an existing file does).
    InPlace,
}

/// Puts `content` at `path` the way `how` says.
pub fn put(path: &Path, content: &[u8], how: Write) {
    match how {
        Write::InPlace => std::fs::write(path, content).expect("the file can be rewritten"),
        Write::Atomic => {
            let name = path.file_name().expect("a file name").to_string_lossy();
            let staged = path.with_file_name(format!(".{name}.partial"));
            std::fs::write(&staged, content).expect("the staged file can be written");
            std::fs::rename(&staged, path).expect("the staged file can be renamed");
        }
    }
}

impl Apps {
    /// A context directory under the apps directory.
    pub fn context_dir(&self, dir_name: &str) -> PathBuf {
        self.dir().join(dir_name)
    }

    /// Creates context directory `dir_name` holding the build of `plugin` as `file_name`
    /// and `descriptor` (what `context` does, but with a file name that stays when another
    /// build is copied onto it).
    pub fn context_as(&self, dir_name: &str, plugin: &str, file_name: &str, descriptor: &str) {
        let dir = self.context_dir(dir_name);
        std::fs::create_dir_all(&dir).expect("context dir can be created");
        std::fs::write(dir.join("jeus-web-dd.xml"), descriptor).expect("descriptor");
        self.put_library(dir_name, plugin, file_name, Write::Atomic);
    }

    /// Copies the build of `plugin` onto `dir_name/file_name`, the way `how` says.
    pub fn put_library(&self, dir_name: &str, plugin: &str, file_name: &str, how: Write) {
        let content = std::fs::read(plugin_library(plugin)).expect("the plugin is built");
        put(&self.context_dir(dir_name).join(file_name), &content, how);
    }

    /// Writes `content` as `dir_name/file_name` (a library that is no build of ours, say).
    pub fn put_file(&self, dir_name: &str, file_name: &str, content: &[u8], how: Write) -> PathBuf {
        let path = self.context_dir(dir_name).join(file_name);
        put(&path, content, how);
        path
    }

    /// Rewrites the descriptor of `dir_name` atomically; returns its path.
    pub fn put_descriptor(&self, dir_name: &str, descriptor: &str) -> PathBuf {
        let path = self.context_dir(dir_name).join("jeus-web-dd.xml");
        put(&path, descriptor.as_bytes(), Write::Atomic);
        path
    }
}

/// The `generation=N` a deployer log line names.
pub fn generation(line: &str) -> u64 {
    line.split("generation=")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no generation in {line:?}"))
}

/// The lines of `logs` that contain every one of `needles`.
pub fn lines_with<'a>(logs: &'a str, needles: &[&str]) -> Vec<&'a str> {
    logs.lines()
        .filter(|line| needles.iter().all(|needle| line.contains(needle)))
        .collect()
}

/// The index of the first line of `logs` containing `needle`, or a panic showing the log.
pub fn line_index(logs: &str, needle: &str) -> usize {
    logs.lines()
        .position(|line| line.contains(needle))
        .unwrap_or_else(|| panic!("no line contains {needle:?}:\n{logs}"))
}

/// A genuine ELF shared library that exports only `berth_abi_version` (ABI 1.0, a version
/// this host accepts) and no `berth_plugin_entry`: a plugin without its entry symbol. Linked
/// from C with the system's `cc` (rustc's default linker on Linux), no libc, no initialisers.
pub fn library_without_entry(out: &Path) {
    let source = out.with_extension("c");
    std::fs::write(
        &source,
        "unsigned int berth_abi_version(void) { return 1u << 16; }\n",
    )
    .expect("the C source can be written");
    let status = std::process::Command::new("cc")
        .args(["-shared", "-nostdlib", "-fPIC", "-o"])
        .arg(out)
        .arg(&source)
        .status()
        .expect("cc can be started");
    assert!(status.success(), "cc could not link {}", out.display());
    std::fs::remove_file(&source).expect("the C source can be removed");
}

/// Waits until `needle` has been logged `count` times and returns the last such line, or
/// panics showing the log. Blocks, off the async workers when called from one.
pub fn logged(berth: &Berth, needle: &str, count: usize) -> String {
    let found = block(|| berth.wait_for_count(needle, count, RESCAN_WAIT));
    let logs = berth.logs();
    assert!(found, "{needle:?} was not logged {count} time(s):\n{logs}");
    let lines = lines_with(&logs, &[needle]);
    lines[count - 1].to_owned()
}

/// Runs `f`, which blocks, without stalling the other tasks of a multi-threaded runtime.
fn block<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

/// Sends `text` and expects the versioned fixture's answer from the build `marker`
/// (`version_one`, `version_two`).
pub async fn talks(ws: &mut Ws, marker: &str, text: &str) {
    send_text(ws, text).await;
    assert_eq!(recv_text(ws).await, format!("{marker}:{text}"));
}

/// Sends `text` to the echo sample and expects it back.
pub async fn echoes(ws: &mut Ws, text: &str) {
    send_text(ws, text).await;
    assert_eq!(recv_text(ws).await, text);
}

/// Waits for the server's close frame and returns its code.
pub async fn close_code(ws: &mut Ws) -> u16 {
    expect_close(ws)
        .await
        .map(|frame| u16::from(frame.code))
        .expect("the close frame has a code")
}

/// Closes from the client with 1000 and waits for the server's answering close frame.
pub async fn close_normally(ws: &mut Ws) {
    let frame = CloseFrame {
        code: CloseCode::Normal,
        reason: "done".into(),
    };
    ws.close(Some(frame))
        .await
        .expect("the close frame can be sent");
    assert_eq!(close_code(ws).await, 1000);
}
