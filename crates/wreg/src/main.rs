//! `wreg`: fetch, publish and configure WebAssembly packages from the command line.
//!
//! A thin layer over `registry-client`: every command is a few calls into the library.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod cli;
mod commands;
mod compose;
mod output;

use std::process::ExitCode;

use clap::Parser as _;

use crate::cli::Cli;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let code = match err.kind() {
                clap::error::ErrorKind::DisplayHelp
                | clap::error::ErrorKind::DisplayVersion
                | clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => 0,
                _ => output::EXIT_USAGE,
            };
            let _ = err.print();
            return ExitCode::from(code);
        }
    };
    output::init_logging(&cli.global);
    // Configuration and completions touch no network: a single-threaded runtime starts
    // faster than the worker pool the transfers use.
    let runtime = if matches!(
        cli.command,
        cli::Command::Config(_) | cli::Command::Completions { .. } | cli::Command::Manpages { .. }
    ) {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Runtime::new()
    };
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", output::describe(&err));
            ExitCode::from(output::exit_code(&err))
        }
    }
}
