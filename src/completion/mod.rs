//! The completion pipeline, shared by the LSP requests and `infill complete`:
//! document snapshot → cursor window → FIM input → engine thread (prompt, decode) → post-processing.

pub mod confidence;
pub mod cursor;
pub mod switches;
pub mod syntax;

use std::sync::Arc;

use ropey::Rope;
use tokio::sync::oneshot;

use crate::config::Settings;
use crate::context::{Gathered, RepoContext, lang};
use crate::documents::DocumentSnapshot;
use crate::engine::{Engine, EngineError, Generation, GenerationParams, JobHandle};
use crate::postprocess::{self, Filters, Surroundings};
use crate::prompt::FimInput;
use crate::secrets;
use crate::workspace::{self, Workspace};
use confidence::Confidence;
use cursor::CursorWindow;
use switches::Switches;

/// A suggestion ready for the editor, with the engine's figures.
#[derive(Debug, Clone)]
pub struct Suggestion {
    /// Text to insert at the cursor.
    pub text: String,
    pub generation: Generation,
    /// Time spent choosing repository context, and how many snippets were offered.
    pub context_ms: f64,
    pub context_snippets: usize,
    /// How sure the model was of the text it shows (`None`: nothing generated is shown).
    pub confidence: Option<Confidence>,
    /// The text breaks the syntax of the lines it writes (`syntax::breaks`).
    pub broken_syntax: bool,
    /// Why the model's text was withheld (`text` is empty), if it was.
    pub withheld: Option<Withheld>,
    /// The model's first answer as it would have been shown, when it broke the syntax and
    /// `text` is a second opinion (`secondOpinion`).
    pub first_opinion: Option<String>,
}

/// Why the gate (`minConfidence` > 0) withheld a suggestion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Withheld {
    /// The model was less sure of it than `minConfidence`.
    LowConfidence,
    /// It breaks the syntax of the lines it writes.
    BrokenSyntax,
}

impl Withheld {
    /// The gate's verdict: low confidence first, since it needs no parse to explain.
    pub fn verdict(
        confidence: Option<Confidence>,
        broken_syntax: bool,
        min_confidence: f32,
    ) -> Option<Withheld> {
        if confidence::withheld(confidence, min_confidence) {
            Some(Withheld::LowConfidence)
        } else if min_confidence > 0.0 && broken_syntax {
            Some(Withheld::BrokenSyntax)
        } else {
            None
        }
    }
}

/// Where a suggestion goes: what post-processing and the syntax check look at.
struct Shown<'a> {
    document: &'a DocumentSnapshot,
    cursor_char: usize,
    window: &'a CursorWindow,
    crlf: bool,
}

pub struct Pipeline {
    pub engine: Engine,
    pub settings: Settings,
    pub workspace: Workspace,
    /// The workspace index; `None` when `repoContext` was off at start.
    pub context: Option<Arc<RepoContext>>,
    /// `settings`' switches, compiled once (a settings change builds a new pipeline).
    switches: Switches,
}

impl Pipeline {
    pub fn new(
        engine: Engine,
        settings: Settings,
        workspace: Workspace,
        context: Option<Arc<RepoContext>>,
    ) -> Self {
        let switches = Switches::new(&settings);
        Self { engine, settings, workspace, context, switches }
    }

