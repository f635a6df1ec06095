//! Engine stage: one dedicated thread owns the llama.cpp context (it is not `Send`); completion
//! jobs reach it over a channel and answer over a oneshot. The model loads on that thread in the
//! background, and its progress is published on a `watch` channel.
//!
//! Nothing here runs on a tokio worker: `generate` only sends a job and awaits the answer.

mod abort;
pub mod device;
mod draft;
mod heal;
mod kv;
mod last_prompts;
pub mod model;
mod places;
pub mod probability;
mod quick;
pub mod remote;
mod running;
pub mod stats;
mod vocab;
mod worker;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

use tokio::sync::{oneshot, watch};

use crate::config::{FlashAttention, KvCacheType, Settings};
use crate::prompt::{Budgets, FimInput, Order};
pub use model::{ModelError, ModelOrigin};
pub use probability::TokenLogprob;
use running::Running;
pub use stats::{EngineStats, EngineStatsSnapshot};

/// What the engine is doing, as the server reports it to the editor.
#[derive(Debug, Clone)]
pub enum EngineStatus {
    Loading {
        path: PathBuf,
    },
    Ready(Arc<ModelInfo>),
    /// The model will not load: every job fails until a restart.
    Failed(String),
    /// A remote engine's server failed or cannot be reached; it is probed again with backoff
    /// and becomes `Ready` by itself when it answers.
    Unreachable(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct ModelInfo {
    pub path: PathBuf,
    /// Prompt family (row of `prompt::template::TEMPLATES`).
    pub family: &'static str,
    pub context_size: u32,
    pub load_ms: u64,
    /// Where it runs ("Vulkan0: llvmpipe, 25/25 layers", "CPU, 2 threads": `device::placement`).
    pub placement: String,
    /// A setting that could not be honoured (`gpuLayers` without a GPU), for the user.
    pub warning: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("the model is not loaded: {0}")]
    NotLoaded(String),
    #[error("llama.cpp backend: {0}")]
    Backend(String),
    #[error("could not create the llama.cpp context: {0}")]
    Context(String),
    #[error(transparent)]
    Vocab(#[from] vocab::VocabError),
    #[error(
        "prompt of {prompt_tokens} tokens plus {max_tokens} to generate exceeds the context of \
         {context_size}; lower prefixTokens/suffixTokens or raise contextSize"
    )]
    PromptTooLong { prompt_tokens: usize, max_tokens: usize, context_size: usize },
    #[error("llama.cpp decode failed: {0}")]
    Decode(String),
    #[error("the engine failed unexpectedly: {0}")]
    Panicked(String),
    #[error("the engine thread has stopped")]
    Stopped,
    #[error("cancelled")]
    Cancelled,
    /// A remote engine's server failed (says which server and how).
    #[error("{0}")]
    Remote(String),
}

/// A model job's handle, shared by whoever started the job, the requests waiting for it and the
/// engine. Two things pass through it: the cancel flag, which the owner raises and the engine
/// checks between tokens, and the text generated so far, which the engine publishes so that a
/// newer request can tell whether the user is typing what the job is writing (and wait for it
/// instead of cancelling it). Cheap to clone; clones are the same job.
#[derive(Debug, Clone, Default)]
pub struct JobHandle(Arc<JobState>);

#[derive(Debug, Default)]
struct JobState {
    cancelled: AtomicBool,
    /// When the flag was first raised: the engine measures how long a job ran on after it.
    raised_at: OnceLock<Instant>,
    /// The raw bytes generated so far (before post-processing; may end inside a UTF-8 char).
    generated: Mutex<Vec<u8>>,
    /// Tests only: raise the flag at this abort check inside a decode (0: never), to cancel
    /// in the middle of a prompt chunk deterministically; with `hook_interrupts`, as if a job
    /// waited that cannot use the chunk (see `running`).
    cancel_at_abort_check: AtomicU32,
    hook_interrupts: AtomicBool,
    /// The suggestion's whole lines so far, published while the rest is still being written
    /// (`GenerationParams::early_lines_after`).
    early_lines: watch::Sender<Option<Arc<Generation>>>,
}

