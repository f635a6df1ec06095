//! Models write `\n`; a suggestion inserted into a CRLF document must use `\r\n` like the rest.

pub fn match_document(text: &str, crlf: bool) -> String {
    if !crlf {
        return text.to_string();
    }
    // Normalise first so existing `\r\n` pairs don't become `\r\r\n`.
    text.replace("\r\n", "\n").replace('\n', "\r\n")
}

#[cfg(test)]
mod tests {
    use super::match_document;

    #[test]
    fn golden() {
        assert_eq!(match_document("a\nb", false), "a\nb");
        assert_eq!(match_document("a\nb", true), "a\r\nb");
        assert_eq!(match_document("a\r\nb\nc", true), "a\r\nb\r\nc");
        assert_eq!(match_document("one line", true), "one line");
    }
}
