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

/// Whether `document` is one the settings switch completion off for.
pub fn switched_off(
    settings: &Settings,
    workspace: &Workspace,
    document: &DocumentSnapshot,
) -> bool {
    if settings.disabled_languages.iter().any(|l| l == &document.language_id) {
        return true;
    }
    if settings.disabled_files.is_empty() {
        return false;
    }
    let path = workspace.place_of(document.uri.as_ref()).path;
    // The patterns were checked when the settings were read.
    glob_set(&settings.disabled_files).is_ok_and(|set| set.is_match(&path))
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
        let settings = Settings::default();
        let workspace = Workspace::new(vec![PathBuf::from("/w")]);
        assert!(switched_off(&settings, &workspace, &snapshot("file:///w/README.md", "markdown")));
        assert!(switched_off(&settings, &workspace, &snapshot("file:///w/notes.txt", "plaintext")));
        assert!(!switched_off(&settings, &workspace, &snapshot("file:///w/a.py", "python")));
    }

    #[test]
    fn files_are_switched_off_by_gitignore_style_globs() {
        let options =
            json!({"disabledLanguages": [], "disabledFiles": ["*.lock", "docs/", "/gen/**/*.rs"]});
        let (settings, warnings) = Settings::from_json(Some(&options));
        assert!(warnings.is_empty(), "{warnings:?}");
        let workspace = Workspace::new(vec![PathBuf::from("/w")]);
        let off = |uri: &str| switched_off(&settings, &workspace, &snapshot(uri, "markdown"));
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
