//! Whether a suggestion breaks the syntax of the lines it writes: the second half of the gate
//! that shows nothing rather than something wrong (the first is `confidence`).
//!
//! In the dev set's full run, 64 of 1,034 answers broke their lines this way (`impl<K> {`, a
//! `return` at the wrong indentation, `*mut *mut T>>`) and none of them was right, while no
//! right answer did (docs/measurements.md, session 20). The document is parsed with the
//! suggestion in place by the context stage's tree-sitter grammars; languages without one are
//! never judged.

use crate::context::lang::{self, Language};

/// Whether `suggestion`, inserted between `before` and `after` (the document's text on either
/// side of the cursor) in a file of `language`, breaks the syntax of the lines it writes:
/// - a syntax error starts on one of them (`impl<K> {` after `impl<K> `), or
/// - an error spans them that the document without the suggestion does not have there (a
///   Python line at the wrong indentation breaks its whole block, which starts above).
///
/// Errors the document already had elsewhere, above or below, are not the suggestion's.
pub fn breaks(language: Language, before: &str, suggestion: &str, after: &str) -> bool {
    if suggestion.trim().is_empty() {
        return false;
    }
    let first = before.matches('\n').count();
    let last = first + suggestion.trim_end_matches(['\n', '\r']).matches('\n').count();
    let Some(with) = lang::syntax_errors(language, &format!("{before}{suggestion}{after}")) else {
        return false;
    };
    if with.iter().any(|&(start, _)| (first..=last).contains(&start)) {
        return true;
    }
    let spans_cursor_line = |errors: &[(usize, usize)]| {
        errors.iter().any(|&(start, end)| start < first && end >= first)
    };
    if !spans_cursor_line(&with) {
        return false;
    }
    lang::syntax_errors(language, &format!("{before}{after}"))
        .is_some_and(|without| !spans_cursor_line(&without))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rust() -> Language {
        lang::language_of("a.rs")
    }

    fn python() -> Language {
        lang::language_of("a.py")
    }

    #[test]
    fn a_line_that_cannot_parse_is_broken() {
        let before = "struct Builder<K> { k: K }\n\nimpl<K> ";
        let after = "\n    fn new() -> Self { todo!() }\n}\n";
        assert!(breaks(rust(), before, "{", after));
        assert!(!breaks(rust(), before, "Builder<K> {", after));
        // A pointer type closed twice.
        let (before, after) = ("struct Node<T> {\n    next: *mut ", "\n    value: T,\n}\n");
        assert!(breaks(rust(), before, "Node<T>>,", after));
        assert!(!breaks(rust(), before, "Node<T>,", after));
    }

    #[test]
    fn a_python_line_at_the_wrong_indentation_is_broken() {
        // `HumanEval/142`'s shape: a `return` that ends the loop before its `else:`.
        let before =
            "def f(xs):\n    for x in xs:\n        if x:\n            a()\n        elif x > 1:\n";
        let after = "        else:\n            b()\n    return 1\n";
        assert!(breaks(python(), before, "    return 2\n", after));
        assert!(!breaks(python(), before, "            c()\n", after));
    }

    #[test]
    fn errors_the_document_already_has_are_not_the_suggestions() {
        // Broken code above, in the block around the cursor: the suggestion is not judged by it.
        let before = "def f(xs):\n    total = (\n    for x in xs:\n";
        let after = "    return total\n";
        assert!(!breaks(python(), before, "        total += x\n", after));
        // Broken code below.
        let before = "fn f() -> u32 {\n    let x = ";
        let after = "\n    x\n}\n\nfn g( {\n";
        assert!(!breaks(rust(), before, "1;", after));
        assert!(breaks(rust(), before, "1;)", after));
    }

    #[test]
    fn other_languages_and_empty_suggestions_are_never_judged() {
        let text = lang::language_of("notes.txt");
        assert!(!breaks(text, "impl<K> ", "{", "\n"));
        assert!(!breaks(rust(), "impl<K> ", "", "\n"));
        assert!(!breaks(rust(), "impl<K> ", "  \n", "\n"));
    }

    #[test]
    fn a_multi_line_suggestion_is_judged_on_all_its_lines() {
        let before = "fn f(xs: &[u32]) -> u32 {\n    let mut total = 0;\n    ";
        let after = "\n    total\n}\n";
        assert!(!breaks(rust(), before, "for x in xs {\n        total += x;\n    }", after));
        assert!(breaks(rust(), before, "for x in xs {\n        total += x;;)\n    }", after));
    }
}
