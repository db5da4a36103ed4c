//! `berth-load`: drive one benchmark scenario against a server on this machine and print a
//! plain table. `--record FILE` also appends the result as one `key=value` line (with the
//! `--tag`s) for `berth-load summary`. Loopback targets only.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use berth_bench::broadcast::{self, BroadcastOptions};
use berth_bench::echo::{self, EchoOptions};
use berth_bench::handshake::{self, HandshakeOptions};
use berth_bench::idle::{self, IdleOptions};
use berth_bench::latency::{self, LatencyOptions};
use berth_bench::record::Record;
use berth_bench::summary;
use berth_bench::table::Table;
use berth_bench::target::{Target, parse_sources};
use clap::{Args, Parser, Subcommand};

/// Load tool for Berth and the tokio-tungstenite reference (loopback only).
#[derive(Debug, Parser)]
#[command(name = "berth-load", version, about, long_about = None)]
struct Cli {
    /// Append the result as one key=value line to this file.
    #[arg(long, global = true, value_name = "FILE")]
    record: Option<PathBuf>,
    /// A KEY=VALUE pair written into the record (scenario, server, rep, ...).
    #[arg(long, global = true, value_name = "KEY=VALUE")]
    tag: Vec<String>,
    #[command(subcommand)]
    command: Command,
}

/// Options every load scenario shares.
#[derive(Debug, Args)]
struct Common {
    /// The target, e.g. ws://127.0.0.1:8080/ (loopback only).
    #[arg(long, value_name = "URL")]
    url: String,
    /// Client source addresses: 127.0.0.1..127.0.0.8, a comma list, or one address.
    #[arg(long, value_name = "ADDRS")]
    sources: Option<String>,
}

/// Options of the scenarios that report the server's CPU use.
#[derive(Debug, Args)]
struct Server {
    /// The server's pid: its CPU time per operation is reported.
    #[arg(long, value_name = "PID")]
    server_pid: Option<u32>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Closed-loop echo throughput (round trips per second).
    Echo {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        server: Server,
        #[arg(long, default_value_t = 100)]
        connections: usize,
        /// Messages in flight per connection.
        #[arg(long, default_value_t = 1)]
        in_flight: usize,
        /// Payload bytes.
        #[arg(long, default_value_t = 20)]
        payload: usize,
        /// Binary frames (the default).
        #[arg(long, conflicts_with = "text")]
        binary: bool,
        /// Text frames.
        #[arg(long)]
        text: bool,
        /// Unmeasured seconds first.
        #[arg(long, default_value_t = 2.0)]
        warmup: f64,
        /// Measured seconds.
        #[arg(long, default_value_t = 10.0)]
        duration: f64,
        /// The window also ends after this many round trips.
        #[arg(long, default_value_t = 1_000_000_000)]
        max_messages: u64,
    },
    /// Open-loop round-trip latency at a fixed rate (p50/p90/p99/p99.9).
    Latency {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        server: Server,
        /// Messages per second, in all.
        #[arg(long, default_value_t = 10_000)]
        rate: u64,
        /// Connections sharing the rate.
        #[arg(long, default_value_t = 10)]
        connections: usize,
        /// Payload bytes (at least 16).
        #[arg(long, default_value_t = 20)]
        payload: usize,
        /// Text frames instead of binary.
        #[arg(long)]
        text: bool,
        /// Unmeasured seconds first.
        #[arg(long, default_value_t = 1.0)]
        warmup: f64,
        /// Measured seconds.
        #[arg(long, default_value_t = 10.0)]
        duration: f64,
    },
    /// Fan-out through the chat sample: time until the last of N clients has a message.
    Broadcast {
        /// The room, e.g. `ws://127.0.0.1:8080/chat/rooms/bench` (`name=c<i>` is added).
        #[command(flatten)]
        common: Common,
        #[arg(long, default_value_t = 1000)]
        sessions: usize,
        /// Measured messages.
        #[arg(long, default_value_t = 5)]
        rounds: usize,
        /// Bytes per measured message.
        #[arg(long, default_value_t = 100)]
        size: usize,
        /// The room is quiet after this many milliseconds without traffic.
        #[arg(long, default_value_t = 1000)]
        quiet_ms: u64,
        /// The longest wait for quiet, seconds.
        #[arg(long, default_value_t = 600.0)]
        settle_limit: f64,
    },
    /// Server memory per idle connection (RSS before, at N, after closing).
    Idle {
        #[command(flatten)]
        common: Common,
        #[arg(long, default_value_t = 1000)]
        connections: usize,
        /// The server's pid (its RSS is read from /proc).
        #[arg(long, value_name = "PID")]
        server_pid: u32,
        /// Seconds to wait after the last connection before reading RSS.
        #[arg(long, default_value_t = 2.0)]
        settle: f64,
        /// Seconds to keep the connections open after reading RSS.
        #[arg(long, default_value_t = 0.0)]
        hold: f64,
        /// Each connection first exchanges one 20-byte message (touches the buffers).
        #[arg(long)]
        exchange: bool,
    },
    /// Handshake rate: connect, open, close, repeat.
    Handshake {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        server: Server,
        /// Cycles in progress at once.
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// Unmeasured seconds first.
        #[arg(long, default_value_t = 1.0)]
        warmup: f64,
        /// Measured seconds.
        #[arg(long, default_value_t = 10.0)]
        duration: f64,
        /// The most cycles one worker runs.
        #[arg(long, default_value_t = 10_000_000)]
        max_per_worker: u64,
    },
    /// Print the comparison and targets tables of a records file.
    Summary {
        /// The records file written with --record.
        file: PathBuf,
        /// The server the others are compared with.
        #[arg(long, default_value = "tt-echo")]
        reference: String,
        /// The server the targets are checked for.
        #[arg(long, default_value = "berth")]
        subject: String,
    },
}

