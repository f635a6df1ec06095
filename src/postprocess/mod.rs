//! Post-processing stage: filters applied to the engine's raw text before it reaches the editor,
//! one filter per file, each with golden tests.

mod line_endings;
mod trailing_whitespace;

/// What the filters know about the document around the cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Surroundings {
    /// The document writes `\r\n` line breaks.
    pub crlf: bool,
}

/// Runs every filter in order.
pub fn apply(raw: &str, surroundings: Surroundings) -> String {
    let text = trailing_whitespace::trim(raw);
    line_endings::match_document(&text, surroundings.crlf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_compose() {
        let out = apply("a  \nb\n\n", Surroundings { crlf: true });
        assert_eq!(out, "a\r\nb");
    }
}
