//! Warm-up: after an edit, once the user has been idle for a moment, evaluate the prompt for a
//! cursor at the edit point without generating (as llama.vim does with `n_predict: 0`). Clients
//! that ask for a completion only now and then (Helix, Zed) then find the KV cache ready. The
//! same when the cursor comes to rest at another place (`infill/cursorMoved`, sent by infill's
//! VS Code and Neovim clients): the user reads there before typing, and the prompt is ready.
//!
//! A warm-up never delays a real request: it starts only when no job runs for the document, it
//! is the document's in-flight job so the next request cancels it, and a newer edit replaces it.

use std::sync::Arc;
use std::time::Duration;

use tower_lsp_server::gen_lsp_types::Uri;

use super::Scheduler;
use crate::engine::EngineStatus;

/// Idle time after an edit before warming up; shorter than a typing pause, longer than the gap
/// between keystrokes.
const IDLE: Duration = Duration::from_millis(250);

impl Scheduler {
    /// The user is at char `edit_point` of `uri` at `version` (an edit ended there, or the cursor
    /// came to rest there): warm up there once they have been idle for a moment.
    pub fn warm_up_soon(self: &Arc<Self>, uri: Uri, version: i32, edit_point: usize) {
        let pipeline = &self.pipeline;
        if !self.accepts_background_work()
            || !pipeline.settings.warm_up
            || !matches!(pipeline.engine.status(), EngineStatus::Ready(_))
        {
            return;
        }
        let scheduler = Arc::clone(self);
        tokio::spawn(async move {
            tokio::time::sleep(IDLE).await;
            // A newer edit has its own warm-up; a closed document needs none.
            let Some(document) =
                scheduler.documents.snapshot(&uri).filter(|d| d.version == version)
            else {
                return;
            };
            if edit_point > document.rope.len_chars() || !scheduler.accepts_background_work() {
                return;
            }
            // A request being answered has already put the prompt in the cache; an older
            // warm-up is replaced (`claim_for_warm_up`).
            let Some(started) = scheduler.in_flight.claim_for_warm_up(&uri) else { return };
            let result =
                scheduler.pipeline.warm_up(&document, edit_point, started.job.clone()).await;
            scheduler.in_flight.finished(&uri, &started.job);
            tracing::debug!(uri = %uri, ok = result.is_ok(), "warm-up");
        });
    }
}
