//! Token budgets: keep the lines nearest the cursor that fit, counted with the model's tokenizer.
//!
//! The prefix keeps its last lines, the suffix its first lines; the cut always falls on a line
//! boundary, except when the cursor's own line alone is over budget (minified code), where only
//! that line is shortened. Either way, what is kept fits the budget.

/// Counts tokens the way the model would. The engine's implementation caches counts per line so
/// that unchanged lines are never tokenized twice.
pub trait TokenCounter {
    fn count(&mut self, text: &str) -> usize;
}

/// How many tokens of the file the prompt may carry on each side of the cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budgets {
    pub prefix_tokens: usize,
    pub suffix_tokens: usize,
    /// Code from other files (repository context), in front of the current file.
    pub repo_context_tokens: usize,
}

impl Default for Budgets {
    fn default() -> Self {
        Self { prefix_tokens: 1536, suffix_tokens: 512, repo_context_tokens: 1024 }
    }
}

/// When the prefix must be cut, the cut falls on a document line that is a multiple of this.
/// The prompt's start then stays put while the user types on the next lines, so the engine's KV
/// cache keeps everything before the cursor; the cost is at most this many lines of context.
pub const PREFIX_ANCHOR_LINES: usize = 16;

/// The tail of `prefix` that fits in `budget` tokens: the cursor line's start, then whole lines
/// going up. `first_line` is the document line number of `prefix`'s first line; a cut is moved
/// down to the next document line that is a multiple of `PREFIX_ANCHOR_LINES`.
pub fn cut_prefix<'a>(
    prefix: &'a str,
    first_line: usize,
    budget: usize,
    counter: &mut impl TokenCounter,
) -> &'a str {
    let kept = fit_prefix(prefix, budget, counter);
    let start = prefix.len() - kept.len();
    if start == 0 || !prefix[..start].ends_with('\n') {
        return kept;
    }
    // `kept` starts at a line boundary: move it down to an anchor line, never past the cursor line.
    let line = first_line + prefix[..start].matches('\n').count();
    let mut skip = line.next_multiple_of(PREFIX_ANCHOR_LINES) - line;
    let mut anchored = kept;
    while skip > 0 {
        match anchored.find('\n') {
            Some(newline) => anchored = &anchored[newline + 1..],
            None => return kept,
        }
        skip -= 1;
    }
    // An anchor on the cursor line itself would leave no context at all: keep the plain cut.
    if anchored.contains('\n') { anchored } else { kept }
}

/// Where an earlier prompt for the same document started its prefix. The engine's KV cache holds
/// that prompt from its start to its cursor, so while the start still serves, a cursor that moved
/// (a jump to another function, lines typed on) costs only the text that is new to the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StickyStart {
    /// Document line the earlier prefix started at.
    pub line: usize,
    /// Most tokens the prefix may hold to keep that start (the budget plus what the context
    /// window has room for).
    pub max_tokens: usize,
}

/// A kept start must leave the prefix at least this share of its budget (numerator,
/// denominator): a cursor moved far up keeps less of the file above it, so a start below that
/// share costs more context than the evaluation it saves.
const STICKY_MIN_SHARE: (usize, usize) = (2, 3);

/// The prefix as cut, and the document line its text starts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrefixCut<'a> {
    pub text: &'a str,
    pub first_line: usize,
}

/// `cut_prefix`, except that the prefix starts at `sticky`'s line when that start is still in
/// the window, before the cursor line, and leaves the prefix between its share of `budget`
/// and `sticky.max_tokens`.
pub fn cut_prefix_sticky<'a>(
    prefix: &'a str,
    first_line: usize,
    budget: usize,
    sticky: Option<StickyStart>,
    counter: &mut impl TokenCounter,
) -> PrefixCut<'a> {
    if let Some(text) = sticky.and_then(|s| from_line(prefix, first_line, budget, s, counter)) {
        return PrefixCut { text, first_line: sticky.map_or(first_line, |s| s.line) };
    }
    let text = cut_prefix(prefix, first_line, budget, counter);
    let dropped = &prefix[..prefix.len() - text.len()];
    PrefixCut { text, first_line: first_line + dropped.matches('\n').count() }
}

