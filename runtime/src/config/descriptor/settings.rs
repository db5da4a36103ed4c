//! The settings of one web context after defaults and clamps: what the runtime obeys.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// The `<allowed-origins>` entry that allows every origin.
pub const ANY_ORIGIN: &str = "*";

/// Defaults from the JEUS 8 WebSocket container manual and Berth's extensions.
pub mod defaults {
    /// `max-incoming-*-message-buffer-size`.
    pub const MESSAGE_BUFFER_SIZE: u64 = 8192;
    /// `max-session-idle-timeout-in-millis`: 30 minutes.
    pub const IDLE_TIMEOUT_MILLIS: u64 = 1_800_000;
    /// `monitoring-period-in-millis`: 5 minutes.
    pub const MONITORING_PERIOD_MILLIS: u64 = 300_000;
    /// The smallest idle timeout and monitoring period JEUS allows.
    pub const MIN_PERIOD_MILLIS: u64 = 1000;
    /// `blocking-send-timeout-in-millis`.
    pub const BLOCKING_SEND_TIMEOUT_MILLIS: u64 = 10_000;
    /// `async-send-timeout-in-millis`.
    pub const ASYNC_SEND_TIMEOUT_MILLIS: u64 = 30_000;
    /// `websocket-executor/min`.
    pub const EXECUTOR_MIN: u64 = 10;
    /// `websocket-executor/max`.
    pub const EXECUTOR_MAX: u64 = 30;
    /// `websocket-executor/keep-alive-time`, milliseconds.
    pub const EXECUTOR_KEEP_ALIVE_MILLIS: u64 = 60_000;
    /// `websocket-executor/queue-size`.
    pub const EXECUTOR_QUEUE_SIZE: u64 = 4096;
    /// `batching-buffer-size` (655 536, sic, as JEUS ships it).
    pub const BATCHING_BUFFER_SIZE: u64 = 655_536;
    /// `websocket-timeout-min-threads`.
    pub const TIMEOUT_MIN_THREADS: u64 = 1;
    /// `ping-interval-in-millis`: below the 30–60 s idle cut-offs of common proxies and
    /// mobile networks, which drop a connection that carries nothing for 30–60 s.
    pub const PING_INTERVAL_MILLIS: u64 = 25_000;
    /// `pong-timeout-in-millis`.
    pub const PONG_TIMEOUT_MILLIS: u64 = 10_000;
    /// `permessage-deflate`: on, since browsers offer it.
    pub const PERMESSAGE_DEFLATE: bool = true;
    /// `drain-timeout-in-millis`: a minute for old sessions to finish on their own.
    pub const DRAIN_TIMEOUT_MILLIS: u64 = 60_000;
}

/// Everything a descriptor configures for one context.
#[derive(Debug, Clone, PartialEq)]
pub struct ContextSettings {
    /// `context-path`; `None` means "derive it from the directory name".
    pub context_path: Option<String>,
    /// The plugin library the descriptor names, relative to the context directory.
    pub endpoint_library: Option<PathBuf>,
    /// Largest incoming messages.
    pub limits: MessageLimits,
    /// When idle sessions close.
    pub idle: IdlePolicy,
    /// How long sends may wait.
    pub send: SendTimeouts,
    /// The context's callback pool.
    pub executor: ExecutorSettings,
    /// User-property failover.
    pub distributed: DistributedProperties,
    /// `init-param` name → value, readable by the endpoints.
    pub init_params: BTreeMap<String, String>,
    /// Bytes of outgoing frames coalesced before a flush; 0 disables batching.
    pub batching_buffer_size: usize,
    /// Threads reserved for expiring sessions while the pool is saturated.
    pub timeout_min_threads: usize,
    /// Server-side pings and dead-peer detection.
    pub keepalive: Keepalive,
    /// Origins allowed to open sessions, lower-cased; empty means only the server's own
    /// origin (same-origin); [`ANY_ORIGIN`] among them means every origin.
    pub allowed_origins: Vec<String>,
    /// Most sessions open at once; `None` means no limit.
    pub max_sessions: Option<usize>,
    /// Whether permessage-deflate (RFC 7692) is negotiated when a client offers it.
    pub permessage_deflate: bool,
    /// What happens to the sessions of the old version when the context is redeployed.
    pub redeploy: RedeployPolicy,
}

