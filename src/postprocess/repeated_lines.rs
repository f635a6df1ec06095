//! A model that writes a line, or a block of lines, twice in a row is looping: with greedy
//! decoding what follows is the same block again, often cut off mid-way by the token limit.
//! So the suggestion stops where the first repetition begins, keeping the first occurrence.
//!
//! Lines are compared as they will read in the document (the first one with the text before the
//! cursor), indentation included and trailing whitespace not; blank lines are skipped, so a block
//! repeated after a blank line counts. The first line takes part only if the model wrote
//! something on it: repeating the user's own line is not a loop of the model.

use super::lines::{content, cut_before_line, is_blank, line_spans};

pub fn cut_at_repeat<'a>(text: &'a str, line_before_cursor: &str) -> &'a str {
    // (offset where the line starts in `text`, the line as the document will read it)
    let lines: Vec<(usize, String)> = line_spans(text)
        .enumerate()
        .filter(|(_, (_, line))| !is_blank(line))
        .map(|(index, (start, line))| {
            let line = if index == 0 { format!("{line_before_cursor}{line}") } else { line.into() };
            (start, content(&line).to_string())
        })
        .collect();
    let same = |a: &[(usize, String)], b: &[(usize, String)]| {
        a.iter().zip(b).all(|((_, x), (_, y))| x == y)
    };
    for start in 1..lines.len() {
        let longest = start.min(lines.len() - start);
        if (1..=longest).any(|size| same(&lines[start - size..start], &lines[start..start + size]))
        {
            return cut_before_line(text, lines[start].0);
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::cut_at_repeat;

    #[test]
    fn golden() {
        for (line_before_cursor, text, expected) in [
            // One line looping.
            ("    ", "x += 1\n    x += 1\n    x += 1", "x += 1"),
            // A block looping, the last copy cut off by the token limit.
            ("", "a = f(1)\nb = g(a)\na = f(1)\nb = g(a)\na = f(", "a = f(1)\nb = g(a)"),
            // A block repeated after a blank line.
            ("", "def test():\n    pass\n\ndef test():\n    pass\n", "def test():\n    pass\n"),
            // What comes before the loop is kept.
            ("", "import os\nprint(1)\nprint(1)\nrest", "import os\nprint(1)"),
            // The first line reads with the text before the cursor.
            ("    total = ", "a + b\n    total = a + b", "a + b"),
            // Same text at another indentation is not a repetition.
            (
                "",
                "if a:\n    if b:\n        x()\n    x()",
                "if a:\n    if b:\n        x()\n    x()",
            ),
            // Closers at different depths differ by indentation.
            ("", "f(|| {\n    g(|| {\n    })\n})", "f(|| {\n    g(|| {\n    })\n})"),
            // Blank lines are not a loop.
            ("", "a\n\n\n\nb", "a\n\n\n\nb"),
            // The user's own line repeated on the next line is left to other filters.
            ("    x += 1", "\n    x += 1", "\n    x += 1"),
            // Trailing whitespace does not hide a repetition; tabs and spaces are kept apart.
            ("", "\tx()\n\tx()  ", "\tx()"),
            ("", "\tx()\n    x()", "\tx()\n    x()"),
            ("", "変数 = 1\n変数 = 1", "変数 = 1"),
            ("", "", ""),
            ("", "one line", "one line"),
        ] {
            assert_eq!(
                cut_at_repeat(text, line_before_cursor),
                expected,
                "{line_before_cursor:?} + {text:?}"
            );
        }
    }
}
