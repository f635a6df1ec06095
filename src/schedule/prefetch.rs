//! Speculative prefetch: once a suggestion is shown, prepare the one that follows its acceptance
//! (the suggestion typed or accepted, then a line break) in the background and put it in the
//! suggestion cache, so typing through the suggestion and on to the next line finds an answer
//! waiting.
//!
//! A prefetch is the document's in-flight job like any other: the next real request for the
//! document cancels it (unless it asks at the follow-up's place, or types what the prefetch has
//! written: then it waits for it), and it never starts while a newer request is running.

use std::sync::Arc;

use super::Scheduler;
use super::job::JobKind;
use crate::completion::uses_crlf;
use crate::documents::DocumentSnapshot;

impl Scheduler {
    /// After `suggestion` was given for `document` at `cursor_char` (with this scheduler's
    /// pipeline: a settings change since does not alter a request already running).
    pub(super) fn prefetch_after(
        self: &Arc<Self>,
        document: &DocumentSnapshot,
        cursor_char: usize,
        suggestion: &str,
    ) {
        if !self.pipeline.settings.prefetch
            || suggestion.is_empty()
            || !self.accepts_background_work()
        {
            return;
        }
        let accepted = accepted_text(suggestion, document, cursor_char);
        let mut follow_up = document.clone();
        follow_up.rope.insert(cursor_char, &accepted);
        let at = cursor_char + accepted.chars().count();

        // A newer request already running needs no prefetch. A request at the follow-up's place
        // (the suggestion accepted) joins it rather than cancelling it.
        let claimed = self.in_flight.claim_if_idle(&document.uri, &follow_up.rope, at);
        let Some(started) = claimed else { return };
        tracing::debug!(uri = %follow_up.uri, "prefetch");
        self.run_job(follow_up, at, started, JobKind::Prefetch);
    }
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
