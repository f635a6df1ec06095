//! LSP `Position` ⇄ rope char index conversion — the only place that knows
//! about position encodings and line-break rules.
//!
//! Invariants relied upon:
//! - ropey is built without `unicode_lines`, so its lines break exactly on
//!   `\n`, `\r\n` and `\r`, which are the LSP line breaks.
//! - `character` counts code units of the line's *content* (line break
//!   excluded) in the negotiated encoding; `character == content length` is
//!   the end of the line and is valid.
//! - Anything out of range is an error, never a clamp: a wrong position means
//!   the editor and we disagree about the text, and guessing would corrupt it.

use std::fmt;
use std::ops::Range as CharRange;

use ropey::{Rope, RopeSlice};
use tower_lsp_server::gen_lsp_types::{Position, PositionEncodingKind, Range};

/// The position encoding negotiated with the client at `initialize`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PositionEncoding {
    /// `character` counts UTF-8 bytes.
    Utf8,
    /// `character` counts UTF-16 code units (the LSP mandatory default).
    #[default]
    Utf16,
    /// `character` counts Unicode scalar values (ropey chars).
    Utf32,
}

impl PositionEncoding {
    /// Picks the encoding from the client's `general.positionEncodings`.
    ///
    /// UTF-8 is preferred because ropey stores UTF-8 (cheapest, exact);
    /// otherwise UTF-16, which every client must support, so it is also the
    /// answer when nothing (or nothing we know) is offered. UTF-32 is used
    /// only when offered without UTF-16.
    pub fn negotiate(offered: Option<&[PositionEncodingKind]>) -> Self {
        let offered = offered.unwrap_or(&[]);
        let has = |enc: Self| offered.iter().any(|kind| Self::from_lsp(kind) == Some(enc));
        if has(Self::Utf8) {
            Self::Utf8
        } else if offered.is_empty() || has(Self::Utf16) {
            Self::Utf16
        } else if has(Self::Utf32) {
            Self::Utf32
        } else {
            Self::Utf16
        }
    }

    /// The LSP value to announce in `ServerCapabilities::position_encoding`.
    pub fn to_lsp(self) -> PositionEncodingKind {
        match self {
            Self::Utf8 => PositionEncodingKind::UTF8,
            Self::Utf16 => PositionEncodingKind::UTF16,
            Self::Utf32 => PositionEncodingKind::UTF32,
        }
    }

    /// Maps an LSP kind to ours; `None` for unknown custom encodings.
    /// Matches `Custom("utf-8")` etc. too, since a hand-built kind may not be
    /// normalised to the named variant.
    pub fn from_lsp(kind: &PositionEncodingKind) -> Option<Self> {
        match kind {
            PositionEncodingKind::UTF8 => Some(Self::Utf8),
            PositionEncodingKind::UTF16 => Some(Self::Utf16),
            PositionEncodingKind::UTF32 => Some(Self::Utf32),
            PositionEncodingKind::Custom(name) => match name.as_ref() {
                "utf-8" => Some(Self::Utf8),
                "utf-16" => Some(Self::Utf16),
                "utf-32" => Some(Self::Utf32),
                _ => None,
            },
        }
    }
}

impl fmt::Display for PositionEncoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Utf8 => "UTF-8",
            Self::Utf16 => "UTF-16",
            Self::Utf32 => "UTF-32",
        })
    }
}

/// A position or char index that does not exist in the document.
/// The messages are sent back to the editor, so they name the offending
/// value and the limit it broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PositionError {
    #[error(
        "position {}:{} is out of range: line {} does not exist, the document has {line_count} line(s)",
        .position.line, .position.character, .position.line
    )]
    LineOutOfRange { position: Position, line_count: usize },

    #[error(
        "position {}:{} is out of range: line {} is {line_len} {encoding} code unit(s) long",
        .position.line, .position.character, .position.line
    )]
    CharacterOutOfRange { position: Position, line_len: usize, encoding: PositionEncoding },

    #[error(
        "position {}:{} falls inside a character that takes several {encoding} code units",
        .position.line, .position.character
    )]
    InsideCharacter { position: Position, encoding: PositionEncoding },

    #[error(
        "range start {}:{} is after its end {}:{}",
        .start.line, .start.character, .end.line, .end.character
    )]
    StartAfterEnd { start: Position, end: Position },

    #[error("char index {char_idx} is out of range: the document has {len_chars} char(s)")]
    CharIndexOutOfRange { char_idx: usize, len_chars: usize },

    #[error("char index {char_idx} falls between the \\r and \\n of line {line}'s line break")]
    InsideLineBreak { char_idx: usize, line: usize },

    #[error("char index {char_idx} maps to a line or column that does not fit in a u32")]
    TooLarge { char_idx: usize },
}

