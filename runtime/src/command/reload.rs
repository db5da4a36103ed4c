//! SIGHUP's second reading of the server configuration.
//!
//! The file is read again as at start (every problem logged with its position). A file with
//! an error changes nothing: the running settings stay. Otherwise every setting that differs
//! from the last reading is logged once, `old → new`: those a running server can apply
//! (`config::server::changes` says which) are handed to the container, the others are
//! reported as needing a restart, or as unused when the command line overrides them
//! (`--listen`, `--apps`). The comparison is with the file as it was last read, not with the
//! overridden values, so an edit is reported even where an override hides it.

use crate::config::server::{self, ServerConfig, SettingChange};
use crate::container::Container;

use super::run::{RunOptions, file_config, overridden};

/// Reads the configuration again and applies what can change live; `file` is the
/// configuration as last read, and becomes the new one when it has no error.
pub(super) async fn reload(options: &RunOptions, file: &mut ServerConfig, container: &Container) {
    tracing::info!("SIGHUP: reading the server configuration again");
    let new = match file_config(options) {
        Ok(new) => new,
        Err(error) => {
            tracing::error!("{error}; the running settings stay");
            return;
        }
    };
    // Applied before it is logged: whoever reads "applied" can count on it.
    let effective = overridden(new.clone(), options);
    container.reconfigure(&effective).await;
    let changes = server::changes(file, &new);
    if changes.is_empty() {
        tracing::info!("server configuration unchanged");
    }
    for change in &changes {
        log(change, override_of(change.element, options));
    }
    *file = new;
}

/// The command-line option that replaces `element`'s value, when one does.
fn override_of(element: &str, options: &RunOptions) -> Option<&'static str> {
    match element {
        "listen" if options.listen.is_some() => Some("--listen"),
        "apps-dir" if options.apps.is_some() => Some("--apps"),
        _ => None,
    }
}

fn log(change: &SettingChange, overridden_by: Option<&str>) {
    let SettingChange {
        element, old, new, ..
    } = change;
    match overridden_by {
        _ if change.live => {
            tracing::info!("server configuration: <{element}> {old} → {new}: applied");
        }
        Some(option) => tracing::warn!(
            "server configuration: <{element}> {old} → {new}: not used, {option} on the command line overrides it"
        ),
        None => tracing::warn!(
            "server configuration: <{element}> {old} → {new}: needs a restart to take effect"
        ),
    }
}
