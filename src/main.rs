//! Command line: `infill` / `infill serve` runs the LSP server on stdio; `infill complete` runs
//! the same pipeline once on a file.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cli_complete;

#[derive(Parser)]
#[command(
    name = "infill",
    version,
    about = "Local code-completion LSP server (fill-in-the-middle, llama.cpp)"
)]
struct Cli {
    /// GGUF model to use (outranks initializationOptions.model and $INFILL_MODEL).
    #[arg(long, global = true, value_name = "PATH")]
    model: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve LSP over stdin/stdout (the default when no command is given).
    Serve,
    /// Complete once at FILE:LINE:COL (1-based; COL counts characters) and print the suggestion.
    Complete(cli_complete::CompleteArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    infill::logging::init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("infill: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            runtime.block_on(infill::server::serve_stdio(cli.model));
            ExitCode::SUCCESS
        }
        Command::Complete(args) => match runtime.block_on(cli_complete::run(args, cli.model)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("infill: {err:#}");
                ExitCode::FAILURE
            }
        },
    }
}
