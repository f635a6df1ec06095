//! Speculative prefetch: once a suggestion is shown, prepare the one that follows its acceptance
//! (the suggestion typed or accepted, then a line break) in the background and put it in the
//! suggestion cache, so typing through the suggestion and on to the next line finds an answer
//! waiting.
//!
//! A prefetch is the document's in-flight job like any other: the next real request for the
//! document cancels it, and it never starts while a newer request is running.

use std::sync::Arc;

use dashmap::mapref::entry::Entry;

use super::Backend;
use crate::completion::Suggestion;
use crate::documents::DocumentSnapshot;
use crate::engine::CancelFlag;
use crate::schedule::Scheduler;

pub fn after_suggestion(
    backend: &Backend,
    scheduler: &Arc<Scheduler>,
    document: &DocumentSnapshot,
    cursor_char: usize,
    suggestion: &Suggestion,
) {
    if backend.shutting_down.load(std::sync::atomic::Ordering::Acquire) {
        return;
    }
    let Some(pipeline) = backend.pipeline() else { return };
    let accepted = accepted_text(&suggestion.text, document);
    let mut follow_up = document.clone();
    follow_up.rope.insert(cursor_char, &accepted);
    let at = cursor_char + accepted.chars().count();

    let cancel = CancelFlag::default();
    match backend.in_flight.entry(document.uri.clone()) {
        Entry::Occupied(_) => return, // a newer request is already running
        Entry::Vacant(slot) => {
            slot.insert(cancel.clone());
        }
    }
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
fn accepted_text(suggestion: &str, document: &DocumentSnapshot) -> String {
    if suggestion.ends_with('\n') {
        return suggestion.to_string();
    }
    let crlf = document.rope.lines().next().is_some_and(|l| {
        let n = l.len_chars();
        n >= 2 && l.char(n - 2) == '\r'
    });
    format!("{suggestion}{}", if crlf { "\r\n" } else { "\n" })
}
