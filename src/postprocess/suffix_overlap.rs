//! What follows the cursor is already in the document: a suggestion that writes it again would
//! leave it doubled. Two cuts, in this order:
//!
//! - **Next line.** Stop before the first suggestion line that equals the next non-blank line
//!   after the cursor line, and drop everything after it. Lines are equal when their text and
//!   their indentation width are: a `}` that closes the suggestion's own inner block is not the
//!   suffix's `}` one level out. The first line takes part (as it will read, with the text before
//!   the cursor) only when the cursor line is otherwise blank.
//! - **Tail overlap.** Drop the end of the suggestion that the rest of the cursor line starts with
//!   (`x = 1;` before `;`), the longest such overlap that passes these checks:
//!   - it is not whitespace only, and it does not end inside a word of the suffix (`x + s`
//!     before `sum)` keeps its `s`) nor start inside a word of the suggestion — unless it is the
//!     whole suggestion (`me` typed before `me = 1`);
//!   - it closes no bracket that the suggestion opened before it (`foo(x)` before `)` keeps its
//!     `)`);
//!   - if it closes brackets opened before the cursor, the suggestion without it closes exactly
//!     as many of those as the rest of the line leaves open: `a, b)` inside `foo(bar(` before
//!     `)` is right as it is, `a, b))` loses one `)`. The `bracket_balance` filter cuts closers
//!     that are simply unmatched; this one drops the duplicated text around them (`lo");`
//!     before `");`).

use super::brackets::{Bracket, BracketContext, Role, walk};
use super::lines::{cut_before_line, first_line, indent_width, is_blank, last_line, line_spans};

pub fn trim<'a>(
    text: &'a str,
    line_before_cursor: &str,
    suffix: &str,
    brackets: &BracketContext,
) -> &'a str {
    let text = cut_at_next_suffix_line(text, line_before_cursor, suffix);
    drop_tail_overlap(text, line_before_cursor, first_line(suffix), brackets)
}

fn cut_at_next_suffix_line<'a>(text: &'a str, line_before_cursor: &str, suffix: &str) -> &'a str {
    let Some(next) = suffix.lines().skip(1).find(|line| !is_blank(line)) else {
        return text;
    };
    let cursor_line_blank = is_blank(line_before_cursor) && is_blank(first_line(suffix));
    for (index, (start, line)) in line_spans(text).enumerate() {
        let repeats_next = if index == 0 {
            cursor_line_blank && same_line(&format!("{line_before_cursor}{line}"), next)
        } else {
            same_line(line, next)
        };
        if repeats_next {
            return cut_before_line(text, start);
        }
    }
    text
}

fn same_line(a: &str, b: &str) -> bool {
    !is_blank(a) && a.trim() == b.trim() && indent_width(a) == indent_width(b)
}

fn drop_tail_overlap<'a>(
    text: &'a str,
    line_before_cursor: &str,
    rest_of_line: &str,
    brackets: &BracketContext,
) -> &'a str {
    let written = text.trim_end();
    let longest = last_line(written).len().min(rest_of_line.len());
    let mut roles = None;
    for len in (1..=longest).rev() {
        // `get` is `None` off a char boundary; the suffix's first `len` bytes are then no overlap.
        let Some(overlap) = rest_of_line.get(..len) else { continue };
        if overlap.trim().is_empty() || !last_line(written).ends_with(overlap) {
            continue;
        }
        let start = written.len() - len;
        let ends_in_word =
            ends_with_word_char(overlap) && starts_with_word_char(&rest_of_line[len..]);
        let starts_in_word =
            ends_with_word_char(&written[..start]) && starts_with_word_char(overlap);
        if ends_in_word || starts_in_word {
            continue;
        }
        let roles = roles
            .get_or_insert_with(|| walk(line_before_cursor, written, &brackets.open_before_cursor));
        if brackets_allow_dropping(roles, start, brackets.closable()) {
            return &text[..start];
        }
    }
    text
}

