//! What `inlineCompletion` and `completion` share: find the document and cursor; join the
//! document's running job when the user is typing what it writes, or else cancel it; answer
//! from the suggestion cache or (after the debounce wait) run the pipeline; start the prefetch;
//! and turn engine trouble into one clear message.

use tower_lsp_server::gen_lsp_types::*;
use tower_lsp_server::jsonrpc::{Error, Result};

use std::sync::Arc;
use std::time::Instant;

use super::lifecycle::failure_message;
use super::notices::{TraceNotification, TraceParams};
use super::{Backend, prefetch};
use crate::completion::{Pipeline, Suggestion};
use crate::documents::DocumentSnapshot;
use crate::engine::{EngineError, EngineStatus};
use crate::schedule::Scheduler;
use crate::schedule::in_flight::{Outcome, Started};

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
    let position = at.position;
    let placed = |text: String| Placed { text, document: document.clone(), cursor_char, position };

    // Typing what the document's running job is writing, or asking again where it runs: its
    // suggestion answers this request too, with no second model call.
    if let Some(waiter) = backend.in_flight.join(&uri, &document.rope, cursor_char) {
        let typed_chars = waiter.typed.chars().count();
        match waiter.outcome().await {
            Outcome::Suggested(suggestion) if suggestion.text.starts_with(&waiter.typed) => {
                let rest = suggestion.text[waiter.typed.len()..].to_string();
                let rest = Suggestion { text: rest, ..suggestion };
                tracing::debug!(uri = %uri, typed = typed_chars, "suggestion from a running job");
                if pipeline.settings.trace {
                    let generation =
                        serde_json::json!({ "joined": true, "typedChars": typed_chars });
                    send_trace(backend, &uri, &rest.text, generation).await;
                }
                start_prefetch(backend, &pipeline, &scheduler, &document, cursor_char, &rest);
                return Ok(Some(placed(rest.text)));
            }
            // The job went another way than the user: ask the model below.
            Outcome::Suggested(_) => {}
            // Cancelled by a newer request (or the document closed): this one is stale too.
            Outcome::Nothing => return Ok(None),
            Outcome::Failed(message) => {
                backend.notices.show_once(&backend.client, MessageType::Error, message).await;
                return Ok(None);
            }
        }
    }

    // A newer request for the same document makes the older job pointless.
    let cancel = backend.in_flight.reserve(&uri);
    // Dropped while waiting ($/cancelRequest, client gone): nothing is started.
    let reservation = cancel.guard();

    // Typing through a suggestion, or a context seen lately: no model call.
    if let Some(hit) = scheduler.cache.lookup(&document.rope, cursor_char) {
        reservation.disarm();
        backend.in_flight.finished(&uri, &cancel);
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

    // The job runs on its own task, so that a request typing what it writes can wait for it
    // after this one is cancelled; `waiter` keeps it alive while this request waits.
    let Some((started, waiter)) =
        backend.in_flight.start(&uri, &cancel, &document.rope, cursor_char)
    else {
        return Ok(None);
    };
    reservation.disarm();
    run_job(backend, &pipeline, &scheduler, &document, cursor_char, started, false);

    match waiter.outcome().await {
        Outcome::Suggested(suggestion) => {
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
            start_prefetch(backend, &pipeline, &scheduler, &document, cursor_char, &suggestion);
            Ok(Some(placed(suggestion.text)))
        }
        Outcome::Nothing => Ok(None),
        Outcome::Failed(message) => {
            backend.notices.show_once(&backend.client, MessageType::Error, message).await;
            Ok(None)
        }
    }
}

/// Runs the pipeline for `document` at `cursor_char` on a task of its own: the suggestion goes
/// into the cache (so typing through it needs no model call, even when nobody waits any more),
/// the document's slot is cleared, then the outcome is handed to the waiting requests.
/// `background`: a prefetch, counted apart by the engine.
pub(super) fn run_job(
    backend: &Backend,
    pipeline: &Arc<Pipeline>,
    scheduler: &Arc<Scheduler>,
    document: &DocumentSnapshot,
    cursor_char: usize,
    mut started: Started,
    background: bool,
) {
    let (pipeline, scheduler, document) = (pipeline.clone(), scheduler.clone(), document.clone());
    let in_flight = backend.in_flight.clone();
    tokio::spawn(async move {
        let began = Instant::now();
        let cancel = started.cancel.clone();
        let result = pipeline.complete(&document, cursor_char, cancel.clone(), background).await;
        let outcome = match result {
            Ok(Some(suggestion)) => {
                if !background {
                    scheduler.debounce.on_model_call(began.elapsed());
                }
                scheduler.cache.insert(&document.rope, cursor_char, &suggestion.text);
                Outcome::Suggested(suggestion)
            }
            Ok(None) | Err(EngineError::Cancelled) => Outcome::Nothing,
            Err(err) => Outcome::Failed(format!("infill: {err}")),
        };
        in_flight.finished(&document.uri, &cancel);
        started.finish(outcome);
    });
}

/// After a suggestion, with the request's own pipeline (a settings change since does not alter
/// a request already running).
fn start_prefetch(
    backend: &Backend,
    pipeline: &Arc<Pipeline>,
    scheduler: &Arc<Scheduler>,
    document: &DocumentSnapshot,
    cursor_char: usize,
    suggestion: &Suggestion,
) {
    if pipeline.settings.prefetch && !suggestion.text.is_empty() {
        prefetch::after_suggestion(backend, pipeline, scheduler, document, cursor_char, suggestion);
    }
}

async fn send_trace(backend: &Backend, uri: &Uri, suggestion: &str, generation: serde_json::Value) {
    let params =
        TraceParams { uri: uri.to_string(), suggestion: suggestion.to_string(), generation };
    backend.client.send_notification::<TraceNotification>(params).await;
}
