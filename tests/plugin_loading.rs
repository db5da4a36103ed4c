//! How libraries reach the server, end to end, against a hostile machine and hostile files:
//!
//! - staging never goes through a shared directory: another local user's pre-created
//!   `$TMPDIR/berth-<pid>-plugins` full of symlinks is neither followed nor written to, and
//!   nothing is left in the temporary directory;
//! - a library whose initialiser aborts or hangs, or that is random bytes, is opened in a
//!   probe process first: the server survives, names the library and serves the others;
//! - `berth check` uses the same probe, so it reports those libraries too.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use berth_tests::apps::Apps;
use berth_tests::client::{echo_round_trip, handshake_status};
use berth_tests::server::{Berth, Launch};
use berth_tests::{Finished, TempDir, berth_in, plugin_library};

/// The probe's time limit is 10 s; a server with a hanging library starts after it.
const SLOW_START: Duration = Duration::from_secs(40);

/// Deterministic bytes that are not an ELF file.
fn random_bytes(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect()
}

/// A context directory (no descriptor) holding a fixture library under `file_name`.
fn context_with(apps: &Apps, dir_name: &str, file_name: &str, bytes: &[u8]) -> PathBuf {
    let dir = apps.dir().join(dir_name);
    std::fs::create_dir_all(&dir).expect("context dir");
    let library = dir.join(file_name);
    std::fs::write(&library, bytes).expect("library written");
    library
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(plugin_library(name)).expect("fixture library built")
}

fn entries(dir: &Path) -> BTreeSet<PathBuf> {
    walk(dir).into_iter().collect()
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)
        .expect("readable dir")
        .map_while(Result::ok)
    {
        let path = entry.path();
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        found.push(path.clone());
        if is_dir {
            found.extend(walk(&path));
        }
    }
    found
}

/// How many pids ahead of the last one the hostile directories are planted for.
const PLANTED: u32 = 3000;

/// Plants old-style staging directories for every pid in `pids`, each full of symlinks to
/// `victim` under the names the old loader gave the echo sample's copies.
fn plant(tmp: &Path, victim: &Path, pids: std::ops::Range<u32>) {
    for pid in pids {
        let dir = tmp.join(format!("berth-{pid}-plugins"));
        std::fs::create_dir_all(&dir).expect("hostile dir");
        for generation in 1..=3 {
            let link = dir.join(format!("libecho-{pid}-g{generation}.so"));
            std::os::unix::fs::symlink(victim, link).expect("hostile symlink");
        }
    }
}

/// The process id the kernel handed out last (the next ones follow it).
fn last_pid() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/ns_last_pid")
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(1)
}

#[tokio::test]
async fn staging_never_follows_another_users_symlinks_and_leaves_nothing_behind() {
    let apps = Apps::new("loading-staging");
    apps.sample("echo");
    let tmp = TempDir::new("loading-hostile-tmp");
    let outside = TempDir::new("loading-victim");
    let victim = outside.write("victim.txt", "the victim's own content\n");
    // The old staging directory was `$TMPDIR/berth-<pid>-plugins/<stem>-<pid>-g<N>.so`:
    // plant it, full of symlinks to the victim, for the pids the server may get. Other tests
    // start processes meanwhile; a server whose pid the planting missed is started again.
    let mut planted = 0..0;
    let mut covered = None;
    for _ in 0..5 {
        let first = last_pid().max(planted.end) + 1;
        planted = first..first + PLANTED;
        plant(tmp.path(), &victim, planted.clone());
        let before = entries(tmp.path());
        let started = Berth::launch(
            &apps,
            &Launch {
                env: &[("TMPDIR", tmp.path().as_os_str())],
                ..Launch::default()
            },
        );
        if planted.contains(&started.pid()) {
            covered = Some((started, before));
            break;
        }
    }
    let (mut berth, before) = covered.expect("a server whose pid the planted directories cover");
    echo_round_trip(&berth.url("/echo/")).await;
    assert_eq!(entries(tmp.path()), before, "nothing created in $TMPDIR");
    let exited = berth.terminate(Duration::from_secs(20));
    assert!(exited.is_some_and(|s| s.success()), "{}", berth.logs());

    assert_eq!(
        std::fs::read_to_string(&victim).expect("victim readable"),
        "the victim's own content\n",
        "a file outside was overwritten through a symlink"
    );
    assert_eq!(entries(tmp.path()), before, "nothing left in $TMPDIR");
}

