//! Logging to stderr and to a log file, never to stdout (stdout carries the LSP messages).
//!
//! The level comes from `INFILL_LOG` (tracing's filter syntax, e.g. `debug` or `infill=trace`).
//! Every infill process appends to the same file, so that there is one place to look; it is
//! rotated at start-up when it has grown past `ROTATE_BYTES` (the old one is kept as
//! `infill.log.1`, replacing the previous one), so it never grows without bound.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::{EnvFilter, Layer, fmt, layer::SubscriberExt, util::SubscriberInitExt};

/// A log file past this size at start-up is moved to `infill.log.1`.
pub const ROTATE_BYTES: u64 = 8 * 1024 * 1024;

/// The default filter. llama.cpp is chatty at info level; its warnings and errors are what users
/// need. tower-lsp-server logs every cancelled request (`$/cancelRequest`, several per second of
/// typing) at info: that is debug-level chatter here.
const DEFAULT_FILTER: &str = "info,llama-cpp-2=warn,tower_lsp_server::service::pending=warn";

/// Where the log file goes: `$XDG_STATE_HOME/infill/infill.log`, else `~/.local/state/infill/`.
pub fn log_file_path() -> Option<PathBuf> {
    let state = std::env::var_os("XDG_STATE_HOME").map(PathBuf::from).or_else(|| {
        std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/state"))
    })?;
    Some(state.join("infill").join("infill.log"))
}

/// Where the log goes besides the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stderr {
    /// Everything the filter lets through (the server: stderr is the editor's log view).
    Log,
    /// Nothing unless `INFILL_LOG` is set: a command that prints its own messages and errors
    /// (`infill complete`) would otherwise say each twice.
    Quiet,
}

/// Installs the global subscriber. Safe to call once per process; later calls do nothing.
pub fn init(stderr: Stderr) {
    let from_env = std::env::var_os("INFILL_LOG").is_some();
    let filter =
        || EnvFilter::try_from_env("INFILL_LOG").unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let file = log_file_path().and_then(|path| {
        std::fs::create_dir_all(path.parent()?).ok()?;
        rotate_if_large(&path, ROTATE_BYTES);
        OpenOptions::new().create(true).append(true).open(path).ok()
    });
    let stderr_layer = (stderr == Stderr::Log || from_env)
        .then(|| fmt::layer().with_writer(std::io::stderr).with_ansi(false).with_filter(filter()));
    let file_layer = file
        .map(|f| fmt::layer().with_writer(Mutex::new(f)).with_ansi(false).with_filter(filter()));
    let _ = tracing_subscriber::registry()
        .with(DropExpectedLlamaMessages)
        .with(stderr_layer)
        .with(file_layer)
        .try_init();
    llama_cpp_2::send_logs_to_tracing(llama_cpp_2::LogOptions::default());
}

/// llama.cpp warnings that are expected and tell a user nothing: a cancel stops the decode in
/// progress (several times per second of typing), and llama.cpp warns each time that it removed
/// the aborted batch's cells. A decode that really fails is reported by the engine itself.
const EXPECTED_LLAMA_MESSAGES: &[&str] = &["removing memory module entries"];

/// Drops `EXPECTED_LLAMA_MESSAGES` before any layer sees them. A per-layer filter sees only an
/// event's metadata, not its message, so this decides in `event_enabled`.
struct DropExpectedLlamaMessages;

impl<S: Subscriber> Layer<S> for DropExpectedLlamaMessages {
    fn event_enabled(&self, event: &Event<'_>, _: Context<'_, S>) -> bool {
        if !event.metadata().target().starts_with("llama") {
            return true;
        }
        let mut expected = ExpectedMessage(false);
        event.record(&mut expected);
        !expected.0
    }
}

struct ExpectedMessage(bool);

impl Visit for ExpectedMessage {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0 |= EXPECTED_LLAMA_MESSAGES.iter().any(|m| value.contains(m));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.record_str(field, &format!("{value:?}"));
        }
    }
}

/// Moves `path` to `path.1` (replacing it) when it is larger than `limit`. Another process that
/// still has the old file open keeps writing into `.1`, which is harmless; a failed rename
/// leaves the log where it was.
pub fn rotate_if_large(path: &Path, limit: u64) {
    if std::fs::metadata(path).is_ok_and(|m| m.len() > limit) {
        let mut old = path.as_os_str().to_owned();
        old.push(".1");
        let _ = std::fs::rename(path, PathBuf::from(old));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_log_is_rotated_and_a_small_one_kept() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("infill.log");
        std::fs::write(&log, "small\n").unwrap();
        rotate_if_large(&log, 10);
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "small\n");
        std::fs::write(dir.path().join("infill.log.1"), "older\n").unwrap();
        std::fs::write(&log, "more than ten bytes\n").unwrap();
        rotate_if_large(&log, 10);
        assert!(!log.exists());
        let rotated = std::fs::read_to_string(dir.path().join("infill.log.1")).unwrap();
        assert_eq!(rotated, "more than ten bytes\n", "the older rotation is replaced");
        rotate_if_large(&log, 10); // nothing there: nothing happens
    }

    #[test]
    fn the_warning_after_each_cancelled_decode_is_dropped_and_others_kept() {
        let file = tempfile::NamedTempFile::new().unwrap();
        let writer = Mutex::new(file.reopen().unwrap());
        let subscriber = tracing_subscriber::registry()
            .with(DropExpectedLlamaMessages)
            .with(fmt::layer().with_writer(writer).with_ansi(false));
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(
                target: "llama-cpp-2",
                "decode: removing memory module entries for seq_id = 0, pos = [384, +inf)"
            );
            tracing::warn!(target: "llama-cpp-2", "llama_model_load: a real problem");
            tracing::warn!("infill: removing memory module entries is our own words");
        });
        let log = std::fs::read_to_string(file.path()).unwrap();
        assert!(!log.contains("seq_id = 0"), "{log}");
        assert!(log.contains("a real problem"), "{log}");
        assert!(log.contains("our own words"), "{log}");
    }
}
