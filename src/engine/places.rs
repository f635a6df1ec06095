//! Saved places: the KV cache of code the cursor left, kept in memory so that coming back costs
//! a copy instead of an evaluation. A jump to another function changes the prompt from the
//! context or the prefix window on, so the cache (one sequence) keeps little of it; without
//! this, going back re-evaluates ~2,000 tokens (seconds on a CPU) that were known a minute ago.
//!
//! Plain bookkeeping over token slices and an opaque state, so it is tested without a model;
//! `worker.rs` copies the states out of and into llama.cpp (`state_seq_get`/`state_seq_set`).

use super::kv::{PROMPT_CHUNK, common_prefix};

/// Restoring must win at least this many tokens over what the cache keeps anyway: a restore
/// costs a copy of the whole place (milliseconds), a chunk of evaluation costs far more.
pub(super) const MIN_RESTORE_GAIN: usize = PROMPT_CHUNK;

/// At most this many places are kept, whatever the memory allows.
const MAX_PLACES: usize = 8;

/// One saved place: the tokens its KV state holds (positions `0..len`), how many of them were
/// prompt, where its prompt's cursor was (the end of the prefix text), and the state itself.
pub(super) struct Place<T, S> {
    pub(super) tokens: Vec<T>,
    pub(super) prompt_len: usize,
    pub(super) cursor: usize,
    pub(super) state: S,
    bytes: usize,
    last_used: u64,
}

/// What to do with the cache before a prompt is loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Visit {
    /// The prompt continues where the cache is (typing on): nothing to save or restore.
    Stay,
    /// The prompt leaves the cached place: save it, then evaluate as usual.
    Save,
    /// The prompt returns to saved place `index`: save the current one first when `save_current`.
    Restore { index: usize, save_current: bool },
}

/// The places saved so far, bounded by count and bytes; least recently used go first.
pub(super) struct Places<T, S> {
    saved: Vec<Place<T, S>>,
    clock: u64,
}

impl<T, S> Default for Places<T, S> {
    fn default() -> Self {
        Self { saved: Vec::new(), clock: 0 }
    }
}

/// Whether a prompt sharing `kept` tokens with `cached` tokens of a prompt whose cursor was at
/// `cursor` is at another place: it drops more than a chunk of the cached text before that
/// cursor. Typing at the cursor drops only what follows it (the suffix and the last
/// suggestion), evaluated anew on every keystroke anyway; and a prompt whose evaluation was
/// cancelled half-way holds less than its cursor, all of it kept by the next keystroke's.
fn elsewhere(kept: usize, cached: usize, cursor: usize) -> bool {
    kept + PROMPT_CHUNK < cursor.min(cached)
}

impl<T: Copy + PartialEq, S> Places<T, S> {
    /// How `prompt` relates to the cached `current` tokens (cursor at `cursor`) and the saved
    /// places.
    pub(super) fn visit(&self, current: &[T], cursor: usize, prompt: &[T]) -> Visit {
        let kept = common_prefix(current, prompt);
        let leaving = elsewhere(kept, current.len(), cursor);
        let best = self
            .saved
            .iter()
            .enumerate()
            .map(|(index, place)| (index, common_prefix(&place.tokens, prompt)))
            .max_by_key(|&(index, kept)| (kept, self.saved[index].last_used));
        match best {
            Some((index, restored)) if restored >= kept + MIN_RESTORE_GAIN => {
                Visit::Restore { index, save_current: leaving }
            }
            _ if leaving => Visit::Save,
            _ => Visit::Stay,
        }
    }

    /// Takes saved place `index` out (it becomes the cache; saved again when left).
    pub(super) fn take(&mut self, index: usize) -> Place<T, S> {
        self.saved.swap_remove(index)
    }

    /// Saves a place of `bytes` bytes (`tokens`, the first `prompt_len` of them prompt, cursor
    /// at `cursor`), dropping the places it supersedes (the same place with another tail) and
    /// then the least recently used until `limit` bytes and `MAX_PLACES` hold. A place larger
    /// than `limit` alone is not saved.
    pub(super) fn save(
        &mut self,
        tokens: Vec<T>,
        prompt_len: usize,
        cursor: usize,
        state: S,
        bytes: usize,
        limit: usize,
    ) {
        if bytes > limit || tokens.is_empty() {
            return;
        }
        self.saved.retain(|old| {
            elsewhere(common_prefix(&old.tokens, &tokens), old.tokens.len(), old.cursor)
        });
        self.clock += 1;
        let last_used = self.clock;
        self.saved.push(Place { tokens, prompt_len, cursor, state, bytes, last_used });
        while self.saved.len() > MAX_PLACES || self.bytes() > limit {
            let Some(oldest) = (0..self.saved.len()).min_by_key(|&i| self.saved[i].last_used)
            else {
                break;
            };
            self.saved.swap_remove(oldest);
        }
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.saved.len()
    }

