//! The engine thread: owns the llama.cpp context, keeps track of what its KV cache holds, and
//! runs one job at a time — build the prompt, evaluate only the tokens the cache lacks, decode.

use std::num::NonZeroU32;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::{Arc, OnceLock, mpsc};
use std::time::Instant;

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use tokio::sync::watch;

use super::model::{self, ModelError, ModelOrigin};
use super::stats::{EngineStats, Outcome};
use super::vocab::{CountCache, FamilyTokens};
use super::{
    EngineConfig, EngineError, EngineStatus, Generation, Job, Message, ModelInfo, Sampling,
    StopReason,
};
use crate::prompt;

/// Prompt tokens evaluated per `decode` call: small enough that a cancelled job frees the
/// engine quickly, large enough to keep llama.cpp's matrix kernels efficient.
const PROMPT_CHUNK: usize = 128;

/// The sequence that holds `Session::cached`, and the scratch one used while shifting.
const MAIN_SEQ: i32 = 0;
const SCRATCH_SEQ: i32 = 1;
/// Shifting a chunk shorter than this is not worth the approximation.
const MIN_SHIFTED_TOKENS: usize = 16;

/// llama.cpp's backend may be initialised once per process.
fn backend() -> Result<&'static LlamaBackend, EngineError> {
    static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();
    BACKEND
        .get_or_init(|| LlamaBackend::init().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| EngineError::Backend(e.clone()))
}

/// Thread body: load, announce, then serve jobs until every sender is gone.
pub(super) fn run(
    path: &Path,
    origin: ModelOrigin,
    config: &EngineConfig,
    jobs: mpsc::Receiver<Message>,
    status: &watch::Sender<EngineStatus>,
    stats: &EngineStats,
) {
    let started = Instant::now();
    let loaded = backend().and_then(|backend| {
        model::check_gguf(path, origin)?;
        let params = LlamaModelParams::default();
        let model = LlamaModel::load_from_file(backend, path, &params)
            .map_err(|_| ModelError::LoadFailed { path: path.to_path_buf() })?;
        let family = FamilyTokens::new(&model, config.family.as_deref())
            .map_err(|e| ModelError::Unsupported(e.to_string()))?;
        Ok((backend, model, family))
    });
    let (backend, model, family) = match loaded {
        Ok(loaded) => loaded,
        Err(err) => return fail(err, jobs, status),
    };
    let n_ctx = config.context_size.min(model.n_ctx_train()).max(64);
    let threads = i32::try_from(config.threads).unwrap_or(i32::MAX);
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(n_ctx))
        .with_n_batch(PROMPT_CHUNK as u32)
        .with_n_ubatch(PROMPT_CHUNK as u32)
        .with_n_threads(threads)
        .with_n_threads_batch(threads)
        // Sequence 1 is scratch space for re-evaluating an edited stretch in front of a shifted
        // chunk (see `Session::shift_reuse`); one unified cache lets both share cells.
        .with_n_seq_max(2)
        .with_kv_unified(true);
    let ctx = match model.new_context(backend, params) {
        Ok(ctx) => ctx,
        Err(err) => return fail(EngineError::Context(err.to_string()), jobs, status),
    };
    let info = ModelInfo {
        path: path.to_path_buf(),
        family: family.template.name,
        context_size: n_ctx,
        load_ms: started.elapsed().as_millis() as u64,
    };
    tracing::info!(path = %path.display(), family = info.family, n_ctx, load_ms = info.load_ms, "model ready");
    status.send_replace(EngineStatus::Ready(Arc::new(info)));

    let mut session = Session {
        model: &model,
        ctx,
        family,
        cached: Vec::new(),
        prompt_len: 0,
        counts: CountCache::default(),
        stats,
    };
    let mut stop_ack = None;
    while let Ok(message) = jobs.recv() {
        let job = match message {
            Message::Job(job) => *job,
            Message::Stop(ack) => {
                stop_ack = Some(ack);
                break;
            }
        };
        stats.job_received();
        if job.cancel.is_cancelled() {
            stats.job_skipped();
            let _ = job.reply.send(Err(EngineError::Cancelled));
            continue;
        }
        stats.model_call_started(job.params.background);
        let call_started = Instant::now();
        // A panic inside llama-cpp-2 must not take the engine (and every later request) down.
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| session.run(&job)))
            .unwrap_or_else(|panic| {
                session.forget_cache();
                Err(EngineError::Panicked(panic_message(&panic)))
            });
        let outcome = match &result {
            Ok(_) => Outcome::Completed,
            Err(EngineError::Cancelled) => Outcome::Cancelled {
                delay: job.cancel.raised_at().map(|raised| raised.elapsed()).unwrap_or_default(),
            },
            Err(err) => {
                tracing::error!(%err, "completion job failed");
                Outcome::Failed
            }
        };
        stats.model_call_finished(outcome, call_started.elapsed());
        let _ = job.reply.send(result);
    }
    // Free llama.cpp's state here, on its own thread, before anyone is told it is safe to exit.
    drop(session);
    drop(model);
    if let Some(ack) = stop_ack {
        let _ = ack.send(());
    }
}

