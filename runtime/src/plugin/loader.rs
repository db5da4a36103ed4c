//! Opening a plugin library and checking that it speaks our ABI.
//!
//! [`load`] is what the server does: stage a private copy of the library (`stage`), try it
//! in a child process (`probe`), and only when the child says it passed, open the same copy
//! in this process by descriptor and read its table. Each load opens a new copy, so a
//! replaced file loads new code (the dynamic loader would return the old mapping for a path
//! it has seen). Libraries are never closed: a plugin's thread-locals or threads may still
//! run code from them, and their staged copies stay open with them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use endpoint_api::abi::{self, AbiVersion, AbiVersionFn, EntryFn, PluginApi};

use super::instance::{EndpointInfo, read_endpoints};
use super::probe::{ProbeReport, Prober};
use super::stage::{self, StagedLibrary};

/// Why a library could not be used as a plugin: the library and the problem.
#[derive(Debug, thiserror::Error)]
#[error("{}: {problem}", file.display())]
pub struct LoadError {
    /// The library, as found in the context directory.
    pub file: PathBuf,
    /// What is wrong with it.
    pub problem: LoadProblem,
}

impl LoadError {
    pub(crate) fn new(file: &Path, problem: LoadProblem) -> LoadError {
        LoadError {
            file: file.to_path_buf(),
            problem,
        }
    }
}

/// What is wrong with a library.
#[derive(Debug, thiserror::Error)]
pub enum LoadProblem {
    /// Copying the library to its private copy failed.
    #[error("cannot stage the plugin library: {0}")]
    Stage(std::io::Error),
    /// The dynamic loader refused the file.
    #[error("cannot load the plugin library: {0}")]
    Open(String),
    /// A required symbol is missing: not a Berth plugin.
    #[error(
        "not a Berth plugin: the symbol {0} is missing (declare the plugin with endpoint_api::plugin!)"
    )]
    MissingSymbol(&'static str),
    /// Built against an ABI major this host does not speak.
    #[error(
        "plugin refused: it was built against endpoint-api ABI {plugin}{sdk}, this berth speaks ABI {host}; rebuild the plugin against endpoint-api {host_sdk}"
    )]
    IncompatibleAbi {
        /// The plugin's ABI version.
        plugin: AbiVersion,
        /// The host's ABI version.
        host: AbiVersion,
        /// " (endpoint-api x.y.z)" when the plugin said.
        sdk: String,
        /// This host's SDK version.
        host_sdk: &'static str,
    },
    /// The plugin's table is unusable.
    #[error("plugin refused: {0}")]
    BadTable(String),
    /// The probe process found a problem (its words).
    #[error("{0}")]
    Refused(String),
    /// Opening the library killed the probe process.
    #[error(
        "opening the library crashed the probe process with signal {signal} ({name}); it was not loaded into the server{stderr}",
        name = signal_name(*signal)
    )]
    ProbeCrashed {
        /// The signal number.
        signal: i32,
        /// What the probe wrote last to stderr, as a message suffix.
        stderr: String,
    },
    /// Opening the library did not finish in time.
    #[error(
        "opening the library did not finish within {} s (its initialisers hang?); the probe was killed and the library not loaded{stderr}",
        after.as_secs()
    )]
    ProbeTimedOut {
        /// The probe's time limit.
        after: Duration,
        /// What the probe wrote last to stderr, as a message suffix.
        stderr: String,
    },
    /// The probe process could not run or answer.
    #[error("{0}")]
    Probe(String),
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        libc::SIGABRT => "SIGABRT",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGBUS => "SIGBUS",
        libc::SIGILL => "SIGILL",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGTERM => "SIGTERM",
        libc::SIGSYS => "SIGSYS",
        libc::SIGTRAP => "SIGTRAP",
        _ => "another signal",
    }
}

/// A plugin library that passed the version checks; its table is copied out.
#[derive(Debug)]
pub struct PluginLibrary {
    /// The file it was loaded from (the original, not the staged copy).
    pub file: PathBuf,
    /// The plugin's table, read with the size-prefix rule.
    pub api: PluginApi,
    /// The plugin's ABI version.
    pub abi: AbiVersion,
    /// The plugin's `endpoint-api` version.
    pub sdk_version: String,
    /// The endpoints it declares.
    pub endpoints: Vec<EndpointInfo>,
}

