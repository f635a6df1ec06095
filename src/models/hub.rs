//! Downloads from the Hugging Face hub into its standard cache, through `hf-hub`.
//!
//! `hf-hub` reads `HF_HOME` (the cache) and `HF_ENDPOINT` (the hub), writes the cache layout
//! other tools share (`models--OWNER--REPO/{blobs,snapshots,refs}`), downloads into
//! `blobs/<sha256>.part` and resumes from it with a ranged GET. What it lacks is added here:
//! `$HF_TOKEN` (it only reads the token file), and a check of the finished file against the
//! sha256 the hub names it by (the LFS `x-linked-etag`), which also catches a short file.
//!
//! hf-hub moves a download into `blobs/` before infill can check it, and other tools fill the
//! same cache, so a file there is not trusted until infill has checked it once: the check is
//! recorded (size and modification time) under `$XDG_CACHE_HOME/infill/checked/<sha256>`. A
//! process stopped between the move and the check, or a blob changed since, is checked again
//! before its first use.

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

/// The cached copy of `file` once infill has checked it (no network, no reading of the file).
pub fn cached(file: &HubFile) -> Option<PathBuf> {
    cached_unchecked(file).filter(|path| is_checked(path))
}

/// The cached copy of `file`, checked or not: what is on the disk (no network).
pub fn cached_unchecked(file: &HubFile) -> Option<PathBuf> {
    Cache::from_env().repo(Repo::model(file.repo.clone())).get(&file.file)
}

/// The cached copy at `path` after checking it against its sha256 when no earlier check is
/// recorded: the path when it is right, `None` when there was nothing to check or the copy was
/// wrong (then it is deleted, so a download follows). Blocking: reads the whole file.
pub fn check_cached(file: &HubFile, path: &Path) -> Option<PathBuf> {
    if is_checked(path) {
        return Some(path.to_path_buf());
    }
    match verify(file, path) {
        Ok(()) => Some(path.to_path_buf()),
        Err(err) => {
            tracing::warn!(%err, "a cached model failed its check");
            None
        }
    }
}

/// Downloads `file` into the cache (resuming an interrupted download) and checks it; returns
/// its path in the cache. A copy already there is checked first and used when right.
/// Blocking: run it off async workers.
pub fn download(file: &HubFile, progress: impl Progress) -> Result<PathBuf, HubError> {
    if let Some(path) = cached_unchecked(file).and_then(|path| check_cached(file, &path)) {
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

/// Checks the downloaded blob against the sha256 it is named by and records the check; a
/// mismatch removes the blob and its snapshot link, so no wrong file stays where the model is
/// looked for.
fn verify(file: &HubFile, pointer: &Path) -> Result<(), HubError> {
    let blob = std::fs::canonicalize(pointer)
        .map_err(|e| HubError::Other { file: file.clone(), reason: e.to_string() })?;
    let Some(expected) = lfs_sha256(&blob) else {
        return Ok(());
    };
    let actual = sha256_of(&blob)
        .map_err(|e| HubError::Other { file: file.clone(), reason: e.to_string() })?;
    if actual.eq_ignore_ascii_case(&expected) {
        record_checked(&blob, &expected);
        return Ok(());
    }
    let _ = std::fs::remove_file(pointer);
    let _ = std::fs::remove_file(&blob);
    Err(HubError::Checksum { file: file.clone(), expected, actual })
}

/// The sha256 a blob is named by; `None` for a git etag (sha1, 40 digits), which names a small
/// non-LFS file: nothing to compare with.
fn lfs_sha256(blob: &Path) -> Option<String> {
    let name = blob.file_name()?.to_str()?;
    (name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit())).then(|| name.to_string())
}

/// Where infill records the blobs it has checked: its own cache, not the shared hub cache.
fn checked_records() -> Option<PathBuf> {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
    Some(cache.join("infill").join("checked"))
}

/// What identifies a blob's content without reading it: its size and modification time.
fn fingerprint(blob: &Path) -> Option<String> {
    let metadata = std::fs::metadata(blob).ok()?;
    let modified = metadata.modified().ok()?.duration_since(std::time::UNIX_EPOCH).ok()?;
    Some(format!("{} {}\n", metadata.len(), modified.as_nanos()))
}

/// Whether the file `pointer` leads to was checked by infill and has not changed since. Files
/// with nothing to compare with (non-LFS) count as checked.
pub fn is_checked(pointer: &Path) -> bool {
    let Ok(blob) = std::fs::canonicalize(pointer) else {
        return false;
    };
    let Some(sha256) = lfs_sha256(&blob) else {
        return true;
    };
    let recorded = checked_records().and_then(|dir| std::fs::read_to_string(dir.join(sha256)).ok());
    recorded.is_some() && recorded == fingerprint(&blob)
}

/// Records a passed check. A record that cannot be written only costs a check on the next use.
fn record_checked(blob: &Path, sha256: &str) {
    let (Some(dir), Some(fingerprint)) = (checked_records(), fingerprint(blob)) else {
        return;
    };
    let written =
        std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(dir.join(sha256), fingerprint));
    if let Err(err) = written {
        tracing::debug!(%err, "could not record a checked model");
    }
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
    let Some(pointer) = cached_unchecked(file) else {
        return Ok(None);
    };
    let blob = std::fs::canonicalize(&pointer)?;
    let size = std::fs::metadata(&blob)?.len();
    std::fs::remove_file(&pointer)?;
    if blob != pointer {
        std::fs::remove_file(&blob)?;
    }
    if let (Some(dir), Some(sha256)) = (checked_records(), lfs_sha256(&blob)) {
        let _ = std::fs::remove_file(dir.join(sha256));
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
