//! Ranking: which lines of other files the hole most likely needs, best first.
//!
//! Candidates come in three shapes:
//! - **signatures** of definitions the code near the cursor uses, of names the file imports,
//!   and of everything in the files it imports (with the enclosing class/impl line);
//! - **windows** of other files that share identifiers with the code around the cursor (BM25);
//! - **recent regions** the user edited or looked at in other documents.
//!
//! The query is the code above and below the cursor line, not the line itself, so typing on a
//! line does not change what is chosen (and the KV cache keeps it). Scores are deterministic;
//! the window scan stops at a deadline and what it did not reach is left out.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::identifiers::identifiers;
use super::index::{Index, IndexedFile, TermId};
use super::lang::{self, Definition, Import, Language};
use super::recent::RecentChunk;
use crate::prompt::{ContextSnippet, Stability};

/// Lines above and below the cursor line that make up the query.
const QUERY_ABOVE: usize = 40;
const QUERY_BELOW: usize = 10;
/// A name defined in more files than this is too ambiguous to follow (`new`, `get`, …).
const MAX_DEFINING_FILES: usize = 4;
/// Most windows and snippets handed on; the prompt's token budget takes fewer.
const MAX_WINDOWS: usize = 24;
const MAX_SNIPPETS: usize = 96;
/// Most signature lines taken from one imported file.
const MAX_SIGNATURES_PER_FILE: usize = 200;
/// Longest signature followed over continuation lines.
const MAX_SIGNATURE_LINES: usize = 8;

// Score weights. A signature of a name used right above the cursor outranks everything; the
// best similar window is worth about as much as a name the file imports.
const USED_NEAR_CURSOR: f32 = 3.0;
const IMPORTED_NAME: f32 = 2.0;
const IN_IMPORTED_FILE: f32 = 0.5;
const SIMILAR_WINDOW: f32 = 1.5;
const WINDOW_OF_IMPORTED_FILE: f32 = 0.3;
const RECENT_BASE: f32 = 0.8;
const RECENT_NEWEST: f32 = 0.3;

/// BM25 parameters (the usual ones).
const K1: f32 = 1.2;
const B: f32 = 0.75;

/// The document the cursor is in.
pub struct Cursor<'a> {
    /// Real path of the document when it is a file inside a root (excluded from candidates).
    pub path: Option<&'a Path>,
    /// Its workspace root (imports resolve against it).
    pub root: Option<&'a Path>,
    /// Its path relative to that root, as the model sees it.
    pub display: &'a str,
    pub text: &'a str,
    pub line: usize,
}

/// Figures for logs and the trace.
#[derive(Debug, Default, Clone, Copy)]
pub struct RankFigures {
    pub windows_scored: usize,
    pub imported_files: usize,
    /// The window scan hit the deadline.
    pub cut_short: bool,
    /// Leading snippets scored `STRONG` or more: what this cursor's code clearly needs.
    pub strong: usize,
}

/// A score no similar window or recent region reaches: only the signature of a name used right
/// by the cursor or imported by name scores this much.
pub const STRONG: f32 = IMPORTED_NAME;

struct Query<'a> {
    /// Identifier → distance in lines from the cursor line (nearest occurrence).
    distance: HashMap<&'a str, usize>,
}

