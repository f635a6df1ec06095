//! `infill/cursorMoved` (custom notification): infill's own VS Code and Neovim clients send it
//! when the cursor comes to rest at another place without an edit (a click, a jump to a
//! definition). That place is where the user is likely to type next, so the prompt there is
//! evaluated while they read (`Scheduler::warm_up_soon`), and the first suggestion at a new
//! place does not wait for seconds of prompt evaluation after the first keystroke.
//!
//! A hint, never an error: an unknown document or a position outside it is ignored (logged).

use tower_lsp_server::gen_lsp_types::{Position, TextDocumentIdentifier};

use super::Backend;

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CursorMovedParams {
    pub text_document: TextDocumentIdentifier,
    pub position: Position,
}

impl Backend {
    pub(super) async fn cursor_moved(&self, params: CursorMovedParams) {
        let Some(session) = self.session() else { return };
        let uri = params.text_document.uri;
        let Some(document) = session.documents.snapshot(&uri) else {
            tracing::debug!(%uri, "cursorMoved for a document that is not open");
            return;
        };
        match document.offset_of(params.position, session.documents.encoding()) {
            Ok(point) => session.scheduler.warm_up_soon(uri, document.version, point),
            Err(err) => tracing::debug!(%uri, %err, "cursorMoved outside the document"),
        }
    }
}
