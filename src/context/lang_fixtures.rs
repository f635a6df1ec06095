//! One small repository per language (`tests/fixtures/lang/<language>/`), indexed and ranked as
//! the server does: the signature of a name used at the cursor, from its defining file, is among
//! the first three snippets of the context.
//!
//! A fixture holds source files, one of them with a `<|cursor|>` line, and `EXPECT`: the
//! defining file's path, then a line its snippet must contain.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tower_lsp_server::gen_lsp_types::Uri;

use super::RepoContext;
use crate::documents::DocumentStore;
use crate::workspace::Workspace;

const CURSOR: &str = "<|cursor|>";

/// Copies the fixture to a temporary workspace; returns the cursor file's path and its text
/// without the marker, with the cursor's line.
fn copy_fixture(from: &Path, to: &Path) -> (PathBuf, String, usize) {
    let mut cursor = None;
    let mut stack = vec![from.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let target = to.join(path.strip_prefix(from).unwrap());
            if path.is_dir() {
                std::fs::create_dir_all(&target).unwrap();
                stack.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            if let Some(line) = text.lines().position(|l| l.contains(CURSOR)) {
                let text = text.replace(CURSOR, "");
                std::fs::write(&target, &text).unwrap();
                cursor = Some((target, text, line));
            } else {
                std::fs::write(&target, text).unwrap();
            }
        }
    }
    cursor.expect("a file with the cursor marker")
}

fn check_fixture(language: &str) {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lang").join(language);
    let expect = std::fs::read_to_string(fixture.join("EXPECT")).unwrap();
    let (defining_file, definition_line) = expect.split_once('\n').unwrap();
    let definition_line = definition_line.trim_end_matches('\n');

    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("proj");
    std::fs::create_dir_all(&root).unwrap();
    let (cursor_file, text, line) = copy_fixture(&fixture, &root);
    let documents = Arc::new(DocumentStore::new());
    let (context, warnings) =
        RepoContext::new(&Workspace::new(vec![root.clone()]), &[], Arc::clone(&documents));
    assert!(warnings.is_empty(), "{warnings:?}");
    context.index_now();

    let uri = Uri::from(url::Url::from_file_path(&cursor_file).unwrap().to_string());
    documents.open(uri.clone(), &text, 1, language.into());
    context.document_opened(&uri, &text);
    let document = documents.snapshot(&uri).unwrap();
    let cursor_char =
        document.rope.line_to_char(line) + text.lines().nth(line).unwrap().chars().count();
    let gathered = context.gather(&document, cursor_char, Some(1024));

    // Among the best three (a header or the class around the definition may come first), and
    // as a signature (a few lines, found through the definitions), not a similar window.
    let found = gathered.snippets.iter().take(3).any(|snippet| {
        snippet.path == defining_file
            && snippet.text().contains(definition_line)
            && snippet.lines.len() <= 3
    });
    assert!(found, "{language}: {:#?}", gathered.snippets);
}

#[test]
fn python() {
    check_fixture("python");
}

#[test]
fn rust() {
    check_fixture("rust");
}

#[test]
fn typescript() {
    check_fixture("typescript");
}

#[test]
fn tsx() {
    check_fixture("tsx");
}

#[test]
fn javascript() {
    check_fixture("javascript");
}

#[test]
fn go() {
    check_fixture("go");
}

#[test]
fn java() {
    check_fixture("java");
}

#[test]
fn c() {
    check_fixture("c");
}

#[test]
fn cpp() {
    check_fixture("cpp");
}

#[test]
fn c_sharp() {
    check_fixture("c_sharp");
}

#[test]
fn ruby() {
    check_fixture("ruby");
}

#[test]
fn php() {
    check_fixture("php");
}
