//! The word before the cursor, written again by the model.
//!
//! Asked after `impl ` or `next: *mut `, a small model sometimes starts with that word once more
//! (`impl LockedFileGuard {`): accepted, the line reads `impl impl LockedFileGuard {`. A right
//! answer almost never does this (none of the 213 dev-set holes that follow a word and a space
//! starts with that word), so the repeated word is dropped and what follows it, usually what the
//! model meant, is kept.

/// `text` without a first word that repeats the last word of `line_before_cursor` when that line
/// ends with the word and whitespace.
pub fn strip<'a>(text: &'a str, line_before_cursor: &str) -> &'a str {
    let Some(word) = word_before_cursor(line_before_cursor) else { return text };
    let Some(rest) = text.strip_prefix(word) else { return text };
    let after_word = rest.trim_start_matches([' ', '\t']);
    // The word must end where the model's text has a space, and something must follow it.
    if after_word.len() == rest.len() || after_word.is_empty() || after_word.starts_with('\n') {
        return text;
    }
    after_word
}

/// The last whitespace-separated word of the line when the cursor follows it after whitespace,
/// if it holds a letter or digit (operators such as `=` or `|` are left alone).
fn word_before_cursor(line: &str) -> Option<&str> {
    let trimmed = line.trim_end_matches([' ', '\t']);
    if trimmed.len() == line.len() {
        return None;
    }
    let word = trimmed.rsplit([' ', '\t']).next()?;
    word.chars().any(char::is_alphanumeric).then_some(word)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden() {
        let cases: &[(&str, &str, &str)] = &[
            // The dev set's cases: the keyword or pointer sigil is written twice.
            ("impl ", "impl LockedFileGuard {", "LockedFileGuard {"),
            ("    next: *mut ", "*mut Node<T>>,", "Node<T>>,"),
            ("    fn state_mut(&mut self) -> &mut ", "&mut State<T> {", "State<T> {"),
            ("impl\t", "impl\tFoo {\n    x\n}", "Foo {\n    x\n}"),
            // No repeat, or a longer identifier that starts with the word: unchanged.
            ("impl ", "LockedFileGuard {", "LockedFileGuard {"),
            ("let x = ", "x_offset + 1", "x_offset + 1"),
            ("return ", "returned", "returned"),
            // The cursor touches the word (the model may be finishing it): unchanged.
            ("impl", " impl Foo", " impl Foo"),
            ("    retur", "return x", "return x"),
            // An operator, or the word alone or before a line break: unchanged.
            ("x = ", "= 1", "= 1"),
            ("impl ", "impl", "impl"),
            ("impl ", "impl \n", "impl \n"),
            // Nothing before the cursor on the line, or only indentation.
            ("", "impl Foo", "impl Foo"),
            ("    ", "    return 1", "    return 1"),
        ];
        for (before, text, expected) in cases {
            assert_eq!(strip(text, before), *expected, "{before:?} + {text:?}");
        }
    }
}
