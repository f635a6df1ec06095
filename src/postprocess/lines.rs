//! Line helpers shared by the filters. Text reaching the filters breaks lines with `\n` only;
//! the prefix and suffix may still hold `\r\n`, so lines taken from them drop a trailing `\r`.

/// A tab advances to the next multiple of this many columns. Editors most often show 4; the
/// figure only matters where tabs and spaces are mixed.
pub const TAB_WIDTH: usize = 4;

/// Width in columns of the leading spaces and tabs.
pub fn indent_width(line: &str) -> usize {
    let mut column = 0;
    for c in line.chars() {
        match c {
            ' ' => column += 1,
            '\t' => column += TAB_WIDTH - column % TAB_WIDTH,
            _ => break,
        }
    }
    column
}

pub fn is_blank(line: &str) -> bool {
    line.trim().is_empty()
}

/// Each line of `text` with the byte offset where it starts (an empty text is one empty line).
pub fn line_spans(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split('\n').scan(0, |next_start, line| {
        let start = *next_start;
        *next_start += line.len() + 1;
        Some((start, line))
    })
}

/// `text` up to the line that starts at `line_start`, without the line break before it.
pub fn cut_before_line(text: &str, line_start: usize) -> &str {
    let end = line_start.saturating_sub(1).min(text.len());
    text.get(..end).unwrap_or(text)
}

/// The text after the cursor on the cursor line.
pub fn first_line(suffix: &str) -> &str {
    suffix.lines().next().unwrap_or("")
}

/// The cursor line as it reads now, when only indentation is before the cursor and code after it:
/// the suggestion goes in as whole lines above that code, pushing it down. `None` otherwise.
pub fn pushed_down_line(line_before_cursor: &str, suffix: &str) -> Option<String> {
    let rest_of_line = first_line(suffix);
    (is_blank(line_before_cursor) && !is_blank(rest_of_line))
        .then(|| format!("{line_before_cursor}{rest_of_line}"))
}

/// The first non-blank line after the cursor line.
pub fn line_below(suffix: &str) -> Option<&str> {
    suffix.lines().skip(1).find(|line| !is_blank(line))
}

/// The last line of the text before the cursor: what the suggestion's first line continues.
pub fn last_line(prefix: &str) -> &str {
    prefix.rsplit('\n').next().unwrap_or("")
}

/// A line's content for comparing lines: without trailing whitespace (nor a `\r`).
pub fn content(line: &str) -> &str {
    line.trim_end()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indentation_counts_tab_stops() {
        for (line, width) in [
            ("", 0),
            ("x", 0),
            ("    x", 4),
            ("\tx", 4),
            ("  \tx", 4),
            ("\t  x", 6),
            ("\t\t", 8),
            ("\u{3000}x", 0),
        ] {
            assert_eq!(indent_width(line), width, "{line:?}");
        }
    }

    #[test]
    fn spans_give_line_starts() {
        let spans: Vec<_> = line_spans("a\n\nbc\n").collect();
        assert_eq!(spans, [(0, "a"), (2, ""), (3, "bc"), (6, "")]);
        assert_eq!(line_spans("").collect::<Vec<_>>(), [(0, "")]);
    }

    #[test]
    fn cut_before_line_drops_the_break() {
        assert_eq!(cut_before_line("a\nb\nc", 4), "a\nb");
        assert_eq!(cut_before_line("a\nb", 0), "");
    }

    #[test]
    fn cursor_lines() {
        assert_eq!(first_line(")\r\nnext"), ")");
        assert_eq!(first_line("\nnext"), "");
        assert_eq!(first_line(""), "");
        assert_eq!(last_line("a\r\n    b"), "    b");
        assert_eq!(last_line("a\n"), "");
        assert_eq!(last_line(""), "");
    }
}
