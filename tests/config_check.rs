//! `berth check`, run as the real binary on good and bad files: exit codes and output.

use std::time::Duration;

use berth_tests::apps::{Apps, descriptor};
use berth_tests::client::{connect, recv_text, send_text};
use berth_tests::server::Berth;
use berth_tests::{Finished, TempDir, berth_in, plugin_library, workspace_root};

const GOOD_DESCRIPTOR: &str = r#"<?xml version="1.0"?>
<jeus-web-dd xmlns="http://www.tmaxsoft.com/xml/ns/jeus" version="8.0">
    <websocket>
        <max-incoming-text-message-buffer-size>4096</max-incoming-text-message-buffer-size>
        <monitoring-period-in-millis>500</monitoring-period-in-millis>
    </websocket>
</jeus-web-dd>
"#;

const BAD_DESCRIPTOR: &str = r#"<jeus-web-dd xmlns="http://www.tmaxsoft.com/xml/ns/jeus" version="8.0">
    <websocket>
        <max-incoming-text-message-bufer-size>4096</max-incoming-text-message-bufer-size>
        <max-session-idle-timeout-in-millis>10 minutes</max-session-idle-timeout-in-millis>
        <websocket-executor>
            <min>50</min>
            <max>20</max>
        </websocket-executor>
        <batching-buffer-size>-1</batching-buffer-size>
        <monitoring-period-in-millis>10</monitoring-period-in-millis>
    </websocket>
</jeus-web-dd>
"#;

fn check(dir: &TempDir, args: &[&str]) -> Finished {
    let mut all = vec!["check"];
    all.extend_from_slice(args);
    berth_in(dir.path(), &all).into()
}

