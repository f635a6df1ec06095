//! Suggestions already made, so that typing does not wait for the model:
//!
//! - **typing-through**: when the characters typed since a suggestion was made are the start of
//!   that suggestion, the rest of it is the answer;
//! - **recent contexts**: returning to a context seen lately (undo, retyping a deleted word)
//!   finds its suggestion again.
//!
//! Both are one lookup: entries are keyed by the text around the cursor they were made at, and
//! a lookup also tries the cursor positions a few characters back, checking that what was typed
//! in between starts the stored suggestion.

use std::hash::{DefaultHasher, Hasher};
use std::num::NonZeroUsize;
use std::sync::Mutex;

use lru::LruCache;
use ropey::Rope;

/// Characters before / after the cursor that identify a context. A change further away keeps
/// the entry valid: the model would hardly answer differently.
const PREFIX_CHARS: usize = 1024;
const SUFFIX_CHARS: usize = 256;
/// How far back a lookup searches for the position a suggestion was made at.
const MAX_TYPED_CHARS: usize = 96;
const CAPACITY: usize = 256;

pub struct SuggestionCache {
    entries: Mutex<LruCache<u64, String>>,
}

impl Default for SuggestionCache {
    fn default() -> Self {
        let capacity = NonZeroUsize::new(CAPACITY).expect("non-zero capacity");
        Self { entries: Mutex::new(LruCache::new(capacity)) }
    }
}

/// What a lookup found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// The part of the stored suggestion that is still to be typed.
    pub text: String,
    /// Characters typed since the suggestion was made (0: the same context).
    pub typed_chars: usize,
}

impl SuggestionCache {
    /// Remembers `suggestion` for the cursor at `cursor_char` (a valid char index of `rope`).
    pub fn insert(&self, rope: &Rope, cursor_char: usize, suggestion: &str) {
        if suggestion.is_empty() {
            return;
        }
        let key = context_key(rope, cursor_char, cursor_char);
        if let Ok(mut entries) = self.entries.lock() {
            entries.put(key, suggestion.to_string());
        }
    }

    /// Forgets every suggestion (e.g. the settings changed).
    pub fn clear(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }

    /// The suggestion for the cursor at `cursor_char`: one made right here, or the remainder of one
    /// made up to `MAX_TYPED_CHARS` earlier whose beginning the user has typed since.
    pub fn lookup(&self, rope: &Rope, cursor_char: usize) -> Option<Hit> {
        let mut entries = self.entries.lock().ok()?;
        let mut typed = String::new();
        for back in 0..=MAX_TYPED_CHARS.min(cursor_char) {
            let made_at = cursor_char - back;
            if back > 0 {
                // `typed` grows leftwards: the text between `made_at` and the cursor.
                typed.insert(0, rope.char(made_at));
            }
            let Some(suggestion) = entries.get(&context_key(rope, made_at, cursor_char)) else {
                continue;
            };
            if let Some(rest) = suggestion.strip_prefix(typed.as_str())
                && !rest.is_empty()
            {
                return Some(Hit { text: rest.to_string(), typed_chars: back });
            }
        }
        None
    }
}

