//! The baseline side of a replay: llama-server's `/infill`, asked the way llama.vim asks it.
//!
//! What llama.vim does on every cursor move in insert mode, and what is reproduced here:
//! - at most one request in flight; a keystroke while one is running does not cancel it but
//!   re-arms a 100 ms timer that tries again once it has finished;
//! - the context is 256 lines before the cursor line (`input_prefix`), the cursor line up to the
//!   cursor (`prompt`), and the rest of the line plus 64 lines (`input_suffix`);
//!   `cache_prompt: true`, `t_max_predict_ms: 500`; no request if more than 8 chars follow the
//!   cursor on its line;
//! - answers are cached by exact context, and a cached answer also serves up to 10 chars typed
//!   since on the same line if they match its start (what makes typing along a suggestion free);
//! - an answer is shown only if the cursor has not moved since its request.
//!
//! Not reproduced: the ring buffer of extra context chunks (one file at a time here), and the
//! cache's random eviction (oldest first here). Sampling is greedy, as for infill.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::{Duration, Instant};

use ropey::Rope;

use super::driver::{Client, Keystroke, Position, Shown};
use super::latency_report::{Figures, shows_something};
use super::process;
use super::trace::FileTrace;
use crate::lab::llama_server::{BaselineAnswer, InfillRequest, LlamaServer, LlamaVimContext};

const MAX_LINE_SUFFIX: usize = 8;
const T_MAX_PREDICT_MS: u64 = 500;
const RETRY: Duration = Duration::from_millis(100);
const LOOKBACK_CHARS: usize = 10;
const MAX_CACHE_KEYS: usize = 250;

fn cache_key(prefix: &str, prompt: &str, suffix: &str) -> String {
    // Separators that cannot be confused with text, like llama.vim's 'Î'.
    format!("{prefix}\u{1}{prompt}\u{1}{suffix}")
}

/// llama.vim's completion cache: exact context, else an answer from up to 10 chars back on the
/// same line whose start matches what was typed since.
#[derive(Default)]
struct AnswerCache {
    answers: HashMap<String, String>,
    order: VecDeque<String>,
}

impl AnswerCache {
    fn insert(&mut self, key: String, content: String) {
        if self.answers.insert(key.clone(), content).is_none() {
            self.order.push_back(key);
            if self.order.len() > MAX_CACHE_KEYS
                && let Some(oldest) = self.order.pop_front()
            {
                self.answers.remove(&oldest);
            }
        }
    }

    fn lookup(&mut self, context: &LlamaVimContext) -> Option<String> {
        let key = cache_key(&context.prefix, &context.prompt, &context.suffix);
        if let Some(content) = self.answers.get(&key) {
            return Some(content.clone());
        }
        let typed: Vec<char> = context.prompt.chars().collect();
        for back in 1..=LOOKBACK_CHARS.min(typed.len()) {
            let earlier: String = typed[..typed.len() - back].iter().collect();
            let since: String = typed[typed.len() - back..].iter().collect();
            let Some(content) =
                self.answers.get(&cache_key(&context.prefix, &earlier, &context.suffix))
            else {
                continue;
            };
            if content.is_empty() || !content.starts_with(&since) {
                break;
            }
            let rest = content[since.len()..].to_string();
            self.insert(key, rest.clone());
            return Some(rest);
        }
        None
    }
}

struct InFlight {
    position: Position,
    key: String,
}

type Answer = (anyhow::Result<BaselineAnswer>, Instant);

pub struct LlamaVimClient {
    server: Arc<LlamaServer>,
    pid: Option<u32>,
    n_predict: usize,
    answers_tx: Sender<Answer>,
    answers: Receiver<Answer>,
    in_flight: Option<InFlight>,
    retry_at: Option<Instant>,
    cache: AnswerCache,
    doc: Rope,
    cursor: usize,
    position: Position,
    shown: Option<Shown>,
    figures: Figures,
}

