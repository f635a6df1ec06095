//! Speculative prefetch: once a suggestion is shown, prepare the one that follows its acceptance
//! (the suggestion typed or accepted, then a line break) in the background and put it in the
//! suggestion cache, so typing through the suggestion and on to the next line finds an answer
//! waiting.
//!
//! A prefetch is the document's in-flight job like any other: the next real request for the
//! document cancels it, and it never starts while a newer request is running.

use std::sync::Arc;

use super::{Backend, claim_if_idle};
use crate::completion::{Suggestion, uses_crlf};
use crate::documents::DocumentSnapshot;
use crate::schedule::Scheduler;

pub fn after_suggestion(
    backend: &Backend,
    scheduler: &Arc<Scheduler>,
    document: &DocumentSnapshot,
    cursor_char: usize,
    suggestion: &Suggestion,
) {
    if !backend.accepts_background_work() {
        return;
    }
    let Some(pipeline) = backend.pipeline() else { return };
    let accepted = accepted_text(&suggestion.text, document, cursor_char);
    let mut follow_up = document.clone();
    follow_up.rope.insert(cursor_char, &accepted);
    let at = cursor_char + accepted.chars().count();

    // A newer request already running needs no prefetch.
    let Some(cancel) = claim_if_idle(&backend.in_flight, &document.uri) else { return };
    let in_flight = backend.in_flight.clone();
    let scheduler = scheduler.clone();
    tokio::spawn(async move {
        let result = pipeline.complete(&follow_up, at, cancel.clone(), true).await;
        in_flight.remove_if(&follow_up.uri, |_, current| current.same_as(&cancel));
        if let Ok(Some(next)) = result {
            tracing::debug!(uri = %follow_up.uri, chars = next.text.len(), "prefetched");
            scheduler.cache.insert(&follow_up.rope, at, &next.text);
        }
    });
}

/// The suggestion as it will be in the document once accepted and the line finished: a
/// suggestion that does not end its line gets the document's line break.
fn accepted_text(suggestion: &str, document: &DocumentSnapshot, cursor_char: usize) -> String {
    if suggestion.ends_with('\n') {
        return suggestion.to_string();
    }
    let crlf = uses_crlf(&document.rope, document.rope.char_to_line(cursor_char));
    format!("{suggestion}{}", if crlf { "\r\n" } else { "\n" })
}
