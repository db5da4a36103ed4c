//! `latency`: open-loop round-trip latency at a fixed rate. Message `i` is due at
//! `start + i / rate` whatever happened to earlier ones, and its latency is measured from
//! that due time (so a stalled server cannot hide its queueing: no coordinated omission).
//! Messages go round-robin over the connections and carry their sequence number, so an echo
//! finds its due time without bookkeeping. The pacer sleeps until about a millisecond before
//! a due time and then yields in a loop: the load tool's core is busy, sends are on time.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt as _;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::Mutex;
use tokio::task::JoinSet;

use crate::BenchError;
use crate::fleet::{self, Errors};
use crate::proc::{self, CpuMeter, Pid, Usage};
use crate::record::Record;
use crate::report::{usage_pairs, usage_rows};
use crate::stats::Latencies;
use crate::table::{Table, num};
use crate::target::Target;
use crate::wire::{self, FrameReader, opcode};

/// Hex digits of the sequence number at the start of each payload.
const SEQ_LEN: usize = 16;
/// How long after the last due time echoes are still waited for.
const GRACE: Duration = Duration::from_secs(5);

/// What to run.
#[derive(Debug, Clone)]
pub struct LatencyOptions {
    /// The echo endpoint.
    pub target: Target,
    /// How many connections share the rate.
    pub connections: usize,
    /// Messages per second, in all.
    pub rate: u64,
    /// Payload bytes (at least 16: the sequence number).
    pub payload: usize,
    /// Text frames instead of binary.
    pub text: bool,
    /// Unmeasured time at the start.
    pub warmup: Duration,
    /// The measured window.
    pub duration: Duration,
    /// Client source addresses (round-robin).
    pub sources: Vec<IpAddr>,
    /// The server's pid, to report its CPU use.
    pub server_pid: Option<u32>,
}

/// What happened.
#[derive(Debug, Clone)]
pub struct LatencyReport {
    /// The rate asked for.
    pub rate: u64,
    /// Connections that opened.
    pub connected: usize,
    /// Messages sent in the measured window.
    pub sent: u64,
    /// Percentiles of the measured echoes, from each message's due time.
    pub latencies: Latencies,
    /// The same from the moment each message was actually written (excludes the load
    /// tool's own lateness; not free of coordinated omission).
    pub from_send: Latencies,
    /// Messages sent whose echo never came.
    pub lost: u64,
    /// How late the pacer sent its latest message, in microseconds.
    pub pacer_late_us: f64,
    /// Failures.
    pub errors: Errors,
    /// What the server used over the run.
    pub server_cpu: Option<Usage>,
    /// What the load tool used over the run.
    pub client_cpu: Option<Usage>,
    /// Messages sent over the run (warmup included), for the per-message figures.
    pub total: u64,
}

/// The schedule: when message `i` is due and which messages are measured.
#[derive(Debug, Clone, Copy)]
struct Schedule {
    start: Instant,
    rate: u64,
    total: u64,
    measured_from: u64,
}

impl Schedule {
    fn due(&self, i: u64) -> Instant {
        let ns = u128::from(i) * 1_000_000_000 / u128::from(self.rate);
        self.start + Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX))
    }

    fn end(&self) -> Instant {
        self.due(self.total) + GRACE
    }

    /// How many of the messages go to connection `c` of `n`.
    fn share(&self, c: usize, n: usize) -> u64 {
        let (n, c) = (n as u64, c as u64);
        self.total / n + u64::from(c < self.total % n)
    }
}

