//! The model job running for each document, and whether a newer request can join it instead of
//! cancelling it.
//!
//! A newer request for a document normally makes the older job pointless. Not when the user is
//! typing what the job is writing: if the document is the job's document with text typed at the
//! job's cursor, and that text is the start of what the job has generated so far, the job's
//! suggestion (less what was typed) answers the newer request too. The same holds for a request
//! at exactly the job's place, e.g. the follow-up a prefetch is computing.
//!
//! The job's lifetime is therefore not its first request's: it runs on its own task while any
//! request waits for it. Clients cancel the old request before sending the new one, so when the
//! last waiter goes, the job is cancelled only if no request joins it within `ORPHAN_GRACE`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use dashmap::DashMap;
use dashmap::mapref::entry::Entry;
use ropey::Rope;
use tokio::sync::watch;
use tower_lsp_server::gen_lsp_types::Uri;

use crate::completion::Suggestion;
use crate::engine::JobHandle;

/// How long a job that no request waits for keeps running, for the request that follows a
/// cancelled one (clients send `$/cancelRequest` first, then the new request).
pub const ORPHAN_GRACE: Duration = Duration::from_millis(100);

/// How a job ended, for the requests waiting for it.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Boxed: a suggestion carries its whole generation, the other outcomes a word.
    Suggested(Box<Suggestion>),
    /// The whole lines of a suggestion the engine is still writing (`earlyLinesAfterMs`): the
    /// job's final outcome replaces it.
    EarlyLines(Box<Suggestion>),
    /// Cancelled, or a document that is never completed.
    Nothing,
    /// The engine failed; the message is for the user.
    Failed(String),
}

impl Outcome {
    /// The whole lines of a suggestion still being written, not how the job ended.
    pub fn is_early(&self) -> bool {
        matches!(self, Self::EarlyLines(_))
    }
}

/// The running job per document.
#[derive(Default)]
pub struct InFlight {
    jobs: DashMap<Uri, Running>,
}

#[derive(Clone)]
struct Running {
    job: JobHandle,
    /// Where the job completes and how to wait for it; `None`: nothing to share (a warm-up, or
    /// a request still in its debounce wait).
    shared: Option<Arc<Shared>>,
    /// A warm-up, which a newer warm-up replaces (`claim_for_warm_up`).
    warm_up: bool,
}

struct Shared {
    rope: Rope,
    cursor_char: usize,
    outcome: watch::Receiver<Option<Outcome>>,
    waiters: AtomicUsize,
}

/// A job that a request or background task started: cancel `job` to stop it,
/// `finish` to hand its outcome to whoever waits.
pub struct Started {
    pub job: JobHandle,
    outcome: Option<watch::Sender<Option<Outcome>>>,
}

impl Started {
    /// Publishes the whole lines of the suggestion still being written, for the requests that
    /// wait; `finish` replaces them.
    pub fn publish_early_lines(&self, lines: Box<Suggestion>) {
        if let Some(sender) = &self.outcome {
            sender.send_replace(Some(Outcome::EarlyLines(lines)));
        }
    }

    /// Publishes how the job ended (once; later calls do nothing).
    pub fn finish(&mut self, outcome: Outcome) {
        if let Some(sender) = self.outcome.take() {
            sender.send_replace(Some(outcome));
        }
    }
}

/// A request waiting for a job: counts as a waiter until dropped.
pub struct Waiter {
    shared: Arc<Shared>,
    job: JobHandle,
    /// What the user typed at the job's cursor since it started (empty: same place).
    pub typed: String,
}

impl Waiter {
    /// Waits until the job has ended, or published the whole lines of a suggestion it is still
    /// writing, and returns how.
    pub async fn outcome(&self) -> Outcome {
        self.wait_for(Option::is_some).await
    }

    /// Waits until the job has ended and returns how.
    pub async fn final_outcome(&self) -> Outcome {
        self.wait_for(|outcome| outcome.as_ref().is_some_and(|o| !o.is_early())).await
    }

    async fn wait_for(&self, ready: impl FnMut(&Option<Outcome>) -> bool) -> Outcome {
        let mut outcome = self.shared.outcome.clone();
        match outcome.wait_for(ready).await {
            Ok(done) => done.clone().unwrap_or(Outcome::Nothing),
            // The job's task ended without a word (it panicked): nothing to share.
            Err(_) => Outcome::Nothing,
        }
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        if self.shared.waiters.fetch_sub(1, Ordering::AcqRel) != 1 {
            return;
        }
        // The last waiter went. Give the request that usually follows a moment to join.
        let (shared, job) = (self.shared.clone(), self.job.clone());
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            job.cancel();
            return;
        };
        runtime.spawn(async move {
            tokio::time::sleep(ORPHAN_GRACE).await;
            let finished = shared.outcome.borrow().is_some();
            if shared.waiters.load(Ordering::Acquire) == 0 && !finished {
                job.cancel();
            }
        });
    }
}

