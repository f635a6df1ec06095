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
//!
//! The text protocols (OpenAI's `/v1/completions`, Ollama) are answered quickly the same way.
//! Their prompts go as text, so what the server holds is matched on the text's bytes and
//! converted to tokens by the prompt's count (`ServerPrompts::needed`). vLLM's prefix cache
//! and llama-server's keep many prompts; Ollama's runner keeps only what its slot holds.

use std::collections::VecDeque;
use std::time::Duration;

use super::super::GenerationParams;
use super::super::kv::common_prefix;
use super::super::quick::{self, LastShort, PromptSpeed};
use super::super::running::Place;

/// Prompts the server is taken to keep (its host cache holds far more: 8 GiB by default).
const KEPT_PROMPTS: usize = 8;

/// The smallest piece of a prompt sent on its own (`Remote::evaluate_in_pieces`): each piece
/// costs a request and one written token, a few hundredths of a second on a CPU.
const PIECE_TOKENS: usize = 256;

/// The prompts last sent to the server, newest first: the first is what its one slot holds.
/// A prompt is its units: token ids, or for a text protocol its text's bytes (`text_units`).
#[derive(Debug)]
pub(super) struct ServerPrompts {
    sent: VecDeque<Vec<u32>>,
    /// How many the server is taken to keep.
    keeps: usize,
}

impl Default for ServerPrompts {
    fn default() -> Self {
        Self::keeping(KEPT_PROMPTS)
    }
}

impl ServerPrompts {
    /// A server taken to keep the last `keeps` prompts (at least the one its slot holds).
    pub(super) fn keeping(keeps: usize) -> Self {
        Self { sent: VecDeque::new(), keeps: keeps.max(1) }
    }

    /// `units` go to the server now.
    pub(super) fn sent(&mut self, units: &[u32]) {
        self.sent.retain(|kept| kept.as_slice() != units);
        self.sent.push_front(units.to_vec());
        self.sent.truncate(self.keeps);
    }

    /// The slot's prompt goes on with `id` (a second opinion's first token, written by it).
    pub(super) fn extend_last(&mut self, id: u32) {
        if let Some(last) = self.sent.front_mut() {
            last.push(id);
        }
    }

    /// How much of `units` the server may hold, in its slot or its host cache.
    pub(super) fn kept(&self, units: &[u32]) -> usize {
        self.sent.iter().map(|kept| common_prefix(kept, units)).max().unwrap_or(0)
    }

    /// The tokens the server would evaluate of a prompt of `tokens` tokens sent as `units`:
    /// those it does not hold, or for text the same share of the tokens as of the bytes.
    pub(super) fn needed(&self, units: &[u32], tokens: usize) -> usize {
        tokens_of(units.len() - self.kept(units), (units, tokens))
    }
}

/// The tokens of `part` units of a prompt of `tokens` tokens sent as `units`: as many, for ids;
/// for text, the same share of the tokens as of the bytes.
pub(super) fn tokens_of(part: usize, (units, tokens): (&[u32], usize)) -> usize {
    if units.len() == tokens || part == 0 {
        return part;
    }
    (part * tokens).div_ceil(units.len())
}

/// A text prompt's units for `ServerPrompts`: its bytes.
pub(super) fn text_units(text: &str) -> Vec<u32> {
    text.bytes().map(u32::from).collect()
}

/// The text whose units (`text_units`) these are.
pub(super) fn units_text(units: &[u32]) -> String {
    let bytes: Vec<u8> = units.iter().map(|&unit| unit as u8).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The whole prompt of a job answered quickly, to send once its answer has gone out.
pub(super) struct Fill {
    /// As sent: token ids, or a text protocol's bytes (`text_units`).
    pub units: Vec<u32>,
    /// Its tokens.
    pub tokens: usize,
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
    /// The last fresh short prompt (`engine::quick::LastShort`).
    pub last_short: LastShort,
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

    /// Whether a job with `params` might be answered from a short prompt instead of `whole`
    /// (its units, of `tokens` tokens): `wanted` says, or the server's speed is not known yet.
    pub(super) fn may_want(
        &self,
        params: &GenerationParams,
        (whole, tokens): (&[u32], usize),
        server: &ServerPrompts,
    ) -> bool {
        quick::after(params).is_some()
            && (!self.speed.is_known() || self.wanted(params, (whole, tokens), server).is_some())
    }

    /// The tokens of `whole` (its units, of `tokens` tokens) the server would evaluate, when a
    /// job with `params` should rather be answered from a short prompt; `None`: answer from the
    /// whole prompt.
    pub(super) fn wanted(
        &self,
        params: &GenerationParams,
        (whole, tokens): (&[u32], usize),
        server: &ServerPrompts,
    ) -> Option<usize> {
        let after = quick::after(params)?;
        let needed = server.needed(whole, tokens);
        let wait = self.speed.wait(needed)?;
        let answered_here = quick::answered_here(self.last_whole.as_deref(), whole);
        quick::worth_it(wait, after, answered_here).then_some(needed)
    }

    /// The job whose whole prompt is `fill.units` is answered from a short prompt.
    pub(super) fn answered(&mut self, fill: Fill) {
        self.last_whole = Some(fill.units.clone());
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
    fn a_text_prompt_is_matched_on_its_bytes_and_counted_in_its_tokens() {
        let whole = "<fim_prefix>def fib(n):\n    return <fim_suffix>\n<fim_middle>";
        let units = text_units(whole);
        assert_eq!(units_text(&units), whole);
        let mut server = ServerPrompts::keeping(1);
        assert_eq!(server.needed(&units, 20), 20, "nothing held");
        server.sent(&text_units(&whole[..whole.len() / 2]));
        assert_eq!(server.needed(&units, 20), 10, "half the bytes, half the tokens");
        server.sent(&units);
        assert_eq!(server.needed(&units, 20), 0);
        server.sent(&text_units("<fim_prefix>import os"));
        assert_eq!(server.needed(&units, 20), 16, "one slot: only the front shared with the last");
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
        assert_eq!(
            quick.wanted(&params, (&whole, whole.len()), &server),
            None,
            "speed not yet known"
        );
        quick.timed(1000, 10_000.0);
        assert_eq!(quick.wanted(&params, (&whole, whole.len()), &server), Some(2000), "20 s > 3 s");
        server.sent(&whole[..1800]);
        assert_eq!(quick.wanted(&params, (&whole, whole.len()), &server), None, "2 s left");

        server.sent(&[9; 10]);
        quick.answered(Fill {
            units: whole[..1000].to_vec(),
            tokens: 1000,
            place: Place::of(&crate::prompt::FimInput::default()),
        });
        assert!(quick.fill.is_some());
        let typed_on: Vec<u32> = whole[..1000].iter().copied().chain([5; 100]).collect();
        let nothing_kept = ServerPrompts::default();
        assert_eq!(
            quick.wanted(&params, (&typed_on, 1100), &nothing_kept),
            Some(1100),
            "11 s > 2 × 3 s"
        );
        let mut filled = ServerPrompts::default();
        filled.sent(&whole[..600]);
        assert_eq!(quick.wanted(&params, (&typed_on, 1100), &filled), None, "once, with 5 s left");
    }
}
