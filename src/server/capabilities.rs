//! What the server tells the editor it can do.

use tower_lsp_server::gen_lsp_types::*;

use super::execute_command::ACCEPTED;
use crate::documents::PositionEncoding;

/// Characters after which Helix, Zed and other `textDocument/completion` clients should ask for
/// a suggestion even though no identifier is being typed.
const TRIGGER_CHARACTERS: &[&str] = &[".", "(", " ", "=", ":", ",", "{", "["];

pub fn server_capabilities(encoding: PositionEncoding) -> ServerCapabilities {
    ServerCapabilities {
        position_encoding: Some(encoding.to_lsp()),
        text_document_sync: Some(TextDocumentSync::Options(TextDocumentSyncOptions {
            open_close: Some(true),
            change: Some(TextDocumentSyncKind::Incremental),
            // The text is already known from the changes; a save only refreshes the index.
            save: Some(Save::Bool(true)),
            ..Default::default()
        })),
        inline_completion_provider: Some(InlineCompletionProvider::Bool(true)),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(TRIGGER_CHARACTERS.iter().map(|c| c.to_string()).collect()),
            ..Default::default()
        }),
        execute_command_provider: Some(ExecuteCommandOptions {
            commands: vec![ACCEPTED.into()],
            work_done_progress_options: WorkDoneProgressOptions::default(),
        }),
        ..Default::default()
    }
}
