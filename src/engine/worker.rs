//! The engine thread: owns the llama.cpp context and runs one job at a time — build the prompt,
//! bring the KV cache to it as `kv::plan` decides (evaluating only the tokens the cache lacks),
//! decode.

use std::cell::OnceCell;
use std::collections::VecDeque;
use std::num::NonZeroU32;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::{Arc, OnceLock, mpsc};
use std::time::Instant;

use llama_cpp_2::DecodeError;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::context::session::{LlamaStateSeqFlags, SeqState};
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use tokio::sync::watch;

use super::abort::{self, AbortWatch};
use super::device;
use super::draft;
use super::heal::{self, Healing, Pieces};
use super::kv::{self, BACKGROUND_CHUNK, KvTokens, PROMPT_CHUNK, ReusePlan, Shift};
use super::last_prompts::LastPrompts;
use super::model::{self, ModelError, ModelOrigin};
use super::places::{Places, Visit};
use super::probability::{self, TokenLogprob};
use super::quick::{self, LastShort, PromptSpeed};
use super::running::{Place, Running};
use super::stats::{EngineStats, Outcome};
use super::vocab::{CountCache, FamilyTokens};
use super::{
    EngineConfig, EngineError, EngineStatus, Generation, GenerationParams, Job, JobHandle, Message,
    ModelInfo, Sampling, StopReason,
};
use crate::config::{FlashAttention, KvCacheType};
use crate::prompt::{self, FimInput, Order, Prompt};

/// The smallest KV window the engine runs with, whatever `contextSize` says.
const MIN_CONTEXT: u32 = 2 * PROMPT_CHUNK as u32;

/// The sequence that holds `Worker::cached`, and the scratch one used while shifting.
const MAIN_SEQ: i32 = 0;
const SCRATCH_SEQ: i32 = 1;

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
    running: &Arc<Running>,
) {
    let started = Instant::now();
    let loaded = backend().and_then(|backend| {
        model::check_gguf(path, origin)?;
        // The backends are registered now; ask them for GPUs.
        let devices = device::gpu_devices();
        let offload = device::offload(config.gpu_layers, &devices);
        let params = LlamaModelParams::default()
            .with_n_gpu_layers(offload.layers)
            .with_main_gpu(i32::try_from(config.main_gpu).unwrap_or(0));
        let model = LlamaModel::load_from_file(backend, path, &params)
            .map_err(|_| ModelError::LoadFailed { path: path.to_path_buf() })?;
        let family = FamilyTokens::new(&model, config.family.as_deref())
            .map_err(|e| ModelError::Unsupported(e.to_string()))?;
        Ok((backend, model, family, devices, offload))
    });
    let (backend, model, family, devices, offload) = match loaded {
        Ok(loaded) => loaded,
        Err(err) => return fail(err, jobs, status),
    };
    // Never below two prompt chunks: llama.cpp caps its batch at the context size, and a chunk
    // larger than the batch aborts the process inside `llama_decode`.
    let n_ctx = config.context_size.min(model.n_ctx_train()).max(MIN_CONTEXT);
    let threads = i32::try_from(config.threads).unwrap_or(i32::MAX);
    // Declared before the context, so dropped after it: the context calls into it.
    let abort_watch = Box::new(AbortWatch::new(running.clone()));
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(n_ctx))
        .with_n_batch(PROMPT_CHUNK as u32)
        .with_n_ubatch(PROMPT_CHUNK as u32)
        .with_n_threads(threads)
        .with_n_threads_batch(threads)
        // Sequence 1 is scratch space for re-evaluating an edited stretch in front of a shifted
        // chunk (see `Worker::shift_reuse`); one unified cache lets both share cells.
        .with_n_seq_max(2)
        .with_kv_unified(true)
        // gpuLayers 0 (or no GPU) keeps all the work on the CPU, as the placement says.
        .with_op_offload(offload.host_ops_on_gpu());
    let params = match with_attention(params, config) {
        Ok(params) => params,
        Err(err) => return fail(err, jobs, status),
    };
    let params = abort::with_abort_callback(params, &abort_watch);
    let ctx = match model.new_context(backend, params) {
        Ok(ctx) => ctx,
        Err(err) => return fail(EngineError::Context(err.to_string()), jobs, status),
    };
    // The guard behind every `decode`: a batch of `PROMPT_CHUNK` tokens must be allowed.
    if (ctx.n_batch() as usize) < PROMPT_CHUNK || (ctx.n_ubatch() as usize) < PROMPT_CHUNK {
        let message = format!("llama.cpp gave a batch of {} tokens", ctx.n_batch());
        return fail(EngineError::Context(message), jobs, status);
    }
    let info = ModelInfo {
        path: path.to_path_buf(),
        family: family.template.name,
        context_size: n_ctx,
        load_ms: started.elapsed().as_millis() as u64,
        placement: device::placement(offload.layers, model.n_layer(), &devices, config.threads),
        warning: offload.warning.clone(),
    };
    if let Some(warning) = &info.warning {
        tracing::warn!("{warning}");
    }
    tracing::info!(path = %path.display(), family = info.family, n_ctx, load_ms = info.load_ms, placement = %info.placement, "model ready");
    status.send_replace(EngineStatus::Ready(Arc::new(info)));

    let mut worker = Worker {
        model: &model,
        ctx,
        family,
        cached: KvTokens::default(),
        places: Places::default(),
        last_prompts: LastPrompts::default(),
        cursor: 0,
        counts: CountCache::default(),
        pieces: OnceCell::new(),
        stats,
        running,
        prompt_speed: PromptSpeed::default(),
        fill: None,
        last_short: LastShort::default(),
        short_cache: None,
    };
    worker.time_prompt_speed();
    let mut stop_ack = None;
    // A job that arrived while the engine evaluated a prompt for itself.
    let mut waiting = None;
    loop {
        let message = match waiting.take() {
            Some(message) => message,
            None => match jobs.recv() {
                Ok(message) => message,
                Err(_) => break,
            },
        };
        let job = match message {
            Message::Job(job) => {
                running.job_taken(job.waits);
                tracing::debug!(
                    queued_ms = job.sent.elapsed().as_secs_f64() * 1000.0,
                    background = job.params.background,
                    "job taken"
                );
                *job
            }
            Message::Stop(ack) => {
                stop_ack = Some(ack);
                break;
            }
        };
        stats.job_received();
        if job.handle.is_cancelled() {
            stats.job_skipped();
            let _ = job.reply.send(Err(EngineError::Cancelled));
            continue;
        }
        let result = model_call(&mut worker, &job, &abort_watch, "completion job", Worker::run);
        // After a quick answer the whole prompt is evaluated, until a new job cancels it (any
        // job sent after the answer does: `Engine::generate`).
        let fill = worker.fill.take().map(|tokens| {
            let handle = JobHandle::default();
            running.filling_started(&handle);
            (tokens, handle)
        });
        let _ = job.reply.send(result);
        let Some((tokens, handle)) = fill else { continue };
        // One sent before the answer went out is served first.
        match jobs.try_recv() {
            Ok(message) => waiting = Some(message),
            Err(_) => fill_whole_prompt(
                &mut worker,
                &tokens,
                job.input,
                job.params,
                &handle,
                &abort_watch,
            ),
        }
        running.filling_ended(&handle);
    }
    // Free llama.cpp's state here, on its own thread, before anyone is told it is safe to exit.
    drop(worker);
    drop(model);
    if let Some(ack) = stop_ack {
        let _ = ack.send(());
    }
}

