//! What `inlineCompletion` and `completion` share: find the document and cursor, cancel the
//! document's older job, answer from the suggestion cache or (after the debounce wait) run the
//! pipeline, start the prefetch, and turn engine trouble into one clear message.

use tower_lsp_server::gen_lsp_types::*;
use tower_lsp_server::jsonrpc::{Error, Result};

use std::time::Instant;

use super::lifecycle::failure_message;
use super::notices::{TraceNotification, TraceParams};
use super::{Backend, prefetch};
use crate::documents::DocumentSnapshot;
use crate::engine::{CancelFlag, EngineError, EngineStatus};

/// A suggestion and where it goes.
pub struct Placed {
    /// Text to insert at the cursor (may be empty).
    pub text: String,
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

    let Some(scheduler) = backend.scheduler.get().cloned() else {
        return Err(Error::invalid_request());
    };
    let wait = scheduler.debounce.on_request(Instant::now());

    // A newer request for the same document makes the older one pointless.
    let cancel = CancelFlag::default();
    if let Some(older) = backend.in_flight.insert(uri.clone(), cancel.clone()) {
        older.cancel();
    }
    // Dropping this future ($/cancelRequest, client gone) cancels the job too.
    let _cancel_on_drop = cancel.guard();
    let position = at.position;
    let placed = |text: String| Placed { text, document: document.clone(), cursor_char, position };

    // Typing through a suggestion, or a context seen lately: no model call.
    if let Some(hit) = scheduler.cache.lookup(&document.rope, cursor_char) {
        backend.in_flight.remove_if(&uri, |_, current| current.same_as(&cancel));
        tracing::debug!(uri = %uri, typed = hit.typed_chars, "suggestion from the cache");
        if pipeline.settings.trace {
            let generation = serde_json::json!({ "cached": true, "typedChars": hit.typed_chars });
            send_trace(backend, &uri, &hit.text, generation).await;
        }
        return Ok(Some(placed(hit.text)));
    }
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
        if cancel.is_cancelled() {
            return Ok(None); // a newer request took over during the wait
        }
    }

    let started = Instant::now();
    let result = pipeline.complete(&document, cursor_char, cancel.clone(), false).await;
    backend.in_flight.remove_if(&uri, |_, current| current.same_as(&cancel));

    match result {
        Ok(None) => Ok(None),
        Ok(Some(suggestion)) => {
            scheduler.debounce.on_model_call(started.elapsed());
            let generation = &suggestion.generation;
            tracing::debug!(
                uri = %uri,
                prompt_tokens = generation.prompt_tokens,
                reused = generation.reused_tokens,
                generated = generation.generated_tokens,
                prompt_ms = generation.prompt_ms,
                generation_ms = generation.generation_ms,
                "suggestion"
            );
            if pipeline.settings.trace {
                let mut generation = serde_json::to_value(generation).unwrap_or_default();
                generation["contextMs"] = suggestion.context_ms.into();
                generation["contextSnippets"] = suggestion.context_snippets.into();
                send_trace(backend, &uri, &suggestion.text, generation).await;
            }
            scheduler.cache.insert(&document.rope, cursor_char, &suggestion.text);
            if pipeline.settings.prefetch && !suggestion.text.is_empty() {
                prefetch::after_suggestion(
                    backend,
                    &scheduler,
                    &document,
                    cursor_char,
                    &suggestion,
                );
            }
            Ok(Some(placed(suggestion.text)))
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

async fn send_trace(backend: &Backend, uri: &Uri, suggestion: &str, generation: serde_json::Value) {
    let params =
        TraceParams { uri: uri.to_string(), suggestion: suggestion.to_string(), generation };
    backend.client.send_notification::<TraceNotification>(params).await;
}
