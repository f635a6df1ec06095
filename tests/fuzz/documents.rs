//! Document sync (`documents::DocumentStore`) against a reference model (a `String` edited by
//! char index), in UTF-8, UTF-16 and UTF-32 positions: batches of incremental and whole-document
//! changes, some of them invalid (inside a character or a CRLF, past a line's end, past the last
//! line, start after end).
//!
//! Invariants: no panic; after every batch the store's text equals the reference's; a batch with
//! an invalid change is refused whole and leaves text and version as they were; the store's
//! position conversion agrees with the reference's, both ways.

use infill::documents::{DocumentStore, PositionEncoding, char_to_position};
use proptest::prelude::*;
use serde_json::Value;
use tower_lsp_server::gen_lsp_types::{
    Position, Range, TextDocumentContentChangeEvent, TextDocumentContentChangePartial,
    TextDocumentContentChangeWholeDocument, Uri,
};

use crate::harness::{ensure, fuzz, json_corpus};

const ENCODINGS: [PositionEncoding; 3] =
    [PositionEncoding::Utf8, PositionEncoding::Utf16, PositionEncoding::Utf32];

/// Pieces of text that stress positions: multi-byte and astral characters, every line break,
/// and the characters LSP does not count as breaks.
const PIECES: [&str; 16] = [
    "a", "bc", " ", "\t", "\n", "\r\n", "\r", "é", "漢", "😀", "𝕏", "\u{2028}", "\u{85}",
    "\u{fffd}", "\u{0}", "x = 1;",
];

fn text_strategy(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(PIECES.to_vec()), 0..max).prop_map(|p| p.concat())
}

/// One change, described relative to the reference text it applies to.
#[derive(Debug, Clone)]
enum Change {
    /// Replace the chars between two fractions (0..=1000 per mille) of the text.
    Range {
        from: u16,
        to: u16,
        text: String,
    },
    Whole {
        text: String,
    },
    /// An invalid range of this kind (see `invalid_range`), at a fraction of the text.
    Invalid {
        kind: u8,
        at: u16,
    },
}

fn change_strategy() -> impl Strategy<Value = Change> {
    prop_oneof![
        8 => (0u16..=1000, 0u16..=1000, text_strategy(6))
            .prop_map(|(from, to, text)| Change::Range { from, to, text }),
        1 => text_strategy(20).prop_map(|text| Change::Whole { text }),
        1 => (0u8..5, 0u16..=1000).prop_map(|(kind, at)| Change::Invalid { kind, at }),
    ]
}

/// The reference: line starts (char indices) with `\n`, `\r\n` and `\r` as breaks.
fn line_starts(chars: &[char]) -> Vec<usize> {
    let mut starts = vec![0];
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\r' if chars.get(i + 1) == Some(&'\n') => {
                starts.push(i + 2);
                i += 2;
            }
            '\n' | '\r' => {
                starts.push(i + 1);
                i += 1;
            }
            _ => i += 1,
        }
    }
    starts
}

fn units(c: char, encoding: PositionEncoding) -> usize {
    match encoding {
        PositionEncoding::Utf8 => c.len_utf8(),
        PositionEncoding::Utf16 => c.len_utf16(),
        PositionEncoding::Utf32 => 1,
    }
}

/// The reference position of a char index, `None` between `\r` and `\n`.
fn position(chars: &[char], index: usize, encoding: PositionEncoding) -> Option<Position> {
    if index > 0 && index < chars.len() && chars[index - 1] == '\r' && chars[index] == '\n' {
        return None;
    }
    let starts = line_starts(chars);
    let line = starts.iter().rposition(|&s| s <= index).unwrap();
    let character = chars[starts[line]..index].iter().map(|&c| units(c, encoding)).sum::<usize>();
    Some(Position { line: line as u32, character: character as u32 })
}

/// The nearest char index at or before `index` that has a position.
fn valid_index(chars: &[char], index: usize) -> usize {
    let index = index.min(chars.len());
    if index > 0 && index < chars.len() && chars[index - 1] == '\r' && chars[index] == '\n' {
        index - 1
    } else {
        index
    }
}

fn fraction(len: usize, per_mille: u16) -> usize {
    len * usize::from(per_mille) / 1000
}

/// A range that no valid text has, or `None` when the text offers no such place (e.g. no
/// multi-byte character to split).
fn invalid_range(chars: &[char], kind: u8, at: u16, encoding: PositionEncoding) -> Option<Range> {
    let starts = line_starts(chars);
    let point = |p: Position| Range { start: p, end: p };
    match kind {
        // Past the last line.
        0 => Some(point(Position { line: starts.len() as u32, character: 0 })),
        // Past the end of a line.
        1 => {
            let line = fraction(starts.len() - 1, at);
            let end = starts.get(line + 1).copied().unwrap_or(chars.len());
            let content_end = chars[starts[line]..end]
                .iter()
                .rposition(|c| *c != '\n' && *c != '\r')
                .map_or(starts[line], |p| starts[line] + p + 1);
            let len = position(chars, content_end, encoding)?.character;
            Some(point(Position { line: line as u32, character: len + 1 }))
        }
        // Inside a character that has more than one unit in this encoding.
        2 => {
            let from = fraction(chars.len(), at);
            let index =
                (from..chars.len()).chain(0..from).find(|&i| units(chars[i], encoding) > 1)?;
            let start = position(chars, index, encoding)?;
            Some(point(Position { line: start.line, character: start.character + 1 }))
        }
        // Start after end.
        3 => {
            let a = valid_index(chars, fraction(chars.len(), at));
            let b = valid_index(chars, a + 1 + fraction(chars.len() - a, 500));
            (b > a).then(|| Range {
                start: position(chars, b, encoding).unwrap(),
                end: position(chars, a, encoding).unwrap(),
            })
        }
        // Past the end of the last line, by a lot (no overflow anywhere).
        _ => Some(point(Position { line: u32::MAX, character: u32::MAX })),
    }
}