/// What a redeploy does with the old version's sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedeployPolicy {
    /// Each gets close 1012 (Service Restart) at once; its `on_close` runs on the old plugin.
    Close,
    /// They keep running on the old version until they end, or until the timeout; then 1012.
    Drain {
        /// How long the old version may keep serving its sessions.
        timeout: Duration,
    },
}

/// Largest accepted messages, after reassembling fragments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageLimits {
    /// Text messages, in bytes of UTF-8.
    pub text: usize,
    /// Binary messages, in bytes.
    pub binary: usize,
}

/// Idle detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdlePolicy {
    /// Close a session idle this long; `None` means never.
    pub timeout: Option<Duration>,
    /// How often the monitor looks.
    pub monitoring_period: Duration,
    /// Whether ping/pong frames count as activity (Tomcat's rule) or not (Berth's default).
    pub counts_control_frames: bool,
}

/// Send timeouts; `None` means wait without limit (JSR 356: a non-positive timeout).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendTimeouts {
    /// A blocking send fails after this long.
    pub blocking: Option<Duration>,
    /// An async send completes with a timeout error after this long unsent.
    pub asynchronous: Option<Duration>,
}

/// The per-context pool (`websocket-executor`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecutorSettings {
    /// Threads kept alive even when idle.
    pub min_threads: usize,
    /// Most threads at once.
    pub max_threads: usize,
    /// How long a thread above `min_threads` may idle before it exits.
    pub keep_alive: Duration,
    /// Most runnable tasks waiting for a thread.
    pub queue_size: usize,
}

/// `distributed-userProperties`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DistributedProperties {
    /// Persist user properties by HTTP session.
    pub enabled: bool,
    /// Store each put before it returns (otherwise write-behind).
    pub write_through: bool,
}

/// Server-side keepalive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keepalive {
    /// Ping this often; `None` disables pings.
    pub ping_interval: Option<Duration>,
    /// Close a session whose pong is this late.
    pub pong_timeout: Duration,
}

fn millis(value: u64) -> Duration {
    Duration::from_millis(value)
}

fn size(value: u64) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX)
}

impl Default for ContextSettings {
    fn default() -> Self {
        use defaults::*;
        ContextSettings {
            context_path: None,
            endpoint_library: None,
            limits: MessageLimits {
                text: size(MESSAGE_BUFFER_SIZE),
                binary: size(MESSAGE_BUFFER_SIZE),
            },
            idle: IdlePolicy {
                timeout: Some(millis(IDLE_TIMEOUT_MILLIS)),
                monitoring_period: millis(MONITORING_PERIOD_MILLIS),
                counts_control_frames: false,
            },
            send: SendTimeouts {
                blocking: Some(millis(BLOCKING_SEND_TIMEOUT_MILLIS)),
                asynchronous: Some(millis(ASYNC_SEND_TIMEOUT_MILLIS)),
            },
            executor: ExecutorSettings {
                min_threads: size(EXECUTOR_MIN),
                max_threads: size(EXECUTOR_MAX),
                keep_alive: millis(EXECUTOR_KEEP_ALIVE_MILLIS),
                queue_size: size(EXECUTOR_QUEUE_SIZE),
            },
            distributed: DistributedProperties {
                enabled: false,
                write_through: false,
            },
            init_params: BTreeMap::new(),
            batching_buffer_size: size(BATCHING_BUFFER_SIZE),
            timeout_min_threads: size(TIMEOUT_MIN_THREADS),
            keepalive: Keepalive {
                ping_interval: Some(millis(PING_INTERVAL_MILLIS)),
                pong_timeout: millis(PONG_TIMEOUT_MILLIS),
            },
            allowed_origins: Vec::new(),
            max_sessions: None,
            permessage_deflate: PERMESSAGE_DEFLATE,
            redeploy: RedeployPolicy::Close,
        }
    }
}

pub(crate) fn usize_of(value: u64) -> usize {
    size(value)
}
