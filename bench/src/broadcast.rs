//! `broadcast`: fan-out latency through the chat sample. N clients join one room
//! (`<url>?name=c<i>`); once the room is quiet (the chat announces every join to everyone,
//! so joining N clients sends about N²/2 notices), one client sends a message and the time
//! until each client has it is recorded; the headline is the time until the last one does.
//! Repeated for a few rounds, each after the room is quiet again.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt as _;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{Mutex, watch};
use tokio::task::JoinSet;

use crate::BenchError;
use crate::fleet::{self, Errors};
use crate::proc;
use crate::record::Record;
use crate::stats::{self, percentile};
use crate::table::{Table, num};
use crate::target::Target;
use crate::wire::{self, FrameReader, opcode};

/// What marks a measured message.
const MARKER: &[u8] = b"#bench-";
/// How long a round waits for every client.
const ROUND_TIMEOUT: Duration = Duration::from_secs(30);

/// What to run.
#[derive(Debug, Clone)]
pub struct BroadcastOptions {
    /// The room (`ws://host:port/chat/rooms/bench`); `name=c<i>` is added to the query.
    pub target: Target,
    /// How many clients join.
    pub sessions: usize,
    /// Measured messages.
    pub rounds: usize,
    /// The measured message's size in bytes (as sent; the chat prefixes `c0: `).
    pub size: usize,
    /// The room counts as quiet after this long without any client receiving anything.
    pub quiet: Duration,
    /// The longest wait for the room to become quiet.
    pub settle_limit: Duration,
    /// Client source addresses (round-robin).
    pub sources: Vec<IpAddr>,
}

/// One measured message.
#[derive(Debug, Clone, Copy)]
pub struct Round {
    /// Clients that got it.
    pub reached: usize,
    /// Time until half of the clients had it, ms.
    pub p50_ms: f64,
    /// Time until the last client had it, ms.
    pub last_ms: f64,
}

/// What happened.
#[derive(Debug, Clone)]
pub struct BroadcastReport {
    /// Clients in the room.
    pub connected: usize,
    /// Joining and waiting for quiet, seconds.
    pub setup_seconds: f64,
    /// Frames the clients received in all (notices included).
    pub frames: u64,
    /// The rounds.
    pub rounds: Vec<Round>,
    /// Failures.
    pub errors: Errors,
}

/// Arrival times, shared by every client.
#[derive(Debug)]
struct Board {
    origin: Instant,
    last_rx_ns: AtomicU64,
    frames: AtomicU64,
    /// Per round: when it was sent (ns since origin) and every arrival (ns since sending).
    rounds: Vec<(AtomicU64, StdMutex<Vec<u64>>)>,
}

