//! Many connections at once: opening them with bounded concurrency over several source
//! addresses, and collecting the tasks that drive them, with every wait bounded.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use futures_util::StreamExt as _;
use tokio::net::TcpStream;
use tokio::task::JoinSet;

use crate::BenchError;
use crate::target::Target;
use crate::wire::{self, FrameReader};

/// How many handshakes are in progress at once while opening a fleet.
pub const CONNECT_CONCURRENCY: usize = 128;
/// How long one connect plus handshake may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// How often a handshake refused with 503 (the server is saturated, e.g. Berth's context
/// pool queue is full) is tried again, after a growing pause.
pub const RETRIES_ON_503: u32 = 40;

/// Failures counted by kind, with the first message of each kind for the report.
#[derive(Debug, Clone, Default)]
pub struct Errors {
    /// Kind → (count, first message).
    pub by_kind: BTreeMap<&'static str, (usize, String)>,
    /// Handshakes refused with 503 and tried again (not failures unless retries ran out).
    pub retried_503: usize,
}

impl Errors {
    /// Counts one failure.
    pub fn add(&mut self, error: &BenchError) {
        let entry = self
            .by_kind
            .entry(error.kind())
            .or_insert_with(|| (0, error.to_string()));
        entry.0 += 1;
    }

    /// Adds another set of counts.
    pub fn merge(&mut self, other: Errors) {
        for (kind, (count, first)) in other.by_kind {
            self.by_kind.entry(kind).or_insert((0, first)).0 += count;
        }
        self.retried_503 += other.retried_503;
    }

    /// How many failures in all.
    pub fn total(&self) -> usize {
        self.by_kind.values().map(|(n, _)| n).sum()
    }

    /// `kind: n (first message)` lines, or `none`.
    pub fn describe(&self) -> String {
        let retried = match self.retried_503 {
            0 => String::new(),
            n => format!(" ({n} handshakes retried after 503)"),
        };
        if self.by_kind.is_empty() {
            return format!("none{retried}");
        }
        let parts: Vec<String> = self
            .by_kind
            .iter()
            .map(|(kind, (n, first))| format!("{kind}: {n} (first: {first})"))
            .collect();
        format!("{}{retried}", parts.join("; "))
    }
}

/// The source address of connection `index`: round-robin over `sources` (none: the
/// kernel's choice).
pub fn source_of(sources: &[IpAddr], index: usize) -> Option<IpAddr> {
    (!sources.is_empty()).then(|| sources[index % sources.len()])
}

/// Connects to `target(i)` for `i in 0..count`, at most [`CONNECT_CONCURRENCY`] at a time,
/// each bounded by [`CONNECT_TIMEOUT`]; hands each open connection to `opened` as soon as
/// its handshake is done (in completion order). Returns the failures.
pub async fn connect_each(
    count: usize,
    sources: &[IpAddr],
    target: impl Fn(usize) -> Target,
    mut opened: impl FnMut(usize, TcpStream, FrameReader),
) -> Errors {
    let mut attempts = futures_util::stream::iter(0..count)
        .map(|i| {
            let target = target(i);
            let source = source_of(sources, i);
            async move {
                let (opened, retries) = open_retrying(&target, source).await;
                (i, opened, retries)
            }
        })
        .buffer_unordered(CONNECT_CONCURRENCY);
    let mut errors = Errors::default();
    while let Some((i, result, retries)) = attempts.next().await {
        errors.retried_503 += retries;
        match result {
            Ok((stream, reader)) => opened(i, stream, reader),
            Err(error) => errors.add(&error),
        }
    }
    errors
}

/// One connection, tried again while the server answers 503; returns it and the retries.
async fn open_retrying(
    target: &Target,
    source: Option<IpAddr>,
) -> (Result<(TcpStream, FrameReader), BenchError>, usize) {
    let mut retries = 0;
    loop {
        let opened = tokio::time::timeout(CONNECT_TIMEOUT, wire::connect(target, source))
            .await
            .unwrap_or(Err(BenchError::Timeout("connect and handshake")));
        match opened {
            Err(BenchError::Handshake(status))
                if status.contains(" 503 ") && retries < RETRIES_ON_503 as usize =>
            {
                retries += 1;
                let pause = Duration::from_millis(50) * (retries as u32).min(20);
                tokio::time::sleep(pause).await;
            }
            other => return (other, retries),
        }
    }
}

/// [`connect_each`], collecting the open connections in index order.
pub async fn connect_all(
    count: usize,
    sources: &[IpAddr],
    target: impl Fn(usize) -> Target,
) -> (Vec<(usize, TcpStream, FrameReader)>, Errors) {
    let mut open = Vec::with_capacity(count);
    let errors = connect_each(count, sources, target, |i, stream, reader| {
        open.push((i, stream, reader));
    })
    .await;
    open.sort_by_key(|(i, _, _)| *i);
    (open, errors)
}

/// Waits for every task of `set`, at most `limit` in all; tasks still running then are
/// aborted and counted as timeouts. Returns the tasks' values and the failures.
pub async fn join_bounded<T: 'static>(
    set: &mut JoinSet<Result<T, BenchError>>,
    limit: Duration,
) -> (Vec<T>, Errors) {
    let mut values = Vec::new();
    let mut errors = Errors::default();
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, set.join_next()).await {
            Ok(None) => break,
            Ok(Some(Ok(Ok(value)))) => values.push(value),
            Ok(Some(Ok(Err(error)))) => errors.add(&error),
            Ok(Some(Err(join))) => errors.add(&BenchError::Protocol(format!("task: {join}"))),
            Err(_) => {
                for _ in 0..set.len() {
                    errors.add(&BenchError::Timeout("a connection did not finish in time"));
                }
                set.abort_all();
                break;
            }
        }
    }
    (values, errors)
}