/// Reports a load failure and answers every job that still arrives with it.
fn fail(
    err: impl Into<EngineError>,
    jobs: mpsc::Receiver<Message>,
    status: &watch::Sender<EngineStatus>,
) {
    let err: EngineError = err.into();
    tracing::error!(%err, "model not loaded");
    status.send_replace(EngineStatus::Failed(err.to_string()));
    for message in jobs {
        match message {
            Message::Job(job) => {
                let _ = job.reply.send(Err(EngineError::NotLoaded(err.to_string())));
            }
            Message::Stop(ack) => {
                let _ = ack.send(());
                return;
            }
        }
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// A loaded model, its context, and the token sequence the context's KV cache holds.
struct Session<'m> {
    model: &'m LlamaModel,
    ctx: LlamaContext<'m>,
    family: FamilyTokens,
    /// Exactly the tokens in sequence 0 of the KV cache, positions 0..len.
    cached: Vec<LlamaToken>,
    /// How many of `cached` are the last job's prompt (the rest it generated).
    prompt_len: usize,
    counts: CountCache,
    stats: &'m EngineStats,
}

impl Session<'_> {
    fn run(&mut self, job: &Job) -> Result<Generation, EngineError> {
        let started = Instant::now();
        let mut counter = self.counts.counter(self.model);
        let template = self.family.template;
        let order = job.params.order.unwrap_or(template.order);
        let prompt = prompt::build(template, order, &job.input, job.params.budgets, &mut counter);
        let tokens = self.family.tokenize(self.model, &prompt)?;
        let n_ctx = self.ctx.n_ctx() as usize;
        if tokens.is_empty() || tokens.len() + job.params.max_tokens > n_ctx {
            return Err(EngineError::PromptTooLong {
                prompt_tokens: tokens.len(),
                max_tokens: job.params.max_tokens,
                context_size: n_ctx,
            });
        }
        let loaded = self.load_prompt(&tokens, job);
        // All that is cached now is prompt: the whole of it, or as much as was evaluated before a
        // cancel (kept, so that the next keystroke's prompt reuses it).
        self.prompt_len = self.cached.len();
        let (reused, logits_index) = loaded?;
        let prompt_ms = started.elapsed().as_secs_f64() * 1000.0;

        let generating = Instant::now();
        let (text, generated_tokens, stop) = self.generate(job, logits_index)?;
        Ok(Generation {
            text,
            prompt: prompt.render(),
            prompt_tokens: tokens.len(),
            reused_tokens: reused,
            evaluated_tokens: tokens.len() - reused,
            generated_tokens,
            prompt_ms,
            generation_ms: generating.elapsed().as_secs_f64() * 1000.0,
            stop,
            context_files: prompt.context_paths.clone(),
        })
    }

    /// Brings the KV cache to `tokens`, reusing what it holds; returns (reused tokens, logits
    /// index).
    fn load_prompt(
        &mut self,
        tokens: &[LlamaToken],
        job: &Job,
    ) -> Result<(usize, i32), EngineError> {
        if let Some(shifted) = self.shift_reuse(tokens, job) {
            return shifted;
        }
        let reused = self.keep_common_prefix(tokens)?;
        Ok((reused, self.evaluate(&tokens[reused..], job)?))
    }

    /// Drops the cache beyond the longest prefix shared with `tokens`; returns how many tokens
    /// are kept. At least the last prompt token is always re-evaluated, for its logits.
    fn keep_common_prefix(&mut self, tokens: &[LlamaToken]) -> Result<usize, EngineError> {
        let common = self.cached.iter().zip(tokens).take_while(|(a, b)| a == b).count();
        let keep = common.min(tokens.len() - 1);
        let removed = self
            .ctx
            .clear_kv_cache_seq(Some(MAIN_SEQ as u32), Some(keep as u32), None)
            .map_err(|e| EngineError::Decode(e.to_string()))?;
        if removed {
            self.cached.truncate(keep);
            Ok(keep)
        } else {
            // A partial removal can be refused (e.g. recurrent models): start over.
            self.forget_cache();
            Ok(0)
        }
    }

    fn forget_cache(&mut self) {
        self.ctx.clear_kv_cache();
        self.cached.clear();
        self.prompt_len = 0;
    }

    /// Evaluates `tokens` after the cached ones in sequence 0, appending them to `cached`.
    /// Logits are requested for the last token only; returns its index in the last batch.
    fn evaluate(&mut self, tokens: &[LlamaToken], job: &Job) -> Result<i32, EngineError> {
        let start = self.cached.len();
        self.evaluate_at(tokens, start, MAIN_SEQ, job)
    }

    /// Evaluates `tokens` at positions from `start` in sequence `seq`, in chunks, checking for
    /// cancellation between chunks; logits for the last token only (its batch index returned).
    /// In sequence 0 each chunk joins `cached` once decoded, so a cancelled evaluation keeps
    /// what it finished.
    fn evaluate_at(
        &mut self,
        tokens: &[LlamaToken],
        start: usize,
        seq: i32,
        job: &Job,
    ) -> Result<i32, EngineError> {
        let mut batch = LlamaBatch::new(PROMPT_CHUNK, 1);
        for (chunk_index, chunk) in tokens.chunks(PROMPT_CHUNK).enumerate() {
            if job.cancel.is_cancelled() {
                return Err(EngineError::Cancelled);
            }
            batch.clear();
            let first = chunk_index * PROMPT_CHUNK;
            let last_chunk = first + chunk.len() >= tokens.len();
            for (i, &token) in chunk.iter().enumerate() {
                let pos = (start + first + i) as i32;
                let logits = last_chunk && i + 1 == chunk.len();
                batch
                    .add(token, pos, &[seq], logits)
                    .map_err(|e| EngineError::Decode(e.to_string()))?;
            }
            self.decode(&mut batch)?;
            self.stats.tokens_evaluated(chunk.len());
            if seq == MAIN_SEQ {
                debug_assert_eq!(self.cached.len(), start + first);
                self.cached.extend_from_slice(chunk);
            }
        }
        Ok(batch.n_tokens() - 1)
    }

    /// Reuse beyond the common prefix: when the end of the old prompt (e.g. the suffix, after an
    /// edit at the cursor) reappears in the new one at another position, shift those cells
    /// instead of evaluating them again, as llama.cpp's cache reuse does. Only the edited stretch
    /// between the common prefix and the shifted chunk is evaluated, in scratch sequence 1
    /// (llama.cpp requires a sequence's new positions to follow its last one), then handed to
    /// sequence 0; the prompt's last token is evaluated last, for its logits.
    ///
    /// The shifted cells keep what they computed next to the old text, an approximation the
    /// cache-reuse idea accepts; a cold evaluation could differ slightly. `None`: nothing to
    /// shift, use the common prefix only. Returns (reused tokens, logits index).
    fn shift_reuse(
        &mut self,
        tokens: &[LlamaToken],
        job: &Job,
    ) -> Option<Result<(usize, i32), EngineError>> {
        if !job.params.kv_shift {
            return None;
        }
        let old = &self.cached[..self.prompt_len.min(self.cached.len())];
        let (n, m) = (tokens.len(), old.len());
        let common = old.iter().zip(tokens).take_while(|(a, b)| a == b).count().min(n - 1);
        // The longest shared tail before each prompt's last token, not reaching into `common`.
        let tail = old[..m.saturating_sub(1)]
            .iter()
            .rev()
            .zip(tokens[..n - 1].iter().rev())
            .take_while(|(a, b)| a == b)
            .count()
            .min((n - 1).saturating_sub(common))
            .min(m.saturating_sub(1).saturating_sub(common));
        if tail < MIN_SHIFTED_TOKENS {
            return None;
        }
        let old_start = m - 1 - tail; // the chunk's first position now
        let new_start = n - 1 - tail; // and where it goes
        let result = self.shift_and_fill(tokens, common, old_start, new_start, tail, job);
        if result.is_err() {
            // Leave a consistent cache behind: `cached` (the common prefix, or more once the
            // shifted chunk was in place) and nothing after it.
            let _ = self.ctx.kv_cache_seq_rm(SCRATCH_SEQ, None, None);
            if self.ctx.kv_cache_seq_rm(MAIN_SEQ, Some(self.cached.len() as u32), None).is_err() {
                self.forget_cache();
            }
        }
        Some(result.map(|index| (common + tail, index)))
    }

    fn shift_and_fill(
        &mut self,
        tokens: &[LlamaToken],
        common: usize,
        old_start: usize,
        new_start: usize,
        tail: usize,
        job: &Job,
    ) -> Result<i32, EngineError> {
        let kv = |e: llama_cpp_2::context::kv_cache::KvCacheConversionError| {
            EngineError::Decode(e.to_string())
        };
        let u = |n: usize| Some(n as u32);
        // Until the chunk is in place, only the common prefix is known to be right.
        self.cached.truncate(common);
        // Drop the stale stretch and everything after the chunk, then move the chunk.
        self.ctx.kv_cache_seq_rm(MAIN_SEQ, u(old_start + tail), None).map_err(kv)?;
        self.ctx.kv_cache_seq_rm(MAIN_SEQ, u(common), u(old_start)).map_err(kv)?;
        let delta = new_start as i32 - old_start as i32;
        self.ctx
            .kv_cache_seq_add(MAIN_SEQ, u(old_start), u(old_start + tail), delta)
            .map_err(kv)?;
        // The edited stretch, in the scratch sequence that shares the common prefix.
        let gap = &tokens[common..new_start];
        if !gap.is_empty() {
            self.ctx.kv_cache_seq_cp(MAIN_SEQ, SCRATCH_SEQ, None, u(common)).map_err(kv)?;
            self.evaluate_at(gap, common, SCRATCH_SEQ, job)?;
            self.ctx.kv_cache_seq_cp(SCRATCH_SEQ, MAIN_SEQ, u(common), u(new_start)).map_err(kv)?;
            self.ctx.kv_cache_seq_rm(SCRATCH_SEQ, None, None).map_err(kv)?;
        }
        self.cached.extend_from_slice(&tokens[common..new_start + tail]);
        self.evaluate(&tokens[new_start + tail..], job)
    }

    fn decode(&mut self, batch: &mut LlamaBatch) -> Result<(), EngineError> {
        self.ctx.decode(batch).map_err(|e| {
            // The cache may hold part of the batch now; rebuild it from scratch next time.
            self.forget_cache();
            EngineError::Decode(e.to_string())
        })
    }

    /// Samples until a stop token, the token limit, the end of the line in single-line mode, or
    /// cancellation (checked before every token).
    fn generate(
        &mut self,
        job: &Job,
        mut logits_index: i32,
    ) -> Result<(String, usize, StopReason), EngineError> {
        let mut sampler = make_sampler(&job.params.sampling);
        let mut bytes = Vec::new();
        let mut batch = LlamaBatch::new(1, 1);
        let mut generated = 0;
        let generating = Instant::now();
        let stop = loop {
            if job.cancel.is_cancelled() {
                return Err(EngineError::Cancelled);
            }
            if generated >= job.params.max_tokens {
                break StopReason::MaxTokens;
            }
            let token = sampler.sample(&self.ctx, logits_index);
            if self.family.is_stop(self.model, token) {
                break StopReason::StopToken;
            }
            generated += 1;
            self.stats.token_generated();
            let piece = self.model.vocab().token_to_piece(token, false, None);
            let piece_len = piece.len();
            job.cancel.record_generated(&piece);
            bytes.extend(piece);
            if job.params.single_line
                && let Some(newline) = bytes.iter().position(|&b| b == b'\n')
            {
                bytes.truncate(newline);
                break StopReason::EndOfLine;
            }
            // Over its time budget, a multi-line suggestion ends with the line being written.
            let over_budget = job.params.newline_after.is_some_and(|b| generating.elapsed() > b);
            if over_budget && bytes[bytes.len() - piece_len..].contains(&b'\n') {
                let newline = bytes.iter().rposition(|&b| b == b'\n').unwrap_or(0);
                bytes.truncate(newline);
                break StopReason::TimeBudget;
            }
            if generated >= job.params.max_tokens {
                break StopReason::MaxTokens;
            }
            batch.clear();
            let pos = self.cached.len() as i32;
            batch
                .add(token, pos, &[MAIN_SEQ], true)
                .map_err(|e| EngineError::Decode(e.to_string()))?;
            self.decode(&mut batch)?;
            self.cached.push(token);
            logits_index = 0;
        };
        let text = String::from_utf8_lossy(&bytes).into_owned();
        Ok((self.cut_at_special_text(text), generated, stop))
    }

    /// A model can spell a special token out of ordinary pieces; such text never reaches the
    /// editor either.
    fn cut_at_special_text(&self, mut text: String) -> String {
        if let Some(cut) =
            self.family.template.special_texts().filter_map(|special| text.find(special)).min()
        {
            text.truncate(cut);
        }
        text
    }
}

fn make_sampler(sampling: &Sampling) -> LlamaSampler {
    if sampling.temperature <= 0.0 {
        return LlamaSampler::greedy();
    }
    LlamaSampler::chain_simple([
        LlamaSampler::top_k(sampling.top_k.max(1)),
        LlamaSampler::top_p(sampling.top_p.clamp(0.0, 1.0), 1),
        LlamaSampler::temp(sampling.temperature),
        LlamaSampler::dist(sampling.seed),
    ])
}