impl InFlight {
    /// Makes `uri`'s job one that nobody can join yet (a request in its debounce wait),
    /// cancelling the older job. Returns its handle.
    pub fn reserve(&self, uri: &Uri) -> JobHandle {
        let job = JobHandle::default();
        let running = Running { job: job.clone(), shared: None, warm_up: false };
        if let Some(older) = self.jobs.insert(uri.clone(), running) {
            older.job.cancel();
        }
        job
    }

    /// Starts a job at `cursor_char` of `rope` that later requests may join, under the
    /// reservation `job` (from `reserve`). `None` when a newer request took the slot since.
    /// The caller becomes its first waiter.
    pub fn start(
        &self,
        uri: &Uri,
        job: &JobHandle,
        rope: &Rope,
        cursor_char: usize,
    ) -> Option<(Started, Waiter)> {
        let mut entry = self.jobs.get_mut(uri)?;
        if !entry.job.same_as(job) || job.is_cancelled() {
            return None;
        }
        let (started, shared) = share(job.clone(), rope, cursor_char, 1);
        entry.shared = Some(shared.clone());
        drop(entry);
        Some((started, Waiter { shared, job: job.clone(), typed: String::new() }))
    }

    /// A prefetch at `cursor_char` of `rope` becomes `uri`'s job only when none runs: a request
    /// always wins over it, and requests there may join it. `None`: the slot is taken.
    pub fn claim_if_idle(&self, uri: &Uri, rope: &Rope, cursor_char: usize) -> Option<Started> {
        match self.jobs.entry(uri.clone()) {
            Entry::Occupied(_) => None,
            Entry::Vacant(slot) => {
                let job = JobHandle::default();
                let (started, shared) = share(job.clone(), rope, cursor_char, 0);
                slot.insert(Running { job, shared: Some(shared), warm_up: false });
                Some(started)
            }
        }
    }

    /// A warm-up becomes `uri`'s job where none runs or where an older warm-up does, which it
    /// cancels: the user is at another place now (an edit there, the cursor at rest there), and
    /// the older one may still wait for the engine (behind the filling at its own place) while
    /// the user reads here. `None`: a request or a prefetch has the slot.
    pub fn claim_for_warm_up(&self, uri: &Uri) -> Option<Started> {
        let job = JobHandle::default();
        let running = Running { job: job.clone(), shared: None, warm_up: true };
        match self.jobs.entry(uri.clone()) {
            Entry::Occupied(mut slot) if slot.get().warm_up => {
                slot.insert(running).job.cancel();
            }
            Entry::Occupied(_) => return None,
            Entry::Vacant(slot) => {
                slot.insert(running);
            }
        }
        Some(Started { job, outcome: None })
    }

    /// Joins `uri`'s running job when its suggestion answers a request at `cursor_char` of
    /// `rope`: the document is the job's with text typed at its cursor, and the job has already
    /// generated that text (or nothing was typed).
    pub fn join(&self, uri: &Uri, rope: &Rope, cursor_char: usize) -> Option<Waiter> {
        let running = self.jobs.get(uri)?.clone();
        let shared = running.shared?;
        if running.job.is_cancelled() {
            return None;
        }
        let typed = typed_since(&shared.rope, shared.cursor_char, rope, cursor_char)?;
        if !typed.is_empty() && !running.job.generated_text().starts_with(&typed) {
            return None;
        }
        shared.waiters.fetch_add(1, Ordering::AcqRel);
        Some(Waiter { shared, job: running.job, typed })
    }

    /// Clears `uri`'s slot if it still holds `job`.
    pub fn finished(&self, uri: &Uri, job: &JobHandle) {
        self.jobs.remove_if(uri, |_, current| current.job.same_as(job));
    }

    /// Cancels and forgets `uri`'s job (the document was closed).
    pub fn cancel(&self, uri: &Uri) {
        if let Some((_, running)) = self.jobs.remove(uri) {
            running.job.cancel();
        }
    }

    /// Cancels every job (shutdown).
    pub fn cancel_all(&self) {
        let jobs: Vec<JobHandle> = self.jobs.iter().map(|e| e.value().job.clone()).collect();
        for job in jobs {
            job.cancel();
        }
    }
}

fn share(
    job: JobHandle,
    rope: &Rope,
    cursor_char: usize,
    waiters: usize,
) -> (Started, Arc<Shared>) {
    let (sender, outcome) = watch::channel(None);
    let shared = Arc::new(Shared {
        rope: rope.clone(),
        cursor_char,
        outcome,
        waiters: AtomicUsize::new(waiters),
    });
    (Started { job, outcome: Some(sender) }, shared)
}

