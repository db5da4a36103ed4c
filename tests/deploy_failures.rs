//! Failures never take anything down (issue 13, item 6), end to end: a running context gets a
//! broken new version — a descriptor that is not XML, no library or two, a library without
//! the entry symbol, of another ABI major, that kills the pre-flight child, or whose endpoint
//! panics while being created — and after SIGHUP the refusal is logged the way `berth check`
//! says it, the old version keeps serving (its open session is not closed and still
//! round-trips on the old code, new handshakes still reach it), another context notices
//! nothing, and fixing the files deploys the new version. A context-path clash is refused
//! while both contexts stay as they were. A refused version is not tried again until its
//! files change, and a problem that was fixed and comes back is reported again.

use berth_tests::apps::{Apps, descriptor};
use berth_tests::client::{Ws, connect, echo_round_trip, handshake_status};
use berth_tests::live::{
    self, Write, close_code, echoes, library_without_entry, lines_with, logged, talks,
};
use berth_tests::server::Berth;
use berth_tests::{Finished, berth_in, plugin_library};

/// The running build's marker.
const ONE: &str = "version_one";
/// The fixed build's marker.
const TWO: &str = "version_two";
/// The file the builds are copied onto.
const LIBRARY: &str = "libversioned.so";
/// What the deployer logs for every refused version.
const REFUSED: &str = "context not deployed";

/// A server with the echo sample (the bystander) and context `v` (`/v`) on build one, an
/// open session on each.
async fn server(label: &str) -> (Apps, Berth, Ws, Ws) {
    let apps = Apps::new(label);
    apps.sample("echo");
    apps.context_as("v", "version_one", LIBRARY, &descriptor(""));
    let berth = live::start(&apps);
    let bystander = echo_round_trip(&berth.url("/echo/")).await;
    let old = session(&berth, "/v/", ONE).await;
    (apps, berth, bystander, old)
}

/// A session at `path` that has talked to build `marker`.
async fn session(berth: &Berth, path: &str, marker: &str) -> Ws {
    let mut ws = connect(&berth.url(path)).await;
    talks(&mut ws, marker, "hello").await;
    ws
}

/// Nothing was closed on either context, and `v` is still its first version.
fn nothing_closed(berth: &Berth) {
    let logs = berth.logs();
    assert!(lines_with(&logs, &["session closed"]).is_empty(), "{logs}");
    assert_eq!(lines_with(&logs, &["serving context=v"]).len(), 1, "{logs}");
    assert!(!logs.contains("retiring context=v"), "{logs}");
}

/// The bytes of the build of `plugin`.
fn build_of(plugin: &str) -> Vec<u8> {
    std::fs::read(plugin_library(plugin)).expect("the plugin is built")
}

/// The error `berth check` reports first for context `v`, which must contain `expected`.
fn check_says(apps: &Apps, expected: &str) -> String {
    let dir = apps.context_dir("v");
    let dir = dir.to_str().expect("the temp dir's path is UTF-8");
    let checked = Finished::from(berth_in(apps.home(), &["check", dir]));
    let first = (checked.stdout.lines())
        .find(|line| line.contains(": error: "))
        .unwrap_or_else(|| panic!("berth check reported no error: {checked:?}"));
    assert!(first.contains(expected), "{first}");
    first.to_owned()
}

/// Breaks `v` as the test says; returns what its refusal must say.
type Breakage = fn(&Apps) -> String;

