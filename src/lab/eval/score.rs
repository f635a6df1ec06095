//! Scores: exact match and edit similarity, on the first line for single-line kinds and on the
//! whole text for multi-line ones; trailing whitespace never counts.

/// The part of `text` that is compared.
fn compared(text: &str, single_line: bool) -> &str {
    let text = if single_line { text.split('\n').next().unwrap_or_default() } else { text };
    text.trim_end()
}

pub fn exact_match(completion: &str, expected: &str, single_line: bool) -> bool {
    compared(completion, single_line) == compared(expected, single_line)
}

/// 1 − Levenshtein distance / length of the longer text (1.0 for two empty texts).
pub fn edit_similarity(completion: &str, expected: &str, single_line: bool) -> f64 {
    strsim::normalized_levenshtein(
        compared(completion, single_line),
        compared(expected, single_line),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_line_compares_the_first_line_without_trailing_space() {
        let expected = "    for idx, elem in enumerate(numbers):\n";
        assert!(exact_match(
            "    for idx, elem in enumerate(numbers):  \n        x = 1",
            expected,
            true
        ));
        assert!(!exact_match(
            "    for idx, elem in enumerate(numbers):\n        x = 1",
            expected,
            false
        ));
        assert!(!exact_match("for idx, elem in enumerate(numbers):", expected, true));
    }

    #[test]
    fn multi_line_compares_everything() {
        let expected = "    a = 1\n    b = 2\n";
        assert!(exact_match("    a = 1\n    b = 2", expected, false));
        assert!(!exact_match("    a = 1\n", expected, false));
    }

    #[test]
    fn edit_similarity_is_normalised() {
        assert_eq!(edit_similarity("abc", "abc", true), 1.0);
        assert_eq!(edit_similarity("", "", true), 1.0);
        assert_eq!(edit_similarity("", "abcd", true), 0.0);
        assert!((edit_similarity("abcx", "abcd", true) - 0.75).abs() < 1e-9);
        // Only the first line counts for single-line kinds.
        assert_eq!(edit_similarity("abcd\nzzz", "abcd\n", true), 1.0);
    }
}