/// `params` with the `flashAttention` and `kvCacheType` settings. llama.cpp keeps a quantized V
/// cache only with flash attention (else it fails to make the context, with a log line only),
/// so that combination is refused here with the settings' names.
fn with_attention(
    params: LlamaContextParams,
    config: &EngineConfig,
) -> Result<LlamaContextParams, EngineError> {
    let (flash, cache) = (config.flash_attention, config.kv_cache_type);
    if flash == FlashAttention::Off && cache != KvCacheType::F16 {
        return Err(EngineError::Context(format!(
            "kvCacheType {} needs flash attention: set flashAttention to auto or on, or \
             kvCacheType to f16",
            serde_json::to_value(cache).map(|v| v.to_string()).unwrap_or_default()
        )));
    }
    let policy = match flash {
        FlashAttention::Auto => llama_cpp_sys_2::LLAMA_FLASH_ATTN_TYPE_AUTO,
        FlashAttention::On => llama_cpp_sys_2::LLAMA_FLASH_ATTN_TYPE_ENABLED,
        FlashAttention::Off => llama_cpp_sys_2::LLAMA_FLASH_ATTN_TYPE_DISABLED,
    };
    let cache = match cache {
        KvCacheType::F16 => llama_cpp_2::context::params::KvCacheType::F16,
        KvCacheType::Q8_0 => llama_cpp_2::context::params::KvCacheType::Q8_0,
        KvCacheType::Q4_0 => llama_cpp_2::context::params::KvCacheType::Q4_0,
    };
    Ok(params.with_flash_attention_policy(policy).with_type_k(cache).with_type_v(cache))
}

/// Runs `call` for `job` as one model call: counted in the stats, stopped even inside a decode
/// by the job's cancel, and a panic inside llama-cpp-2 an error (the cache forgotten) that does
/// not take the engine, and every later request, down.
fn model_call<'m, T>(
    worker: &mut Worker<'m>,
    job: &Job,
    abort_watch: &AbortWatch,
    what: &str,
    call: impl FnOnce(&mut Worker<'m>, &Job) -> Result<T, EngineError>,
) -> Result<T, EngineError> {
    let stats = worker.stats;
    stats.model_call_started(job.params.background);
    let started = Instant::now();
    abort_watch.watch(&job.handle);
    let result =
        std::panic::catch_unwind(AssertUnwindSafe(|| call(worker, job))).unwrap_or_else(|panic| {
            worker.forget_cache();
            Err(EngineError::Panicked(panic_message(&panic)))
        });
    abort_watch.clear();
    let outcome = match &result {
        Ok(_) => Outcome::Completed,
        // A job that could not use this one's work waited from the later of the cancel and its
        // arrival; with none waiting, the cancelled job finished its prompt chunk for the next
        // prompt at its place (`running`).
        Err(EngineError::Cancelled) => {
            let raised = job.handle.raised_at().unwrap_or(started);
            let waited = worker.running.waited_since();
            let from = waited.map_or(raised, |since| raised.max(since));
            Outcome::Cancelled { delay: from.elapsed(), interrupted: waited.is_some() }
        }
        Err(err) => {
            tracing::error!(%err, "{what} failed");
            Outcome::Failed
        }
    };
    stats.model_call_finished(outcome, started.elapsed());
    result
}

