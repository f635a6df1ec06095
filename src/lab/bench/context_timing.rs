//! `infill bench-context ROOT`: how the repository-context stage scales. Indexes ROOT as the
//! server's background walk does, then gathers context for cursors spread over the indexed
//! files (each opened as a document, cursor on its middle line) and reports walk time, index
//! size, memory, and gathering time per request (median, p95, max) — the figures behind the
//! 20 ms budget. No model is loaded.

use std::path::PathBuf;
use std::sync::Arc;

use super::latency_report::percentile;
use super::process;
use crate::context::RepoContext;
use crate::documents::DocumentStore;
use crate::workspace::Workspace;

#[derive(Debug, clap::Args)]
pub struct ContextBenchArgs {
    /// Workspace folder to index.
    pub root: PathBuf,
    /// Cursors to gather context for, spread evenly over the indexed files.
    #[arg(long, default_value_t = 200)]
    pub queries: usize,
}

pub fn run(args: ContextBenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.root.is_dir(), "{} is not a folder", args.root.display());
    let rss_before = process::peak_rss_kib(std::process::id());
    let documents = Arc::new(DocumentStore::new());
    let workspace = Workspace::new(vec![args.root.clone()]);
    let (context, _) = RepoContext::new(&workspace, &[], Arc::clone(&documents));
    let walk = context.index_now();
    let rss_indexed = process::peak_rss_kib(std::process::id());
    println!(
        "walk: {} files indexed, {} skipped, {:.1} MiB of text, {:.0} ms{}",
        walk.files,
        walk.skipped,
        walk.bytes as f64 / (1024.0 * 1024.0),
        walk.ms,
        if walk.full { " (memory bound reached)" } else { "" }
    );
    println!(
        "index memory (own estimate): {:.1} MiB, bound {} MiB",
        context.status().memory as f64 / (1024.0 * 1024.0),
        crate::context::index::MAX_INDEX_MEMORY / (1024 * 1024)
    );
    if let (Some(before), Some(after)) = (rss_before, rss_indexed) {
        println!(
            "peak RSS: {:.1} MiB before, {:.1} MiB after indexing",
            before as f64 / 1024.0,
            after as f64 / 1024.0
        );
    }

    let files = context.indexed_paths();
    anyhow::ensure!(!files.is_empty(), "nothing to index under {}", args.root.display());
    let step = (files.len() / args.queries.max(1)).max(1);
    let mut times = Vec::new();
    let mut snippets = 0;
    let mut cut_short = 0;
    for path in files.iter().step_by(step).take(args.queries) {
        let Ok(text) = std::fs::read_to_string(path) else { continue };
        let Ok(url) = url::Url::from_file_path(path) else { continue };
        let uri = tower_lsp_server::gen_lsp_types::Uri::from(url.to_string());
        documents.open(uri.clone(), &text, 1, String::new());
        context.document_opened(&uri, &text);
        let Some(document) = documents.snapshot(&uri) else { continue };
        let middle = document.rope.len_lines() / 2;
        // One request per file: no earlier place to keep a choice from.
        let cursor = document.rope.line_to_char(middle);
        let gathered = context.gather(&document, cursor, None);
        times.push(gathered.ms);
        snippets += gathered.snippets.len();
        cut_short += usize::from(gathered.figures.cut_short);
        documents.close(&uri);
        context.document_closed(&uri);
    }
    anyhow::ensure!(!times.is_empty(), "no file could be opened");
    println!(
        "gather: {} requests, median {:.2} ms, p95 {:.2} ms, max {:.2} ms; {:.1} snippets offered per request; {} cut short by the {} ms budget",
        times.len(),
        percentile(&times, 50.0).unwrap_or_default(),
        percentile(&times, 95.0).unwrap_or_default(),
        percentile(&times, 100.0).unwrap_or_default(),
        snippets as f64 / times.len() as f64,
        cut_short,
        crate::context::GATHER_BUDGET.as_millis()
    );
    Ok(())
}