/// The prefix from document line `sticky.line`, if that start still serves (see
/// `cut_prefix_sticky`).
fn from_line<'a>(
    prefix: &'a str,
    first_line: usize,
    budget: usize,
    sticky: StickyStart,
    counter: &mut impl TokenCounter,
) -> Option<&'a str> {
    // The window no longer reaches back to it.
    if sticky.line < first_line {
        return None;
    }
    let mut offset = 0;
    for _ in first_line..sticky.line {
        offset += prefix[offset..].find('\n')? + 1;
    }
    let kept = &prefix[offset..];
    // Starting on the cursor line itself would leave no lines above it.
    if !kept.contains('\n') {
        return None;
    }
    let mut used = 0;
    for line in kept.split_inclusive('\n') {
        used += counter.count(line);
        if used > sticky.max_tokens {
            return None;
        }
    }
    let (share, of) = STICKY_MIN_SHARE;
    (used * of >= budget * share).then_some(kept)
}

fn fit_prefix<'a>(prefix: &'a str, budget: usize, counter: &mut impl TokenCounter) -> &'a str {
    // Split points are just after each '\n'; the last piece is the partial cursor line.
    let cursor_line_start = prefix.rfind('\n').map_or(0, |i| i + 1);
    let cursor_line = &prefix[cursor_line_start..];
    let mut used = counter.count(cursor_line);
    if used > budget {
        return shorten_from_start(cursor_line, used, budget, counter);
    }
    let mut start = cursor_line_start;
    while start > 0 {
        let line_start = prefix[..start - 1].rfind('\n').map_or(0, |i| i + 1);
        let cost = counter.count(&prefix[line_start..start]);
        if used + cost > budget {
            break;
        }
        used += cost;
        start = line_start;
    }
    &prefix[start..]
}

/// The head of `suffix` that fits in `budget` tokens: the rest of the cursor line, then whole
/// lines going down.
pub fn cut_suffix<'a>(suffix: &'a str, budget: usize, counter: &mut impl TokenCounter) -> &'a str {
    let line_end = |from: usize| suffix[from..].find('\n').map_or(suffix.len(), |i| from + i + 1);
    let first_end = line_end(0);
    let mut used = counter.count(&suffix[..first_end]);
    if used > budget {
        return shorten_from_end(&suffix[..first_end], used, budget, counter);
    }
    let mut end = first_end;
    while end < suffix.len() {
        let next = line_end(end);
        let cost = counter.count(&suffix[end..next]);
        if used + cost > budget {
            break;
        }
        used += cost;
        end = next;
    }
    &suffix[..end]
}

/// An end of an over-long line that fits `budget`: cut to the `budget/count` share
/// (on a char boundary), counted again, and cut again while a tokenizer's count of the shorter
/// text is still over (tokens are not spread evenly over a line).
fn shorten_from_start<'a>(
    line: &'a str,
    count: usize,
    budget: usize,
    counter: &mut impl TokenCounter,
) -> &'a str {
    let (mut kept, mut count) = (line, count);
    while count > budget && !kept.is_empty() {
        // Strictly shorter each time, so this ends.
        let keep_bytes = (kept.len() * budget / count.max(1)).min(kept.len() - 1);
        let mut start = kept.len() - keep_bytes;
        while !kept.is_char_boundary(start) {
            start += 1;
        }
        kept = &kept[start..];
        count = counter.count(kept);
    }
    kept
}

