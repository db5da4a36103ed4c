//! Trying a library in a short-lived child process before the server loads it.
//!
//! Opening a library runs its initialisers (ELF constructors), which may crash or hang
//! whatever the file claims to be. So every library is opened first by `berth probe-library`
//! (a hidden subcommand of this same binary): the child gets the staged copy as its standard
//! input, opens it, checks the ABI symbols and version, reads the endpoint declarations,
//! prints one line `berth-probe: {json}` and exits. The parent loads the library only when
//! that line says it passed; a crash (killed by a signal), an exit without the line or a
//! child still running after [`PROBE_TIMEOUT`] is reported with the library's path and the
//! tail of what the child wrote to stderr. `berth check` uses the same child.

use std::io::{self, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::loader::{self, LoadError, LoadProblem};
use super::stage::StagedLibrary;
use crate::plugin::EndpointInfo;

/// How long a probe may take before it is killed and the library refused.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// The hidden subcommand the child runs.
pub const SUBCOMMAND: &str = "probe-library";

/// The prefix of the child's answer line (a library may print to stdout too).
const ANSWER: &str = "berth-probe: ";

/// How much of the child's output is kept: its answer is short, a library's chatter is not.
const OUTPUT_CAP: usize = 64 * 1024;

/// How often a running probe is checked for having exited.
const POLL: Duration = Duration::from_millis(5);

/// What the probe found in a library that passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeReport {
    /// The ABI version the plugin was built against, as `major.minor`.
    pub abi: String,
    /// The plugin's `endpoint-api` version.
    pub sdk_version: String,
    /// The endpoints it declares.
    pub endpoints: Vec<EndpointInfo>,
}

/// Where to find the binary that runs probes, and how long to wait for one.
#[derive(Debug, Clone)]
pub struct Prober {
    program: PathBuf,
    timeout: Duration,
}

impl Prober {
    /// Probes with the running binary itself (`/proc/self/exe`, which stays valid even when
    /// the file on disk is replaced by an upgrade).
    pub fn this_binary() -> Prober {
        Prober {
            program: PathBuf::from("/proc/self/exe"),
            timeout: PROBE_TIMEOUT,
        }
    }

    /// Probes with `program`, a `berth` binary.
    pub fn with_program(program: impl Into<PathBuf>, timeout: Duration) -> Prober {
        Prober {
            program: program.into(),
            timeout,
        }
    }

    /// Runs the child on `staged` (a copy of `file`) and returns what it found.
    pub(crate) fn probe(
        &self,
        file: &Path,
        staged: &StagedLibrary,
    ) -> Result<ProbeReport, LoadError> {
        let failed = |problem| LoadError::new(file, problem);
        let stdin = staged
            .duplicate()
            .map_err(|e| failed(LoadProblem::Probe(format!("cannot start the probe: {e}"))))?;
        let child = Command::new(&self.program)
            .arg(SUBCOMMAND)
            .arg(file)
            .stdin(Stdio::from(stdin))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env_remove("BERTH_LOG")
            .spawn()
            .map_err(|e| {
                let program = self.program.display();
                failed(LoadProblem::Probe(format!(
                    "cannot start the probe {program}: {e}"
                )))
            })?;
        let finished = wait(child, self.timeout)
            .map_err(|e| failed(LoadProblem::Probe(format!("the probe failed: {e}"))))?;
        verdict(finished, self.timeout).map_err(failed)
    }
}

/// A probe that ended (or was killed at its deadline), with what it wrote.
struct Finished {
    status: Option<ExitStatus>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

/// Waits for `child` until `timeout`, killing it then; drains its pipes meanwhile so that a
/// chatty library cannot block it on a full pipe.
fn wait(mut child: Child, timeout: Duration) -> io::Result<Finished> {
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(POLL);
    };
    // A library that started a process of its own may keep the pipes open: never wait on
    // them past the deadline.
    let collect = |reader: crossbeam_channel::Receiver<Vec<u8>>| {
        let left = deadline.saturating_duration_since(Instant::now());
        reader.recv_timeout(left.max(POLL)).unwrap_or_default()
    };
    Ok(Finished {
        status,
        stdout: collect(stdout),
        stderr: collect(stderr),
    })
}

/// Reads `pipe` to its end on a thread of its own, keeping the first [`OUTPUT_CAP`] bytes.
fn drain(pipe: Option<impl Read + Send + 'static>) -> crossbeam_channel::Receiver<Vec<u8>> {
    let (sender, receiver) = crossbeam_channel::bounded(1);
    if let Some(mut pipe) = pipe {
        std::thread::spawn(move || {
            let mut kept = Vec::new();
            let mut chunk = [0u8; 8192];
            while let Ok(read @ 1..) = pipe.read(&mut chunk) {
                let room = OUTPUT_CAP.saturating_sub(kept.len());
                kept.extend_from_slice(&chunk[..read.min(room)]);
            }
            let _ = sender.send(kept);
        });
    }
    receiver
}

