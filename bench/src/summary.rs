//! `berth-load summary`: turns the records of a bench run into one comparison table (every
//! repetition, the median, and the ratio to the reference server per repetition) and checks
//! the performance targets (bench/README.md). Runs recorded with the tag `mode=smoke`
//! (`scripts/bench.sh --smoke`) are far too small for a target to mean anything, so their
//! verdict is `n/a (smoke)`, never `yes` or `NO`.

use std::path::Path;

use crate::BenchError;
use crate::record::Record;
use crate::stats::median;
use crate::table::{Table, num};

/// Which metrics of a scenario kind are shown: (key, label, which way is better).
fn metrics(kind: &str) -> &'static [(&'static str, &'static str, Better)] {
    match kind {
        "echo" => &[
            ("rate", "msg/s", Better::Higher),
            ("server_us_per_op", "server CPU us/msg", Better::Lower),
            (
                "server_cs_per_op",
                "server ctx switches/msg",
                Better::LowerNoRatio,
            ),
            ("client_cores", "load tool cores", Better::Neither),
        ],
        "latency" => &[
            ("p50_us", "p50 us", Better::Lower),
            ("p99_us", "p99 us", Better::Lower),
            ("p999_us", "p99.9 us", Better::Lower),
            ("p99_send_us", "p99 us from actual send", Better::Lower),
            ("server_us_per_op", "server CPU us/msg", Better::Lower),
        ],
        "handshake" => &[
            ("rate", "handshakes/s", Better::Higher),
            ("server_us_per_op", "server CPU us/handshake", Better::Lower),
        ],
        "idle" => &[
            ("kib_per_conn", "KiB/conn", Better::Lower),
            ("retained_pct", "% kept after close", Better::LowerNoRatio),
        ],
        "broadcast" => &[
            ("last_ms", "last client ms", Better::Lower),
            ("p50_ms", "p50 client ms", Better::Lower),
        ],
        _ => &[],
    }
}

/// Which way a metric is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Better {
    Higher,
    Lower,
    /// Lower is better, but a ratio means nothing (the reference is often zero).
    LowerNoRatio,
    /// Shown for context (e.g. whether the load tool was saturated).
    Neither,
}

/// A target: the scenario kind, the metric, and what must hold of the median.
#[derive(Debug, Clone, Copy)]
enum Goal {
    /// `subject / reference` at least this.
    RatioAtLeast(f64),
    /// `subject / reference` at most this.
    RatioAtMost(f64),
    /// The subject's own value at most this.
    AtMost(f64),
}

/// The targets each scenario is judged by (bench/README.md says where they come from).
const TARGETS: &[(&str, &str, Goal)] = &[
    ("echo", "rate", Goal::RatioAtLeast(1.2)),
    ("idle", "kib_per_conn", Goal::AtMost(4.0)),
    ("handshake", "rate", Goal::RatioAtLeast(1.0)),
    ("latency", "p99_us", Goal::RatioAtMost(1.0)),
];

/// The records of one scenario.
#[derive(Debug)]
struct Scenario<'a> {
    name: String,
    kind: String,
    records: Vec<&'a Record>,
}

impl Scenario<'_> {
    /// True when any run of the scenario was a smoke run (tag `mode=smoke`).
    fn is_smoke(&self) -> bool {
        self.records.iter().any(|r| r.get("mode") == Some("smoke"))
    }

    fn servers(&self) -> Vec<&str> {
        let mut servers: Vec<&str> = Vec::new();
        for r in &self.records {
            let s = r.get("server").unwrap_or("?");
            if !servers.contains(&s) {
                servers.push(s);
            }
        }
        servers
    }

    /// The metric's values of `server`, by repetition order.
    fn values(&self, server: &str, key: &str) -> Vec<f64> {
        self.records
            .iter()
            .filter(|r| r.get("server").unwrap_or("?") == server)
            .map(|r| r.number(key).unwrap_or(f64::NAN))
            .collect()
    }
}

fn group(records: &[Record]) -> Vec<Scenario<'_>> {
    let mut scenarios: Vec<Scenario<'_>> = Vec::new();
    for r in records {
        let name = r.get("scenario").unwrap_or("-").to_owned();
        match scenarios.iter_mut().find(|s| s.name == name) {
            Some(s) => s.records.push(r),
            None => scenarios.push(Scenario {
                name,
                kind: r.get("kind").unwrap_or("-").to_owned(),
                records: vec![r],
            }),
        }
    }
    scenarios
}

fn ratios(values: &[f64], reference: &[f64]) -> Vec<f64> {
    values.iter().zip(reference).map(|(v, r)| v / r).collect()
}

fn list(values: &[f64]) -> String {
    let cells: Vec<String> = values.iter().map(|v| num(*v)).collect();
    cells.join(" ")
}