/// A start of an over-long line that fits `budget` (see `shorten_from_start`).
fn shorten_from_end<'a>(
    line: &'a str,
    count: usize,
    budget: usize,
    counter: &mut impl TokenCounter,
) -> &'a str {
    let (mut kept, mut count) = (line, count);
    while count > budget && !kept.is_empty() {
        let mut end = (kept.len() * budget / count.max(1)).min(kept.len() - 1);
        while !kept.is_char_boundary(end) {
            end -= 1;
        }
        kept = &kept[..end];
        count = counter.count(kept);
    }
    kept
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// One token per whitespace-separated word plus one per line break: easy to reason about.
    pub(crate) struct WordCounter {
        pub calls: usize,
    }
    impl TokenCounter for WordCounter {
        fn count(&mut self, text: &str) -> usize {
            self.calls += 1;
            text.split_whitespace().count() + text.matches('\n').count()
        }
    }

    #[test]
    fn prefix_keeps_whole_lines_nearest_the_cursor() {
        let prefix = "a b c\nd e\nf g\nh (";
        let mut counter = WordCounter { calls: 0 };
        // cursor line "h (" = 2, "f g\n" = 3, "d e\n" = 3 -> budget 8 fits exactly two full lines.
        // First line 15: line 16 is an anchor, so "d e" (line 16) may start the prompt.
        assert_eq!(cut_prefix(prefix, 15, 8, &mut counter), "d e\nf g\nh (");
        assert_eq!(cut_prefix(prefix, 15, 7, &mut counter), "f g\nh (");
        assert_eq!(cut_prefix(prefix, 15, 100, &mut counter), prefix);
    }

    #[test]
    fn a_cut_prefix_starts_at_an_anchor_line_that_typing_below_does_not_move() {
        let lines: Vec<String> = (0..60).map(|i| format!("l{i}\n")).collect();
        let mut counter = WordCounter { calls: 0 };
        // Two tokens per line, one for the cursor line: a budget of 41 fits 20 whole lines, so
        // the plain cut would start 20 lines up and move with every line typed.
        let starts: Vec<usize> = (40..56)
            .map(|cursor| {
                let prefix = lines[..cursor].concat() + "x";
                let kept = cut_prefix(&prefix, 0, 41, &mut counter);
                assert!(counter.count(kept) <= 41);
                let first = kept.lines().next().unwrap_or_default();
                first.trim_start_matches('l').parse().expect("a whole line")
            })
            .collect();
        assert!(starts.iter().all(|s| s % PREFIX_ANCHOR_LINES == 0), "{starts:?}");
        assert_eq!(starts.windows(2).filter(|w| w[0] != w[1]).count(), 1, "{starts:?}");
    }

    #[test]
    fn a_sticky_start_holds_while_the_prefix_stays_between_its_share_and_its_maximum() {
        // Lines of 2 tokens each (one word and its line break); the cursor line "z" is 1 token.
        let lines: Vec<String> = (0..40).map(|n| format!("w{n}\n")).collect();
        let prefix = format!("{}z", lines.concat());
        let mut counter = WordCounter { calls: 0 };
        let sticky = |line| Some(StickyStart { line, max_tokens: 45 });
        // Budget 30: the plain cut keeps 14 lines (29 tokens) and anchors them at line 32.
        let plain = cut_prefix_sticky(&prefix, 0, 30, None, &mut counter);
        assert_eq!(plain.first_line, 32);
        assert!(plain.text.starts_with("w32\n"));
        // An earlier start at line 20 (41 tokens up to the cursor): under the maximum, kept.
        let kept = cut_prefix_sticky(&prefix, 0, 30, sticky(20), &mut counter);
        assert_eq!((kept.first_line, kept.text), (20, &prefix[prefix.find("w20").unwrap()..]));
        // At line 10 (61 tokens): over the maximum, so the plain cut.
        assert_eq!(cut_prefix_sticky(&prefix, 0, 30, sticky(10), &mut counter), plain);
        // At line 31 (19 tokens): under two thirds of the budget, so the plain cut.
        assert_eq!(cut_prefix_sticky(&prefix, 0, 30, sticky(31), &mut counter), plain);
        // At line 30 (21 tokens, at least 20): kept, shorter than the plain cut.
        assert_eq!(cut_prefix_sticky(&prefix, 0, 30, sticky(30), &mut counter).first_line, 30);
        // The window starting after it (line 25 of the document is the prefix's first line).
        let window = &prefix[prefix.find("w25").unwrap()..];
        assert_eq!(cut_prefix_sticky(window, 25, 30, sticky(20), &mut counter).first_line, 32);
        // The cursor line itself is never a start.
        assert_eq!(cut_prefix_sticky("a\nb", 0, 1, sticky(1), &mut counter).text, "b");
    }

    #[test]
    fn anchoring_never_cuts_the_cursor_line() {
        let mut counter = WordCounter { calls: 0 };
        // Budget fits only the cursor line; the anchor is beyond it, so nothing more is dropped.
        assert_eq!(cut_prefix("a\nb\ncursor", 1, 1, &mut counter), "cursor");
        // A cut at line 2 of a prefix starting at document line 14 moves to line 16.
        let prefix = "a\nb\nc\nd\ne\n";
        assert_eq!(cut_prefix(&(prefix.to_string() + "z"), 14, 9, &mut counter), "c\nd\ne\nz");
    }

    #[test]
    fn suffix_keeps_whole_lines_nearest_the_cursor() {
        let suffix = ")\nx y\nz\n";
        let mut counter = WordCounter { calls: 0 };
        // ")\n" = 2, "x y\n" = 3, "z\n" = 2
        assert_eq!(cut_suffix(suffix, 5, &mut counter), ")\nx y\n");
        assert_eq!(cut_suffix(suffix, 6, &mut counter), ")\nx y\n");
        assert_eq!(cut_suffix(suffix, 7, &mut counter), suffix);
        assert_eq!(cut_suffix("", 7, &mut counter), "");
    }

    #[test]
    fn over_long_cursor_line_is_shortened_on_a_char_boundary() {
        let line = "é ".repeat(100); // 100 words, 300 bytes
        let mut counter = WordCounter { calls: 0 };
        let kept = cut_prefix(&line, 0, 10, &mut counter);
        assert!(kept.len() <= 30 && !kept.is_empty(), "kept {} bytes", kept.len());
        assert!(line.ends_with(kept));
        let kept = cut_suffix(&line, 10, &mut counter);
        assert!(kept.len() <= 30 && !kept.is_empty());
        assert!(line.starts_with(kept));
    }

    /// Found by `tests/fuzz` (prompt_build): a share of the bytes is not a share of the tokens
    /// when the tokens are not spread evenly over the line; the shortened line must still fit.
    #[test]
    fn a_shortened_line_fits_however_its_tokens_are_spread() {
        /// One token per ASCII letter, one per other char: "😀😀aaaa" is 6 tokens in 12 bytes.
        struct CharCounter;
        impl TokenCounter for CharCounter {
            fn count(&mut self, text: &str) -> usize {
                text.chars().count()
            }
        }
        let kept = cut_prefix("😀😀aaaa", 0, 3, &mut CharCounter);
        assert!(CharCounter.count(kept) <= 3 && "😀😀aaaa".ends_with(kept), "{kept:?}");
        assert_eq!(kept, "aaa");
        let kept = cut_suffix("aaaa😀😀", 3, &mut CharCounter);
        assert_eq!(kept, "aaa");
        assert_eq!(cut_suffix("aaaa", 0, &mut CharCounter), "");
    }

    #[test]
    fn crlf_lines_are_cut_after_the_line_feed() {
        let prefix = "one\r\ntwo\r\nthree";
        let mut counter = WordCounter { calls: 0 };
        assert_eq!(cut_prefix(prefix, 0, 3, &mut counter), "two\r\nthree");
    }
}