/// Converts an LSP position to a char index into `rope`.
pub fn position_to_char(
    rope: &Rope,
    pos: Position,
    enc: PositionEncoding,
) -> Result<usize, PositionError> {
    let line_idx = pos.line as usize;
    let line_count = rope.len_lines();
    if line_idx >= line_count {
        return Err(PositionError::LineOutOfRange { position: pos, line_count });
    }
    let line_start = rope.line_to_char(line_idx);
    let line = rope.line(line_idx);
    let content = line.slice(..content_len_chars(line));
    let col = pos.character as usize;

    let out_of_range = |line_len: usize| PositionError::CharacterOutOfRange {
        position: pos,
        line_len,
        encoding: enc,
    };
    let inside = || PositionError::InsideCharacter { position: pos, encoding: enc };

    // ropey's unit→char conversions round down to the containing char, so a
    // round trip that doesn't come back means `col` split a character.
    let char_in_line = match enc {
        PositionEncoding::Utf32 => {
            if col > content.len_chars() {
                return Err(out_of_range(content.len_chars()));
            }
            col
        }
        PositionEncoding::Utf16 => {
            if col > content.len_utf16_cu() {
                return Err(out_of_range(content.len_utf16_cu()));
            }
            let c = content.utf16_cu_to_char(col);
            if content.char_to_utf16_cu(c) != col {
                return Err(inside());
            }
            c
        }
        PositionEncoding::Utf8 => {
            if col > content.len_bytes() {
                return Err(out_of_range(content.len_bytes()));
            }
            let c = content.byte_to_char(col);
            if content.char_to_byte(c) != col {
                return Err(inside());
            }
            c
        }
    };
    Ok(line_start + char_in_line)
}

/// Converts a char index into `rope` to an LSP position.
/// `char_idx == rope.len_chars()` (end of document) is valid.
pub fn char_to_position(
    rope: &Rope,
    char_idx: usize,
    enc: PositionEncoding,
) -> Result<Position, PositionError> {
    let len_chars = rope.len_chars();
    if char_idx > len_chars {
        return Err(PositionError::CharIndexOutOfRange { char_idx, len_chars });
    }
    let line_idx = rope.char_to_line(char_idx);
    let line = rope.line(line_idx);
    let col_chars = char_idx - rope.line_to_char(line_idx);
    // Pointing at the first char of the break is the end of the line; only
    // the `\n` of a `\r\n` has no LSP position.
    if col_chars > content_len_chars(line) {
        return Err(PositionError::InsideLineBreak { char_idx, line: line_idx });
    }
    let character = match enc {
        PositionEncoding::Utf32 => col_chars,
        PositionEncoding::Utf16 => line.char_to_utf16_cu(col_chars),
        PositionEncoding::Utf8 => line.char_to_byte(col_chars),
    };
    let too_large = |_| PositionError::TooLarge { char_idx };
    Ok(Position {
        line: u32::try_from(line_idx).map_err(too_large)?,
        character: u32::try_from(character).map_err(too_large)?,
    })
}

/// Converts an LSP range to a char range; errors if either end is invalid or
/// the start lies after the end.
pub fn range_to_chars(
    rope: &Rope,
    range: Range,
    enc: PositionEncoding,
) -> Result<CharRange<usize>, PositionError> {
    let start = position_to_char(rope, range.start, enc)?;
    let end = position_to_char(rope, range.end, enc)?;
    if start > end {
        return Err(PositionError::StartAfterEnd { start: range.start, end: range.end });
    }
    Ok(start..end)
}

