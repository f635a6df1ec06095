//! The open-document store: text of every document the editor has open,
//! kept in sync through `didOpen` / `didChange` / `didClose`.
//!
//! Concurrency rule: no dashmap guard ever leaves this module. Readers get an
//! owned [`DocumentSnapshot`] (a ropey clone is O(1)), so async callers can
//! hold it across `.await` without blocking writers or risking deadlock.

use std::ops::Range as CharRange;
use std::sync::atomic::{AtomicU8, Ordering};

use dashmap::DashMap;
use ropey::Rope;
use tower_lsp_server::gen_lsp_types::{Position, TextDocumentContentChangeEvent, Uri};

use super::position::{
    PositionEncoding, PositionError, char_to_position, position_to_char, range_to_chars,
};

/// A `didChange` that could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    #[error("document is not open: {0}")]
    NotOpen(Uri),

    // The position error is part of the message (not a `source`) because the
    // message is what the editor gets to see.
    #[error("change #{index} to {uri} cannot be applied: {error}")]
    InvalidChange {
        uri: Uri,
        /// Index of the failing change within the notification's batch.
        index: usize,
        error: PositionError,
    },
}

#[derive(Debug)]
struct Document {
    rope: Rope,
    version: i32,
    language_id: String,
}

/// An owned, immutable copy of a document at one version.
#[derive(Debug, Clone)]
pub struct DocumentSnapshot {
    pub uri: Uri,
    pub rope: Rope,
    pub version: i32,
    pub language_id: String,
}

impl DocumentSnapshot {
    /// Char index of an LSP position in this snapshot.
    pub fn offset_of(&self, pos: Position, enc: PositionEncoding) -> Result<usize, PositionError> {
        position_to_char(&self.rope, pos, enc)
    }

    /// LSP position of a char index in this snapshot.
    pub fn position_of(
        &self,
        char_idx: usize,
        enc: PositionEncoding,
    ) -> Result<Position, PositionError> {
        char_to_position(&self.rope, char_idx, enc)
    }

    /// The text of a char range; `None` if the range is out of bounds.
    pub fn text_of(&self, chars: CharRange<usize>) -> Option<String> {
        self.rope.get_slice(chars).map(String::from)
    }
}

/// All open documents, keyed by URI. Shareable across tasks (`&self` API).
#[derive(Debug, Default)]
pub struct DocumentStore {
    docs: DashMap<Uri, Document>,
    /// `PositionEncoding` as u8; negotiated once at `initialize`, read on
    /// every change. Defaults to UTF-16, the LSP default.
    encoding: AtomicU8,
}

impl DocumentStore {
    pub fn new() -> Self {
        Self::with_encoding(PositionEncoding::default())
    }

    pub fn with_encoding(enc: PositionEncoding) -> Self {
        Self { docs: DashMap::new(), encoding: AtomicU8::new(encoding_to_u8(enc)) }
    }

    /// Sets the negotiated encoding; call once from `initialize`, before any
    /// document is opened.
    pub fn set_encoding(&self, enc: PositionEncoding) {
        self.encoding.store(encoding_to_u8(enc), Ordering::Relaxed);
    }

    pub fn encoding(&self) -> PositionEncoding {
        encoding_from_u8(self.encoding.load(Ordering::Relaxed))
    }

    /// `didOpen`. Re-opening an open URI replaces it (the editor is the
    /// source of truth).
    pub fn open(&self, uri: Uri, text: &str, version: i32, language_id: String) {
        let doc = Document { rope: Rope::from_str(text), version, language_id };
        self.docs.insert(uri, doc);
    }

    /// `didChange`. Changes apply in order, each against the result of the
    /// previous one. All-or-nothing: if any change fails, the document (text
    /// and version) is left exactly as it was. Returns the char index just after
    /// the last ranged change's new text: where the user's cursor most likely is.
    pub fn apply_changes(
        &self,
        uri: &Uri,
        version: i32,
        changes: &[TextDocumentContentChangeEvent],
    ) -> Result<Option<usize>, DocumentError> {
        let enc = self.encoding();
        // The write guard is held only for this synchronous block.
        let mut doc = self.docs.get_mut(uri).ok_or_else(|| DocumentError::NotOpen(uri.clone()))?;

        // Edit a clone (O(1), copy-on-write) and commit only on success.
        let mut rope = doc.rope.clone();
        let mut edit_point = None;
        for (index, change) in changes.iter().enumerate() {
            edit_point = apply_change(&mut rope, change, enc)
                .map_err(|error| DocumentError::InvalidChange { uri: uri.clone(), index, error })?;
        }
        if version <= doc.version {
            tracing::debug!(%uri, old = doc.version, new = version, "document version did not increase");
        }
        doc.rope = rope;
        doc.version = version;
        Ok(edit_point)
    }

