//! Models write `\n`; a suggestion inserted into a CRLF document must use `\r\n` like the rest.
//! The other filters work on `\n` alone, so a stray `\r\n` from the model is normalised first.

use std::borrow::Cow;

pub fn to_lf(text: &str) -> Cow<'_, str> {
    if text.contains("\r\n") { Cow::Owned(text.replace("\r\n", "\n")) } else { Cow::Borrowed(text) }
}

pub fn match_document(text: &str, crlf: bool) -> String {
    if !crlf {
        return text.to_string();
    }
    // Normalise first so existing `\r\n` pairs don't become `\r\r\n`.
    text.replace("\r\n", "\n").replace('\n', "\r\n")
}

#[cfg(test)]
mod tests {
    use super::{match_document, to_lf};

    #[test]
    fn to_lf_golden() {
        assert_eq!(to_lf("a\r\nb\nc\r\n"), "a\nb\nc\n");
        assert_eq!(to_lf("a\rb"), "a\rb");
        assert_eq!(to_lf(""), "");
    }

    #[test]
    fn golden() {
        assert_eq!(match_document("a\nb", false), "a\nb");
        assert_eq!(match_document("a\nb", true), "a\r\nb");
        assert_eq!(match_document("a\r\nb\nc", true), "a\r\nb\r\nc");
        assert_eq!(match_document("one line", true), "one line");
    }
}
