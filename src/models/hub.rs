//! Downloads from the Hugging Face hub into its standard cache, through `hf-hub`.
//!
//! `hf-hub` reads `HF_HOME` (the cache) and `HF_ENDPOINT` (the hub), writes the cache layout
//! other tools share (`models--OWNER--REPO/{blobs,snapshots,refs}`), downloads into
//! `blobs/<sha256>.part` and resumes from it with a ranged GET. What it lacks is added here:
//! `$HF_TOKEN` (it only reads the token file), and a check of the finished file against the
//! sha256 the hub names it by (the LFS `x-linked-etag`), which also catches a short file.

use std::io::Read;
use std::path::{Path, PathBuf};

use hf_hub::api::Progress;
use hf_hub::api::sync::{ApiBuilder, ApiError};
use hf_hub::{Cache, Repo};
use sha2::{Digest, Sha256};

/// One file of a model repository on the hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubFile {
    pub repo: String,
    pub file: String,
}

impl std::fmt::Display for HubFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.repo, self.file)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error(
        "the hub refused {file} ({status}): the repository is private, gated or absent. For a \
         gated model, accept its licence on huggingface.co and set HF_TOKEN to an access token"
    )]
    Unauthorized { file: HubFile, status: u16 },
    #[error("the hub has no file {file} (404): check the name with `infill models list`")]
    NotFound { file: HubFile },
    #[error(
        "cannot reach the hub at {endpoint} for {file}: {reason}. Offline, give a model by \
         path: `--model /path/to/model.gguf`, the `model` setting or $INFILL_MODEL"
    )]
    Unreachable { file: HubFile, endpoint: String, reason: String },
    #[error(
        "the download of {file} does not match the hub's checksum (sha256 {expected}, got \
         {actual}); it was deleted, try again"
    )]
    Checksum { file: HubFile, expected: String, actual: String },
    #[error("cannot write {file} into the model cache {cache}: {reason}")]
    Cache { file: HubFile, cache: PathBuf, reason: String },
    #[error("downloading {file} failed: {reason}. Run the same command again to resume")]
    Other { file: HubFile, reason: String },
}

/// The Hugging Face cache: `$HF_HOME/hub`, or `~/.cache/huggingface/hub`.
pub fn cache_dir() -> PathBuf {
    Cache::from_env().path().clone()
}

/// The hub's address: `$HF_ENDPOINT` or huggingface.co.
pub fn endpoint() -> String {
    std::env::var("HF_ENDPOINT").unwrap_or_else(|_| "https://huggingface.co".into())
}

/// The cached copy of `file`, if a finished download is there (no network).
pub fn cached(file: &HubFile) -> Option<PathBuf> {
    Cache::from_env().repo(Repo::model(file.repo.clone())).get(&file.file)
}

/// Downloads `file` into the cache (resuming an interrupted download) and checks it; returns
/// its path in the cache. Blocking: run it off async workers.
pub fn download(file: &HubFile, progress: impl Progress) -> Result<PathBuf, HubError> {
    if let Some(path) = cached(file) {
        return Ok(path);
    }
    let cache = cache_dir();
    let cache_error =
        |reason: String| HubError::Cache { file: file.clone(), cache: cache.clone(), reason };
    // hf-hub panics on some unwritable caches; a clear error first.
    std::fs::create_dir_all(&cache).map_err(|e| cache_error(e.to_string()))?;
    let probe = tempfile::Builder::new().prefix(".infill-probe").tempfile_in(&cache);
    probe.map_err(|e| cache_error(e.to_string()))?;

    let api = api(file)?;
    let path = api
        .model(file.repo.clone())
        .download_with_progress(&file.file, progress)
        .map_err(|err| classify(file, err, &cache))?;
    verify(file, &path)?;
    Ok(path)
}

/// hf-hub's client for `HF_ENDPOINT`/`HF_HOME`, with `$HF_TOKEN` when set.
fn api(file: &HubFile) -> Result<hf_hub::api::sync::Api, HubError> {
    let token = std::env::var("HF_TOKEN").ok().filter(|t| !t.is_empty());
    let mut builder = ApiBuilder::from_env().with_progress(false);
    if token.is_some() {
        builder = builder.with_token(token);
    }
    builder.build().map_err(|e| HubError::Other { file: file.clone(), reason: e.to_string() })
}

