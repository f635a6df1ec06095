//! What `inlineCompletion` and `completion` share: find the document and cursor, cancel the
//! document's older job, run the pipeline, and turn engine trouble into one clear message.

use tower_lsp_server::gen_lsp_types::*;
use tower_lsp_server::jsonrpc::{Error, Result};

use super::Backend;
use super::lifecycle::failure_message;
use super::notices::{TraceNotification, TraceParams};
use crate::completion::Suggestion;
use crate::documents::DocumentSnapshot;
use crate::engine::{CancelFlag, EngineError, EngineStatus};

/// A suggestion and where it goes.
pub struct Placed {
    pub suggestion: Suggestion,
    pub document: DocumentSnapshot,
    pub cursor_char: usize,
    pub position: Position,
}

/// `Ok(None)`: nothing to suggest (model not ready, cancelled, or the engine failed — the user
/// has been told). `Err`: the request itself was wrong (unknown document, bad position).
pub async fn suggest(backend: &Backend, at: TextDocumentPositionParams) -> Result<Option<Placed>> {
    let uri = at.text_document.uri;
    let document = backend
        .documents
        .snapshot(&uri)
        .ok_or_else(|| Error::invalid_params(format!("document is not open: {uri}")))?;
    let cursor_char = document
        .offset_of(at.position, backend.documents.encoding())
        .map_err(|err| Error::invalid_params(err.to_string()))?;
    let Some(pipeline) = backend.pipeline() else {
        return Err(Error::invalid_request());
    };
    match pipeline.engine.status() {
        EngineStatus::Ready(_) => {}
        EngineStatus::Loading { path } => {
            let message = format!(
                "infill: the model ({}) is still loading; suggestions start when it is ready",
                path.display()
            );
            backend.notices.show_once(&backend.client, MessageType::Info, message).await;
            return Ok(None);
        }
        EngineStatus::Failed(reason) => {
            let message = failure_message(&reason);
            backend.notices.show_once(&backend.client, MessageType::Error, message).await;
            return Ok(None);
        }
    }

    // A newer request for the same document makes the older one pointless.
    let cancel = CancelFlag::default();
    if let Some(older) = backend.in_flight.insert(uri.clone(), cancel.clone()) {
        older.cancel();
    }
    // Dropping this future ($/cancelRequest, client gone) cancels the job too.
    let _cancel_on_drop = cancel.guard();
    let result = pipeline.complete(&document, cursor_char, cancel.clone()).await;
    backend.in_flight.remove_if(&uri, |_, current| current.same_as(&cancel));

    match result {
        Ok(None) => Ok(None),
        Ok(Some(suggestion)) => {
            tracing::debug!(
                uri = %uri,
                prompt_tokens = suggestion.generation.prompt_tokens,
                reused = suggestion.generation.reused_tokens,
                generated = suggestion.generation.generated_tokens,
                prompt_ms = suggestion.generation.prompt_ms,
                generation_ms = suggestion.generation.generation_ms,
                "suggestion"
            );
            if pipeline.settings.trace {
                let params = TraceParams {
                    uri: uri.to_string(),
                    suggestion: suggestion.text.clone(),
                    generation: serde_json::to_value(&suggestion.generation).unwrap_or_default(),
                };
                backend.client.send_notification::<TraceNotification>(params).await;
            }
            Ok(Some(Placed { suggestion, document, cursor_char, position: at.position }))
        }
        Err(EngineError::Cancelled) => Ok(None),
        Err(err) => {
            backend
                .notices
                .show_once(&backend.client, MessageType::Error, format!("infill: {err}"))
                .await;
            Ok(None)
        }
    }
}
