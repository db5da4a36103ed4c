//! A running `berth` process: started on an ephemeral loopback port, its log captured, killed
//! when dropped.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::apps::Apps;
use crate::berth_binary;

/// How long a server may take to start (generous: CI shares two cores).
const START_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Default)]
struct Log {
    text: Mutex<String>,
    grew: Condvar,
}

/// How to start a server besides its apps: extra arguments, environment, a wrapper program.
#[derive(Debug, Default)]
pub struct Launch<'a> {
    /// Extra `berth run` arguments.
    pub extra: &'a [&'a str],
    /// Extra environment variables.
    pub env: &'a [(&'a str, &'a OsStr)],
    /// A program (and its arguments) that runs `berth`, such as `prlimit --nofile=64:64`.
    pub wrapper: &'a [&'a str],
}

/// A running server.
#[derive(Debug)]
pub struct Berth {
    child: Child,
    log: Arc<Log>,
    address: SocketAddr,
}

impl Berth {
    /// Starts `berth run` serving `apps` on 127.0.0.1 with an ephemeral port, and waits until
    /// it listens.
    pub fn start(apps: &Apps) -> Berth {
        Berth::start_with(apps, &[])
    }

    /// Like [`Berth::start`], with extra `berth run` arguments.
    pub fn start_with(apps: &Apps, extra: &[&str]) -> Berth {
        Berth::launch(
            apps,
            &Launch {
                extra,
                ..Launch::default()
            },
        )
    }

    /// Like [`Berth::start`], the way `launch` says.
    pub fn launch(apps: &Apps, launch: &Launch<'_>) -> Berth {
        let binary = berth_binary();
        let mut command = match launch.wrapper {
            [] => Command::new(&binary),
            [program, args @ ..] => {
                let mut command = Command::new(program);
                command.args(args).arg(&binary);
                command
            }
        };
        let mut child = command
            .current_dir(apps.home())
            .args(["run", "--listen", "127.0.0.1:0", "--apps"])
            .arg(apps.dir())
            .args(launch.extra)
            .env("BERTH_LOG", "debug,hyper=info")
            .envs(launch.env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("berth can be started");
        let log = Arc::new(Log::default());
        let stderr = child.stderr.take().expect("stderr is piped");
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut text = sink.text.lock().expect("log lock");
                text.push_str(&line);
                text.push('\n');
                sink.grew.notify_all();
            }
        });
        let mut berth = Berth {
            child,
            log,
            address: SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        let line = berth
            .wait_for_log("listening addr=", START_TIMEOUT)
            .unwrap_or_else(|| panic!("berth did not start listening:\n{}", berth.logs()));
        berth.address = line
            .split("addr=")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|addr| addr.parse().ok())
            .expect("the listening line names the address");
        berth
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// CPU time the server has used so far, user and system, all threads (from
    /// `/proc/PID/stat`, whose clock ticks are USER_HZ = 100 per second on Linux).
    pub fn cpu_time(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))
            .expect("the server's /proc/PID/stat is readable");
        // Fields after the command name (which may hold spaces), from field 3 on.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .expect("/proc/PID/stat has a command name");
        let ticks = |index: usize| -> u64 { fields[index - 3].parse().expect("a tick count") };
        Duration::from_millis((ticks(14) + ticks(15)) * 10)
    }

    /// The server's resident memory in KiB (from `/proc`).
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("the server's /proc/PID/status is readable");
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kib| kib.parse().ok())
            .expect("/proc/PID/status has VmRSS in KiB")
    }

    /// A `/proc/PID/status` figure in KiB: `RssAnon`, `RssFile`, `RssShmem`, `VmRSS`…
    pub fn status_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("the server's /proc/PID/status is readable");
        status
            .lines()
            .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kib| kib.parse().ok())
            .unwrap_or_else(|| panic!("/proc/PID/status has no {field} in KiB"))
    }

    /// The plugin library copies the server holds open (sealed memfds named
    /// `berth-plugin`, one per library ever loaded), and their total size in bytes: memory
    /// that `VmRSS` does not count, since only the mapped and touched pages are resident.
    pub fn plugin_copies(&self) -> (usize, u64) {
        let fds = format!("/proc/{}/fd", self.child.id());
        let entries = std::fs::read_dir(&fds).expect("the server's fd list is readable");
        let copies: Vec<u64> = entries
            .filter_map(|entry| {
                let path = entry.ok()?.path();
                let target = std::fs::read_link(&path).ok()?;
                let is_copy = target.to_string_lossy().starts_with("/memfd:berth-plugin");
                is_copy.then(|| std::fs::metadata(&path).map_or(0, |meta| meta.len()))
            })
            .collect();
        (copies.len(), copies.iter().sum())
    }

    /// The names of the server's threads (`/proc/PID/task/*/comm`: at most 15 bytes each).
    pub fn thread_names(&self) -> Vec<String> {
        let tasks = format!("/proc/{}/task", self.child.id());
        let entries = std::fs::read_dir(&tasks).expect("the server's task list is readable");
        entries
            .filter_map(|entry| std::fs::read_to_string(entry.ok()?.path().join("comm")).ok())
            .map(|name| name.trim_end().to_owned())
            .collect()
    }

    /// Waits until `needle` has been logged `count` times.
    pub fn wait_for_count(&self, needle: &str, count: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut text = self.log.text.lock().expect("log lock");
        loop {
            if text.matches(needle).count() >= count {
                return true;
            }
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return false;
            };
            text = self.log.grew.wait_timeout(text, left).expect("log lock").0;
        }
    }

    /// The listener's address.
    pub fn addr(&self) -> SocketAddr {
        self.address
    }

    /// `ws://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("ws://{}{path}", self.address)
    }

    /// Everything the server logged so far.
    pub fn logs(&self) -> String {
        self.log.text.lock().expect("log lock").clone()
    }

    /// Waits until a log line contains `needle`; returns that line.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        let mut text = self.log.text.lock().expect("log lock");
        loop {
            if let Some(line) = text.lines().find(|line| line.contains(needle)) {
                return Some(line.to_owned());
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            text = self.log.grew.wait_timeout(text, left).expect("log lock").0;
        }
    }

    /// Sends SIGTERM and waits for the process to exit.
    pub fn terminate(&mut self, timeout: Duration) -> Option<ExitStatus> {
        self.signal("TERM", timeout)
    }

    /// Sends the signal `name` (as `kill` spells it: `TERM`, `HUP`) without waiting.
    pub fn send_signal(&self, name: &str) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args([&format!("-{name}"), &pid])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -{name} {pid}: {sent}");
    }

    /// Sends the signal `name` (as `kill` spells it: `TERM`, `HUP`) and waits for the
    /// process to exit.
    pub fn signal(&mut self, name: &str, timeout: Duration) -> Option<ExitStatus> {
        self.send_signal(name);
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Berth {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A server with one context, `probe` (the probe fixture at `/probe/`), whose descriptor's
/// `<websocket>` holds `inner`. Keep the `Apps` alive as long as the server.
pub fn probe(label: &str, inner: &str) -> (Apps, Berth) {
    let apps = Apps::new(label);
    apps.context("probe", "probe", &crate::apps::descriptor(inner));
    let berth = Berth::start(&apps);
    (apps, berth)
}
