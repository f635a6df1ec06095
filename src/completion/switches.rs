//! Where the user switched completion off: by the document's language id (`disabledLanguages`)
//! or by its path (`disabledFiles`, gitignore-style globs relative to a workspace root). Such a
//! document gets no suggestion, no prefetch and no warm-up: nothing of it reaches the model.

use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::Deserialize;

use crate::config::Settings;
use crate::context::filter::gitignore_globs;
use crate::documents::DocumentSnapshot;
use crate::workspace::Workspace;

fn glob_set(patterns: &[String]) -> Result<GlobSet, globset::Error> {
    let mut builder = GlobSetBuilder::new();
    for pattern in patterns {
        for glob in gitignore_globs(pattern) {
            builder.add(Glob::new(&glob)?);
        }
    }
    builder.build()
}

/// `disabledFiles` as read from settings: a list whose every pattern compiles, so that a typo
/// is reported when the setting is read (and the key keeps its value) instead of per request.
pub fn deserialize_globs<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<String>, D::Error> {
    let patterns = Vec::<String>::deserialize(deserializer)?;
    glob_set(&patterns).map_err(|err| serde::de::Error::custom(format!("not a glob: {err}")))?;
    Ok(patterns)
}

/// The switches of one settings snapshot, compiled once when the settings are read rather than
/// on every request.
#[derive(Debug, Clone)]
pub struct Switches {
    languages: Vec<String>,
    /// `None` when `disabledFiles` is empty: most documents need no path at all.
    files: Option<GlobSet>,
}

impl Switches {
    pub fn new(settings: &Settings) -> Self {
        // The patterns were checked when the settings were read; a set that fails anyway
        // (settings built in code) switches nothing off rather than everything.
        let files = (!settings.disabled_files.is_empty())
            .then(|| glob_set(&settings.disabled_files))
            .and_then(Result::ok);
        Self { languages: settings.disabled_languages.clone(), files }
    }

    /// Whether `document` is one the settings switch completion off for.
    pub fn switched_off(&self, workspace: &Workspace, document: &DocumentSnapshot) -> bool {
        if self.languages.iter().any(|l| l == &document.language_id) {
            return true;
        }
        let Some(files) = &self.files else { return false };
        files.is_match(workspace.place_of(document.uri.as_ref()).path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::documents::DocumentStore;
    use serde_json::json;
    use std::path::PathBuf;

    fn snapshot(uri: &str, language: &str) -> DocumentSnapshot {
        let store = DocumentStore::new();
        let uri = tower_lsp_server::gen_lsp_types::Uri::from(uri.to_string());
        store.open(uri.clone(), "x", 1, language.to_string());
        store.snapshot(&uri).unwrap()
    }

    #[test]
    fn prose_is_off_by_default_and_code_is_on() {
        let switches = Switches::new(&Settings::default());
        let workspace = Workspace::new(vec![PathBuf::from("/w")]);
        assert!(switches.switched_off(&workspace, &snapshot("file:///w/README.md", "markdown")));
        assert!(switches.switched_off(&workspace, &snapshot("file:///w/notes.txt", "plaintext")));
        assert!(!switches.switched_off(&workspace, &snapshot("file:///w/a.py", "python")));
    }

    #[test]
    fn files_are_switched_off_by_gitignore_style_globs() {
        let options =
            json!({"disabledLanguages": [], "disabledFiles": ["*.lock", "docs/", "/gen/**/*.rs"]});
        let (settings, warnings) = Settings::from_json(Some(&options));
        assert!(warnings.is_empty(), "{warnings:?}");
        let workspace = Workspace::new(vec![PathBuf::from("/w")]);
        let switches = Switches::new(&settings);
        let off = |uri: &str| switches.switched_off(&workspace, &snapshot(uri, "markdown"));
        assert!(!off("file:///w/README.md"), "languages can be switched back on");
        assert!(off("file:///w/sub/Cargo.lock"), "no slash: any depth");
        assert!(off("file:///w/docs/guide/intro.md"), "a folder covers what is in it");
        assert!(off("file:///w/gen/a/b.rs"));
        assert!(!off("file:///w/src/gen/a/b.rs"), "a leading slash anchors at the root");
        assert!(!off("file:///w/src/main.rs"));
    }

    #[test]
    fn a_bad_glob_is_reported_and_keeps_the_setting_as_it_was() {
        let (settings, warnings) = Settings::from_json(Some(&json!({"disabledFiles": ["a[b"]})));
        assert!(settings.disabled_files.is_empty());
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("disabledFiles") && warnings[0].contains("not a glob"));
    }
}
