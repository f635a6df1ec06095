//! Typing traces: from a real source file, pick some function bodies (fixed by a seed), delete
//! each one and type it back keystroke by keystroke; or pick single lines at a few places of the
//! file and re-type them, moving between the places as a programmer does between functions. A
//! trace is text edits only; the replay decides when each one happens.

use std::path::{Path, PathBuf};

use serde::Serialize;

/// What a trace re-types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceKind {
    /// Whole function bodies, one after the other in file order.
    Bodies,
    /// Single lines in `places` different function bodies, visited in a seeded order; after
    /// the last place the typist goes back to the first for another line there, `rounds` times.
    /// Every move to another place is a jump the engine's caches must absorb.
    Lines { places: usize, rounds: usize },
}

/// Which regions a trace re-types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceOptions {
    pub seed: u64,
    pub kind: TraceKind,
    /// Function bodies per file (fewer if the file has fewer that fit); `Bodies` only.
    pub regions: usize,
    /// Longest body, in lines, that is eligible; `Bodies` only.
    pub max_lines: usize,
    /// Longest body (or line), in chars, that is eligible.
    pub max_chars: usize,
}

/// Bodies shorter than this are not worth a trace (a lone `pass`, `}`).
const MIN_CHARS: usize = 16;

/// Places of a `Lines` trace are at least this many lines apart: a move between them is a jump
/// to other code (a new prefix window), not a step to the next function.
const PLACE_DISTANCE: usize = 40;

/// A deleted-and-retyped function body: from the first non-blank char of its first line to the
/// end of its last line (line break excluded). Lines are 0-based and inclusive; offsets are chars.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Region {
    pub first_line: usize,
    pub last_line: usize,
    pub start: usize,
    pub end: usize,
}

/// One change to the document, as an editor would send it: delete `delete` chars at `at` (a char
/// offset into the text as it is before this edit), then insert `insert` there. The cursor ends
/// after the inserted text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Edit {
    pub at: usize,
    pub delete: usize,
    pub insert: String,
    /// The typist stops after this edit (end of a word or line, end of the region).
    pub pause_after: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct FileTrace {
    pub path: PathBuf,
    pub language: &'static str,
    #[serde(skip)]
    pub text: String,
    pub regions: Vec<Region>,
    #[serde(skip)]
    pub edits: Vec<Edit>,
}

impl FileTrace {
    pub fn pauses(&self) -> usize {
        self.edits.iter().filter(|e| e.pause_after).count()
    }
}

/// The trace for one file: for each chosen region (in file order), one edit deleting it, then
/// one edit per keystroke typing it back. Enter inserts the line break together with the next
/// line's indentation, as an editor's auto-indent does.
pub fn build(path: &Path, text: &str, options: &TraceOptions) -> FileTrace {
    let regions = match options.kind {
        TraceKind::Bodies => choose_regions(path, text, options),
        TraceKind::Lines { places, rounds } => choose_lines(path, text, options, places, rounds),
    };
    let chars: Vec<char> = text.chars().collect();
    let mut edits = Vec::new();
    for region in &regions {
        edits.push(Edit {
            at: region.start,
            delete: region.end - region.start,
            insert: String::new(),
            pause_after: true,
        });
        edits.extend(keystrokes(&chars[region.start..region.end], region.start));
    }
    FileTrace {
        path: path.to_path_buf(),
        language: language_of(path),
        text: text.to_string(),
        regions,
        edits,
    }
}

/// The LSP language id for a file name.
pub fn language_of(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or_default() {
        "py" => "python",
        "rs" => "rust",
        "js" => "javascript",
        "ts" => "typescript",
        "go" => "go",
        "c" | "h" => "c",
        "cc" | "cpp" | "hpp" => "cpp",
        "java" => "java",
        _ => "plaintext",
    }
}

/// Typing `typed` at char offset `at`: one edit per char, except that a line break takes the
/// following indentation with it. Pauses: after a space that ends a word, after each line break,
/// and after the last keystroke.
fn keystrokes(typed: &[char], at: usize) -> Vec<Edit> {
    let mut edits: Vec<Edit> = Vec::new();
    let mut pos = at;
    let mut i = 0;
    while i < typed.len() {
        let c = typed[i];
        let mut insert = String::from(c);
        i += 1;
        let line_break = c == '\n' || (c == '\r' && typed.get(i) == Some(&'\n'));
        if c == '\r' && line_break {
            insert.push('\n');
            i += 1;
        }
        if line_break {
            while let Some(&w) = typed.get(i).filter(|&&w| w == ' ' || w == '\t') {
                insert.push(w);
                i += 1;
            }
        }
        let ends_word = c == ' ' && i >= 2 && !typed[i - 2].is_whitespace();
        let length = insert.chars().count();
        edits.push(Edit { at: pos, delete: 0, insert, pause_after: line_break || ends_word });
        pos += length;
    }
    if let Some(last) = edits.last_mut() {
        last.pause_after = true;
    }
    edits
}

