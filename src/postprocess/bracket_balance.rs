//! A suggestion stops at a closing bracket that has nothing to close: past it the model is
//! writing code that belongs outside the expression or block the cursor is in.
//!
//! A closer may close a bracket the suggestion opened, or one opened before the cursor — but only
//! as many of those as the rest of the cursor line leaves open: closers the suffix already has
//! are not emitted again (`foo(a, b))` inside `print(` before `)` becomes `foo(a, b)`, also
//! inside a function whose `{` is still open: `BracketContext::closable`).
//! A closer of the wrong kind (`]` while `(` is innermost) closes nothing.
//!
//! Brackets inside string literals and line comments don't count; see `brackets.rs` for the
//! language-agnostic rules and their limits.

use super::brackets::{BracketContext, Role, walk};

pub fn cut<'a>(text: &'a str, line_before_cursor: &str, brackets: &BracketContext) -> &'a str {
    let mut closed_before_cursor = 0;
    for bracket in walk(line_before_cursor, text, &brackets.open_before_cursor) {
        let stop = match bracket.role {
            Role::Opens | Role::ClosesOwn { .. } => false,
            Role::ClosesBeforeCursor => {
                closed_before_cursor += 1;
                closed_before_cursor > brackets.closable()
            }
            Role::Unmatched => true,
        };
        if stop {
            return &text[..bracket.offset];
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::postprocess::lines::last_line;

    #[test]
    fn golden() {
        for (prefix, text, suffix, expected) in [
            // The suffix already closes `print(`.
            ("print(", "foo(a, b))", ")", "foo(a, b)"),
            ("print(", "foo(a, b))", "", "foo(a, b))"),
            // ... also inside a block: its brace closes further down, not on this line.
            ("fn f() {\n    print(", "foo(a, b));", ")", "foo(a, b)"),
            ("def f():\n    x = [g(", "1)].pop()", ")]", "1"),
            ("fn f() {\n    g(\n        a, ", "b)", ")", "b"),
            ("foo(bar(", "a, b)", ")", "a, b)"),
            ("foo(bar(", "a, b)), c", ")", "a, b)"),
            ("f(x[", "0])", ")", "0]"),
            ("", "x)", ")", "x"),
            // Nothing to close, or the wrong kind.
            ("x = ", "a) + b", "", "a"),
            ("f(x[", "0)", "", "0"),
            ("", "(a]", "", "(a"),
            // Brackets in literals and comments don't count.
            ("print(", "\")\" + x)", "", "\")\" + x)"),
            ("print(", "\")\" + x)", ")", "\")\" + x"),
            ("print(", "')' + `]` + x)", ")", "')' + `]` + x"),
            ("x = 1", "  # f(x))", "", "  # f(x))"),
            ("", "y = 2  // )", "", "y = 2  // )"),
            ("", "y = 2\n# )\nz = (3)", "", "y = 2\n# )\nz = (3)"),
            // The cursor inside a literal: the literal is followed into the suggestion.
            ("print(\"(", "a)\")", "", "a)\")"),
            // Brackets opened on earlier lines may be closed.
            (
                "fn main() {\n    let v = vec![\n        1,\n",
                "        2,\n    ];\n}\nfn other() {}\n}",
                "",
                "        2,\n    ];\n}\nfn other() {}\n",
            ),
            // Rust lifetimes are not quotes.
            (
                "",
                "fn f<'a>(x: &'a str) -> &'a str { x }",
                "",
                "fn f<'a>(x: &'a str) -> &'a str { x }",
            ),
            ("print(", "\"ü\")) + 1", "", "\"ü\")"),
            ("", "", ")", ""),
            ("", "no brackets", "", "no brackets"),
        ] {
            let brackets = BracketContext::new(prefix, suffix);
            assert_eq!(
                cut(text, last_line(prefix), &brackets),
                expected,
                "{prefix:?} + {text:?} + {suffix:?}"
            );
        }
    }
}