impl JobState {
    /// One of llama.cpp's checks during a decode (`abort.rs`): whether to stop it now. A
    /// cancelled decode stops when `abort_cancelled` says so (`Running::abort_cancelled`).
    fn abort_check(&self, abort_cancelled: impl FnOnce() -> bool) -> bool {
        let countdown = self.cancel_at_abort_check.load(Ordering::Relaxed);
        if countdown > 0 && self.cancel_at_abort_check.fetch_sub(1, Ordering::Relaxed) == 1 {
            JobHandle::raise(self);
        }
        self.cancelled.load(Ordering::Acquire)
            && (self.hook_interrupts.load(Ordering::Relaxed) || abort_cancelled())
    }
}

impl JobHandle {
    pub fn cancel(&self) {
        Self::raise(&self.0);
    }
    fn raise(state: &JobState) {
        let _ = state.raised_at.set(Instant::now());
        // Release: whoever sees the flag also sees `raised_at`.
        state.cancelled.store(true, Ordering::Release);
    }
    /// Tests only: cancel the job at the `checks`-th abort check inside llama.cpp's decode, as a
    /// user's keystroke would in the middle of a prompt chunk when its request is at another
    /// place (`interrupt`: the decode stops there) or at the same place (it finishes the chunk).
    #[doc(hidden)]
    pub fn cancel_inside_decode(&self, checks: u32, interrupt: bool) {
        self.0.hook_interrupts.store(interrupt, Ordering::Relaxed);
        self.0.cancel_at_abort_check.store(checks, Ordering::Relaxed);
    }
    pub fn is_cancelled(&self) -> bool {
        self.0.cancelled.load(Ordering::Acquire)
    }
    /// When the flag was first raised, if it was.
    pub fn raised_at(&self) -> Option<Instant> {
        self.0.raised_at.get().copied()
    }
    /// The text the job has generated so far (raw: before post-processing), up to its last
    /// complete character.
    pub fn generated_text(&self) -> String {
        let bytes = self.0.generated.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match std::str::from_utf8(&bytes) {
            Ok(text) => text.to_string(),
            Err(err) => String::from_utf8_lossy(&bytes[..err.valid_up_to()]).into_owned(),
        }
    }
    /// Forgets the text generated so far: a second answer of the same job starts afresh.
    pub(crate) fn restart_generated(&self) {
        self.0.generated.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clear();
    }
    /// Called by the engine with each generated piece.
    pub(crate) fn record_generated(&self, piece: &[u8]) {
        let mut bytes = self.0.generated.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        bytes.extend_from_slice(piece);
    }
    /// Called by the engine: the whole lines written so far, as a generation of their own,
    /// while it writes the rest.
    pub(crate) fn publish_early_lines(&self, generation: Generation) {
        self.0.early_lines.send_replace(Some(Arc::new(generation)));
    }
    /// The whole lines the engine published while writing the rest (`publish_early_lines`):
    /// ready as soon as they are, pending forever in a job that publishes none.
    pub async fn early_lines(&self) -> Arc<Generation> {
        let mut receiver = self.0.early_lines.subscribe();
        let lines = receiver.wait_for(Option::is_some).await.ok().and_then(|lines| lines.clone());
        match lines {
            Some(lines) => lines,
            // Never: the sender lives as long as this handle does.
            None => std::future::pending().await,
        }
    }
    /// Whether both handles control the same job.
    pub fn same_as(&self, other: &JobHandle) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
    /// A guard that cancels when dropped: a request future dropped by `$/cancelRequest` or by
    /// the client going away stops its job too.
    pub fn guard(&self) -> CancelOnDrop {
        CancelOnDrop(Some(self.clone()))
    }
}

pub struct CancelOnDrop(Option<JobHandle>);

