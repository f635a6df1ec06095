//! Recently edited and viewed regions: a small ring buffer of chunks of open documents, captured
//! when the user edits or asks for a suggestion there. When the user moves to another file,
//! these are the code they were just working on.

use std::collections::{HashSet, VecDeque};

use ropey::Rope;

/// How many regions are kept; the oldest go first.
pub const CAPACITY: usize = 16;
/// Lines captured above and below the edit or cursor line.
pub const HALF_LINES: usize = 8;
/// A new chunk this similar to a kept one (Jaccard over lines) replaces it.
const NEAR_DUPLICATE: f32 = 0.5;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentChunk {
    /// Document URI (as the editor sent it).
    pub uri: String,
    /// Path as the model sees it.
    pub display: String,
    pub first_line: usize,
    /// The lines, without line breaks.
    pub lines: Vec<String>,
}

impl RecentChunk {
    pub fn end_line(&self) -> usize {
        self.first_line + self.lines.len()
    }

    fn overlaps(&self, uri: &str, first_line: usize, end_line: usize) -> bool {
        self.uri == uri && self.first_line < end_line && first_line < self.end_line()
    }
}

#[derive(Debug, Default)]
pub struct RecentRegions {
    /// Newest last.
    chunks: VecDeque<RecentChunk>,
}

impl RecentRegions {
    /// Keeps `chunk` as the newest region; older chunks of the same place (overlapping lines)
    /// or with nearly the same lines are dropped.
    pub fn record(&mut self, chunk: RecentChunk) {
        if chunk.lines.iter().all(|l| l.trim().is_empty()) {
            return;
        }
        self.chunks.retain(|old| {
            !old.overlaps(&chunk.uri, chunk.first_line, chunk.end_line())
                && line_similarity(&old.lines, &chunk.lines) < NEAR_DUPLICATE
        });
        self.chunks.push_back(chunk);
        while self.chunks.len() > CAPACITY {
            self.chunks.pop_front();
        }
    }

    /// Forgets a closed document's regions.
    pub fn forget(&mut self, uri: &str) {
        self.chunks.retain(|chunk| chunk.uri != uri);
    }

    /// The regions usable as context for a cursor in `uri`: newest first, none of `uri` itself
    /// (its text around the cursor is already in the prompt, and the rest is the same file).
    pub fn for_cursor_in(&self, uri: &str) -> Vec<RecentChunk> {
        self.chunks.iter().rev().filter(|chunk| chunk.uri != uri).cloned().collect()
    }
}

/// Jaccard similarity of two chunks' sets of trimmed non-blank lines.
fn line_similarity(a: &[String], b: &[String]) -> f32 {
    let set = |lines: &[String]| -> HashSet<String> {
        lines.iter().map(|l| l.trim().to_string()).filter(|l| !l.is_empty()).collect()
    };
    let (a, b) = (set(a), set(b));
    let union = a.union(&b).count();
    if union == 0 {
        return 0.0;
    }
    a.intersection(&b).count() as f32 / union as f32
}

/// The chunk of `rope` (a document) around `line`, lines without their line breaks.
pub fn chunk_around(uri: &str, display: &str, rope: &Rope, line: usize) -> RecentChunk {
    let first_line = line.saturating_sub(HALF_LINES).min(rope.len_lines());
    let end = (line + HALF_LINES + 1).min(rope.len_lines());
    RecentChunk {
        uri: uri.to_string(),
        display: display.to_string(),
        first_line,
        lines: (first_line..end)
            .map(|n| rope.line(n).to_string().trim_end_matches(['\n', '\r']).to_string())
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(uri: &str, first_line: usize, lines: &[&str]) -> RecentChunk {
        RecentChunk {
            uri: uri.into(),
            display: uri.into(),
            first_line,
            lines: lines.iter().map(|l| l.to_string()).collect(),
        }
    }

    #[test]
    fn overlapping_and_near_duplicate_chunks_are_replaced_and_capacity_holds() {
        let mut recent = RecentRegions::default();
        recent.record(chunk("a", 0, &["fn a() {", "  one();", "}"]));
        recent.record(chunk("a", 2, &["}", "fn b() {}"]));
        assert_eq!(recent.for_cursor_in("x").len(), 1, "overlap replaced the older chunk");
        // The same lines elsewhere (moved code) are a near duplicate.
        recent.record(chunk("c", 40, &["}", "fn b() {}"]));
        let kept = recent.for_cursor_in("x");
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].uri, "c");
        for i in 0..CAPACITY + 3 {
            recent.record(chunk("d", i * 100, &[&format!("line {i} unique_{i}")]));
        }
        let kept = recent.for_cursor_in("x");
        assert_eq!(kept.len(), CAPACITY);
        assert_eq!(kept[0].first_line, (CAPACITY + 2) * 100, "newest first");
        assert!(recent.for_cursor_in("d").is_empty(), "never the cursor's own document");
    }

    #[test]
    fn chunk_around_clamps_to_the_document() {
        let c = chunk_around("u", "p", &Rope::from_str("l0\nl1\r\nl2"), 1);
        assert_eq!((c.first_line, c.lines), (0, vec!["l0".into(), "l1".into(), "l2".into()]));
        let empty = chunk_around("u", "p", &Rope::new(), 0);
        assert_eq!(empty.lines, vec![String::new()], "an empty document is one empty line");
    }
}