/// Evaluates the whole prompt of a job answered quickly (`Worker::quick_answer`), as background
/// work that `handle` cancels, counted in the stats as a background call.
fn fill_whole_prompt(
    worker: &mut Worker<'_>,
    tokens: &[LlamaToken],
    input: FimInput,
    params: GenerationParams,
    handle: &JobHandle,
    abort_watch: &AbortWatch,
) {
    let params = GenerationParams { background: true, ..params };
    let reply = tokio::sync::oneshot::channel().0;
    let job =
        Job { input, params, handle: handle.clone(), reply, waits: false, sent: Instant::now() };
    let what = "evaluating the whole prompt after a quick answer";
    let fill = |worker: &mut Worker<'_>, job: &Job| worker.fill_prompt(tokens, job);
    let _ = model_call(worker, &job, abort_watch, what, fill);
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

pub(super) fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// A loaded model, its context, and the token sequence the context's KV cache holds.
struct Worker<'m> {
    model: &'m LlamaModel,
    ctx: LlamaContext<'m>,
    family: FamilyTokens,
    /// Exactly the tokens in sequence 0 of the KV cache, positions 0..len, and how many of them
    /// are the last job's prompt. Changed only right after the cache itself.
    cached: KvTokens<LlamaToken>,
    /// The KV state of places the cursor left, to restore when it comes back.
    places: Places<LlamaToken, SeqState>,
    /// Each document's last fresh prompt: where the next one's prefix starts, and what typing at
    /// its cursor continues.
    last_prompts: LastPrompts,
    /// Where the cached prompt's cursor is: the end of its prefix text, in tokens.
    cursor: usize,
    counts: CountCache,
    /// The vocabulary's texts, for the tokens that agree with typed text (`heal`); built by the
    /// first job that heals (`tokenHealing` is off by default).
    pieces: OnceCell<Pieces<LlamaToken>>,
    stats: &'m EngineStats,
    /// Shared with the `Engine` handles: what runs now, and who waits for it (`running`).
    running: &'m Running,
    /// Prompt tokens evaluated per second, over the chunks timed: what a quick answer's
    /// decision estimates with.
    prompt_speed: PromptSpeed,
    /// The whole prompt of a job answered quickly, to evaluate once its answer is sent.
    fill: Option<Vec<LlamaToken>>,
    /// The last fresh short prompt (`quick::LastShort`).
    last_short: LastShort,
    /// What sequence 0 held after the last quick answer: its short prompt and answer.
    short_cache: Option<ShortCache>,
}

/// A quick answer's prompt, its tokens, how many of them sequence 0 holds, and the text taken
/// back from its end for the model to write again (a typed middle's healing).
struct QuickPrompt {
    prompt: Prompt,
    tokens: Vec<LlamaToken>,
    cached: usize,
    healed: Vec<u8>,
}

/// The KV state a quick answer left behind, kept so that a quick answer again at its place
/// evaluates only what is new to it, the text typed since (which opens the short prompt's
/// middle, `quick::LastShort`), instead of its whole short prompt: a second or more that the
/// filling waited for.
struct ShortCache {
    tokens: KvTokens<LlamaToken>,
    state: SeqState,
}

