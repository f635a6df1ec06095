//! `textDocument/inlineCompletion` (LSP 3.18; VS Code, Neovim 0.12): the suggestion as ghost
//! text inserted at the cursor.

use tower_lsp_server::gen_lsp_types::*;
use tower_lsp_server::jsonrpc::Result;

use super::Backend;
use super::execute_command::accepted_command;
use super::suggest::suggest;

pub async fn handle(
    backend: &Backend,
    params: InlineCompletionParams,
) -> Result<Option<InlineCompletionResponse>> {
    let placed = suggest(backend, params.text_document_position_params).await?;
    let items = placed
        .filter(|p| !p.text.is_empty())
        .map(|p| InlineCompletionItem {
            command: Some(accepted_command(&p.document.uri, p.text.chars().count())),
            insert_text: InsertText::String(p.text),
            filter_text: None,
            range: Some(Range { start: p.position, end: p.position }),
        })
        .into_iter()
        .collect();
    Ok(Some(InlineCompletionResponse::InlineCompletionList(InlineCompletionList { items })))
}
