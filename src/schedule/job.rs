//! Running one model job: the pipeline on a task of its own, so that it outlives the request
//! that started it while other requests wait for it (`in_flight`), and so that its suggestion
//! reaches the cache even when nobody waits any more.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::oneshot;

use super::Scheduler;
use super::in_flight::{Outcome, Started};
use crate::documents::DocumentSnapshot;
use crate::engine::EngineError;

/// Who a job is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum JobKind {
    /// A request waits for it: its duration teaches the debounce.
    Request,
    /// Nobody waits for it yet; the engine counts it apart.
    Prefetch,
}

impl Scheduler {
    /// Runs the pipeline for `document` at `cursor_char` on a task of its own: the suggestion
    /// goes into the cache, the document's slot is cleared, then the outcome is handed to the
    /// waiting requests.
    pub(super) fn run_job(
        self: &Arc<Self>,
        document: DocumentSnapshot,
        cursor_char: usize,
        mut started: Started,
        kind: JobKind,
    ) {
        let scheduler = Arc::clone(self);
        tokio::spawn(async move {
            let began = Instant::now();
            let job = started.job.clone();
            let background = kind == JobKind::Prefetch;
            let (early_sender, early_lines) = oneshot::channel();
            let early_sender = (kind == JobKind::Request).then_some(early_sender);
            let completing = scheduler.pipeline.complete(
                &document,
                cursor_char,
                job.clone(),
                background,
                early_sender,
            );
            tokio::pin!(completing);
            let mut lines_shown = false;
            let result = tokio::select! {
                // As in the pipeline: lines sent are shown, however soon the rest follows.
                biased;
                Ok(lines) = early_lines => {
                    // What the user waited for; the rest goes to the cache.
                    scheduler.debounce.on_model_call(began.elapsed());
                    scheduler.cache.insert(&document.rope, cursor_char, &lines.text);
                    tracing::debug!(uri = %document.uri, chars = lines.text.len(), "early lines");
                    started.publish_early_lines(Box::new(lines));
                    lines_shown = true;
                    completing.await
                }
                result = &mut completing => result,
            };
            let mut follow_up = None;
            let outcome = match result {
                Ok(Some(suggestion)) => {
                    if kind == JobKind::Request && !lines_shown {
                        scheduler.debounce.on_model_call(began.elapsed());
                    }
                    scheduler.cache.insert(&document.rope, cursor_char, &suggestion.text);
                    // The request prefetched nothing after the early lines: the rest was on
                    // its way.
                    if lines_shown && !suggestion.generation.quick_answer {
                        follow_up = Some(suggestion.text.clone());
                    }
                    Outcome::Suggested(Box::new(suggestion))
                }
                Ok(None) | Err(EngineError::Cancelled) => Outcome::Nothing,
                Err(err) => Outcome::Failed(format!("infill: {err}")),
            };
            scheduler.in_flight.finished(&document.uri, &job);
            started.finish(outcome);
            if let Some(text) = follow_up {
                scheduler.prefetch_after(&document, cursor_char, &text);
            }
        });
    }
}
