//! Scheduling stage, between the LSP requests and the engine: which requests reach the model and
//! when. Suggestions already made answer typing without a model call (`suggestion_cache`), a
//! burst of keystrokes starts one model call (`debounce`), typing what a running job is writing
//! waits for that job instead of cancelling it (`in_flight`), and after a suggestion is shown the
//! one that follows its acceptance is prepared in the background (the server's `prefetch`).
//!
//! Server-side, so every editor benefits, whatever its client does.

pub mod debounce;
pub mod in_flight;
pub mod suggestion_cache;

pub use debounce::Debounce;
pub use suggestion_cache::{Hit, SuggestionCache};

/// The scheduling state one server keeps.
pub struct Scheduler {
    pub cache: SuggestionCache,
    pub debounce: Debounce,
}

impl Scheduler {
    pub fn new(debounce_ms: Option<u64>) -> Self {
        Self { cache: SuggestionCache::default(), debounce: Debounce::new(debounce_ms) }
    }
}
