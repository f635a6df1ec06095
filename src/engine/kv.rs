//! KV-cache bookkeeping, apart from llama.cpp: which tokens sequence 0 holds, what a new prompt
//! can reuse of them (a common prefix, or a shifted tail), and how a prompt is cut into `decode`
//! chunks. Everything here is plain arithmetic over token slices, so it is tested without a
//! model; `worker.rs` carries the decisions out on the `LlamaContext`.

use std::ops::Range;

/// Prompt tokens evaluated per `decode` call: small enough that a chunk a cancelled job
/// finishes for the next prompt (`running`) does not hold the engine long, large enough to keep
/// llama.cpp's matrix kernels efficient (on a 2-core CPU, llama-server evaluated a 2,226-token
/// prompt 11 % faster in batches of 256 than of 128, and no faster in batches of 512).
pub(super) const PROMPT_CHUNK: usize = 256;

/// Prompt tokens per `decode` call for background work (the filling after a quick answer,
/// warm-ups): a request typed at its place waits for the chunk running when it comes
/// (`running`), on a 2-core CPU for up to a whole chunk's second and a half at 256.
pub(super) const BACKGROUND_CHUNK: usize = 128;

/// Shifting a chunk shorter than this is not worth the approximation.
pub(super) const MIN_SHIFTED_TOKENS: usize = 16;

/// The token sequence sequence 0 of the KV cache holds, at positions `0..len`, and how much of
/// it was the last job's prompt (the rest it generated). The worker changes it only together
/// with the cache itself, so the two never disagree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct KvTokens<T> {
    tokens: Vec<T>,
    prompt_len: usize,
}

impl<T> Default for KvTokens<T> {
    fn default() -> Self {
        Self { tokens: Vec::new(), prompt_len: 0 }
    }
}

impl<T: Copy + PartialEq> KvTokens<T> {
    /// How many tokens the cache holds, which is also the position the next one goes to.
    pub(super) fn len(&self) -> usize {
        self.tokens.len()
    }

    /// The tokens the cache holds, and how many of them were the last job's prompt.
    pub(super) fn tokens(&self) -> &[T] {
        &self.tokens
    }

    pub(super) fn prompt_len(&self) -> usize {
        self.prompt_len
    }

    /// What a restored saved place holds (see `places`).
    pub(super) fn restored(tokens: Vec<T>, prompt_len: usize) -> Self {
        Self { prompt_len: prompt_len.min(tokens.len()), tokens }
    }

    /// What to reuse for `prompt`; see [`plan`].
    pub(super) fn plan(&self, prompt: &[T], kv_shift: bool) -> ReusePlan {
        plan(&self.tokens, self.prompt_len, prompt, kv_shift)
    }

    /// The cache kept its first `len` tokens only.
    pub(super) fn truncate(&mut self, len: usize) {
        self.tokens.truncate(len);
        self.prompt_len = self.prompt_len.min(len);
    }

    /// `tokens` were decoded at positions from `start`, right after the cached ones. Called per
    /// decoded chunk, so a cancelled evaluation keeps what it finished.
    pub(super) fn append(&mut self, start: usize, tokens: &[T]) {
        debug_assert_eq!(self.tokens.len(), start, "the cache holds consecutive positions");
        self.tokens.extend_from_slice(tokens);
    }

    /// A generated token was decoded at the next position.
    pub(super) fn push(&mut self, token: T) {
        self.tokens.push(token);
    }

    /// All that is cached now is prompt: the whole of it, or as much as was evaluated before a
    /// cancel or an error. Generated tokens pushed after this are not prompt.
    pub(super) fn prompt_loaded(&mut self) {
        self.prompt_len = self.tokens.len();
    }

    /// The cache was cleared (or may hold anything after a failed decode, and is cleared).
    pub(super) fn forget(&mut self) {
        self.tokens.clear();
        self.prompt_len = 0;
    }
}

/// How to bring the KV cache from what it holds to a new prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ReusePlan {
    /// Keep the first `keep` cached tokens and evaluate the prompt from there. `keep` is below
    /// the prompt's length: its last token is always evaluated, for its logits.
    Prefix { keep: usize },
    /// Keep a common prefix and move a shared tail to its new position; see [`Shift`].
    Shift(Shift),
}

