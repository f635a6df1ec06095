//! Background indexing of the workspace: walks every root with the `ignore` crate (so
//! `.gitignore`, `.ignore` and hidden files are respected), admits files through the
//! `FileFilter`, analyses (parses) them off the lock, a batch at a time on up to
//! `ANALYSIS_THREADS` threads, and inserts them in small batches, so completions never wait for
//! the walk.

use std::path::PathBuf;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use super::filter::{Admitted, FileFilter, MAX_FILE_BYTES, SKIPPED_FOLDERS};
use super::index::{self, Index};
use crate::prompt::Stability;

/// Files analysed before they are inserted under one write lock.
const BATCH: usize = 32;

/// Most threads that analyse a batch: parsing is most of the walk's time, and spreads evenly
/// over files.
const ANALYSIS_THREADS: usize = 4;

#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WalkReport {
    pub files: usize,
    pub bytes: usize,
    /// Files seen but not indexed (filtered, unreadable, over the memory bound).
    pub skipped: usize,
    /// The memory bound stopped the walk early.
    pub full: bool,
    pub ms: f64,
}

/// Indexes every admitted file under the filter's roots into `index`; returns early when `stop`
/// is raised. Open documents already in the index keep their editor text.
pub fn index_workspace(
    filter: &FileFilter,
    index: &RwLock<Index>,
    stop: &AtomicBool,
) -> WalkReport {
    let started = Instant::now();
    let mut report = WalkReport::default();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(ANALYSIS_THREADS));
    let mut read: Vec<(Admitted, String)> = Vec::with_capacity(BATCH);
    'roots: for root in filter.roots() {
        let walker = ignore::WalkBuilder::new(root)
            .hidden(true)
            .git_ignore(true)
            .git_exclude(true)
            .git_global(false)
            .require_git(false)
            .follow_links(false)
            .max_filesize(Some(MAX_FILE_BYTES))
            .filter_entry(|entry| {
                let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
                !(is_dir && SKIPPED_FOLDERS.iter().any(|f| entry.file_name() == *f))
            })
            .build();
        for entry in walker {
            if stop.load(Ordering::Relaxed) {
                break 'roots;
            }
            let Ok(entry) = entry else { continue };
            // Symlinks are not followed: a link can point anywhere.
            if !entry.file_type().is_some_and(|t| t.is_file()) {
                continue;
            }
            let analysed = filter.admit(entry.path()).and_then(|admitted| {
                let text = filter.read(&admitted)?;
                Ok((admitted, text))
            });
            let Ok((admitted, text)) = analysed else {
                report.skipped += 1;
                continue;
            };
            read.push((admitted, text));
            if read.len() == BATCH {
                let mut batch = analyse_all(std::mem::take(&mut read), threads);
                if !flush(index, &mut batch, &mut report) {
                    break 'roots;
                }
            }
        }
    }
    let mut batch = analyse_all(read, threads);
    flush(index, &mut batch, &mut report);
    report.ms = started.elapsed().as_secs_f64() * 1000.0;
    report
}

/// The files analysed, in their order, split over `threads` scoped threads.
fn analyse_all(
    files: Vec<(Admitted, String)>,
    threads: usize,
) -> Vec<(PathBuf, index::AnalysedFile, usize)> {
    let analyse = |(admitted, text): (Admitted, String)| {
        let bytes = text.len();
        let file = index::analyse(admitted.display, admitted.root, Stability::Workspace, text);
        (admitted.path, file, bytes)
    };
    if threads <= 1 || files.len() <= 1 {
        return files.into_iter().map(analyse).collect();
    }
    let per_thread = files.len().div_ceil(threads);
    let mut chunks: Vec<Vec<(Admitted, String)>> = Vec::new();
    let mut files = files.into_iter().peekable();
    while files.peek().is_some() {
        chunks.push(files.by_ref().take(per_thread).collect());
    }
    std::thread::scope(|scope| {
        let workers: Vec<_> = chunks
            .into_iter()
            .map(|chunk| scope.spawn(move || chunk.into_iter().map(analyse).collect::<Vec<_>>()))
            .collect();
        // A worker that panicked loses its files, not the walk.
        workers.into_iter().filter_map(|w| w.join().ok()).flatten().collect()
    })
}

/// Inserts the batch; `false` once the index is full.
fn flush(
    index: &RwLock<Index>,
    batch: &mut Vec<(PathBuf, index::AnalysedFile, usize)>,
    report: &mut WalkReport,
) -> bool {
    let Ok(mut index) = index.write() else { return false };
    for (path, file, bytes) in batch.drain(..) {
        if index.file(&path).is_some_and(|f| f.origin == Stability::OpenDocument) {
            continue;
        }
        if !index.has_room() {
            report.full = true;
            report.skipped += 1;
            continue;
        }
        index.insert(path, file);
        report.files += 1;
        report.bytes += bytes;
    }
    !report.full
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_walk_respects_gitignore_hidden_and_skipped_folders() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let write = |relative: &str, text: &str| {
            let path = root.join(relative);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        write("src/main.py", "from .util import helper\n");
        write("src/util.py", "def helper():\n    return 1\n");
        write(".gitignore", "generated/\n");
        write("generated/out.py", "X = 1\n");
        write(".hidden/secret.py", "Y = 2\n");
        write("node_modules/lib/index.js", "module.exports = 1\n");
        write(".env", "TOKEN=abc\n");
        write("README.md", "# readme\n");
        let (filter, _) = FileFilter::new(&[root.to_path_buf()], &[]);
        let index = RwLock::new(Index::default());
        let report = index_workspace(&filter, &index, &AtomicBool::new(false));
        let index = index.read().unwrap();
        let mut shown: Vec<&str> = index.files().map(|(_, f)| f.display.as_str()).collect();
        shown.sort();
        assert_eq!(shown, ["src/main.py", "src/util.py"]);
        assert_eq!(report.files, 2);
        assert!(!report.full);
    }

    #[test]
    fn the_walk_stops_at_the_memory_bound_and_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let body: String =
            (0..100).map(|i| format!("def f{i}(x):\n    return x + {i}\n")).collect();
        for n in 0..20 {
            std::fs::write(root.join(format!("m{n:02}.py")), &body).unwrap();
        }
        let (filter, _) = FileFilter::new(&[root.to_path_buf()], &[]);
        // Measure one file, then allow a little under five.
        let one = {
            let index = RwLock::new(Index::default());
            std::fs::create_dir(root.join("one")).unwrap();
            std::fs::write(root.join("one/m.py"), &body).unwrap();
            let (one_filter, _) = FileFilter::new(&[root.join("one")], &[]);
            index_workspace(&one_filter, &index, &AtomicBool::new(false));
            std::fs::remove_dir_all(root.join("one")).unwrap();
            index.read().unwrap().memory()
        };
        assert!(one > 0);
        let limit = one * 5 - one / 2;
        let index = RwLock::new(Index::with_memory_limit(limit));
        let report = index_workspace(&filter, &index, &AtomicBool::new(false));
        let index = index.read().unwrap();
        assert!(report.full, "the bound was reached and reported");
        assert_eq!((report.files, index.len()), (5, 5), "files go in while the index is under it");
        assert_eq!(report.skipped, 15);
        // Checked before each insert: at most one file over the bound, never more.
        assert!(index.memory() < limit + one, "{} of {limit}", index.memory());
    }
}
