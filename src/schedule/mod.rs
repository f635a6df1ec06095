//! Scheduling stage, between the LSP requests and the engine: which requests reach the model and
//! when. `Scheduler::suggest` is a request's whole path, top to bottom:
//!
//! 0. a secrets file (by name or by what it links to) gets nothing, whatever follows;
//! 1. **join** the document's running job when the user is typing what it writes, or asks again
//!    where it runs (`in_flight`): its suggestion answers this request too;
//! 2. otherwise this request is the document's newest: the older job is cancelled;
//! 3. **cache**: typing through a suggestion, or a context seen lately, needs no model call
//!    (`suggestion_cache`);
//! 4. **debounce**: a burst of keystrokes starts one model call, not one per key (`debounce`);
//! 5. **run** the pipeline as a job on a task of its own, which other requests may join (`job`);
//! 6. the job **caches its result**, even when nobody waits for it any more; a multi-line
//!    suggestion still being written after `earlyLinesAfterMs` answers with its whole lines
//!    so far, and the rest goes to the cache;
//! 7. **prefetch** the suggestion that follows this one's acceptance (`prefetch`).
//!
//! Beside the request path, an edit or a cursor come to rest, followed by a short idle time,
//! evaluates the prompt there (`warm_up`). Server-side, so every editor benefits, whatever its
//! client does. This stage knows nothing of LSP: the server hands it a document snapshot and a
//! cursor, and shapes the `Answer` for the wire.

pub mod debounce;
pub mod in_flight;
mod job;
mod prefetch;
pub mod suggestion_cache;
mod warm_up;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use tower_lsp_server::gen_lsp_types::Uri;

pub use debounce::Debounce;
pub use suggestion_cache::{Hit, SuggestionCache};

use crate::completion::{Pipeline, Suggestion};
use crate::documents::{DocumentSnapshot, DocumentStore};
use in_flight::{InFlight, Outcome};
use job::JobKind;

/// How a request was answered.
#[derive(Debug)]
pub enum Answer {
    /// Text to insert at the cursor (empty when the model had nothing to add), and where it
    /// came from.
    Suggested { text: String, source: Source },
    /// Nothing to show, and why.
    Nothing(NoAnswer),
    /// The engine failed; the message is for the user.
    Failed(String),
}

/// Why a request got no suggestion at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoAnswer {
    /// The document is never completed (a secrets file).
    SecretFile,
    /// The settings switch completion off for the document (`disabledLanguages`,
    /// `disabledFiles`).
    SwitchedOff,
    /// A newer request for the document took over before a model call started.
    Superseded,
    /// The model call was cancelled: a newer request, or no one waits for it any more.
    Cancelled,
}

/// Where a suggestion came from.
#[derive(Debug)]
pub enum Source {
    /// The document's running job, of which the user had typed `typed_chars` meanwhile.
    Joined { typed_chars: usize },
    /// The suggestion cache: typing-through (`typed_chars` > 0) or a context seen lately.
    Cached { typed_chars: usize },
    /// A model call of its own, with the engine's figures.
    Model(Box<Suggestion>),
}

/// The scheduling state of one session: built with its pipeline, replaced with it when the
/// settings change.
pub struct Scheduler {
    pipeline: Arc<Pipeline>,
    /// Warm-up reads the document again after its idle wait.
    documents: Arc<DocumentStore>,
    cache: SuggestionCache,
    debounce: Debounce,
    /// The running job per document.
    in_flight: Arc<InFlight>,
    /// Cleared by `shut_down`: no background job (prefetch, warm-up) starts any more.
    open: AtomicBool,
}

impl Scheduler {
    pub fn new(pipeline: Arc<Pipeline>, documents: Arc<DocumentStore>) -> Self {
        let debounce = Debounce::new(pipeline.settings.debounce_ms);
        Self {
            pipeline,
            documents,
            cache: SuggestionCache::default(),
            debounce,
            in_flight: Arc::default(),
            open: AtomicBool::new(true),
        }
    }

    /// A suggestion for `document` at `cursor_char` (a char index valid in its rope), following
    /// the steps in the module comment.
    pub async fn suggest(
        self: &Arc<Self>,
        document: &DocumentSnapshot,
        cursor_char: usize,
    ) -> Answer {
        let uri = &document.uri;
        // Checked before the cache too: its suggestions are keyed by text, not by document.
        if Pipeline::never_completed(document).await {
            tracing::debug!(%uri, "no completion inside a secrets file");
            return Answer::Nothing(NoAnswer::SecretFile);
        }
        if self.pipeline.switched_off(document) {
            return Answer::Nothing(NoAnswer::SwitchedOff);
        }
        let wait = self.debounce.on_request(Instant::now());

        if let Some(answer) = self.join_running_job(document, cursor_char).await {
            return answer;
        }

        // A newer request for the same document makes the older job pointless.
        let job = self.in_flight.reserve(uri);
        // Dropped while waiting ($/cancelRequest, client gone): nothing is started.
        let reservation = job.guard();

        if let Some(hit) = self.cache.lookup(&document.rope, cursor_char) {
            reservation.disarm();
            self.in_flight.finished(uri, &job);
            tracing::debug!(uri = %uri, typed = hit.typed_chars, "suggestion from the cache");
            let source = Source::Cached { typed_chars: hit.typed_chars };
            return Answer::Suggested { text: hit.text, source };
        }

        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
            if job.is_cancelled() {
                // A newer request took over during the wait.
                return Answer::Nothing(NoAnswer::Superseded);
            }
        }

