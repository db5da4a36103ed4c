//! Opening a plugin library and checking that it speaks our ABI.
//!
//! The library is first copied to a file name unique to this load (the generation), opened
//! from there, and the copy is deleted at once (the mapping stays). Reopening the original
//! path after it was replaced would return the old code, because the dynamic loader keys
//! on the path; a fresh name per generation gets the new code. Libraries are never closed:
//! a plugin's thread-locals or threads may still run code from them.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use endpoint_api::abi::{self, AbiVersion, AbiVersionFn, EntryFn, PluginApi};

/// Why a library could not be used as a plugin.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Copying the library to its generation file failed.
    #[error("{file}: cannot stage the plugin library: {source}")]
    Stage {
        /// The library.
        file: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The dynamic loader refused the file.
    #[error("{file}: cannot load the plugin library: {reason}")]
    Open {
        /// The library.
        file: PathBuf,
        /// Why, with the dynamic loader's own words.
        reason: String,
    },
    /// A required symbol is missing: not a Berth plugin.
    #[error(
        "{file}: not a Berth plugin: the symbol {symbol} is missing (declare the plugin with endpoint_api::plugin!)"
    )]
    MissingSymbol {
        /// The library.
        file: PathBuf,
        /// The symbol.
        symbol: &'static str,
    },
    /// Built against an ABI major this host does not speak.
    #[error(
        "{file}: plugin refused: it was built against endpoint-api ABI {plugin}{sdk}, this berth speaks ABI {host}; rebuild the plugin against endpoint-api {host_sdk}"
    )]
    IncompatibleAbi {
        /// The library.
        file: PathBuf,
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
    #[error("{file}: plugin refused: {reason}")]
    BadTable {
        /// The library.
        file: PathBuf,
        /// What is wrong.
        reason: String,
    },
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
}

static GENERATION: AtomicU64 = AtomicU64::new(1);

/// Loads `file` as a plugin, staging it under `staging_dir`.
pub fn load(file: &Path, staging_dir: &Path) -> Result<PluginLibrary, LoadError> {
    let staged = stage(file, staging_dir)?;
    // SAFETY: loading runs the library's initialisers. Plugins are trusted code deployed by
    // the administrator, exactly like a servlet container's web applications.
    #[allow(unsafe_code)]
    let opened = unsafe { libloading::Library::new(&staged) };
    let _ = std::fs::remove_file(&staged);
    let library = opened.map_err(|error| LoadError::Open {
        file: file.to_path_buf(),
        reason: error_chain(&error),
    })?;
    // Never unloaded: see the module docs.
    let library: &'static libloading::Library = Box::leak(Box::new(library));
    read_plugin(file, library)
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

fn stage(file: &Path, staging_dir: &Path) -> Result<PathBuf, LoadError> {
    let stage_error = |source| LoadError::Stage {
        file: file.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(staging_dir).map_err(stage_error)?;
    let generation = GENERATION.fetch_add(1, Ordering::Relaxed);
    let stem = file
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("plugin");
    let name = format!(
        "{stem}-{}-g{generation}.{}",
        std::process::id(),
        std::env::consts::DLL_EXTENSION
    );
    let staged = staging_dir.join(name);
    std::fs::copy(file, &staged).map_err(stage_error)?;
    Ok(staged)
}

#[allow(unsafe_code)]
fn read_plugin(
    file: &Path,
    library: &'static libloading::Library,
) -> Result<PluginLibrary, LoadError> {
    let missing = |symbol| LoadError::MissingSymbol {
        file: file.to_path_buf(),
        symbol,
    };
    // SAFETY: the symbol's type is fixed forever by the ABI (its signature never changes).
    let version: AbiVersionFn = unsafe { library.get::<AbiVersionFn>(b"berth_abi_version\0") }
        .map(|symbol| *symbol)
        .map_err(|_| missing("berth_abi_version"))?;
    // SAFETY: as above; the entry's signature is also frozen across majors.
    let entry: EntryFn = unsafe { library.get::<EntryFn>(b"berth_plugin_entry\0") }
        .map(|symbol| *symbol)
        .map_err(|_| missing("berth_plugin_entry"))?;
    let plugin_abi = AbiVersion::from_raw(version());
    // SAFETY: the entry has no side effects and returns a static table (or null); reading
    // only its frozen prefix is allowed whatever the major.
    let api = unsafe { abi::read_table(entry(std::ptr::null())) };
    // SAFETY: `sdk_version` points at static UTF-8 in the plugin (frozen field).
    let sdk_version = api
        .map(|api| unsafe { api.sdk_version.to_string_lossy() })
        .unwrap_or_default();
    if !AbiVersion::CURRENT.is_compatible_with(plugin_abi) {
        return Err(LoadError::IncompatibleAbi {
            file: file.to_path_buf(),
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
    let api = api.ok_or_else(|| LoadError::BadTable {
        file: file.to_path_buf(),
        reason: "berth_plugin_entry returned no table".into(),
    })?;
    if api.create.is_none() {
        return Err(LoadError::BadTable {
            file: file.to_path_buf(),
            reason: "the plugin table has no create callback".into(),
        });
    }
    Ok(PluginLibrary {
        file: file.to_path_buf(),
        api,
        abi: plugin_abi,
        sdk_version,
    })
}