/// Runs the scenario.
pub async fn run(options: &LatencyOptions) -> Result<LatencyReport, BenchError> {
    if options.connections == 0 || options.rate == 0 || options.payload < SEQ_LEN {
        return Err(BenchError::Usage(format!(
            "connections and rate must be at least 1, payload at least {SEQ_LEN} bytes"
        )));
    }
    proc::check_open_files(options.connections)?;
    let (open, mut errors) = fleet::connect_all(options.connections, &options.sources, |_| {
        options.target.clone()
    })
    .await;
    if open.is_empty() {
        return Err(BenchError::Protocol(format!(
            "no connection opened: {}",
            errors.describe()
        )));
    }
    let secs = |d: Duration| (d.as_secs_f64() * options.rate as f64) as u64;
    let schedule = Schedule {
        start: Instant::now() + Duration::from_millis(10),
        rate: options.rate,
        total: secs(options.warmup + options.duration),
        measured_from: secs(options.warmup),
    };
    let connected = open.len();
    let sent_at: Arc<[AtomicU64]> = (0..schedule.total).map(|_| AtomicU64::new(0)).collect();
    let mut writers = Vec::with_capacity(connected);
    let mut readers = JoinSet::new();
    for (c, (_, stream, reader)) in open.into_iter().enumerate() {
        let (read, write) = stream.into_split();
        let write = Arc::new(Mutex::new(write));
        writers.push(Arc::clone(&write));
        let expected = schedule.share(c, connected);
        let sent_at = Arc::clone(&sent_at);
        readers.spawn(receive(read, reader, write, schedule, expected, sent_at));
    }
    let server = options.server_pid.and_then(|p| CpuMeter::start(Pid::Of(p)));
    let client = CpuMeter::start(Pid::Me);
    let kind = if options.text {
        opcode::TEXT
    } else {
        opcode::BINARY
    };
    let end = tokio::time::Instant::from_std(schedule.end());
    let late = tokio::time::timeout_at(
        end,
        pace(&writers, schedule, kind, options.payload, &sent_at),
    )
    .await
    .unwrap_or(Err(BenchError::Timeout(
        "the pacer could not send everything",
    )));
    let (server_cpu, client_cpu) = (server.and_then(|m| m.stop()), client.and_then(|m| m.stop()));
    let limit = schedule.end().saturating_duration_since(Instant::now()) + Duration::from_secs(1);
    let (results, failed) = fleet::join_bounded(&mut readers, limit).await;
    errors.merge(failed);
    let received: u64 = results.iter().map(|r| r.received).sum();
    let mut send_samples: Vec<u64> = results
        .iter()
        .flat_map(|r| r.from_send.iter().copied())
        .collect();
    let mut samples: Vec<u64> = results.into_iter().flat_map(|r| r.from_due).collect();
    let pacer_late_us = match late {
        Ok(late) => late.as_secs_f64() * 1e6,
        Err(error) => {
            errors.add(&error);
            f64::NAN
        }
    };
    Ok(LatencyReport {
        rate: options.rate,
        connected,
        sent: schedule.total - schedule.measured_from,
        latencies: Latencies::of(&mut samples),
        from_send: Latencies::of(&mut send_samples),
        lost: schedule.total.saturating_sub(received),
        total: schedule.total,
        pacer_late_us,
        errors,
        server_cpu,
        client_cpu,
    })
}

/// Sends every message at its due time; returns the worst lateness.
async fn pace(
    writers: &[Arc<Mutex<OwnedWriteHalf>>],
    schedule: Schedule,
    kind: u8,
    payload: usize,
    sent_at: &[AtomicU64],
) -> Result<Duration, BenchError> {
    let mut body = wire::payload(payload);
    let mut frame = Vec::with_capacity(payload + 14);
    let mut worst = Duration::ZERO;
    for i in 0..schedule.total {
        let due = schedule.due(i);
        wait_until(due).await;
        worst = worst.max(due.elapsed());
        body[..SEQ_LEN].copy_from_slice(format!("{i:016x}").as_bytes());
        frame.clear();
        wire::encode(kind, &body, &mut frame);
        let writer = &writers[(i % writers.len() as u64) as usize];
        let mut writer = writer.lock().await;
        sent_at[i as usize].store(nanos(schedule.start.elapsed()), Ordering::Relaxed);
        writer.write_all(&frame).await?;
    }
    Ok(worst)
}

