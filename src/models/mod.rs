//! Models by name: what the `model` setting (`--model`, `$INFILL_MODEL`) names, and getting it
//! onto the disk.
//!
//! A value is, in this order: `hf:OWNER/REPO/FILE.gguf`, `hf:OWNER/REPO[:QUANT]`, a name from
//! the built-in catalogue (`catalogue.rs`), or a path. An existing file wins over a catalogue
//! name, so a file called `starcoder2-3b` in the working folder is still a path.

pub mod catalogue;
pub mod hub;

use std::path::{Path, PathBuf};

pub use hub::{HubError, HubFile};

/// The quantisation picked from a repository when `hf:OWNER/REPO` names none.
pub const DEFAULT_QUANT: &str = "Q4_K_M";

/// What a `model` value names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelRef {
    Path(PathBuf),
    /// One file on the hub (`hf:OWNER/REPO/FILE.gguf` or a catalogue name).
    File(HubFile),
    /// The GGUF file of a repository with this quantisation in its name.
    Repo {
        repo: String,
        quant: String,
    },
}

impl ModelRef {
    pub fn parse(value: &Path) -> Result<Self, String> {
        let Some(text) = value.to_str() else {
            return Ok(Self::Path(value.to_path_buf()));
        };
        if let Some(rest) = text.strip_prefix("hf:") {
            return parse_hub(rest).ok_or_else(|| {
                format!(
                    "`{text}` is not a hub model: write hf:OWNER/REPO, hf:OWNER/REPO:QUANT or \
                     hf:OWNER/REPO/FILE.gguf"
                )
            });
        }
        if !value.exists()
            && let Some(entry) = catalogue::find(text)
        {
            return Ok(Self::File(HubFile { repo: entry.repo.into(), file: entry.file.into() }));
        }
        Ok(Self::Path(value.to_path_buf()))
    }

    /// The file to load when it is on disk already and, for a hub model, checked; no network
    /// and no reading of the file.
    pub fn local(&self) -> Option<PathBuf> {
        self.on_disk().filter(|path| matches!(self, Self::Path(_)) || hub::is_checked(path))
    }

    /// The file on disk for this value, checked or not (what `models rm` deletes).
    pub fn on_disk(&self) -> Option<PathBuf> {
        match self {
            Self::Path(path) => Some(path.clone()),
            Self::File(file) => hub::cached_unchecked(file),
            Self::Repo { repo, quant } => cached_in_repo(repo, quant),
        }
    }

    /// The file to load when it is on disk, checking a hub model's file against its sha256
    /// first if infill has not checked it yet (a wrong file is deleted: `None`). No network;
    /// blocking, as it may read the whole file.
    pub fn check_local(&self) -> Option<PathBuf> {
        let path = self.on_disk()?;
        match self {
            Self::Path(_) => Some(path),
            Self::File(file) => hub::check_cached(file, &path),
            Self::Repo { repo, .. } => {
                let name = path.file_name()?.to_string_lossy().into_owned();
                hub::check_cached(&HubFile { repo: repo.clone(), file: name }, &path)
            }
        }
    }

    /// The hub file this names, asking the hub for a repository's file list when needed.
    /// Blocking.
    pub fn hub_file(&self) -> Result<Option<HubFile>, HubError> {
        match self {
            Self::Path(_) => Ok(None),
            Self::File(file) => Ok(Some(file.clone())),
            Self::Repo { repo, quant } => hub::pick_file(repo, quant).map(Some),
        }
    }
}

/// The file to load for a `model` value, without touching the network or reading the file: a
/// path as it is, a checked hub model from the cache, or why it cannot be had.
pub fn local_model(value: &Path) -> Result<PathBuf, String> {
    let model = ModelRef::parse(value)?;
    if let Some(path) = model.local() {
        return Ok(path);
    }
    if model.on_disk().is_some() {
        return Err(format!(
            "model `{}` is in {} but infill has not checked it against the hub's checksum yet: \
             `infill models pull {}` checks it",
            value.display(),
            hub::cache_dir().display(),
            value.display()
        ));
    }
    Err(format!(
        "model `{}` is not downloaded yet: run `infill models pull {}` (it goes into {})",
        value.display(),
        value.display(),
        hub::cache_dir().display()
    ))
}