impl Board {
    fn now_ns(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn received(&self, payload: &[u8], opcode: u8) {
        let now = self.now_ns();
        self.last_rx_ns.store(now, Ordering::Relaxed);
        self.frames.fetch_add(1, Ordering::Relaxed);
        if opcode != wire::opcode::TEXT {
            return;
        }
        let Some(round) = marked_round(payload) else {
            return;
        };
        if let Some((sent, arrivals)) = self.rounds.get(round) {
            let latency = now.saturating_sub(sent.load(Ordering::Relaxed));
            arrivals
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(latency);
        }
    }

    fn arrivals(&self, round: usize) -> usize {
        self.rounds.get(round).map_or(0, |(_, a)| {
            a.lock().unwrap_or_else(PoisonError::into_inner).len()
        })
    }

    /// Waits until nothing arrived for `quiet`, at most `limit`; false on timeout.
    async fn quiet(&self, quiet: Duration, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let quiet_ns = u64::try_from(quiet.as_nanos()).unwrap_or(u64::MAX);
        while Instant::now() < deadline {
            if self
                .now_ns()
                .saturating_sub(self.last_rx_ns.load(Ordering::Relaxed))
                >= quiet_ns
            {
                return true;
            }
            tokio::time::sleep(quiet / 4).await;
        }
        false
    }
}

/// The round number in a `...#bench-<n>#...` text.
fn marked_round(payload: &[u8]) -> Option<usize> {
    let at = payload.windows(MARKER.len()).position(|w| w == MARKER)? + MARKER.len();
    let digits = payload[at..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    std::str::from_utf8(&payload[at..at + digits])
        .ok()?
        .parse()
        .ok()
}

/// The measured message of `round`, `size` bytes.
fn message(round: usize, size: usize) -> Vec<u8> {
    let mut text = format!("#bench-{round}#").into_bytes();
    text.resize(size.max(text.len()), b'x');
    text
}

/// Runs the scenario.
pub async fn run(options: &BroadcastOptions) -> Result<BroadcastReport, BenchError> {
    if options.sessions == 0 || options.rounds == 0 {
        return Err(BenchError::Usage(
            "sessions and rounds must be at least 1".into(),
        ));
    }
    proc::check_open_files(options.sessions)?;
    let began = Instant::now();
    let board = Arc::new(Board {
        origin: began,
        last_rx_ns: AtomicU64::new(0),
        frames: AtomicU64::new(0),
        rounds: (0..options.rounds)
            .map(|_| (AtomicU64::new(u64::MAX), StdMutex::new(Vec::new())))
            .collect(),
    });
    let (closing, closed) = watch::channel(false);
    let mut listeners = JoinSet::new();
    let mut sender = None;
    let join = |i: usize| {
        let sep = if options.target.path.contains('?') {
            '&'
        } else {
            '?'
        };
        options
            .target
            .with_path(&format!("{}{sep}name=c{i}", options.target.path))
    };
    let mut errors = fleet::connect_each(
        options.sessions,
        &options.sources,
        join,
        |_, stream, reader| {
            let (read, write) = stream.into_split();
            let write = Arc::new(Mutex::new(write));
            sender.get_or_insert_with(|| Arc::clone(&write));
            let listener = Listener {
                board: Arc::clone(&board),
                write,
                closing: closed.clone(),
            };
            listeners.spawn(listener.run(read, reader));
        },
    )
    .await;
    let connected = listeners.len();
    let sender = sender
        .ok_or_else(|| BenchError::Protocol(format!("no client joined: {}", errors.describe())))?;
    let settled = board.quiet(options.quiet, options.settle_limit).await;
    let setup_seconds = began.elapsed().as_secs_f64();
    if !settled {
        errors.add(&BenchError::Timeout("the room did not become quiet"));
    }
    let mut rounds = Vec::with_capacity(options.rounds);
    for round in 0..options.rounds {
        if round > 0 {
            board.quiet(options.quiet, options.settle_limit).await;
        }
        rounds.push(measure(&board, &sender, round, options.size, connected).await?);
    }
    for short in unreached(&rounds, options.sessions) {
        errors.add(&short);
    }
    let _ = closing.send(true);
    let (_, failed) =
        fleet::join_bounded(&mut listeners, wire::CLOSE_WAIT + Duration::from_secs(30)).await;
    errors.merge(failed);
    Ok(BroadcastReport {
        connected,
        setup_seconds,
        frames: board.frames.load(Ordering::Relaxed),
        rounds,
        errors,
    })
}

/// Sends round `round`'s message and waits until every client has it (or the round times out).
async fn measure(
    board: &Board,
    sender: &Mutex<OwnedWriteHalf>,
    round: usize,
    size: usize,
    connected: usize,
) -> Result<Round, BenchError> {
    let frame = wire::frame(opcode::TEXT, &message(round, size));
    if let Some((sent, _)) = board.rounds.get(round) {
        sent.store(board.now_ns(), Ordering::Relaxed);
    }
    sender.lock().await.write_all(&frame).await?;
    let deadline = Instant::now() + ROUND_TIMEOUT;
    while board.arrivals(round) < connected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let mut arrivals = board.rounds[round]
        .1
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    arrivals.sort_unstable();
    let ms = |ns: u64| ns as f64 / 1e6;
    Ok(Round {
        reached: arrivals.len(),
        p50_ms: ms(percentile(&arrivals, 0.5)),
        last_ms: ms(arrivals.last().copied().unwrap_or(0)),
    })
}

/// A failure for every round that reached fewer clients than were asked to join: a message
/// lost on the way to some of them (or clients that never joined) is not a passing round.
fn unreached(rounds: &[Round], sessions: usize) -> Vec<BenchError> {
    rounds
        .iter()
        .enumerate()
        .filter(|(_, round)| round.reached < sessions)
        .map(|(i, round)| {
            BenchError::Protocol(format!(
                "broadcast round {} reached {} of {sessions} clients",
                i + 1,
                round.reached
            ))
        })
        .collect()
}

/// One client: reads everything, records measured arrivals, answers pings.
struct Listener {
    board: Arc<Board>,
    write: Arc<Mutex<OwnedWriteHalf>>,
    closing: watch::Receiver<bool>,
}

impl Listener {
    async fn run(
        mut self,
        mut read: OwnedReadHalf,
        mut reader: FrameReader,
    ) -> Result<(), BenchError> {
        loop {
            tokio::select! {
                _ = self.closing.changed() => break,
                frame = reader.next(&mut read) => {
                    let frame = frame?;
                    self.board.received(frame.payload, frame.opcode);
                    match frame.opcode {
                        opcode::PING => {
                            let pong = wire::frame(opcode::PONG, frame.payload);
                            self.write.lock().await.write_all(&pong).await?;
                        }
                        opcode::CLOSE => {
                            return Err(BenchError::Protocol("the server closed a chat session".into()));
                        }
                        _ => {}
                    }
                }
            }
        }
        self.write
            .lock()
            .await
            .write_all(&wire::close_frame(1000))
            .await?;
        let drain = async {
            while reader.next(&mut read).await?.opcode != opcode::CLOSE {}
            Ok::<(), BenchError>(())
        };
        let _ = tokio::time::timeout(wire::CLOSE_WAIT, drain).await;
        Ok(())
    }
}

impl BroadcastReport {
    /// The median over rounds of the time until the last client had the message, ms.
    pub fn median_last_ms(&self) -> f64 {
        let last: Vec<f64> = self.rounds.iter().map(|r| r.last_ms).collect();
        stats::median(&last).unwrap_or(f64::NAN)
    }

    /// The report as a table: one row per round, then the summary rows.
    pub fn table(&self) -> Table {
        let mut t = Table::new(&["round", "reached", "p50 (ms)", "last (ms)"]);
        for (i, r) in self.rounds.iter().enumerate() {
            t.row(&[
                (i + 1).to_string(),
                format!("{}/{}", r.reached, self.connected),
                num(r.p50_ms),
                num(r.last_ms),
            ]);
        }
        let median = num(self.median_last_ms());
        t.row(&["median", "", "", median.as_str()]);
        t
    }

    /// The lines under the table: setup and failures.
    pub fn notes(&self) -> String {
        format!(
            "setup: {} s to join and settle; {} frames received in all\nerrors: {}\n",
            num(self.setup_seconds),
            self.frames,
            self.errors.describe()
        )
    }

    /// The report as a record.
    pub fn record(&self) -> Record {
        let mut r = Record::new("broadcast");
        r.set("sessions", self.connected);
        r.set("last_ms", format!("{:.2}", self.median_last_ms()));
        let p50: Vec<f64> = self.rounds.iter().map(|r| r.p50_ms).collect();
        r.set(
            "p50_ms",
            format!("{:.2}", stats::median(&p50).unwrap_or(f64::NAN)),
        );
        let reached = self.rounds.iter().map(|r| r.reached).min().unwrap_or(0);
        r.set("min_reached", reached);
        r.set("setup_s", format!("{:.1}", self.setup_seconds));
        r.set("errors", self.errors.total());
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measured_messages_are_found_behind_the_chat_prefix() {
        let m = message(12, 100);
        assert_eq!(m.len(), 100);
        let mut seen = b"c0: ".to_vec();
        seen.extend(&m);
        assert_eq!(marked_round(&seen), Some(12));
        assert_eq!(marked_round(b"joined:c7"), None);
    }

    #[test]
    fn a_round_that_reached_fewer_clients_than_joined_is_an_error() {
        let round = |reached| Round {
            reached,
            p50_ms: 1.0,
            last_ms: 2.0,
        };
        assert!(unreached(&[round(20), round(20)], 20).is_empty());
        let short = unreached(&[round(20), round(19), round(0)], 20);
        let messages: Vec<String> = short.iter().map(ToString::to_string).collect();
        assert_eq!(
            messages,
            [
                "protocol: broadcast round 2 reached 19 of 20 clients",
                "protocol: broadcast round 3 reached 0 of 20 clients"
            ]
        );
        // Counted where `--smoke` looks: the record's `errors`.
        let mut errors = Errors::default();
        short.iter().for_each(|e| errors.add(e));
        let report = BroadcastReport {
            connected: 20,
            setup_seconds: 0.1,
            frames: 40,
            rounds: vec![round(20), round(19)],
            errors,
        };
        assert_eq!(report.errors.total(), 2);
        assert_eq!(report.record().get("errors"), Some("2"));
    }
}
