//! What the engine thread is running, shared with the `Engine` handles that send it jobs: the
//! engine's own background work (the whole prompt filled in after a quick answer), and whether
//! a cancelled decode must stop at once.
//!
//! A decode aborted by its cancel loses its whole prompt chunk (`PROMPT_CHUNK` tokens, around a
//! second on a 2-core CPU; `BACKGROUND_CHUNK` for background work, about half that), and a
//! chunk is longer than the gap between keystrokes or what is left of a typing pause after the
//! warm-up's idle wait. So a cancel stops a decode at once only when a job waits that cannot use
//! the chunk (a request at another place, the engine stopping), when the chunk is throwaway work
//! (a quick answer's short prompt, generating), or when it is background work that a request
//! at its place interrupts; otherwise the chunk is finished, kept in the cache for the next
//! prompt there, and the job stops after it.
//!
//! A request at the place of background work interrupts it because the user waits for that
//! request: letting the chunk finish first cost a typed quick answer 0.4 s at p50 on the bench,
//! most of its time, and up to 0.9 s on a busy machine. Always, even where the filling loses
//! chunk after chunk to requests that come faster than a chunk (a guard that let it finish its
//! chunk after 2 s of losing, session 29, cost the lines trace under load its model-answered
//! p50, 969 against 386 ms, with the same right suggestions idle and loaded, session 30): those
//! requests are answered quickly from the cache the filling left, and the filling goes on when
//! the user stops typing. (Session 23's starved filling was a different case, warm-ups aborted
//! by cancels nobody waited for; those still finish their chunk.)
//!
//! The remote engine shares the record for its own filling after a quick answer.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use super::JobHandle;
use crate::prompt::FimInput;

/// A request this many lines or fewer from the cursor of the prompt being evaluated is taken to
/// be typing on there: its prompt starts with what is being evaluated (the prefix's start is
/// sticky, typed text opens the middle), so it waits for the chunk instead of interrupting.
const NEAR_LINES: usize = 8;

/// Where a prompt's cursor is: its document and line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Place {
    path: String,
    line: usize,
}

impl Place {
    pub(super) fn of(input: &FimInput) -> Self {
        let line = input.prefix_first_line + input.prefix.matches('\n').count();
        Self { path: input.path.clone(), line }
    }

    fn near(&self, other: &Place) -> bool {
        self.path == other.path && self.line.abs_diff(other.line) <= NEAR_LINES
    }
}

