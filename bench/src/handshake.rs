//! `handshake`: connection churn. C workers each loop: connect, opening handshake, close
//! handshake (our close frame, the server's answer), drop the socket. The rate counts full
//! cycles finished in the measured window; the cycle's latency is reported too.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use crate::BenchError;
use crate::fleet::{self, Errors};
use crate::proc::{CpuMeter, Pid, Usage};
use crate::record::Record;
use crate::report::{usage_pairs, usage_rows};
use crate::stats::Latencies;
use crate::table::{Table, num};
use crate::target::Target;
use crate::wire::{self, opcode};

/// How long one cycle may take.
const CYCLE_TIMEOUT: Duration = Duration::from_secs(10);

/// What to run.
#[derive(Debug, Clone)]
pub struct HandshakeOptions {
    /// The endpoint.
    pub target: Target,
    /// Cycles in progress at once.
    pub concurrency: usize,
    /// Unmeasured time at the start.
    pub warmup: Duration,
    /// The measured window.
    pub duration: Duration,
    /// The most cycles one worker runs.
    pub max_per_worker: u64,
    /// Client source addresses (round-robin per cycle).
    pub sources: Vec<IpAddr>,
    /// The server's pid, to report its CPU time per handshake.
    pub server_pid: Option<u32>,
}

/// What happened.
#[derive(Debug, Clone)]
pub struct HandshakeReport {
    /// Cycles finished in the window.
    pub cycles: u64,
    /// The window's length.
    pub seconds: f64,
    /// Percentiles of the cycle time in the window.
    pub latencies: Latencies,
    /// Failed cycles (in the window and outside it).
    pub errors: Errors,
    /// What the server used over the window.
    pub server_cpu: Option<Usage>,
    /// What the load tool used over the window.
    pub client_cpu: Option<Usage>,
}

#[derive(Debug)]
struct Window {
    measuring: AtomicBool,
    stop: AtomicBool,
}

/// Runs the scenario.
pub async fn run(options: &HandshakeOptions) -> Result<HandshakeReport, BenchError> {
    if options.concurrency == 0 || options.max_per_worker == 0 {
        return Err(BenchError::Usage(
            "concurrency and max-per-worker must be at least 1".into(),
        ));
    }
    let window = Arc::new(Window {
        measuring: AtomicBool::new(false),
        stop: AtomicBool::new(false),
    });
    let mut workers = JoinSet::new();
    for w in 0..options.concurrency {
        let options = options.clone();
        workers.spawn(worker(w, options, Arc::clone(&window)));
    }
    tokio::time::sleep(options.warmup).await;
    let server = options.server_pid.and_then(|p| CpuMeter::start(Pid::Of(p)));
    let client = CpuMeter::start(Pid::Me);
    let started = Instant::now();
    window.measuring.store(true, Ordering::Relaxed);
    tokio::time::sleep(options.duration).await;
    window.measuring.store(false, Ordering::Relaxed);
    let seconds = started.elapsed().as_secs_f64();
    window.stop.store(true, Ordering::Relaxed);
    let (server_cpu, client_cpu) = (server.and_then(|m| m.stop()), client.and_then(|m| m.stop()));
    let (results, mut errors) =
        fleet::join_bounded(&mut workers, CYCLE_TIMEOUT + Duration::from_secs(2)).await;
    let mut samples = Vec::new();
    for (worker_samples, worker_errors) in results {
        samples.extend(worker_samples);
        errors.merge(worker_errors);
    }
    Ok(HandshakeReport {
        cycles: samples.len() as u64,
        seconds,
        latencies: Latencies::of(&mut samples),
        errors,
        server_cpu,
        client_cpu,
    })
}

/// One worker: cycles until told to stop or its count runs out; returns the cycle times
/// measured in the window and its failures.
async fn worker(
    index: usize,
    options: HandshakeOptions,
    window: Arc<Window>,
) -> Result<(Vec<u64>, Errors), BenchError> {
    let mut samples = Vec::new();
    let mut errors = Errors::default();
    for n in 0..options.max_per_worker {
        if window.stop.load(Ordering::Relaxed) {
            break;
        }
        let source = fleet::source_of(&options.sources, index + n as usize * options.concurrency);
        let began = Instant::now();
        let cycle = tokio::time::timeout(CYCLE_TIMEOUT, cycle(&options.target, source))
            .await
            .unwrap_or(Err(BenchError::Timeout("a handshake cycle")));
        let measured = window.measuring.load(Ordering::Relaxed);
        match cycle {
            Ok(()) if measured => {
                samples.push(u64::try_from(began.elapsed().as_nanos()).unwrap_or(u64::MAX));
            }
            Ok(()) => {}
            Err(error) => errors.add(&error),
        }
    }
    Ok((samples, errors))
}

/// Connect, open, close, drop.
async fn cycle(target: &Target, source: Option<IpAddr>) -> Result<(), BenchError> {
    let (mut stream, mut reader) = wire::connect(target, source).await?;
    tokio::io::AsyncWriteExt::write_all(&mut stream, &wire::close_frame(1000)).await?;
    loop {
        if reader.next(&mut stream).await?.opcode == opcode::CLOSE {
            return Ok(());
        }
    }
}

impl HandshakeReport {
    /// Cycles per second.
    pub fn rate(&self) -> f64 {
        if self.seconds > 0.0 {
            self.cycles as f64 / self.seconds
        } else {
            0.0
        }
    }

    /// The report as a table.
    pub fn table(&self) -> Table {
        let mut t = Table::new(&["metric", "value"]);
        t.row(&[
            "handshakes (connect+open+close)".to_owned(),
            self.cycles.to_string(),
        ]);
        t.row(&["seconds".to_owned(), num(self.seconds)]);
        t.row(&["handshakes/s".to_owned(), num(self.rate())]);
        t.row(&["cycle p50 (us)".to_owned(), num(self.latencies.p50_us)]);
        t.row(&["cycle p99 (us)".to_owned(), num(self.latencies.p99_us)]);
        usage_rows(
            &mut t,
            self.server_cpu,
            self.client_cpu,
            self.cycles,
            "handshake",
        );
        t.row(&["errors".to_owned(), self.errors.describe()]);
        t
    }

    /// The report as a record.
    pub fn record(&self) -> Record {
        let mut r = Record::new("handshake");
        r.set("rate", format!("{:.1}", self.rate()));
        r.set("cycles", self.cycles);
        r.set("p50_us", format!("{:.1}", self.latencies.p50_us));
        r.set("p99_us", format!("{:.1}", self.latencies.p99_us));
        usage_pairs(&mut r, self.server_cpu, self.client_cpu, self.cycles);
        r.set("errors", self.errors.total());
        r
    }
}
