//! Running one model job: the pipeline on a task of its own, so that it outlives the request
//! that started it while other requests wait for it (`in_flight`), and so that its suggestion
//! reaches the cache even when nobody waits any more.

use std::sync::Arc;
use std::time::Instant;

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
            let result =
                scheduler.pipeline.complete(&document, cursor_char, job.clone(), background).await;
            let outcome = match result {
                Ok(Some(suggestion)) => {
                    if kind == JobKind::Request {
                        scheduler.debounce.on_model_call(began.elapsed());
                    }
                    scheduler.cache.insert(&document.rope, cursor_char, &suggestion.text);
                    Outcome::Suggested(Box::new(suggestion))
                }
                Ok(None) | Err(EngineError::Cancelled) => Outcome::Nothing,
                Err(err) => Outcome::Failed(format!("infill: {err}")),
            };
            scheduler.in_flight.finished(&document.uri, &job);
            started.finish(outcome);
        });
    }
}