        // `waiter` keeps the job alive while this request waits; requests that type what it
        // writes may wait for it too, after this one is gone.
        let Some((started, waiter)) = self.in_flight.start(uri, &job, &document.rope, cursor_char)
        else {
            return Answer::Nothing(NoAnswer::Superseded);
        };
        reservation.disarm();
        self.run_job(document.clone(), cursor_char, started, JobKind::Request);

        let outcome = waiter.outcome().await;
        let early = outcome.is_early();
        match outcome {
            Outcome::Suggested(suggestion) | Outcome::EarlyLines(suggestion) => {
                let generation = &suggestion.generation;
                tracing::debug!(
                    uri = %uri,
                    prompt_tokens = generation.prompt_tokens,
                    reused = generation.reused_tokens,
                    generated = generation.generated_tokens,
                    prompt_ms = generation.prompt_ms,
                    generation_ms = generation.generation_ms,
                    early,
                    "suggestion"
                );
                // After a quick answer the engine evaluates the whole prompt itself; a
                // prefetch would cancel that. After early lines the rest follows into the
                // cache, and a prefetch after it (`job`).
                if !generation.quick_answer && !early {
                    self.prefetch_after(document, cursor_char, &suggestion.text);
                }
                let text = suggestion.text.clone();
                Answer::Suggested { text, source: Source::Model(suggestion) }
            }
            Outcome::Nothing => Answer::Nothing(NoAnswer::Cancelled),
            Outcome::Failed(message) => Answer::Failed(message),
        }
    }

    /// Step 1: when the user typed what the document's running job has written (or asks at its
    /// very place), that job's suggestion, less what was typed, is the answer. `None`: no such
    /// job, or it went another way than the user; ask the model.
    async fn join_running_job(
        self: &Arc<Self>,
        document: &DocumentSnapshot,
        cursor_char: usize,
    ) -> Option<Answer> {
        let waiter = self.in_flight.join(&document.uri, &document.rope, cursor_char)?;
        let outcome = match waiter.outcome().await {
            // Typed all of the lines shown so far, or past them: the rest is what answers.
            Outcome::EarlyLines(lines)
                if lines.text.strip_prefix(waiter.typed.as_str()).is_none_or(str::is_empty) =>
            {
                waiter.final_outcome().await
            }
            outcome => outcome,
        };
        let early = outcome.is_early();
        match outcome {
            Outcome::Suggested(suggestion) | Outcome::EarlyLines(suggestion) => {
                let rest = suggestion.text.strip_prefix(waiter.typed.as_str())?.to_string();
                let typed_chars = waiter.typed.chars().count();
                tracing::debug!(uri = %document.uri, typed = typed_chars, early, "suggestion from a running job");
                if !suggestion.generation.quick_answer && !early {
                    self.prefetch_after(document, cursor_char, &rest);
                }
                Some(Answer::Suggested { text: rest, source: Source::Joined { typed_chars } })
            }
            // Cancelled by a newer request (or the document closed): this one is stale too.
            Outcome::Nothing => Some(Answer::Nothing(NoAnswer::Cancelled)),
            Outcome::Failed(message) => Some(Answer::Failed(message)),
        }
    }

    /// The document was closed: its job has no one to answer.
    pub fn document_closed(&self, uri: &Uri) {
        self.in_flight.cancel(uri);
    }

    /// No new background work, and every running job cancelled: the server is shutting down,
    /// or a new session (new settings) replaces this one.
    pub fn shut_down(&self) {
        self.open.store(false, Ordering::Release);
        self.in_flight.cancel_all();
    }

    /// Whether background jobs (prefetch, warm-up) may still start.
    fn accepts_background_work(&self) -> bool {
        self.open.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    /// The scheduler decides; the wire is the server's. No file of this stage imports `server/`
    /// (the needle is assembled so that this test does not find itself).
    #[test]
    fn the_scheduler_never_imports_the_server() {
        let needle = ["crate", "::", "server"].concat();
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/schedule");
        let mut files = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(!text.contains(&needle), "{} imports the server", path.display());
            files += 1;
        }
        assert!(files >= 7, "read only {files} files");
    }
}