fn secs(value: f64) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(value)
        .context("a duration must be a non-negative number of seconds")
}

fn sources(common: &Common) -> anyhow::Result<Vec<IpAddr>> {
    Ok(match &common.sources {
        Some(spec) => parse_sources(spec)?,
        None => Vec::new(),
    })
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("berth-load: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    if let Command::Summary {
        file,
        reference,
        subject,
    } = &cli.command
    {
        let records = summary::read(file).with_context(|| file.display().to_string())?;
        print!("{}", summary::comparison(&records, reference).render());
        println!();
        print!(
            "{}",
            summary::targets(&records, subject, reference).render()
        );
        return Ok(());
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let (table, mut record) = runtime.block_on(scenario(cli.command))?;
    if !table.is_empty() {
        print!("{}", table.render());
    }
    if let Some(path) = &cli.record {
        for tag in &cli.tag {
            let (key, value) = tag.split_once('=').context("a --tag is KEY=VALUE")?;
            record.set(key, value);
        }
        // Tags first, so the records file reads scenario, server, rep, then metrics.
        record.pairs.rotate_right(cli.tag.len());
        record
            .append_to(path)
            .with_context(|| path.display().to_string())?;
    }
    Ok(())
}

async fn scenario(command: Command) -> anyhow::Result<(Table, Record)> {
    Ok(match command {
        Command::Echo {
            common,
            server,
            connections,
            in_flight,
            payload,
            binary: _,
            text,
            warmup,
            duration,
            max_messages,
        } => {
            let options = EchoOptions {
                target: Target::parse(&common.url)?,
                connections,
                in_flight,
                payload,
                text,
                warmup: secs(warmup)?,
                duration: secs(duration)?,
                max_messages,
                sources: sources(&common)?,
                server_pid: server.server_pid,
            };
            let report = echo::run(&options).await?;
            (report.table(), report.record())
        }
        Command::Latency {
            common,
            server,
            rate,
            connections,
            payload,
            text,
            warmup,
            duration,
        } => {
            let options = LatencyOptions {
                target: Target::parse(&common.url)?,
                connections,
                rate,
                payload,
                text,
                warmup: secs(warmup)?,
                duration: secs(duration)?,
                sources: sources(&common)?,
                server_pid: server.server_pid,
            };
            let report = latency::run(&options).await?;
            (report.table(), report.record())
        }
        Command::Broadcast {
            common,
            sessions,
            rounds,
            size,
            quiet_ms,
            settle_limit,
        } => {
            let options = BroadcastOptions {
                target: Target::parse(&common.url)?,
                sessions,
                rounds,
                size,
                quiet: Duration::from_millis(quiet_ms),
                settle_limit: secs(settle_limit)?,
                sources: sources(&common)?,
            };
            let report = broadcast::run(&options).await?;
            print!("{}", report.table().render());
            print!("{}", report.notes());
            (Table::new(&[""; 0]), report.record())
        }
        Command::Idle {
            common,
            connections,
            server_pid,
            settle,
            hold,
            exchange,
        } => {
            let options = IdleOptions {
                target: Target::parse(&common.url)?,
                connections,
                sources: sources(&common)?,
                server_pid,
                settle: secs(settle)?,
                hold: secs(hold)?,
                exchange,
            };
            let report = idle::run(&options).await?;
            (report.table(), report.record())
        }
        Command::Handshake {
            common,
            server,
            concurrency,
            warmup,
            duration,
            max_per_worker,
        } => {
            let options = HandshakeOptions {
                target: Target::parse(&common.url)?,
                concurrency,
                warmup: secs(warmup)?,
                duration: secs(duration)?,
                max_per_worker,
                sources: sources(&common)?,
                server_pid: server.server_pid,
            };
            let report = handshake::run(&options).await?;
            (report.table(), report.record())
        }
        Command::Summary { .. } => unreachable!("handled before the runtime starts"),
    })
}
