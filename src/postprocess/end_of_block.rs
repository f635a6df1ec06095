//! A suggestion belongs to the block the cursor is in: it stops before the first new line that is
//! indented less than that block, where the model has run on into the enclosing code.
//!
//! The block's indentation (the reference):
//! - the cursor line holds only whitespace before the cursor: the indentation of the
//!   suggestion's first non-blank line, as it will read (cursor column plus its own leading
//!   whitespace);
//! - otherwise: the indentation of the cursor line.
//!
//! Rules, conservative on purpose:
//! - the line that sets the reference is never cut; blank lines never cut;
//! - a less indented line is kept only if it starts with a closer of a bracket the suggestion
//!   itself opened (`}` of a block it started); following lines are still checked;
//! - a dedent to `else:`, `elif`, `except` and the like is cut like any other line: it could only
//!   continue a block the suggestion opened, and that block's header would be indented at least
//!   as much as the reference, so such a line would not be less indented;
//! - a closer of a bracket opened before the cursor is cut too (whether the suffix already
//!   closes it is unknown here): the user's own closing line stays theirs.
//!
//! Tabs count to the next multiple of [`TAB_WIDTH`](super::lines::TAB_WIDTH) columns.

use super::brackets::{Bracket, Role, walk};
use super::lines::{cut_before_line, indent_width, is_blank, line_spans};

pub fn cut<'a>(text: &'a str, line_before_cursor: &str) -> &'a str {
    let lines: Vec<(usize, &str)> = line_spans(text).collect();
    let (reference, first_checked) = if is_blank(line_before_cursor) {
        let Some(first) = lines.iter().position(|(_, line)| !is_blank(line)) else {
            return text;
        };
        let line = lines[first].1;
        let width = if first == 0 {
            indent_width(&format!("{line_before_cursor}{line}"))
        } else {
            indent_width(line)
        };
        (width, first + 1)
    } else {
        (indent_width(line_before_cursor), 1)
    };
    let mut brackets = None;
    for &(start, line) in lines.iter().skip(first_checked) {
        if is_blank(line) || indent_width(line) >= reference {
            continue;
        }
        let brackets = brackets.get_or_insert_with(|| walk(line_before_cursor, text, &[]));
        if !starts_with_own_closer(line, start, brackets) {
            return cut_before_line(text, start);
        }
    }
    text
}

fn starts_with_own_closer(line: &str, start: usize, brackets: &[Bracket]) -> bool {
    let first_char = start + line.len() - line.trim_start().len();
    brackets.iter().any(|b| b.offset == first_char && matches!(b.role, Role::ClosesOwn { .. }))
}

#[cfg(test)]
mod tests {
    use super::cut;

    #[test]
    fn golden() {
        for (line_before_cursor, text, expected) in [
            // Python: the model writes the body, then the next function and test code.
            ("    ", "return a + b\n\ndef sub(a, b):\n    return a - b", "return a + b\n"),
            ("    ", "x = 1\n    y = 2\nprint(x)", "x = 1\n    y = 2"),
            // Deeper lines are fine; the suggestion may open blocks of its own.
            (
                "    ",
                "for i in range(3):\n        total += i\n    return total\nprint(f())",
                "for i in range(3):\n        total += i\n    return total",
            ),
            // The first line's own leading whitespace adds to the cursor column.
            ("", "    if x:\n        y()\n    z()\nw()", "    if x:\n        y()\n    z()"),
            // Mid-line: the cursor line's indentation is the reference.
            (
                "    result = compute(",
                "a,\n        b)\n    return result\nmain()",
                "a,\n        b)\n    return result",
            ),
            // A blank first line: the first written line sets the reference.
            ("    ", "\n    foo()\nbar()", "\n    foo()"),
            // A dedented `else:` that the suggestion did not open is cut.
            ("        ", "y = 1\n    else:\n        y = 2", "y = 1"),
            // ... and one at the level of the suggestion's own `if` is kept.
            (
                "    ",
                "if a:\n        b()\n    else:\n        c()",
                "if a:\n        b()\n    else:\n        c()",
            ),
            // A closer less indented than the reference stays if it closes what the suggestion opened.
            ("    value = ", "[\n        1,\n  ]\nprint(value)", "[\n        1,\n  ]"),
            // A closer of a bracket opened before the cursor is cut.
            ("    ", "println!(\"hi\");\n}", "println!(\"hi\");"),
            ("    ", "a,\n    b,\n)", "a,\n    b,"),
            // Blank lines never cut, whatever their whitespace.
            ("    ", "a()\n\n  \n    b()", "a()\n\n  \n    b()"),
            // Tabs: a tab is 4 columns.
            ("\t", "x := 1\n\ty := 2\n}", "x := 1\n\ty := 2"),
            ("\t", "x := 1\n    y := 2\n  z", "x := 1\n    y := 2"),
            // Unicode text does not disturb the offsets.
            ("    ", "s = \"é\"\n    t = \"ü\"\nu = 1", "s = \"é\"\n    t = \"ü\""),
            // At the top level nothing is less indented.
            ("", "a = 1\n\nb = 2", "a = 1\n\nb = 2"),
            ("    ", "", ""),
            ("    ", "\n\n", "\n\n"),
            ("x = ", "1", "1"),
        ] {
            assert_eq!(
                cut(text, line_before_cursor),
                expected,
                "{line_before_cursor:?} + {text:?}"
            );
        }
    }
}