impl CancelOnDrop {
    /// The job's lifetime is in other hands from now on: dropping the guard cancels nothing.
    pub fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(flag) = &self.0 {
            flag.cancel();
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampling {
    pub temperature: f32,
    pub top_k: i32,
    pub top_p: f32,
    pub seed: u32,
}

/// Per-request generation settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GenerationParams {
    pub max_tokens: usize,
    /// Stop at the end of the first line.
    pub single_line: bool,
    pub budgets: Budgets,
    pub sampling: Sampling,
    /// Prompt order; `None`: the family's own (its row in `prompt::template::TEMPLATES`).
    pub order: Option<Order>,
    /// Generation time after which a multi-line suggestion ends at its next line break.
    pub newline_after: Option<Duration>,
    /// No request waits for this job (prefetch, warm-up): counted apart in the stats.
    pub background: bool,
    /// Reuse a moved block of the cached prompt by shifting it (see `worker::Worker`).
    pub kv_shift: bool,
    /// Memory for the KV state of places the cursor left (`places`); 0 saves none.
    pub saved_places_bytes: usize,
    /// Start the prefix where the document's last prompt did, while that serves
    /// (`last_prompts`).
    pub sticky_prefix: bool,
    /// Text typed at the cursor of the document's last prompt opens the middle of that prompt
    /// instead of a fresh one (`prompt::typed_middle`).
    pub typed_middle: bool,
    /// Tokens drafted per decode call from earlier text (`draft`), greedy decoding only; 0: none.
    pub draft_tokens: usize,
    /// Take the prompt's last token back and let the model write it again (`heal`).
    pub token_healing: bool,
    /// A token the model may not choose first (its choice for a second opinion: the first
    /// answer broke the syntax, `completion::syntax`).
    pub banned_first_token: Option<i32>,
    /// Answer from a short prompt first when the whole one would take longer than this to
    /// evaluate (`quick`); `None`: never.
    pub quick_answer_after: Option<Duration>,
    /// A multi-line suggestion still being written this long after the job started publishes
    /// its whole lines so far (`JobHandle::early_lines`) and writes on; `None`: never.
    pub early_lines_after: Option<Duration>,
}

impl GenerationParams {
    /// When a job started at `started` publishes its whole lines so far: never for background
    /// work (nobody waits) or a single-line suggestion (a quick answer's included).
    pub(crate) fn early_lines_due(&self, started: Instant) -> Option<Instant> {
        let after = self.early_lines_after.filter(|_| !self.background && !self.single_line)?;
        Some(started + after)
    }

    pub fn from_settings(settings: &Settings, single_line: bool) -> Self {
        Self {
            max_tokens: settings.max_tokens,
            single_line,
            budgets: settings.budgets(),
            sampling: Sampling {
                temperature: settings.temperature,
                top_k: settings.top_k,
                top_p: settings.top_p,
                seed: settings.seed,
            },
            order: settings.fim_order.order(),
            newline_after: (settings.generation_budget_ms > 0)
                .then(|| Duration::from_millis(settings.generation_budget_ms)),
            background: false,
            kv_shift: settings.kv_shift,
            saved_places_bytes: settings.saved_places_mib.saturating_mul(1 << 20),
            sticky_prefix: settings.keep_prompt_front,
            typed_middle: settings.typed_middle,
            draft_tokens: settings.draft_tokens,
            token_healing: settings.token_healing,
            banned_first_token: None,
            quick_answer_after: (settings.quick_answer_after_ms > 0)
                .then(|| Duration::from_millis(settings.quick_answer_after_ms)),
            early_lines_after: (settings.early_lines_after_ms > 0 && !single_line)
                .then(|| Duration::from_millis(settings.early_lines_after_ms)),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum StopReason {
    StopToken,
    MaxTokens,
    EndOfLine,
    /// The generation time budget ran out and a line ended.
    TimeBudget,
}

/// One finished generation with the figures the editor trace and the CLI report.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Generation {
    /// Generated text, special tokens never included.
    pub text: String,
    /// The prompt as the engine saw it, special tokens rendered as their text.
    pub prompt: String,
    pub prompt_tokens: usize,
    /// Prompt tokens found in the KV cache / evaluated for this job.
    pub reused_tokens: usize,
    pub evaluated_tokens: usize,
    pub generated_tokens: usize,
    pub prompt_ms: f64,
    pub generation_ms: f64,
    pub stop: StopReason,
    /// Other files shown to the model (repository context), in prompt order.
    pub context_files: Vec<String>,
    /// The end of the typed text that was taken out of the prompt and written again by the
    /// model (token healing, `heal`); `text` is what follows it.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub healed: String,
    /// The model's probability of each generated token, for the confidence gate (the trace
    /// carries the summary, `completion::confidence::Confidence`, not the list).
    #[serde(skip)]
    pub token_logprobs: Vec<TokenLogprob>,
    /// The first token the model chose itself (not one written again by healing), where the
    /// engine knows its id: what a second opinion bans.
    #[serde(skip)]
    pub first_token: Option<i32>,
    /// Answered from the short prompt (`GenerationParams::quick_answer_after`): `prompt` and
    /// the token counts are its; the whole prompt is evaluated after this answer.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub quick_answer: bool,
}

impl Generation {
    /// This generation standing in for `first`, which it replaces (a second opinion): its text
    /// and probabilities, with the work of both counted, so the figures say what it cost.
    pub fn replacing(mut self, first: &Generation) -> Generation {
        // The prompt was found in the cache by the first call; the second one's reuse is all
        // of it and says nothing.
        self.reused_tokens = first.reused_tokens;
        self.evaluated_tokens += first.evaluated_tokens;
        self.generated_tokens += first.generated_tokens;
        // Until this text's first token: all of the first call, then this one's own wait.
        self.prompt_ms += first.prompt_ms + first.generation_ms;
        self
    }

    /// This generation, with the work of `discarded` (a second opinion not kept) counted in.
    pub fn counting(mut self, discarded: &Generation) -> Generation {
        self.evaluated_tokens += discarded.evaluated_tokens;
        self.generated_tokens += discarded.generated_tokens;
        self.generation_ms += discarded.prompt_ms + discarded.generation_ms;
        self
    }
}

/// What the engine thread receives.
pub enum Message {
    /// Boxed: a job carries the prompt's text and context, much larger than a `Stop`.
    Job(Box<Job>),
    /// Finish the current job, free the model and context, acknowledge, and end the thread:
    /// a process must not exit while llama.cpp is working on another thread.
    Stop(oneshot::Sender<()>),
}

pub struct Job {
    pub input: FimInput,
    pub params: GenerationParams,
    pub handle: JobHandle,
    pub reply: oneshot::Sender<Result<Generation, EngineError>>,
    /// Counted as waiting for the running work to stop (`Running::job_sent`).
    waits: bool,
    /// When it was sent: how long it waited for the engine thread is logged (debug).
    sent: Instant,
}

/// What the engine thread needs from the settings.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub family: Option<String>,
    pub threads: usize,
    pub context_size: u32,
    /// Layers offloaded to a GPU (`None`: all when there is one, `device::offload`).
    pub gpu_layers: Option<u32>,
    /// The GPU that holds the model when there are several.
    pub main_gpu: u32,
    pub flash_attention: FlashAttention,
    pub kv_cache_type: KvCacheType,
}

impl EngineConfig {
    pub fn from_settings(settings: &Settings) -> Self {
        Self {
            family: settings.family.clone(),
            threads: settings.threads(),
            context_size: settings.context_size,
            gpu_layers: settings.gpu_layers,
            main_gpu: settings.main_gpu,
            flash_attention: settings.flash_attention,
            kv_cache_type: settings.kv_cache_type,
        }
    }