    /// `didClose`. Returns whether the document was open.
    pub fn close(&self, uri: &Uri) -> bool {
        self.docs.remove(uri).is_some()
    }

    /// An owned copy of the document, safe to keep across `.await` (no lock
    /// is held once this returns). `None` if the document is not open.
    pub fn snapshot(&self, uri: &Uri) -> Option<DocumentSnapshot> {
        let doc = self.docs.get(uri)?;
        Some(DocumentSnapshot {
            uri: uri.clone(),
            rope: doc.rope.clone(),
            version: doc.version,
            language_id: doc.language_id.clone(),
        })
    }

    pub fn is_open(&self, uri: &Uri) -> bool {
        self.docs.contains_key(uri)
    }

    /// Number of open documents.
    pub fn len(&self) -> usize {
        self.docs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }
}

/// Applies one content change to `rope`; on error `rope` is untouched
/// (the range is validated before anything is removed).
/// Applies one change; returns the char index after a ranged change's new text.
fn apply_change(
    rope: &mut Rope,
    change: &TextDocumentContentChangeEvent,
    enc: PositionEncoding,
) -> Result<Option<usize>, PositionError> {
    match change {
        TextDocumentContentChangeEvent::TextDocumentContentChangeWholeDocument(full) => {
            *rope = Rope::from_str(&full.text);
            Ok(None)
        }
        // `range_length` is deprecated and its unit is ambiguous across
        // clients; the range is authoritative.
        TextDocumentContentChangeEvent::TextDocumentContentChangePartial(partial) => {
            let chars = range_to_chars(rope, partial.range, enc)?;
            rope.remove(chars.clone());
            rope.insert(chars.start, &partial.text);
            Ok(Some(chars.start + partial.text.chars().count()))
        }
    }
}

fn encoding_to_u8(enc: PositionEncoding) -> u8 {
    match enc {
        PositionEncoding::Utf8 => 8,
        PositionEncoding::Utf16 => 16,
        PositionEncoding::Utf32 => 32,
    }
}