#[derive(Debug, Default)]
pub(crate) struct Running {
    /// The handle of the whole prompt's filling after a quick answer, while it runs: any new
    /// job cancels it.
    filling: Mutex<Option<JobHandle>>,
    /// The place whose prompt the engine thread is evaluating into the cache it keeps; `None`
    /// while it does anything else.
    evaluating: Mutex<Option<Place>>,
    /// Whether what is evaluated is background work (the filling, a warm-up): a request
    /// typed at its place interrupts it too.
    evaluating_background: AtomicBool,
    /// Whether a decode running now keeps its work: `evaluating.is_some()`, kept as an atomic
    /// for the abort callback, which llama.cpp asks between every two graph nodes.
    keeps_work: AtomicBool,
    /// Jobs sent that wait for the engine and cannot use what it evaluates now, not yet taken
    /// by the engine thread; and since when there are any.
    waiting: AtomicUsize,
    waiting_since: Mutex<Option<Instant>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Running {
    /// Sender side, for a job about to be sent: cancels the engine's filling unless the job is
    /// background work at its place (a warm-up there, which would evaluate the same prompt: it
    /// waits for the filling instead), and returns whether the job waits for what runs now to
    /// stop (counted until `job_taken`): a request (not background work) at another place than
    /// the prompt being evaluated, or at the place of background work.
    pub(super) fn job_sent(&self, input: &FimInput, background: bool) -> bool {
        let near = lock(&self.evaluating).as_ref().is_some_and(|at| at.near(&Place::of(input)));
        if !(background && near) {
            self.stop_filling();
        }
        let interrupts = self.evaluating_background.load(Ordering::Acquire);
        let waits = !background && (!near || interrupts);
        if waits {
            self.wait();
        }
        waits
    }

    /// Sender side: the engine is asked to stop, which nothing running can serve.
    pub(super) fn stop_sent(&self) {
        self.stop_filling();
        self.wait();
    }

    fn wait(&self) {
        let mut since = lock(&self.waiting_since);
        if self.waiting.fetch_add(1, Ordering::AcqRel) == 0 || since.is_none() {
            *since = Some(Instant::now());
        }
    }

    /// Engine side: a job counted by `job_sent` reached the engine thread.
    pub(super) fn job_taken(&self, waits: bool) {
        if waits {
            let mut since = lock(&self.waiting_since);
            if self.waiting.fetch_sub(1, Ordering::AcqRel) == 1 {
                *since = None;
            }
        }
    }

    /// Since when a job waits that cannot use the running work, if one does.
    pub(super) fn waited_since(&self) -> Option<Instant> {
        *lock(&self.waiting_since)
    }

    /// Engine side: the decodes from now on evaluate the prompt of `place` into the kept cache
    /// (`Some`), as background work or not, or anything else (`None`).
    pub(super) fn evaluating(&self, place: Option<Place>, background: bool) {
        self.keeps_work.store(place.is_some(), Ordering::Release);
        self.evaluating_background.store(background, Ordering::Release);
        *lock(&self.evaluating) = place;
    }

    /// Asked inside a decode whose job is cancelled: whether to abort it now.
    pub(super) fn abort_cancelled(&self) -> bool {
        !self.keeps_work.load(Ordering::Acquire) || self.waiting.load(Ordering::Acquire) > 0
    }

    /// Engine side: `handle` is the filling that runs from now on.
    pub(super) fn filling_started(&self, handle: &JobHandle) {
        *lock(&self.filling) = Some(handle.clone());
    }

    /// Engine side: the filling of `handle` has ended.
    pub(super) fn filling_ended(&self, handle: &JobHandle) {
        let mut slot = lock(&self.filling);
        if slot.as_ref().is_some_and(|held| held.same_as(handle)) {
            *slot = None;
        }
    }

    fn stop_filling(&self) {
        if let Some(handle) = lock(&self.filling).take() {
            handle.cancel();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(path: &str, line: usize) -> FimInput {
        FimInput {
            path: path.into(),
            repo_name: None,
            prefix: "x\n".repeat(line - 10) + "    ret",
            suffix: "\n".into(),
            context: Vec::new(),
            prefix_first_line: 10,
            repo_header: Default::default(),
        }
    }

    #[test]
    fn a_place_is_its_document_and_the_cursor_s_line() {
        assert_eq!(Place::of(&at("a.py", 40)), Place { path: "a.py".into(), line: 40 });
    }

    #[test]
    fn only_a_request_elsewhere_interrupts_a_prompt_being_evaluated() {
        let running = Running::default();
        running.evaluating(Some(Place::of(&at("a.py", 40))), false);
        assert!(!running.abort_cancelled(), "a kept chunk is finished when nobody waits");

        assert!(!running.job_sent(&at("a.py", 43), false), "typing on there waits for the chunk");
        assert!(!running.job_sent(&at("b.py", 90), true), "background work never interrupts");
        assert!(!running.abort_cancelled());
        assert_eq!(running.waited_since(), None);

        let far = running.job_sent(&at("a.py", 90), false);
        let other_file = running.job_sent(&at("b.py", 40), false);
        assert!(far && other_file);
        assert!(running.abort_cancelled());
        let since = running.waited_since().expect("waiting");
        running.job_taken(far);
        assert_eq!(running.waited_since(), Some(since), "one still waits");
        running.job_taken(other_file);
        assert_eq!(running.waited_since(), None);
        assert!(!running.abort_cancelled());

        running.evaluating(None, false);
        assert!(running.abort_cancelled(), "throwaway work stops at once");
        assert!(running.job_sent(&at("a.py", 40), false), "nothing kept to wait for");
    }

    #[test]
    fn a_request_there_interrupts_background_work() {
        let running = Running::default();
        running.evaluating(Some(Place::of(&at("a.py", 40))), true);
        assert!(!running.job_sent(&at("a.py", 43), true), "a warm-up there waits");
        assert!(!running.abort_cancelled());
        // However often: chunks it loses are the price of the answers the user waits for.
        for _ in 0..3 {
            let typed = running.job_sent(&at("a.py", 43), false);
            assert!(typed && running.abort_cancelled(), "a request there interrupts");
            running.job_taken(typed);
            assert!(!running.abort_cancelled());
        }
        running.evaluating(Some(Place::of(&at("a.py", 40))), false);
        assert!(!running.job_sent(&at("a.py", 43), false), "a request's own prompt is not");
    }

    #[test]
    fn a_job_cancels_the_filling_unless_it_is_a_warm_up_there_and_a_stop_interrupts() {
        let running = Running::default();
        running.evaluating(Some(Place::of(&at("a.py", 40))), false);
        let filling = JobHandle::default();
        running.filling_started(&filling);
        running.job_sent(&at("a.py", 41), true);
        assert!(!filling.is_cancelled(), "a warm-up there waits for the filling");
        running.job_sent(&at("a.py", 90), true);
        assert!(filling.is_cancelled(), "a warm-up elsewhere");
        running.filling_ended(&filling);

        let filling = JobHandle::default();
        running.filling_started(&filling);
        running.job_sent(&at("a.py", 41), false);
        assert!(filling.is_cancelled(), "a request there");
        running.filling_ended(&filling);

        running.stop_sent();
        assert!(running.abort_cancelled());
    }
}