#[tokio::test]
async fn a_library_that_aborts_hangs_or_is_garbage_is_refused_by_name_and_others_serve() {
    let apps = Apps::new("loading-hostile-libraries");
    apps.sample("echo");
    let aborts = context_with(&apps, "aborts", "libaborts.so", &fixture("load_abort"));
    let hangs = context_with(&apps, "hangs", "libhangs.so", &fixture("load_hang"));
    let garbage = context_with(&apps, "garbage", "libgarbage.so", &random_bytes(4096));
    let berth = Berth::launch(&apps, &Launch::default());
    let line = |library: &Path| {
        berth
            .wait_for_log(&format!("{}: ", library.display()), SLOW_START)
            .unwrap_or_else(|| panic!("{} is not named:\n{}", library.display(), berth.logs()))
    };

    let aborted = line(&aborts);
    assert!(aborted.contains("context not deployed"), "{aborted}");
    assert!(
        aborted.contains("crashed the probe process with signal 6 (SIGABRT)"),
        "{aborted}"
    );
    assert!(
        aborted.contains("load-abort fixture: aborting in my constructor"),
        "the library's last words are shown: {aborted}"
    );
    let hung = line(&hangs);
    assert!(hung.contains("did not finish within 10 s"), "{hung}");
    let junk = line(&garbage);
    assert!(junk.contains("cannot load the plugin library"), "{junk}");

    echo_round_trip(&berth.url("/echo/")).await;
    for path in ["/aborts/", "/hangs/", "/garbage/"] {
        assert_eq!(
            handshake_status(berth.addr(), path, &[]).await,
            404,
            "{path}"
        );
    }
}

#[test]
fn berth_check_reports_libraries_that_abort_hang_or_are_not_plugins() {
    let apps = Apps::new("loading-check");
    apps.sample("echo");
    let aborts = context_with(&apps, "aborts", "libaborts.so", &fixture("load_abort"));
    let hangs = context_with(&apps, "hangs", "libhangs.so", &fixture("load_hang"));
    let garbage = context_with(&apps, "garbage", "libgarbage.so", &random_bytes(4096));
    let run: Finished = berth_in(apps.home(), &["check", "apps"]).into();
    assert_eq!(run.code, Some(1), "{run:?}");
    let out = &run.stdout;
    let has = |needle: String| assert!(out.contains(&needle), "missing {needle:?} in\n{out}");
    let relative = |p: &Path| {
        let relative = p.strip_prefix(apps.home()).expect("under home");
        relative.display().to_string()
    };
    has(format!(
        "{}: error: opening the library crashed the probe process with signal 6 (SIGABRT)",
        relative(&aborts)
    ));
    has(format!(
        "{}: error: opening the library did not finish within 10 s",
        relative(&hangs)
    ));
    has(format!(
        "{}: error: cannot load the plugin library",
        relative(&garbage)
    ));
    assert!(
        !out.contains("apps/echo"),
        "the good context is clean:\n{out}"
    );
    assert!(
        out.ends_with("berth check: 4 contexts, 5 files checked: 3 error(s), 3 warning(s)\n"),
        "{out}"
    );
}

#[test]
fn the_probe_subcommand_is_hidden_from_help() {
    let dir = TempDir::new("loading-help");
    let run: Finished = berth_in(dir.path(), &["--help"]).into();
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(!run.stdout.contains("probe-library"), "{}", run.stdout);
}
