//! `idle`: memory per idle connection. Reads the server's resident set size (`VmRSS`)
//! before, with N connections open and idle, and after closing them all; connections are
//! spread over several loopback source addresses (bind before connect) so one address's
//! ephemeral ports do not cap N. Idle clients still answer pings, so a run longer than the
//! server's keepalive stays valid.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::BenchError;
use crate::fleet::{self, Errors};
use crate::proc::{self, Pid};
use crate::record::Record;
use crate::table::{Table, num};
use crate::target::Target;
use crate::wire::{self, FrameReader, opcode};

/// How long the connections may take to report ready (after the optional exchange).
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long closing them all may take.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(30);
/// Memory retained after closing, as a share of the growth, still called "returned".
const RETURNED_SHARE: f64 = 0.10;

/// What to run.
#[derive(Debug, Clone)]
pub struct IdleOptions {
    /// The endpoint (any that accepts and then waits).
    pub target: Target,
    /// How many connections.
    pub connections: usize,
    /// Client source addresses (round-robin).
    pub sources: Vec<IpAddr>,
    /// The server's pid (its RSS is the measurement).
    pub server_pid: u32,
    /// Wait after the last connection is ready before reading RSS.
    pub settle: Duration,
    /// Extra time to keep the connections open after reading RSS.
    pub hold: Duration,
    /// Each connection first sends one 20-byte binary message and reads its echo.
    pub exchange: bool,
}

/// What happened.
#[derive(Debug, Clone)]
pub struct IdleReport {
    /// Connections asked for.
    pub asked: usize,
    /// Connections open at the measurement.
    pub connected: usize,
    /// How long opening them took.
    pub connect_seconds: f64,
    /// Server RSS before, KiB.
    pub before_kib: u64,
    /// Server RSS with the connections open, KiB.
    pub peak_kib: u64,
    /// Server RSS after closing them, KiB.
    pub after_kib: u64,
    /// Connect failures and connections that failed while idle.
    pub errors: Errors,
}

/// Runs the scenario.
pub async fn run(options: &IdleOptions) -> Result<IdleReport, BenchError> {
    if options.connections == 0 {
        return Err(BenchError::Usage("connections must be at least 1".into()));
    }
    proc::check_open_files(options.connections)?;
    let pid = Pid::Of(options.server_pid);
    let before_kib =
        proc::settled_rss_kib(pid, Duration::from_millis(250), Duration::from_secs(5)).await?;
    let began = Instant::now();
    let (open, mut errors) = fleet::connect_all(options.connections, &options.sources, |_| {
        options.target.clone()
    })
    .await;
    let (closing, closed) = watch::channel(false);
    let ready = Arc::new(AtomicUsize::new(0));
    let mut holders = JoinSet::new();
    for (_, stream, reader) in open {
        let holder = Holder {
            exchange: options.exchange,
            closing: closed.clone(),
            ready: Arc::clone(&ready),
        };
        holders.spawn(holder.run(stream, reader));
    }
    let target = holders.len();
    let deadline = Instant::now() + READY_TIMEOUT;
    while ready.load(Ordering::Relaxed) < target && Instant::now() < deadline && !holders.is_empty()
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let connect_seconds = began.elapsed().as_secs_f64();
    tokio::time::sleep(options.settle).await;
    let peak_kib =
        proc::settled_rss_kib(pid, Duration::from_millis(500), Duration::from_secs(10)).await?;
    let connected = ready.load(Ordering::Relaxed);
    tokio::time::sleep(options.hold).await;
    let _ = closing.send(true);
    let (_, failed) = fleet::join_bounded(&mut holders, CLOSE_TIMEOUT).await;
    errors.merge(failed);
    let after_kib =
        proc::settled_rss_kib(pid, Duration::from_secs(1), Duration::from_secs(15)).await?;
    Ok(IdleReport {
        asked: options.connections,
        connected,
        connect_seconds,
        before_kib,
        peak_kib,
        after_kib,
        errors,
    })
}