impl Worker<'_> {
    fn run(&mut self, job: &Job) -> Result<Generation, EngineError> {
        let started = Instant::now();
        let mut counter = self.counts.counter(self.model);
        let template = self.family.template;
        let order = job.params.order.unwrap_or(template.order);
        let n_ctx = self.ctx.n_ctx() as usize;
        let mut prompt =
            self.last_prompts.build_prompt(template, order, job, n_ctx, true, &mut counter);
        // A typed middle is always healed (`LastPrompts::build_prompt` says why).
        let heal = job.params.token_healing || prompt.typed_middle_chars > 0;
        let healed = if heal { self.back_off(&mut prompt) } else { Vec::new() };
        let tokens = self.family.tokenize(self.model, &prompt)?;
        if tokens.is_empty() || tokens.len().saturating_add(job.params.max_tokens) > n_ctx {
            return Err(EngineError::PromptTooLong {
                prompt_tokens: tokens.len(),
                max_tokens: job.params.max_tokens,
                context_size: n_ctx,
            });
        }
        self.visit_place(&tokens, job);
        if let Some(quick) = self.quick_answer(job, &tokens, order, started)? {
            self.fill = Some(tokens);
            return Ok(quick);
        }
        let loaded = self.load_prompt(&tokens, job);
        self.cursor = self.family.cursor_index(&tokens, order);
        // All that is cached now is prompt: the whole of it, or as much as was evaluated before a
        // cancel (kept, so that the next keystroke's prompt reuses it).
        self.cached.prompt_loaded();
        let (reused, logits_index) = loaded?;
        tracing::debug!(
            prompt = tokens.len(),
            reused,
            context = ?prompt.context_paths,
            prefix_chars = prompt.prefix_chars,
            background = job.params.background,
            "prompt loaded"
        );
        let prompt_ms = started.elapsed().as_secs_f64() * 1000.0;

        let generating = Instant::now();
        let generation = |generated: Generated| Generation {
            text: generated.text,
            prompt: prompt.render(),
            prompt_tokens: tokens.len(),
            reused_tokens: reused,
            evaluated_tokens: tokens.len() - reused,
            generated_tokens: generated.tokens,
            prompt_ms,
            generation_ms: generating.elapsed().as_secs_f64() * 1000.0,
            stop: generated.stop,
            context_files: prompt.context_paths.clone(),
            healed: String::from_utf8_lossy(&healed).into_owned(),
            token_logprobs: generated.token_logprobs,
            first_token: generated.first_token,
            quick_answer: false,
        };
        // Once its whole lines so far are out, the rest is work nobody waits for: any new job
        // cancels it, as it does the filling after a quick answer.
        let running = self.running;
        let mut publish = |lines: Generated| {
            job.handle.publish_early_lines(generation(lines));
            running.filling_started(&job.handle);
        };
        let early = (job.params.early_lines_due(started))
            .map(|due| EarlyLines { due, publish: &mut publish });
        let generated =
            self.generate(&job.params, &job.handle, logits_index, Healing::new(&healed), early);
        self.running.filling_ended(&job.handle);
        Ok(generation(generated?))
    }

    /// Answers `job` from a short prompt (`quick::BUDGETS`, see `quick_prompt`) when evaluating its
    /// whole prompt, `tokens`, from the cache as it is would take longer than
    /// `quick_answer_after` at the last measured prompt speed (`quick`). Sequence 0 is copied out
    /// before and put back after, so nothing of what the whole prompt reuses is lost; `run`
    /// evaluates the whole prompt once the answer is sent. A warm-up there
    /// (`quick::warm_up_after`) evaluates the short prompt the same way without answering, and
    /// goes on with the whole one.
    fn quick_answer(
        &mut self,
        job: &Job,
        tokens: &[LlamaToken],
        order: Order,
        started: Instant,
    ) -> Result<Option<Generation>, EngineError> {
        let params = &job.params;
        let (after, warm_up) = match (quick::after(params), quick::warm_up_after(params)) {
            (Some(after), _) => (after, false),
            (None, Some(after)) => (after, true),
            (None, None) => return Ok(None),
        };
        let needed = |cached: &KvTokens<LlamaToken>| {
            tokens.len()
                - match cached.plan(tokens, params.kv_shift) {
                    ReusePlan::Prefix { keep } => keep,
                    ReusePlan::Shift(shift) => shift.reused(),
                }
        };
        if !self.prompt_speed.is_known() {
            // Not measured yet (the first long prompt): the whole prompt's first chunk, which
            // it needs anyway, is evaluated and timed.
            let ReusePlan::Prefix { keep } = self.cached.plan(tokens, params.kv_shift) else {
                return Ok(None);
            };
            if tokens.len() - keep <= 3 * PROMPT_CHUNK {
                return Ok(None);
            }
            self.load_prompt(&tokens[..keep + PROMPT_CHUNK], job)?;
            self.cached.prompt_loaded();
        }
        let needed = needed(&self.cached);
        let Some(wait) = self.prompt_speed.wait(needed) else { return Ok(None) };
        // Again at a place as at a new one: only the typed text is evaluated (`quick::AGAIN_AFTER`).
        if !quick::worth_it(wait, after, false) {
            return Ok(None);
        }
        let QuickPrompt { prompt, tokens: quick, cached, healed } =
            self.quick_prompt(job, order)?;
        // The last quick answer's state, where it holds more of the short prompt than sequence 0.
        let from_short =
            self.short_cache.as_ref().and_then(|short| match short.tokens.plan(&quick, false) {
                ReusePlan::Prefix { keep } => (keep > cached).then_some(keep),
                ReusePlan::Shift(_) => None,
            });
        if !quick::short_enough(quick.len() - from_short.unwrap_or(cached), needed) {
            return Ok(None);
        }
        let saved = match self.ctx.state_seq_get(MAIN_SEQ, LlamaStateSeqFlags::empty()) {
            Ok(state) => state,
            Err(err) => {
                tracing::warn!(%err, "the cache could not be copied out: no quick answer");
                return Ok(None);
            }
        };
        let saved_cached = self.cached.clone();
        let one_line = quick::short_params(&job.params);
        let keep = match from_short {
            Some(keep) => self.restore_short(keep),
            None => cached,
        };
        let answer = self.keep_prefix(keep).and_then(|kept| {
            let logits_index = self.evaluate(&quick[kept..], job)?;
            self.cached.prompt_loaded();
            let prompt_ms = started.elapsed().as_secs_f64() * 1000.0;
            if warm_up {
                return Ok((None, prompt_ms, kept));
            }
            let healing = Healing::new(&healed);
            let generated = self.generate(&one_line, &job.handle, logits_index, healing, None);
            Ok((Some(generated?), prompt_ms, kept))
        });
        self.last_short.remember(&job.input.path, &prompt);
        self.save_short(job.params.saved_places_bytes);
        self.restore_seq(
            &saved,
            saved_cached,
            "the cache could not be put back after a quick answer",
        );
        let (generated, prompt_ms, kept) = answer?;
        let context = prompt.context_paths.len();
        let Some(generated) = generated else {
            tracing::debug!(
                quick = quick.len(),
                kept,
                whole = tokens.len(),
                "short prompt warmed up"
            );
            return Ok(None);
        };
        tracing::debug!(
            quick = quick.len(),
            kept,
            from_last_quick = from_short.is_some(),
            context,
            whole = tokens.len(),
            needed,
            "quick answer"
        );
        Ok(Some(Generation {
            text: generated.text,
            prompt: prompt.render(),
            prompt_tokens: quick.len(),
            reused_tokens: kept,
            evaluated_tokens: quick.len() - kept,
            generated_tokens: generated.tokens,
            prompt_ms,
            generation_ms: started.elapsed().as_secs_f64() * 1000.0 - prompt_ms,
            stop: generated.stop,
            context_files: prompt.context_paths,
            healed: String::from_utf8_lossy(&healed).into_owned(),
            token_logprobs: generated.token_logprobs,
            first_token: generated.first_token,
            quick_answer: true,
        }))
    }

    /// A quick answer's prompt: the cursor's surroundings after the other files where the cache
    /// holds those already (a place of a file whose front was evaluated before), else without
    /// them (`quick::with_context`); or, where the user only typed on at the last short prompt's
    /// cursor, that prompt with the typed text opening its middle (`quick::LastShort`).
    fn quick_prompt(&mut self, job: &Job, order: Order) -> Result<QuickPrompt, EngineError> {
        let template = self.family.template;
        let path = &job.input.path;
        let mut counter = self.counts.counter(self.model);
        let sticky = self.last_short.sticky(path);
        let short = quick::short_prompt(template, order, &job.input, sticky, &mut counter);
        let budgets = quick::budgets_with_context(job.params.budgets);
        let with_context =
            prompt::build(template, order, &job.input, budgets, sticky, &mut counter);
        let typed = job.params.typed_middle.then(|| {
            [&with_context, &short]
                .into_iter()
                .find_map(|fresh| self.last_short.continuing(path, fresh, order))
        });
        if let Some(mut typed) = typed.flatten() {
            // A typed middle is always healed (`LastPrompts::build_prompt` says why).
            let healed = self.back_off(&mut typed);
            let tokens = self.family.tokenize(self.model, &typed)?;
            let cached = self.cached_of(&tokens);
            return Ok(QuickPrompt { prompt: typed, tokens, cached, healed });
        }
        let short_tokens = self.family.tokenize(self.model, &short)?;
        let fresh = |prompt, tokens, cached| QuickPrompt { prompt, tokens, cached, healed: vec![] };
        if with_context.context_paths.is_empty() {
            return Ok(fresh(short, short_tokens, 0));
        }
        let context_tokens = self.family.tokenize(self.model, &with_context)?;
        let keep = self.cached_of(&context_tokens);
        Ok(if quick::with_context(context_tokens.len() - keep, short_tokens.len()) {
            fresh(with_context, context_tokens, keep)
        } else {
            fresh(short, short_tokens, 0)
        })
    }

    /// How many of `tokens`, from the start, sequence 0 holds as they are.
    fn cached_of(&self, tokens: &[LlamaToken]) -> usize {
        match self.cached.plan(tokens, false) {
            ReusePlan::Prefix { keep } => keep,
            ReusePlan::Shift(_) => 0,
        }
    }

    /// Puts the last quick answer's state in sequence 0; returns how much of it to keep:
    /// `keep`, or nothing where it could not be restored. (`save_short` replaces it after the
    /// answer, so it is taken.)
    fn restore_short(&mut self, keep: usize) -> usize {
        let Some(short) = self.short_cache.take() else { return 0 };
        let what = "a quick answer's cache could not be restored";
        if self.restore_seq(&short.state, short.tokens, what) { keep } else { 0 }
    }

    /// Puts a copy of sequence 0 back, with the tokens it holds, and says whether it could; a
    /// failed copy (`what` is logged) forgets the cache, which may hold anything then.
    fn restore_seq(&mut self, state: &SeqState, tokens: KvTokens<LlamaToken>, what: &str) -> bool {
        // `state_seq_set` empties sequence 0 before it fills it.
        match self.ctx.state_seq_set(state, MAIN_SEQ) {
            Ok(()) => {
                self.cached = tokens;
                true
            }
            Err(err) => {
                tracing::warn!(%err, "{what}");
                self.forget_cache();
                false
            }
        }
    }

    /// Keeps what sequence 0 holds now, a quick answer's prompt and answer, as `short_cache`:
    /// memory for a saved place, kept only where `savedPlacesMiB` (`limit` bytes) has room for
    /// one that size.
    fn save_short(&mut self, limit: usize) {
        self.short_cache = None;
        if limit == 0 {
            return;
        }
        self.short_cache = match self.ctx.state_seq_get(MAIN_SEQ, LlamaStateSeqFlags::empty()) {
            Ok(state) if state.byte_len() <= limit => {
                Some(ShortCache { tokens: self.cached.clone(), state })
            }
            Ok(_) => None,
            Err(err) => {
                tracing::warn!(%err, "a quick answer's cache could not be kept");
                None
            }
        };
    }

    /// Evaluates the whole prompt of a job answered quickly (`quick_answer`), as `run` would
    /// have, without generating; a cancel keeps the chunks done.
    fn fill_prompt(&mut self, tokens: &[LlamaToken], job: &Job) -> Result<(), EngineError> {
        let order = job.params.order.unwrap_or(self.family.template.order);
        let loaded = self.load_prompt(tokens, job);
        self.cursor = self.family.cursor_index(tokens, order);
        self.cached.prompt_loaded();
        loaded.map(drop)
    }

    /// Takes the prompt's last token back out of its prefix (see `heal`) and returns its text.
    fn back_off(&self, prompt: &mut Prompt) -> Vec<u8> {
        let vocab = self.model.vocab();
        let last_piece = |last_line: &str| {
            let mut tokens = Vec::new();
            vocab.tokenize_into(last_line.as_bytes(), &mut tokens, false, false);
            let piece = tokens.last().map(|&last| vocab.token_to_piece(last, false, None).to_vec());
            Ok::<_, std::convert::Infallible>(piece)
        };
        let Ok(typed) = heal::back_off(prompt, last_piece);
        typed.into_bytes()
    }

    /// Before `tokens` replace the cache: saves the cached place when the prompt leaves it, and
    /// restores a saved place the prompt comes back to (see `places`). A failed copy loses only
    /// the saving: the prompt is then evaluated as it would have been.
    fn visit_place(&mut self, tokens: &[LlamaToken], job: &Job) {
        let limit = job.params.saved_places_bytes;
        if limit == 0 {
            return;
        }
        match self.places.visit(self.cached.tokens(), self.cursor, tokens) {
            Visit::Stay => {}
            Visit::Save => self.save_place(limit),
            Visit::Restore { index, save_current } => {
                let place = self.places.take(index);
                if save_current {
                    self.save_place(limit);
                }
                let copying = Instant::now();
                let restored_len = place.tokens.len();
                let tokens = KvTokens::restored(place.tokens, place.prompt_len);
                let what = "a saved place could not be restored";
                if self.restore_seq(&place.state, tokens, what) {
                    self.stats.place_restored(restored_len, copying.elapsed());
                    self.cursor = place.cursor;
                }
            }
        }
    }

    /// Copies sequence 0 out of the KV cache as a saved place.
    fn save_place(&mut self, limit: usize) {
        let copying = Instant::now();
        match self.ctx.state_seq_get(MAIN_SEQ, LlamaStateSeqFlags::empty()) {
            Ok(state) => {
                let bytes = state.byte_len();
                let tokens = self.cached.tokens().to_vec();
                let prompt_len = self.cached.prompt_len();
                self.places.save(tokens, prompt_len, self.cursor, state, bytes, limit);
                self.stats.place_saved(copying.elapsed());
            }
            Err(err) => tracing::warn!(%err, "the cached place could not be saved"),
        }
    }

    /// Brings the KV cache to `tokens`, reusing what it holds; returns (reused tokens, logits
    /// index).
    fn load_prompt(
        &mut self,
        tokens: &[LlamaToken],
        job: &Job,
    ) -> Result<(usize, i32), EngineError> {
        // The chunks evaluated here stay in the cache: a cancel lets the one running finish
        // unless someone waits who cannot use it (`running`).
        self.running.evaluating(Some(Place::of(&job.input)), job.params.background);
        let loaded = match self.cached.plan(tokens, job.params.kv_shift) {
            ReusePlan::Shift(shift) => self.shift_reuse(tokens, shift, job),
            ReusePlan::Prefix { keep } => self
                .keep_prefix(keep)
                .and_then(|reused| Ok((reused, self.evaluate(&tokens[reused..], job)?))),
        };
        self.running.evaluating(None, false);
        loaded
    }

    /// Drops the cache beyond its first `keep` tokens; returns how many are kept.
    fn keep_prefix(&mut self, keep: usize) -> Result<usize, EngineError> {
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

    /// Times a background chunk of throwaway tokens before the first job, so that the first
    /// request knows the prompt speed (`quick_answer`). Without it, that request evaluated and
    /// timed a chunk of its whole prompt first: 1.4 s on a 2-core CPU before its quick answer,
    /// most of it llama.cpp's first decode in the process (threads starting, the weights' first
    /// reads), paid here untimed on one token while the user is still opening a file.
    fn time_prompt_speed(&mut self) {
        let decode = |worker: &mut Self, tokens: usize| {
            let mut batch = LlamaBatch::new(tokens, 1);
            for pos in 0..tokens {
                // Token ids are in every vocabulary from 0 on; what they compute is dropped.
                let token = LlamaToken(pos as i32);
                batch.add(token, pos as i32, &[MAIN_SEQ], pos + 1 == tokens).ok()?;
            }
            let decoding = Instant::now();
            let decoded = worker.ctx.decode(&mut batch);
            worker.ctx.clear_kv_cache();
            decoded.ok().map(|()| decoding.elapsed())
        };
        if decode(self, 1).is_some()
            && let Some(took) = decode(self, BACKGROUND_CHUNK)
        {
            self.prompt_speed.note(BACKGROUND_CHUNK, took);
            tracing::debug!(ms = took.as_secs_f64() * 1000.0, "prompt speed timed");
        }
    }

    fn forget_cache(&mut self) {
        self.ctx.clear_kv_cache();
        self.cached.forget();
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
        let size = if job.params.background { BACKGROUND_CHUNK } else { PROMPT_CHUNK };
        for chunk in kv::chunks(tokens, start, size) {
            if job.handle.is_cancelled() {
                return Err(EngineError::Cancelled);
            }
            batch.clear();
            for (token, pos, logits) in chunk.entries() {
                batch
                    .add(token, pos, &[seq], logits)
                    .map_err(|e| EngineError::Decode(e.to_string()))?;
            }
            let decoding = Instant::now();
            self.decode(&mut batch)?;
            self.prompt_speed.note(chunk.tokens.len(), decoding.elapsed());
            self.stats.tokens_evaluated(chunk.tokens.len());
            if seq == MAIN_SEQ {
                self.cached.append(chunk.start, chunk.tokens);
            }
        }
        Ok(batch.n_tokens() - 1)
    }

    /// Carries out a `kv::Shift`: the shared tail's cells are moved instead of evaluated again.
    /// Only the edited stretch between the common prefix and the shifted tail (`Shift::gap`) is
    /// evaluated, in scratch sequence 1 (llama.cpp requires a sequence's new positions to follow
    /// its last one), then handed to sequence 0; the prompt's last token is evaluated last, for
    /// its logits.
    ///
    /// The shifted cells keep what they computed next to the old text, an approximation the
    /// cache-reuse idea accepts; a cold evaluation could differ slightly. Returns (reused
    /// tokens, logits index).
    fn shift_reuse(
        &mut self,
        tokens: &[LlamaToken],
        shift: Shift,
        job: &Job,
    ) -> Result<(usize, i32), EngineError> {
        let result = self.shift_and_fill(tokens, shift, job);
        if result.is_err() {
            // Leave a consistent cache behind: `cached` (the common prefix, or more once the
            // shifted chunk was in place) and nothing after it.
            let _ = self.ctx.kv_cache_seq_rm(SCRATCH_SEQ, None, None);
            if self.ctx.kv_cache_seq_rm(MAIN_SEQ, Some(self.cached.len() as u32), None).is_err() {
                self.forget_cache();
            }
        }
        result.map(|index| (shift.reused(), index))
    }

    fn shift_and_fill(
        &mut self,
        tokens: &[LlamaToken],
        shift: Shift,
        job: &Job,
    ) -> Result<i32, EngineError> {
        let kv = |e: llama_cpp_2::context::kv_cache::KvCacheConversionError| {
            EngineError::Decode(e.to_string())
        };
        let u = |n: usize| Some(n as u32);
        let Shift { common, old_start, new_start, .. } = shift;
        let moved = shift.moved_from();
        // Until the chunk is in place, only the common prefix is known to be right.
        self.cached.truncate(common);
        // Drop the stale stretch and everything after the chunk, then move the chunk.
        self.ctx.kv_cache_seq_rm(MAIN_SEQ, u(moved.end), None).map_err(kv)?;
        self.ctx.kv_cache_seq_rm(MAIN_SEQ, u(common), u(old_start)).map_err(kv)?;
        self.ctx
            .kv_cache_seq_add(MAIN_SEQ, u(moved.start), u(moved.end), shift.delta())
            .map_err(kv)?;
        // The edited stretch, in the scratch sequence that shares the common prefix.
        let gap = &tokens[shift.gap()];
        if !gap.is_empty() {
            self.ctx.kv_cache_seq_cp(MAIN_SEQ, SCRATCH_SEQ, None, u(common)).map_err(kv)?;
            self.evaluate_at(gap, common, SCRATCH_SEQ, job)?;
            self.ctx.kv_cache_seq_cp(SCRATCH_SEQ, MAIN_SEQ, u(common), u(new_start)).map_err(kv)?;
            self.ctx.kv_cache_seq_rm(SCRATCH_SEQ, None, None).map_err(kv)?;
        }
        // The gap and the shifted tail are in sequence 0 now.
        self.cached.append(common, &tokens[common..shift.rest_from()]);
        self.evaluate(&tokens[shift.rest_from()..], job)
    }

    fn decode(&mut self, batch: &mut LlamaBatch) -> Result<(), EngineError> {
        match self.ctx.decode(batch) {
            Ok(()) => Ok(()),
            // Cancelled mid-batch: llama.cpp has removed the batch's cells (one batch is one
            // ubatch here); removing everything past `cached` keeps the cache exact even if it
            // had not.
            Err(DecodeError::Unknown(abort::DECODE_ABORTED)) => {
                let keep = Some(self.cached.len() as u32);
                if self.ctx.kv_cache_seq_rm(MAIN_SEQ, keep, None).is_err() {
                    self.forget_cache();
                }
                let _ = self.ctx.kv_cache_seq_rm(SCRATCH_SEQ, None, None);
                Err(EngineError::Cancelled)
            }
            Err(e) => {
                // The cache may hold part of the batch now; rebuild it from scratch next time.
                self.forget_cache();
                Err(EngineError::Decode(e.to_string()))
            }
        }
    }

    /// Samples until a stop token, the token limit, the end of the line in single-line mode, or
    /// cancellation (checked before every token).
    ///
    /// With greedy sampling and `draft_tokens`, each decode call also carries a draft (`draft`):
    /// the tokens that followed the last occurrence of what was just written. A drafted token
    /// whose position the model then fills with that same token is already decoded, and its
    /// logits give the next choice at once; the first one that differs is removed from the
    /// cache with every draft after it. The text is what one-token decoding writes.
    ///
    /// With `healing` pending, the first tokens are the model's best among those that agree
    /// with the typed text it must write again, and only what follows that text is kept.
    fn generate(
        &mut self,
        params: &GenerationParams,
        handle: &JobHandle,
        mut logits_index: i32,
        mut healing: Healing,
        mut early: Option<EarlyLines<'_>>,
    ) -> Result<Generated, EngineError> {
        let mut sampler = make_sampler(&params.sampling);
        let greedy = params.sampling.temperature <= 0.0;
        let max_draft = if greedy { params.draft_tokens } else { 0 };
        let mut bytes = Vec::new();
        let mut token_logprobs = Vec::new();
        let mut batch = LlamaBatch::new(1 + max_draft, 1);
        // Drafted tokens decoded after the last sampled one and not yet checked, in order; they
        // are the last entries of `cached`.
        let mut unchecked: VecDeque<LlamaToken> = VecDeque::new();
        let mut generated = 0;
        // The first token the model chooses itself, after any it writes again for healing.
        let mut first_token = None;
        let generating = Instant::now();
        let stop = loop {
            if handle.is_cancelled() {
                return Err(EngineError::Cancelled);
            }
            if generated >= params.max_tokens {
                break StopReason::MaxTokens;
            }
            let (token, logprob) = if healing.is_pending() {
                match self.best_agreeing(logits_index, healing.pending()) {
                    Some(choice) => choice,
                    // No token agrees with the typed text: nothing can be suggested after it.
                    None => break StopReason::StopToken,
                }
            } else {
                let banned = params.banned_first_token.filter(|_| first_token.is_none());
                let token = match banned {
                    Some(banned) => match self.best_except(logits_index, banned) {
                        Some(token) => token,
                        None => break StopReason::StopToken,
                    },
                    None => sampler.sample(&self.ctx, logits_index),
                };
                first_token.get_or_insert(token.0);
                let logits = self.ctx.get_logits_ith(logits_index);
                (token, probability::logprob_of(logits, token_index(token)))
            };
            // Whether `token` is already in the cache: the draft at its position was right.
            let decoded = match unchecked.front() {
                Some(&draft) if draft == token => {
                    unchecked.pop_front();
                    self.stats.draft_accepted();
                    true
                }
                Some(_) => {
                    self.drop_drafts(unchecked.len())?;
                    unchecked.clear();
                    false
                }
                None => false,
            };
            if self.family.is_stop(self.model, token) {
                break StopReason::StopToken;
            }
            generated += 1;
            self.stats.token_generated();
            let piece = self.model.vocab().token_to_piece(token, false, None);
            let piece = healing.take(&piece);
            let piece_len = piece.len();
            handle.record_generated(piece);
            bytes.extend_from_slice(piece);
            token_logprobs.push(TokenLogprob { end: bytes.len(), logprob });
            if params.single_line
                && let Some(newline) = bytes.iter().position(|&b| b == b'\n')
            {
                bytes.truncate(newline);
                break StopReason::EndOfLine;
            }
            // Over its time budget, a multi-line suggestion ends with the line being written.
            let over_budget = params.newline_after.is_some_and(|b| generating.elapsed() > b);
            if over_budget && bytes[bytes.len() - piece_len..].contains(&b'\n') {
                let newline = bytes.iter().rposition(|&b| b == b'\n').unwrap_or(0);
                bytes.truncate(newline);
                break StopReason::TimeBudget;
            }
            if generated >= params.max_tokens {
                break StopReason::MaxTokens;
            }
            // Only while more is to come: a suggestion that ends here goes out whole.
            if let Some(lines) = early.as_mut().filter(|e| Instant::now() >= e.due)
                && let Some((text, token_logprobs)) = whole_lines_so_far(&bytes, &token_logprobs)
            {
                (lines.publish)(Generated {
                    text: self.cut_at_special_text(text),
                    tokens: generated,
                    stop: StopReason::EndOfLine,
                    token_logprobs,
                    first_token,
                });
                early = None;
            }
            if decoded {
                // The next choice comes from the logits of the draft just confirmed.
                logits_index += 1;
                continue;
            }
            // No draft beyond the token limit: those positions are never sampled.
            // Nor while the typed text is being written again: its tokens are chosen apart.
            let room = if healing.is_pending() { 0 } else { max_draft };
            let room = room.min(params.max_tokens - generated - 1);
            let draft = draft::lookup(self.cached.tokens(), token, room);
            batch.clear();
            let pos = self.cached.len();
            for (i, &t) in std::iter::once(&token).chain(&draft).enumerate() {
                batch
                    .add(t, (pos + i) as i32, &[MAIN_SEQ], true)
                    .map_err(|e| EngineError::Decode(e.to_string()))?;
            }
            self.decode(&mut batch)?;
            self.cached.push(token);
            for &t in &draft {
                self.cached.push(t);
            }
            self.stats.drafted(draft.len());
            unchecked.extend(draft);
            logits_index = 0;
        };
        if stop == StopReason::MaxTokens && !params.single_line {
            whole_lines(&mut bytes);
        }
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let text = self.cut_at_special_text(text);
        Ok(Generated { text, tokens: generated, stop, token_logprobs, first_token })
    }

    /// The most likely token at `logits_index` among those that agree with `typed` (see
    /// `heal`), and its log-probability among them: how sure the model is of what follows the
    /// typed text, given that it goes on from it.
    fn best_agreeing(&self, logits_index: i32, typed: &[u8]) -> Option<(LlamaToken, f32)> {
        let logits = self.ctx.get_logits_ith(logits_index);
        let pieces = self.pieces.get_or_init(|| {
            let vocab = self.model.vocab();
            Pieces::new(
                vocab
                    .tokens()
                    .filter(|&token| !self.family.is_stop(self.model, token))
                    .map(|token| (token, vocab.token_to_piece(token, false, None))),
            )
        });
        let candidates: Vec<usize> = pieces.candidates(typed).map(token_index).collect();
        let (best, logprob) = probability::best_among(logits, &candidates)?;
        Some((LlamaToken(i32::try_from(best).ok()?), logprob))
    }

    /// The most likely token at `logits_index` other than `banned`: a second opinion's first
    /// choice, greedy whatever the sampling settings.
    fn best_except(&self, logits_index: i32, banned: i32) -> Option<LlamaToken> {
        let logits = self.ctx.get_logits_ith(logits_index);
        let banned = usize::try_from(banned).ok();
        let candidates: Vec<usize> = (0..logits.len()).filter(|&i| Some(i) != banned).collect();
        let (best, _) = probability::best_among(logits, &candidates)?;
        Some(LlamaToken(i32::try_from(best).ok()?))
    }

    /// Removes the last `n` cached tokens, drafts the model did not confirm, from the cache.
    fn drop_drafts(&mut self, n: usize) -> Result<(), EngineError> {
        let keep = self.cached.len() - n;
        match self.ctx.kv_cache_seq_rm(MAIN_SEQ, Some(keep as u32), None) {
            Ok(()) => {
                self.cached.truncate(keep);
                Ok(())
            }
            _ => {
                self.forget_cache();
                Err(EngineError::Decode(
                    "could not remove unconfirmed drafts from the cache".into(),
                ))
            }
        }
    }

    /// A model can spell a special token out of ordinary pieces; such text never reaches the
    /// editor either.
    fn cut_at_special_text(&self, text: String) -> String {
        cut_at_special_text(self.family.template, text)
    }
}