    /// Completes at `cursor_char`, a char index already validated against `document.rope`.
    /// `Ok(None)`: this document is never completed (a secrets file, or switched off).
    /// `background`: no request waits for this suggestion (a prefetch).
    ///
    /// `early`: where the whole lines of a multi-line suggestion go while the engine still
    /// writes the rest (`earlyLinesAfterMs`), when they pass the same gate as a whole answer.
    pub async fn complete(
        &self,
        document: &DocumentSnapshot,
        cursor_char: usize,
        job: JobHandle,
        background: bool,
        early: Option<oneshot::Sender<Suggestion>>,
    ) -> Result<Option<Suggestion>, EngineError> {
        let Some((window, input, context_ms)) = self.prepare(document, cursor_char).await else {
            tracing::debug!(uri = %document.uri, "document never completed");
            return Ok(None);
        };
        let context_snippets = input.context.len();
        let params = GenerationParams {
            background,
            ..GenerationParams::from_settings(&self.settings, window.single_line)
        };
        let crlf = uses_crlf(&document.rope, document.rope.char_to_line(cursor_char));
        let generating = self.engine.generate(input.clone(), params, job.clone());
        let mut generation = match early {
            Some(early) => {
                tokio::pin!(generating);
                // Lines published are shown even when the rest is there too by the time this
                // task runs: what a request gets does not depend on the scheduling.
                tokio::select! {
                    biased;
                    lines = job.early_lines() => {
                        let shown = Shown { document, cursor_char, window: &window, crlf };
                        let lines = self.early_suggestion(shown, &lines, context_ms, context_snippets);
                        if let Some(lines) = lines.await {
                            let _ = early.send(lines);
                        }
                        generating.await?
                    }
                    generation = &mut generating => generation?,
                }
            }
            None => generating.await?,
        };
        let mut text = finish(&generation.text, &window, crlf, &self.settings.filters);
        let mut broken_syntax = breaks_syntax(document, cursor_char, &text).await;
        let mut first_opinion = None;
        // A quick answer's prompt is gone from the cache: asking again would wait for the
        // whole prompt, which is what a quick answer avoids.
        let banned = generation
            .first_token
            .filter(|_| generation.healed.is_empty() && !generation.quick_answer);
        if let Some(banned) = banned.filter(|_| broken_syntax && self.settings.second_opinion) {
            // The first answer cannot be right; the model's next-best start often is. Same
            // prompt (cached), one token banned; kept only if it parses.
            job.restart_generated();
            let params = GenerationParams { banned_first_token: Some(banned), ..params };
            let second = self.engine.generate(input, params, job).await?;
            let second_text = finish(&second.text, &window, crlf, &self.settings.filters);
            if !second_text.trim().is_empty()
                && !breaks_syntax(document, cursor_char, &second_text).await
            {
                first_opinion = Some(std::mem::replace(&mut text, second_text));
                generation = second.replacing(&generation);
                broken_syntax = false;
            } else {
                generation = generation.counting(&second);
            }
        }
        let confidence = confidence::of_shown(&generation.text, &generation.token_logprobs, &text);
        // Nothing rather than a guess: an unsure or unparseable suggestion costs the user a read
        // and a reject.
        let withheld = Withheld::verdict(confidence, broken_syntax, self.settings.min_confidence);
        if withheld.is_some() {
            text.clear();
        }
        let suggestion = Suggestion {
            text,
            generation,
            context_ms,
            context_snippets,
            confidence,
            broken_syntax,
            withheld,
            first_opinion,
        };
        Ok(Some(suggestion))
    }

    /// The whole lines the engine published while it writes the rest, as a suggestion, if they
    /// are worth showing: post-processed and gated as a whole answer is (no second opinion:
    /// the engine is still busy with the first).
    async fn early_suggestion(
        &self,
        shown: Shown<'_>,
        lines: &Generation,
        context_ms: f64,
        context_snippets: usize,
    ) -> Option<Suggestion> {
        let Shown { document, cursor_char, window, crlf } = shown;
        let text = finish(&lines.text, window, crlf, &self.settings.filters);
        if text.trim().is_empty() {
            return None;
        }
        let broken_syntax = breaks_syntax(document, cursor_char, &text).await;
        let confidence = confidence::of_shown(&lines.text, &lines.token_logprobs, &text);
        if Withheld::verdict(confidence, broken_syntax, self.settings.min_confidence).is_some() {
            return None;
        }
        Some(Suggestion {
            text,
            generation: lines.clone(),
            context_ms,
            context_snippets,
            confidence,
            broken_syntax,
            withheld: None,
            first_opinion: None,
        })
    }

    /// Evaluates the prompt for a cursor at `cursor_char` without generating, so that a request
    /// there finds the engine's KV cache holding it. Secrets files are never evaluated.
    pub async fn warm_up(
        &self,
        document: &DocumentSnapshot,
        cursor_char: usize,
        job: JobHandle,
    ) -> Result<(), EngineError> {
        let Some((window, input, _)) = self.prepare(document, cursor_char).await else {
            return Ok(());
        };
        let params = GenerationParams {
            max_tokens: 0,
            background: true,
            ..GenerationParams::from_settings(&self.settings, window.single_line)
        };
        self.engine.generate(input, params, job).await.map(drop)
    }

    /// Whether `document` is a secrets file, by its name or by the file it really is (a link
    /// to `.env`, also one made while the document was open): never completed, not even from
    /// the suggestion cache.
    pub async fn never_completed(document: &DocumentSnapshot) -> bool {
        let Some(path) = workspace::uri_to_path(document.uri.as_ref()) else { return false };
        // Resolving links is file-system work: off the async workers. A failed task counts as a
        // secret (nothing is sent).
        let secret = tokio::task::spawn_blocking(move || secrets::leads_to_secret(&path));
        secret.await.unwrap_or(true)
    }

