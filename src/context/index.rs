//! The index of workspace files: per file its text, definitions, imports and windows of
//! identifier counts; across files the term document frequencies (for BM25) and a symbol table
//! (name → files defining it). Updated one file at a time; bounded in memory.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use super::identifiers::identifiers;
use super::lang::{self, Definition, Import, Language};
use crate::prompt::Stability;

/// Lines per similarity window, and the step between window starts (windows overlap by half,
/// so a region of interest sits well inside one of them).
pub const WINDOW_LINES: usize = 16;
const WINDOW_STEP: usize = 8;

/// Most memory the index may take (its own estimate: text, line starts, window terms,
/// definitions); workspace files beyond it are left out (open documents always go in). About
/// 3.5 times the text; 128 MiB holds some 35 MiB of source.
pub const MAX_INDEX_MEMORY: usize = 128 * 1024 * 1024;

pub type TermId = u32;

/// A stretch of a file's lines, described by the identifiers in it.
#[derive(Debug, Clone)]
pub struct Window {
    pub first_line: usize,
    pub end_line: usize,
    /// `(term, count)`, sorted by term.
    pub terms: Vec<(TermId, u16)>,
    /// Identifiers in the window (with repeats): BM25's document length.
    pub length: u32,
}

#[derive(Debug)]
pub struct IndexedFile {
    /// Path relative to its root, `/`-separated: what the model sees.
    pub display: String,
    pub root: PathBuf,
    pub language: Language,
    pub origin: Stability,
    pub text: String,
    line_starts: Vec<usize>,
    pub definitions: Vec<Definition>,
    pub imports: Vec<Import>,
    pub windows: Vec<Window>,
    /// Estimated heap bytes of this entry.
    memory: usize,
}

impl IndexedFile {
    fn estimate_memory(&self) -> usize {
        let windows: usize =
            self.windows.iter().map(|w| w.terms.len() * size_of::<(TermId, u16)>() + 48).sum();
        let definitions: usize = self.definitions.iter().map(|d| d.name.len() + 64).sum();
        let imports: usize = self
            .imports
            .iter()
            .map(|i| {
                64 + i
                    .candidates
                    .iter()
                    .chain(&i.suffix_candidates)
                    .map(|c| c.len() + 24)
                    .sum::<usize>()
            })
            .sum();
        self.text.len()
            + self.display.len()
            + self.line_starts.len() * 8
            + windows
            + definitions
            + imports
    }

    pub fn line_count(&self) -> usize {
        self.line_starts.len()
    }

    /// Line `n` without its line break ("" past the end).
    pub fn line(&self, n: usize) -> &str {
        let Some(&start) = self.line_starts.get(n) else { return "" };
        let end = self.line_starts.get(n + 1).copied().unwrap_or(self.text.len());
        self.text[start..end].trim_end_matches(['\n', '\r'])
    }
}

pub struct Index {
    /// By real path; a `BTreeMap` so that every scan visits files in the same order.
    files: BTreeMap<PathBuf, IndexedFile>,
    term_ids: HashMap<String, TermId>,
    /// In how many windows each term occurs.
    document_frequency: HashMap<TermId, u32>,
    window_count: usize,
    window_length_total: u64,
    /// Definition name → files defining it.
    definitions: HashMap<String, Vec<PathBuf>>,
    bytes: usize,
    memory: usize,
    /// `MAX_INDEX_MEMORY`; smaller in tests, to reach the bound with a few files.
    memory_limit: usize,
    /// Bumped by every change, so that callers can tell whether what they computed still holds.
    generation: u64,
}

impl Default for Index {
    fn default() -> Self {
        Self::with_memory_limit(MAX_INDEX_MEMORY)
    }
}

impl Index {
    pub fn with_memory_limit(memory_limit: usize) -> Self {
        Self {
            files: BTreeMap::new(),
            term_ids: HashMap::new(),
            document_frequency: HashMap::new(),
            window_count: 0,
            window_length_total: 0,
            definitions: HashMap::new(),
            bytes: 0,
            memory: 0,
            memory_limit,
            generation: 0,
        }
    }

    pub fn file(&self, path: &Path) -> Option<&IndexedFile> {
        self.files.get(path)
    }

