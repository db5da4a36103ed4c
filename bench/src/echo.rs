//! `echo`: closed-loop throughput. Each of N connections keeps K messages in flight and sends
//! one more whenever an echo comes back; the rate is round trips per second over the
//! measured window, after a warmup. Every echo is compared with what was sent.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::task::JoinSet;

use crate::BenchError;
use crate::fleet::{self, Errors};
use crate::proc::{self, CpuMeter, Pid, Usage};
use crate::record::Record;
use crate::report::{usage_pairs, usage_rows};
use crate::table::{Table, num};
use crate::target::Target;
use crate::wire::{self, FrameReader, opcode};

const WARMUP: u8 = 0;
const MEASURE: u8 = 1;
const STOP: u8 = 2;
/// How long the connections get to drain their in-flight messages and close.
const DRAIN: Duration = Duration::from_secs(10);

/// What to run.
#[derive(Debug, Clone)]
pub struct EchoOptions {
    /// The echo endpoint.
    pub target: Target,
    /// How many connections.
    pub connections: usize,
    /// Messages in flight per connection.
    pub in_flight: usize,
    /// Payload bytes per message.
    pub payload: usize,
    /// Text frames instead of binary.
    pub text: bool,
    /// Unmeasured time before the window.
    pub warmup: Duration,
    /// The measured window.
    pub duration: Duration,
    /// The window also ends after this many round trips.
    pub max_messages: u64,
    /// Client source addresses (round-robin).
    pub sources: Vec<IpAddr>,
    /// The server's pid, to report its CPU time per message.
    pub server_pid: Option<u32>,
}

/// What happened.
#[derive(Debug, Clone)]
pub struct EchoReport {
    /// Connections that opened.
    pub connected: usize,
    /// Round trips completed in the window.
    pub messages: u64,
    /// The window's length.
    pub seconds: f64,
    /// Echoes that differed from what was sent.
    pub mismatches: u64,
    /// Connect failures and connections that failed during the run.
    pub errors: Errors,
    /// What the server used over the window.
    pub server_cpu: Option<Usage>,
    /// What the load tool used over the window.
    pub client_cpu: Option<Usage>,
}

struct Shared {
    phase: AtomicU8,
    measured: AtomicU64,
    mismatches: AtomicU64,
    budget: u64,
    spent: Notify,
}

impl Shared {
    /// Counts one echo; true once the run should stop sending.
    fn count(&self) -> bool {
        match self.phase.load(Ordering::Relaxed) {
            WARMUP => false,
            MEASURE => {
                if self.measured.fetch_add(1, Ordering::Relaxed) + 1 >= self.budget {
                    self.phase.store(STOP, Ordering::Relaxed);
                    self.spent.notify_one();
                    return true;
                }
                false
            }
            _ => true,
        }
    }
}

/// Runs the scenario.
pub async fn run(options: &EchoOptions) -> Result<EchoReport, BenchError> {
    if options.connections == 0 || options.in_flight == 0 || options.max_messages == 0 {
        return Err(BenchError::Usage(
            "connections, in-flight and max-messages must be at least 1".into(),
        ));
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
    let connected = open.len();
    let shared = Arc::new(Shared {
        phase: AtomicU8::new(WARMUP),
        measured: AtomicU64::new(0),
        mismatches: AtomicU64::new(0),
        budget: options.max_messages,
        spent: Notify::new(),
    });
    let payload: Arc<[u8]> = wire::payload(options.payload).into();
    let kind = if options.text {
        opcode::TEXT
    } else {
        opcode::BINARY
    };
    let frame: Arc<[u8]> = wire::frame(kind, &payload).into();
    let mut tasks = JoinSet::new();
    for (_, stream, reader) in open {
        let pump = Pump {
            shared: Arc::clone(&shared),
            frame: Arc::clone(&frame),
            payload: Arc::clone(&payload),
            in_flight: options.in_flight,
        };
        tasks.spawn(pump.run(stream, reader));
    }
    tokio::time::sleep(options.warmup).await;
    let server = options.server_pid.and_then(|p| CpuMeter::start(Pid::Of(p)));
    let client = CpuMeter::start(Pid::Me);
    let started = Instant::now();
    shared.phase.store(MEASURE, Ordering::Relaxed);
    tokio::select! {
        () = tokio::time::sleep(options.duration) => {}
        () = shared.spent.notified() => {}
    }
    let messages = shared.measured.load(Ordering::Relaxed);
    let seconds = started.elapsed().as_secs_f64();
    shared.phase.store(STOP, Ordering::Relaxed);
    let (server_cpu, client_cpu) = (server.and_then(|m| m.stop()), client.and_then(|m| m.stop()));
    let (_, failed) = fleet::join_bounded(&mut tasks, DRAIN).await;
    errors.merge(failed);
    Ok(EchoReport {
        connected,
        messages,
        seconds,
        mismatches: shared.mismatches.load(Ordering::Relaxed),
        errors,
        server_cpu,
        client_cpu,
    })
}

/// One connection's loop.
struct Pump {
    shared: Arc<Shared>,
    frame: Arc<[u8]>,
    payload: Arc<[u8]>,
    in_flight: usize,
}

impl Pump {
    async fn run(self, mut stream: TcpStream, mut reader: FrameReader) -> Result<(), BenchError> {
        stream.write_all(&self.frame.repeat(self.in_flight)).await?;
        let mut outstanding = self.in_flight;
        let mut stopping = false;
        while outstanding > 0 {
            let frame = reader.next(&mut stream).await?;
            match frame.opcode {
                opcode::TEXT | opcode::BINARY => {
                    if *frame.payload != *self.payload {
                        self.shared.mismatches.fetch_add(1, Ordering::Relaxed);
                    }
                    outstanding -= 1;
                }
                opcode::PING => {
                    let pong = wire::frame(opcode::PONG, frame.payload);
                    stream.write_all(&pong).await?;
                    continue;
                }
                opcode::CLOSE => {
                    return Err(BenchError::Protocol("the server closed the session".into()));
                }
                _ => continue,
            }
            stopping = stopping || self.shared.count();
            if !stopping {
                stream.write_all(&self.frame).await?;
                outstanding += 1;
            }
        }
        wire::close(&mut stream, &mut reader).await;
        Ok(())
    }
}

impl EchoReport {
    /// Round trips per second.
    pub fn rate(&self) -> f64 {
        if self.seconds > 0.0 {
            self.messages as f64 / self.seconds
        } else {
            0.0
        }
    }

    /// The report as a table.
    pub fn table(&self) -> Table {
        let mut t = Table::new(&["metric", "value"]);
        t.row(&["connections".to_owned(), self.connected.to_string()]);
        t.row(&["round trips".to_owned(), self.messages.to_string()]);
        t.row(&["seconds".to_owned(), num(self.seconds)]);
        t.row(&["messages/s".to_owned(), num(self.rate())]);
        usage_rows(
            &mut t,
            self.server_cpu,
            self.client_cpu,
            self.messages,
            "message",
        );
        t.row(&["mismatched echoes".to_owned(), self.mismatches.to_string()]);
        t.row(&["errors".to_owned(), self.errors.describe()]);
        t
    }

    /// The report as a record.
    pub fn record(&self) -> Record {
        let mut r = Record::new("echo");
        r.set("rate", format!("{:.1}", self.rate()));
        r.set("messages", self.messages);
        r.set("connections", self.connected);
        usage_pairs(&mut r, self.server_cpu, self.client_cpu, self.messages);
        r.set("mismatches", self.mismatches);
        r.set("errors", self.errors.total());
        r
    }
}
