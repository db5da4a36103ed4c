//! The API's JSON documents: a context, a diagnostic, an error. The listener serializes
//! them and `berth status` deserializes them, so both sides read one definition. Pure.
//!
//! Absent values are `null`, not missing keys; times are RFC 3339 in UTC with milliseconds.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::config::Diagnostic;
use crate::deploy::deployer::Failure;
use crate::deploy::deployer::actions::{ContextReport, ContextState};

/// `GET /contexts`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ContextList {
    pub(crate) contexts: Vec<ContextView>,
}

/// One context: `GET /contexts/{name}`, and the answer to each action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ContextView {
    pub(crate) name: String,
    pub(crate) path: Option<String>,
    /// `running`, `draining`, `undeployed` or `failed`.
    pub(crate) state: String,
    pub(crate) generation: Option<u64>,
    pub(crate) library: Option<LibraryView>,
    /// The running version's open sessions.
    pub(crate) sessions: usize,
    /// Older versions still closing or draining their sessions.
    #[serde(default)]
    pub(crate) retiring: Vec<RetiringView>,
    /// Held back from rescans by an undeploy until deployed again.
    #[serde(default)]
    pub(crate) held: bool,
    pub(crate) last_error: Option<LastErrorView>,
}

/// The running version's plugin library.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct LibraryView {
    pub(crate) file: String,
    /// Its modification time when that version was loaded.
    pub(crate) modified: Option<String>,
}

/// An old version on its way out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct RetiringView {
    pub(crate) generation: u64,
    pub(crate) sessions: usize,
}

/// Why the newest version of a context was not deployed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct LastErrorView {
    /// Refused because another context serves its context path.
    pub(crate) clash: bool,
    pub(crate) diagnostics: Vec<DiagnosticView>,
}

/// One problem, as `berth check` finds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct DiagnosticView {
    pub(crate) file: String,
    pub(crate) line: Option<u32>,
    pub(crate) column: Option<u32>,
    pub(crate) severity: String,
    pub(crate) message: String,
    /// The line `berth check` prints: `file:line:column: severity: message`.
    pub(crate) text: String,
}

/// Any answer other than 200.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ErrorView {
    pub(crate) error: String,
    /// The refused version's problems (409, 422).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) diagnostics: Vec<DiagnosticView>,
    /// The context as it is now, when it is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) context: Option<ContextView>,
}

/// A context report as the API shows it.
pub(crate) fn context(report: &ContextReport) -> ContextView {
    ContextView {
        name: report.name.clone(),
        path: report.path.clone(),
        state: state(report.state).to_owned(),
        generation: report.generation,
        library: report.library.as_ref().map(|library| LibraryView {
            file: library.file.display().to_string(),
            modified: library.modified.and_then(rfc3339),
        }),
        sessions: report.sessions,
        retiring: (report.retiring.iter())
            .map(|r| RetiringView {
                generation: r.generation,
                sessions: r.sessions,
            })
            .collect(),
        held: report.held,
        last_error: report.last_error.as_ref().map(last_error),
    }
}

/// An error answer; `context` adds the context's problems and its report.
pub(crate) fn error(message: String, context: Option<&ContextReport>) -> ErrorView {
    let diagnostics = (context.and_then(|c| c.last_error.as_ref()))
        .map(|failure| failure.diagnostics.iter().map(diagnostic).collect())
        .unwrap_or_default();
    ErrorView {
        error: message,
        diagnostics,
        context: context.map(self::context),
    }
}

fn last_error(failure: &Failure) -> LastErrorView {
    LastErrorView {
        clash: failure.clash,
        diagnostics: failure.diagnostics.iter().map(diagnostic).collect(),
    }
}

fn diagnostic(d: &Diagnostic) -> DiagnosticView {
    DiagnosticView {
        file: d.file.display().to_string(),
        line: d.position.map(|p| p.line),
        column: d.position.map(|p| p.column),
        severity: d.severity.to_string(),
        message: d.message.clone(),
        text: d.to_string(),
    }
}

fn state(state: ContextState) -> &'static str {
    match state {
        ContextState::Running => "running",
        ContextState::Draining => "draining",
        ContextState::Undeployed => "undeployed",
        ContextState::Failed => "failed",
    }
}

/// `time` as RFC 3339 in UTC with milliseconds (`2023-11-14T22:13:20.000Z`); `None` before
/// 1970.
pub(crate) fn rfc3339(time: SystemTime) -> Option<String> {
    let since = time.duration_since(UNIX_EPOCH).ok()?;
    let seconds = since.as_secs();
    let (year, month, day) = civil_date(seconds / 86_400);
    let of_day = seconds % 86_400;
    Some(format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60,
        since.subsec_millis()
    ))
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's `civil_from_days`,
/// for days on or after the epoch).
fn civil_date(days: u64) -> (u64, u64, u64) {
    // Shifted to start on 0000-03-01, so that the leap day ends each 400-year era.
    let days = days + 719_468;
    let era = days / 146_097;
    let day_of_era = days % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests;
