//! `didOpen` / `didChange` / `didSave` / `didClose`: keep the document store (and the
//! repository-context index) in step with the editor.
//!
//! Notifications cannot be answered with an error, so a change the server cannot apply (unknown
//! document, out-of-range range) is reported with `window/showMessage`; the document keeps its
//! last good state.

use tower_lsp_server::gen_lsp_types::*;

use super::Backend;

pub fn did_open(backend: &Backend, params: DidOpenTextDocumentParams) {
    let Some(session) = backend.session() else { return };
    let doc = params.text_document;
    backend.notices.settled(&change_topic(&doc.uri));
    if let Some(context) = &session.pipeline.context {
        context.document_opened(&doc.uri, &doc.text);
    }
    session.documents.open(doc.uri, &doc.text, doc.version, doc.language_id.to_string());
}

pub async fn did_change(backend: &Backend, params: DidChangeTextDocumentParams) {
    let Some(session) = backend.session() else { return };
    let uri = params.text_document.text_document_identifier.uri;
    let version = params.text_document.version;
    let result = session.documents.apply_changes(&uri, version, &params.content_changes);
    if let Ok(edit_point) = result
        && let Some(context) = &session.pipeline.context
    {
        context.document_changed(&uri, edit_point);
    }
    if let Ok(Some(edit_point)) = result {
        session.scheduler.warm_up_soon(uri.clone(), version, edit_point);
    }
    let topic = change_topic(&uri);
    match result {
        Ok(_) => backend.notices.settled(&topic),
        Err(err) => {
            tracing::warn!(%err, "change not applied");
            let message = format!(
                "infill: {err}; suggestions for this file may be wrong until it is reopened"
            );
            let notices = &backend.notices;
            notices.show_per_topic(&backend.client, &topic, MessageType::Warning, message).await;
        }
    }
}

pub fn did_save(backend: &Backend, params: DidSaveTextDocumentParams) {
    if let Some(context) = backend.context() {
        context.document_saved(&params.text_document.uri);
    }
}

pub async fn did_close(backend: &Backend, params: DidCloseTextDocumentParams) {
    let Some(session) = backend.session() else { return };
    let uri = params.text_document.uri;
    session.scheduler.document_closed(&uri);
    session.documents.close(&uri);
    if let Some(context) = session.pipeline.context.clone() {
        // The index takes the disk copy back: file reading, kept off the async workers.
        let _ = tokio::task::spawn_blocking(move || context.document_closed(&uri)).await;
    }
}

/// The notice topic of failed changes to `uri`.
fn change_topic(uri: &Uri) -> String {
    format!("change:{}", uri.as_ref() as &str)
}