/// Breaks `v`, checks the refusal and that nothing else changed, then fixes `v` with build two
/// and checks that it deploys.
async fn refused_while_the_old_version_serves(label: &str, breakage: Breakage) {
    let (apps, berth, mut bystander, mut old) = server(label).await;
    let says = breakage(&apps);
    berth.send_signal("HUP");
    let refusal = logged(&berth, REFUSED, 1);
    assert!(refusal.contains(&says), "{says:?} not in {refusal}");
    assert!(refusal.contains("context=v serving=true"), "{refusal}");

    talks(&mut old, ONE, "after the refusal").await;
    let mut another = session(&berth, "/v/", ONE).await;
    echoes(&mut bystander, "after the refusal").await;
    nothing_closed(&berth);

    let dir = apps.context_dir("v");
    for entry in std::fs::read_dir(&dir).expect("the context dir") {
        std::fs::remove_file(entry.expect("an entry").path()).expect("remove");
    }
    apps.context_as("v", "version_two", LIBRARY, &descriptor(""));
    berth.send_signal("HUP");
    logged(&berth, "serving context=v", 2);
    let mut new = session(&berth, "/v/", TWO).await;
    assert_eq!(close_code(&mut old).await, 1012);
    assert_eq!(close_code(&mut another).await, 1012);
    talks(&mut new, TWO, "fixed").await;
    echoes(&mut bystander, "after the fix").await;
    let logs = berth.logs();
    let echo_closes = lines_with(&logs, &["session closed", "context=echo"]);
    assert!(
        echo_closes.is_empty(),
        "the bystander lost a session:\n{logs}"
    );
}

/// One test per breakage, each on its own server.
macro_rules! refusals {
    ($($name:ident => $breakage:expr;)+) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            refused_while_the_old_version_serves(stringify!($name), $breakage).await;
        }
    )+};
}

refusals! {
    a_descriptor_that_is_not_xml_is_refused_with_its_position => |apps| {
        let broken = "<jeus-web-dd xmlns=\"http://www.tmaxsoft.com/xml/ns/jeus\" version=\"8.0\">\n\
                      <websocket>\n\
                      <redeploy-policy>drain</redeploy-polcy>\n\
                      </websocket>\n\
                      </jeus-web-dd>\n";
        let file = apps.put_descriptor("v", broken);
        check_says(apps, &format!("{}:3:23: error: malformed XML", file.display()))
    };
    a_directory_without_a_library_is_refused => |apps| {
        let library = apps.context_dir("v").join(LIBRARY);
        std::fs::remove_file(library).expect("the library can be removed");
        check_says(apps, "error: no plugin library")
    };
    a_directory_with_two_libraries_is_refused => |apps| {
        apps.put_library("v", "version_two", "libextra.so", Write::Atomic);
        check_says(apps, "error: several plugin libraries")
    };
    a_library_without_the_entry_symbol_is_refused => |apps| {
        let built = apps.home().join("libnoentry.so");
        library_without_entry(&built);
        let content = std::fs::read(&built).expect("the library was linked");
        apps.put_file("v", LIBRARY, &content, Write::InPlace);
        "not a Berth plugin: the symbol berth_plugin_entry is missing".to_owned()
    };
    a_library_of_another_abi_major_is_refused_naming_both_versions => |apps| {
        apps.put_file("v", LIBRARY, &build_of("abi_next_major"), Write::InPlace);
        "built against endpoint-api ABI 2.0".to_owned()
    };
    a_library_that_crashes_the_pre_flight_is_refused => |apps| {
        apps.put_file("v", LIBRARY, &build_of("load_abort"), Write::Atomic);
        "crashed the probe process with signal 6 (SIGABRT)".to_owned()
    };
    a_plugin_that_panics_creating_its_endpoint_is_refused => |apps| {
        // A changed init-param needs a new plugin instance: the same library, created again.
        let inner = "<init-param><name>panic-on-create</name><value>yes</value></init-param>";
        apps.put_descriptor("v", &descriptor(inner));
        "create failed".to_owned()
    };
}