fn encoding_from_u8(v: u8) -> PositionEncoding {
    match v {
        8 => PositionEncoding::Utf8,
        32 => PositionEncoding::Utf32,
        _ => PositionEncoding::Utf16,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PositionEncoding::{Utf8, Utf16, Utf32};
    use tower_lsp_server::gen_lsp_types::{
        Range, TextDocumentContentChangePartial, TextDocumentContentChangeWholeDocument,
    };

    fn uri(s: &str) -> Uri {
        Uri::from(s)
    }

    fn edit(sl: u32, sc: u32, el: u32, ec: u32, text: &str) -> TextDocumentContentChangeEvent {
        TextDocumentContentChangePartial::new(
            Range {
                start: Position { line: sl, character: sc },
                end: Position { line: el, character: ec },
            },
            None,
            text.to_string(),
        )
        .into()
    }

    fn full(text: &str) -> TextDocumentContentChangeEvent {
        TextDocumentContentChangeWholeDocument::new(text.to_string()).into()
    }

    fn store_with(text: &str, enc: PositionEncoding) -> (DocumentStore, Uri) {
        let store = DocumentStore::with_encoding(enc);
        let u = uri("file:///t.rs");
        store.open(u.clone(), text, 1, "rust".into());
        (store, u)
    }

    fn text(store: &DocumentStore, u: &Uri) -> String {
        store.snapshot(u).expect("document is open").rope.to_string()
    }

    /// Applies one batch and returns the resulting text.
    fn apply(
        text_before: &str,
        enc: PositionEncoding,
        changes: &[TextDocumentContentChangeEvent],
    ) -> String {
        let (store, u) = store_with(text_before, enc);
        store.apply_changes(&u, 2, changes).expect("changes apply");
        text(&store, &u)
    }

    #[test]
    fn open_snapshot_close() {
        let store = DocumentStore::new();
        let u = uri("file:///a.py");
        assert!(store.snapshot(&u).is_none());
        store.open(u.clone(), "print(1)\n", 3, "python".into());
        let snap = store.snapshot(&u).expect("open");
        assert_eq!(snap.uri, u);
        assert_eq!(snap.rope.to_string(), "print(1)\n");
        assert_eq!(snap.version, 3);
        assert_eq!(snap.language_id, "python");
        assert!(store.is_open(&u));
        assert_eq!(store.len(), 1);

        // Re-open replaces everything.
        store.open(u.clone(), "x", 7, "rust".into());
        let snap2 = store.snapshot(&u).expect("open");
        assert_eq!((snap2.rope.to_string().as_str(), snap2.version), ("x", 7));
        assert_eq!(snap2.language_id, "rust");
        assert_eq!(store.len(), 1);

        assert!(store.close(&u));
        assert!(!store.close(&u));
        assert!(store.snapshot(&u).is_none());
        assert!(store.is_empty());
        // The earlier snapshot is an independent copy.
        assert_eq!(snap.rope.to_string(), "print(1)\n");
    }

    #[test]
    fn snapshot_is_unaffected_by_later_edits() {
        let (store, u) = store_with("abc", Utf16);
        let before = store.snapshot(&u).expect("open");
        store.apply_changes(&u, 2, &[edit(0, 1, 0, 2, "X")]).expect("apply");
        assert_eq!(before.rope.to_string(), "abc");
        assert_eq!(before.version, 1);
        assert_eq!(text(&store, &u), "aXc");
    }

    #[test]
    fn the_edit_point_is_after_the_last_ranged_change() {
        let (store, u) = store_with("héllo\nworld", Utf16);
        let point = store.apply_changes(&u, 2, &[edit(1, 0, 1, 0, "a"), edit(0, 1, 0, 2, "ÉÉ")]);
        assert_eq!(point, Ok(Some(3)), "after \"hÉÉ\"");
        assert_eq!(store.apply_changes(&u, 3, &[full("x")]), Ok(None));
    }

    #[test]
    fn encoding_is_settable_after_construction() {
        let store = DocumentStore::new();
        assert_eq!(store.encoding(), Utf16);
        for enc in [Utf8, Utf32, Utf16] {
            store.set_encoding(enc);
            assert_eq!(store.encoding(), enc);
        }
    }

    #[test]
    fn change_to_unopened_document_is_not_open() {
        let store = DocumentStore::new();
        let u = uri("file:///nope");
        let err = store.apply_changes(&u, 1, &[full("x")]).unwrap_err();
        assert_eq!(err, DocumentError::NotOpen(u.clone()));
        assert_eq!(err.to_string(), "document is not open: file:///nope");
        assert!(store.snapshot(&u).is_none(), "a change must not create a document");
    }

    #[test]
    fn full_document_sync_replaces_text_and_version() {
        let (store, u) = store_with("old\r\ntext", Utf16);
        store.apply_changes(&u, 9, &[full("brand new\n")]).expect("apply");
        let snap = store.snapshot(&u).expect("open");
        assert_eq!(snap.rope.to_string(), "brand new\n");
        assert_eq!(snap.version, 9);
        assert_eq!(snap.language_id, "rust");
    }

    #[test]
    fn full_then_incremental_in_one_batch() {
        let out = apply("zzz", Utf16, &[full("ab\ncd"), edit(1, 1, 1, 1, "X")]);
        assert_eq!(out, "ab\ncXd");
    }

    #[test]
    fn edits_at_line_end_and_document_end() {
        // Append at end of a line (before its break).
        assert_eq!(apply("ab\ncd", Utf16, &[edit(0, 2, 0, 2, "!")]), "ab!\ncd");
        // Append at document end.
        assert_eq!(apply("ab\ncd", Utf16, &[edit(1, 2, 1, 2, "\nef")]), "ab\ncd\nef");
        // Type on the empty line after a trailing newline.
        assert_eq!(apply("ab\n", Utf16, &[edit(1, 0, 1, 0, "x")]), "ab\nx");
        // Delete the final line break.
        assert_eq!(apply("ab\n", Utf16, &[edit(0, 2, 1, 0, "")]), "ab");
        // Insert into an empty document.
        assert_eq!(apply("", Utf16, &[edit(0, 0, 0, 0, "hi")]), "hi");
    }

    #[test]
    fn edits_across_lines() {
        // Insert text containing line breaks.
        assert_eq!(
            apply("fn f() {}", Utf16, &[edit(0, 8, 0, 8, "\n    1\n")]),
            "fn f() {\n    1\n}"
        );
        // Delete across several lines.
        assert_eq!(apply("a\nb\nc\nd", Utf16, &[edit(0, 1, 2, 1, "")]), "a\nd");
        // Replace a range spanning a line break.
        assert_eq!(apply("one\ntwo", Utf16, &[edit(0, 2, 1, 1, "-")]), "on-wo");
        // Join lines by deleting exactly the break.
        assert_eq!(apply("one\ntwo", Utf16, &[edit(0, 3, 1, 0, " ")]), "one two");
    }

    #[test]
    fn crlf_edits() {
        // Insertion at the end of a CRLF line goes before the \r\n.
        assert_eq!(apply("ab\r\ncd\r\n", Utf16, &[edit(0, 2, 0, 2, "X")]), "abX\r\ncd\r\n");
        // At the position after the last break.
        assert_eq!(apply("ab\r\ncd\r\n", Utf16, &[edit(2, 0, 2, 0, "ef")]), "ab\r\ncd\r\nef");
        // Replacing a range spanning a CRLF removes both chars.
        assert_eq!(apply("ab\r\ncd", Utf16, &[edit(0, 1, 1, 1, "")]), "ad");
        // Inserting a new CRLF line.
        assert_eq!(apply("ab\r\ncd", Utf16, &[edit(1, 0, 1, 0, "xy\r\n")]), "ab\r\nxy\r\ncd");
        // A lone \r is a line break too.
        assert_eq!(apply("ab\rcd", Utf16, &[edit(1, 1, 1, 1, "X")]), "ab\rcXd");
        assert_eq!(apply("ab\rcd", Utf16, &[edit(0, 2, 1, 0, "")]), "abcd");
    }

    #[test]
    fn edits_in_each_encoding_with_astral_and_cjk() {
        let before = "😀漢\n𝕏";
        // Insert between 😀 and 漢.
        assert_eq!(apply(before, Utf8, &[edit(0, 4, 0, 4, "|")]), "😀|漢\n𝕏");
        assert_eq!(apply(before, Utf16, &[edit(0, 2, 0, 2, "|")]), "😀|漢\n𝕏");
        assert_eq!(apply(before, Utf32, &[edit(0, 1, 0, 1, "|")]), "😀|漢\n𝕏");
        // Replace 漢 (end of line 0) through 𝕏.
        assert_eq!(apply(before, Utf8, &[edit(0, 4, 1, 4, "")]), "😀");
        assert_eq!(apply(before, Utf16, &[edit(0, 2, 1, 2, "")]), "😀");
        assert_eq!(apply(before, Utf32, &[edit(0, 1, 1, 1, "")]), "😀");
    }

    #[test]
    fn multi_change_batch_applies_sequentially() {
        // Like VS Code multi-cursor typing: each change's range refers to the
        // text produced by the previous change, not the original.
        let changes = [
            edit(0, 0, 0, 0, "// "),      // "// let a = 1;\nlet b = 2;"
            edit(1, 0, 1, 0, "// "),      // "// let a = 1;\n// let b = 2;"
            edit(0, 7, 0, 8, "x"),        // a -> x on the now-shifted line 0
            edit(1, 3, 1, 13, "removed"), // whole rest of line 1
        ];
        let out = apply("let a = 1;\nlet b = 2;", Utf16, &changes);
        assert_eq!(out, "// let x = 1;\n// removed");

        // Edits that depend on line numbers created by an earlier change.
        let changes = [
            edit(0, 1, 0, 1, "\n\n"), // "a\n\nb"
            edit(1, 0, 1, 0, "mid"),  // line 1 exists only after change 0
            edit(2, 1, 2, 1, "!"),
        ];
        assert_eq!(apply("ab", Utf16, &changes), "a\nmid\nb!");

        // Editor-style "reverse order" batch (later ranges first).
        let changes = [edit(1, 0, 1, 1, "B"), edit(0, 0, 0, 1, "A")];
        assert_eq!(apply("a\nb", Utf16, &changes), "A\nB");
    }

    #[test]
    fn failing_change_leaves_document_untouched() {
        let original = "line one\r\nline 😀\n";
        let (store, u) = store_with(original, Utf16);
        let changes = [
            edit(0, 0, 0, 4, "LINE"), // valid
            full("completely different"),
            edit(0, 0, 0, 0, "x"),    // valid
            edit(7, 0, 7, 0, "boom"), // out of range
        ];
        let err = store.apply_changes(&u, 2, &changes).unwrap_err();
        assert_eq!(
            err,
            DocumentError::InvalidChange {
                uri: u.clone(),
                index: 3,
                error: PositionError::LineOutOfRange {
                    position: Position { line: 7, character: 0 },
                    line_count: 1,
                },
            }
        );
        assert!(
            err.to_string()
                .starts_with("change #3 to file:///t.rs cannot be applied: position 7:0")
        );
        let snap = store.snapshot(&u).expect("still open");
        assert_eq!(snap.rope.to_string(), original);
        assert_eq!(snap.version, 1);

        // Each kind of bad range is rejected the same way.
        let bad = [
            edit(0, 9, 0, 9, "x"), // past end of "line one"
            edit(1, 6, 1, 6, "x"), // inside the surrogate pair of 😀
            edit(1, 2, 0, 1, "x"), // start after end
            edit(3, 0, 3, 0, "x"), // line past the trailing empty line
        ];
        for change in bad {
            let res = store.apply_changes(&u, 5, std::slice::from_ref(&change));
            assert!(
                matches!(res, Err(DocumentError::InvalidChange { index: 0, .. })),
                "{change:?}"
            );
            let snap = store.snapshot(&u).expect("still open");
            assert_eq!(snap.rope.to_string(), original);
            assert_eq!(snap.version, 1);
        }

        // And the document is still editable afterwards.
        store.apply_changes(&u, 2, &[edit(2, 0, 2, 0, "end")]).expect("apply");
        assert_eq!(text(&store, &u), "line one\r\nline 😀\nend");
    }

    #[test]
    fn empty_batch_only_bumps_version() {
        let (store, u) = store_with("abc", Utf16);
        store.apply_changes(&u, 4, &[]).expect("apply");
        let snap = store.snapshot(&u).expect("open");
        assert_eq!((snap.rope.to_string().as_str(), snap.version), ("abc", 4));
    }

    #[test]
    fn store_encoding_governs_changes() {
        let (store, u) = store_with("😀a", Utf16);
        store.set_encoding(Utf8);
        store.apply_changes(&u, 2, &[edit(0, 4, 0, 4, "|")]).expect("byte 4 is after 😀");
        assert_eq!(text(&store, &u), "😀|a");
        store.set_encoding(Utf32);
        store.apply_changes(&u, 3, &[edit(0, 2, 0, 3, "")]).expect("char 2 is after |");
        assert_eq!(text(&store, &u), "😀|");
    }

    #[test]
    fn snapshot_helpers() {
        let (store, u) = store_with("ab\r\n😀c", Utf16);
        let snap = store.snapshot(&u).expect("open");
        let p = Position { line: 1, character: 2 };
        assert_eq!(snap.offset_of(p, Utf16), Ok(5));
        assert_eq!(snap.position_of(5, Utf16), Ok(p));
        assert_eq!(snap.position_of(5, Utf8), Ok(Position { line: 1, character: 4 }));
        assert!(snap.offset_of(Position { line: 1, character: 1 }, Utf16).is_err());
        assert_eq!(snap.text_of(0..2).as_deref(), Some("ab"));
        assert_eq!(snap.text_of(4..6).as_deref(), Some("😀c"));
        assert_eq!(snap.text_of(4..99), None);
    }

    #[test]
    fn concurrent_access_from_threads() {
        let store = std::sync::Arc::new(DocumentStore::new());
        let handles: Vec<_> = (0..8)
            .map(|t| {
                let store = store.clone();
                std::thread::spawn(move || {
                    let u = uri(&format!("file:///{t}"));
                    store.open(u.clone(), "", 0, "txt".into());
                    for v in 1..=100 {
                        store.apply_changes(&u, v, &[edit(0, 0, 0, 0, "x")]).expect("apply");
                        let _ = store.snapshot(&uri("file:///0"));
                    }
                    store.snapshot(&u).expect("open")
                })
            })
            .collect();
        for h in handles {
            let snap = h.join().expect("thread");
            assert_eq!(snap.rope.len_chars(), 100);
            assert_eq!(snap.version, 100);
        }
    }
}