    /// Whether the settings switch completion off for `document` (`disabledLanguages`,
    /// `disabledFiles`).
    pub fn switched_off(&self, document: &DocumentSnapshot) -> bool {
        self.switches.switched_off(&self.workspace, document)
    }

    /// The cursor window, the engine's input for `cursor_char` (with the repository context found
    /// for it) and the milliseconds that finding took; `None` for a secrets file or a document
    /// completion is switched off for, whose text never reaches a prompt.
    async fn prepare(
        &self,
        document: &DocumentSnapshot,
        cursor_char: usize,
    ) -> Option<(CursorWindow, FimInput, f64)> {
        if self.switched_off(document) || Self::never_completed(document).await {
            return None;
        }
        let window = cursor::window(&document.rope, cursor_char, self.settings.multiline);
        let place = self.workspace.place_of(document.uri.as_ref());
        let gathered = match &self.context {
            Some(context)
                if self.settings.repo_context && self.settings.repo_context_tokens > 0 =>
            {
                // Bounded CPU work (`context::GATHER_BUDGET`), kept off the async workers.
                let (context, document) = (Arc::clone(context), document.clone());
                let keep_front =
                    self.settings.keep_prompt_front.then_some(self.settings.repo_context_tokens);
                tokio::task::spawn_blocking(move || {
                    context.gather(&document, cursor_char, keep_front)
                })
                .await
                .unwrap_or_default()
            }
            _ => Gathered::default(),
        };
        let input = FimInput {
            path: place.path,
            repo_name: place.repo_name,
            prefix: window.prefix.clone(),
            suffix: window.suffix.clone(),
            context: gathered.snippets,
            prefix_first_line: window.prefix_first_line,
            repo_header: self.settings.repo_header,
        };
        Some((window, input, gathered.ms))
    }
}

/// The engine's raw text made ready for the editor: the post-processing filters, then, above
/// code, the line break that keeps that code on its own line. `infill eval` uses it too, to
/// score each filter on and off from one generation.
pub fn finish(raw: &str, window: &CursorWindow, crlf: bool, filters: &Filters) -> String {
    let surroundings = Surroundings { prefix: &window.prefix, suffix: &window.suffix, crlf };
    let mut text = postprocess::apply(raw, &surroundings, filters);
    if window.before_code && !text.is_empty() {
        // Whole lines go in above the code that follows the cursor.
        text.push_str(if crlf { "\r\n" } else { "\n" });
    }
    text
}

/// Whether `text` at `cursor_char` breaks the syntax of `document` (`syntax::breaks`). Parsing
/// is CPU work of up to `lang::PARSE_TIME_LIMIT`: off the async workers.
async fn breaks_syntax(document: &DocumentSnapshot, cursor_char: usize, text: &str) -> bool {
    // No grammar, or too large to parse: not judged, and not copied out of the rope either.
    let language = lang::language_of_document(document.uri.as_ref(), &document.language_id);
    let unjudged =
        language == lang::Language::OTHER || document.rope.len_bytes() > lang::MAX_PARSE_BYTES;
    if text.trim().is_empty() || unjudged {
        return false;
    }
    let (rope, text) = (document.rope.clone(), text.to_string());
    let check = tokio::task::spawn_blocking(move || {
        let before = rope.slice(..cursor_char).to_string();
        let after = rope.slice(cursor_char..).to_string();
        syntax::breaks(language, &before, &text, &after)
    });
    check.await.unwrap_or(false)
}

/// Whether the document breaks lines with `\r\n`, judged at the cursor line or the one above.
pub fn uses_crlf(rope: &Rope, line: usize) -> bool {
    [line, line.saturating_sub(1)].into_iter().any(|l| {
        let text = rope.line(l);
        let n = text.len_chars();
        n >= 2 && text.char(n - 2) == '\r' && text.char(n - 1) == '\n'
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf_is_detected_at_or_above_the_cursor() {
        assert!(uses_crlf(&Rope::from_str("a\r\nb\r\n"), 0));
        assert!(uses_crlf(&Rope::from_str("a\r\nb"), 1));
        assert!(!uses_crlf(&Rope::from_str("a\nb\n"), 1));
        assert!(!uses_crlf(&Rope::from_str(""), 0));
    }
}
