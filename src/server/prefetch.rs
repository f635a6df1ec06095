//! Speculative prefetch: once a suggestion is shown, prepare the one that follows its acceptance
//! (the suggestion typed or accepted, then a line break) in the background and put it in the
//! suggestion cache, so typing through the suggestion and on to the next line finds an answer
//! waiting.
//!
//! A prefetch is the document's in-flight job like any other: the next real request for the
//! document cancels it (unless it asks at the follow-up's place, or types what the prefetch has
//! written: then it waits for it), and it never starts while a newer request is running.

use std::sync::Arc;

use super::Backend;
use super::suggest::run_job;
use crate::completion::{Pipeline, Suggestion, uses_crlf};
use crate::documents::DocumentSnapshot;
use crate::schedule::Scheduler;

pub fn after_suggestion(
    backend: &Backend,
    pipeline: &Arc<Pipeline>,
    scheduler: &Arc<Scheduler>,
    document: &DocumentSnapshot,
    cursor_char: usize,
    suggestion: &Suggestion,
) {
    if !backend.accepts_background_work() {
        return;
    }
    let accepted = accepted_text(&suggestion.text, document, cursor_char);
    let mut follow_up = document.clone();
    follow_up.rope.insert(cursor_char, &accepted);
    let at = cursor_char + accepted.chars().count();

    // A newer request already running needs no prefetch. A request at the follow-up's place
    // (the suggestion accepted) joins it rather than cancelling it.
    let place = Some((&follow_up.rope, at));
    let Some(started) = backend.in_flight.claim_if_idle(&document.uri, place) else { return };
    tracing::debug!(uri = %follow_up.uri, "prefetch");
    run_job(backend, pipeline, scheduler, &follow_up, at, started, true);
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
