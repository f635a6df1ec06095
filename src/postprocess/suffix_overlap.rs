//! What follows the cursor is already in the document: a suggestion that writes it again would
//! leave it doubled. Three cuts, in this order:
//!
//! - **Next line.** Stop before the first suggestion line that equals the next non-blank line
//!   after the cursor line, and drop everything after it. Lines are equal when their text and
//!   their indentation width are: a `}` that closes the suggestion's own inner block is not the
//!   suffix's `}` one level out. The first line takes part (as it will read, with the text before
//!   the cursor) only when the cursor line is otherwise blank.
//!
//!   When only indentation is before the cursor and code after it (the cursor at the start of a
//!   line, inserting above it), the suggestion goes in as whole lines above that code, so the
//!   cursor line as it reads now is the next line too: the suggestion stops at a line equal to
//!   it as well.
//! - **Body below.** Inserted that way above code indented deeper than the suggestion's first
//!   line, a suggestion that goes on at that code's indentation writes a body the block already
//!   has (`if x > y:` above `        return -1`): only its first line, the block's header, is
//!   kept. Not when that line leaves a bracket open (`if x {`, `foo(`): the cut would leave it
//!   unclosed, and what follows is its closing part rather than a second body.
//! - **Tail overlap.** Drop the end of the suggestion that the rest of the cursor line starts with
//!   (`x = 1;` before `;`), the longest such overlap that passes these checks:
//!   - it is not whitespace only, and it does not end inside a word of the suffix (`x + s`
//!     before `sum)` keeps its `s`) nor start inside a word of the suggestion — unless it is the
//!     whole suggestion (`me` typed before `me = 1`);
//!   - it closes no bracket that the suggestion opened before it (`foo(x)` before `)` keeps its
//!     `)`);
//!   - if it closes brackets opened before the cursor, the suggestion without it closes exactly
//!     as many of those as the cursor line opened and the rest of the line leaves open: `a, b)`
//!     inside `foo(bar(` before `)` is right as it is, `a, b))` loses one `)`. Brackets opened
//!     on earlier lines (the enclosing function's `{`) do not count: they close further down. The `bracket_balance` filter cuts closers
//!     that are simply unmatched; this one drops the duplicated text around them (`lo");`
//!     before `");`).

use super::brackets::{Bracket, BracketContext, Role, open_brackets, walk};
use super::lines::{
    cut_before_line, first_line, indent_width, is_blank, last_line, line_below, line_spans,
    pushed_down_line,
};

pub fn trim<'a>(
    text: &'a str,
    line_before_cursor: &str,
    suffix: &str,
    brackets: &BracketContext,
) -> &'a str {
    let rest_of_line = first_line(suffix);
    // Only indentation before the cursor and code after it: the suggestion goes in as whole
    // lines above that code, pushing the cursor line down as it reads now.
    let pushed_down = pushed_down_line(line_before_cursor, suffix);
    let pushed_down = pushed_down.as_deref();
    let text = cut_at_next_suffix_line(text, line_before_cursor, suffix, pushed_down);
    let text = match pushed_down {
        Some(code_below) => keep_header_above_body(text, line_before_cursor, code_below),
        None => text,
    };
    drop_tail_overlap(text, line_before_cursor, rest_of_line, brackets)
}

fn cut_at_next_suffix_line<'a>(
    text: &'a str,
    line_before_cursor: &str,
    suffix: &str,
    pushed_down: Option<&str>,
) -> &'a str {
    let below = line_below(suffix);
    // The first line, read with the text before the cursor, is a whole line only when nothing
    // but indentation precedes it; it then comes right before the pushed-down line, or before
    // the line below when the cursor line is blank.
    let next_after_first = if is_blank(line_before_cursor) { pushed_down.or(below) } else { None };
    for (index, (start, line)) in line_spans(text).enumerate() {
        let repeats_next = if index == 0 {
            next_after_first
                .is_some_and(|next| same_line(&format!("{line_before_cursor}{line}"), next))
        } else {
            [below, pushed_down].into_iter().flatten().any(|next| same_line(line, next))
        };
        if repeats_next {
            return cut_before_line(text, start);
        }
    }
    text
}

