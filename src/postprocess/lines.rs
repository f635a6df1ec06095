//! Line helpers shared by the filters. Text reaching the filters breaks lines with `\n` only;
//! the prefix and suffix may still hold `\r\n`, so lines taken from them drop a trailing `\r`.

/// Each line of `text` with the byte offset where it starts (an empty text is one empty line).
pub fn line_spans(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split('\n').scan(0, |next_start, line| {
        let start = *next_start;
        *next_start += line.len() + 1;
        Some((start, line))
    })
}

/// The text after the cursor on the cursor line.
pub fn first_line(suffix: &str) -> &str {
    suffix.lines().next().unwrap_or("")
}

/// The last line of the text before the cursor: what the suggestion's first line continues.
pub fn last_line(prefix: &str) -> &str {
    prefix.rsplit('\n').next().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_give_line_starts() {
        let spans: Vec<_> = line_spans("a\n\nbc\n").collect();
        assert_eq!(spans, [(0, "a"), (2, ""), (3, "bc"), (6, "")]);
        assert_eq!(line_spans("").collect::<Vec<_>>(), [(0, "")]);
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
