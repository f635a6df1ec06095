//! Quick answers, the same for the in-process and the remote engines. A place's whole prompt
//! (other files, 1,536 tokens before the cursor, 512 after) can take 10–20 s to evaluate on a
//! CPU, which no cache holds at a new place. When it would take longer than
//! `quickAnswerAfterMs` at the prompt speed last measured, the engine answers from a short prompt
//! (the cursor's surroundings only, about llama.vim's size) and then evaluates the whole prompt
//! as background work that the next job cancels. Each engine keeps the whole prompt's cache
//! across the short one its own way (the in-process engine copies sequence 0 out and back,
//! llama-server keeps earlier prompts in its host-memory prompt cache).

use std::time::Duration;

use super::GenerationParams;
use crate::prompt::{
    self, Budgets, FimInput, FimTemplate, Order, Prompt, StickyStart, TokenCounter, typed_middle,
};

/// A quick answer's short prompt: the cursor's surroundings only, no other files.
pub(super) const BUDGETS: Budgets =
    Budgets { prefix_tokens: 256, suffix_tokens: 64, repo_context_tokens: 0 };

/// The short prompt's budgets with the whole prompt's other files, for where the cache holds
/// them already.
pub(super) fn budgets_with_context(whole: Budgets) -> Budgets {
    Budgets { repo_context_tokens: whole.repo_context_tokens, ..BUDGETS }
}

/// Whether the short prompt goes after the other files: where that costs no more evaluation
/// than the short prompt alone (the cache holds them: a place of a file whose front, repository
/// context included, was evaluated before). In-process only (`remote::quick_prompt` says why).
/// On 60 check tasks: line-rest EM 0.333 against 0.267 without them, cross-file ES 0.605
/// against 0.566 (session 25).
pub(super) fn with_context(to_evaluate: usize, short_alone: usize) -> bool {
    to_evaluate <= short_alone
}

/// A place answered quickly once is answered quickly again only when its whole prompt would
/// take longer than this many times `quick_answer_after`, through a remote server, where a
/// short prompt again at a place evaluates its suffix again. At 5 times (15 s by default) the
/// lines trace waited 10–15 s idle and up to 22 s under load for whole prompts the filling had
/// had a second for; at 2 times, at most 6–9 s, with the same right suggestions idle and 2 of
/// 26 fewer under load (session 25); at 1 time a quarter of what was shown within the pause.
///
/// The in-process engine answers quickly again as at a new place (`worth_it` with
/// `answered_here` false): there a quick answer again at a place evaluates only the text typed
/// since the last one (its state is kept, `Worker::short_cache`, and the typed text opens its
/// middle, `LastShort`), 2–4 tokens and about 0.1 s against the short prompt's last 60 tokens
/// and 0.5–1.3 s before (session 28); answering quickly again past 1 time the setting then cut
/// the bodies trace's p95 from 6.2 s to 4.5 s with the same 26 of 43 right.
const AGAIN_AFTER: u32 = 2;

/// Timed prompts shorter than this say little of the prompt speed (fixed costs dominate).
const SPEED_SAMPLE_MIN: usize = 32;

/// The `quick_answer_after` of a job that may be answered quickly: a request someone waits for
/// (not background work), for text, and not a second opinion (which must come from the prompt
/// its first answer came from).
pub(super) fn after(params: &GenerationParams) -> Option<Duration> {
    let applies = !params.background && params.max_tokens > 0;
    params.quick_answer_after.filter(|_| applies && params.banned_first_token.is_none())
}

/// The `quick_answer_after` of a warm-up (background work that evaluates a prompt without
/// generating): where a request there would be answered quickly, the warm-up first gets that
/// short prompt ready (`Worker::quick_answer`), so that the request evaluates only what changed
/// since instead of the whole short prompt (~200 tokens, over a second on a 2-core CPU).
pub(super) fn warm_up_after(params: &GenerationParams) -> Option<Duration> {
    let warm_up = params.background && params.max_tokens == 0;
    params.quick_answer_after.filter(|_| warm_up)
}

/// Whether to answer quickly where evaluating the whole prompt would take `wait`, at a place
/// answered quickly already or not. Once per place: there the whole prompt goes on from what was
/// filled in, since answering quickly on every keystroke would keep the filling from ever
/// finishing, and short prompts answer worse (on the bench a quarter of the right suggestions
/// were lost). Unless the wait would be past `AGAIN_AFTER` times the setting (the user came
/// back before the filling got far, or a busy machine): nothing for so long is worse.
pub(super) fn worth_it(wait: Duration, after: Duration, answered_here: bool) -> bool {
    // Saturating: the setting may be any number of milliseconds.
    let again = after.checked_mul(AGAIN_AFTER).unwrap_or(Duration::MAX);
    let limit = if answered_here { again } else { after };
    wait > limit
}

