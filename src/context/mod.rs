//! Repository context stage: which code from other files of the workspace goes into the prompt.
//!
//! Sources, each its own module: the workspace files (`walk`, through the safety `filter`, into
//! the `index`), open documents (indexed from the editor's text), recently edited and viewed
//! regions (`recent`), and the definitions and imports each language's tree-sitter grammar and
//! queries find (`lang`). `rank` orders candidate snippets for a cursor; the prompt stage keeps what fits
//! the token budget (`prompt::context`).
//!
//! Locks: the index sits behind a `std::sync::RwLock`; `gather` holds the read side for at most
//! its time budget and never across an `.await` (it is synchronous; the pipeline runs it on a
//! blocking thread).

pub mod filter;
pub mod identifiers;
pub mod index;
pub mod lang;
#[cfg(test)]
mod lang_fixtures;
pub mod rank;
pub mod recent;
pub mod walk;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tower_lsp_server::gen_lsp_types::{FileChangeType, FileEvent, Uri};

use crate::documents::{DocumentSnapshot, DocumentStore};
use crate::prompt::{ContextSnippet, Stability};
use crate::workspace::{self, Workspace};
use filter::{Admitted, FileFilter};
use index::Index;
use recent::RecentRegions;

/// Time a request may spend choosing context; what the scan has not reached by then is left out.
pub const GATHER_BUDGET: Duration = Duration::from_millis(20);

/// How far (in lines) the cursor may move from where a document's context was chosen before it
/// is chosen again. The context opens the prompt: a new choice means evaluating the whole prompt
/// again, so while the user types on in the same place, the choice stays.
const STICKY_LINES: usize = 12;

/// Chars per token of code, roughly: what share of a ranked list reaches the prompt is judged
/// by the context budget in tokens times this (a strong snippet counts as held by an earlier
/// choice only within that share).
const CHARS_PER_TOKEN: usize = 4;

/// The index generation a choice made while the workspace walk runs is recorded with.
const WALKING: u64 = u64::MAX;

/// How many places per document keep their choice: coming back to one of them (from another
/// function) finds the prompt's front as it was, and the engine's saved place behind it.
const CHOICES_PER_DOCUMENT: usize = 4;

/// The workspace index's state, for `infill/indexStatus` and logs.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IndexStatus {
    /// The background walk is still running.
    pub indexing: bool,
    /// Files in the index now (workspace files and open documents).
    pub files: usize,
    pub bytes: usize,
    /// The index's own estimate of its heap use (bounded by `index::MAX_INDEX_MEMORY`).
    pub memory: usize,
    /// The finished walk's figures.
    pub walk: Option<walk::WalkReport>,
}

/// A document's chosen context and what it was chosen from: it holds while the cursor stays
/// near `line`, the index is unchanged and the recent regions of other documents are the same.
struct Chosen {
    line: usize,
    index_generation: u64,
    recent: Vec<recent::RecentChunk>,
    snippets: Vec<ContextSnippet>,
}

/// What `gather` found for one request.
#[derive(Debug, Clone, Default)]
pub struct Gathered {
    pub snippets: Vec<ContextSnippet>,
    pub ms: f64,
    pub figures: rank::RankFigures,
}

pub struct RepoContext {
    filter: FileFilter,
    index: Arc<RwLock<Index>>,
    recent: Mutex<RecentRegions>,
    documents: Arc<DocumentStore>,
    /// Open documents changed since they were last indexed.
    dirty: Mutex<HashSet<Uri>>,
    /// The contexts last chosen per document, least recently used first, at most
    /// `CHOICES_PER_DOCUMENT` places at least `STICKY_LINES` apart.
    chosen: Mutex<HashMap<Uri, Vec<Chosen>>>,
    status: watch::Sender<IndexStatus>,
    stop: Arc<AtomicBool>,
}

impl RepoContext {
    /// `deny`: the `contextDeny` globs; bad ones come back as warnings.
    pub fn new(
        workspace: &Workspace,
        deny: &[String],
        documents: Arc<DocumentStore>,
    ) -> (Arc<Self>, Vec<String>) {
        let (filter, warnings) = FileFilter::new(workspace.roots(), deny);
        let context = Self {
            filter,
            index: Arc::default(),
            recent: Mutex::default(),
            documents,
            dirty: Mutex::default(),
            chosen: Mutex::default(),
            status: watch::Sender::new(IndexStatus::default()),
            stop: Arc::default(),
        };
        (Arc::new(context), warnings)
    }

