//! `berth status`: asks a running server's admin listener for its contexts and prints them as
//! a table, for people (scripts read `GET /contexts` themselves).
//!
//! The address is `--admin` when given, else `<admin>` of the server configuration
//! (`--conf`, else `conf/server.xml` when it exists), else the default `127.0.0.1:9090`; an
//! unspecified address (`0.0.0.0`) is asked on loopback. One HTTP/1.1 GET over a plain
//! `TcpStream`, bounded in time and size. Nothing answering is an error that says where it
//! asked.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::admin::view::{ContextList, ContextView, ErrorView};
use crate::config::server::{self, ServerConfig};

/// How long connecting, and then each read, may take. Generous: the listener answers after
/// a deployment in progress.
const TIMEOUT: Duration = Duration::from_secs(30);

/// The largest answer read.
const MAX_ANSWER: u64 = 16 * 1024 * 1024;

/// What `berth status` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct StatusOptions {
    /// The admin listener's address; overrides the configuration's.
    pub admin: Option<SocketAddr>,
    /// The server configuration file whose `<admin>` to ask.
    pub conf: Option<PathBuf>,
}

/// Why there is no table.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    /// The server configuration has errors.
    #[error("{}: the server configuration has {count} error(s); `berth check {}` lists them", file.display(), file.display())]
    Config {
        /// The file.
        file: PathBuf,
        /// How many errors.
        count: usize,
    },
    /// The configuration turns the admin listener off.
    #[error("{}: <admin> is disabled, so there is nothing to ask; pass --admin ADDR:PORT", file.display())]
    Disabled {
        /// The file.
        file: PathBuf,
    },
    /// Nothing answered.
    #[error(
        "nothing answers on {address} ({source}): is berth running there with <admin> enabled?"
    )]
    Unreachable {
        /// Where it asked.
        address: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// Something answered, but not with the contexts.
    #[error("{address} answered {detail}")]
    Answer {
        /// Where it asked.
        address: SocketAddr,
        /// What it answered.
        detail: String,
    },
    /// The table could not be written.
    #[error("cannot write the table: {0}")]
    Write(std::io::Error),
}

/// Asks the admin listener for its contexts and writes them to `out` as a table.
pub fn status(options: &StatusOptions, out: &mut dyn Write) -> Result<(), StatusError> {
    let address = admin_address(options)?;
    let list = contexts(address)?;
    out.write_all(table(&list.contexts).as_bytes())
        .map_err(StatusError::Write)
}

/// Where to ask.
fn admin_address(options: &StatusOptions) -> Result<SocketAddr, StatusError> {
    if let Some(address) = options.admin {
        return Ok(reachable(address));
    }
    let default_path = Path::new(server::DEFAULT_PATH);
    let file = (options.conf.as_deref()).or(default_path.is_file().then_some(default_path));
    let (admin, file) = match file {
        Some(file) => (configured_admin(file)?, file),
        None => (ServerConfig::defaults(Path::new(".")).admin, default_path),
    };
    let file = file.to_path_buf();
    admin.map(reachable).ok_or(StatusError::Disabled { file })
}

fn configured_admin(file: &Path) -> Result<Option<SocketAddr>, StatusError> {
    let parsed = server::load(file);
    let count = parsed.diagnostics.iter().filter(|d| d.is_error()).count();
    let found = parsed.value.ok_or_else(|| StatusError::Config {
        file: file.to_path_buf(),
        count,
    })?;
    Ok(found.config.admin)
}

/// A listener on every address is asked on loopback.
fn reachable(address: SocketAddr) -> SocketAddr {
    match address.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => (Ipv4Addr::LOCALHOST, address.port()).into(),
        IpAddr::V6(ip) if ip.is_unspecified() => (Ipv6Addr::LOCALHOST, address.port()).into(),
        _ => address,
    }
}