/// A descriptor that serves its context at `path`.
fn descriptor_at(path: &str) -> String {
    format!(
        "<jeus-web-dd xmlns=\"http://www.tmaxsoft.com/xml/ns/jeus\" version=\"8.0\">\n<context-path>{path}</context-path>\n</jeus-web-dd>\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_context_claiming_a_served_path_is_refused_while_both_stay_as_they_were() {
    let (apps, berth, mut bystander, mut old) = server("live-clash-new").await;
    apps.context_as("w", "version_two", LIBRARY, &descriptor_at("/v"));
    berth.send_signal("HUP");
    let refusal = logged(&berth, REFUSED, 1);
    assert!(
        refusal.contains("context path /v is already served by v"),
        "{refusal}"
    );
    assert!(refusal.contains("context=w serving=false"), "{refusal}");
    talks(&mut old, ONE, "still mine").await;
    // Sessions stay open to the end: a dropped connection would be a close in the log.
    let _newcomer = session(&berth, "/v/", ONE).await;
    assert_eq!(handshake_status(berth.addr(), "/w/", &[]).await, 404);
    echoes(&mut bystander, "after the clash").await;
    nothing_closed(&berth);

    apps.put_descriptor("w", &descriptor_at("/w"));
    berth.send_signal("HUP");
    logged(&berth, "serving context=w", 1);
    let _on_w = session(&berth, "/w/", TWO).await;
    talks(&mut old, ONE, "still mine after w deployed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_context_moving_onto_a_served_path_is_refused_and_keeps_its_own() {
    let (apps, berth, mut bystander, mut old) = server("live-clash-move").await;
    apps.put_descriptor("v", &descriptor_at("/echo"));
    berth.send_signal("HUP");
    let refusal = logged(&berth, REFUSED, 1);
    assert!(
        refusal.contains("context path /echo is already served by echo"),
        "{refusal}"
    );
    assert!(refusal.contains("context=v serving=true"), "{refusal}");
    talks(&mut old, ONE, "still at /v").await;
    let _newcomer = session(&berth, "/v/", ONE).await;
    let _on_echo = echo_round_trip(&berth.url("/echo/")).await;
    echoes(&mut bystander, "after the clash").await;
    nothing_closed(&berth);
}

/// How many threads of the server belong to context `v`'s pools (`berth-v-<n>`,
/// `berth-v-t<n>`).
fn pool_threads_of_v(berth: &Berth) -> usize {
    let names = berth.thread_names();
    names
        .iter()
        .filter(|name| name.starts_with("berth-v-"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_version_leaves_no_threads_and_is_not_tried_again_until_its_files_change() {
    let (apps, berth, mut bystander, mut old) = server("live-refused-once").await;
    let running = pool_threads_of_v(&berth);
    assert!(running > 0, "{:?}", berth.thread_names());
    let inner = "<init-param><name>panic-on-create</name><value>yes</value></init-param>";
    apps.put_descriptor("v", &descriptor(inner));
    berth.send_signal("HUP");
    logged(&berth, REFUSED, 1);
    // The refused version's pool was started before its plugin failed; it is stopped before
    // the refusal is reported.
    assert_eq!(
        pool_threads_of_v(&berth),
        running,
        "{:?}",
        berth.thread_names()
    );
    // Two more rescans with nothing changed in `v`; each deploys a new context, whose
    // "serving" line comes after everything the rescan did.
    for (n, other) in ["x", "y"].into_iter().enumerate() {
        apps.context_as(other, "version_two", LIBRARY, &descriptor(""));
        berth.send_signal("HUP");
        logged(&berth, "serving context=", n + 3);
    }
    let logs = berth.logs();
    assert_eq!(
        lines_with(&logs, &["redeploying:", "context=v"]).len(),
        1,
        "{logs}"
    );
    assert_eq!(lines_with(&logs, &[REFUSED]).len(), 1, "{logs}");
    talks(&mut old, ONE, "still served").await;
    echoes(&mut bystander, "still here").await;
    nothing_closed(&berth);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_problem_fixed_by_going_back_and_made_again_is_reported_again() {
    let (apps, berth, _bystander, mut old) = server("live-refused-again").await;
    let extra = apps.context_dir("v").join("libextra.so");
    let mut deployed = 2;
    for (round, other) in ["x", "y"].into_iter().enumerate() {
        apps.put_library("v", "version_two", "libextra.so", Write::Atomic);
        berth.send_signal("HUP");
        logged(&berth, REFUSED, round + 1);
        // Back to the files `v` runs from: nothing to redeploy, nothing wrong any more.
        std::fs::remove_file(&extra).expect("the extra library can be removed");
        apps.context_as(other, "version_two", LIBRARY, &descriptor(""));
        berth.send_signal("HUP");
        deployed += 1;
        logged(&berth, "serving context=", deployed);
    }
    talks(&mut old, ONE, "never redeployed").await;
    nothing_closed(&berth);
}