/// Up to `options.regions` non-overlapping function bodies, picked by a seeded shuffle (the
/// file name is mixed in, so each file gets its own draw), returned in file order.
fn choose_regions(path: &Path, text: &str, options: &TraceOptions) -> Vec<Region> {
    let mut candidates: Vec<Region> = function_bodies(text)
        .into_iter()
        .filter(|r| {
            let chars = r.end - r.start;
            r.last_line - r.first_line < options.max_lines
                && (MIN_CHARS..=options.max_chars).contains(&chars)
        })
        .collect();
    let mut rng = file_rng(path, options.seed);
    shuffle(&mut candidates, &mut rng);
    let mut chosen = non_overlapping(candidates, options.regions);
    chosen.sort_by_key(|r| r.start);
    chosen
}

/// The lines of a `Lines` trace, in the order they are typed: `places` non-overlapping function
/// bodies that each hold `rounds` eligible lines (seeded), visited in a seeded order, one line
/// per visit, `rounds` times round.
fn choose_lines(
    path: &Path,
    text: &str,
    options: &TraceOptions,
    places: usize,
    rounds: usize,
) -> Vec<Region> {
    let lines = code_lines(text, options.max_chars);
    let mut bodies: Vec<(Region, Vec<Region>)> = function_bodies(text)
        .into_iter()
        .map(|body| {
            let inside = (body.first_line..=body.last_line).filter_map(|l| lines[l].clone());
            (body, inside.collect::<Vec<_>>())
        })
        .filter(|(_, inside)| inside.len() >= rounds)
        .collect();
    let mut rng = file_rng(path, options.seed);
    shuffle(&mut bodies, &mut rng);
    let mut chosen: Vec<(Region, Vec<Region>)> = Vec::new();
    for (body, inside) in bodies {
        if chosen.len() == places {
            break;
        }
        if !chosen.iter().any(|(c, _)| lines_apart(c, &body) < PLACE_DISTANCE) {
            chosen.push((body, inside));
        }
    }
    for (_, inside) in &mut chosen {
        shuffle(inside, &mut rng);
    }
    (0..rounds)
        .flat_map(|round| chosen.iter().map(move |(_, inside)| inside[round].clone()))
        .collect()
}

/// Per line of `text`: the line as a region (from its first non-blank char to its end) if it is
/// code worth re-typing — long enough, at most `max_chars`, not a comment and not inside a
/// triple-quoted string (a docstring is prose, not what a completion model is asked for).
fn code_lines(text: &str, max_chars: usize) -> Vec<Option<Region>> {
    let mut lines = Vec::new();
    let mut offset = 0;
    let mut in_string = false;
    for (number, line) in text.split_inclusive('\n').enumerate() {
        let content = line.trim_end_matches(['\n', '\r']);
        let code = content.trim_start();
        let quotes = code.matches("\"\"\"").count() + code.matches("'''").count();
        let eligible = !in_string
            && quotes == 0
            && !code.starts_with(['#', '/', '*'])
            && (MIN_CHARS..=max_chars).contains(&code.chars().count());
        if quotes % 2 == 1 {
            in_string = !in_string;
        }
        let start = offset + indent_of(content);
        let end = offset + content.chars().count();
        lines.push(eligible.then_some(Region {
            first_line: number,
            last_line: number,
            start,
            end,
        }));
        offset += line.chars().count();
    }
    lines
}

/// The generator for one file's draw: the file name is mixed into the seed.
fn file_rng(path: &Path, seed: u64) -> SplitMix64 {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    SplitMix64(seed ^ fnv1a(name.as_bytes()))
}