    /// On the CPU, with `threads` threads and a KV window of `context_size` tokens.
    pub fn cpu(threads: usize, context_size: u32) -> Self {
        Self {
            family: None,
            threads,
            context_size,
            gpu_layers: Some(0),
            main_gpu: 0,
            flash_attention: FlashAttention::default(),
            kv_cache_type: KvCacheType::default(),
        }
    }
}

/// hf-hub's progress reports into a watch channel, at most once per percent (a client is told
/// of each change).
struct DownloadProgress {
    sender: watch::Sender<Option<(u64, u64)>>,
    done: u64,
    total: u64,
    percent: u64,
}

impl DownloadProgress {
    fn new(sender: watch::Sender<Option<(u64, u64)>>) -> Self {
        Self { sender, done: 0, total: 0, percent: u64::MAX }
    }
}

impl hf_hub::api::Progress for DownloadProgress {
    fn init(&mut self, size: usize, _filename: &str) {
        // Called again on a resumed download, followed by the bytes already there.
        self.total = size as u64;
        self.done = 0;
    }

    fn update(&mut self, size: usize) {
        self.done += size as u64;
        let percent = (self.done * 100).checked_div(self.total).unwrap_or(0);
        if percent != self.percent {
            self.percent = percent;
            self.sender.send_replace(Some((self.done, self.total)));
        }
    }