/// A token's index in the logits (an out-of-range index for a negative id: no probability).
fn token_index(token: LlamaToken) -> usize {
    usize::try_from(token.0).unwrap_or(usize::MAX)
}

/// `text` up to the first spelling of one of `template`'s special tokens.
pub(super) fn cut_at_special_text(template: &prompt::FimTemplate, mut text: String) -> String {
    if let Some(cut) = template.special_texts().filter_map(|special| text.find(special)).min() {
        text.truncate(cut);
    }
    text
}

/// A multi-line suggestion cut off by the token limit ends with its last whole line: a line
/// stopped half-way is almost never right. A first line that did not end is kept as it is.
pub(super) fn whole_lines(bytes: &mut Vec<u8>) {
    if let Some(newline) = bytes.iter().rposition(|&b| b == b'\n') {
        bytes.truncate(newline);
    }
}

/// The whole lines of generated `bytes` (up to the last line break) and the probabilities of
/// their tokens, if they hold more than white space: what a suggestion still being written
/// can show already.
pub(super) fn whole_lines_so_far(
    bytes: &[u8],
    token_logprobs: &[TokenLogprob],
) -> Option<(String, Vec<TokenLogprob>)> {
    let end = bytes.iter().rposition(|&b| b == b'\n')?;
    bytes[..end].iter().any(|b| !b.is_ascii_whitespace()).then(|| {
        let text = String::from_utf8_lossy(&bytes[..end]).into_owned();
        (text, token_logprobs.iter().copied().filter(|t| t.end <= end).collect())
    })
}

/// When `Worker::generate` publishes a suggestion's whole lines while it writes the rest
/// (`GenerationParams::early_lines_after`), and how.
struct EarlyLines<'a> {
    due: Instant,
    publish: &'a mut dyn FnMut(Generated),
}

/// What `Worker::generate` produced.
struct Generated {
    text: String,
    tokens: usize,
    stop: StopReason,
    token_logprobs: Vec<TokenLogprob>,
    first_token: Option<i32>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_suggestion_cut_by_the_token_limit_keeps_its_whole_lines() {
        let cut = |text: &str| {
            let mut bytes = text.as_bytes().to_vec();
            whole_lines(&mut bytes);
            String::from_utf8(bytes).unwrap()
        };
        assert_eq!(cut("if x:\n    return y\n    el"), "if x:\n    return y");
        assert_eq!(cut("a = 1\n"), "a = 1");
        assert_eq!(cut("a_long_first_line("), "a_long_first_line(");
    }
}