    /// Walks the roots on an `infill-index` thread; `status` says when it is done.
    pub fn start_indexing(self: &Arc<Self>) {
        self.status.send_modify(|s| s.indexing = true);
        let context = Arc::clone(self);
        let spawned = std::thread::Builder::new().name("infill-index".into()).spawn(move || {
            let report = walk::index_workspace(&context.filter, &context.index, &context.stop);
            tracing::info!(?report, "workspace indexed");
            if report.full {
                tracing::warn!(
                    skipped = report.skipped,
                    "the workspace is larger than the index's memory bound ({} MiB): {} files \
                     are left out of the repository context",
                    index::MAX_INDEX_MEMORY >> 20,
                    report.skipped
                );
            }
            context.publish(false, Some(report));
        });
        if let Err(err) = spawned {
            tracing::warn!(%err, "cannot start the indexing thread; no workspace context");
            self.status.send_modify(|s| s.indexing = false);
        }
    }

    /// Indexes synchronously (for `infill complete`, which makes one request and exits).
    pub fn index_now(&self) -> walk::WalkReport {
        let report = walk::index_workspace(&self.filter, &self.index, &self.stop);
        self.publish(false, Some(report));
        report
    }

    /// Ends a running walk (server shutdown).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    pub fn status(&self) -> IndexStatus {
        *self.status.borrow()
    }

    /// The status once the background walk has finished.
    pub async fn indexed(&self) -> IndexStatus {
        let mut receiver = self.status.subscribe();
        match receiver.wait_for(|s| !s.indexing).await {
            Ok(status) => *status,
            Err(_) => self.status(),
        }
    }

    fn publish(&self, indexing: bool, walk: Option<walk::WalkReport>) {
        let (files, bytes, memory) =
            self.index.read().map_or((0, 0, 0), |i| (i.len(), i.bytes(), i.memory()));
        self.status.send_modify(|s| {
            s.indexing = indexing;
            s.files = files;
            s.bytes = bytes;
            s.memory = memory;
            if walk.is_some() {
                s.walk = walk;
            }
        });
    }

    /// A document the editor opened: indexed from its text (which wins over the disk copy).
    pub fn document_opened(&self, uri: &Uri, text: &str) {
        self.index_document(uri, text.to_string());
    }

    /// A document changed (at char index `edit_point` when the edit had one): reindexed lazily,
    /// by the next `gather` for another document, and the region around the edit becomes a
    /// recent chunk.
    pub fn document_changed(&self, uri: &Uri, edit_point: Option<usize>) {
        if let Ok(mut dirty) = self.dirty.lock() {
            dirty.insert(uri.clone());
        }
        let (Some(char_idx), Some(admitted)) = (edit_point, self.admitted_document(uri)) else {
            return;
        };
        if let Some(document) = self.documents.snapshot(uri) {
            let rope = &document.rope;
            let line = rope.char_to_line(char_idx.min(rope.len_chars()));
            self.record_region(uri, &admitted, rope, line);
        }
    }

    /// A saved document: its text is indexed at once (the editor's text, now also on disk), so
    /// the index is current even before another document asks for context.
    pub fn document_saved(&self, uri: &Uri) {
        if let Ok(mut dirty) = self.dirty.lock() {
            dirty.remove(uri);
        }
        self.reindex_open_document(uri);
    }

    /// A closed document: its disk copy (if any, and admitted) replaces the editor's text.
    pub fn document_closed(&self, uri: &Uri) {
        if let Ok(mut dirty) = self.dirty.lock() {
            dirty.remove(uri);
        }
        if let Ok(mut chosen) = self.chosen.lock() {
            chosen.remove(uri);
        }
        if let Some(path) = workspace::uri_to_path(uri.as_ref()) {
            self.reload_from_disk(&path);
        }
    }

    /// `workspace/didChangeWatchedFiles`: files created, changed or deleted outside the editor.
    /// Open documents keep their editor text.
    pub fn files_changed(&self, events: &[FileEvent]) {
        for event in events {
            if self.documents.is_open(&event.uri) {
                continue;
            }
            let Some(path) = workspace::uri_to_path(event.uri.as_ref()) else { continue };
            if event.kind == FileChangeType::Deleted {
                let key = real_path(&path);
                if let Ok(mut index) = self.index.write() {
                    index.remove(&key);
                }
                if let Ok(mut recent) = self.recent.lock() {
                    recent.forget(event.uri.as_ref());
                }
            } else {
                self.reload_from_disk(&path);
            }
        }
        self.publish(self.status().indexing, None);
    }

    fn reload_from_disk(&self, path: &Path) {
        let read = self.filter.admit(path).and_then(|a| Ok((self.filter.read(&a)?, a)));
        let Ok(mut index) = self.index.write() else { return };
        match read {
            Ok((text, admitted)) if index.has_room() || index.file(&admitted.path).is_some() => {
                let file =
                    index::analyse(admitted.display, admitted.root, Stability::Workspace, text);
                index.insert(admitted.path, file);
            }
            // Gone, grown too large, or no longer admitted: it leaves the index.
            _ => {
                index.remove(&real_path(path));
            }
        }
    }

    fn admitted_document(&self, uri: &Uri) -> Option<Admitted> {
        let path = workspace::uri_to_path(uri.as_ref())?;
        self.filter.admit_document(&path).ok()
    }

    fn index_document(&self, uri: &Uri, text: String) {
        let Some(admitted) = self.admitted_document(uri) else { return };
        if text.len() as u64 > filter::MAX_FILE_BYTES || filter::check_source(&text).is_err() {
            return;
        }
        let file = index::analyse(admitted.display, admitted.root, Stability::OpenDocument, text);
        if let Ok(mut index) = self.index.write() {
            index.insert(admitted.path, file);
        }
    }

    /// Keeps the region of `rope` (the text of `uri`, admitted as `admitted`) around `line` as
    /// the newest recent chunk.
    fn record_region(&self, uri: &Uri, admitted: &Admitted, rope: &ropey::Rope, line: usize) {
        let chunk = recent::chunk_around(uri.as_ref(), &admitted.display, rope, line);
        if let Ok(mut recent) = self.recent.lock() {
            recent.record(chunk);
        }
    }

    /// Context snippets for a cursor at `cursor_char` in `document`, best first. Synchronous and
    /// bounded by `GATHER_BUDGET`; run it off the async workers. `keep_front`: the context
    /// budget in tokens when a jump to a new place keeps the document's last choice while its
    /// part within that budget holds what the place clearly needs (setting `keepPromptFront`).
    pub fn gather(
        &self,
        document: &DocumentSnapshot,
        cursor_char: usize,
        keep_front: Option<usize>,
    ) -> Gathered {
        let started = Instant::now();
        let deadline = started + GATHER_BUDGET;
        self.refresh_dirty_documents(&document.uri);
        let line = document.rope.char_to_line(cursor_char.min(document.rope.len_chars()));
        let Some(admitted) = self.admitted_document(&document.uri) else {
            return Gathered { ms: started.elapsed().as_secs_f64() * 1000.0, ..Default::default() };
        };
        // Asking for a suggestion here is looking at this region.
        self.record_region(&document.uri, &admitted, &document.rope, line);
        let recent =
            self.recent.lock().map(|r| r.for_cursor_in(document.uri.as_ref())).unwrap_or_default();
        let Ok(index) = self.index.read() else { return Gathered::default() };
        // While the walk runs, files arrive by the hundred: comparing their generations would
        // make every keystroke choose again and evaluate the whole prompt. A choice made during
        // the walk holds until it ends.
        let generation = if self.status().indexing { WALKING } else { index.generation() };
        if let Some(snippets) = self.still_chosen(&document.uri, line, generation, &recent) {
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            return Gathered { snippets, ms, figures: rank::RankFigures::default() };
        }
        // Only a new choice needs the document's whole text.
        let text = document.rope.to_string();
        let cursor = rank::Cursor {
            path: Some(&admitted.path),
            root: Some(&admitted.root),
            display: &admitted.display,
            text: &text,
            line,
        };
        let (mut snippets, figures) = rank::rank(&index, &recent, &cursor, deadline);
        drop(index);
        // A jump within the file: the latest choice stays if it holds everything this place
        // clearly needs, so the prompt's front (and the KV cache behind it) stays too, and only
        // weaker snippets (similar windows, recent regions) differ from a fresh choice.
        let needed = &snippets[..figures.strong];
        let latest = keep_front.and_then(|tokens| {
            self.latest_holding(&document.uri, generation, &recent, needed, tokens)
        });
        if let Some(latest) = latest {
            snippets = latest;
        }
        if let Ok(mut chosen) = self.chosen.lock() {
            let choice =
                Chosen { line, index_generation: generation, recent, snippets: snippets.clone() };
            let choices = chosen.entry(document.uri.clone()).or_default();
            choices.retain(|c| c.line.abs_diff(line) > STICKY_LINES);
            choices.push(choice);
            if choices.len() > CHOICES_PER_DOCUMENT {
                choices.remove(0);
            }
        }
        Gathered { snippets, ms: started.elapsed().as_secs_f64() * 1000.0, figures }
    }

    /// The context chosen earlier for `uri` nearest `line`, if it still holds for a cursor there.
    fn still_chosen(
        &self,
        uri: &Uri,
        line: usize,
        index_generation: u64,
        recent: &[recent::RecentChunk],
    ) -> Option<Vec<ContextSnippet>> {
        let mut chosen = self.chosen.lock().ok()?;
        let choices = chosen.get_mut(uri)?;
        let (at, _) = choices
            .iter()
            .enumerate()
            .filter(|(_, c)| c.line.abs_diff(line) <= STICKY_LINES)
            .min_by_key(|(_, c)| c.line.abs_diff(line))
            .filter(|(_, c)| c.index_generation == index_generation && c.recent == recent)?;
        // The last choice is the one the engine's cache holds now (`latest_holding`).
        let choice = choices.remove(at);
        let snippets = choice.snippets.clone();
        choices.push(choice);
        Some(snippets)
    }

    /// The snippets of the context last chosen for `uri`, if it was chosen from the same index
    /// and recent regions and its part that reaches a prompt with `budget` context tokens holds
    /// each of `needed` that would reach it.
    fn latest_holding(
        &self,
        uri: &Uri,
        index_generation: u64,
        recent: &[recent::RecentChunk],
        needed: &[ContextSnippet],
        budget: usize,
    ) -> Option<Vec<ContextSnippet>> {
        let chosen = self.chosen.lock().ok()?;
        let latest = chosen
            .get(uri)?
            .last()
            .filter(|c| c.index_generation == index_generation && c.recent == recent)?;
        let chars = budget.saturating_mul(CHARS_PER_TOKEN);
        let held = prompt_share(&latest.snippets, chars);
        prompt_share(needed, chars)
            .iter()
            .all(|snippet| held.contains(snippet))
            .then(|| latest.snippets.clone())
    }

    /// Reindexes open documents edited since their last indexing, except `current`: its text is
    /// in the prompt anyway, and leaving its entry alone keeps the ranking (and the KV cache)
    /// steady while the user types in it.
    fn refresh_dirty_documents(&self, current: &Uri) {
        let pending: Vec<Uri> = match self.dirty.lock() {
            Ok(mut dirty) => {
                let pending = dirty.iter().filter(|u| *u != current).cloned().collect();
                dirty.retain(|u| u == current);
                pending
            }
            Err(_) => return,
        };
        for uri in pending {
            self.reindex_open_document(&uri);
        }
    }

    /// Indexes an open document's current text from the store.
    fn reindex_open_document(&self, uri: &Uri) {
        if let Some(document) = self.documents.snapshot(uri) {
            self.index_document(uri, document.rope.to_string());
        }
    }

    /// Real paths of the indexed files, in index order (for `infill bench-context`).
    pub fn indexed_paths(&self) -> Vec<PathBuf> {
        self.index.read().map(|i| i.files().map(|(p, _)| p.clone()).collect()).unwrap_or_default()
    }

    #[cfg(test)]
    fn indexed_text(&self, path: &Path) -> Option<String> {
        self.index.read().ok()?.file(&real_path(path)).map(|f| f.text.clone())
    }
}