    pub(super) fn bytes(&self) -> usize {
        self.saved.iter().map(|p| p.bytes).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Prompt length and cursor (the suffix after it) of the test prompts.
    const LEN: usize = 800;
    const CURSOR: usize = 600;

    /// A prompt: a shared front of `front` tokens, then text of place `place`.
    fn prompt(front: usize, place: u32) -> Vec<u32> {
        (0..LEN).map(|i| if i < front { i as u32 } else { 10_000 * place + i as u32 }).collect()
    }

    fn places_with(saved: &[Vec<u32>], limit: usize) -> Places<u32, ()> {
        let mut places = Places::default();
        for tokens in saved {
            places.save(tokens.clone(), tokens.len(), CURSOR, (), tokens.len(), limit);
        }
        places
    }

    /// `tokens` with a keystroke at the cursor: the prefix's last token and all after it change.
    fn typed(tokens: &[u32]) -> Vec<u32> {
        let mut typed = tokens[..CURSOR - 1].to_vec();
        typed.extend([7; 300]);
        typed
    }

    #[test]
    fn typing_on_at_one_place_neither_saves_nor_restores() {
        let current = prompt(50, 1);
        let places = places_with(&[prompt(50, 2)], 100_000);
        assert_eq!(places.visit(&current, CURSOR, &typed(&current)), Visit::Stay);
    }

    #[test]
    fn a_prompt_evaluated_half_way_is_not_a_place_left() {
        // The last job was cancelled 300 tokens into its prompt; the next keystroke's prompt
        // keeps all 300.
        let current = prompt(50, 1)[..300].to_vec();
        let places = places_with(&[], 100_000);
        assert_eq!(places.visit(&current, CURSOR, &typed(&prompt(50, 1))), Visit::Stay);
        // Had it got past the cursor, a jump elsewhere leaves it.
        assert_eq!(places.visit(&prompt(50, 1), CURSOR, &prompt(50, 2)), Visit::Save);
    }

    #[test]
    fn leaving_a_place_saves_it_and_coming_back_restores_it() {
        let (a, b) = (prompt(50, 1), prompt(50, 2));
        let empty = places_with(&[], 100_000);
        assert_eq!(empty.visit(&a, CURSOR, &b), Visit::Save);
        let places = places_with(std::slice::from_ref(&a), 100_000);
        // Back at A, typing there.
        let expected = Visit::Restore { index: 0, save_current: true };
        assert_eq!(places.visit(&b, CURSOR, &typed(&a)), expected);
    }

    #[test]
    fn a_restore_must_gain_a_chunk_over_the_cache() {
        // A and B share all but 100 tokens before the cursor: evaluating them beats a restore.
        let (a, b) = (prompt(CURSOR - 100, 1), prompt(CURSOR - 100, 2));
        let places = places_with(std::slice::from_ref(&a), 100_000);
        assert_eq!(places.visit(&b, CURSOR, &typed(&a)), Visit::Stay);
        let (a, b) = (prompt(100, 1), prompt(100, 2));
        let places = places_with(std::slice::from_ref(&a), 100_000);
        assert!(matches!(places.visit(&b, CURSOR, &typed(&a)), Visit::Restore { .. }));
    }

    #[test]
    fn the_best_place_is_the_one_sharing_most() {
        let (a, b, c) = (prompt(10, 1), prompt(10, 2), prompt(10, 3));
        let places = places_with(&[a, b.clone()], 100_000);
        let Visit::Restore { index, .. } = places.visit(&c, CURSOR, &b) else { panic!() };
        assert_eq!(places.saved[index].tokens, b);
    }

    #[test]
    fn saving_the_same_place_again_replaces_it() {
        let a = prompt(10, 1);
        let places = places_with(&[a.clone(), typed(&a)], 100_000);
        assert_eq!(places.len(), 1);
        assert_eq!(places.saved[0].tokens, typed(&a));
    }

    #[test]
    fn memory_and_count_bounds_drop_the_least_recently_used() {
        let all: Vec<Vec<u32>> = (1..=4).map(|p| prompt(10, p)).collect();
        let places = places_with(&all, 2 * LEN + 100);
        assert_eq!(places.len(), 2, "two places fit");
        assert!(places.bytes() <= 2 * LEN + 100);
        let kept: Vec<&Vec<u32>> = places.saved.iter().map(|p| &p.tokens).collect();
        assert!(kept.contains(&&all[2]) && kept.contains(&&all[3]));
        let many: Vec<Vec<u32>> = (1..=20).map(|p| prompt(10, p)).collect();
        assert_eq!(places_with(&many, usize::MAX).len(), MAX_PLACES);
        // A place larger than the limit alone is not kept.
        assert_eq!(places_with(&[prompt(10, 1)], 100).len(), 0);
    }

    #[test]
    fn a_restored_place_leaves_the_store() {
        let mut places = places_with(&[prompt(10, 1), prompt(10, 2)], 100_000);
        let taken = places.take(0);
        assert_eq!(taken.tokens, prompt(10, 1));
        assert_eq!(taken.cursor, CURSOR);
        assert_eq!(places.len(), 1);
    }
}
