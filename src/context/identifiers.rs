//! Identifier tokens of source text, the same for every language: the vocabulary of the
//! similarity ranking (BM25 windows, query overlap).

/// Identifier tokens of a text (`[A-Za-z_$][A-Za-z0-9_$]*`), in order of appearance; used for
/// similarity ranking. `$` counts as an identifier character in every language (TypeScript needs
/// it; elsewhere it only shows up in Rust macro variables). A word that touches a non-ASCII
/// character is skipped whole rather than cut, and digits never start a token (`0x1f`, `10usize`).
pub fn identifiers(text: &str) -> impl Iterator<Item = &str> {
    let bytes = text.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        loop {
            while i < bytes.len() && WORD_BYTES[bytes[i] as usize] == 0 {
                i += 1;
            }
            if i == bytes.len() {
                return None;
            }
            let start = i;
            let mut seen = 0u8;
            while i < bytes.len() && WORD_BYTES[bytes[i] as usize] != 0 {
                seen |= WORD_BYTES[bytes[i] as usize];
                i += 1;
            }
            if seen & NON_ASCII == 0 && WORD_BYTES[bytes[start] as usize] == LETTER {
                return Some(&text[start..i]);
            }
        }
    })
}

const LETTER: u8 = 1;
const DIGIT: u8 = 2;
const NON_ASCII: u8 = 4;

/// What each byte is to `identifiers`: 0 separates words.
const WORD_BYTES: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = if c.is_ascii_alphabetic() || c == b'_' || c == b'$' {
            LETTER
        } else if c.is_ascii_digit() {
            DIGIT
        } else if c >= 0x80 {
            NON_ASCII
        } else {
            0
        };
        b += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifier_tokens() {
        let ids: Vec<&str> =
            identifiers("let x1 = foo_bar($el, 0x1F, 10usize); // café naïve _u $").collect();
        assert_eq!(ids, ["let", "x1", "foo_bar", "$el", "_u", "$"]);
        assert_eq!(identifiers("").count(), 0);
        assert_eq!(identifiers("self.a.b").collect::<Vec<_>>(), ["self", "a", "b"]);
    }
}