/// Stages `file`, probes it with `prober` and, when it passed, loads it into this process.
pub fn load(file: &Path, prober: &Prober) -> Result<PluginLibrary, LoadError> {
    let staged = stage::stage(file).map_err(|e| LoadError::new(file, LoadProblem::Stage(e)))?;
    prober.probe(file, &staged)?;
    let library = open(&staged.loader_path(), file)?;
    // The copy stays open for ever: the library stays mapped, and its descriptor number
    // must never name another library (see `stage`).
    std::mem::forget(staged);
    Ok(library)
}

/// Stages `file` and probes it, without loading it here (`berth check`).
pub fn probe(file: &Path, prober: &Prober) -> Result<ProbeReport, LoadError> {
    let staged: StagedLibrary =
        stage::stage(file).map_err(|e| LoadError::new(file, LoadProblem::Stage(e)))?;
    prober.probe(file, &staged)
}

/// Opens the library at `path` in this process and checks it; messages name `file`.
pub(crate) fn open(path: &Path, file: &Path) -> Result<PluginLibrary, LoadError> {
    // SAFETY: loading runs the library's initialisers. Plugins are trusted code deployed by
    // the administrator, exactly like a servlet container's web applications; the probe
    // process has run the same bytes' initialisers first.
    #[allow(unsafe_code)]
    let opened = unsafe { libloading::Library::new(path) };
    let library = opened.map_err(|error| {
        let reason = error_chain(&error).replace(&format!("{}: ", path.display()), "");
        LoadError::new(file, LoadProblem::Open(reason))
    })?;
    // Never unloaded: see the module docs.
    let library: &'static libloading::Library = Box::leak(Box::new(library));
    read_plugin(file, library).map_err(|problem| LoadError::new(file, problem))
}

/// An error and its sources, joined (libloading keeps dlerror's text in the source).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[allow(unsafe_code)]
fn read_plugin(
    file: &Path,
    library: &'static libloading::Library,
) -> Result<PluginLibrary, LoadProblem> {
    // SAFETY: the symbol's type is fixed forever by the ABI (its signature never changes).
    let version: AbiVersionFn = unsafe { library.get::<AbiVersionFn>(b"berth_abi_version\0") }
        .map(|symbol| *symbol)
        .map_err(|_| LoadProblem::MissingSymbol("berth_abi_version"))?;
    // SAFETY: as above; the entry's signature is also frozen across majors.
    let entry: EntryFn = unsafe { library.get::<EntryFn>(b"berth_plugin_entry\0") }
        .map(|symbol| *symbol)
        .map_err(|_| LoadProblem::MissingSymbol("berth_plugin_entry"))?;
    let plugin_abi = AbiVersion::from_raw(version());
    // SAFETY: the entry has no side effects and returns a static table (or null); reading
    // only its frozen prefix is allowed whatever the major.
    let api = unsafe { abi::read_table(entry(std::ptr::null())) };
    // SAFETY: `sdk_version` points at static UTF-8 in the plugin (frozen field).
    let sdk_version = api
        .map(|api| unsafe { api.sdk_version.to_string_lossy() })
        .unwrap_or_default();
    if !AbiVersion::CURRENT.is_compatible_with(plugin_abi) {
        return Err(LoadProblem::IncompatibleAbi {
            plugin: plugin_abi,
            host: AbiVersion::CURRENT,
            sdk: if sdk_version.is_empty() {
                String::new()
            } else {
                format!(" (endpoint-api {sdk_version})")
            },
            host_sdk: abi::SDK_VERSION,
        });
    }
    let api =
        api.ok_or_else(|| LoadProblem::BadTable("berth_plugin_entry returned no table".into()))?;
    if api.create.is_none() {
        return Err(LoadProblem::BadTable(
            "the plugin table has no create callback".into(),
        ));
    }
    let endpoints = read_endpoints(&api).map_err(LoadProblem::BadTable)?;
    Ok(PluginLibrary {
        file: file.to_path_buf(),
        api,
        abi: plugin_abi,
        sdk_version,
        endpoints,
    })
}