/// The text typed at `old_cursor` of `old` that makes `new` with its cursor at `new_cursor`;
/// `None` when `new` is not `old` with text inserted at the cursor.
pub fn typed_since(old: &Rope, old_cursor: usize, new: &Rope, new_cursor: usize) -> Option<String> {
    let typed_len = new_cursor.checked_sub(old_cursor)?;
    if new.len_chars() != old.len_chars() + typed_len
        || old_cursor > old.len_chars()
        || new_cursor > new.len_chars()
    {
        return None;
    }
    let same_before = new.slice(..old_cursor) == old.slice(..old_cursor);
    let same_after = new.slice(new_cursor..) == old.slice(old_cursor..);
    (same_before && same_after).then(|| new.slice(old_cursor..new_cursor).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri() -> Uri {
        Uri::from("file:///proj/a.py")
    }

    #[test]
    fn typed_text_is_found_only_for_an_insertion_at_the_cursor() {
        let old = Rope::from_str("def f():\n    return \n");
        let at = 20;
        assert_eq!(old.char(at - 1), ' ');
        let typed = Rope::from_str("def f():\n    return fi\n");
        assert_eq!(typed_since(&old, at, &typed, at + 2).as_deref(), Some("fi"));
        assert_eq!(typed_since(&old, at, &old, at).as_deref(), Some(""));
        // The same text, but the cursor elsewhere.
        assert_eq!(typed_since(&old, at, &typed, at + 1), None);
        // Text typed somewhere else.
        let elsewhere = Rope::from_str("def g():\n    return \n");
        assert_eq!(typed_since(&old, at, &elsewhere, at), None);
        // Deleted instead of typed.
        let deleted = Rope::from_str("def f():\n    return\n");
        assert_eq!(typed_since(&old, at, &deleted, at - 1), None);
    }

    #[tokio::test]
    async fn a_request_joins_a_job_that_already_wrote_what_was_typed() {
        let jobs = InFlight::default();
        let old = Rope::from_str("x = \n");
        let reserved = jobs.reserve(&uri());
        let (mut started, first) = jobs.start(&uri(), &reserved, &old, 4).unwrap();
        started.job.record_generated(b"fib(");

        let typed = Rope::from_str("x = fi\n");
        let joined = jobs.join(&uri(), &typed, 6).expect("typed what the job wrote");
        assert_eq!(joined.typed, "fi");
        let other = Rope::from_str("x = fo\n");
        assert!(jobs.join(&uri(), &other, 6).is_none(), "typed something else");
        let ahead = Rope::from_str("x = fib(n\n");
        assert!(jobs.join(&uri(), &ahead, 9).is_none(), "typed past what the job wrote");

        drop(first);
        started.finish(Outcome::Nothing);
        assert!(matches!(joined.outcome().await, Outcome::Nothing));
        assert!(!started.job.is_cancelled(), "a waiter remained");
    }

    #[tokio::test(start_paused = true)]
    async fn the_last_waiter_leaving_cancels_the_job_after_the_grace_unless_one_joins() {
        let jobs = InFlight::default();
        let rope = Rope::from_str("x = \n");

        let reserved = jobs.reserve(&uri());
        let (started, first) = jobs.start(&uri(), &reserved, &rope, 4).unwrap();
        drop(first);
        let second = jobs.join(&uri(), &rope, 4).expect("same place");
        tokio::time::sleep(ORPHAN_GRACE * 2).await;
        assert!(!started.job.is_cancelled(), "joined within the grace");

        drop(second);
        assert!(!started.job.is_cancelled(), "not at once");
        tokio::time::sleep(ORPHAN_GRACE * 2).await;
        assert!(started.job.is_cancelled(), "nobody joined");
    }

    #[test]
    fn a_newer_reservation_cancels_the_older_job_and_background_work_yields() {
        let jobs = InFlight::default();
        let rope = Rope::from_str("x = \n");
        let older = jobs.claim_for_warm_up(&uri()).unwrap();
        let warm_up = jobs.claim_for_warm_up(&uri()).unwrap();
        assert!(older.job.is_cancelled() && !warm_up.job.is_cancelled(), "a newer warm-up wins");
        assert!(jobs.claim_if_idle(&uri(), &rope, 4).is_none(), "slot taken");
        assert!(jobs.join(&uri(), &rope, 4).is_none(), "a warm-up has nothing to share");

        let reserved = jobs.reserve(&uri());
        assert!(warm_up.job.is_cancelled());
        let newer = jobs.reserve(&uri());
        assert!(reserved.is_cancelled());
        assert!(jobs.start(&uri(), &reserved, &rope, 4).is_none(), "superseded");
        jobs.finished(&uri(), &reserved);
        assert!(jobs.claim_for_warm_up(&uri()).is_none(), "a request's slot is not a warm-up's");
        assert!(jobs.start(&uri(), &newer, &rope, 4).is_some(), "still its slot");
    }
}
