//! `textDocument/completion` (Helix, Zed, older clients): the suggestion as one completion item,
//! sorted and preselected first.
//!
//! The item's edit starts at the beginning of the word being typed and repeats it, so clients
//! that filter items by that word (all of them) keep the suggestion in the list.

use tower_lsp_server::gen_lsp_types::*;
use tower_lsp_server::jsonrpc::{Error, Result};

use super::Backend;
use super::execute_command::accepted_command;
use super::suggest::suggest;

/// Longest label shown in the completion menu; the full text is in the edit and documentation.
const LABEL_CHARS: usize = 80;

pub async fn handle(
    backend: &Backend,
    params: CompletionParams,
) -> Result<Option<CompletionResponse>> {
    let Some(placed) = suggest(backend, params.text_document_position_params).await? else {
        return Ok(Some(incomplete(Vec::new())));
    };
    if placed.text.is_empty() {
        return Ok(Some(incomplete(Vec::new())));
    }
    let rope = &placed.document.rope;
    let word_start = word_start(rope, placed.cursor_char);
    let word: String = rope.slice(word_start..placed.cursor_char).into();
    let start = placed
        .document
        .position_of(word_start, placed.encoding)
        .map_err(|e| Error::invalid_params(e.to_string()))?;
    let new_text = format!("{word}{}", placed.text);
    let label = label_of(&new_text);
    let item = CompletionItem {
        label,
        kind: Some(CompletionItemKind::Text),
        detail: Some(detail_of(&placed.text)),
        command: Some(accepted_command(&placed.document.uri, placed.text.chars().count())),
        documentation: Some(Documentation::MarkupContent(MarkupContent {
            kind: MarkupKind::Markdown,
            value: format!("```{}\n{new_text}\n```", placed.document.language_id),
        })),
        preselect: Some(true),
        sort_text: Some("0".into()),
        filter_text: Some(new_text.clone()),
        insert_text_format: Some(InsertTextFormat::PlainText),
        text_edit: Some(CompletionItemTextEdit::TextEdit(TextEdit {
            range: Range { start, end: placed.position },
            new_text,
        })),
        ..Default::default()
    };
    Ok(Some(incomplete(vec![item])))
}

/// What the menu shows: the first non-blank line (trimmed, at most `LABEL_CHARS`), with ` …`
/// when more lines follow.
fn label_of(new_text: &str) -> String {
    let mut lines = new_text.lines().map(str::trim).skip_while(|l| l.is_empty());
    let first = lines.next().unwrap_or_default();
    let mut label: String = first.chars().take(LABEL_CHARS).collect();
    if label.chars().count() < first.chars().count() || lines.any(|l| !l.is_empty()) {
        label.push_str(" …");
    }
    label
}

/// `infill`, and how many lines the suggestion has when it has several.
fn detail_of(suggestion: &str) -> String {
    match suggestion.trim_end().lines().count() {
        0 | 1 => "infill".into(),
        n => format!("infill · {n} lines"),
    }
}

/// Marked incomplete so the client asks again as the user types instead of filtering a stale
/// suggestion.
fn incomplete(items: Vec<CompletionItem>) -> CompletionResponse {
    CompletionResponse::CompletionList(CompletionList {
        is_incomplete: true,
        item_defaults: None,
        items,
        ..Default::default()
    })
}

/// Char index where the identifier that ends at `cursor` starts.
fn word_start(rope: &ropey::Rope, cursor: usize) -> usize {
    let mut start = cursor;
    while start > 0 {
        let c = rope.char(start - 1);
        if !(c.is_alphanumeric() || c == '_') {
            break;
        }
        start -= 1;
    }
    start
}

#[cfg(test)]
mod tests {
    use super::{detail_of, label_of, word_start};

    #[test]
    fn label_is_the_first_non_blank_line() {
        assert_eq!(label_of("fib(n - 1)"), "fib(n - 1)");
        assert_eq!(label_of("\n    if n < 2:\n        return n\n"), "if n < 2: …");
        assert_eq!(label_of(&"x".repeat(100)), format!("{} …", "x".repeat(80)));
        assert_eq!(detail_of("a\nb\n"), "infill · 2 lines");
        assert_eq!(detail_of("a"), "infill");
    }

    #[test]
    fn word_start_stops_at_non_identifier_chars() {
        let rope = ropey::Rope::from_str("    return fib_n");
        assert_eq!(word_start(&rope, 16), 11);
        assert_eq!(word_start(&rope, 11), 11);
        assert_eq!(word_start(&ropey::Rope::from_str("é1"), 2), 0);
    }
}