/// The leading snippets of a ranked list that are likely to fit `chars` of context.
fn prompt_share(snippets: &[ContextSnippet], chars_budget: usize) -> &[ContextSnippet] {
    let mut chars = 0;
    let fitting = snippets
        .iter()
        .take_while(|snippet| {
            chars += snippet.lines.iter().map(|(_, line)| line.len() + 1).sum::<usize>();
            chars <= chars_budget
        })
        .count();
    &snippets[..fitting]
}

/// `path` with symlinks resolved; for a deleted file, its folder's real path and its name.
fn real_path(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| {
        match (path.parent().and_then(|p| std::fs::canonicalize(p).ok()), path.file_name()) {
            (Some(parent), Some(name)) => parent.join(name),
            _ => path.to_path_buf(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prompt::hf_tokenizer::HfTokenCounter;
    use crate::prompt::{self, Budgets, FimInput, TokenCounter, template};

    /// `gather`'s `keep_front` as the default settings give it.
    const KEEP_FRONT: Option<usize> = Some(1024);

    /// A small project: the hole in `app/main.py` calls a function defined in `app/geometry.py`;
    /// `app/noise.py` shares words with the cursor's code but defines nothing it uses.
    struct Fixture {
        _dir: tempfile::TempDir,
        root: PathBuf,
        documents: Arc<DocumentStore>,
        context: Arc<RepoContext>,
    }

    const MAIN: &str = "\
from .geometry import circle_area

def report(shapes):
    total = 0
    for shape in shapes:
        radius = shape.radius
        total += 
    return total
";

    fn write(root: &Path, relative: &str, text: &str) -> PathBuf {
        let path = root.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    fn fixture(deny: &[String]) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("shapes-proj");
        write(&root, "app/__init__.py", "");
        write(
            &root,
            "app/geometry.py",
            "import math\n\n\ndef circle_area(radius: float) -> float:\n    return math.pi * radius ** 2\n\n\ndef square_area(side):\n    return side * side\n",
        );
        write(
            &root,
            "app/noise.py",
            "def unrelated(shapes):\n    total = 0\n    for shape in shapes:\n        total += 1\n    return total\n",
        );
        write(&root, "app/main.py", MAIN);
        // Another language that shares every word with the cursor's code: never shown.
        write(
            &root,
            "native/shapes.rs",
            "pub fn circle_area(radius: f64) -> f64 {\n    let total = 0.0; // shapes, shape.radius\n    total\n}\n",
        );
        let documents = Arc::new(DocumentStore::new());
        let workspace = Workspace::new(vec![root.clone()]);
        let (context, warnings) = RepoContext::new(&workspace, deny, Arc::clone(&documents));
        assert!(warnings.is_empty(), "{warnings:?}");
        context.index_now();
        Fixture { _dir: dir, root, documents, context }
    }

    fn uri_of(path: &Path) -> Uri {
        Uri::from(url::Url::from_file_path(path).unwrap().to_string())
    }

    /// Opens `relative` with `text` and gathers context at the end of line `line` (0-based).
    fn gather_at(f: &Fixture, relative: &str, text: &str, line: usize) -> Gathered {
        let uri = uri_of(&f.root.join(relative));
        f.documents.open(uri.clone(), text, 1, "python".into());
        f.context.document_opened(&uri, text);
        let document = f.documents.snapshot(&uri).unwrap();
        let cursor_char = document.rope.line_to_char(line + 1) - 1;
        f.context.gather(&document, cursor_char, KEEP_FRONT)
    }

    #[test]
    fn ranking_picks_the_defining_file_for_a_cross_file_hole() {
        let f = fixture(&[]);
        let gathered = gather_at(&f, "app/main.py", MAIN, 6);
        let first = gathered.snippets.first().expect("some context");
        assert_eq!(first.path, "app/geometry.py");
        assert!(first.text().contains("def circle_area(radius: float) -> float:"), "{first:?}");
        assert!(gathered.snippets.iter().all(|s| s.path != "app/main.py"), "never the file itself");
        assert!(
            gathered.snippets.iter().all(|s| s.path.ends_with(".py")),
            "{:?}",
            gathered.snippets
        );
    }

    #[test]
    fn starcoder2_prompt_has_the_trained_repository_layout() {
        let f = fixture(&[]);
        let gathered = gather_at(&f, "app/main.py", MAIN, 6);
        let input = FimInput {
            path: "app/main.py".into(),
            repo_name: Some("shapes-proj".into()),
            prefix: MAIN[..MAIN.find("total += ").unwrap() + "total += ".len()].into(),
            suffix: MAIN[MAIN.find("total += ").unwrap() + "total += ".len()..].into(),
            context: gathered.snippets,
            prefix_first_line: 0,
            repo_header: Default::default(),
        };
        let tokenizer =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/tiny-starcoder2.tokenizer.json");
        let mut counter = HfTokenCounter::from_file(&tokenizer).unwrap();
        // Room for the signature only: the similar window of noise.py does not fit.
        let signature = "def circle_area(radius: float) -> float:\n";
        let budget = counter.count("app/geometry.py") + 2 + counter.count(signature);
        let budgets =
            Budgets { prefix_tokens: 1000, suffix_tokens: 1000, repo_context_tokens: budget };
        let starcoder2 = template::by_name("starcoder2").unwrap();
        let prompt =
            prompt::build(starcoder2, starcoder2.order, &input, budgets, None, &mut counter);
        assert_eq!(
            prompt.render(),
            format!(
                "<repo_name>shapes-proj<file_sep>app/geometry.py\n{signature}\
                 <file_sep><fim_prefix>app/main.py\n{}<fim_suffix>{}<fim_middle>",
                input.prefix, input.suffix
            )
        );
    }

    #[test]
    fn outside_files_symlink_escapes_and_secrets_never_reach_the_context() {
        let outside = tempfile::tempdir().unwrap();
        // Every one of these defines and uses what the cursor's code uses.
        let bait = "def circle_area(radius):\n    return SECRET_TOKEN\n";
        let target = write(outside.path(), "leak.py", bait);
        let f = fixture(&["private/**".into()]);
        write(&f.root, ".env", "SECRET_TOKEN=hunter2 circle_area radius shapes\n");
        write(&f.root, "config/server.pem", "circle_area radius\n");
        write(&f.root, "keys/id_rsa", "circle_area radius\n");
        write(&f.root, "private/plan.py", bait);
        #[cfg(unix)]
        std::os::unix::fs::symlink(&target, f.root.join("app/linked.py")).unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(outside.path(), f.root.join("outside_dir")).unwrap();
        f.context.index_now();
        // Watched-file events and open documents cannot smuggle them in either.
        let events: Vec<FileEvent> =
            ["app/linked.py", ".env", "private/plan.py", "outside_dir/leak.py"]
                .iter()
                .map(|p| FileEvent { uri: uri_of(&f.root.join(p)), kind: FileChangeType::Created })
                .collect();
        f.context.files_changed(&events);
        let outside_uri = uri_of(&target);
        f.documents.open(outside_uri.clone(), bait, 1, "python".into());
        f.context.document_opened(&outside_uri, bait);

        let gathered = gather_at(&f, "app/main.py", MAIN, 6);
        let shown: Vec<&str> = gathered.snippets.iter().map(|s| s.path.as_str()).collect();
        assert!(shown.contains(&"app/geometry.py"), "{shown:?}");
        for snippet in &gathered.snippets {
            let text = snippet.text();
            assert!(!text.contains("SECRET_TOKEN"), "{snippet:?}");
            assert!(!["app/linked.py", ".env", "private/plan.py"].contains(&snippet.path.as_str()));
        }
        let index = f.context.index.read().unwrap();
        let indexed: Vec<&str> = index.files().map(|(_, file)| file.display.as_str()).collect();
        // __init__, geometry, noise, main (its disk copy replaced by the open document) and
        // native/shapes.rs.
        assert_eq!(indexed.len(), 5, "{indexed:?}");
    }

    #[test]
    fn the_choice_stays_while_typing_nearby_and_follows_changes_elsewhere() {
        use tower_lsp_server::gen_lsp_types::{FileChangeType, FileEvent};
        let f = fixture(&[]);
        let main_uri = uri_of(&f.root.join("app/main.py"));
        let first = gather_at(&f, "app/main.py", MAIN, 6);
        // The user types on, naming what noise.py defines: chosen afresh, the context differs.
        let typed = MAIN.replace("        total += \n", "        total += unrelated(shapes)\n\n");
        let fresh = gather_at(&fixture(&[]), "app/main.py", &typed, 7);
        assert_ne!(fresh.snippets, first.snippets, "the premise: a new choice would differ");

        // In the editor the choice stays while the cursor is near: the prompt's start (and the
        // KV cache behind it) does not move under the user's typing.
        let change =
            tower_lsp_server::gen_lsp_types::TextDocumentContentChangeWholeDocument::new(typed);
        f.documents.apply_changes(&main_uri, 2, &[change.into()]).unwrap();
        f.context.document_changed(&main_uri, Some(0));
        let document = f.documents.snapshot(&main_uri).unwrap();
        let at = document.rope.line_to_char(8) - 1;
        assert_eq!(f.context.gather(&document, at, KEEP_FRONT).snippets, first.snippets);

        // A change elsewhere in the workspace: chosen again.
        let noise = f.root.join("app/noise.py");
        std::fs::write(&noise, "def unrelated(shapes):\n    return len(shapes)\n").unwrap();
        f.context.files_changed(&[FileEvent::new(uri_of(&noise), FileChangeType::Changed)]);
        let after = f.context.gather(&document, at, KEEP_FRONT);
        assert_ne!(after.snippets, first.snippets);
        assert!(after.snippets.iter().any(|s| s.text().contains("return len(shapes)")));
    }

    #[test]
    fn coming_back_to_an_earlier_place_finds_its_choice() {
        use tower_lsp_server::gen_lsp_types::TextDocumentContentChangeWholeDocument as Whole;
        let f = fixture(&[]);
        let uri = uri_of(&f.root.join("app/main.py"));
        // Place A (line 6) in `report`, place B far below it in another function.
        let filler: String = (0..30).map(|i| format!("# note {i}\n")).collect();
        let text = format!("{MAIN}{filler}def other(shapes):\n    return unrelated(shapes)\n");
        let b_line = text.lines().count() - 1;
        let at_a = gather_at(&f, "app/main.py", &text, 6);
        let document = f.documents.snapshot(&uri).unwrap();
        // Chosen at B (more than `STICKY_LINES` away), which used to replace A's choice.
        f.context.gather(&document, document.rope.line_to_char(b_line + 1) - 1, KEEP_FRONT);

        // Back at A, typing there: A's choice, though a fresh one would differ now.
        let typed = text.replace("        total += \n", "        total += unrelated(shapes)\n\n");
        let fresh = gather_at(&fixture(&[]), "app/main.py", &typed, 7);
        assert_ne!(fresh.snippets, at_a.snippets, "the premise: a new choice would differ");
        f.documents.apply_changes(&uri, 2, &[Whole::new(typed).into()]).unwrap();
        f.context.document_changed(&uri, Some(0));
        let document = f.documents.snapshot(&uri).unwrap();
        let back = f.context.gather(&document, document.rope.line_to_char(8) - 1, KEEP_FRONT);
        assert_eq!(back.snippets, at_a.snippets);
    }

    #[test]
    fn a_jump_keeps_the_latest_choice_unless_it_lacks_what_the_new_place_needs() {
        // Far enough apart that each place's query (40 lines up) sees none of the others' code.
        let filler: String = (0..45).map(|i| format!("# note {i}\n")).collect();
        // B uses nothing defined elsewhere (its words favour another window of geometry.py);
        // C calls `unrelated`, defined in `app/noise.py`.
        let text = format!(
            "{MAIN}{filler}def tally(items):\n    side = items.side\n    \n\n{filler}\
             def other(shapes):\n    found = unrelated(shapes)\n    return found\n"
        );
        let b_line = MAIN.lines().count() + 45 + 2;
        let c_line = text.lines().count() - 1;
        let fresh_b = gather_at(&fixture(&[]), "app/main.py", &text, b_line);
        let fresh_c = gather_at(&fixture(&[]), "app/main.py", &text, c_line);

        let f = fixture(&[]);
        let at_a = gather_at(&f, "app/main.py", &text, 6);
        assert_ne!(fresh_b.snippets, at_a.snippets, "the premise: a new choice at B would differ");
        let document = f.documents.snapshot(&uri_of(&f.root.join("app/main.py"))).unwrap();
        let at = |line: usize| document.rope.line_to_char(line + 1) - 1;
        // B: A's choice holds all B clearly needs (the imported `circle_area`), so it stays.
        assert_eq!(f.context.gather(&document, at(b_line), KEEP_FRONT).snippets, at_a.snippets);
        // C needs `unrelated`'s signature, which A's choice lacks: chosen afresh.
        assert_ne!(fresh_c.snippets, at_a.snippets);
        assert_eq!(f.context.gather(&document, at(c_line), KEEP_FRONT).snippets, fresh_c.snippets);

        // Switched off (`keepPromptFront: false`), B gets a choice of its own.
        let off = fixture(&[]);
        gather_at(&off, "app/main.py", &text, 6);
        let document = off.documents.snapshot(&uri_of(&off.root.join("app/main.py"))).unwrap();
        let at_b = document.rope.line_to_char(b_line + 1) - 1;
        assert_eq!(off.context.gather(&document, at_b, None).snippets, fresh_b.snippets);
    }

    #[test]
    fn a_choice_made_while_the_walk_runs_holds_until_it_ends() {
        let f = fixture(&[]);
        f.context.status.send_modify(|s| s.indexing = true);
        let during = gather_at(&f, "app/main.py", MAIN, 6);
        // A file the walk finds now, which ranks for this cursor.
        let extra = f.root.join("app/extra.py");
        let text = "def report_total(shapes):\n    total = 0\n    for shape in shapes:\n        radius = shape.radius\n        total += radius\n";
        write(&f.root, "app/extra.py", text);
        f.context.document_opened(&uri_of(&extra), text);
        let document = f.documents.snapshot(&uri_of(&f.root.join("app/main.py"))).unwrap();
        let at = document.rope.line_to_char(7) - 1;
        assert_eq!(f.context.gather(&document, at, KEEP_FRONT).snippets, during.snippets);

        f.context.publish(false, None);
        let after = f.context.gather(&document, at, KEEP_FRONT).snippets;
        assert_ne!(after, during.snippets, "chosen again once the walk ended");
        assert!(after.iter().any(|s| s.path == "app/extra.py"), "{after:?}");
    }

    #[test]
    fn the_index_follows_edits_of_open_documents() {
        let f = fixture(&[]);
        let geometry = f.root.join("app/geometry.py");
        let geometry_uri = uri_of(&geometry);
        let old = std::fs::read_to_string(&geometry).unwrap();
        f.documents.open(geometry_uri.clone(), &old, 1, "python".into());
        f.context.document_opened(&geometry_uri, &old);
        // The user renames the function in the editor, without saving.
        let change = tower_lsp_server::gen_lsp_types::TextDocumentContentChangeWholeDocument::new(
            old.replace("def circle_area(", "def disc_area("),
        );
        f.documents.apply_changes(&geometry_uri, 2, &[change.into()]).unwrap();
        f.context.document_changed(&geometry_uri, Some(0));
        assert_eq!(f.context.indexed_text(&geometry).unwrap(), old, "reindexed lazily");

        let renamed = MAIN.replace("circle_area", "disc_area");
        let gathered = gather_at(&f, "app/main.py", &renamed, 6);
        let text: String = gathered.snippets.iter().map(|s| s.text()).collect();
        assert!(text.contains("def disc_area(radius: float) -> float:"), "{text}");
        assert!(!text.contains("def circle_area"), "{text}");
        assert!(f.context.indexed_text(&geometry).unwrap().contains("def disc_area("));

        // Another edit, then a save: indexed at once, without waiting for a gather.
        let saved = old.replace("def circle_area(", "def round_area(");
        let change = tower_lsp_server::gen_lsp_types::TextDocumentContentChangeWholeDocument::new(
            saved.clone(),
        );
        f.documents.apply_changes(&geometry_uri, 3, &[change.into()]).unwrap();
        f.context.document_changed(&geometry_uri, Some(0));
        f.context.document_saved(&geometry_uri);
        assert_eq!(f.context.indexed_text(&geometry).unwrap(), saved);

        // Closed without saving: the disk copy is back.
        f.documents.close(&geometry_uri);
        f.context.document_closed(&geometry_uri);
        assert_eq!(f.context.indexed_text(&geometry).unwrap(), old);
    }
}