/// Reuse beyond the common prefix, as llama.cpp's cache reuse does: the end of the old prompt
/// (e.g. the suffix, after an edit at the cursor) reappears in the new one at another position,
/// so its cells are shifted there instead of being evaluated again. Positions below are KV
/// positions, which are also indices into the old and the new prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Shift {
    /// Tokens both prompts start with, kept in place.
    pub(super) common: usize,
    /// Where the shared tail sits in the old prompt.
    pub(super) old_start: usize,
    /// Where it goes in the new prompt.
    pub(super) new_start: usize,
    /// Its length, at least [`MIN_SHIFTED_TOKENS`].
    pub(super) tail: usize,
}

impl Shift {
    /// How far the tail moves (negative when text was deleted in front of it).
    pub(super) fn delta(&self) -> i32 {
        self.new_start as i32 - self.old_start as i32
    }

    /// The tail's positions before the shift.
    pub(super) fn moved_from(&self) -> Range<usize> {
        self.old_start..self.old_start + self.tail
    }

    /// The edited stretch between the common prefix and the shifted tail, evaluated anew.
    pub(super) fn gap(&self) -> Range<usize> {
        self.common..self.new_start
    }

    /// Where evaluation in sequence 0 resumes after the tail: the prompt's last token.
    pub(super) fn rest_from(&self) -> usize {
        self.new_start + self.tail
    }

    /// Tokens of the new prompt that are not evaluated again.
    pub(super) fn reused(&self) -> usize {
        self.common + self.tail
    }
}

/// Tokens `a` and `b` start with.
pub(super) fn common_prefix<T: PartialEq>(a: &[T], b: &[T]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// What of `cached` (sequence 0, of which the first `prompt_len` tokens were the last job's
/// prompt) `prompt` can reuse. `prompt` is not empty.
///
/// With `kv_shift`, a shared tail of at least [`MIN_SHIFTED_TOKENS`] is shifted. Otherwise the
/// longest common prefix is kept, counting generated tokens too (an accepted suggestion
/// continues the prompt), but never the prompt's last token: it is evaluated for its logits.
pub(super) fn plan<T: PartialEq>(
    cached: &[T],
    prompt_len: usize,
    prompt: &[T],
    kv_shift: bool,
) -> ReusePlan {
    if kv_shift && let Some(shift) = find_shift(&cached[..prompt_len.min(cached.len())], prompt) {
        return ReusePlan::Shift(shift);
    }
    let keep = common_prefix(cached, prompt).min(prompt.len().saturating_sub(1));
    ReusePlan::Prefix { keep }
}

/// The shift from the old prompt `old` to `new`, if their shared tail is long enough. Only the
/// old *prompt* is looked at: tokens generated after it are not where the new prompt's end is.
fn find_shift<T: PartialEq>(old: &[T], new: &[T]) -> Option<Shift> {
    let (n, m) = (new.len(), old.len());
    let common = common_prefix(old, new).min(n.saturating_sub(1));
    // The longest shared tail before each prompt's last token (that one is evaluated anyway,
    // for its logits), not reaching into `common` in either prompt.
    let tail = old[..m.saturating_sub(1)]
        .iter()
        .rev()
        .zip(new[..n.saturating_sub(1)].iter().rev())
        .take_while(|(a, b)| a == b)
        .count()
        .min(n.saturating_sub(1).saturating_sub(common))
        .min(m.saturating_sub(1).saturating_sub(common));
    if tail < MIN_SHIFTED_TOKENS {
        return None;
    }
    Some(Shift { common, old_start: m - 1 - tail, new_start: n - 1 - tail, tail })
}

/// One `decode` call's worth of prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Chunk<'a, T> {
    /// The KV position of its first token.
    pub(super) start: usize,
    pub(super) tokens: &'a [T],
    /// The evaluation's last chunk, whose last token gets logits.
    pub(super) last: bool,
}

impl<T: Copy> Chunk<'_, T> {
    /// Per token: the token, its position and whether to compute its logits, as
    /// `LlamaBatch::add` takes them. Only the evaluation's very last token needs logits (the
    /// first token is sampled from them); asking for more costs time and memory.
    pub(super) fn entries(&self) -> impl Iterator<Item = (T, i32, bool)> + '_ {
        let len = self.tokens.len();
        self.tokens
            .iter()
            .enumerate()
            .map(move |(i, &token)| (token, (self.start + i) as i32, self.last && i + 1 == len))
    }
}

