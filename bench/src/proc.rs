//! What `/proc` says about a process: resident memory, CPU time, the open-files limit.

use std::fs;
use std::time::{Duration, Instant};

use crate::BenchError;

/// A process to read: the server (by pid) or the load tool itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pid {
    /// This process.
    Me,
    /// Another process.
    Of(u32),
}

impl Pid {
    fn dir(self) -> String {
        match self {
            Pid::Me => "/proc/self".to_owned(),
            Pid::Of(pid) => format!("/proc/{pid}"),
        }
    }
}

fn read(path: &str) -> Result<String, BenchError> {
    fs::read_to_string(path).map_err(|source| BenchError::Proc {
        path: path.to_owned(),
        source,
    })
}

/// The resident set size in KiB (`VmRSS` of `/proc/<pid>/status`).
pub fn rss_kib(pid: Pid) -> Result<u64, BenchError> {
    let path = format!("{}/status", pid.dir());
    let status = read(&path)?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| BenchError::Proc {
            path,
            source: std::io::Error::other("no VmRSS line"),
        })
}

/// Waits until two RSS readings `every` apart differ by at most 1 %, for at most `limit`;
/// returns the last reading.
pub async fn settled_rss_kib(
    pid: Pid,
    every: Duration,
    limit: Duration,
) -> Result<u64, BenchError> {
    let deadline = Instant::now() + limit;
    let mut last = rss_kib(pid)?;
    loop {
        tokio::time::sleep(every).await;
        let now = rss_kib(pid)?;
        if now.abs_diff(last) * 100 <= last || Instant::now() >= deadline {
            return Ok(now);
        }
        last = now;
    }
}

/// CPU time used so far by every live thread of the process, in nanoseconds (the first
/// field of each `/proc/<pid>/task/<tid>/schedstat`).
pub fn cpu_ns(pid: Pid) -> Result<u64, BenchError> {
    sum_over_threads(pid, "schedstat", |text| {
        text.split_whitespace()
            .next()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    })
}

/// Context switches so far (voluntary and not) of every live thread of the process.
pub fn context_switches(pid: Pid) -> Result<u64, BenchError> {
    sum_over_threads(pid, "status", |status| {
        status
            .lines()
            .filter(|l| l.contains("ctxt_switches:"))
            .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            .sum::<u64>()
    })
}

/// Adds up `read(contents of /proc/<pid>/task/<tid>/<file>)` over the live threads.
fn sum_over_threads(pid: Pid, file: &str, read: impl Fn(&str) -> u64) -> Result<u64, BenchError> {
    let dir = format!("{}/task", pid.dir());
    let entries = fs::read_dir(&dir).map_err(|source| BenchError::Proc {
        path: dir.clone(),
        source,
    })?;
    // A thread may exit between listing and reading: skip it.
    Ok(entries
        .flatten()
        .filter_map(|entry| fs::read_to_string(entry.path().join(file)).ok())
        .map(|text| read(&text))
        .sum())
}

/// What a process used between two readings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usage {
    /// CPU seconds, all threads.
    pub cpu_seconds: f64,
    /// Cores busy on average (CPU seconds per wall second).
    pub cores: f64,
    /// Context switches, all threads.
    pub switches: u64,
}

/// Measures a process's [`Usage`] over a window.
#[derive(Debug, Clone, Copy)]
pub struct CpuMeter {
    pid: Pid,
    start_ns: u64,
    start_switches: u64,
    at: Instant,
}

impl CpuMeter {
    /// Starts measuring `pid`; `None` when its `/proc` entry cannot be read.
    pub fn start(pid: Pid) -> Option<CpuMeter> {
        Some(CpuMeter {
            pid,
            start_ns: cpu_ns(pid).ok()?,
            start_switches: context_switches(pid).ok()?,
            at: Instant::now(),
        })
    }

    /// What the process used since the start.
    pub fn stop(&self) -> Option<Usage> {
        let cpu_seconds = cpu_ns(self.pid).ok()?.saturating_sub(self.start_ns) as f64 / 1e9;
        let switches = context_switches(self.pid)
            .ok()?
            .saturating_sub(self.start_switches);
        let wall = self.at.elapsed().as_secs_f64();
        let cores = if wall > 0.0 { cpu_seconds / wall } else { 0.0 };
        Some(Usage {
            cpu_seconds,
            cores,
            switches,
        })
    }
}

/// The soft limit on open files of this process, when `/proc/self/limits` says.
pub fn open_files_limit() -> Option<u64> {
    let limits = read("/proc/self/limits").ok()?;
    limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse().ok())
}

/// Refuses `connections` sockets when the open-files limit cannot hold them (plus slack).
pub fn check_open_files(connections: usize) -> Result<(), BenchError> {
    match open_files_limit() {
        Some(limit) if (connections as u64) + 64 > limit => Err(BenchError::Usage(format!(
            "{connections} connections need more open files than this process's limit of \
             {limit}: raise it with `ulimit -n` (scripts/bench.sh does)"
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_memory_cpu_time_and_a_file_limit() {
        assert!(rss_kib(Pid::Me).expect("rss") > 0);
        assert!(cpu_ns(Pid::Me).expect("cpu") > 0);
        assert!(context_switches(Pid::Me).is_ok());
        assert!(open_files_limit().expect("limit") > 0);
        assert!(check_open_files(usize::MAX / 2).is_err());
    }
}