impl<'a> Query<'a> {
    fn new(lines: &[&'a str], cursor_line: usize) -> Self {
        let mut distance: HashMap<&str, usize> = HashMap::new();
        let above = cursor_line.saturating_sub(QUERY_ABOVE)..cursor_line.min(lines.len());
        let below =
            (cursor_line + 1).min(lines.len())..(cursor_line + 1 + QUERY_BELOW).min(lines.len());
        for n in above.chain(below) {
            let d = n.abs_diff(cursor_line);
            for word in identifiers(lines[n]).filter(|w| w.len() >= 2) {
                distance.entry(word).and_modify(|old| *old = (*old).min(d)).or_insert(d);
            }
        }
        Self { distance }
    }

    /// Share of `text`'s identifiers that occur in the query.
    fn overlap(&self, text: &str) -> f32 {
        let words: HashSet<&str> = identifiers(text).filter(|w| w.len() >= 2).collect();
        if words.is_empty() {
            return 0.0;
        }
        words.iter().filter(|w| self.distance.contains_key(*w)).count() as f32 / words.len() as f32
    }
}

/// Ranks candidates for `cursor` from `index` and the `recent` regions of other documents.
pub fn rank(
    index: &Index,
    recent: &[RecentChunk],
    cursor: &Cursor,
    deadline: Instant,
) -> (Vec<ContextSnippet>, RankFigures) {
    let mut figures = RankFigures::default();
    let lines: Vec<&str> = cursor.text.lines().collect();
    let query = Query::new(&lines, cursor.line);
    let language = lang::language_of(cursor.display);
    let outline = cursor_outline(index, cursor, language);
    let own_names: HashSet<&str> = outline.definitions.iter().map(|d| d.name.as_str()).collect();
    let is_other = |path: &Path| cursor.path != Some(path);
    // Code in another language is noise to the model (a Rust test that mentions `fib` says
    // nothing about the Python being written); a family (TypeScript and JavaScript, C and C++)
    // counts as one language.
    let extension = |display: &str| display.rsplit_once('.').map(|(_, e)| e.to_string());
    let cursor_extension = extension(cursor.display);
    let same_language = |display: &str| match language {
        Language::OTHER => extension(display) == cursor_extension,
        _ => lang::language_of(display).same_family(language),
    };

    let imports = outline.imports;
    let imported = resolve_imports(index, cursor.root, &imports, cursor.path);
    figures.imported_files = imported.len();

    // Signatures, scored per (file, definition line).
    let mut signatures: HashMap<(&Path, usize), f32> = HashMap::new();
    for (&name, &distance) in &query.distance {
        if own_names.contains(name) {
            continue;
        }
        let files: Vec<&PathBuf> = index
            .defined_in(name)
            .iter()
            .filter(|p| is_other(p) && index.file(p).is_some_and(|f| same_language(&f.display)))
            .collect();
        if files.is_empty() || files.len() > MAX_DEFINING_FILES {
            continue;
        }
        let points = USED_NEAR_CURSOR / (1.0 + distance as f32 / 8.0) / files.len() as f32;
        credit_definitions_of(&mut signatures, index, &files, name, points);
    }
    for import in &imports {
        let resolved: Vec<&PathBuf> = imported
            .iter()
            .filter(|(_, from)| from.contains(&import.line))
            .map(|(p, _)| p)
            .collect();
        for name in &import.names {
            let files: Vec<&PathBuf> = index
                .defined_in(name)
                .iter()
                .filter(|p| is_other(p) && (resolved.is_empty() || resolved.contains(p)))
                .collect();
            if files.is_empty() || files.len() > MAX_DEFINING_FILES {
                continue;
            }
            let points = IMPORTED_NAME / files.len() as f32;
            credit_definitions_of(&mut signatures, index, &files, name, points);
        }
    }
    for path in imported.keys() {
        let Some(file) = index.file(path) else { continue };
        for definition in file.definitions.iter().take(MAX_SIGNATURES_PER_FILE) {
            let signature = signature_lines(file, definition);
            let text: String =
                signature.iter().map(|&n| file.line(n)).collect::<Vec<_>>().join("\n");
            let points = IN_IMPORTED_FILE * (1.0 + query.overlap(&text));
            credit(&mut signatures, path.as_path(), definition.line, points);
        }
    }

    let mut scored: Vec<(f32, ContextSnippet)> = Vec::new();
    for ((path, line), score) in signatures {
        let Some(file) = index.file(path) else { continue };
        let Some(definition) = file.definitions.iter().find(|d| d.line == line) else { continue };
        let mut numbers = signature_lines(file, definition);
        if let Some(parent) = enclosing_line(file, definition) {
            numbers.insert(0, parent);
        }
        scored.push((score, snippet(file, numbers)));
    }

    // Windows similar to the query, imported files first so that a deadline cuts the rest.
    let terms: HashMap<TermId, f32> = query
        .distance
        .keys()
        .filter_map(|word| index.term(word))
        .map(|term| (term, idf(index, term)))
        .collect();
    let average = index.average_window_length();
    let mut windows: Vec<(f32, &Path, usize, usize)> = Vec::new();
    let order = imported
        .keys()
        .map(|p| p.as_path())
        .chain(index.files().map(|(p, _)| p.as_path()).filter(|p| !imported.contains_key(*p)));
    for (visited, path) in order.enumerate() {
        if visited % 32 == 31 && Instant::now() > deadline {
            figures.cut_short = true;
            break;
        }
        if !is_other(path) {
            continue;
        }
        let Some(file) = index.file(path) else { continue };
        if !same_language(&file.display) {
            continue;
        }
        for window in &file.windows {
            figures.windows_scored += 1;
            let mut score = 0.0;
            for (term, count) in &window.terms {
                if let Some(idf) = terms.get(term) {
                    let tf = f32::from(*count);
                    let norm = K1 * (1.0 - B + B * window.length as f32 / average);
                    score += idf * tf * (K1 + 1.0) / (tf + norm);
                }
            }
            if score > 0.0 {
                windows.push((score, path, window.first_line, window.end_line));
            }
        }
    }
    // Only the best few are kept: select them before sorting (a big workspace scores 100,000s).
    let by_score = |a: &(f32, &Path, usize, usize), b: &(f32, &Path, usize, usize)| {
        b.0.total_cmp(&a.0).then_with(|| (a.1, a.2).cmp(&(b.1, b.2)))
    };
    if windows.len() > MAX_WINDOWS {
        windows.select_nth_unstable_by(MAX_WINDOWS, by_score);
        windows.truncate(MAX_WINDOWS);
    }
    windows.sort_by(by_score);
    let best_window = windows.first().map_or(1.0, |w| w.0);
    for (score, path, first, end) in windows {
        let Some(file) = index.file(path) else { continue };
        let bonus = if imported.contains_key(path) { WINDOW_OF_IMPORTED_FILE } else { 0.0 };
        scored.push((
            SIMILAR_WINDOW * score / best_window + bonus,
            snippet(file, (first..end).collect()),
        ));
    }

    for (age, chunk) in recent.iter().enumerate() {
        if !same_language(&chunk.display) {
            continue;
        }
        let text = chunk.lines.join("\n");
        let newness = 1.0 - age as f32 / recent.len().max(1) as f32;
        let score = RECENT_BASE * (1.0 + query.overlap(&text)) + RECENT_NEWEST * newness;
        let lines = chunk
            .lines
            .iter()
            .enumerate()
            .map(|(i, l)| (chunk.first_line + i, l.clone()))
            .collect();
        scored.push((
            score,
            ContextSnippet { path: chunk.display.clone(), lines, stability: Stability::Recent },
        ));
    }

    scored.sort_by(|a, b| {
        b.0.total_cmp(&a.0).then_with(|| {
            let key = |s: &ContextSnippet| (s.path.clone(), s.lines.first().map(|l| l.0));
            key(&a.1).cmp(&key(&b.1))
        })
    });
    scored.truncate(MAX_SNIPPETS);
    figures.strong = scored.iter().take_while(|(score, _)| *score >= STRONG).count();
    (scored.into_iter().map(|(_, s)| s).collect(), figures)
}

/// Largest cursor document parsed on the request path (about 8 ms on a slow 2-core machine);
/// a larger one's definitions and imports are taken from its index entry, parsed off the
/// request path when it was opened, saved or last left, so the gather budget holds.
const CURSOR_PARSE_BYTES: usize = 32 * 1024;

/// The definitions and imports of the cursor's document.
fn cursor_outline(index: &Index, cursor: &Cursor, language: Language) -> lang::Outline {
    if cursor.text.len() <= CURSOR_PARSE_BYTES {
        return lang::outline(language, cursor.display, cursor.text);
    }
    match cursor.path.and_then(|path| index.file(path)) {
        Some(file) => {
            lang::Outline { definitions: file.definitions.clone(), imports: file.imports.clone() }
        }
        None => lang::Outline::default(),
    }
}

fn credit<'a>(
    signatures: &mut HashMap<(&'a Path, usize), f32>,
    path: &'a Path,
    line: usize,
    points: f32,
) {
    *signatures.entry((path, line)).or_insert(0.0) += points;
}

/// Credits `points` to every definition of `name` in `files`.
fn credit_definitions_of<'a>(
    signatures: &mut HashMap<(&'a Path, usize), f32>,
    index: &'a Index,
    files: &[&'a PathBuf],
    name: &str,
    points: f32,
) {
    for path in files {
        let Some(file) = index.file(path) else { continue };
        for definition in file.definitions.iter().filter(|d| d.name == name) {
            credit(signatures, path.as_path(), definition.line, points);
        }
    }
}

fn idf(index: &Index, term: TermId) -> f32 {
    let n = index.window_count() as f32;
    let df = index.document_frequency(term) as f32;
    (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
}

/// The files each import statement resolves to, with the lines of the statements that import
/// them. Exact candidates: the first that is indexed; suffix candidates: every indexed file
/// whose path ends with one.
fn resolve_imports(
    index: &Index,
    root: Option<&Path>,
    imports: &[Import],
    current: Option<&Path>,
) -> BTreeMap<PathBuf, Vec<usize>> {
    let mut resolved: BTreeMap<PathBuf, Vec<usize>> = BTreeMap::new();
    let Some(root) = root else { return resolved };
    let mut add = |path: PathBuf, line: usize| {
        if Some(path.as_path()) != current {
            resolved.entry(path).or_default().push(line);
        }
    };
    for import in imports {
        for candidate in &import.candidates {
            if let Some(folder) = candidate.strip_suffix('/') {
                let folder = root.join(folder);
                let inside: Vec<PathBuf> = index
                    .files()
                    .filter(|(p, _)| p.parent() == Some(folder.as_path()))
                    .map(|(p, _)| p.clone())
                    .collect();
                if !inside.is_empty() {
                    inside.into_iter().for_each(|p| add(p, import.line));
                    break;
                }
            } else {
                let path = root.join(candidate);
                if index.file(&path).is_some() {
                    add(path, import.line);
                    break;
                }
            }
        }
        if import.suffix_candidates.is_empty() {
            continue;
        }
        let matches: Vec<PathBuf> = index
            .files()
            .filter(|(_, file)| {
                import.suffix_candidates.iter().any(|suffix| ends_with_path(&file.display, suffix))
            })
            .map(|(p, _)| p.clone())
            .collect();
        matches.into_iter().for_each(|p| add(p, import.line));
    }
    resolved
}

/// Whether `display` ends with the path `suffix` at a `/` boundary; a suffix ending in `/` names
/// the folder the file is directly in.
fn ends_with_path(display: &str, suffix: &str) -> bool {
    let (subject, wanted) = match suffix.strip_suffix('/') {
        Some(folder) => match display.rsplit_once('/') {
            Some((parent, _)) => (parent, folder),
            None => return false,
        },
        None => (display, suffix),
    };
    !wanted.is_empty()
        && (subject == wanted
            || subject.strip_suffix(wanted).is_some_and(|head| head.ends_with('/')))
}

/// The lines of a definition's signature: its first line and continuation lines until the
/// header ends (`:` in Python, `{`, `;` or `=` elsewhere), at most `MAX_SIGNATURE_LINES`.
fn signature_lines(file: &IndexedFile, definition: &Definition) -> Vec<usize> {
    let mut numbers = Vec::new();
    let mut depth: i32 = 0;
    for n in definition.line..(definition.line + MAX_SIGNATURE_LINES).min(file.line_count()) {
        let line = file.line(n);
        numbers.push(n);
        for c in line.chars() {
            match c {
                '(' | '[' => depth += 1,
                ')' | ']' => depth -= 1,
                _ => {}
            }
        }
        let end = line.trim_end();
        let closed = end.ends_with(':')
            || end.ends_with('{')
            || end.ends_with(';')
            || end.contains(" = ")
            || end.contains("=>");
        if depth <= 0 && (closed || n > definition.line && !end.ends_with(',')) {
            break;
        }
    }
    numbers
}

/// The nearest line above a nested definition that is indented less: its class, impl or
/// module header, which says what the method belongs to.
fn enclosing_line(file: &IndexedFile, definition: &Definition) -> Option<usize> {
    if definition.indent == 0 {
        return None;
    }
    (definition.line.saturating_sub(2000)..definition.line).rev().find(|&n| {
        let line = file.line(n);
        !line.trim().is_empty() && indentation(line) < definition.indent
    })
}

fn indentation(line: &str) -> usize {
    line.chars().take_while(|c| c.is_whitespace()).map(|c| if c == '\t' { 4 } else { 1 }).sum()
}

fn snippet(file: &IndexedFile, numbers: Vec<usize>) -> ContextSnippet {
    ContextSnippet {
        path: file.display.clone(),
        lines: numbers.into_iter().map(|n| (n, file.line(n).to_string())).collect(),
        stability: file.origin,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_suffixes_match_at_segment_boundaries() {
        assert!(ends_with_path("src/pkg/mod.py", "pkg/mod.py"));
        assert!(ends_with_path("pkg/mod.py", "pkg/mod.py"));
        assert!(!ends_with_path("src/xpkg/mod.py", "pkg/mod.py"));
        assert!(ends_with_path("internal/util/a.go", "util/"));
        assert!(!ends_with_path("internal/util/sub/a.go", "util/"));
        assert!(!ends_with_path("a.go", "util/"));
    }
}