/// Fisher-Yates with our own generator: the same seed gives the same trace everywhere.
fn shuffle<T>(items: &mut [T], rng: &mut SplitMix64) {
    for i in (1..items.len()).rev() {
        let j = (rng.next() % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}

fn overlap(a: &Region, b: &Region) -> bool {
    a.first_line <= b.last_line && b.first_line <= a.last_line
}

/// Lines between two regions (0 when they overlap).
fn lines_apart(a: &Region, b: &Region) -> usize {
    if overlap(a, b) {
        0
    } else {
        b.first_line.saturating_sub(a.last_line).max(a.first_line.saturating_sub(b.last_line))
    }
}

/// The first `limit` candidates that overlap none chosen before them.
fn non_overlapping(candidates: Vec<Region>, limit: usize) -> Vec<Region> {
    let mut chosen: Vec<Region> = Vec::new();
    for candidate in candidates {
        if chosen.len() == limit {
            break;
        }
        if !chosen.iter().any(|c| overlap(c, &candidate)) {
            chosen.push(candidate);
        }
    }
    chosen
}

/// Every function body in `text`: the lines after a header line (one that names a function —
/// `def`, `fn`, `func`, `function` — and ends with `:` or `{`) that are blank or indented deeper
/// than the header, trailing blank lines excluded.
pub fn function_bodies(text: &str) -> Vec<Region> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut starts = Vec::with_capacity(lines.len());
    let mut offset = 0;
    for line in &lines {
        starts.push(offset);
        offset += line.chars().count();
    }
    let blank = |line: &str| line.trim().is_empty();
    let mut bodies = Vec::new();
    for (h, header) in lines.iter().enumerate() {
        if !is_function_header(header) {
            continue;
        }
        let depth = indent_of(header);
        let mut first = None;
        let mut last = None;
        for (j, line) in lines.iter().enumerate().skip(h + 1) {
            if blank(line) {
                continue;
            }
            if indent_of(line) <= depth {
                break;
            }
            first.get_or_insert(j);
            last = Some(j);
        }
        let (Some(first), Some(last)) = (first, last) else { continue };
        let start = starts[first] + indent_of(lines[first]);
        let end = starts[last] + lines[last].trim_end_matches(['\n', '\r']).chars().count();
        bodies.push(Region { first_line: first, last_line: last, start, end });
    }
    bodies
}

fn is_function_header(line: &str) -> bool {
    let code = line.trim_end();
    (code.ends_with(':') || code.ends_with('{'))
        && code
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .any(|word| matches!(word, "def" | "fn" | "func" | "function"))
}

/// Leading spaces and tabs, in chars.
fn indent_of(line: &str) -> usize {
    line.chars().take_while(|&c| c == ' ' || c == '\t').count()
}

/// SplitMix64: tiny, well mixed, and fully specified, so a seed means the same on every machine.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(0xcbf2_9ce4_8422_2325, |hash, &b| (hash ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ropey::Rope;

    const PYTHON: &str =
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/bench/inventory.py"));
    const RUST: &str =
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/bench/window_stats.rs"));
    const LONG_PYTHON: &str =
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/bench-lines/textwrap.py"));

    fn options(seed: u64, regions: usize) -> TraceOptions {
        TraceOptions { seed, kind: TraceKind::Bodies, regions, max_lines: 8, max_chars: 400 }
    }

    fn lines(seed: u64, places: usize, rounds: usize) -> TraceOptions {
        TraceOptions { kind: TraceKind::Lines { places, rounds }, ..options(seed, 0) }
    }

    /// Applies the edits in order, checking each deletion removes exactly its region.
    fn replay(trace: &FileTrace) -> Rope {
        let mut rope = Rope::from_str(&trace.text);
        let mut regions = trace.regions.iter();
        for edit in &trace.edits {
            if edit.delete > 0 {
                let region = regions.next().expect("a deletion per region");
                assert_eq!((edit.at, edit.at + edit.delete), (region.start, region.end));
                assert_eq!(rope.to_string(), trace.text, "each region starts from the original");
            }
            rope.remove(edit.at..edit.at + edit.delete);
            rope.insert(edit.at, &edit.insert);
        }
        assert!(regions.next().is_none());
        rope
    }

    #[test]
    fn retyping_reproduces_the_original_exactly() {
        for (name, text) in [("inventory.py", PYTHON), ("window_stats.rs", RUST)] {
            for seed in 0..20 {
                let trace = build(Path::new(name), text, &options(seed, 3));
                assert_eq!(trace.regions.len(), 3, "{name} seed {seed}");
                assert_eq!(replay(&trace).to_string(), text, "{name} seed {seed}");
            }
        }
        let crlf = "def f(a, b):\r\n    x = a\r\n\tif x:\r\n        return b\r\n\r\ny = 1\r\n";
        let trace = build(Path::new("crlf.py"), crlf, &options(7, 1));
        assert_eq!(trace.regions.len(), 1);
        assert_eq!(replay(&trace).to_string(), crlf);
        assert!(trace.edits.iter().any(|e| e.insert == "\r\n\t"));
    }

    #[test]
    fn a_seed_fixes_the_trace() {
        let a = build(Path::new("inventory.py"), PYTHON, &options(1, 2));
        let b = build(Path::new("inventory.py"), PYTHON, &options(1, 2));
        assert_eq!(a.regions, b.regions);
        assert_eq!(a.edits, b.edits);
        let draws: std::collections::HashSet<Vec<Region>> = (0..10)
            .map(|seed| build(Path::new("inventory.py"), PYTHON, &options(seed, 2)).regions)
            .collect();
        assert!(draws.len() > 3, "seeds should pick different regions");
    }

    #[test]
    fn regions_are_function_bodies_that_do_not_overlap() {
        let text = "\
def outer(x):
    def inner(y):
        return y * 2 + len(str(y))
    return inner(x)

class K:
    value = 3

    def method(self):
        total = self.value
        return total + 1
";
        let bodies = function_bodies(text);
        let lines: Vec<(usize, usize)> =
            bodies.iter().map(|r| (r.first_line, r.last_line)).collect();
        assert_eq!(lines, vec![(1, 3), (2, 2), (9, 10)]);
        let method = &bodies[2];
        let body: String =
            text.chars().skip(method.start).take(method.end - method.start).collect();
        assert_eq!(body, "total = self.value\n        return total + 1");
        // Nested bodies overlap; at most one of them is chosen.
        for seed in 0..10 {
            let regions = build(Path::new("k.py"), text, &options(seed, 3)).regions;
            assert_eq!(regions.len(), 2, "seed {seed}");
            assert!(regions[0].last_line < regions[1].first_line);
        }
        let rust = "impl A {\n    pub fn get(&self) -> u32 {\n        self.x + 1\n    }\n}\n";
        let bodies = function_bodies(rust);
        assert_eq!(bodies.len(), 1);
        assert_eq!((bodies[0].first_line, bodies[0].last_line), (2, 2));
    }

    #[test]
    fn size_limits_are_respected() {
        for seed in 0..10 {
            let options =
                TraceOptions { regions: 10, max_lines: 3, max_chars: 120, ..options(seed, 0) };
            for region in build(Path::new("window_stats.rs"), RUST, &options).regions {
                assert!(region.last_line - region.first_line < 3);
                assert!((MIN_CHARS..=120).contains(&(region.end - region.start)));
            }
        }
    }

    #[test]
    fn pauses_follow_words_and_lines() {
        let typed: Vec<char> = "x = a  + b\n    return x".chars().collect();
        let edits = keystrokes(&typed, 10);
        let inserts: Vec<&str> = edits.iter().map(|e| e.insert.as_str()).collect();
        assert_eq!(
            inserts,
            [
                "x", " ", "=", " ", "a", " ", " ", "+", " ", "b", "\n    ", "r", "e", "t", "u",
                "r", "n", " ", "x"
            ]
        );
        let paused: Vec<usize> =
            edits.iter().enumerate().filter(|(_, e)| e.pause_after).map(|(i, _)| i).collect();
        // After "x ", "= ", "a " (not the second space), "+ ", the line break, "return ", the end.
        assert_eq!(paused, vec![1, 3, 5, 8, 10, 17, 18]);
        assert_eq!(edits[0].at, 10);
        assert_eq!(edits[11].at, 10 + "x = a  + b\n    ".chars().count());
    }

    #[test]
    fn a_lines_trace_moves_between_places_and_comes_back() {
        for seed in 0..20 {
            let trace = build(Path::new("textwrap.py"), LONG_PYTHON, &lines(seed, 3, 2));
            let regions = &trace.regions;
            assert_eq!(regions.len(), 6, "seed {seed}");
            assert_eq!(replay(&trace).to_string(), LONG_PYTHON, "seed {seed}");
            let bodies = function_bodies(LONG_PYTHON);
            let body_of = |r: &Region| {
                bodies
                    .iter()
                    .position(|b| b.first_line <= r.first_line && r.last_line <= b.last_line)
            };
            for (i, region) in regions.iter().enumerate() {
                assert_eq!(region.first_line, region.last_line, "one line at a time");
                let line: String = LONG_PYTHON
                    .chars()
                    .skip(region.start)
                    .take(region.end - region.start)
                    .collect();
                assert!(!line.starts_with('#') && line.len() >= MIN_CHARS, "{line:?}");
                // The second round revisits the first round's places, in the same order, at
                // another line.
                if i >= 3 {
                    assert_ne!(region.first_line, regions[i - 3].first_line);
                    let (a, b) = (body_of(region), body_of(&regions[i - 3]));
                    assert!(a.is_some() && a == b, "seed {seed}: same place");
                }
            }
            for (i, a) in regions[..3].iter().enumerate() {
                for b in &regions[i + 1..3] {
                    assert!(a.first_line.abs_diff(b.first_line) >= PLACE_DISTANCE, "seed {seed}");
                }
            }
        }
    }

    #[test]
    fn docstrings_and_comments_are_not_retyped() {
        let text = "def f(x):\n    \"\"\"Return the value of x times two.\n    Second line of the docstring.\n    \"\"\"\n    # a comment that is long enough\n    result = x * 2 + offset\n    return result\n";
        let lines = code_lines(text, 160);
        let eligible: Vec<usize> = lines.iter().flatten().map(|r| r.first_line).collect();
        assert_eq!(eligible, vec![5]);
    }
}