/// Whether `whole` is mostly `last_whole`, the whole prompt of the last job answered quickly:
/// the user typing on at that place.
pub(super) fn answered_here<T: PartialEq>(last_whole: Option<&[T]>, whole: &[T]) -> bool {
    last_whole.is_some_and(|last| 4 * super::kv::common_prefix(last, whole) >= 3 * whole.len())
}

/// Whether a short prompt of `short` tokens is worth answering from instead of evaluating the
/// `needed` tokens of the whole one: it must be under half that work.
pub(super) fn short_enough(short: usize, needed: usize) -> bool {
    short > 0 && short * 2 <= needed
}

/// The short prompt: the job's input without other files, cut to `BUDGETS`, its prefix from
/// `sticky` where that start still serves (`LastShort`).
pub(super) fn short_prompt(
    template: &FimTemplate,
    order: Order,
    input: &FimInput,
    sticky: Option<StickyStart>,
    counter: &mut impl TokenCounter,
) -> Prompt {
    let input = FimInput { context: Vec::new(), ..input.clone() };
    prompt::build(template, order, &input, BUDGETS, sticky, counter)
}

/// The last fresh short prompt, and its document. The next short prompt of that document
/// starts where it did while the start serves, as whole prompts do (`LastPrompts`): a quick
/// answer again at a place then shares all of the last one's prefix up to the old cursor, which
/// the engine's cache holds, where a prefix cut afresh would start a few tokens later on every
/// keystroke and share nothing. Where the user only typed at its cursor since, the next short
/// prompt is this one with the typed text opening its middle (`prompt::typed_middle`), so that
/// its suffix is not evaluated again either: the short prompt's 64 suffix tokens were most of
/// what a quick answer again at a place evaluated.
#[derive(Debug, Default)]
pub(super) struct LastShort(Option<(String, Prompt)>);

impl LastShort {
    /// The start for the next short prompt of `path`: its prefix may grow by half its budget.
    pub(super) fn sticky(&self, path: &str) -> Option<StickyStart> {
        let (last_path, prompt) = self.0.as_ref()?;
        let max_tokens = BUDGETS.prefix_tokens * 3 / 2;
        (last_path == path).then_some(StickyStart { line: prompt.prefix_first_line, max_tokens })
    }

    /// `fresh`, a short prompt of `path` built from `sticky`, as the last one with the text typed
    /// at its cursor opening the middle, where that is all that changed; the engine must heal
    /// its last token (`LastPrompts::build_prompt` says why).
    pub(super) fn continuing(&self, path: &str, fresh: &Prompt, order: Order) -> Option<Prompt> {
        let (last_path, last) = self.0.as_ref()?;
        (last_path == path).then(|| typed_middle::continue_typing(last, fresh, order)).flatten()
    }

    /// `prompt`, a short prompt of `path`, was answered from; a continued one
    /// (`continuing`) leaves the fresh one it continues in place.
    pub(super) fn remember(&mut self, path: &str, prompt: &Prompt) {
        if prompt.typed_middle_chars == 0 {
            self.0 = Some((path.to_string(), prompt.clone()));
        }
    }
}

/// The short prompt's answer is one line: it stands in until the whole prompt is ready, and a
/// short prompt's later lines are worth less than the seconds they take to write on a CPU.
pub(super) fn short_params(params: &GenerationParams) -> GenerationParams {
    GenerationParams { single_line: true, ..*params }
}

/// Prompt tokens evaluated per second, a moving average over timed prompts (chunks
/// in-process, the first one timed before the first job; the server's own timings remotely);
/// recent ones weigh most, so the estimate follows a machine that becomes busy.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct PromptSpeed(Option<f64>);

impl PromptSpeed {
    pub(super) fn note(&mut self, tokens: usize, took: Duration) {
        if tokens < SPEED_SAMPLE_MIN || took.is_zero() {
            return;
        }
        let speed = tokens as f64 / took.as_secs_f64();
        self.0 = Some(match self.0 {
            Some(last) => 0.5 * last + 0.5 * speed,
            None => speed,
        });
    }

    pub(super) fn is_known(&self) -> bool {
        self.0.is_some()
    }

    /// How many tokens are evaluated in `time`; `None` until a prompt was timed.
    pub(super) fn tokens_in(&self, time: Duration) -> Option<usize> {
        Some((self.0? * time.as_secs_f64()) as usize)
    }

