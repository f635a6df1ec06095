//! Streamed pieces made into a suggestion with the local decode loop's rules
//! (`worker::Worker::generate`): stop-token ids, a family's token in the text (a server that
//! takes few stop strings does not stop at all of them), the end of the line for a single-line
//! suggestion, the time budget, whole lines at `maxTokens`; with token healing, only what
//! follows the text the model had to write again (`heal::Healing`).

use std::collections::HashSet;
use std::time::Instant;

use super::{DoneReason, Piece};
use crate::engine::heal::Healing;
use crate::engine::stats::EngineStats;
use crate::engine::worker::{cut_at_special_text, whole_lines, whole_lines_so_far};
use crate::engine::{Job, StopReason, TokenLogprob};
use crate::prompt::FimTemplate;

/// The streamed pieces made into a suggestion, with the local engine's stop rules.
pub(super) struct Decoding<'a> {
    job: &'a Job,
    template: &'static FimTemplate,
    stops: &'a HashSet<u32>,
    stats: &'a EngineStats,
    bytes: Vec<u8>,
    generated: usize,
    token_logprobs: Vec<TokenLogprob>,
    /// Where the last token with a probability ends, in the generation's bytes: counted from
    /// the tokens, as a server may hold text back (vLLM, while it might still be a stop
    /// string) and send the token's probability before its text.
    token_end: usize,
    /// Every token came with its probability (else the confidence gate has nothing to judge).
    all_logprobs: bool,
    stop: Option<StopReason>,
    started: Instant,
    /// The typed text taken back from the prompt, until the model has written it again.
    healing: Healing,
    /// When the whole lines written so far may be shown while the rest is written
    /// (`GenerationParams::early_lines_after`); `None` once they were, or never.
    early_due: Option<Instant>,
}

impl<'a> Decoding<'a> {
    pub(super) fn new(
        job: &'a Job,
        template: &'static FimTemplate,
        stops: &'a HashSet<u32>,
        stats: &'a EngineStats,
        healing: Healing,
        early_due: Option<Instant>,
    ) -> Self {
        Self {
            job,
            template,
            stops,
            stats,
            bytes: Vec::new(),
            generated: 0,
            token_logprobs: Vec::new(),
            token_end: 0,
            all_logprobs: true,
            stop: None,
            started: Instant::now(),
            healing,
            early_due,
        }
    }

    /// The whole lines written so far, once `early_due` has passed and there are some with more
    /// than white space (the local engine's rule, `Worker::generate`): (text, tokens written,
    /// per-token probabilities). Given once.
    pub(super) fn early_lines(&mut self) -> Option<(String, usize, Vec<TokenLogprob>)> {
        if Instant::now() < self.early_due? {
            return None;
        }
        let logprobs = if self.all_logprobs { &self.token_logprobs[..] } else { &[] };
        let (text, logprobs) = whole_lines_so_far(&self.bytes, logprobs)?;
        self.early_due = None;
        Some((cut_at_special_text(self.template, text), self.generated, logprobs))
    }