/// One idle connection.
struct Holder {
    exchange: bool,
    closing: watch::Receiver<bool>,
    ready: Arc<AtomicUsize>,
}

impl Holder {
    async fn run(
        mut self,
        mut stream: TcpStream,
        mut reader: FrameReader,
    ) -> Result<(), BenchError> {
        if self.exchange {
            stream
                .write_all(&wire::frame(opcode::BINARY, &wire::payload(20)))
                .await?;
            while reader.next(&mut stream).await?.opcode != opcode::BINARY {}
        }
        self.ready.fetch_add(1, Ordering::Relaxed);
        loop {
            tokio::select! {
                _ = self.closing.changed() => break,
                frame = reader.next(&mut stream) => {
                    let frame = frame?;
                    match frame.opcode {
                        opcode::PING => {
                            let pong = wire::frame(opcode::PONG, frame.payload);
                            stream.write_all(&pong).await?;
                        }
                        opcode::CLOSE => {
                            return Err(BenchError::Protocol("the server closed an idle session".into()));
                        }
                        _ => {}
                    }
                }
            }
        }
        wire::close(&mut stream, &mut reader).await;
        Ok(())
    }
}

impl IdleReport {
    /// Server RSS growth per open connection, KiB.
    pub fn kib_per_connection(&self) -> f64 {
        if self.connected == 0 {
            return f64::NAN;
        }
        self.peak_kib.saturating_sub(self.before_kib) as f64 / self.connected as f64
    }

    /// Memory still held after closing, as a share of the growth.
    pub fn retained_share(&self) -> f64 {
        let growth = self.peak_kib.saturating_sub(self.before_kib) as f64;
        if growth <= 0.0 {
            return 0.0;
        }
        self.after_kib.saturating_sub(self.before_kib) as f64 / growth
    }

    /// Whether RSS came back to within 10 % of the growth above baseline.
    pub fn returned(&self) -> bool {
        self.retained_share() <= RETURNED_SHARE
    }

    /// The report as a table.
    pub fn table(&self) -> Table {
        let mut t = Table::new(&["metric", "value"]);
        t.row(&["connections asked".to_owned(), self.asked.to_string()]);
        t.row(&["connections open".to_owned(), self.connected.to_string()]);
        t.row(&["connect time (s)".to_owned(), num(self.connect_seconds)]);
        t.row(&[
            "server RSS before (KiB)".to_owned(),
            self.before_kib.to_string(),
        ]);
        t.row(&[
            "server RSS at N (KiB)".to_owned(),
            self.peak_kib.to_string(),
        ]);
        t.row(&[
            "server RSS after close (KiB)".to_owned(),
            self.after_kib.to_string(),
        ]);
        t.row(&[
            "KiB per connection".to_owned(),
            num(self.kib_per_connection()),
        ]);
        t.row(&[
            "retained after close".to_owned(),
            format!("{:.0} %", self.retained_share() * 100.0),
        ]);
        let verdict = if self.returned() { "yes" } else { "no" };
        t.row(&[
            "returned near baseline (<=10 % kept)".to_owned(),
            verdict.to_owned(),
        ]);
        t.row(&["errors".to_owned(), self.errors.describe()]);
        t
    }

    /// The report as a record.
    pub fn record(&self) -> Record {
        let mut r = Record::new("idle");
        r.set("connections", self.connected);
        r.set("kib_per_conn", format!("{:.2}", self.kib_per_connection()));
        r.set("before_kib", self.before_kib);
        r.set("peak_kib", self.peak_kib);
        r.set("after_kib", self.after_kib);
        r.set(
            "retained_pct",
            format!("{:.1}", self.retained_share() * 100.0),
        );
        r.set("returned", if self.returned() { 1 } else { 0 });
        r.set("connect_s", format!("{:.2}", self.connect_seconds));
        r.set("errors", self.errors.total());
        r
    }
}