    /// How long evaluating `tokens` would take; `None` until a prompt was timed.
    pub(super) fn wait(&self, tokens: usize) -> Option<Duration> {
        let speed = self.0?;
        Some(Duration::try_from_secs_f64(tokens as f64 / speed).unwrap_or(Duration::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_place_is_answered_quickly_once_unless_the_wait_would_be_far_too_long() {
        let secs = Duration::from_secs;
        let after = secs(3);
        assert!(!worth_it(secs(2), after, false), "the whole prompt is soon ready");
        assert!(worth_it(secs(4), after, false), "a new place, or again in-process");
        assert!(!worth_it(secs(4), after, true), "once per place");
        assert!(!worth_it(secs(6), after, true));
        assert!(worth_it(secs(7), after, true), "past twice the setting");
        assert!(!worth_it(secs(16), Duration::MAX, true), "no overflow");
    }

    #[test]
    fn a_short_prompt_starts_where_the_last_one_of_its_document_did() {
        let mut start = LastShort::default();
        assert_eq!(start.sticky("a.py"), None);
        let prompt = Prompt {
            pieces: Vec::new(),
            prefix_chars: 0,
            suffix_chars: 0,
            context_paths: Vec::new(),
            prefix_piece: None,
            prefix_first_line: 40,
            typed_middle_chars: 0,
        };
        start.remember("a.py", &prompt);
        let sticky = start.sticky("a.py").expect("remembered");
        assert_eq!(sticky.line, 40);
        assert_eq!(sticky.max_tokens, BUDGETS.prefix_tokens * 3 / 2, "grows by half its budget");
        assert_eq!(start.sticky("b.py"), None, "another document starts afresh");
    }

    #[test]
    fn typing_on_continues_the_last_fresh_short_prompt_of_its_document() {
        let template = prompt::template::by_name("qwen2.5-coder").expect("row");
        let mut counter = prompt::budget::tests::WordCounter { calls: 0 };
        let psm = Order::PrefixSuffixMiddle;
        let at = |prefix: &str| FimInput {
            path: "a.py".into(),
            repo_name: None,
            prefix: prefix.into(),
            suffix: "\nprint(x)\n".into(),
            context: Vec::new(),
            prefix_first_line: 0,
            repo_header: Default::default(),
        };
        let mut last = LastShort::default();
        let fresh = short_prompt(template, psm, &at("x = "), None, &mut counter);
        assert_eq!(last.continuing("a.py", &fresh, psm), None, "nothing remembered");
        last.remember("a.py", &fresh);

        let sticky = last.sticky("a.py");
        let typed_on = short_prompt(template, psm, &at("x = 1 +"), sticky, &mut counter);
        let typed = last.continuing("a.py", &typed_on, psm).expect("continues");
        assert_eq!(typed.render(), format!("{}1 +", fresh.render()));
        assert_eq!(typed.typed_middle_chars, 3);
        assert_eq!(last.continuing("b.py", &typed_on, psm), None, "another document");
        last.remember("a.py", &typed);
        let again = last.continuing("a.py", &typed_on, psm);
        assert_eq!(again, Some(typed), "a continued prompt leaves the fresh one in place");
    }

    #[test]
    fn the_user_typing_on_is_at_the_place_answered_quickly() {
        let whole: Vec<u32> = (0..100).collect();
        let typed_on: Vec<u32> = (0..80).chain(500..520).collect();
        let elsewhere: Vec<u32> = (0..50).chain(500..550).collect();
        assert!(answered_here(Some(&whole[..]), &typed_on));
        assert!(!answered_here(Some(&whole[..]), &elsewhere));
        assert!(!answered_here(None, &whole));
    }

    #[test]
    fn the_prompt_speed_follows_recent_prompts_and_ignores_tiny_ones() {
        let mut speed = PromptSpeed::default();
        assert_eq!(speed.wait(100), None);
        speed.note(10, Duration::from_millis(1));
        assert!(!speed.is_known(), "too short to say");
        speed.note(200, Duration::from_secs(2));
        assert_eq!(speed.wait(300), Some(Duration::from_secs(3)));
        speed.note(300, Duration::from_secs(1));
        assert_eq!(speed.wait(200), Some(Duration::from_secs(1)), "(100 + 300) / 2 tokens/s");
    }

    #[test]
    fn only_requests_are_answered_quickly_and_only_warm_ups_prepare_for_it() {
        let settings = crate::config::Settings::default();
        let params = GenerationParams {
            quick_answer_after: Some(Duration::from_secs(3)),
            ..GenerationParams::from_settings(&settings, false)
        };
        assert_eq!(after(&params), Some(Duration::from_secs(3)));
        assert_eq!(after(&GenerationParams { background: true, ..params }), None);
        assert_eq!(after(&GenerationParams { max_tokens: 0, ..params }), None);
        assert_eq!(after(&GenerationParams { banned_first_token: Some(7), ..params }), None);
        let warm_up = GenerationParams { background: true, max_tokens: 0, ..params };
        assert_eq!(warm_up_after(&warm_up), Some(Duration::from_secs(3)));
        assert_eq!(warm_up_after(&GenerationParams { background: false, ..warm_up }), None);
        assert_eq!(warm_up_after(&GenerationParams { max_tokens: 5, ..warm_up }), None);
        assert!(short_params(&params).single_line);
        assert!(short_enough(200, 400) && !short_enough(201, 400) && !short_enough(0, 400));
    }
}
