//! Each document's last fresh prompt, which the next prompt for that document builds on:
//! - its prefix starts where the last one did (`prompt::StickyStart`), so the KV cache keeps the
//!   prompt's front up to the old cursor when the cursor jumps within the file or the user types
//!   on for many lines, where the plain cut would move the start and make everything after it
//!   new;
//! - while the user only types at its cursor, the prompt is the last one with the typed text
//!   opening the middle (`prompt::typed_middle`), so the suffix is not evaluated again.

use std::collections::HashMap;

use super::Job;
use crate::prompt::typed_middle;
use crate::prompt::{self, Budgets, FimTemplate, Order, Prompt, StickyStart, TokenCounter};

/// Context-window tokens no budget covers: special tokens, the file's path, the repository
/// name and the other files' paths.
const UNBUDGETED_TOKENS: usize = 256;

/// Documents remembered at most; past that the memory starts over (a prompt is only a hint).
const MAX_DOCUMENTS: usize = 256;

#[derive(Debug, Default)]
pub(super) struct LastPrompts {
    fresh: HashMap<String, Prompt>,
}

impl LastPrompts {
    /// `job`'s prompt (`prompt::build`) for a context window of `n_ctx` tokens: with
    /// `sticky_prefix`, its prefix starts where the document's last one did while that start
    /// serves; with `typed_middle`, where the engine `heals` (see below), text typed at the last
    /// one's cursor continues it. A fresh prompt is remembered for the next one.
    ///
    /// A typed middle needs token healing: FIM training cuts the prefix at any character, but
    /// a middle is tokenized whole, so one that ends in a lone space or half a word is new to
    /// the model (after a typed `impl ` it wrote ` DecodeConfig`, a second space). An engine
    /// that cannot take the last token back and constrain the first generated ones (a remote
    /// server other than llama-server and vLLM) gets fresh prompts only.
    pub(super) fn build_prompt(
        &mut self,
        template: &FimTemplate,
        order: Order,
        job: &Job,
        n_ctx: usize,
        heals: bool,
        counter: &mut impl TokenCounter,
    ) -> Prompt {
        let (params, path) = (&job.params, &job.input.path);
        let sticky = params
            .sticky_prefix
            .then(|| self.sticky(path, params.budgets, params.max_tokens, n_ctx))
            .flatten();
        let prompt = prompt::build(template, order, &job.input, params.budgets, sticky, counter);
        if params.typed_middle
            && heals
            && let Some(last) = self.fresh.get(path)
            && let Some(typed) = typed_middle::continue_typing(last, &prompt, order)
        {
            return typed;
        }
        self.remember(path, &prompt);
        prompt
    }

    /// The start to keep for a prompt of `path`, if one is remembered: its prefix may grow past
    /// its budget by half the budget, as far as a context window of `n_ctx` tokens has room
    /// beside the other budgets and `max_tokens` of answer.
    fn sticky(
        &self,
        path: &str,
        budgets: Budgets,
        max_tokens: usize,
        n_ctx: usize,
    ) -> Option<StickyStart> {
        let line = self.fresh.get(path)?.prefix_first_line;
        // What a prompt at the plain budgets and its answer may take of the window.
        let planned = budgets.prefix_tokens
            + budgets.suffix_tokens
            + budgets.repo_context_tokens
            + max_tokens
            + UNBUDGETED_TOKENS;
        let room = n_ctx.saturating_sub(planned).min(budgets.prefix_tokens / 2);
        Some(StickyStart { line, max_tokens: budgets.prefix_tokens + room })
    }

    fn remember(&mut self, path: &str, prompt: &Prompt) {
        if self.fresh.len() >= MAX_DOCUMENTS && !self.fresh.contains_key(path) {
            self.fresh.clear();
        }
        self.fresh.insert(path.to_string(), prompt.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn starting_at(line: usize) -> Prompt {
        Prompt {
            pieces: Vec::new(),
            prefix_chars: 0,
            suffix_chars: 0,
            context_paths: Vec::new(),
            prefix_piece: None,
            prefix_first_line: line,
            typed_middle_chars: 0,
        }
    }

    #[test]
    fn the_prefix_may_grow_by_half_its_budget_where_the_window_has_room() {
        let mut starts = LastPrompts::default();
        let budgets = Budgets::default(); // 1536 prefix, 512 suffix, 1024 context
        assert_eq!(starts.sticky("a.py", budgets, 64, 4096), None);
        starts.remember("a.py", &starting_at(96));
        // 4096 - (512 + 1024 + 64 + 256 + 1536) = 704 tokens of room, under half the budget.
        let sticky = starts.sticky("a.py", budgets, 64, 4096);
        assert_eq!(sticky, Some(StickyStart { line: 96, max_tokens: 1536 + 704 }));
        // A large window: half the budget at most.
        let large = starts.sticky("a.py", budgets, 64, 16384).expect("remembered");
        assert_eq!(large.max_tokens, 1536 + 768);
        // A window with no room: the budget itself.
        assert_eq!(starts.sticky("a.py", budgets, 64, 2048).expect("remembered").max_tokens, 1536);
        starts.remember("a.py", &starting_at(112));
        assert_eq!(starts.sticky("a.py", budgets, 64, 4096).expect("remembered").line, 112);
        assert_eq!(starts.sticky("b.py", budgets, 64, 4096), None);
    }
}