/// The comparison table of `records` against `reference`.
pub fn comparison(records: &[Record], reference: &str) -> Table {
    let mut t = Table::new(&[
        "scenario",
        "metric",
        "server",
        "per repetition",
        "median",
        &format!("ratio to {reference} per rep"),
        "median ratio",
    ]);
    for scenario in group(records) {
        for (key, label, better) in metrics(&scenario.kind) {
            let label = match better {
                Better::Higher => (*label).to_owned(),
                Better::Lower | Better::LowerNoRatio => format!("{label} (lower better)"),
                Better::Neither => format!("{label} (info)"),
            };
            let refs = scenario.values(reference, key);
            for server in scenario.servers() {
                let values = scenario.values(server, key);
                if values.iter().all(|v| v.is_nan()) {
                    continue;
                }
                let compared = matches!(better, Better::Higher | Better::Lower);
                let (per_rep, med_ratio) = if compared && server != reference && !refs.is_empty() {
                    let r = ratios(&values, &refs);
                    (list(&r), num(median(&r).unwrap_or(f64::NAN)))
                } else {
                    (String::new(), String::new())
                };
                let med = num(median(&values).unwrap_or(f64::NAN));
                t.row(&[
                    scenario.name.clone(),
                    label.clone(),
                    server.to_owned(),
                    list(&values),
                    med,
                    per_rep,
                    med_ratio,
                ]);
            }
        }
    }
    t
}

/// The targets table: each target checked on the median of `subject` (ratios per repetition).
pub fn targets(records: &[Record], subject: &str, reference: &str) -> Table {
    let mut t = Table::new(&["scenario", "target", "measured (median)", "holds"]);
    for scenario in group(records) {
        for (kind, key, goal) in TARGETS {
            if scenario.kind != *kind {
                continue;
            }
            let values = scenario.values(subject, key);
            let refs = scenario.values(reference, key);
            let (text, measured, holds) = match goal {
                Goal::RatioAtLeast(x) | Goal::RatioAtMost(x) => {
                    let m = median(&ratios(&values, &refs)).unwrap_or(f64::NAN);
                    let at_least = matches!(goal, Goal::RatioAtLeast(_));
                    let sign = if at_least { ">=" } else { "<=" };
                    let holds = if at_least { m >= *x } else { m <= *x };
                    (format!("{key} {subject}/{reference} {sign} {x}"), m, holds)
                }
                Goal::AtMost(x) => {
                    let m = median(&values).unwrap_or(f64::NAN);
                    (format!("{key} of {subject} <= {x}"), m, m <= *x)
                }
            };
            let holds = if scenario.is_smoke() {
                "n/a (smoke)"
            } else if measured.is_nan() {
                "n/a"
            } else if holds {
                "yes"
            } else {
                "NO"
            };
            t.row(&[scenario.name.clone(), text, num(measured), holds.to_owned()]);
        }
    }
    t
}

/// Reads a records file.
pub fn read(path: &Path) -> Result<Vec<Record>, BenchError> {
    let text = std::fs::read_to_string(path)?;
    Ok(text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(Record::parse)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(scenario: &str, kind: &str, server: &str, rate: f64) -> Record {
        let mut r = Record::new(kind);
        r.set("scenario", scenario);
        r.set("server", server);
        r.set("rate", rate);
        r
    }

    #[test]
    fn ratios_are_per_repetition_and_targets_use_their_median() {
        let records = vec![
            rec("echo-20", "echo", "berth", 120.0),
            rec("echo-20", "echo", "tt-echo", 100.0),
            rec("echo-20", "echo", "berth", 130.0),
            rec("echo-20", "echo", "tt-echo", 100.0),
            rec("echo-20", "echo", "berth", 90.0),
            rec("echo-20", "echo", "tt-echo", 100.0),
        ];
        let text = comparison(&records, "tt-echo").render();
        assert!(text.contains("1.200 1.300 0.900"), "{text}");
        let targets = targets(&records, "berth", "tt-echo").render();
        assert!(targets.contains("yes"), "{targets}");
    }

    #[test]
    fn smoke_runs_get_no_verdict() {
        let mut records = vec![
            rec("echo-20", "echo", "berth", 90.0),
            rec("echo-20", "echo", "tt-echo", 100.0),
        ];
        let full = targets(&records, "berth", "tt-echo").render();
        assert!(full.contains("0.900  NO"), "{full}");
        for record in &mut records {
            record.set("mode", "smoke");
        }
        let smoke = targets(&records, "berth", "tt-echo").render();
        assert!(smoke.contains("0.900  n/a (smoke)"), "{smoke}");
        assert!(!smoke.contains("NO") && !smoke.contains("yes"), "{smoke}");
    }
}
