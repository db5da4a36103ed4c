//! Berth's benchmark tooling: the library behind `berth-load`.
//!
//! `berth-load` drives one scenario against one server and prints a plain table; the
//! `scripts/bench.sh` driver runs every scenario against Berth and against the raw
//! tokio-tungstenite reference (`tt-echo`), interleaved, and prints medians and ratios with
//! [`summary`]. See `bench/README.md` for what each scenario measures.
//!
//! Rules every scenario keeps:
//!
//! - **Loopback only.** A target or source address outside 127.0.0.0/8 or `::1` is refused
//!   before any socket is opened ([`target`]).
//! - **Bounded.** Every loop stops by count and by time; a server that stops answering makes
//!   a scenario fail with a timeout, never hang.
//! - **A cheap client.** The data path uses [`wire`], a minimal client that pre-masks its
//!   frames and parses server frames in place, so the load tool is not the bottleneck it
//!   measures. It answers pings, so long runs survive the server's keepalive.
//! - **One thread.** The load tool runs on a current-thread runtime (pin it to its own core).

pub mod broadcast;
pub mod echo;
pub mod error;
pub mod fleet;
pub mod handshake;
pub mod idle;
pub mod latency;
pub mod proc;
pub mod record;
pub mod report;
pub mod stats;
pub mod summary;
pub mod table;
pub mod target;
pub mod wire;

pub use error::BenchError;
