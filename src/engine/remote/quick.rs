//! Quick answers through llama-server (`engine::quick` says what they are). A short prompt sent
//! to the server does not cost the whole prompt's cache there: llama-server keeps the prompts a
//! slot held before in its host-memory prompt cache (`--cache-ram`, on by default) and restores
//! the one that shares the most with a later prompt. So the engine asks for the short prompt's
//! answer, answers the editor, then sends the whole prompt with one token to write (the
//! filling), which the next job cancels by closing its stream.
//!
//! What the server holds is known only from what was sent: `ServerPrompts` keeps the last few
//! prompts, the slot's and those its host cache may still hold. A server without that cache
//! (older, or `--cache-ram 0`) then looks better cached than it is at a place visited before,
//! and answers there as without quick answers.

use std::collections::VecDeque;
use std::time::Duration;

use super::super::GenerationParams;
use super::super::kv::common_prefix;
use super::super::quick::{self, PromptSpeed, ShortStart};
use super::super::running::Place;

/// Prompts the server is taken to keep (its host cache holds far more: 8 GiB by default).
const KEPT_PROMPTS: usize = 8;

/// The smallest piece of a prompt sent on its own (`Remote::evaluate_in_pieces`): each piece
/// costs a request and one written token, a few hundredths of a second on a CPU.
const PIECE_TOKENS: usize = 256;

/// The prompts last sent to the server, newest first: the first is what its one slot holds.
#[derive(Debug, Default)]
pub(super) struct ServerPrompts(VecDeque<Vec<u32>>);

impl ServerPrompts {
    /// `ids` goes to the server now.
    pub(super) fn sent(&mut self, ids: &[u32]) {
        self.0.retain(|kept| kept.as_slice() != ids);
        self.0.push_front(ids.to_vec());
        self.0.truncate(KEPT_PROMPTS);
    }

    /// The slot's prompt goes on with `id` (a second opinion's first token, written by it).
    pub(super) fn extend_last(&mut self, id: u32) {
        if let Some(last) = self.0.front_mut() {
            last.push(id);
        }
    }

    /// How much of `ids` the server may hold, in its slot or its host cache.
    pub(super) fn kept(&self, ids: &[u32]) -> usize {
        self.0.iter().map(|kept| common_prefix(kept, ids)).max().unwrap_or(0)
    }
}

/// The whole prompt of a job answered quickly, to send once its answer has gone out.
pub(super) struct Fill {
    pub ids: Vec<u32>,
    pub place: Place,
}

/// What the remote engine's quick answers decide with.
#[derive(Default)]
pub(super) struct Quick {
    /// The server's prompt speed, from its own timings.
    speed: PromptSpeed,
    /// The whole prompt of the last job answered quickly: where no quick answer is given again.
    last_whole: Option<Vec<u32>>,
    /// The filling to send after the answer now being given.
    pub fill: Option<Fill>,
    /// Where the last short prompt started (`engine::quick::ShortStart`).
    pub short_start: ShortStart,
}

impl Quick {
    /// The server evaluated `tokens` prompt tokens in `ms` milliseconds.
    pub(super) fn timed(&mut self, tokens: usize, ms: f64) {
        if ms.is_finite() && ms > 0.0 {
            self.speed.note(tokens, Duration::from_secs_f64(ms / 1000.0));
        }
    }

    /// The tokens of a prompt piece (`Remote::evaluate_in_pieces`): what the server evaluates in
    /// about a second, at least `PIECE_TOKENS`; a fast server (a GPU) gets whole prompts.
    pub(super) fn piece_tokens(&self) -> usize {
        let per_second = self.speed.tokens_in(Duration::from_secs(1)).unwrap_or(0);
        per_second.max(PIECE_TOKENS)
    }

    /// Whether a job with `params` might be answered from a short prompt instead of `whole`:
    /// `wanted` says, or the server's speed is not known yet.
    pub(super) fn may_want(
        &self,
        params: &GenerationParams,
        whole: &[u32],
        server: &ServerPrompts,
    ) -> bool {
        quick::after(params).is_some()
            && (!self.speed.is_known() || self.wanted(params, whole, server).is_some())
    }

    /// The tokens of `whole` the server would evaluate, when a job with `params` should rather
    /// be answered from a short prompt; `None`: answer from the whole prompt.
    pub(super) fn wanted(
        &self,
        params: &GenerationParams,
        whole: &[u32],
        server: &ServerPrompts,
    ) -> Option<usize> {
        let after = quick::after(params)?;
        let needed = whole.len() - server.kept(whole);
        let wait = self.speed.wait(needed)?;
        let answered_here = quick::answered_here(self.last_whole.as_deref(), whole);
        quick::worth_it(wait, after, answered_here).then_some(needed)
    }

    /// The job whose whole prompt is `fill.ids` is answered from a short prompt.
    pub(super) fn answered(&mut self, fill: Fill) {
        self.last_whole = Some(fill.ids.clone());
        self.fill = Some(fill);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    #[test]
    fn the_server_is_taken_to_keep_the_last_prompts_sent() {
        let mut server = ServerPrompts::default();
        let whole: Vec<u32> = (0..100).collect();
        let short: Vec<u32> = (500..530).collect();
        server.sent(&whole);
        server.sent(&short);
        assert_eq!(server.kept(&whole), 100, "its host cache keeps the whole one");
        server.extend_last(7);
        assert_eq!(server.kept(&[500, 501, 7]), 2, "(the second opinion's token follows 529)");
        let mut opened = short.clone();
        opened.push(7);
        assert_eq!(server.kept(&opened), 31);
        for i in 0..KEPT_PROMPTS as u32 {
            server.sent(&[1000 + i]);
        }
        assert_eq!(server.kept(&whole), 0, "forgotten after {KEPT_PROMPTS} others");
    }

    #[test]
    fn a_new_place_is_answered_quickly_when_the_server_would_take_long() {
        let settings = Settings::default();
        let params = GenerationParams {
            quick_answer_after: Some(Duration::from_secs(3)),
            ..GenerationParams::from_settings(&settings, false)
        };
        let mut server = ServerPrompts::default();
        let mut quick = Quick::default();
        let whole: Vec<u32> = (0..2000).collect();
        assert_eq!(quick.wanted(&params, &whole, &server), None, "speed not yet known");
        quick.timed(1000, 10_000.0);
        assert_eq!(quick.wanted(&params, &whole, &server), Some(2000), "20 s > 3 s");
        server.sent(&whole[..1800]);
        assert_eq!(quick.wanted(&params, &whole, &server), None, "2 s left");

        server.sent(&[9; 10]);
        quick.answered(Fill {
            ids: whole[..1000].to_vec(),
            place: Place::of(&crate::prompt::FimInput::default()),
        });
        assert!(quick.fill.is_some());
        let typed_on: Vec<u32> = whole[..1000].iter().copied().chain([5; 100]).collect();
        let nothing_kept = ServerPrompts::default();
        assert_eq!(quick.wanted(&params, &typed_on, &nothing_kept), Some(1100), "11 s > 2 × 3 s");
        let mut filled = ServerPrompts::default();
        filled.sent(&whole[..600]);
        assert_eq!(quick.wanted(&params, &typed_on, &filled), None, "once, with 5 s left");
    }
}
