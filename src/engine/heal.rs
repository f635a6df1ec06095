//! Token healing: a cursor in the middle of what the tokenizer would make one token.
//!
//! An editor's cursor rarely sits on a token boundary: after `x = ` the prompt ends in a lone
//! space token, after `self.ma` in the piece `ma`, where running text would have ` foo` or `map`
//! as one token. Healing takes the prompt's last token back out of the prefix (`back_off`) and
//! starts generation with the tokens whose text agrees with what was typed there
//! (`Pieces::candidates`): the model writes the typed text again in its own tokens, and only
//! what follows is suggested.
//!
//! Off by default (`tokenHealing`): fill-in-the-middle training cuts text at any character, so
//! the split is nothing new to such a model, and Qwen2.5-Coder did worse with healing (it read a
//! prefix ending in `impl` as a finished line). Kept for models trained otherwise.
//!
//! Plain bookkeeping, no llama.cpp here: the worker gives the vocabulary's pieces and logits.

use std::ops::Range;

use crate::prompt::Prompt;

/// The vocabulary's token texts, sorted by their bytes, for the tokens that can start a text.
pub(super) struct Pieces<T> {
    /// All pieces' bytes, one after another.
    bytes: Vec<u8>,
    /// Each piece's span in `bytes` and its token, sorted by the piece's bytes.
    sorted: Vec<(Range<u32>, T)>,
}

impl<T: Copy> Pieces<T> {
    /// The table of `pieces` (token and text). Empty pieces are left out: they write nothing.
    pub(super) fn new(pieces: impl IntoIterator<Item = (T, Vec<u8>)>) -> Self {
        let mut bytes = Vec::new();
        let mut sorted = Vec::new();
        for (token, piece) in pieces {
            if piece.is_empty() {
                continue;
            }
            let start = bytes.len() as u32;
            bytes.extend_from_slice(&piece);
            sorted.push((start..bytes.len() as u32, token));
        }
        let text = |span: &Range<u32>| &bytes[span.start as usize..span.end as usize];
        sorted.sort_by(|a, b| text(&a.0).cmp(text(&b.0)));
        Self { bytes, sorted }
    }

    fn text(&self, span: &Range<u32>) -> &[u8] {
        &self.bytes[span.start as usize..span.end as usize]
    }

    /// The tokens a text starting with `typed` can begin with: every token whose piece starts
    /// with `typed`, and every token whose piece is a shorter start of it (more tokens follow).
    pub(super) fn candidates<'a>(&'a self, typed: &'a [u8]) -> impl Iterator<Item = T> + 'a {
        let longer_start = self.sorted.partition_point(|(span, _)| self.text(span) < typed);
        let longer = self.sorted[longer_start..]
            .iter()
            .take_while(move |(span, _)| self.text(span).starts_with(typed));
        let shorter = (1..typed.len()).flat_map(move |len| {
            let start = &typed[..len];
            let first = self.sorted.partition_point(|(span, _)| self.text(span) < start);
            self.sorted[first..].iter().take_while(move |(span, _)| self.text(span) == start)
        });
        longer.chain(shorter).map(|(_, token)| *token)
    }

    /// The piece of `token`, if it is in the table (a linear search: for tests and rare paths).
    #[cfg(test)]
    fn piece_of(&self, token: T) -> Option<&[u8]>
    where
        T: PartialEq,
    {
        self.sorted.iter().find(|(_, t)| *t == token).map(|(span, _)| self.text(span))
    }
}

/// How many bytes to take back from the end of a prefix whose last line is `last_line`, given
/// the text of the last token that line tokenizes to. Nothing when the prefix ends a line (a
/// line break is a token boundary in every family's tokenizer) or the token's text is not the
/// line's end (a tokenizer that adds a leading space).
pub(super) fn back_off_len(last_line: &str, last_piece: &[u8]) -> usize {
    let line = last_line.as_bytes();
    if last_piece.is_empty()
        || last_piece.contains(&b'\n')
        || !line.ends_with(last_piece)
        || !last_line.is_char_boundary(line.len() - last_piece.len())
    {
        return 0;
    }
    last_piece.len()
}

/// Takes `prompt`'s last token back out of its prefix when the cursor splits it, and returns
/// its text (empty when nothing is taken). `last_piece` gives the text of the last token the
/// prefix's last line tokenizes to: the engine's vocabulary, or a remote server's tokenizer.
pub(super) fn back_off<E>(
    prompt: &mut Prompt,
    last_piece: impl FnOnce(&str) -> Result<Option<Vec<u8>>, E>,
) -> Result<String, E> {
    let Some(text) = prompt.prefix_text_mut() else { return Ok(String::new()) };
    let last_line = &text[text.rfind('\n').map_or(0, |i| i + 1)..];
    let Some(piece) = last_piece(last_line)? else { return Ok(String::new()) };
    let taken = back_off_len(last_line, &piece);
    Ok(text.split_off(text.len() - taken))
}

