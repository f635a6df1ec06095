//! Finding and checking the model file before llama.cpp sees it.
//!
//! Resolution order: `--model`, `initializationOptions.model`, `$INFILL_MODEL`, then the file that
//! `assets/fetch-model.sh` puts in the user's cache. Every failure says what was tried.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

/// File name the fetch script writes, looked for in the cache as the last resort.
pub const DEFAULT_MODEL_FILE: &str = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf";

/// Where a candidate path came from, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelOrigin {
    CommandLine,
    InitializationOptions,
    Environment,
    DefaultCache,
}

impl fmt::Display for ModelOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::CommandLine => "--model",
            Self::InitializationOptions => "initializationOptions.model",
            Self::Environment => "$INFILL_MODEL",
            Self::DefaultCache => "default cache",
        })
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ModelError {
    #[error(
        "no model found (tried: {tried}). Set `model` in the editor's initializationOptions, \
         INFILL_MODEL, or --model to a FIM-capable GGUF file (e.g. StarCoder2 or Qwen2.5-Coder), \
         or run assets/fetch-model.sh to download Qwen2.5-Coder-0.5B into the cache"
    )]
    NotFound { tried: String },
    #[error("cannot read model {path} (from {origin}): {reason}")]
    Unreadable { path: PathBuf, origin: ModelOrigin, reason: String },
    #[error("{path} (from {origin}) is not a GGUF model: {reason}")]
    NotGguf { path: PathBuf, origin: ModelOrigin, reason: String },
    #[error(
        "llama.cpp could not load {path}: the file is corrupt or of an unsupported kind (see the log for llama.cpp's reason)"
    )]
    LoadFailed { path: PathBuf },
    #[error("{0}")]
    Unsupported(String),
}

/// The model path to use, or the list of places tried.
pub fn resolve(
    command_line: Option<&Path>,
    initialization_options: Option<&Path>,
    environment: Option<&Path>,
    default_cache: Option<&Path>,
) -> Result<(PathBuf, ModelOrigin), ModelError> {
    let explicit = [
        (command_line, ModelOrigin::CommandLine),
        (initialization_options, ModelOrigin::InitializationOptions),
        (environment, ModelOrigin::Environment),
    ];
    // An explicit choice is final: a wrong path must be reported, not silently replaced.
    if let Some((path, origin)) =
        explicit.iter().find_map(|(path, origin)| path.map(|p| (p.to_path_buf(), *origin)))
    {
        return Ok((path, origin));
    }
    match default_cache {
        Some(path) if path.is_file() => Ok((path.to_path_buf(), ModelOrigin::DefaultCache)),
        Some(path) => Err(ModelError::NotFound {
            tried: format!(
                "--model, initializationOptions.model, $INFILL_MODEL (none set), {}",
                path.display()
            ),
        }),
        None => Err(ModelError::NotFound {
            tried: "--model, initializationOptions.model, $INFILL_MODEL (none set)".into(),
        }),
    }
}

/// `$XDG_CACHE_HOME/infill/models/<default>` (or `~/.cache/...`), where the fetch script writes.
pub fn default_cache_path() -> Option<PathBuf> {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
    Some(cache.join("infill").join("models").join(DEFAULT_MODEL_FILE))
}

/// Checks that the file exists and starts like a GGUF file, so the common mistakes (wrong path,
/// a directory, a safetensors or HTML file) get a clear message instead of a llama.cpp log line.
pub fn check_gguf(path: &Path, origin: ModelOrigin) -> Result<(), ModelError> {
    let unreadable =
        |reason: String| ModelError::Unreadable { path: path.to_path_buf(), origin, reason };
    // Opened without blocking and judged by what was opened: a FIFO or device named as the
    // model is refused at once instead of hanging start-up.
    let mut file = crate::regular_file::open(path).map_err(|e| unreadable(e.to_string()))?;
    let metadata = file.metadata().map_err(|e| unreadable(e.to_string()))?;
    let mut header = [0u8; 8];
    let not_gguf =
        |reason: String| ModelError::NotGguf { path: path.to_path_buf(), origin, reason };
    file.read_exact(&mut header)
        .map_err(|_| not_gguf(format!("only {} bytes long", metadata.len())))?;
    if &header[..4] != b"GGUF" {
        return Err(not_gguf("missing the GGUF magic bytes".into()));
    }
    let version = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    if !(2..=3).contains(&version) {
        return Err(not_gguf(format!("unsupported GGUF version {version}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_sources_win_in_order() {
        let (a, b, c) = (Path::new("/a"), Path::new("/b"), Path::new("/c"));
        assert_eq!(resolve(Some(a), Some(b), Some(c), None).unwrap().0, a);
        assert_eq!(
            resolve(None, Some(b), Some(c), None).unwrap(),
            (b.to_path_buf(), ModelOrigin::InitializationOptions)
        );
        assert_eq!(resolve(None, None, Some(c), None).unwrap().1, ModelOrigin::Environment);
    }

    #[test]
    fn nothing_found_names_what_was_tried() {
        let missing = Path::new("/nonexistent/infill/model.gguf");
        let err = resolve(None, None, None, Some(missing)).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("/nonexistent/infill/model.gguf"), "{message}");
        assert!(message.contains("INFILL_MODEL") && message.contains("fetch-model.sh"));
    }

    #[test]
    fn header_check_rejects_non_gguf_files() {
        let dir = std::env::temp_dir().join(format!("infill-model-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let html = dir.join("model.gguf");
        std::fs::write(&html, b"<html>not found</html>").unwrap();
        assert!(matches!(
            check_gguf(&html, ModelOrigin::CommandLine),
            Err(ModelError::NotGguf { .. })
        ));
        let short = dir.join("short.gguf");
        std::fs::write(&short, b"GG").unwrap();
        assert!(matches!(
            check_gguf(&short, ModelOrigin::CommandLine),
            Err(ModelError::NotGguf { .. })
        ));
        let good = dir.join("good.gguf");
        std::fs::write(&good, b"GGUF\x03\x00\x00\x00rest").unwrap();
        assert_eq!(check_gguf(&good, ModelOrigin::CommandLine), Ok(()));
        assert!(matches!(
            check_gguf(&dir, ModelOrigin::CommandLine),
            Err(ModelError::Unreadable { .. })
        ));
        assert!(matches!(
            check_gguf(&dir.join("absent.gguf"), ModelOrigin::Environment),
            Err(ModelError::Unreadable { .. })
        ));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_named_as_the_model_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("model.gguf");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        // A blocking open would hang here: nothing ever writes to the FIFO.
        let err = check_gguf(&fifo, ModelOrigin::CommandLine).unwrap_err();
        assert!(
            matches!(&err, ModelError::Unreadable { reason, .. } if reason == "not a regular file"),
            "{err:?}"
        );
    }
}
