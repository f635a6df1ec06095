//! Repository context in the prompt: snippets of other files, ranked best first by
//! `context::gather`, kept while they fit the token budget, then laid out one entry per file in
//! a stable order so that the engine's KV cache keeps them between keystrokes.

use std::collections::BTreeMap;

use super::ContextFile;
use super::budget::TokenCounter;

/// Lines of another file that may help the model, as `context::gather` ranked them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextSnippet {
    /// Path as the model sees it (relative to its workspace root).
    pub path: String,
    /// `(0-based line, text without its line break)`, ascending. Not necessarily contiguous: a
    /// method's signature comes with its class line.
    pub lines: Vec<(usize, String)>,
    pub stability: Stability,
}

impl ContextSnippet {
    pub fn text(&self) -> String {
        let mut text = String::new();
        for (_, line) in &self.lines {
            text.push_str(line);
            text.push('\n');
        }
        text
    }
}

/// How long a snippet's text is likely to stay the same; steadier files go first in the prompt,
/// so that a change in a later one keeps the cached tokens in front of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stability {
    /// A file on disk that no editor buffer changes.
    Workspace,
    /// An open document (the user may edit it).
    OpenDocument,
    /// A region the user just edited or looked at.
    Recent,
}

/// Keeps the snippets, in rank order, whose text fits in `budget` tokens (a snippet that does
/// not fit is skipped and smaller ones after it may still go in), merges them per file (lines
/// in document order, each line once) and orders the files by stability, then path.
pub fn fit(
    snippets: &[ContextSnippet],
    budget: usize,
    counter: &mut impl TokenCounter,
) -> Vec<ContextFile> {
    struct Entry<'a> {
        stability: Stability,
        lines: BTreeMap<usize, &'a str>,
    }
    let mut files: BTreeMap<&str, Entry> = BTreeMap::new();
    let mut used = 0;
    for snippet in snippets {
        if budget.saturating_sub(used) == 0 {
            break;
        }
        // The path line and separator are paid once per file.
        let header = if files.contains_key(snippet.path.as_str()) {
            0
        } else {
            counter.count(&snippet.path) + 2
        };
        let cost = header + counter.count(&snippet.text());
        if used + cost > budget {
            continue;
        }
        used += cost;
        let entry = files
            .entry(&snippet.path)
            .or_insert_with(|| Entry { stability: snippet.stability, lines: BTreeMap::new() });
        entry.stability = entry.stability.min(snippet.stability);
        for (line, text) in &snippet.lines {
            entry.lines.insert(*line, text);
        }
    }
    let mut ordered: Vec<(&str, Entry)> = files.into_iter().collect();
    ordered.sort_by(|(a_path, a), (b_path, b)| (a.stability, a_path).cmp(&(b.stability, b_path)));
    ordered
        .into_iter()
        .map(|(path, entry)| {
            let mut text = String::new();
            for line in entry.lines.values() {
                text.push_str(line);
                text.push('\n');
            }
            ContextFile { path: path.to_string(), text }
        })
        .collect()
}

/// The line-comment marker of a file's language, for families without a repository format,
/// which get other files as commented path headers in front of the prefix.
pub fn comment_marker(path: &str) -> &'static str {
    let extension = path.rsplit_once('.').map_or("", |(_, e)| e);
    match extension {
        "py" | "pyi" | "rb" | "sh" | "bash" | "zsh" | "pl" | "r" | "toml" | "yaml" | "yml"
        | "nim" | "jl" | "ex" | "exs" | "cr" => "#",
        "lua" | "sql" | "hs" | "elm" | "ada" => "--",
        "lisp" | "clj" | "scm" | "el" => ";;",
        _ => "//",
    }
}

#[cfg(test)]
mod tests {
    use super::super::budget::tests::WordCounter;
    use super::*;

    fn snippet(path: &str, lines: &[(usize, &str)], stability: Stability) -> ContextSnippet {
        ContextSnippet {
            path: path.into(),
            lines: lines.iter().map(|(n, t)| (*n, t.to_string())).collect(),
            stability,
        }
    }

    #[test]
    fn snippets_are_kept_in_rank_order_while_they_fit_and_merged_per_file() {
        let snippets = [
            snippet("b.py", &[(10, "def used_here(x):")], Stability::Workspace),
            snippet("a.py", &[(3, "a b c d e f g h i j k l")], Stability::Workspace),
            snippet(
                "b.py",
                &[(2, "class Holder:"), (10, "def used_here(x):")],
                Stability::Workspace,
            ),
            snippet("c.py", &[(0, "tiny")], Stability::Recent),
        ];
        // WordCounter: words + line breaks. b.py: header 3 + 3; a.py (3 + 13) does not fit in
        // the 11 left; the second b.py snippet costs 6 (no header), c.py 3 + 2: 17 in all.
        let files = fit(&snippets, 17, &mut WordCounter { calls: 0 });
        assert_eq!(
            files,
            vec![
                ContextFile {
                    path: "b.py".into(),
                    text: "class Holder:\ndef used_here(x):\n".into()
                },
                ContextFile { path: "c.py".into(), text: "tiny\n".into() },
            ]
        );
    }

    #[test]
    fn steadier_files_come_first_whatever_their_rank() {
        let snippets = [
            snippet("z_recent.rs", &[(0, "fn z() {}")], Stability::Recent),
            snippet("m_open.rs", &[(0, "fn m() {}")], Stability::OpenDocument),
            snippet("y_disk.rs", &[(0, "fn y() {}")], Stability::Workspace),
            snippet("b_disk.rs", &[(0, "fn b() {}")], Stability::Workspace),
        ];
        let paths: Vec<String> = fit(&snippets, 1000, &mut WordCounter { calls: 0 })
            .into_iter()
            .map(|f| f.path)
            .collect();
        assert_eq!(paths, ["b_disk.rs", "y_disk.rs", "m_open.rs", "z_recent.rs"]);
    }

    #[test]
    fn a_zero_budget_keeps_nothing() {
        let snippets = [snippet("a.py", &[(0, "x")], Stability::Workspace)];
        assert!(fit(&snippets, 0, &mut WordCounter { calls: 0 }).is_empty());
    }
}
