//! The `berth` command line: parse arguments, set up logging, call the library.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use berth::command::check::{CheckOptions, check};
use berth::command::run::{RunOptions, run};
use berth::command::status::{StatusOptions, status};
use berth::plugin::{self, Prober};
use clap::{Parser, Subcommand};

/// A servlet-style WebSocket container: serves the web contexts in an apps directory.
#[derive(Debug, Parser)]
#[command(name = "berth", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve every web context in the apps directory.
    Run {
        /// Server configuration file [default: conf/server.xml when it exists].
        #[arg(long, value_name = "FILE")]
        conf: Option<PathBuf>,
        /// Listen on this address instead of the configuration's <listen>.
        #[arg(long, value_name = "ADDR:PORT")]
        listen: Option<SocketAddr>,
        /// Serve this apps directory instead of the configuration's <apps-dir>.
        #[arg(long, value_name = "DIR")]
        apps: Option<PathBuf>,
    },
    /// Validate server configurations, descriptors, context or apps directories.
    ///
    /// Prints every problem as file:line:column: severity: message. Exits 0 when there are
    /// only warnings, 1 on any error, 2 on a usage error.
    Check {
        /// Also print the effective settings (after defaults and clamps) of valid files.
        #[arg(long)]
        effective: bool,
        /// Also print every context's endpoints: full URL template and declared
        /// subprotocols (read from the plugin in a child process).
        #[arg(long)]
        endpoints: bool,
        /// Files or directories to check.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
    /// Print the contexts of a running server (from its admin listener) as a table.
    ///
    /// Exits 0 when it printed them, 1 when nothing answers or the answer is not a list.
    Status {
        /// The admin listener's address [default: <admin> of the configuration, else
        /// 127.0.0.1:9090].
        #[arg(long, value_name = "ADDR:PORT")]
        admin: Option<SocketAddr>,
        /// Server configuration file whose <admin> to ask [default: conf/server.xml when it
        /// exists].
        #[arg(long, value_name = "FILE")]
        conf: Option<PathBuf>,
    },
    /// Internal: opens the library on standard input and reports whether it is a plugin
    /// (run by `berth run` and `berth check` in a child process before loading a library).
    #[command(name = plugin::PROBE_SUBCOMMAND, hide = true)]
    ProbeLibrary {
        /// The library's path, for messages.
        file: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check {
            effective,
            endpoints,
            paths,
        } => {
            let options = CheckOptions {
                paths,
                effective,
                endpoints,
                prober: Prober::this_binary(),
            };
            match check(&options, &mut std::io::stdout().lock()) {
                Ok(summary) if summary.errors == 0 => ExitCode::SUCCESS,
                Ok(_) => ExitCode::from(1),
                Err(error) => {
                    eprintln!("berth check: cannot write the report: {error}");
                    ExitCode::from(1)
                }
            }
        }
        Command::Status { admin, conf } => {
            match status(
                &StatusOptions { admin, conf },
                &mut std::io::stdout().lock(),
            ) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("berth status: {error}");
                    ExitCode::from(1)
                }
            }
        }
        Command::ProbeLibrary { file } => match plugin::answer(&file, &mut std::io::stdout()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(_) => ExitCode::from(1),
        },
        Command::Run { conf, listen, apps } => {
            init_logging();
            match run(&RunOptions { conf, listen, apps }) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    tracing::error!("{error}");
                    ExitCode::from(1)
                }
            }
        }
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("BERTH_LOG")
        // notify reports at info that a removed directory's watch was already gone.
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,notify=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
}
