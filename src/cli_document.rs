//! The one file a command-line run (`infill complete`, `infill doctor`) completes in: its
//! project root and its document, opened as the server would open it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use infill::documents::{DocumentSnapshot, DocumentStore, PositionEncoding};
use tower_lsp_server::gen_lsp_types::Uri;

/// The enclosing repository (nearest folder with `.git`), else the file's folder: what an editor
/// would have opened as the workspace.
pub fn project_root(file: &Path) -> PathBuf {
    let folder = file.parent().unwrap_or(Path::new("/"));
    folder.ancestors().find(|dir| dir.join(".git").exists()).unwrap_or(folder).to_path_buf()
}

/// A store holding `text` as the document of `file` (an absolute path), and its snapshot.
/// Positions are in characters (UTF-32), as the command line counts columns.
pub fn open(file: &Path, text: &str) -> anyhow::Result<(Arc<DocumentStore>, DocumentSnapshot)> {
    let uri = Uri::from(
        url::Url::from_file_path(file)
            .map_err(|_| anyhow::anyhow!("cannot make a URI of {}", file.display()))?
            .to_string(),
    );
    let documents = Arc::new(DocumentStore::with_encoding(PositionEncoding::Utf32));
    documents.open(uri.clone(), text, 0, String::new());
    let document = documents.snapshot(&uri).context("document vanished")?;
    Ok((documents, document))
}