fn verdict(finished: Finished, timeout: Duration) -> Result<ProbeReport, LoadProblem> {
    let stderr = stderr_tail(&finished.stderr);
    let Some(status) = finished.status else {
        return Err(LoadProblem::ProbeTimedOut {
            after: timeout,
            stderr,
        });
    };
    if let Some(signal) = status.signal() {
        return Err(LoadProblem::ProbeCrashed { signal, stderr });
    }
    let answer = String::from_utf8_lossy(&finished.stdout)
        .lines()
        .rev()
        .find_map(|line| line.strip_prefix(ANSWER).map(str::to_owned));
    let Some(answer) = answer.filter(|_| status.success()) else {
        let code = status.code().unwrap_or(-1);
        return Err(LoadProblem::Probe(format!(
            "the probe process exited with code {code} without an answer{stderr}"
        )));
    };
    match serde_json::from_str::<Answer>(&answer) {
        Ok(Answer::Passed(report)) => Ok(report.into()),
        Ok(Answer::Refused(problem)) => Err(LoadProblem::Refused(problem)),
        Err(error) => Err(LoadProblem::Probe(format!(
            "the probe's answer is unreadable: {error}"
        ))),
    }
}

/// The last lines the child wrote to stderr, as a suffix for a message (empty when none).
fn stderr_tail(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = lines[lines.len().saturating_sub(3)..].join(" | ");
    if tail.is_empty() {
        String::new()
    } else {
        format!("; it wrote: {}", tail.chars().take(600).collect::<String>())
    }
}

/// The child's answer, one JSON line.
#[derive(Debug, Serialize, Deserialize)]
enum Answer {
    Passed(WireReport),
    Refused(String),
}

#[derive(Debug, Serialize, Deserialize)]
struct WireReport {
    abi: String,
    sdk_version: String,
    endpoints: Vec<(String, Vec<String>)>,
}

impl From<WireReport> for ProbeReport {
    fn from(wire: WireReport) -> Self {
        ProbeReport {
            abi: wire.abi,
            sdk_version: wire.sdk_version,
            endpoints: (wire.endpoints.into_iter())
                .map(|(template, subprotocols)| EndpointInfo {
                    template,
                    subprotocols,
                })
                .collect(),
        }
    }
}

/// The child's side: opens the library on standard input (named `file` in messages), checks
/// it and writes the answer line to `out`. A library that crashes the process never gets
/// this far; that is the point.
pub fn answer(file: &Path, out: &mut dyn Write) -> io::Result<()> {
    let answer = match loader::open(Path::new("/proc/self/fd/0"), file) {
        Ok(library) => Answer::Passed(WireReport {
            abi: library.abi.to_string(),
            sdk_version: library.sdk_version,
            endpoints: (library.endpoints.into_iter())
                .map(|e| (e.template, e.subprotocols))
                .collect(),
        }),
        Err(error) => Answer::Refused(error.problem.to_string()),
    };
    let line = serde_json::to_string(&answer).map_err(io::Error::other)?;
    writeln!(out, "{ANSWER}{line}")?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exited(code: i32, stdout: &str, stderr: &str) -> Finished {
        Finished {
            status: Some(ExitStatus::from_raw(code << 8)),
            stdout: stdout.as_bytes().to_vec(),
            stderr: stderr.as_bytes().to_vec(),
        }
    }

    #[test]
    fn a_passing_answer_is_read_after_a_library_chatter() {
        let line = r#"berth-probe: {"Passed":{"abi":"1.0","sdk_version":"0.1.0","endpoints":[["/rooms/{room}",["v1"]]]}}"#;
        let report = verdict(
            exited(0, &format!("hello from a constructor\n{line}\n"), ""),
            PROBE_TIMEOUT,
        )
        .expect("passed");
        assert_eq!(report.abi, "1.0");
        assert_eq!(report.endpoints[0].template, "/rooms/{room}");
        assert_eq!(report.endpoints[0].subprotocols, ["v1"]);
    }

    #[test]
    fn a_refusal_carries_the_childs_reason() {
        let line = r#"berth-probe: {"Refused":"not a Berth plugin: the symbol x is missing"}"#;
        let problem = verdict(exited(0, line, ""), PROBE_TIMEOUT).expect_err("refused");
        assert_eq!(
            problem.to_string(),
            "not a Berth plugin: the symbol x is missing"
        );
    }

    #[test]
    fn a_signal_a_silent_exit_and_a_timeout_are_reported() {
        let killed = Finished {
            status: Some(ExitStatus::from_raw(libc::SIGABRT)),
            stdout: Vec::new(),
            stderr: b"constructor: giving up\n".to_vec(),
        };
        let message = verdict(killed, PROBE_TIMEOUT)
            .expect_err("crashed")
            .to_string();
        assert!(message.contains("signal 6 (SIGABRT)"), "{message}");
        assert!(message.contains("constructor: giving up"), "{message}");
        let message = verdict(exited(3, "", ""), PROBE_TIMEOUT)
            .expect_err("silent")
            .to_string();
        assert!(message.contains("exited with code 3"), "{message}");
        let hung = Finished {
            status: None,
            stdout: Vec::new(),
            stderr: Vec::new(),
        };
        let message = verdict(hung, PROBE_TIMEOUT)
            .expect_err("timed out")
            .to_string();
        assert!(message.contains("did not finish within 10 s"), "{message}");
    }
}
