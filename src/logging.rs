//! Logging to stderr and to a log file, never to stdout (stdout carries the LSP messages).
//!
//! The level comes from `INFILL_LOG` (tracing's filter syntax, e.g. `debug` or `infill=trace`).

use std::fs::OpenOptions;
use std::path::PathBuf;
use std::sync::Mutex;

use tracing_subscriber::{EnvFilter, fmt, layer::SubscriberExt, util::SubscriberInitExt};

/// Where the log file goes: `$XDG_STATE_HOME/infill/infill.log`, else `~/.local/state/infill/`.
pub fn log_file_path() -> Option<PathBuf> {
    let state = std::env::var_os("XDG_STATE_HOME").map(PathBuf::from).or_else(|| {
        std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/state"))
    })?;
    Some(state.join("infill").join("infill.log"))
}

/// Installs the global subscriber. Safe to call once per process; later calls do nothing.
pub fn init() {
    // llama.cpp is chatty at info level; its warnings and errors are what users need.
    let filter = EnvFilter::try_from_env("INFILL_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,llama-cpp-2=warn"));
    let file = log_file_path().and_then(|path| {
        std::fs::create_dir_all(path.parent()?).ok()?;
        OpenOptions::new().create(true).append(true).open(path).ok()
    });
    let stderr_layer = fmt::layer().with_writer(std::io::stderr).with_ansi(false);
    let file_layer = file.map(|f| fmt::layer().with_writer(Mutex::new(f)).with_ansi(false));
    let _ =
        tracing_subscriber::registry().with(filter).with(stderr_layer).with(file_layer).try_init();
    llama_cpp_2::send_logs_to_tracing(llama_cpp_2::LogOptions::default());
}