fn keep_header_above_body<'a>(
    text: &'a str,
    line_before_cursor: &str,
    code_below: &str,
) -> &'a str {
    let mut lines = line_spans(text);
    let Some((_, first)) = lines.next() else { return text };
    let header = format!("{line_before_cursor}{first}");
    let body_indent = indent_width(code_below);
    if is_blank(first) || body_indent <= indent_width(&header) || !open_brackets(&header).is_empty()
    {
        return text;
    }
    match lines.find(|(_, line)| !is_blank(line)) {
        Some((_, line)) if indent_width(line) == body_indent => first,
        _ => text,
    }
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

    /// Each case: (prefix, suggestion, suffix, what `trim` keeps).
    fn check(cases: &[(&str, &str, &str, &str)]) {
        for &(prefix, text, suffix, expected) in cases {
            assert_eq!(run(prefix, text, suffix), expected, "{prefix:?} + {text:?} + {suffix:?}");
        }
    }

    #[test]
    fn golden_next_line() {
        check(&[
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
            // The cursor at the start of a line of code: that line is pushed down below the
            // suggestion, so the suggestion stops where it writes that line again...
            (
                "    \"\"\"\n",
                "    for i in xs:\n        for j in ys:\n            pass",
                "        for j in ys:\n            if i == j:\n",
                "    for i in xs:",
            ),
            ("def f():\n    ", "x = 1\n    return x\n", "return x\n", "x = 1"),
            // ... also when that is its first line (as it reads, with the indentation before it).
            ("", "    s = 0\n    t = 1", "    s = 0\n", ""),
            ("  ", "  s = 0\n    t = 1", "  s = 0\n", ""),
            // Only at the same indentation.
            (
                "    ",
                "y = 1\n        return x\n    z",
                "return x\n",
                "y = 1\n        return x\n    z",
            ),
        ]);
    }

    #[test]
    fn golden_body_below() {
        check(&[
            // A block's body is already below the line the cursor starts: keep the header, even
            // when the model writes another body.
            (
                "def f(x, y):\n",
                "    if x > y:\n        return 0\n    return y",
                "        return -1\n    return x\n",
                "    if x > y:",
            ),
            // From within the indentation; blank lines do not count.
            (
                "def f(x, y):\n    ",
                "if x > y:\n\n        x = 0\n    else:",
                "    return -1\n",
                "if x > y:",
            ),
            // A header that leaves a bracket open keeps the rest of its block.
            (
                "fn f() {\n",
                "    if x {\n        y();\n    }",
                "        z();\n}\n",
                "    if x {\n        y();\n    }",
            ),
            ("", "foo(\n    a,\n)", "    b,\n", "foo(\n    a,\n)"),
            // The suggestion does not go on at the body's indentation.
            ("", "if x:\n            deeper()", "    body()\n", "if x:\n            deeper()"),
            ("", "a = 1\nb = 2", "    body()\n", "a = 1\nb = 2"),
            // The code below is not deeper, the cursor is not at a line start, or no code follows.
            ("", "if x:\n    y()", "z()\n", "if x:\n    y()"),
            ("    a = ", "f(\n        b)", "    c\n", "f(\n        b)"),
            ("", "if x:\n    y()", "\n    z()\n", "if x:\n    y()"),
        ]);
    }

    #[test]
    fn golden_tail_overlap() {
        check(&[
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
            // Brackets open from earlier lines close on later lines, not on this one.
            (
                "class P {\n  d(o: P): number {\n    return distance(this.x, this.y, ",
                "other.x, other.y);",
                ");\n  }\n}\n",
                "other.x, other.y",
            ),
            ("fn f() {\n    foo(bar(", "a, b)", ")\n}", "a, b)"),
            ("fn f() {\n    let v = vec![", "1, 2];", "];\n}", "1, 2"),
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
        ]);
    }
}