impl LlamaVimClient {
    /// `pid`: the llama-server process, for its peak RSS.
    pub fn new(server: LlamaServer, pid: Option<u32>, n_predict: usize) -> Self {
        let (answers_tx, answers) = channel();
        let figures =
            Figures { name: "llama-server".into(), cache_hits: Some(0), ..Figures::default() };
        Self {
            server: Arc::new(server),
            pid,
            n_predict,
            answers_tx,
            answers,
            in_flight: None,
            retry_at: None,
            cache: AnswerCache::default(),
            doc: Rope::new(),
            cursor: 0,
            position: Position { line: 0, character: 0 },
            shown: None,
            figures,
        }
    }

    pub fn finish(mut self) -> Figures {
        self.figures.model_calls = self.figures.requests as u64;
        self.figures.peak_rss_kib = self.pid.and_then(process::peak_rss_kib);
        self.figures
    }

    /// llama.vim's `llama#fim(is_auto = true, cache = true)`.
    fn fim(&mut self, now: Instant) -> anyhow::Result<()> {
        if self.in_flight.is_some() {
            self.retry_at = Some(now + RETRY);
            return Ok(());
        }
        self.retry_at = None;
        let context = LlamaVimContext::at(&self.doc, self.cursor);
        if context.line_suffix_chars > MAX_LINE_SUFFIX {
            self.shown = Some(Shown::Nothing { at: now });
            return Ok(());
        }
        if let Some(content) = self.cache.lookup(&context) {
            if let Some(hits) = self.figures.cache_hits.as_mut() {
                *hits += 1;
            }
            self.shown = Some(if shows_something(&content) {
                Shown::Suggestion { at: now, from_cache: true, text: content }
            } else {
                Shown::Nothing { at: now }
            });
            return Ok(());
        }
        let key = cache_key(&context.prefix, &context.prompt, &context.suffix);
        let request = InfillRequest {
            t_max_predict_ms: Some(T_MAX_PREDICT_MS),
            ..InfillRequest::greedy(context, self.n_predict)
        };
        let server = self.server.clone();
        let answers = self.answers_tx.clone();
        // ureq blocks; llama.vim's curl job runs beside the editor the same way.
        std::thread::Builder::new().name("bench-infill-request".into()).spawn(move || {
            let answer = server.infill(&request);
            let _ = answers.send((answer, Instant::now()));
        })?;
        self.in_flight = Some(InFlight { position: self.position, key });
        self.figures.requests += 1;
        Ok(())
    }

    fn on_answer(&mut self, answer: anyhow::Result<BaselineAnswer>, arrived: Instant) {
        let Some(flight) = self.in_flight.take() else { return };
        let here = flight.position == self.position;
        match answer {
            Ok(answer) => {
                let response = answer.response;
                let evaluated = response.timings.prompt_n.unwrap_or(0) as f64;
                let reused =
                    response.timings.cache_n.or(response.tokens_cached).unwrap_or(0) as f64;
                self.figures.evaluated_tokens.push(evaluated);
                self.figures.reused_tokens.push(reused);
                self.figures.prompt_tokens.push(evaluated + reused);
                let shown = self.figures.answer_arrived(here, &response.content, arrived);
                self.cache.insert(flight.key, response.content);
                if let Some(shown) = shown {
                    self.shown = Some(shown);
                }
            }
            Err(err) => {
                self.figures.errors += 1;
                self.figures.note_once(format!("{err:#}"));
                if here {
                    self.shown = Some(Shown::Nothing { at: arrived });
                }
            }
        }
    }
}

impl Client for LlamaVimClient {
    fn open(&mut self, trace: &FileTrace) -> anyhow::Result<()> {
        self.doc = Rope::from_str(&trace.text);
        Ok(())
    }

    fn keystroke(&mut self, key: &Keystroke) -> anyhow::Result<()> {
        self.doc = key.doc.clone();
        self.cursor = key.cursor;
        self.position = key.cursor_position;
        self.shown = None;
        self.fim(key.typed_at)
    }