    /// Takes one piece; whether the suggestion is complete.
    pub(super) fn push(&mut self, piece: Piece) -> bool {
        let params = &self.job.params;
        if self.stop.is_some() {
            return true;
        }
        if params.max_tokens == 0 {
            // A warm-up: the prompt is evaluated once the first piece comes.
            self.stop = Some(StopReason::MaxTokens);
            return true;
        }
        if piece.ids.iter().any(|id| self.stops.contains(id)) {
            self.stop = Some(StopReason::StopToken);
            return true;
        }
        let tokens = piece
            .ids
            .len()
            .max(piece.logprobs.as_ref().map_or(0, Vec::len))
            .max(usize::from(!piece.text.is_empty()));
        self.generated += tokens;
        for _ in 0..tokens {
            self.stats.token_generated();
        }
        let written = piece.text.as_bytes();
        if !self.healing.agrees(written) {
            // The server ignored the grammar: what it wrote does not follow the typed text.
            tracing::debug!(piece = %piece.text, "the server did not write the typed text again");
            self.stop = Some(StopReason::StopToken);
            return true;
        }
        let new = self.healing.take(written);
        let mut typed_again = written.len() - new.len();
        self.job.handle.record_generated(new);
        let start = self.bytes.len();
        self.bytes.extend_from_slice(new);
        match piece.logprobs {
            Some(list) if !list.is_empty() => {
                for (len, logprob) in list {
                    // A token that only writes the typed text again says how expected the
                    // typing was, not the suggestion: left out of the confidence. (The server's
                    // probability is over the whole vocabulary, not over the tokens that agree
                    // with the typed text, as the local engine's is.)
                    if typed_again > 0 && len <= typed_again {
                        typed_again -= len;
                        continue;
                    }
                    let len = len - typed_again;
                    typed_again = 0;
                    self.token_end += len;
                    self.token_logprobs.push(TokenLogprob { end: self.token_end, logprob });
                }
            }
            _ if tokens > 0 => self.all_logprobs = false,
            _ => {}
        }
        if let Some(special) = first_special_text(self.template, &self.bytes, start) {
            self.bytes.truncate(special);
            self.stop = Some(StopReason::StopToken);
            return true;
        }
        if params.single_line
            && let Some(newline) = self.bytes.iter().position(|&b| b == b'\n')
        {
            self.bytes.truncate(newline);
            self.stop = Some(StopReason::EndOfLine);
            return true;
        }
        let over_budget = params.newline_after.is_some_and(|b| self.started.elapsed() > b);
        if over_budget && self.bytes[start..].contains(&b'\n') {
            let newline = self.bytes.iter().rposition(|&b| b == b'\n').unwrap_or(0);
            self.bytes.truncate(newline);
            self.stop = Some(StopReason::TimeBudget);
            return true;
        }
        false
    }

    /// (text, generated tokens, stop reason, per-token probabilities).
    pub(super) fn finish(
        mut self,
        done: Option<DoneReason>,
    ) -> (String, usize, StopReason, Vec<TokenLogprob>) {
        let stop = self.stop.unwrap_or(match done {
            Some(DoneReason::Length) => StopReason::MaxTokens,
            Some(DoneReason::EndOfLine) => StopReason::EndOfLine,
            _ if self.generated >= self.job.params.max_tokens => StopReason::MaxTokens,
            _ => StopReason::StopToken,
        });
        if stop == StopReason::MaxTokens && !self.job.params.single_line {
            whole_lines(&mut self.bytes);
        }
        let text = String::from_utf8_lossy(&self.bytes).into_owned();
        let text = cut_at_special_text(self.template, text);
        let logprobs = if self.all_logprobs { self.token_logprobs } else { Vec::new() };
        (text, self.generated, stop, logprobs)
    }
}

/// Where the first of the family's special texts starts in `bytes`, looking only where one could
/// end in the bytes from `new` on (what the last piece added).
fn first_special_text(template: &FimTemplate, bytes: &[u8], new: usize) -> Option<usize> {
    template
        .special_texts()
        .filter_map(|special| {
            let from = new.saturating_sub(special.len() - 1);
            let window = bytes.get(from..)?;
            window.windows(special.len()).position(|w| w == special.as_bytes()).map(|at| from + at)
        })
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_special_text_is_found_across_pieces_and_only_in_new_bytes() {
        let qwen = crate::prompt::template::by_name("qwen2.5-coder").unwrap();
        let text = b"return x<|file_sep|>other";
        // The token's text arrived split: its start in an earlier piece.
        assert_eq!(first_special_text(qwen, text, 12), Some(8));
        assert_eq!(first_special_text(qwen, b"return x<|file_", 8), None);
        // Bytes before the new piece that cannot reach into it are not searched again.
        assert_eq!(first_special_text(qwen, b"<|file_sep|>abcdefghijklmnopqrstuvwxyz", 30), None);
    }
}