fn partial(range: Range, text: &str) -> TextDocumentContentChangeEvent {
    TextDocumentContentChangePartial::new(range, None, text.to_string()).into()
}

/// Runs `batches` on a fresh store in `encoding`: the reference text after each batch must be
/// the store's.
fn check(
    encoding: PositionEncoding,
    initial: &str,
    batches: &[Vec<Change>],
) -> Result<(), TestCaseError> {
    let store = DocumentStore::with_encoding(encoding);
    let uri = Uri::from("file:///fuzz/doc.py".to_string().as_str());
    store.open(uri.clone(), initial, 0, "python".into());
    let mut reference: Vec<char> = initial.chars().collect();
    let mut version = 0;
    for batch in batches {
        let mut next = reference.clone();
        let mut events = Vec::new();
        let mut valid = true;
        for change in batch {
            match change {
                Change::Range { from, to, text } => {
                    let a = valid_index(&next, fraction(next.len(), *from));
                    let b = valid_index(&next, fraction(next.len(), *to));
                    let (a, b) = (a.min(b), a.max(b));
                    let range = Range {
                        start: position(&next, a, encoding).unwrap(),
                        end: position(&next, b, encoding).unwrap(),
                    };
                    events.push(partial(range, text));
                    next.splice(a..b, text.chars());
                }
                Change::Whole { text } => {
                    events.push(TextDocumentContentChangeWholeDocument::new(text.clone()).into());
                    next = text.chars().collect();
                }
                Change::Invalid { kind, at } => {
                    if let Some(range) = invalid_range(&next, *kind, *at, encoding) {
                        events.push(partial(range, "never"));
                        valid = false;
                    }
                }
            }
        }
        version += 1;
        let result = store.apply_changes(&uri, version, &events);
        let snapshot = store.snapshot(&uri).unwrap();
        if valid {
            ensure(result.is_ok(), || format!("a valid batch was refused: {result:?} {events:?}"))?;
            reference = next;
            ensure(snapshot.version == version, || "version not taken".into())?;
        } else {
            ensure(result.is_err(), || format!("an invalid batch was applied: {events:?}"))?;
            version -= 1;
            ensure(snapshot.version == version, || "a refused batch changed the version".into())?;
        }
        let expected: String = reference.iter().collect();
        let actual = snapshot.rope.to_string();
        ensure(actual == expected, || {
            format!("{encoding}: store {actual:?} != reference {expected:?} after {events:?}")
        })?;
        // Positions agree both ways with the reference, at a few indices.
        for index in [0, reference.len() / 3, reference.len() / 2, reference.len()] {
            let ours = position(&reference, index, encoding);
            let theirs = char_to_position(&snapshot.rope, index, encoding).ok();
            ensure(ours == theirs, || {
                format!("{encoding}: position of {index}: {ours:?} vs {theirs:?}")
            })?;
            if let Some(p) = ours {
                let back = snapshot.offset_of(p, encoding);
                ensure(back == Ok(index), || format!("{encoding}: {p:?} read back as {back:?}"))?;
            }
        }
    }
    Ok(())
}

fn change_from_json(value: &Value) -> Change {
    let number = |key: &str| value[key].as_u64().unwrap_or(0) as u16;
    let text = || value["text"].as_str().unwrap_or_default().to_string();
    match value["kind"].as_str() {
        Some("range") => Change::Range { from: number("from"), to: number("to"), text: text() },
        Some("whole") => Change::Whole { text: text() },
        _ => Change::Invalid { kind: number("invalid") as u8, at: number("at") },
    }
}

#[test]
fn document_sync() {
    // Corpus: {"text": …, "batches": [[{"kind": "range", "from": ‰, "to": ‰, "text": …}, …]]}.
    for (path, case) in json_corpus("documents") {
        let initial = case["text"].as_str().unwrap_or_default();
        let batches: Vec<Vec<Change>> = case["batches"]
            .as_array()
            .map(|b| {
                b.iter()
                    .map(|batch| batch.as_array().unwrap().iter().map(change_from_json).collect())
                    .collect()
            })
            .unwrap_or_default();
        for encoding in ENCODINGS {
            check(encoding, initial, &batches)
                .unwrap_or_else(|err| panic!("{} ({encoding}): {err}", path.display()));
        }
    }
    let strategy = (
        prop::sample::select(ENCODINGS.to_vec()),
        text_strategy(40),
        prop::collection::vec(prop::collection::vec(change_strategy(), 1..4), 1..24),
    );
    fuzz("document_sync", 15_000, strategy, |(encoding, initial, batches)| {
        check(encoding, &initial, &batches)
    });
}