    pub fn files(&self) -> impl Iterator<Item = (&PathBuf, &IndexedFile)> {
        self.files.iter()
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Text bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Estimated heap bytes held.
    pub fn memory(&self) -> usize {
        self.memory
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    pub fn term(&self, text: &str) -> Option<TermId> {
        self.term_ids.get(text).copied()
    }

    pub fn document_frequency(&self, term: TermId) -> u32 {
        self.document_frequency.get(&term).copied().unwrap_or(0)
    }

    pub fn window_count(&self) -> usize {
        self.window_count
    }

    pub fn average_window_length(&self) -> f32 {
        if self.window_count == 0 {
            return 1.0;
        }
        (self.window_length_total as f32 / self.window_count as f32).max(1.0)
    }

    /// Files that define `name`.
    pub fn defined_in(&self, name: &str) -> &[PathBuf] {
        self.definitions.get(name).map_or(&[], Vec::as_slice)
    }

    /// Whether another workspace file may still go in (the memory bound is not reached).
    pub fn has_room(&self) -> bool {
        self.memory < self.memory_limit
    }

    /// Adds or replaces a file. The text is analysed here, so callers should prefer to build an
    /// `IndexedFile` with `analyse` outside any lock and then `insert` it.
    pub fn insert(&mut self, path: PathBuf, file: AnalysedFile) {
        self.remove(&path);
        let AnalysedFile { mut file, window_terms } = file;
        let mut windows = Vec::with_capacity(window_terms.len());
        for (first_line, end_line, words) in window_terms {
            let mut counts: HashMap<TermId, u16> = HashMap::new();
            let mut length = 0u32;
            for word in words {
                let next_id = self.term_ids.len() as TermId;
                let id = *self.term_ids.entry(word).or_insert(next_id);
                let count = counts.entry(id).or_insert(0);
                *count = count.saturating_add(1);
                length += 1;
            }
            let mut terms: Vec<(TermId, u16)> = counts.into_iter().collect();
            terms.sort_unstable();
            for (term, _) in &terms {
                *self.document_frequency.entry(*term).or_insert(0) += 1;
            }
            self.window_count += 1;
            self.window_length_total += u64::from(length);
            windows.push(Window { first_line, end_line, terms, length });
        }
        file.windows = windows;
        for definition in &file.definitions {
            let files = self.definitions.entry(definition.name.clone()).or_default();
            if !files.contains(&path) {
                files.push(path.clone());
            }
        }
        file.memory = file.estimate_memory();
        self.bytes += file.text.len();
        self.memory += file.memory;
        self.generation += 1;
        self.files.insert(path, file);
    }

    pub fn remove(&mut self, path: &Path) -> Option<IndexedFile> {
        let file = self.files.remove(path)?;
        for window in &file.windows {
            for (term, _) in &window.terms {
                if let Some(df) = self.document_frequency.get_mut(term) {
                    *df = df.saturating_sub(1);
                    if *df == 0 {
                        self.document_frequency.remove(term);
                    }
                }
            }
            self.window_count -= 1;
            self.window_length_total -= u64::from(window.length);
        }
        for definition in &file.definitions {
            if let Some(files) = self.definitions.get_mut(&definition.name) {
                files.retain(|p| p != path);
                if files.is_empty() {
                    self.definitions.remove(&definition.name);
                }
            }
        }
        self.bytes -= file.text.len();
        self.memory -= file.memory;
        self.generation += 1;
        Some(file)
    }
}

/// A file analysed outside the index lock, ready for `Index::insert`.
pub struct AnalysedFile {
    file: IndexedFile,
    window_terms: Vec<(usize, usize, Vec<String>)>,
}

/// Splits `text` into lines, definitions, imports and windows of identifiers. Pure and
/// lock-free: the walker runs it on its own thread, the server on the document's new text.
pub fn analyse(display: String, root: PathBuf, origin: Stability, text: String) -> AnalysedFile {
    let language = lang::language_of(&display);
    let mut line_starts = vec![0];
    line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1).filter(|&i| i < text.len()));
    // Parsed here, once; only what it found is kept (never the syntax tree).
    let lang::Outline { definitions, imports } = lang::outline(language, &display, &text);
    let line_count = line_starts.len();
    let mut window_terms = Vec::new();
    let mut first = 0;
    while first < line_count {
        let end = (first + WINDOW_LINES).min(line_count);
        let start_byte = line_starts[first];
        let end_byte = line_starts.get(end).copied().unwrap_or(text.len());
        let words: Vec<String> = identifiers(&text[start_byte..end_byte])
            .filter(|w| w.len() >= 2)
            .map(str::to_string)
            .collect();
        window_terms.push((first, end, words));
        if end == line_count {
            break;
        }
        first += WINDOW_STEP;
    }
    let file = IndexedFile {
        display,
        root,
        language,
        origin,
        text,
        line_starts,
        definitions,
        imports,
        windows: Vec::new(),
        memory: 0,
    };
    AnalysedFile { file, window_terms }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(index: &mut Index, name: &str, text: &str) {
        let analysed =
            analyse(name.into(), PathBuf::from("/r"), Stability::Workspace, text.to_string());
        index.insert(PathBuf::from("/r").join(name), analysed);
    }

    #[test]
    fn insert_and_remove_keep_the_statistics_exact() {
        let mut index = Index::default();
        let long: String = (0..30).map(|i| format!("value_{i} = compute(value_{i})\n")).collect();
        add(&mut index, "a.py", "def compute(x):\n    return x\n");
        add(&mut index, "b.py", &long);
        // a.py: one window; b.py: 30 lines → windows at 0, 8, 16 (the last reaches the end).
        assert_eq!(index.window_count(), 4);
        let compute = index.term("compute").unwrap();
        assert_eq!(index.document_frequency(compute), 4);
        assert_eq!(index.defined_in("compute"), [PathBuf::from("/r/a.py")]);
        let file = index.file(Path::new("/r/b.py")).unwrap();
        assert_eq!(file.line(29), "value_29 = compute(value_29)");
        assert_eq!(file.line_count(), 30);

        // Replacing a file first takes its old contribution out.
        add(&mut index, "a.py", "def other():\n    pass\n");
        assert_eq!(index.document_frequency(compute), 3);
        assert!(index.defined_in("compute").is_empty());
        assert_eq!(index.defined_in("other"), [PathBuf::from("/r/a.py")]);

        index.remove(Path::new("/r/b.py"));
        assert_eq!(index.document_frequency(compute), 0);
        assert_eq!(index.window_count(), 1);
        assert_eq!(index.bytes(), "def other():\n    pass\n".len());
        let only = index.file(Path::new("/r/a.py")).unwrap().estimate_memory();
        assert_eq!(index.memory(), only);
        index.remove(Path::new("/r/a.py"));
        assert_eq!((index.bytes(), index.memory(), index.window_count()), (0, 0, 0));
    }
}