#[test]
fn a_bad_descriptor_lists_every_problem_with_positions_and_exits_1() {
    let dir = TempDir::new("check-bad");
    dir.write("bad.xml", BAD_DESCRIPTOR);
    let run = check(&dir, &["bad.xml"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    let expected = "\
bad.xml:3:9: error: unknown element <max-incoming-text-message-bufer-size> in <websocket>; did you mean <max-incoming-text-message-buffer-size>?
bad.xml:4:45: error: <max-session-idle-timeout-in-millis> must be a whole number, found \"10 minutes\"
bad.xml:6:18: error: <websocket-executor> <min> 50 is greater than <max> 20
bad.xml:9:31: error: <batching-buffer-size> must not be negative, found -1
bad.xml:10:38: warning: <monitoring-period-in-millis> 10 is below the minimum; 1000 is used instead
berth check: 0 contexts, 1 file checked: 4 error(s), 1 warning(s)
";
    assert_eq!(run.stdout, expected);
}

#[test]
fn warnings_alone_exit_0_and_effective_shows_defaults_and_clamps() {
    let dir = TempDir::new("check-good");
    dir.write("jeus-web-dd.xml", GOOD_DESCRIPTOR);
    let run = check(&dir, &["--effective", "jeus-web-dd.xml"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(
        lines[0],
        "jeus-web-dd.xml:5:38: warning: <monitoring-period-in-millis> 500 is below the minimum; 1000 is used instead"
    );
    assert_eq!(lines[1], "jeus-web-dd.xml: effective settings:");
    for row in [
        "  websocket/max-incoming-text-message-buffer-size = 4096",
        "  websocket/max-incoming-binary-message-buffer-size = 8192  (default)",
        "  websocket/monitoring-period-in-millis = 1000  (adjusted from 500)",
        "  websocket/websocket-executor/max = 30  (default)",
    ] {
        assert!(lines.contains(&row), "missing {row:?} in {lines:#?}");
    }
    assert_eq!(
        lines.last(),
        Some(&"berth check: 0 contexts, 1 file checked: 0 error(s), 1 warning(s)")
    );
}

#[test]
fn the_shipped_samples_and_the_seed_example_are_valid() {
    let root = workspace_root();
    let dir = TempDir::new("check-samples");
    let files = [
        root.join("conf/server.xml"),
        root.join("apps/echo/jeus-web-dd.xml"),
        root.join("apps/chat/jeus-web-dd.xml"),
        root.join("apps/presence/jeus-web-dd.xml"),
        root.join("runtime/src/config/descriptor/testdata/jeus-seed-example.xml"),
    ];
    let args: Vec<&str> = files
        .iter()
        .map(|f| f.to_str().expect("utf-8 path"))
        .collect();
    let run = check(&dir, &args);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(
        run.stdout,
        "berth check: 0 contexts, 5 files checked: 0 error(s), 0 warning(s)\n"
    );
}

#[test]
fn a_bad_server_configuration_is_recognised_and_reported() {
    let dir = TempDir::new("check-server");
    dir.write(
        "conf/server.xml",
        "<berth-server>\n  <listen>8080</listen>\n  <trusted-proxys/>\n</berth-server>\n",
    );
    let run = check(&dir, &["conf/server.xml"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert_eq!(
        run.stdout,
        "conf/server.xml:2:11: error: <listen> \"8080\" must be IP:PORT, such as 0.0.0.0:8080 or [::1]:8080\n\
         conf/server.xml:3:3: error: unknown element <trusted-proxys> in <berth-server>; did you mean <trusted-proxies>?\n\
         berth check: 0 contexts, 1 file checked: 2 error(s), 0 warning(s)\n"
    );
}

#[test]
fn an_apps_directory_checks_each_context_and_path_collisions() {
    let dir = TempDir::new("check-apps");
    dir.write(
        "apps/alpha/jeus-web-dd.xml",
        "<jeus-web-dd><context-path>/shared</context-path></jeus-web-dd>",
    );
    dir.write(
        "apps/beta/jeus-web-dd.xml",
        "<jeus-web-dd><context-path>/shared</context-path></jeus-web-dd>",
    );
    // Real plugins: `berth check` opens every library in its probe process.
    for library in [
        "apps/alpha/libalpha.so",
        "apps/beta/lib/libbeta.so",
        "apps/ROOT/libroot.so",
    ] {
        let target = dir.path().join(library);
        std::fs::create_dir_all(target.parent().expect("parent")).expect("dir");
        std::fs::copy(plugin_library("probe"), target).expect("plugin copied");
    }
    dir.write("apps/empty/jeus-web-dd.xml", "<jeus-web-dd/>");
    let run = check(&dir, &["--effective", "apps"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    let out = &run.stdout;
    assert!(
        out.contains("apps/ROOT: warning: no jeus-web-dd.xml: every setting is the default"),
        "{out}"
    );
    assert!(
        out.contains("  context-path = /  (from the directory name"),
        "{out}"
    );
    assert!(
        out.contains("apps/beta: error: context path /shared is already served by apps/alpha"),
        "{out}"
    );
    assert!(
        out.contains("apps/empty: error: no plugin library"),
        "{out}"
    );
    assert!(
        out.contains("  websocket/endpoint-library = apps/beta/lib/libbeta.so")
            || out.contains("apps/alpha/libalpha.so"),
        "{out}"
    );
    assert!(
        out.ends_with("berth check: 4 contexts, 6 files checked: 2 error(s), 1 warning(s)\n"),
        "{out}"
    );
}

#[test]
fn a_clean_apps_directory_says_how_many_contexts_and_files_it_checked() {
    let apps = Apps::new("check-clean");
    apps.sample("echo").sample("chat").sample("presence");
    let run: Finished = berth_in(apps.home(), &["check", "apps"]).into();
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(
        run.stdout,
        "berth check: 3 contexts, 6 files checked: 0 error(s), 0 warning(s)\n"
    );
}

#[test]
fn descriptor_errors_and_library_problems_are_reported_in_one_run() {
    let dir = TempDir::new("check-together");
    let typo = "<jeus-web-dd>\n<websocket>\n  <max-sesions>5</max-sesions>\n</websocket>\n</jeus-web-dd>\n";
    dir.write("apps/unbuilt/jeus-web-dd.xml", typo);
    dir.write("apps/junk/jeus-web-dd.xml", typo);
    dir.write("apps/junk/libjunk.so", "not a library");
    let run = check(&dir, &["apps"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    let lines: Vec<&str> = run.stdout.lines().collect();
    let unknown =
        "3:3: error: unknown element <max-sesions> in <websocket>; did you mean <max-sessions>?";
    assert_eq!(lines.len(), 5, "{lines:#?}");
    assert_eq!(lines[0], format!("apps/junk/jeus-web-dd.xml:{unknown}"));
    assert!(
        lines[1].starts_with("apps/junk/libjunk.so: error: cannot load the plugin library"),
        "{lines:#?}"
    );
    assert_eq!(lines[2], format!("apps/unbuilt/jeus-web-dd.xml:{unknown}"));
    assert!(
        lines[3].starts_with("apps/unbuilt: error: no plugin library: expected one *.so"),
        "{lines:#?}"
    );
    assert_eq!(
        lines[4],
        "berth check: 2 contexts, 3 files checked: 4 error(s), 0 warning(s)"
    );
}

#[test]
fn a_descriptor_with_errors_that_names_its_library_is_not_second_guessed() {
    let dir = TempDir::new("check-named");
    dir.write(
        "app/jeus-web-dd.xml",
        "<jeus-web-dd>\n<websocket>\n  <endpoint-library>native/libx.so</endpoint-library>\n  <max-sesions>5</max-sesions>\n</websocket>\n</jeus-web-dd>\n",
    );
    let run = check(&dir, &["app"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert_eq!(
        run.stdout,
        "app/jeus-web-dd.xml:4:3: error: unknown element <max-sesions> in <websocket>; did you mean <max-sessions>?\n\
         berth check: 1 context, 1 file checked: 1 error(s), 0 warning(s)\n"
    );
}

#[test]
fn a_bare_ampersand_is_explained_in_the_administrators_words() {
    let dir = TempDir::new("check-ampersand");
    dir.write(
        "conf/server.xml",
        "<berth-server xmlns=\"urn:berth:server:1\">\n  <session-store>\n    <kind>redis</kind>\n    <redis-url>redis://10.0.0.5/0?user=a&password=b</redis-url>\n  </session-store>\n</berth-server>\n",
    );
    let run = check(&dir, &["conf/server.xml"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert_eq!(
        run.stdout,
        "conf/server.xml:4:41: error: a bare & must be written &amp; (in XML, & starts a reference such as &lt; that ends with ;)\n\
         berth check: 0 contexts, 1 file checked: 1 error(s), 0 warning(s)\n"
    );
}

#[test]
fn a_named_library_that_is_missing_points_at_the_element() {
    let dir = TempDir::new("check-library");
    dir.write(
        "app/jeus-web-dd.xml",
        "<jeus-web-dd>\n<websocket>\n  <endpoint-library>lib/libnope.so</endpoint-library>\n</websocket>\n</jeus-web-dd>\n",
    );
    let run = check(&dir, &["app"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stdout.starts_with(
            "app/jeus-web-dd.xml:3:21: error: <endpoint-library> app/lib/libnope.so does not exist"
        ),
        "{run:?}"
    );
}

#[test]
fn missing_paths_and_malformed_xml_are_errors() {
    let dir = TempDir::new("check-missing");
    dir.write(
        "broken.xml",
        "<jeus-web-dd>\n  <websocket>\n</jeus-web-dd>\n",
    );
    let run = check(&dir, &["nowhere.xml", "broken.xml"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(
        lines[0].starts_with("nowhere.xml: error: cannot read:"),
        "{lines:?}"
    );
    assert!(
        lines[1].starts_with("broken.xml:3:") && lines[1].contains("malformed XML"),
        "{lines:?}"
    );
}

#[test]
fn usage_errors_exit_2_and_version_and_help_work() {
    let dir = TempDir::new("check-usage");
    assert_eq!(check(&dir, &[]).code, Some(2));
    let run: Finished = berth_in(dir.path(), &["check", "--no-such-flag", "x"]).into();
    assert_eq!(run.code, Some(2), "{run:?}");
    let run: Finished = berth_in(dir.path(), &["--version"]).into();
    assert_eq!(
        (run.code, run.stdout.trim()),
        (Some(0), concat!("berth ", env!("CARGO_PKG_VERSION")))
    );
    let run: Finished = berth_in(dir.path(), &["--help"]).into();
    assert_eq!(run.code, Some(0));
    assert!(
        run.stdout.contains("check") && run.stdout.contains("run"),
        "{run:?}"
    );
}

/// A descriptor with `depth` `<a>` elements nested inside the ignored JEUS `<session-config>`
/// (issue 10): the first `<a>` is at depth 3, on line 3, column 1.
fn nested_descriptor(depth: usize) -> String {
    format!(
        "<jeus-web-dd xmlns=\"http://www.tmaxsoft.com/xml/ns/jeus\">\n<session-config>\n{}{}\n</session-config>\n</jeus-web-dd>\n",
        "<a>".repeat(depth),
        "</a>".repeat(depth)
    )
}

/// The message for the first `<a>` past the depth limit of 64 in a [`nested_descriptor`].
fn too_deep(file: &str) -> String {
    let column = 1 + "<a>".len() * (64 - 2);
    format!(
        "{file}:3:{column}: error: <a> is nested more than 64 elements deep, the limit for a configuration file; the file is not read further"
    )
}

/// Deep enough to overflow a recursive reader, small enough (980 KB) to pass the size limit.
const DEEP_UNDER_SIZE_LIMIT: usize = 140_000;

fn assert_no_crash(run: &Finished) {
    assert!(!run.stderr.contains("overflow"), "{run:?}");
}

#[test]
fn a_deeply_nested_descriptor_is_one_positioned_error_not_a_crash() {
    let dir = TempDir::new("check-deep");
    dir.write("deep.xml", &nested_descriptor(DEEP_UNDER_SIZE_LIMIT));
    let run = check(&dir, &["deep.xml"]);
    assert_no_crash(&run);
    assert_eq!(run.code, Some(1), "{run:?}");
    let expected = format!(
        "{}\nberth check: 0 contexts, 1 file checked: 1 error(s), 0 warning(s)\n",
        too_deep("deep.xml")
    );
    assert_eq!(run.stdout, expected);
}

#[test]
fn the_200_000_deep_descriptor_of_issue_10_is_refused_by_its_size() {
    let dir = TempDir::new("check-huge");
    let text = nested_descriptor(200_000);
    assert!(text.len() > 1024 * 1024, "the issue's file is 1.4 MB");
    dir.write("huge.xml", &text);
    let run = check(&dir, &["huge.xml"]);
    assert_no_crash(&run);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert_eq!(
        run.stdout,
        "huge.xml: error: the file is larger than 1048576 bytes (1 MiB), the limit for a configuration file; it is not read\n\
         berth check: 0 contexts, 1 file checked: 1 error(s), 0 warning(s)\n"
    );
}

#[test]
fn berth_run_serves_an_enabled_admin_listener_and_none_when_disabled() {
    let enabled = Apps::new("run-admin-on");
    enabled.context("probe", "probe", &descriptor(""));
    let conf = enabled.admin_conf("");
    let berth = Berth::start_with(&enabled, &["--conf", &conf]);
    assert_ne!(berth.admin_addr().port(), 0, "{}", berth.logs());

    let disabled = Apps::new("run-admin-off");
    disabled.context("probe", "probe", &descriptor(""));
    let conf = disabled.server_conf("");
    let conf = conf.to_str().expect("utf-8 path");
    let mut berth = Berth::start_with(&disabled, &["--conf", conf]);
    let status = berth.terminate(Duration::from_secs(20));
    assert!(status.is_some_and(|s| s.success()), "{}", berth.logs());
    let logs = berth.logs();
    assert!(!logs.contains("admin listen"), "{logs}");
}

#[tokio::test]
async fn berth_run_serves_the_good_context_beside_hostile_descriptors() {
    let apps = Apps::new("run-hostile");
    apps.context("deep", "probe", &nested_descriptor(DEEP_UNDER_SIZE_LIMIT));
    apps.context("huge", "probe", &nested_descriptor(200_000));
    apps.context("probe", "probe", &descriptor(""));
    let berth = Berth::start(&apps);

    let mut ws = connect(&berth.url("/probe/")).await;
    send_text(&mut ws, "still here").await;
    assert_eq!(recv_text(&mut ws).await, "still here");

    let deep_file = apps.dir().join("deep").join("jeus-web-dd.xml");
    let huge_file = apps.dir().join("huge").join("jeus-web-dd.xml");
    let wait = Duration::from_secs(10);
    for needle in [
        too_deep(&deep_file.display().to_string()),
        format!("{}: error: the file is larger than", huge_file.display()),
    ] {
        let logged = berth.wait_for_log(&needle, wait);
        assert!(logged.is_some(), "{needle:?} not logged:\n{}", berth.logs());
    }
    assert!(
        berth.wait_for_count("context not deployed", 2, wait),
        "{}",
        berth.logs()
    );
}

#[test]
fn endpoints_lists_every_endpoints_full_url_template_and_subprotocols() {
    let dir = TempDir::new("check-endpoints");
    for (context, library) in [("ROOT", "probe"), ("rooms", "chat")] {
        let target = dir
            .path()
            .join("apps")
            .join(context)
            .join(format!("lib{library}.so"));
        std::fs::create_dir_all(target.parent().expect("parent")).expect("dir");
        std::fs::copy(plugin_library(library), target).expect("plugin copied");
    }
    let run = check(&dir, &["--endpoints", "apps"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let lines: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.contains("endpoint "))
        .collect();
    assert_eq!(
        lines,
        [
            "apps/ROOT: endpoint / (subprotocols: none)",
            "apps/ROOT: endpoint /items/{item} (subprotocols: none)",
            "apps/ROOT: endpoint /sub (subprotocols: v1.probe, v2.probe)",
            "apps/rooms: endpoint /rooms/rooms/{room} (subprotocols: none)",
        ]
    );
    let without = check(&dir, &["apps"]);
    assert!(!without.stdout.contains("endpoint "), "{without:?}");
}