/// During generation: the typed bytes the model has not written again yet.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct Healing {
    pending: Vec<u8>,
}

impl Healing {
    pub(super) fn new(typed: &[u8]) -> Self {
        Self { pending: typed.to_vec() }
    }

    /// Whether the next token must still be one of the candidates for `pending()`.
    pub(super) fn is_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    pub(super) fn pending(&self) -> &[u8] {
        &self.pending
    }

    /// Whether `piece` may come next: anything once healed, else a piece that starts with the
    /// pending text or is a start of it (what `Pieces::candidates` offers, and what a remote
    /// server's grammar admits). Several streamed tokens' text may come as one piece.
    pub(super) fn agrees(&self, piece: &[u8]) -> bool {
        self.pending.is_empty()
            || piece.starts_with(&self.pending)
            || self.pending.starts_with(piece)
    }

    /// Takes a generated `piece` (a candidate for `pending()`, or anything once healed) and
    /// returns what of it is new text, beyond what was typed.
    pub(super) fn take<'p>(&mut self, piece: &'p [u8]) -> &'p [u8] {
        if self.pending.is_empty() {
            return piece;
        }
        if piece.starts_with(&self.pending) {
            let new = &piece[self.pending.len()..];
            self.pending.clear();
            new
        } else {
            // A shorter start of the typed text (the only other kind of candidate).
            let written = piece.len().min(self.pending.len());
            self.pending.drain(..written);
            &[]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(pieces: &[&str]) -> Pieces<usize> {
        Pieces::new(pieces.iter().enumerate().map(|(i, p)| (i, p.as_bytes().to_vec())))
    }

    fn candidates(table: &Pieces<usize>, typed: &str) -> Vec<String> {
        let mut found: Vec<String> = table
            .candidates(typed.as_bytes())
            .map(|t| String::from_utf8(table.piece_of(t).unwrap().to_vec()).unwrap())
            .collect();
        found.sort();
        found
    }

    #[test]
    fn candidates_are_the_longer_pieces_and_the_shorter_starts() {
        let table = table(&[" ", " H", " Hash", " HashSet", "Hash", "H", " x", "  ", "", "ma"]);
        assert_eq!(candidates(&table, " "), [" ", "  ", " H", " Hash", " HashSet", " x"]);
        assert_eq!(candidates(&table, " Ha"), [" ", " H", " Hash", " HashSet"]);
        assert_eq!(candidates(&table, "ma"), ["ma"]);
        assert!(candidates(&table, "q").is_empty());
    }

    #[test]
    fn equal_pieces_are_all_candidates() {
        let table = table(&[" ", "a", " "]);
        let mut tokens: Vec<usize> = table.candidates(b" ").collect();
        tokens.sort();
        assert_eq!(tokens, [0, 2]);
    }

    #[test]
    fn the_last_token_is_taken_back_unless_the_line_ended() {
        assert_eq!(back_off_len("impl<K> ", b" "), 1);
        assert_eq!(back_off_len("    self.ma", b"ma"), 2);
        assert_eq!(back_off_len("", b"\n"), 0);
        assert_eq!(back_off_len("x", b"\n"), 0);
        // A tokenizer that spells the line's start with a space it added.
        assert_eq!(back_off_len("foo", b" foo"), 0);
        // Never inside a character.
        assert_eq!(back_off_len("é", &"é".as_bytes()[1..]), 0);
    }

    #[test]
    fn healing_passes_on_only_what_follows_the_typed_text() {
        let mut healing = Healing::new(b"  ma");
        assert_eq!(healing.take(b" "), b"");
        assert!(healing.is_pending());
        assert_eq!(healing.pending(), b" ma");
        assert_eq!(healing.take(b" map"), b"p");
        assert!(!healing.is_pending());
        assert_eq!(healing.take(b".len()"), b".len()");
    }

    #[test]
    fn a_piece_agrees_when_it_writes_the_typed_text_or_a_start_of_it() {
        let healing = Healing::new(b" Ha");
        assert!(healing.agrees(b" "));
        assert!(healing.agrees(b" Ha"));
        assert!(healing.agrees(b" Hash<K>"));
        assert!(!healing.agrees(b" H2"));
        assert!(!healing.agrees(b"x"));
        assert!(Healing::default().agrees(b"x"));
    }
}