    fn finish(&mut self) {}
}

/// Handle to the engine thread. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    jobs: Option<mpsc::Sender<Message>>,
    status: watch::Receiver<EngineStatus>,
    stats: Arc<EngineStats>,
    /// What is downloaded (the model as the settings name it), and its bytes done and total
    /// while it downloads; the channel closes when the download ends.
    download: Option<(String, DownloadBytes)>,
    /// What the engine thread runs: its own background work, which any new job cancels, and
    /// (in-process) whether a cancelled decode stops at once (`running`).
    running: Option<Arc<Running>>,
}

/// A download's bytes done and total, once known.
pub type DownloadBytes = watch::Receiver<Option<(u64, u64)>>;

impl Engine {
    /// Starts the engine thread, which loads `path` in the background.
    pub fn start(path: PathBuf, origin: ModelOrigin, config: EngineConfig) -> Self {
        let (status_tx, status) = watch::channel(EngineStatus::Loading { path: path.clone() });
        let (jobs_tx, jobs_rx) = mpsc::channel();
        let stats = Arc::new(EngineStats::default());
        let worker_stats = stats.clone();
        let running = Arc::new(Running::default());
        let worker_running = running.clone();
        let spawned = std::thread::Builder::new().name("infill-engine".into()).spawn(move || {
            let running = &worker_running;
            worker::run(&path, origin, &config, jobs_rx, &status_tx, &worker_stats, running);
        });
        match spawned {
            Ok(_) => {
                Self { jobs: Some(jobs_tx), status, stats, download: None, running: Some(running) }
            }
            Err(err) => Self::failed(format!("could not start the engine thread: {err}")),
        }
    }

    /// Starts a remote engine's thread, which probes the server in the background; prompts
    /// are built here and sent to it (`remote`).
    pub fn start_remote(remote: remote::RemoteConfig, config: EngineConfig) -> Self {
        let path = PathBuf::from(&remote.url);
        let (status_tx, status) = watch::channel(EngineStatus::Loading { path });
        let (jobs_tx, jobs_rx) = mpsc::channel();
        let stats = Arc::new(EngineStats::default());
        let worker_stats = stats.clone();
        let running = Arc::new(Running::default());
        let worker_running = running.clone();
        let spawned = std::thread::Builder::new().name("infill-remote".into()).spawn(move || {
            remote::run(remote, &config, jobs_rx, &status_tx, &worker_stats, &worker_running);
        });
        match spawned {
            Ok(_) => {
                Self { jobs: Some(jobs_tx), status, stats, download: None, running: Some(running) }
            }
            Err(err) => Self::failed(format!("could not start the remote engine thread: {err}")),
        }
    }

    /// Starts the engine thread, which checks `model`'s copy in the cache or downloads it from
    /// the hub, then loads it. The status says loading meanwhile; `download_progress` follows
    /// the bytes.
    /// A failure is told after `context` when there is one (the zero-config default says what
    /// was tried before it).
    pub fn start_download(
        model: crate::models::ModelRef,
        value: PathBuf,
        context: Option<String>,
        config: EngineConfig,
    ) -> Self {
        let what = value.display().to_string();
        let (status_tx, status) = watch::channel(EngineStatus::Loading { path: value });
        let (progress_tx, progress) = watch::channel(None);
        let (jobs_tx, jobs_rx) = mpsc::channel();
        let stats = Arc::new(EngineStats::default());
        let worker_stats = stats.clone();
        let running = Arc::new(Running::default());
        let worker_running = running.clone();
        let spawned = std::thread::Builder::new().name("infill-engine".into()).spawn(move || {
            // A copy in the cache that infill has not checked yet is checked here, off the
            // async workers, and used when right; the hub is asked only otherwise.
            let downloaded = match model.check_local() {
                Some(path) => Ok(path),
                None => model.hub_file().and_then(|file| {
                    let file = file.expect("a hub model");
                    tracing::info!(%file, "downloading the model");
                    crate::models::hub::download(&file, DownloadProgress::new(progress_tx))
                }),
            };
            match downloaded {
                Ok(path) => {
                    tracing::info!(path = %path.display(), "loading model");
                    let origin = ModelOrigin::InitializationOptions;
                    let (stats, running) = (&worker_stats, &worker_running);
                    worker::run(&path, origin, &config, jobs_rx, &status_tx, stats, running);
                }
                Err(err) => {
                    tracing::error!(%err, "model not downloaded");
                    let message = match &context {
                        Some(context) => format!("{context}: {err}"),
                        None => err.to_string(),
                    };
                    status_tx.send_replace(EngineStatus::Failed(message));
                }
            }
        });
        match spawned {
            Ok(_) => Self {
                jobs: Some(jobs_tx),
                status,
                stats,
                download: Some((what, progress)),
                running: Some(running),
            },
            Err(err) => Self::failed(format!("could not start the engine thread: {err}")),
        }
    }