/// `tokens`, to be evaluated at positions from `start`, cut into chunks of `size` (at most
/// [`PROMPT_CHUNK`]), so that cancellation can be checked between them.
pub(super) fn chunks<T>(
    tokens: &[T],
    start: usize,
    size: usize,
) -> impl Iterator<Item = Chunk<'_, T>> {
    let size = size.clamp(1, PROMPT_CHUNK);
    tokens.chunks(size).enumerate().map(move |(index, chunk)| {
        let first = index * size;
        Chunk { start: start + first, tokens: chunk, last: first + chunk.len() >= tokens.len() }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Distinct tokens `from..from + len`.
    fn run(from: i32, len: usize) -> Vec<i32> {
        (from..from + len as i32).collect()
    }

    fn cat(parts: &[&[i32]]) -> Vec<i32> {
        parts.concat()
    }

    // A FIM prompt in miniature: `PREFIX` (10 tokens), the text at the cursor, the suffix, and
    // a last token (`<fim_middle>`), which is the same in every prompt.
    const LAST: i32 = 0;

    fn fim(cursor: &[i32], suffix: &[i32]) -> Vec<i32> {
        cat(&[&run(1, 10), cursor, suffix, &[LAST]])
    }

    #[test]
    fn the_common_prefix_is_kept_up_to_where_the_prompts_diverge() {
        let cached = vec![1, 2, 3, 4, 5, 6];
        let prompt = vec![1, 2, 3, 9, 9];
        for kv_shift in [false, true] {
            assert_eq!(plan(&cached, 6, &prompt, kv_shift), ReusePlan::Prefix { keep: 3 });
        }
        assert_eq!(common_prefix(&cached, &prompt), 3);
    }

    #[test]
    fn an_identical_prompt_still_re_evaluates_its_last_token() {
        let prompt = run(1, 40);
        for kv_shift in [false, true] {
            assert_eq!(plan(&prompt, 40, &prompt, kv_shift), ReusePlan::Prefix { keep: 39 });
        }
        // A prompt the cache holds a longer version of: the same.
        assert_eq!(plan(&prompt, 40, &prompt[..5], false), ReusePlan::Prefix { keep: 4 });
        // A single-token prompt keeps nothing.
        assert_eq!(plan(&prompt, 40, &prompt[..1], true), ReusePlan::Prefix { keep: 0 });
    }

    #[test]
    fn an_empty_cache_keeps_nothing() {
        let prompt = run(1, 30);
        for kv_shift in [false, true] {
            assert_eq!(plan(&[], 0, &prompt, kv_shift), ReusePlan::Prefix { keep: 0 });
        }
    }

    #[test]
    fn generated_tokens_count_for_the_common_prefix() {
        // The last prompt, then two generated tokens; the new prompt typed them (accepted).
        let cached = vec![1, 2, 3, 4, 5];
        let prompt = vec![1, 2, 3, 4, 5, 6, 7];
        assert_eq!(plan(&cached, 3, &prompt, false), ReusePlan::Prefix { keep: 5 });
    }

    #[test]
    fn an_edit_at_the_cursor_shifts_the_suffix_and_evaluates_the_typed_gap() {
        let suffix = run(100, 20);
        let old = fim(&[50], &suffix); // 32 tokens
        let new = fim(&[60, 61, 62], &suffix); // 34 tokens
        let ReusePlan::Shift(shift) = plan(&old, old.len(), &new, true) else {
            panic!("expected a shift");
        };
        assert_eq!(shift, Shift { common: 10, old_start: 11, new_start: 13, tail: 20 });
        assert_eq!(shift.delta(), 2);
        assert_eq!(shift.moved_from(), 11..31);
        assert_eq!(old[shift.moved_from()], suffix[..]);
        assert_eq!(new[shift.new_start..shift.rest_from()], suffix[..]);
        assert_eq!(shift.gap(), 10..13);
        assert_eq!(new[shift.gap()], [60, 61, 62]);
        // Only the last token is evaluated after the tail; everything else is reused or gap.
        assert_eq!(shift.rest_from(), new.len() - 1);
        assert_eq!(shift.reused(), 30);
        assert_eq!(shift.reused() + shift.gap().len() + 1, new.len());
    }

    #[test]
    fn a_deletion_shifts_the_suffix_back_with_no_gap() {
        let suffix = run(100, 20);
        let old = fim(&[50, 51, 52], &suffix);
        let new = fim(&[], &suffix);
        let ReusePlan::Shift(shift) = plan(&old, old.len(), &new, true) else {
            panic!("expected a shift");
        };
        assert_eq!(shift, Shift { common: 10, old_start: 13, new_start: 10, tail: 20 });
        assert_eq!(shift.delta(), -3);
        assert!(shift.gap().is_empty());
    }

    #[test]
    fn a_tail_shorter_than_the_minimum_is_not_shifted() {
        let short = run(100, MIN_SHIFTED_TOKENS - 1);
        let old = fim(&[50], &short);
        let new = fim(&[60, 61], &short);
        assert_eq!(plan(&old, old.len(), &new, true), ReusePlan::Prefix { keep: 10 });

        // One more token and it is.
        let enough = run(100, MIN_SHIFTED_TOKENS);
        let old = fim(&[50], &enough);
        let new = fim(&[60, 61], &enough);
        let plan = plan(&old, old.len(), &new, true);
        assert!(
            matches!(plan, ReusePlan::Shift(Shift { tail: MIN_SHIFTED_TOKENS, .. })),
            "{plan:?}"
        );
    }

    #[test]
    fn without_kv_shift_only_the_common_prefix_is_kept() {
        let suffix = run(100, 40);
        let old = fim(&[50], &suffix);
        let new = fim(&[60, 61, 62], &suffix);
        assert_eq!(plan(&old, old.len(), &new, false), ReusePlan::Prefix { keep: 10 });
    }

    #[test]
    fn the_tail_does_not_reach_into_the_common_prefix() {
        // Deleting [2, 3] after [1, 2, 3]: read from the end, the prompts share the suffix and
        // then [1, 2, 3] again, but those are the common prefix, kept in place.
        let suffix = run(100, 20);
        let old = cat(&[&[1, 2, 3], &[2, 3], &suffix, &[LAST]]);
        let new = cat(&[&[1, 2, 3], &suffix, &[LAST]]);
        let ReusePlan::Shift(shift) = plan(&old, old.len(), &new, true) else {
            panic!("expected a shift");
        };
        assert_eq!(shift, Shift { common: 3, old_start: 5, new_start: 3, tail: 20 });
        assert!(shift.gap().is_empty());

        // A prompt that only grew inside a run of equal tokens has nothing to shift: the whole
        // shared tail lies in the common prefix.
        let old = cat(&[&[7; 40], &[LAST]]);
        let new = cat(&[&[7; 60], &[LAST]]);
        assert_eq!(plan(&old, old.len(), &new, true), ReusePlan::Prefix { keep: 40 });
    }

    #[test]
    fn only_the_prompt_part_of_the_cache_is_looked_at_for_a_shared_tail() {
        let suffix = run(100, 20);
        let old = fim(&[50], &suffix);
        let generated = [70, 71, 72, 73];
        let cached = cat(&[&old, &generated]);
        let new = fim(&[50, 51], &suffix);
        // The generated tokens after the old prompt do not hide its suffix.
        let ReusePlan::Shift(shift) = plan(&cached, old.len(), &new, true) else {
            panic!("expected a shift");
        };
        assert_eq!(shift, Shift { common: 11, old_start: 11, new_start: 12, tail: 20 });
        // Counted as prompt, they would: the cache would end with them, not the suffix.
        assert_eq!(plan(&cached, cached.len(), &new, true), ReusePlan::Prefix { keep: 11 });
    }

    #[test]
    fn prompts_are_cut_into_chunks_with_consecutive_positions() {
        const C: usize = PROMPT_CHUNK;
        let len = 2 * C + 44;
        let tokens = run(1000, len);
        let chunks: Vec<_> = chunks(&tokens, 5, C).collect();
        let shape: Vec<_> = chunks.iter().map(|c| (c.start, c.tokens.len(), c.last)).collect();
        assert_eq!(shape, [(5, C, false), (5 + C, C, false), (5 + 2 * C, 44, true)]);

        let entries: Vec<_> = chunks.iter().flat_map(|c| c.entries()).collect();
        let positions: Vec<i32> = entries.iter().map(|&(_, pos, _)| pos).collect();
        assert_eq!(positions, (5..5 + len as i32).collect::<Vec<_>>());
        let sent: Vec<i32> = entries.iter().map(|&(token, _, _)| token).collect();
        assert_eq!(sent, tokens);
        // Logits for the very last token only, not for the last of each chunk.
        let with_logits: Vec<_> = entries.iter().filter(|e| e.2).collect();
        let last = (1000 + len as i32 - 1, 5 + len as i32 - 1, true);
        assert_eq!(with_logits, [&last]);

        // Background work in smaller chunks; a size past what a batch holds is cut to it.
        let small: Vec<_> = super::chunks(&tokens[..300], 5, BACKGROUND_CHUNK)
            .map(|c| (c.start, c.tokens.len()))
            .collect();
        let b = BACKGROUND_CHUNK;
        assert_eq!(small, [(5, b), (5 + b, b), (5 + 2 * b, 300 - 2 * b)]);
        assert_eq!(super::chunks(&tokens, 0, 4 * C).next().map(|c| c.tokens.len()), Some(C));
    }

    #[test]
    fn chunk_boundaries_fall_at_multiples_of_the_chunk() {
        const C: usize = PROMPT_CHUNK;
        const P: i32 = PROMPT_CHUNK as i32;
        let shape = |len: usize| -> Vec<(usize, usize, bool)> {
            let tokens = run(0, len);
            chunks(&tokens, 0, PROMPT_CHUNK).map(|c| (c.start, c.tokens.len(), c.last)).collect()
        };
        assert_eq!(shape(0), []);
        assert_eq!(shape(1), [(0, 1, true)]);
        assert_eq!(shape(C), [(0, C, true)]);
        assert_eq!(shape(C + 1), [(0, C, false), (C, 1, true)]);
        assert_eq!(shape(2 * C), [(0, C, false), (C, C, true)]);

        // The lone token of a last chunk gets the logits.
        let tokens = run(0, C + 1);
        let last = chunks(&tokens, 0, PROMPT_CHUNK).last().unwrap();
        assert_eq!(last.entries().collect::<Vec<_>>(), [(P, P, true)]);
    }

    #[test]
    fn the_cache_follows_evaluated_chunks_and_generated_tokens() {
        const C: usize = PROMPT_CHUNK;
        let prompt = run(1, 2 * C + 44);
        let mut kv = KvTokens::default();
        // A job cancelled after two chunks keeps them, all of it prompt.
        for chunk in chunks(&prompt, 0, PROMPT_CHUNK).take(2) {
            kv.append(chunk.start, chunk.tokens);
        }
        kv.prompt_loaded();
        assert_eq!(kv.tokens, &prompt[..2 * C]);
        // Asked again, the next job keeps both chunks.
        assert_eq!(kv.plan(&prompt, true), ReusePlan::Prefix { keep: 2 * C });

        // It finishes the prompt and generates two tokens, which are not prompt.
        kv.append(2 * C, &prompt[2 * C..]);
        kv.prompt_loaded();
        kv.push(-1);
        kv.push(-2);
        assert_eq!(kv.len(), prompt.len() + 2);
        // The same prompt, edited at the start: its tail is found in the prompt part.
        let edited = cat(&[&[-5], &prompt[1..]]);
        let plan = kv.plan(&edited, true);
        assert_eq!(
            plan,
            ReusePlan::Shift(Shift {
                common: 0,
                old_start: 1,
                new_start: 1,
                tail: prompt.len() - 2
            })
        );

        // Cut back to a common prefix of 10, then a new prompt is evaluated after it.
        kv.truncate(10);
        assert_eq!(kv.tokens, &prompt[..10]);
        kv.append(10, &[-7, -8]);
        kv.prompt_loaded();
        assert_eq!(kv.tokens, cat(&[&prompt[..10], &[-7, -8]]));
        assert_eq!(kv.plan(&prompt, true), ReusePlan::Prefix { keep: 10 });
        kv.forget();
        assert_eq!(kv, KvTokens::default());
    }
}
