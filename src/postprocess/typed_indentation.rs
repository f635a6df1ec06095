//! The indentation the user already typed, written again by the model.
//!
//! After Enter, an editor indents the new line; asked there, a model often starts with the
//! indentation once more (`    return x` after four spaces: accepted, eight). The editor's
//! indentation is trusted, so the repeated part is dropped from the suggestion's first line and
//! from the lines after it that carry it too (the whole block was shifted). One case keeps it:
//! the editor did not indent after a block opener (`if x:` then the same indentation), where the
//! model's deeper indentation is the right one.

use std::borrow::Cow;

use super::lines::{self, indent_width, is_blank};

/// `text` without the indentation it repeats; `prefix` is the text before the cursor.
pub fn strip<'a>(text: &'a str, prefix: &str) -> Cow<'a, str> {
    let typed = lines::last_line(prefix);
    let first = text.split('\n').next().unwrap_or_default();
    let extra = &first[..first.len() - first.trim_start_matches([' ', '\t']).len()];
    if typed.is_empty() || !is_blank(typed) || extra.is_empty() || is_blank(first) {
        return Cow::Borrowed(text);
    }
    let before_cursor_line = prefix[..prefix.len() - typed.len()].trim_end_matches(['\n', '\r']);
    let previous = before_cursor_line.rsplit('\n').find(|line| !is_blank(line));
    if let Some(previous) = previous
        && indent_width(typed) <= indent_width(previous)
        && opens_block(previous)
    {
        return Cow::Borrowed(text);
    }
    let stripped: Vec<&str> =
        text.split('\n').map(|line| line.strip_prefix(extra).unwrap_or(line)).collect();
    Cow::Owned(stripped.join("\n"))
}

/// A line after which the next one is indented deeper.
fn opens_block(line: &str) -> bool {
    let end = line.trim_end();
    end.ends_with(':') || end.ends_with('{') || end.ends_with('(') || end.ends_with('[')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden() {
        let cases: &[(&str, &str, &str)] = &[
            // The editor indented after the opener; the model indents again.
            ("def f(x):\n    if x:\n        ", "    return 1\n    else:", "return 1\nelse:"),
            ("fn f() {\n    ", "    self.map.len()", "self.map.len()"),
            ("\tif x {\n\t\t", "\treturn 1", "return 1"),
            // A block shifted as a whole; a line less indented than the shift stays as it is.
            (
                "def f(x):\n    ",
                "    y = x\n    for i in y:\n        print(i)\n}",
                "y = x\nfor i in y:\n    print(i)\n}",
            ),
            // Nothing repeated, text already on the line, a blank first line: unchanged.
            ("def f(x):\n    ", "return x", "return x"),
            ("def f(x):\n    y = ", "  x", "  x"),
            ("def f(x):\n", "    return x", "    return x"),
            ("def f(x):\n    ", "\n    return x", "\n    return x"),
            // The editor kept the opener's indentation: the model's deeper line is right.
            ("def f(x):\n    if x:\n    ", "    return 1", "    return 1"),
            ("fn f() {\n", "    1", "    1"),
            // ... but after a plain line, the same indentation is the editor's choice.
            ("def f(x):\n    y = x\n    ", "    return y", "return y"),
            // CRLF prefixes.
            ("def f(x):\r\n    if x:\r\n    ", "    return 1", "    return 1"),
        ];
        for &(prefix, raw, expected) in cases {
            assert_eq!(strip(raw, prefix), expected, "{prefix:?} + {raw:?}");
        }
    }
}