/// The GGUF file of `repo` whose name carries `quant`, from the hub's file list. Blocking.
pub fn pick_file(repo: &str, quant: &str) -> Result<HubFile, HubError> {
    let wanted = HubFile { repo: repo.into(), file: format!("*{quant}*.gguf") };
    let info = api(&wanted)?
        .model(repo.into())
        .info()
        .map_err(|err| classify(&wanted, err, &cache_dir()))?;
    let ggufs: Vec<_> = info
        .siblings
        .iter()
        .map(|s| s.rfilename.as_str())
        .filter(|name| name.to_ascii_lowercase().ends_with(".gguf"))
        .collect();
    match ggufs.iter().find(|name| super::matches_quant(name, quant)) {
        Some(name) => Ok(HubFile { repo: repo.into(), file: (*name).into() }),
        None => Err(HubError::Other {
            file: wanted,
            reason: format!(
                "no single GGUF file with {quant} in its name; the repository has: {}",
                if ggufs.is_empty() { "no GGUF files".into() } else { ggufs.join(", ") }
            ),
        }),
    }
}

/// hf-hub's errors in the user's terms. Its HTTP client (ureq 2) is private to it, so the
/// status is read from the error's text (`…: status code 401`).
fn classify(file: &HubFile, err: ApiError, cache: &Path) -> HubError {
    let text = err.to_string();
    match err {
        ApiError::RequestError(_) => match status_code(&text) {
            Some(status @ (401 | 403)) => HubError::Unauthorized { file: file.clone(), status },
            Some(404) => HubError::NotFound { file: file.clone() },
            Some(_) => HubError::Other { file: file.clone(), reason: text },
            None if text.contains("Connection Failed") || text.contains("Dns Failed") => {
                HubError::Unreachable { file: file.clone(), endpoint: endpoint(), reason: text }
            }
            None => HubError::Other { file: file.clone(), reason: text },
        },
        ApiError::IoError(_) if !text.contains("end of file") && !text.contains("closed") => {
            HubError::Cache { file: file.clone(), cache: cache.to_path_buf(), reason: text }
        }
        _ => HubError::Other { file: file.clone(), reason: text },
    }
}

fn status_code(text: &str) -> Option<u16> {
    let (_, rest) = text.split_once("status code ")?;
    rest.get(..3)?.parse().ok()
}

/// Checks the downloaded blob against the sha256 it is named by; a mismatch removes the blob
/// and its snapshot link, so no wrong file stays where the model is looked for.
fn verify(file: &HubFile, pointer: &Path) -> Result<(), HubError> {
    let blob = std::fs::canonicalize(pointer)
        .map_err(|e| HubError::Other { file: file.clone(), reason: e.to_string() })?;
    let expected = blob.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
    // A git etag (sha1, 40 digits) names a small non-LFS file: nothing to compare with.
    if expected.len() != 64 || !expected.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(());
    }
    let actual = sha256_of(&blob)
        .map_err(|e| HubError::Other { file: file.clone(), reason: e.to_string() })?;
    if actual.eq_ignore_ascii_case(&expected) {
        return Ok(());
    }
    let _ = std::fs::remove_file(pointer);
    let _ = std::fs::remove_file(&blob);
    Err(HubError::Checksum { file: file.clone(), expected, actual })
}

pub fn sha256_of(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Removes `file` from the cache: its snapshot link and its blob. Returns the bytes freed, or
/// `None` when it was not there.
pub fn remove(file: &HubFile) -> std::io::Result<Option<u64>> {
    let Some(pointer) = cached(file) else {
        return Ok(None);
    };
    let blob = std::fs::canonicalize(&pointer)?;
    let size = std::fs::metadata(&blob)?.len();
    std::fs::remove_file(&pointer)?;
    if blob != pointer {
        std::fs::remove_file(&blob)?;
    }
    Ok(Some(size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_read_from_the_clients_text() {
        assert_eq!(status_code("http://x/resolve/main/a.gguf: status code 401"), Some(401));
        assert_eq!(status_code("Connection Failed: refused"), None);
    }
}
