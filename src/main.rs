//! Command line: `infill` / `infill serve` runs the LSP server on stdio; `infill complete` runs
//! the same pipeline once on a file.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cli_complete;
mod cli_doctor;
mod cli_document;
mod cli_models;

/// `infill --version`: version, commit, llama.cpp backends (`-V`: the first two on one line).
static LONG_VERSION: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(infill::version::long_version);

#[derive(Parser)]
#[command(
    name = "infill",
    version = infill::version::VERSION,
    long_version = LONG_VERSION.as_str(),
    about = "Local code-completion LSP server (fill-in-the-middle, llama.cpp)"
)]
struct Cli {
    /// GGUF model to use: a path, a catalogue name (`infill models list`), hf:OWNER/REPO[:QUANT]
    /// or hf:OWNER/REPO/FILE.gguf (outranks initializationOptions.model and $INFILL_MODEL).
    #[arg(long, global = true, value_name = "PATH|NAME")]
    model: Option<PathBuf>,
    /// Accepted and ignored: LSP clients (e.g. vscode-languageclient) add it; stdio is the only
    /// transport.
    #[arg(long, global = true, hide = true)]
    stdio: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve LSP over stdin/stdout (the default when no command is given).
    Serve,
    /// Complete once at FILE:LINE:COL (1-based; COL counts characters) and print the suggestion.
    Complete(cli_complete::CompleteArgs),
    /// Check each part of the path to a suggestion and say how to fix what is wrong.
    Doctor(cli_doctor::DoctorArgs),
    /// List, download or delete models from the Hugging Face hub.
    Models(cli_models::ModelsArgs),
    /// Score completion quality on FIM tasks (JSONL), optionally beside a llama-server.
    Eval(infill::lab::eval::EvalArgs),
    /// Replay a typing trace and report suggestion latency, optionally beside a llama-server.
    Bench(infill::lab::bench::BenchArgs),
    /// Index a folder as the server does and time repository-context gathering (no model).
    BenchContext(infill::lab::bench::context_timing::ContextBenchArgs),
}

fn main() -> ExitCode {
    passive_openmp_threads();
    let cli = Cli::parse();
    infill::logging::init(match cli.command {
        // It prints its own warnings and errors; the log file has the rest.
        Some(Command::Complete(_) | Command::Models(_) | Command::Doctor(_)) => {
            infill::logging::Stderr::Quiet
        }
        _ => infill::logging::Stderr::Log,
    });
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => with_runtime(|runtime| {
            // LSP: exit code 1 when the client sent `exit` without `shutdown` first.
            match runtime.block_on(infill::server::serve_stdio(cli.model)) {
                true => Ok(()),
                false => Err(anyhow::anyhow!("the client ended the session without `shutdown`")),
            }
        }),
        Command::Complete(args) => {
            with_runtime(|runtime| runtime.block_on(cli_complete::run(args, cli.model)))
        }
        Command::Models(args) => report(cli_models::run(args)),
        Command::Doctor(args) => {
            with_runtime(|runtime| runtime.block_on(cli_doctor::run(args, cli.model)))
        }
        // The measuring tools drive servers over stdio; they need no async runtime of their own.
        Command::Eval(args) => report(infill::lab::eval::run(args, cli.model)),
        Command::Bench(args) => report(infill::lab::bench::run(args, cli.model)),
        Command::BenchContext(args) => report(infill::lab::bench::context_timing::run(args)),
    }
}

fn with_runtime(work: impl FnOnce(&tokio::runtime::Runtime) -> anyhow::Result<()>) -> ExitCode {
    match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => {
            let result = work(&runtime);
            // Tokio reads stdin with a blocking read that cannot be cancelled: a plain drop of
            // the runtime would wait for the client to close the pipe after `exit`.
            runtime.shutdown_timeout(std::time::Duration::from_secs(1));
            report(result)
        }
        Err(err) => report(Err(anyhow::anyhow!("cannot start the async runtime: {err}"))),
    }
}

fn report(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("infill: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// llama.cpp's OpenMP threads spin while they wait for work. Beside other busy processes (a
/// build in the next terminal) spinning threads take the cores from each other: a completion
/// measured at 5.6 s took 34 s with two busy processes beside it, and 5.4 s with
/// `OMP_WAIT_POLICY=PASSIVE` (issue 20). OpenMP reads the variable when the process loads, so
/// infill starts itself again with it set, unless the user chose a policy.
fn passive_openmp_threads() {
    #[cfg(unix)]
    if std::env::var_os("OMP_WAIT_POLICY").is_none()
        && let Ok(exe) = std::env::current_exe()
    {
        use std::os::unix::process::CommandExt;
        let args = std::env::args_os().skip(1);
        // Only returns when the exec failed: go on as we are.
        let err =
            std::process::Command::new(exe).args(args).env("OMP_WAIT_POLICY", "PASSIVE").exec();
        eprintln!("infill: could not restart with OMP_WAIT_POLICY=PASSIVE: {err}");
    }
}