    fn poll(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let wait = self
            .retry_at
            .map_or(timeout, |retry| timeout.min(retry.saturating_duration_since(Instant::now())));
        match self.answers.recv_timeout(wait) {
            Ok((answer, arrived)) => self.on_answer(answer, arrived),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => anyhow::bail!("the request thread vanished"),
        }
        if self.retry_at.is_some_and(|retry| Instant::now() >= retry) {
            self.fim(Instant::now())?;
        }
        Ok(())
    }

    fn shown(&self) -> Option<Shown> {
        self.shown.clone()
    }

    fn close(&mut self, _trace: &FileTrace, patience: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + patience;
        while self.in_flight.is_some() || self.retry_at.is_some() {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else { break };
            self.poll(left)?;
        }
        // A request still running would answer into the next file's replay; its answer is
        // recognised as not for the current position, but waiting is the cleaner cut.
        Ok(())
    }
}

/// Clears llama-server's prompt caches (`/slots/N?action=erase`), so both replays start cold.
/// Returns a note if that was not possible.
pub fn erase_slots(base_url: &str) -> Option<String> {
    let base = base_url.trim_end_matches('/');
    let slots: Vec<u64> = ureq::get(format!("{base}/slots"))
        .call()
        .ok()
        .and_then(|mut r| r.body_mut().read_json::<serde_json::Value>().ok())
        .and_then(|v| v.as_array().map(|a| a.iter().filter_map(|s| s["id"].as_u64()).collect()))
        .unwrap_or_else(|| vec![0]);
    let failed = slots
        .iter()
        .any(|id| ureq::post(format!("{base}/slots/{id}?action=erase")).send_empty().is_err());
    failed.then(|| {
        "could not erase llama-server's prompt cache (that needs --slot-save-path): unless it was \
         just started, its first requests may start warm"
            .to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_serves_what_was_typed_along_a_suggestion() {
        let mut cache = AnswerCache::default();
        let at = |prompt: &str| LlamaVimContext {
            prefix: "def f():\n".into(),
            prompt: prompt.into(),
            suffix: "\n".into(),
            line_suffix_chars: 0,
        };
        cache.insert(cache_key("def f():\n", "    re", "\n"), "turn 42".into());
        assert_eq!(cache.lookup(&at("    re")).as_deref(), Some("turn 42"));
        assert_eq!(cache.lookup(&at("    ret")).as_deref(), Some("urn 42"));
        // Served answers are cached in turn, so typing on keeps hitting.
        assert_eq!(cache.lookup(&at("    retur")).as_deref(), Some("n 42"));
        assert_eq!(cache.lookup(&at("    rex")), None, "typed text departs from the answer");
        assert_eq!(cache.lookup(&at("    return 42!")), None, "more than the answer");
        let mut fresh = AnswerCache::default();
        fresh.insert(cache_key("def f():\n", "    re", "\n"), "turn 42 and more".into());
        assert_eq!(fresh.lookup(&at("    return 42 a")).as_deref(), Some("nd more"), "9 back");
        let mut fresh = AnswerCache::default();
        fresh.insert(cache_key("def f():\n", "    re", "\n"), "turn 42 and more".into());
        assert_eq!(fresh.lookup(&at("    return 42 and")), None, "11 back is too far");
    }

    #[test]
    fn cache_forgets_the_oldest_beyond_its_size() {
        let mut cache = AnswerCache::default();
        for i in 0..=MAX_CACHE_KEYS {
            cache.insert(format!("k{i}"), "x".into());
        }
        assert_eq!(cache.answers.len(), MAX_CACHE_KEYS);
        assert!(!cache.answers.contains_key("k0"));
        assert!(cache.answers.contains_key(&format!("k{MAX_CACHE_KEYS}")));
    }
}
