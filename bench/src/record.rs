//! Result records: one line of tab-separated `key=value` pairs per run, appended to a file
//! that `berth-load summary` turns into the comparison table.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::Path;

use crate::BenchError;

/// One run's result: the caller's tags (scenario, server, repetition) then the metrics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Record {
    /// The pairs, in order.
    pub pairs: Vec<(String, String)>,
}

impl Record {
    /// A record starting with the `kind` of scenario.
    pub fn new(kind: &str) -> Record {
        let mut record = Record::default();
        record.set("kind", kind);
        record
    }

    /// Adds or replaces a pair.
    pub fn set(&mut self, key: &str, value: impl ToString) {
        let value = value.to_string();
        match self.pairs.iter_mut().find(|(k, _)| k == key) {
            Some(pair) => pair.1 = value,
            None => self.pairs.push((key.to_owned(), value)),
        }
    }

    /// A value by key.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A numeric value by key.
    pub fn number(&self, key: &str) -> Option<f64> {
        self.get(key).and_then(|v| v.parse().ok())
    }

    /// The record as one line (no newline).
    pub fn line(&self) -> String {
        let pairs: Vec<String> = self
            .pairs
            .iter()
            .map(|(k, v)| format!("{k}={}", v.replace(['\t', '\n'], " ")))
            .collect();
        pairs.join("\t")
    }

    /// Parses a line written by [`Record::line`]; fields without `=` are ignored.
    pub fn parse(line: &str) -> Record {
        let pairs = line
            .split('\t')
            .filter_map(|f| f.split_once('='))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect();
        Record { pairs }
    }

    /// Appends the record to `path`.
    pub fn append_to(&self, path: &Path) -> Result<(), BenchError> {
        let mut file = OpenOptions::new().create(true).append(true).open(path)?;
        writeln!(file, "{}", self.line())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_round_trips_through_its_line() {
        let mut r = Record::new("echo");
        r.set("server", "berth");
        r.set("rate", 1234.5);
        r.set("server", "tt-echo");
        let back = Record::parse(&r.line());
        assert_eq!(back, r);
        assert_eq!(back.number("rate"), Some(1234.5));
        assert_eq!(back.get("server"), Some("tt-echo"));
    }
}