/// Whether the brackets allow dropping everything from `start` (see the module comment).
fn brackets_allow_dropping(roles: &[Bracket], start: usize, closable: usize) -> bool {
    let (mut kept, mut dropped) = (0, 0);
    for bracket in roles {
        match bracket.role {
            Role::ClosesOwn { opener } if bracket.offset >= start && opener < start => {
                return false;
            }
            Role::ClosesBeforeCursor if bracket.offset < start => kept += 1,
            Role::ClosesBeforeCursor => dropped += 1,
            _ => {}
        }
    }
    dropped == 0 || kept == closable
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn starts_with_word_char(s: &str) -> bool {
    s.chars().next().is_some_and(is_word_char)
}

fn ends_with_word_char(s: &str) -> bool {
    s.chars().next_back().is_some_and(is_word_char)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `prefix` ends with the cursor line's text before the cursor.
    fn run(prefix: &str, text: &str, suffix: &str) -> String {
        let brackets = BracketContext::new(prefix, suffix);
        trim(text, last_line(prefix), suffix, &brackets).to_string()
    }

    #[test]
    fn golden_next_line() {
        for (prefix, text, suffix, expected) in [
            // The model goes on to write the line that follows the cursor, and more.
            (
                "def f(x):\n    ",
                "x = x + 1\n    return x\n\ndef g():",
                "\n    return x\n",
                "x = x + 1",
            ),
            // The whole suggestion is the next line.
            ("def f(x):\n    ", "return x", "\n    return x\n", ""),
            // ... but not when the cursor line holds text after the cursor.
            ("def f(x):\n    ", "return x", "  # note\n    return x\n", "return x"),
            // The suggestion's own inner `}` is not the suffix's `}`.
            (
                "fn f() {\n    if a {\n        ",
                "foo();\n        if x {\n            y();\n        }\n    }\n}",
                "\n    }\n}",
                "foo();\n        if x {\n            y();\n        }",
            ),
            // Blank suffix lines are skipped; trailing whitespace does not matter.
            ("", "a = 1\nb = 2  \nc = 3", "\n\n\nb = 2\n", "a = 1"),
            // A tab and four spaces are the same width.
            ("\t", "x()\n    done()", "\n\tdone()", "x()"),
            // CRLF in the document.
            ("", "a\nb", "\r\nb\r\n", "a"),
            // Nothing after the cursor line.
            ("", "a\nb", "", "a\nb"),
            ("", "a\nb", "\n\n  \n", "a\nb"),
            ("", "", "\nx", ""),
        ] {
            assert_eq!(run(prefix, text, suffix), expected, "{prefix:?} + {text:?} + {suffix:?}");
        }
    }

    #[test]
    fn golden_tail_overlap() {
        for (prefix, text, suffix, expected) in [
            // Plain duplicates of the rest of the line.
            ("let x = f(a", ", b)", ", b)", ""),
            ("let na", "me", "me = 1;", ""),
            ("f(", "a, b,", ", c)", "a, b"),
            ("f(", "a;", ";\r\nnext", "a"),
            ("x = ", "1  # one", "  # one", "1"),
            ("s = \"", "héllo\"", "\"", "héllo"),
            ("", "=> café", "café", "=> "),
            // Closers: only those the rest of the line already provides.
            ("print(", "foo(a, b))", ")", "foo(a, b)"),
            ("x = foo(", "a, b);", ");", "a, b"),
            ("print(\"hel", "lo\");", "\");", "lo"),
            ("a(b(c(", "x))", "))", "x)"),
            ("foo(bar(", "a, b)", ")", "a, b)"),
            // Only the start of the rest of the line counts: a `;` written before its `)` stays.
            ("print(", "foo(x);", ");", "foo(x);"),
            ("print(", "foo(x)", ")", "foo(x)"),
            // Multi-line: the last line meets the rest of the cursor line.
            ("foo(", "\n    a,\n    b,\n)", ")", "\n    a,\n    b,\n"),
            // Not inside words.
            ("total = ", "x + s", "sum)", "x + s"),
            ("", "fizzbuzz_foo", "oo()", "fizzbuzz_foo"),
            ("x = ", "café", "é", "café"),
            // No overlap, or nothing to overlap with.
            ("", "a ", " b", "a "),
            ("", "abc", "", "abc"),
            ("", "", ")", ""),
            ("", "x", "é", "x"),
        ] {
            assert_eq!(run(prefix, text, suffix), expected, "{prefix:?} + {text:?} + {suffix:?}");
        }
    }
}
