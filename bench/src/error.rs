//! The load tool's errors.

use std::io;
use std::net::SocketAddr;

/// Why a scenario (or one of its connections) failed.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// A bad argument: a non-loopback address, a malformed URL, an impossible count.
    #[error("{0}")]
    Usage(String),
    /// The TCP connection could not be made.
    #[error("connect to {addr}: {source}")]
    Connect {
        /// Where to.
        addr: SocketAddr,
        /// Why.
        source: io::Error,
    },
    /// The server did not answer the opening handshake with 101 and the right accept key.
    #[error("handshake refused: {0}")]
    Handshake(String),
    /// The server broke the protocol (or closed) while the scenario expected data.
    #[error("protocol: {0}")]
    Protocol(String),
    /// A socket read or write failed.
    #[error("i/o: {0}")]
    Io(#[from] io::Error),
    /// A bounded wait ran out.
    #[error("timed out: {0}")]
    Timeout(&'static str),
    /// A `/proc` file of the server could not be read.
    #[error("cannot read {path}: {source}")]
    Proc {
        /// The file.
        path: String,
        /// Why.
        source: io::Error,
    },
}

impl BenchError {
    /// A short, stable name for counting errors by kind.
    pub fn kind(&self) -> &'static str {
        match self {
            BenchError::Usage(_) => "usage",
            BenchError::Connect { .. } => "connect",
            BenchError::Handshake(_) => "handshake",
            BenchError::Protocol(_) => "protocol",
            BenchError::Io(_) => "io",
            BenchError::Timeout(_) => "timeout",
            BenchError::Proc { .. } => "proc",
        }
    }
}