    /// What the engine downloads, and its progress (bytes done, total), for an engine started
    /// by `start_download`, also after the download ended (a small file can be done before the
    /// editor is told it began).
    pub fn download_progress(&self) -> Option<(String, DownloadBytes)> {
        self.download.clone()
    }

    /// An engine that never loaded (e.g. no model found): every job is answered with `message`.
    pub fn failed(message: String) -> Self {
        let (_, status) = watch::channel(EngineStatus::Failed(message));
        Self { jobs: None, status, stats: Arc::default(), download: None, running: None }
    }

    /// The engine's counters so far (model calls, cancellations).
    pub fn stats(&self) -> EngineStatsSnapshot {
        self.stats.snapshot()
    }

    pub fn status(&self) -> EngineStatus {
        self.status.borrow().clone()
    }

    /// A receiver to await status changes (loading → ready/failed).
    pub fn watch_status(&self) -> watch::Receiver<EngineStatus> {
        self.status.clone()
    }

    /// Waits until the model is ready or has failed; returns the final status.
    pub async fn wait_loaded(&self) -> EngineStatus {
        let mut status = self.status.clone();
        let result = status
            .wait_for(|s| !matches!(s, EngineStatus::Loading { .. }))
            .await
            .map(|s| s.clone());
        // The sender only goes away when the thread ended; report what it last said.
        result.unwrap_or_else(|_| self.status())
    }

    /// Stops the engine thread after its current job (cancel that first) and waits, at most a
    /// few seconds, until the model is freed. Later jobs fail with `EngineError::Stopped`.
    pub async fn stop(&self) {
        let Some(jobs) = &self.jobs else { return };
        if let Some(running) = &self.running {
            running.stop_sent();
        }
        let (ack, stopped) = oneshot::channel();
        if jobs.send(Message::Stop(ack)).is_ok() {
            let _ = tokio::time::timeout(Duration::from_secs(5), stopped).await;
        }
    }

    /// Runs one completion on the engine thread.
    pub async fn generate(
        &self,
        input: FimInput,
        params: GenerationParams,
        handle: JobHandle,
    ) -> Result<Generation, EngineError> {
        if let EngineStatus::Failed(message) = self.status() {
            return Err(EngineError::NotLoaded(message));
        }
        let jobs = self.jobs.as_ref().ok_or(EngineError::Stopped)?;
        // The engine's own background work gives way to any job.
        let waits = self.running.as_ref().is_some_and(|r| r.job_sent(&input, params.background));
        let (reply, answer) = oneshot::channel();
        let job = Job { input, params, handle, reply, waits, sent: Instant::now() };
        jobs.send(Message::Job(Box::new(job))).map_err(|_| EngineError::Stopped)?;
        answer.await.map_err(|_| EngineError::Stopped)?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generation(text: &str, evaluated: usize, generated: usize, ms: (f64, f64)) -> Generation {
        Generation {
            text: text.to_string(),
            prompt: "<p>".to_string(),
            prompt_tokens: 100,
            reused_tokens: 100 - evaluated,
            evaluated_tokens: evaluated,
            generated_tokens: generated,
            prompt_ms: ms.0,
            generation_ms: ms.1,
            stop: StopReason::EndOfLine,
            context_files: Vec::new(),
            healed: String::new(),
            token_logprobs: Vec::new(),
            first_token: None,
            quick_answer: false,
        }
    }

    #[test]
    fn a_second_opinion_s_figures_count_the_work_of_both_calls() {
        let first = generation("{", 60, 2, (900.0, 40.0));
        let second = generation("Builder<K> {", 1, 5, (10.0, 100.0));

        let kept = second.clone().replacing(&first);
        assert_eq!(kept.text, "Builder<K> {");
        assert_eq!((kept.reused_tokens, kept.evaluated_tokens, kept.generated_tokens), (40, 61, 7));
        assert_eq!((kept.prompt_ms, kept.generation_ms), (950.0, 100.0));

        let discarded = first.clone().counting(&second);
        assert_eq!(discarded.text, "{");
        assert_eq!((discarded.reused_tokens, discarded.evaluated_tokens), (40, 61));
        assert_eq!((discarded.prompt_ms, discarded.generation_ms), (900.0, 150.0));
    }
}