/// `GET /contexts` from `address`.
fn contexts(address: SocketAddr) -> Result<ContextList, StatusError> {
    let unreachable = |source| StatusError::Unreachable { address, source };
    let mut stream = TcpStream::connect_timeout(&address, TIMEOUT).map_err(unreachable)?;
    stream
        .set_read_timeout(Some(TIMEOUT))
        .map_err(unreachable)?;
    stream
        .set_write_timeout(Some(TIMEOUT))
        .map_err(unreachable)?;
    let request = format!(
        "GET /contexts HTTP/1.1\r\nHost: {address}\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).map_err(unreachable)?;
    let mut answer = Vec::new();
    (stream.take(MAX_ANSWER))
        .read_to_end(&mut answer)
        .map_err(unreachable)?;
    let detail = |detail: String| StatusError::Answer { address, detail };
    let (code, body) =
        split_answer(&answer).ok_or_else(|| detail("something that is not HTTP".into()))?;
    if code != 200 {
        let said = serde_json::from_slice::<ErrorView>(body).map(|e| e.error);
        let said = said.unwrap_or_else(|_| String::from_utf8_lossy(body).trim().to_owned());
        return Err(detail(format!("{code}: {said}")));
    }
    serde_json::from_slice(body)
        .map_err(|error| detail(format!("a list it could not read: {error}")))
}

/// The status code and body of an HTTP/1.1 answer read until the server closed.
fn split_answer(answer: &[u8]) -> Option<(u16, &[u8])> {
    let end = answer.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&answer[..end]).ok()?;
    let status_line = head.lines().next()?;
    let mut parts = status_line.split_whitespace();
    parts
        .next()
        .filter(|version| version.starts_with("HTTP/"))?;
    let code = parts.next()?.parse().ok()?;
    Some((code, &answer[end + 4..]))
}

/// The contexts as aligned columns, each with its first error and its retiring versions
/// beneath it.
fn table(contexts: &[ContextView]) -> String {
    if contexts.is_empty() {
        return "no contexts\n".to_owned();
    }
    let header = [
        "NAME",
        "PATH",
        "STATE",
        "GEN",
        "SESSIONS",
        "LIBRARY MODIFIED",
    ]
    .map(String::from);
    let rows: Vec<[String; 6]> = contexts.iter().map(row).collect();
    let mut widths = header.clone().map(|cell| cell.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: &[String; 6]| {
        let padded: Vec<String> = (cells.iter().zip(widths))
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut text = line(&header);
    for (context, row) in contexts.iter().zip(&rows) {
        text.push_str(&line(row));
        text.push_str(&notes(context));
    }
    text
}

fn row(context: &ContextView) -> [String; 6] {
    let dash = || "-".to_owned();
    let state = if context.held && context.state != "undeployed" {
        format!("{} (held)", context.state)
    } else {
        context.state.clone()
    };
    [
        context.name.clone(),
        context.path.clone().unwrap_or_else(dash),
        state,
        context.generation.map_or_else(dash, |g| g.to_string()),
        context.sessions.to_string(),
        (context.library.as_ref())
            .and_then(|library| library.modified.clone())
            .unwrap_or_else(dash),
    ]
}

/// What a row cannot hold: the first problem of a refused version, the retiring versions.
fn notes(context: &ContextView) -> String {
    let mut text = String::new();
    let first = (context.last_error.as_ref()).and_then(|error| error.diagnostics.first());
    if let Some(first) = first {
        let more = context
            .last_error
            .as_ref()
            .map_or(0, |e| e.diagnostics.len() - 1);
        let more = match more {
            0 => String::new(),
            n => format!(" (and {n} more)"),
        };
        text.push_str(&format!("  error: {}{more}\n", first.text));
    }
    for old in &context.retiring {
        let generation = old.generation;
        let sessions = old.sessions;
        text.push_str(&format!(
            "  retiring generation {generation}: {sessions} session(s)\n"
        ));
    }
    text
}

#[cfg(test)]
mod tests;
