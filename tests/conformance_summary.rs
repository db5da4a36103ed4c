//! `conformance/summary.py`, the verdict of `scripts/conformance.sh`, on made-up Autobahn
//! reports: it passes only a report of all 517 cases with none failed and no failure found
//! outside the report (Berth's own log and exit, passed in with `--failure`).

use std::process::Command;

use berth_tests::{Finished, TempDir, workspace_root};

/// A report of `ok` OK cases and `failed` FAILED ones, as kosoku writes `index.json`.
fn report(ok: usize, failed: usize) -> TempDir {
    let dir = TempDir::new("summary");
    let case = |n: usize, behavior: &str| {
        format!(
            "\"{}.{}.{}\": {{\"behavior\": \"{behavior}\", \"behaviorClose\": \"OK\", \"duration\": 1, \"remoteCloseCode\": 1000, \"reportfile\": \"case_{n}.json\"}}",
            1 + n / 100,
            1 + n / 10 % 10,
            1 + n % 10
        )
    };
    let cases: Vec<String> = (0..ok + failed)
        .map(|n| case(n, if n < ok { "OK" } else { "FAILED" }))
        .collect();
    dir.write(
        "index.json",
        &format!("{{\"berth\": {{{}}}}}", cases.join(", ")),
    );
    dir
}

fn summary(report: &TempDir, args: &[&str]) -> Finished {
    Command::new("python3")
        .arg(workspace_root().join("conformance/summary.py"))
        .arg(report.path())
        .args(args)
        .output()
        .expect("python3 runs")
        .into()
}

fn closing_line(run: &Finished) -> &str {
    run.stdout.lines().last().unwrap_or("")
}

#[test]
fn all_517_cases_ok_pass() {
    let run = summary(&report(517, 0), &[]);
    assert_eq!(
        closing_line(&run),
        "conformance: 517 passed, 0 failed",
        "{run:?}"
    );
    assert_eq!(run.code, Some(0), "{run:?}");
}

#[test]
fn a_report_missing_cases_fails_each_missing_case() {
    let run = summary(&report(516, 0), &[]);
    assert_eq!(closing_line(&run), "conformance: 516 passed, 1 failed");
    assert!(
        run.stdout.contains("holds 516 cases, not the 517"),
        "{run:?}"
    );
    assert_eq!(run.code, Some(1));

    let run = summary(&report(10, 0), &[]);
    assert_eq!(closing_line(&run), "conformance: 10 passed, 507 failed");
    assert_eq!(run.code, Some(1));

    let run = summary(&report(518, 0), &[]);
    assert_eq!(closing_line(&run), "conformance: 518 passed, 1 failed");
    assert_eq!(run.code, Some(1));
}

#[test]
fn a_deliberate_subset_is_accepted_when_asked_for() {
    let run = summary(&report(16, 0), &["--cases", "any"]);
    assert_eq!(closing_line(&run), "conformance: 16 passed, 0 failed");
    assert_eq!(run.code, Some(0));
    let run = summary(&report(16, 0), &["--cases", "16"]);
    assert_eq!(run.code, Some(0));
}

#[test]
fn a_failed_case_or_a_failure_outside_the_report_fails() {
    let run = summary(&report(516, 1), &[]);
    assert_eq!(closing_line(&run), "conformance: 516 passed, 1 failed");
    assert_eq!(run.code, Some(1));

    let run = summary(
        &report(517, 0),
        &[
            "--failure",
            "berth exited with status 1 after SIGTERM",
            "--failure",
            "berth logged 2 ERROR or panicked line(s)",
        ],
    );
    assert_eq!(closing_line(&run), "conformance: 517 passed, 2 failed");
    assert!(
        run.stdout
            .contains("berth exited with status 1 after SIGTERM"),
        "{run:?}"
    );
    assert_eq!(run.code, Some(1));
}