/// The catalogue's default model for a user who configured none, with the sentence a failed
/// download is told after: what was tried, what the default is, how big, where it goes.
pub fn zero_config_default(not_found: &crate::engine::ModelError) -> (PathBuf, String) {
    let entry = catalogue::find(catalogue::DEFAULT).expect("the default is in the catalogue");
    tracing::info!(
        model = entry.name,
        size = %catalogue::human_size(entry.size),
        cache = %hub::cache_dir().display(),
        "no model configured: using the default"
    );
    let context = format!(
        "{not_found}. The default model {} (about {}, {}) could not be downloaded into {}",
        entry.name,
        catalogue::human_size(entry.size),
        entry.licence,
        hub::cache_dir().display()
    );
    (PathBuf::from(entry.name), context)
}

fn parse_hub(rest: &str) -> Option<ModelRef> {
    let mut parts = rest.splitn(3, '/');
    let (owner, name) = (parts.next()?, parts.next()?);
    if owner.is_empty() || name.is_empty() {
        return None;
    }
    match parts.next() {
        Some(file) if file.to_ascii_lowercase().ends_with(".gguf") && !name.contains(':') => {
            Some(ModelRef::File(HubFile { repo: format!("{owner}/{name}"), file: file.into() }))
        }
        Some(_) => None,
        None => {
            let (name, quant) = name.split_once(':').unwrap_or((name, DEFAULT_QUANT));
            (!name.is_empty() && !quant.is_empty())
                .then(|| ModelRef::Repo { repo: format!("{owner}/{name}"), quant: quant.into() })
        }
    }
}

/// Whether `name` (a file in a repository) is the GGUF file for `quant`: the quantisation
/// appears in it as a word (`-Q4_K_M.gguf`, `.q4_k_m.gguf`), and it is not one part of a split
/// model.
pub fn matches_quant(name: &str, quant: &str) -> bool {
    let name = name.to_ascii_lowercase();
    let quant = quant.to_ascii_lowercase();
    let Some(stem) = name.strip_suffix(".gguf") else {
        return false;
    };
    if stem.contains("-of-") {
        return false;
    }
    stem.split(['-', '.']).any(|word| word == quant)
}

/// A finished download of `repo`'s `quant` file in the cache.
fn cached_in_repo(repo: &str, quant: &str) -> Option<PathBuf> {
    let folder = hub::cache_dir().join(format!("models--{}", repo.replace('/', "--")));
    let commit = std::fs::read_to_string(folder.join("refs").join("main")).ok()?;
    let snapshot = folder.join("snapshots").join(commit.trim());
    let mut names: Vec<_> = std::fs::read_dir(&snapshot)
        .ok()?
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| matches_quant(name, quant))
        .collect();
    names.sort();
    names.first().map(|name| snapshot.join(name)).filter(|path| path.exists())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ModelRef, String> {
        ModelRef::parse(Path::new(text))
    }

    #[test]
    fn values_name_paths_hub_files_repositories_and_catalogue_entries() {
        assert_eq!(parse("/m/a.gguf").unwrap(), ModelRef::Path("/m/a.gguf".into()));
        assert_eq!(
            parse("hf:o/r/sub/f.gguf").unwrap(),
            ModelRef::File(HubFile { repo: "o/r".into(), file: "sub/f.gguf".into() })
        );
        assert_eq!(
            parse("hf:o/r").unwrap(),
            ModelRef::Repo { repo: "o/r".into(), quant: DEFAULT_QUANT.into() }
        );
        assert_eq!(
            parse("hf:o/r:Q8_0").unwrap(),
            ModelRef::Repo { repo: "o/r".into(), quant: "Q8_0".into() }
        );
        assert_eq!(
            parse("starcoder2-3b").unwrap(),
            ModelRef::File(HubFile {
                repo: "second-state/StarCoder2-3B-GGUF".into(),
                file: "starcoder2-3b-Q4_K_M.gguf".into()
            })
        );
        for bad in ["hf:", "hf:o", "hf:o/", "hf:o/r/readme.md", "hf:o/r:"] {
            assert!(parse(bad).unwrap_err().contains("hf:OWNER/REPO"), "{bad}");
        }
    }

    #[test]
    fn quantisations_match_as_words() {
        assert!(matches_quant("starcoder2-3b-Q4_K_M.gguf", "Q4_K_M"));
        assert!(matches_quant("deepseek-coder-1.3b-base.Q4_K_M.gguf", "q4_k_m"));
        assert!(matches_quant("qwen2.5-coder-1.5b-q8_0.gguf", "Q8_0"));
        assert!(!matches_quant("model-Q4_K_M-00001-of-00002.gguf", "Q4_K_M"));
        assert!(!matches_quant("model-Q4_K_S.gguf", "Q4_K"));
        assert!(!matches_quant("model-IQ4_K_M.gguf", "Q4_K_M"));
    }
}