/// Converts a char range back to an LSP range (e.g. for completion edits).
pub fn chars_to_range(
    rope: &Rope,
    chars: CharRange<usize>,
    enc: PositionEncoding,
) -> Result<Range, PositionError> {
    let start = char_to_position(rope, chars.start, enc)?;
    let end = char_to_position(rope, chars.end, enc)?;
    if chars.start > chars.end {
        return Err(PositionError::StartAfterEnd { start, end });
    }
    Ok(Range { start, end })
}

/// Number of chars in `line` before its line break (`\n`, `\r\n` or `\r`).
fn content_len_chars(line: RopeSlice<'_>) -> usize {
    let n = line.len_chars();
    match n.checked_sub(1).map(|last| line.char(last)) {
        Some('\n') if n >= 2 && line.char(n - 2) == '\r' => n - 2,
        Some('\n' | '\r') => n - 1,
        _ => n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PositionEncoding::{Utf8, Utf16, Utf32};

    const ALL: [PositionEncoding; 3] = [Utf8, Utf16, Utf32];

    fn pos(line: u32, character: u32) -> Position {
        Position { line, character }
    }

    fn range(sl: u32, sc: u32, el: u32, ec: u32) -> Range {
        Range { start: pos(sl, sc), end: pos(el, ec) }
    }

    /// Every char index that has a position must round-trip exactly.
    fn assert_round_trips(text: &str) {
        let rope = Rope::from_str(text);
        for enc in ALL {
            for idx in 0..=rope.len_chars() {
                match char_to_position(&rope, idx, enc) {
                    Ok(p) => assert_eq!(
                        position_to_char(&rope, p, enc),
                        Ok(idx),
                        "{enc} round trip of char {idx} via {p:?} in {text:?}"
                    ),
                    Err(PositionError::InsideLineBreak { .. }) => {
                        assert_eq!(rope.char(idx), '\n');
                        assert_eq!(rope.char(idx - 1), '\r');
                    }
                    Err(e) => panic!("char {idx} in {text:?}: {e}"),
                }
            }
        }
    }

    #[test]
    fn negotiation_prefers_utf8() {
        use PositionEncodingKind as K;
        let n = |kinds: &[K]| PositionEncoding::negotiate(Some(kinds));
        assert_eq!(n(&[K::UTF16, K::UTF8]), Utf8);
        assert_eq!(n(&[K::UTF32, K::UTF16, K::UTF8]), Utf8);
        assert_eq!(n(&[K::UTF8]), Utf8);
        assert_eq!(n(&[K::UTF32, K::UTF16]), Utf16);
        assert_eq!(n(&[K::UTF16]), Utf16);
        assert_eq!(n(&[K::UTF32]), Utf32);
        assert_eq!(n(&[K::new("utf-7"), K::UTF32]), Utf32);
        assert_eq!(n(&[K::new("utf-7")]), Utf16);
        assert_eq!(n(&[]), Utf16);
        assert_eq!(PositionEncoding::negotiate(None), Utf16);
        // A custom kind spelled like a standard one counts as that one.
        assert_eq!(n(&[K::new("utf-8")]), Utf8);
        assert_eq!(n(&[K::from("utf-8".to_string())]), Utf8);
    }

    #[test]
    fn to_lsp_matches_wire_names() {
        assert_eq!(String::from(Utf8.to_lsp()), "utf-8");
        assert_eq!(String::from(Utf16.to_lsp()), "utf-16");
        assert_eq!(String::from(Utf32.to_lsp()), "utf-32");
        for enc in ALL {
            assert_eq!(PositionEncoding::from_lsp(&enc.to_lsp()), Some(enc));
        }
    }

    #[test]
    fn ascii_is_the_same_in_every_encoding() {
        let rope = Rope::from_str("hello\nworld");
        for enc in ALL {
            assert_eq!(position_to_char(&rope, pos(0, 0), enc), Ok(0));
            assert_eq!(position_to_char(&rope, pos(0, 5), enc), Ok(5));
            assert_eq!(position_to_char(&rope, pos(1, 0), enc), Ok(6));
            assert_eq!(position_to_char(&rope, pos(1, 5), enc), Ok(11));
            assert_eq!(char_to_position(&rope, 8, enc), Ok(pos(1, 2)));
        }
    }

    #[test]
    fn astral_plane_unit_counts() {
        // 😀 and 𝕏 are outside the BMP: 4 UTF-8 bytes, 2 UTF-16 units, 1 char.
        let rope = Rope::from_str("a😀b𝕏c");
        let char_idx_of_b = 2;
        assert_eq!(char_to_position(&rope, char_idx_of_b, Utf8), Ok(pos(0, 5)));
        assert_eq!(char_to_position(&rope, char_idx_of_b, Utf16), Ok(pos(0, 3)));
        assert_eq!(char_to_position(&rope, char_idx_of_b, Utf32), Ok(pos(0, 2)));

        let char_idx_of_c = 4;
        assert_eq!(position_to_char(&rope, pos(0, 10), Utf8), Ok(char_idx_of_c));
        assert_eq!(position_to_char(&rope, pos(0, 6), Utf16), Ok(char_idx_of_c));
        assert_eq!(position_to_char(&rope, pos(0, 4), Utf32), Ok(char_idx_of_c));

        // End of line in each encoding.
        assert_eq!(position_to_char(&rope, pos(0, 11), Utf8), Ok(5));
        assert_eq!(position_to_char(&rope, pos(0, 7), Utf16), Ok(5));
        assert_eq!(position_to_char(&rope, pos(0, 5), Utf32), Ok(5));
        assert_round_trips("a😀b𝕏c\n😀😀\n𝕏");
    }

    #[test]
    fn offset_inside_surrogate_pair_is_rejected() {
        let rope = Rope::from_str("a😀b");
        assert_eq!(
            position_to_char(&rope, pos(0, 2), Utf16),
            Err(PositionError::InsideCharacter { position: pos(0, 2), encoding: Utf16 })
        );
        // Both edges of the pair are fine.
        assert_eq!(position_to_char(&rope, pos(0, 1), Utf16), Ok(1));
        assert_eq!(position_to_char(&rope, pos(0, 3), Utf16), Ok(2));
    }

    #[test]
    fn offset_inside_utf8_sequence_is_rejected() {
        let rope = Rope::from_str("a😀b");
        for byte in 2..=4 {
            assert_eq!(
                position_to_char(&rope, pos(0, byte), Utf8),
                Err(PositionError::InsideCharacter { position: pos(0, byte), encoding: Utf8 }),
                "byte {byte}"
            );
        }
        assert_eq!(position_to_char(&rope, pos(0, 5), Utf8), Ok(2));
    }

    #[test]
    fn cjk_unit_counts() {
        // BMP CJK: 3 UTF-8 bytes, 1 UTF-16 unit, 1 char.
        let rope = Rope::from_str("x = \"漢字テスト\";\n中文");
        let idx_of_quote = 10; // x, ' ', =, ' ', ", 5 CJK chars, then "
        assert_eq!(rope.char(idx_of_quote), '"');
        assert_eq!(char_to_position(&rope, idx_of_quote, Utf8), Ok(pos(0, 20)));
        assert_eq!(char_to_position(&rope, idx_of_quote, Utf16), Ok(pos(0, 10)));
        assert_eq!(char_to_position(&rope, idx_of_quote, Utf32), Ok(pos(0, 10)));
        assert_eq!(position_to_char(&rope, pos(1, 3), Utf8), Ok(14));
        assert_eq!(position_to_char(&rope, pos(1, 6), Utf8), Ok(15));
        assert_eq!(position_to_char(&rope, pos(1, 1), Utf16), Ok(14));
        assert!(matches!(
            position_to_char(&rope, pos(1, 1), Utf8),
            Err(PositionError::InsideCharacter { .. })
        ));
        assert!(matches!(
            position_to_char(&rope, pos(1, 7), Utf8),
            Err(PositionError::CharacterOutOfRange { line_len: 6, .. })
        ));
        assert_round_trips("x = \"漢字テスト\";\n中文");
    }

    #[test]
    fn crlf_lines() {
        let text = "ab\r\ncd\r\n";
        let rope = Rope::from_str(text);
        assert_eq!(rope.len_lines(), 3);
        for enc in ALL {
            // End of line 0 is right before the \r.
            assert_eq!(position_to_char(&rope, pos(0, 2), enc), Ok(2));
            // The break is not content: one past the end is out of range.
            assert_eq!(
                position_to_char(&rope, pos(0, 3), enc),
                Err(PositionError::CharacterOutOfRange {
                    position: pos(0, 3),
                    line_len: 2,
                    encoding: enc
                })
            );
            assert_eq!(position_to_char(&rope, pos(1, 0), enc), Ok(4));
            assert_eq!(position_to_char(&rope, pos(1, 2), enc), Ok(6));
            // The empty line after the final break.
            assert_eq!(position_to_char(&rope, pos(2, 0), enc), Ok(8));
            assert!(matches!(
                position_to_char(&rope, pos(2, 1), enc),
                Err(PositionError::CharacterOutOfRange { line_len: 0, .. })
            ));
            assert!(matches!(
                position_to_char(&rope, pos(3, 0), enc),
                Err(PositionError::LineOutOfRange { line_count: 3, .. })
            ));

            assert_eq!(char_to_position(&rope, 2, enc), Ok(pos(0, 2))); // at \r
            assert_eq!(
                char_to_position(&rope, 3, enc), // between \r and \n
                Err(PositionError::InsideLineBreak { char_idx: 3, line: 0 })
            );
            assert_eq!(char_to_position(&rope, 8, enc), Ok(pos(2, 0)));
        }
        assert_round_trips(text);
    }

    #[test]
    fn lone_cr_and_mixed_line_breaks() {
        let text = "a\rb\nc\r\nd";
        let rope = Rope::from_str(text);
        assert_eq!(rope.len_lines(), 4);
        for enc in ALL {
            assert_eq!(position_to_char(&rope, pos(0, 1), enc), Ok(1));
            assert_eq!(position_to_char(&rope, pos(1, 0), enc), Ok(2));
            assert_eq!(position_to_char(&rope, pos(2, 0), enc), Ok(4));
            assert_eq!(position_to_char(&rope, pos(3, 1), enc), Ok(8));
            assert_eq!(char_to_position(&rope, 3, enc), Ok(pos(1, 1)));
        }
        assert_round_trips(text);
    }

    #[test]
    fn unicode_separators_do_not_break_lines() {
        // U+2028, U+2029, NEL, VT and FF are line breaks for ropey's
        // `unicode_lines` feature but not for LSP; this fails if that
        // feature is (re-)enabled anywhere in the dependency graph.
        let text = "a\u{2028}b\u{2029}c\u{85}d\u{b}e\u{c}f\ng";
        let rope = Rope::from_str(text);
        assert_eq!(rope.len_lines(), 2);
        assert_eq!(position_to_char(&rope, pos(1, 0), Utf32), Ok(12));
        assert_eq!(char_to_position(&rope, 2, Utf32), Ok(pos(0, 2)));
        // U+2028 is 3 UTF-8 bytes and stays in the line's content.
        assert_eq!(position_to_char(&rope, pos(0, 4), Utf8), Ok(2));
        assert_round_trips(text);
    }

    #[test]
    fn empty_document_has_one_empty_line() {
        let rope = Rope::new();
        for enc in ALL {
            assert_eq!(position_to_char(&rope, pos(0, 0), enc), Ok(0));
            assert_eq!(char_to_position(&rope, 0, enc), Ok(pos(0, 0)));
            assert!(matches!(
                position_to_char(&rope, pos(0, 1), enc),
                Err(PositionError::CharacterOutOfRange { .. })
            ));
            assert!(matches!(
                position_to_char(&rope, pos(1, 0), enc),
                Err(PositionError::LineOutOfRange { line_count: 1, .. })
            ));
        }
    }

    #[test]
    fn out_of_range_errors_carry_limits_and_read_well() {
        let rope = Rope::from_str("abc\ndé");
        let err = position_to_char(&rope, pos(5, 0), Utf16).unwrap_err();
        assert_eq!(err, PositionError::LineOutOfRange { position: pos(5, 0), line_count: 2 });
        assert_eq!(
            err.to_string(),
            "position 5:0 is out of range: line 5 does not exist, the document has 2 line(s)"
        );

        let err = position_to_char(&rope, pos(1, 4), Utf8).unwrap_err();
        assert_eq!(
            err,
            PositionError::CharacterOutOfRange { position: pos(1, 4), line_len: 3, encoding: Utf8 }
        );
        assert_eq!(
            err.to_string(),
            "position 1:4 is out of range: line 1 is 3 UTF-8 code unit(s) long"
        );

        assert_eq!(
            char_to_position(&rope, 7, Utf16),
            Err(PositionError::CharIndexOutOfRange { char_idx: 7, len_chars: 6 })
        );
        // u32::MAX must not overflow anything.
        assert!(matches!(
            position_to_char(&rope, pos(u32::MAX, u32::MAX), Utf16),
            Err(PositionError::LineOutOfRange { .. })
        ));
        assert!(matches!(
            position_to_char(&rope, pos(0, u32::MAX), Utf16),
            Err(PositionError::CharacterOutOfRange { line_len: 3, .. })
        ));
    }

    #[test]
    fn ranges() {
        let rope = Rope::from_str("ab\r\n😀d");
        assert_eq!(range_to_chars(&rope, range(0, 1, 1, 2), Utf16), Ok(1..5));
        assert_eq!(range_to_chars(&rope, range(0, 2, 0, 2), Utf16), Ok(2..2));
        // Spanning the CRLF.
        assert_eq!(range_to_chars(&rope, range(0, 2, 1, 0), Utf8), Ok(2..4));
        let err = range_to_chars(&rope, range(1, 0, 0, 1), Utf16).unwrap_err();
        assert_eq!(err, PositionError::StartAfterEnd { start: pos(1, 0), end: pos(0, 1) });
        assert_eq!(err.to_string(), "range start 1:0 is after its end 0:1");
        assert!(matches!(
            range_to_chars(&rope, range(0, 1, 0, 9), Utf16),
            Err(PositionError::CharacterOutOfRange { .. })
        ));
        assert!(matches!(
            range_to_chars(&rope, range(1, 1, 1, 2), Utf16),
            Err(PositionError::InsideCharacter { .. })
        ));

        assert_eq!(chars_to_range(&rope, 1..5, Utf16), Ok(range(0, 1, 1, 2)));
        assert_eq!(chars_to_range(&rope, 1..5, Utf8), Ok(range(0, 1, 1, 4)));
        #[allow(clippy::reversed_empty_ranges)] // the point of the test
        let reversed = 5..1;
        assert!(matches!(
            chars_to_range(&rope, reversed, Utf16),
            Err(PositionError::StartAfterEnd { .. })
        ));
    }

    #[test]
    fn round_trips_on_assorted_text() {
        assert_round_trips("");
        assert_round_trips("\n");
        assert_round_trips("\r\n\r\n");
        assert_round_trips("\r\r\n\n\r");
        assert_round_trips("fn main() {\r\n    let s = \"héllo 😀 世界\";\r\n}\r\n");
    }

    #[test]
    fn long_document_positions() {
        // Spans many rope chunks, so line lookups go through the tree.
        let line = "let 😀 = \"世界\";\r\n";
        let text = line.repeat(2000);
        let rope = Rope::from_str(&text);
        let line_chars = line.chars().count();
        assert_eq!(rope.len_lines(), 2001);
        assert_eq!(position_to_char(&rope, pos(1500, 7), Utf16), Ok(1500 * line_chars + 6));
        assert_eq!(char_to_position(&rope, 1999 * line_chars + 5, Utf8), Ok(pos(1999, 8)));
        assert_eq!(position_to_char(&rope, pos(2000, 0), Utf32), Ok(rope.len_chars()));
    }
}
