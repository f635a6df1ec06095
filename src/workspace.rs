//! Workspace roots: how a document's URI becomes the path and repository name the model sees.

use std::path::{Path, PathBuf};

use url::Url;

/// The folders the editor opened. Nothing outside them is ever read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Workspace {
    roots: Vec<PathBuf>,
}

/// Where a document sits, as shown to the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentPlace {
    /// Path relative to its workspace root, `/`-separated; the file name alone outside any root.
    pub path: String,
    /// The root folder's name, used as the repository name in repository-aware formats.
    pub repo_name: Option<String>,
}

/// A local path from a `file:` URI, or `None` for other schemes (untitled buffers, etc.).
pub fn uri_to_path(uri: &str) -> Option<PathBuf> {
    Url::parse(uri).ok().filter(|u| u.scheme() == "file")?.to_file_path().ok()
}

impl Workspace {
    pub fn new(roots: Vec<PathBuf>) -> Self {
        Self { roots }
    }

    /// From the `workspaceFolders` / `rootUri` URIs an editor sends; non-file URIs are skipped.
    pub fn from_uris<'a>(uris: impl IntoIterator<Item = &'a str>) -> Self {
        Self::new(uris.into_iter().filter_map(uri_to_path).collect())
    }

    pub fn roots(&self) -> &[PathBuf] {
        &self.roots
    }

    /// The deepest root containing `path`.
    pub fn root_of(&self, path: &Path) -> Option<&Path> {
        self.roots
            .iter()
            .filter(|root| path.starts_with(root))
            .max_by_key(|root| root.components().count())
            .map(PathBuf::as_path)
    }

    pub fn place_of(&self, uri: &str) -> DocumentPlace {
        let Some(path) = uri_to_path(uri) else {
            // Not a file: the last URI segment is still the best name to show.
            let name = uri.rsplit(['/', ':']).next().unwrap_or(uri);
            return DocumentPlace { path: name.to_string(), repo_name: None };
        };
        match self.root_of(&path) {
            Some(root) => DocumentPlace {
                path: slash_path(path.strip_prefix(root).unwrap_or(&path)),
                repo_name: root.file_name().map(|n| n.to_string_lossy().into_owned()),
            },
            None => DocumentPlace {
                path: path
                    .file_name()
                    .map_or_else(|| slash_path(&path), |n| n.to_string_lossy().into_owned()),
                repo_name: None,
            },
        }
    }
}

fn slash_path(path: &Path) -> String {
    path.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_inside_a_root_gets_relative_path_and_repo_name() {
        let ws = Workspace::from_uris(["file:///home/u/proj", "file:///home/u/proj/sub%20dir"]);
        assert_eq!(
            ws.place_of("file:///home/u/proj/src/a%20b.py"),
            DocumentPlace { path: "src/a b.py".into(), repo_name: Some("proj".into()) }
        );
        // The deepest root wins.
        assert_eq!(
            ws.place_of("file:///home/u/proj/sub%20dir/x.rs"),
            DocumentPlace { path: "x.rs".into(), repo_name: Some("sub dir".into()) }
        );
    }

    #[test]
    fn documents_outside_roots_and_non_files_get_their_name_only() {
        let ws = Workspace::from_uris(["file:///home/u/proj"]);
        assert_eq!(
            ws.place_of("file:///tmp/scratch.py"),
            DocumentPlace { path: "scratch.py".into(), repo_name: None }
        );
        assert_eq!(ws.place_of("untitled:Untitled-1").path, "Untitled-1");
        // A sibling folder sharing a name prefix is not inside the root.
        assert_eq!(ws.place_of("file:///home/u/project2/a.py").repo_name, None);
    }
}