/// Hash of the text before `prefix_end` and after `suffix_start`: for a suggestion made at
/// cursor `c` and looked up after typing, the prefix ends at `c` and the suffix starts at the
/// current cursor, since the typed text lies between them.
fn context_key(rope: &Rope, prefix_end: usize, suffix_start: usize) -> u64 {
    let mut hasher = DefaultHasher::new();
    let prefix = rope.slice(prefix_end.saturating_sub(PREFIX_CHARS)..prefix_end);
    for chunk in prefix.chunks() {
        hasher.write(chunk.as_bytes());
    }
    // A byte that never occurs in UTF-8 keeps "ab|c" and "a|bc" apart.
    hasher.write_u8(0xff);
    let suffix_end = (suffix_start + SUFFIX_CHARS).min(rope.len_chars());
    for chunk in rope.slice(suffix_start..suffix_end).chunks() {
        hasher.write(chunk.as_bytes());
    }
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The document after typing `typed` at `at` (a char index) of `text`.
    fn typed(text: &str, at: usize, typed: &str) -> (Rope, usize) {
        let mut rope = Rope::from_str(text);
        rope.insert(at, typed);
        (rope, at + typed.chars().count())
    }

    #[test]
    fn the_same_context_finds_its_suggestion() {
        let cache = SuggestionCache::default();
        let rope = Rope::from_str("def fib(n):\n    return \n");
        let cursor = 23;
        cache.insert(&rope, cursor, "fib(n - 1) + fib(n - 2)");
        let hit = cache.lookup(&rope, cursor).expect("hit");
        assert_eq!(hit, Hit { text: "fib(n - 1) + fib(n - 2)".into(), typed_chars: 0 });
    }

    #[test]
    fn typing_the_start_of_a_suggestion_leaves_its_rest() {
        let cache = SuggestionCache::default();
        let text = "def fib(n):\n    return \n";
        let cursor = 23;
        cache.insert(&Rope::from_str(text), cursor, "fib(n - 1) + fib(n - 2)");
        let (rope, now) = typed(text, cursor, "fib(n - ");
        let hit = cache.lookup(&rope, now).expect("typing-through");
        assert_eq!(hit, Hit { text: "1) + fib(n - 2)".into(), typed_chars: 8 });
        // Multi-byte text is counted in chars.
        cache.insert(&Rope::from_str(text), cursor, "«é» + 1");
        let (rope, now) = typed(text, cursor, "«é");
        assert_eq!(cache.lookup(&rope, now).map(|h| h.text), Some("» + 1".into()));
    }

    #[test]
    fn typing_something_else_or_everything_misses() {
        let cache = SuggestionCache::default();
        let text = "x = \ny = 2\n";
        cache.insert(&Rope::from_str(text), 4, "compute(1)");
        let (rope, now) = typed(text, 4, "compare");
        assert_eq!(cache.lookup(&rope, now), None, "diverged from the suggestion");
        let (rope, now) = typed(text, 4, "compute(1)");
        assert_eq!(cache.lookup(&rope, now), None, "nothing left to suggest");
    }

    #[test]
    fn a_change_after_the_cursor_or_just_before_it_misses() {
        let cache = SuggestionCache::default();
        let text = "x = \ny = 2\n";
        cache.insert(&Rope::from_str(text), 4, "compute(1)");
        let mut rope = Rope::from_str(text);
        rope.insert(6, "z"); // the suffix changed
        assert_eq!(cache.lookup(&rope, 4), None);
        let mut rope = Rope::from_str(text);
        rope.insert(2, "="); // the prefix changed
        assert_eq!(cache.lookup(&rope, 5), None);
        assert!(cache.lookup(&Rope::from_str(text), 4).is_some());
    }

    #[test]
    fn empty_suggestions_are_not_kept_and_the_start_of_a_document_is_fine() {
        let cache = SuggestionCache::default();
        let rope = Rope::from_str("");
        cache.insert(&rope, 0, "");
        assert_eq!(cache.lookup(&rope, 0), None);
        cache.insert(&rope, 0, "import os");
        assert_eq!(cache.lookup(&rope, 0).map(|h| h.text), Some("import os".into()));
    }

    #[test]
    fn clear_forgets_everything() {
        let cache = SuggestionCache::default();
        let rope = Rope::from_str("x = ");
        cache.insert(&rope, 4, "1");
        cache.clear();
        assert_eq!(cache.lookup(&rope, 4), None);
    }

    #[test]
    fn the_oldest_entries_make_room() {
        let cache = SuggestionCache::default();
        let docs: Vec<Rope> =
            (0..CAPACITY + 1).map(|i| Rope::from_str(&format!("v{i} = "))).collect();
        for rope in &docs {
            cache.insert(rope, rope.len_chars(), "1");
        }
        assert_eq!(cache.lookup(&docs[0], docs[0].len_chars()), None);
        let last = &docs[CAPACITY];
        assert!(cache.lookup(last, last.len_chars()).is_some());
    }
}
