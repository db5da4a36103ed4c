//! The plugin ABI's compatibility rules, end to end: the real binary loading real libraries.
//!
//! - a plugin of another ABI major is refused, with a message naming the library, both ABI
//!   versions and the plugin's SDK version; the other contexts serve;
//! - a plugin of an older minor (a shorter table) is served, the callbacks it lacks get
//!   their defaults;
//! - a library that is no Berth plugin at all is refused with a clear message; the other
//!   contexts serve.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use berth_tests::apps::{self, Apps};
use berth_tests::client::{
    self, Ws, connect, expect_close, handshake_status, next_message, recv_text, send_text,
};
use berth_tests::server::Berth;
use futures_util::SinkExt;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// How long to wait for a log line. Refusals are logged before the server listens, so they
/// are normally there at once.
const LOG_WAIT: Duration = Duration::from_secs(10);

/// The log line containing `needle`, or a panic showing the whole log.
fn log_line(berth: &Berth, needle: &str) -> String {
    berth
        .wait_for_log(needle, LOG_WAIT)
        .unwrap_or_else(|| panic!("no log line contains {needle:?}:\n{}", berth.logs()))
}

/// The library a context directory holds, as the runtime names it in its messages.
fn library_in(apps: &Apps, dir_name: &str, file_name: &str) -> PathBuf {
    apps.dir().join(dir_name).join(file_name)
}

/// A context directory holding `file_name` with `content` as its only library.
fn context_with_library(apps: &Apps, dir_name: &str, file_name: &str, content: &[u8]) -> PathBuf {
    let dir = apps.dir().join(dir_name);
    std::fs::create_dir_all(&dir).expect("context dir can be created");
    std::fs::write(dir.join("jeus-web-dd.xml"), apps::descriptor("")).expect("descriptor");
    let library = dir.join(file_name);
    std::fs::write(&library, content).expect("library can be written");
    library
}

/// Builds a genuine, inert ELF shared library that exports nothing (an empty C file linked
/// with `-shared -nostdlib`: no dependencies, no initialisers).
fn empty_shared_library(out: &Path) {
    // rustc's default linker on Linux: present wherever this workspace builds.
    let compiler = "cc";
    let status = Command::new(compiler)
        .args(["-shared", "-nostdlib", "-x", "c", "/dev/null", "-o"])
        .arg(out)
        .status()
        .unwrap_or_else(|error| panic!("{compiler} can be started: {error}"));
    assert!(
        status.success(),
        "{compiler} could not link an empty shared library"
    );
}

/// Connects to the echo sample, takes its greeting and round-trips one message.
async fn echo_round_trip(berth: &Berth) {
    let mut ws = client::echo_round_trip(&berth.url("/echo/")).await;
    close_cleanly(&mut ws).await;
}

/// Closes from the client with 1000 and waits for the server's answering close frame.
async fn close_cleanly(ws: &mut Ws) {
    ws.close(Some(CloseFrame {
        code: CloseCode::Normal,
        reason: "bye".into(),
    }))
    .await
    .expect("the close frame can be sent");
    let answer = expect_close(ws)
        .await
        .expect("the server answers with a code");
    assert_eq!(answer.code, CloseCode::Normal, "{answer:?}");
}

#[tokio::test]
async fn a_plugin_of_the_next_abi_major_is_refused_naming_both_versions_and_others_serve() {
    let apps = Apps::new("abi-next-major");
    apps.sample("echo")
        .context("next", "abi_next_major", &apps::descriptor(""));
    let berth = Berth::start(&apps);

    let library = library_in(&apps, "next", "libabi_next_major.so");
    let line = log_line(&berth, &format!("{}: plugin refused", library.display()));
    assert!(line.contains("context not deployed"), "{line}");
    // The plugin's ABI (ABI_MAJOR + 1, minor 0) and SDK, then this host's ABI. The tests do
    // not depend on endpoint-api, so the versions are spelled out: update them with ABI_MAJOR.
    assert!(
        line.contains("built against endpoint-api ABI 2.0 (endpoint-api 9.0.0)"),
        "{line}"
    );
    assert!(line.contains("this berth speaks ABI 1.2"), "{line}");
    assert!(
        !line.contains("create callback"),
        "the major must be checked before anything past the frozen prefix: {line}"
    );

    echo_round_trip(&berth).await;
    assert_eq!(handshake_status(berth.addr(), "/next/", &[]).await, 404);
    assert_eq!(handshake_status(berth.addr(), "/next", &[]).await, 404);
}

#[tokio::test]
async fn a_plugin_of_an_older_minor_is_served_with_defaults_for_what_it_lacks() {
    let apps = Apps::new("abi-old-minor");
    apps.context("old", "old_minor", &apps::descriptor(""));
    let berth = Berth::start(&apps);
    let deployed = log_line(&berth, "context deployed");
    assert!(deployed.contains("libold_minor.so"), "{deployed}");
    assert!(deployed.contains("0.0.1-old-minor"), "{deployed}");

    let mut ws = connect(&berth.url("/old/")).await;
    send_text(&mut ws, "hi").await;
    assert_eq!(recv_text(&mut ws).await, "old:hi");

    // No on_binary: ignored, and the session goes on.
    ws.send(Message::binary(vec![0u8, 1, 2, 255]))
        .await
        .expect("send binary");
    send_text(&mut ws, "after binary").await;
    assert_eq!(
        next_message(&mut ws).await,
        Message::text("old:after binary"),
        "the binary message must get no answer"
    );

    // No on_pong: an unsolicited pong is ignored as well.
    ws.send(Message::Pong(vec![7u8].into()))
        .await
        .expect("send pong");
    send_text(&mut ws, "after pong").await;
    assert_eq!(next_message(&mut ws).await, Message::text("old:after pong"));

    // No on_close: the close completes all the same.
    close_cleanly(&mut ws).await;
    let closed = log_line(&berth, "session closed");
    assert!(closed.contains("context=old"), "{closed}");
    assert!(closed.contains("code=1000"), "{closed}");

    // The table's static holds tripwires past its size; the host never reached them.
    let logs = berth.logs();
    assert!(!logs.contains("tripwire"), "{logs}");
    assert!(!logs.contains("endpoint callback failed"), "{logs}");
}

#[tokio::test]
async fn a_library_that_is_not_a_berth_plugin_is_refused_and_others_serve() {
    let apps = Apps::new("abi-not-a-plugin");
    apps.sample("echo");
    let junk = context_with_library(
        &apps,
        "junk",
        "libjunk.so",
        b"this is not an ELF file, let alone a Berth plugin\n",
    );
    let empty = context_with_library(&apps, "empty", "libempty.so", b"");
    empty_shared_library(&empty);
    let berth = Berth::start(&apps);

    let line = log_line(&berth, &format!("{}: ", junk.display()));
    assert!(line.contains("context not deployed"), "{line}");
    assert!(
        line.contains(&format!(
            "{}: cannot load the plugin library",
            junk.display()
        )),
        "{line}"
    );
    // The dynamic loader's own reason is shown, not just "dlopen failed".
    assert!(line.contains("ELF") || line.contains("too short"), "{line}");

    let line = log_line(&berth, &format!("{}: ", empty.display()));
    assert!(line.contains("context not deployed"), "{line}");
    assert!(
        line.contains(&format!(
            "{}: not a Berth plugin: the symbol berth_abi_version is missing",
            empty.display()
        )),
        "{line}"
    );

    echo_round_trip(&berth).await;
    assert_eq!(handshake_status(berth.addr(), "/junk/", &[]).await, 404);
    assert_eq!(handshake_status(berth.addr(), "/empty/", &[]).await, 404);
}