/// Sleeps until about a millisecond before `due`, then yields until it passes.
async fn wait_until(due: Instant) {
    loop {
        let now = Instant::now();
        if now >= due {
            return;
        }
        if due - now > Duration::from_millis(2) {
            let wake = due - Duration::from_millis(1);
            tokio::time::sleep_until(tokio::time::Instant::from_std(wake)).await;
        } else {
            tokio::task::yield_now().await;
        }
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// One connection's echoes.
struct Received {
    /// Latencies from the due time, ns.
    from_due: Vec<u64>,
    /// Latencies from the actual write, ns.
    from_send: Vec<u64>,
    /// Echoes that came back (measured or not).
    received: u64,
}

/// Reads one connection's echoes until all `expected` came back or the schedule ended.
async fn receive(
    mut read: OwnedReadHalf,
    mut reader: FrameReader,
    write: Arc<Mutex<OwnedWriteHalf>>,
    schedule: Schedule,
    expected: u64,
    sent_at: Arc<[AtomicU64]>,
) -> Result<Received, BenchError> {
    let mut samples = Vec::with_capacity(expected as usize);
    let mut from_send = Vec::with_capacity(expected as usize);
    let mut received = 0;
    let deadline = tokio::time::Instant::from_std(schedule.end());
    while received < expected {
        let Ok(frame) = tokio::time::timeout_at(deadline, reader.next(&mut read)).await else {
            break;
        };
        let frame = frame?;
        match frame.opcode {
            opcode::TEXT | opcode::BINARY => {
                let seq = sequence(frame.payload)?;
                received += 1;
                if seq >= schedule.measured_from {
                    samples.push(nanos(schedule.due(seq).elapsed()));
                    let since_start = nanos(schedule.start.elapsed());
                    let sent = sent_at
                        .get(seq as usize)
                        .map_or(0, |s| s.load(Ordering::Relaxed));
                    from_send.push(since_start.saturating_sub(sent));
                }
            }
            opcode::PING => {
                let pong = wire::frame(opcode::PONG, frame.payload);
                write.lock().await.write_all(&pong).await?;
            }
            opcode::CLOSE => {
                return Err(BenchError::Protocol("the server closed the session".into()));
            }
            _ => {}
        }
    }
    let mut write = write.lock().await;
    let _ = write.write_all(&wire::close_frame(1000)).await;
    Ok(Received {
        from_due: samples,
        from_send,
        received,
    })
}

fn sequence(payload: &[u8]) -> Result<u64, BenchError> {
    payload
        .get(..SEQ_LEN)
        .and_then(|hex| std::str::from_utf8(hex).ok())
        .and_then(|hex| u64::from_str_radix(hex, 16).ok())
        .ok_or_else(|| BenchError::Protocol("an echo without a sequence number".into()))
}

impl LatencyReport {
    /// The report as a table.
    pub fn table(&self) -> Table {
        let l = &self.latencies;
        let mut t = Table::new(&["metric", "value"]);
        t.row(&["rate (msg/s)".to_owned(), self.rate.to_string()]);
        t.row(&["connections".to_owned(), self.connected.to_string()]);
        t.row(&["measured echoes".to_owned(), l.count.to_string()]);
        for (name, v) in [
            ("p50 (us)", l.p50_us),
            ("p90 (us)", l.p90_us),
            ("p99 (us)", l.p99_us),
            ("p99.9 (us)", l.p999_us),
            ("max (us)", l.max_us),
            ("p50 from actual send (us)", self.from_send.p50_us),
            ("p99 from actual send (us)", self.from_send.p99_us),
            ("p99.9 from actual send (us)", self.from_send.p999_us),
            ("pacer worst lateness (us)", self.pacer_late_us),
        ] {
            t.row(&[name.to_owned(), num(v)]);
        }
        t.row(&["lost".to_owned(), self.lost.to_string()]);
        usage_rows(
            &mut t,
            self.server_cpu,
            self.client_cpu,
            self.total,
            "message",
        );
        t.row(&["errors".to_owned(), self.errors.describe()]);
        t
    }

    /// The report as a record.
    pub fn record(&self) -> Record {
        let l = &self.latencies;
        let mut r = Record::new("latency");
        r.set("rate", self.rate);
        r.set("count", l.count);
        r.set("p50_us", format!("{:.1}", l.p50_us));
        r.set("p90_us", format!("{:.1}", l.p90_us));
        r.set("p99_us", format!("{:.1}", l.p99_us));
        r.set("p999_us", format!("{:.1}", l.p999_us));
        r.set("max_us", format!("{:.1}", l.max_us));
        r.set("p50_send_us", format!("{:.1}", self.from_send.p50_us));
        r.set("p99_send_us", format!("{:.1}", self.from_send.p99_us));
        r.set("p999_send_us", format!("{:.1}", self.from_send.p999_us));
        r.set("pacer_late_us", format!("{:.0}", self.pacer_late_us));
        r.set("lost", self.lost);
        usage_pairs(&mut r, self.server_cpu, self.client_cpu, self.total);
        r.set("errors", self.errors.total());
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_spreads_messages_evenly() {
        let s = Schedule {
            start: Instant::now(),
            rate: 10_000,
            total: 25,
            measured_from: 5,
        };
        assert_eq!(s.due(10_000) - s.start, Duration::from_secs(1));
        assert_eq!(s.due(1) - s.start, Duration::from_micros(100));
        let shares: Vec<u64> = (0..4).map(|c| s.share(c, 4)).collect();
        assert_eq!(shares, [7, 6, 6, 6]);
        assert_eq!(sequence(b"00000000000000ffabc").expect("seq"), 255);
        assert!(sequence(b"short").is_err());
    }
}
