//! What `inlineCompletion` and `completion` share: find the document and the cursor, make sure
//! the model is ready (else tell the user, once), ask the scheduler, count why the request
//! ended as it did, send the opt-in trace, and turn engine trouble into one clear message.

use tower_lsp_server::gen_lsp_types::*;
use tower_lsp_server::jsonrpc::{Error, Result};

use super::Backend;
use super::answer_reason::Reason;
use super::lifecycle::failure_message;
use super::notices::{TraceNotification, TraceParams};
use crate::documents::{DocumentSnapshot, PositionEncoding};
use crate::engine::EngineStatus;
use crate::schedule::{Answer, Source};

/// A suggestion and where it goes.
pub struct Placed {
    /// Text to insert at the cursor (may be empty).
    pub text: String,
    pub document: DocumentSnapshot,
    pub cursor_char: usize,
    pub position: Position,
    /// The session's position encoding, for other positions of the same document.
    pub encoding: PositionEncoding,
}

/// `Ok(None)`: nothing to suggest (model not ready, cancelled, or the engine failed — the user
/// has been told). `Err`: the request itself was wrong (unknown document, bad position).
pub async fn suggest(backend: &Backend, at: TextDocumentPositionParams) -> Result<Option<Placed>> {
    let Some(session) = backend.session() else {
        return Err(Error::invalid_request());
    };
    let uri = at.text_document.uri;
    let document = session
        .documents
        .snapshot(&uri)
        .ok_or_else(|| Error::invalid_params(format!("document is not open: {uri}")))?;
    let encoding = session.documents.encoding();
    let cursor_char = document
        .offset_of(at.position, encoding)
        .map_err(|err| Error::invalid_params(err.to_string()))?;
    let trace = session.pipeline.settings.trace;
    let not_ready = match session.pipeline.engine.status() {
        // A remote server that failed: the engine answers at once while it waits to probe
        // again, and tries the server when it is time (the next request may find it back).
        EngineStatus::Ready(_) | EngineStatus::Unreachable(_) => None,
        EngineStatus::Loading { path } => {
            let message = format!(
                "infill: the model ({}) is still loading; suggestions start when it is ready",
                path.display()
            );
            backend.notices.show_once(&backend.client, MessageType::Info, message).await;
            Some(Reason::Loading)
        }
        EngineStatus::Failed(reason) => {
            let message = failure_message(&reason);
            backend.notices.show_once(&backend.client, MessageType::Error, message).await;
            Some(Reason::ModelFailed)
        }
    };
    if let Some(reason) = not_ready {
        backend.answer_reasons.count(reason);
        if trace {
            send_trace(backend, &uri, "", serde_json::json!({}), reason).await;
        }
        return Ok(None);
    }

    let answer = session.scheduler.suggest(&document, cursor_char).await;
    let reason = Reason::of(&answer);
    backend.answer_reasons.count(reason);
    match answer {
        Answer::Suggested { text, source } => {
            if trace {
                send_trace(backend, &uri, &text, trace_figures(&source), reason).await;
            }
            Ok(Some(Placed { text, document, cursor_char, position: at.position, encoding }))
        }
        Answer::Nothing(_) => {
            if trace {
                send_trace(backend, &uri, "", serde_json::json!({}), reason).await;
            }
            Ok(None)
        }
        Answer::Failed(message) => {
            if trace {
                let figures = serde_json::json!({ "error": message });
                send_trace(backend, &uri, "", figures, reason).await;
            }
            backend.notices.show_once(&backend.client, MessageType::Error, message).await;
            Ok(None)
        }
    }
}

/// The `generation` member of an `infill/trace`: the engine's figures for a model call, or how
/// the suggestion was found without one.
fn trace_figures(source: &Source) -> serde_json::Value {
    match source {
        Source::Joined { typed_chars } => {
            serde_json::json!({ "joined": true, "typedChars": typed_chars })
        }
        Source::Cached { typed_chars } => {
            serde_json::json!({ "cached": true, "typedChars": typed_chars })
        }
        Source::Model(suggestion) => {
            let mut figures = serde_json::to_value(&suggestion.generation).unwrap_or_default();
            figures["contextMs"] = suggestion.context_ms.into();
            figures["contextSnippets"] = suggestion.context_snippets.into();
            if let Some(confidence) = suggestion.confidence {
                figures["confidence"] = serde_json::to_value(confidence).unwrap_or_default();
            }
            if suggestion.broken_syntax {
                figures["brokenSyntax"] = true.into();
            }
            if let Some(first) = &suggestion.first_opinion {
                figures["secondOpinion"] = true.into();
                figures["firstOpinion"] = first.as_str().into();
            }
            if let Some(withheld) = suggestion.withheld {
                figures["withheld"] = serde_json::to_value(withheld).unwrap_or_default();
            }
            figures
        }
    }
}

async fn send_trace(
    backend: &Backend,
    uri: &Uri,
    suggestion: &str,
    generation: serde_json::Value,
    reason: Reason,
) {
    let params = TraceParams {
        uri: uri.to_string(),
        suggestion: suggestion.to_string(),
        generation,
        reason: Some(reason),
    };
    backend.client.send_notification::<TraceNotification>(params).await;
}
