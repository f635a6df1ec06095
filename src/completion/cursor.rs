//! The text around the cursor: a bounded window of prefix and suffix taken from the rope (the
//! prompt stage cuts it to the token budget), and whether the suggestion may span lines.

use ropey::Rope;

use crate::config::Multiline;

/// Lines of each side copied out of the rope; generous, since the token budget cuts further.
const WINDOW_LINES_BEFORE: usize = 1000;
const WINDOW_LINES_AFTER: usize = 400;
/// Chars copied at most on each side, so a huge or minified file costs no more than this.
const WINDOW_CHARS: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CursorWindow {
    pub prefix: String,
    pub suffix: String,
    /// Document line number of the first line of `prefix`.
    pub prefix_first_line: usize,
    pub single_line: bool,
    /// The cursor is in the leading whitespace of a line that has code after it: a suggestion
    /// there is whole lines inserted above that code, so it must end with a line break.
    pub before_code: bool,
}

/// `cursor_char` must be a valid char index of `rope` (the documents stage checked the position).
pub fn window(rope: &Rope, cursor_char: usize, multiline: Multiline) -> CursorWindow {
    let line = rope.char_to_line(cursor_char);
    let first_line = line.saturating_sub(WINDOW_LINES_BEFORE);
    let start = rope.line_to_char(first_line).max(cursor_char.saturating_sub(WINDOW_CHARS));
    let last_line = (line + WINDOW_LINES_AFTER + 1).min(rope.len_lines());
    let end = rope.line_to_char(last_line).min(cursor_char + WINDOW_CHARS).min(rope.len_chars());
    let line_start = rope.line_to_char(line);
    let before_on_line = rope.slice(line_start..cursor_char);
    let line_end = line_start + rope.line(line).len_chars();
    let after_on_line = rope.slice(cursor_char..line_end);
    let blank = |s: ropey::RopeSlice| s.chars().all(char::is_whitespace);
    let at_line_start = blank(before_on_line);
    let single_line = match multiline {
        Multiline::Always => false,
        Multiline::Never => true,
        // Nothing typed yet on the line (a blank line after a block opener, or the start of a
        // line above existing code) invites whole lines; mid-line, the user is finishing a
        // statement.
        Multiline::Auto => !at_line_start,
    };
    CursorWindow {
        prefix: rope.slice(start..cursor_char).to_string(),
        suffix: rope.slice(cursor_char..end).to_string(),
        prefix_first_line: rope.char_to_line(start),
        single_line,
        before_code: at_line_start && !blank(after_on_line),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_splits_at_the_cursor() {
        let rope = Rope::from_str("def f():\n    return \n\nx = 1\n");
        let cursor = "def f():\n    return ".chars().count();
        let w = window(&rope, cursor, Multiline::Auto);
        assert_eq!(w.prefix, "def f():\n    return ");
        assert_eq!(w.suffix, "\n\nx = 1\n");
        assert_eq!(w.prefix_first_line, 0);
        assert!(w.single_line);
        assert!(!w.before_code);
    }

    #[test]
    fn line_start_before_code_asks_for_whole_lines() {
        let rope = Rope::from_str("def f():\n    return 1\n");
        let at_start = "def f():\n".chars().count();
        let w = window(&rope, at_start, Multiline::Auto);
        assert!(!w.single_line && w.before_code);
        let in_indent = at_start + 2;
        let w = window(&rope, in_indent, Multiline::Auto);
        assert!(!w.single_line && w.before_code);
        let mid = at_start + 6;
        let w = window(&rope, mid, Multiline::Auto);
        assert!(w.single_line && !w.before_code);
    }

    #[test]
    fn blank_line_allows_several_lines_unless_configured_otherwise() {
        let rope = Rope::from_str("def f():\n    \nx = 1\n");
        let cursor = "def f():\n    ".chars().count();
        assert!(!window(&rope, cursor, Multiline::Auto).single_line);
        assert!(window(&rope, cursor, Multiline::Never).single_line);
        let mid = "def f".chars().count();
        assert!(!window(&rope, mid, Multiline::Always).single_line);
    }

    #[test]
    fn huge_lines_are_windowed_by_chars() {
        let text = "x".repeat(WINDOW_CHARS * 3);
        let rope = Rope::from_str(&text);
        let w = window(&rope, WINDOW_CHARS * 2, Multiline::Auto);
        assert_eq!(w.prefix_first_line, 0);
        assert_eq!(w.prefix.len(), WINDOW_CHARS);
        assert_eq!(w.suffix.len(), WINDOW_CHARS);
    }

    #[test]
    fn cursor_at_document_end() {
        let rope = Rope::from_str("a\nb");
        let w = window(&rope, 3, Multiline::Auto);
        assert_eq!((w.prefix.as_str(), w.suffix.as_str()), ("a\nb", ""));
    }
}
