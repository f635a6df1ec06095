//! Remote engines: a server the user runs (llama-server, an OpenAI-compatible server, Ollama)
//! runs the model. infill builds the prompt exactly as for the local engine (family, repository
//! format, context, budgets counted with the server's tokenizer) and streams the answer back.
//!
//! One OS thread ("infill-remote") serves the same job channel as the local engine thread, so
//! nothing above `Engine::generate` can tell them apart. Its HTTP is blocking (`ureq`), on that
//! thread and on one reader thread per answer (`http::Stream`); no tokio worker ever waits on
//! the server. A failure answers the job with an error, marks the engine `Unreachable` (the
//! editor's status shows it) and probes the server again with backoff; jobs in between fail at
//! once without a request. A probe that works makes it `Ready` again.

mod config;
mod connection;
mod decoding;
mod family;
mod http;
mod llama_server;
mod ollama;
mod openai;
mod quick;
mod stream;
mod tls;
mod tokens;

use std::collections::{HashMap, HashSet};
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::heal::{self, Healing};
use super::last_prompts::LastPrompts;
use super::quick as quick_answers;
use super::running::{Place, Running};
use super::stats::{EngineStats, Outcome};
use super::worker::panic_message;
use super::{
    EngineConfig, EngineError, EngineStatus, Generation, Job, JobHandle, Message, ModelInfo,
    Sampling, StopReason,
};
use crate::prompt::{self, FimTemplate, Piece as PromptPiece, TokenCounter};
pub use config::{Protocol, RemoteConfig};
use decoding::Decoding;
pub use family::{FamilyError, FamilyFrom};
use http::Http;
use quick::{Fill, Quick, ServerPrompts, text_units, units_text};
use stream::Next;

/// What a server told us when it was probed.
pub(super) struct Probe {
    template: &'static FimTemplate,
    family_from: FamilyFrom,
    /// The model's name or path.
    model: String,
    context_size: Option<usize>,
    /// Template token spelling → id, when the server tokenizes (prompts then go as ids).
    special_ids: HashMap<&'static str, u32>,
    bos: Option<u32>,
    /// The tokenizer endpoint for exact counts; `None`: estimates.
    tokenize: Option<tokens::Tokenizer>,
    /// The server can heal: it names each token's text and constrains the first generated
    /// tokens to typed text (llama-server's `with_pieces` and `grammar`; vLLM's `/detokenize`
    /// and `structured_outputs`). Only then does typing at the cursor continue the last prompt
    /// (`prompt::typed_middle`), as in-process.
    heals: bool,
}

/// A request that only has the server evaluate its prompt: its one token (a server writes at
/// least one) is not read.
const EVALUATE_ONLY: Request = Request {
    max_tokens: 0,
    single_line: false,
    sampling: Sampling { temperature: 0.0, top_k: 1, top_p: 1.0, seed: 0 },
    forced_start: String::new(),
};

/// What a request asks the server for.
pub(super) struct Request {
    max_tokens: usize,
    single_line: bool,
    sampling: Sampling,
    /// Text the answer must start with: the typed text taken back from the prompt's end
    /// (token healing), which the model writes again in its own tokens. Empty: none.
    forced_start: String,
}

impl Request {
    /// What the server stops at: a line break for a single-line suggestion, and the family's
    /// control tokens as text, most telling first (the end of a file, of the text), so a server
    /// that takes only a few gets those (every kind sends the same list).
    fn stop_strings(&self, template: &FimTemplate) -> Vec<&'static str> {
        let mut stop: Vec<&'static str> = Vec::new();
        if self.single_line {
            stop.push("\n");
        }
        let rest = [template.prefix, template.suffix, template.middle];
        let ordered = template.file_sep.into_iter().chain(template.extra_stops.iter().copied());
        for text in ordered.chain(rest).chain(template.repo_name) {
            if !text.is_empty() && !stop.contains(&text) {
                stop.push(text);
            }
        }
        stop
    }
}

/// The JSON of one server-sent event line (`data: {…}`); `None` for the closing `[DONE]` and
/// for the lines that carry no data: a comment (`: ping`, which llama-server sends to keep a
/// long prompt's connection open) or an `event:`/`id:`/`retry:` field. An event that carries an
/// `error` is the server's error.
fn sse_json(line: &str) -> Result<Option<serde_json::Value>, String> {
    const NO_DATA: [&str; 4] = [":", "event:", "id:", "retry:"];
    if NO_DATA.iter().any(|prefix| line.starts_with(prefix)) {
        return Ok(None);
    }
    let Some(data) = line.strip_prefix("data:") else {
        return Err(format!("not an event: {}", excerpt(line)));
    };
    let data = data.trim();
    if data == "[DONE]" {
        return Ok(None);
    }
    let event: serde_json::Value =
        serde_json::from_str(data).map_err(|_| format!("not JSON: {}", excerpt(data)))?;
    if let Some(error) = event.get("error") {
        return Err(format!("the server reported an error: {error}"));
    }
    Ok(Some(event))
}

pub(super) enum Event {
    Piece(Piece),
    /// The server's last word: why it stopped, and its figures.
    Done(Done),
    /// Nothing for us (`[DONE]`).
    Ignore,
}

#[derive(Debug)]
pub(super) struct Piece {
    text: String,
    /// The token ids, when the server says.
    ids: Vec<u32>,
    /// (byte length, log-probability) of each token, when the server says.
    logprobs: Option<Vec<(usize, f32)>>,
}

#[derive(Debug)]
pub(super) struct Done {
    reason: DoneReason,
    piece: Option<Piece>,
    /// The prompt as the server received it, when it echoes it (llama-server).
    prompt: Option<String>,
    cached: Option<usize>,
    evaluated: Option<usize>,
    /// How long the server took for the evaluated prompt tokens, when it says.
    prompt_ms: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DoneReason {
    Stop,
    /// A single-line request's `\n` stop string (the local engine's end of line).
    EndOfLine,
    Length,
}

/// Why probing a server failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProbeError {
    /// It did not answer, or not as the protocol says, or cannot be used.
    #[error("{0}")]
    Server(String),
    /// It answers, but infill cannot tell or cannot use its model's FIM format.
    #[error("{server}: {error}")]
    Family { server: String, error: FamilyError },
}

impl From<String> for ProbeError {
    fn from(message: String) -> Self {
        Self::Server(message)
    }
}

impl ProbeError {
    fn family(http: &Http, error: FamilyError) -> Self {
        Self::Family { server: http.name.clone(), error }
    }
}

/// What a server runs, as `infill doctor` reports it.
#[derive(Debug, Clone)]
pub struct ServerCheck {
    /// "llama-server at http://…".
    pub server: String,
    pub model: String,
    pub family: &'static str,
    pub family_from: FamilyFrom,
}

/// The HTTP client for the server `config` names: its URL, key, trust and timeout.
fn http_to(config: &RemoteConfig) -> Http {
    Http::new(
        config.name(),
        &config.url,
        config.api_key.clone(),
        config.trust.clone(),
        config.timeout,
    )
}

/// Probes the server `config` names once, now, on this thread (blocking), as the engine thread
/// does when it starts.
pub fn check(
    config: &RemoteConfig,
    forced_family: Option<&str>,
) -> Result<ServerCheck, ProbeError> {
    let http = http_to(config);
    let probe = probe(config, &http, forced_family)?;
    Ok(ServerCheck {
        server: http.name,
        model: probe.model,
        family: probe.template.name,
        family_from: probe.family_from,
    })
}

fn probe(
    config: &RemoteConfig,
    http: &Http,
    forced_family: Option<&str>,
) -> Result<Probe, ProbeError> {
    match config.protocol {
        Protocol::LlamaServer => llama_server::probe(http, forced_family),
        Protocol::Openai => {
            let root = config.url.trim_end_matches('/').trim_end_matches("/v1");
            openai::probe(http, root, config.model.as_deref(), forced_family)
        }
        Protocol::Ollama => ollama::probe(http, config.model.as_deref(), forced_family),
    }
}

/// `text` with each of `syntax`'s characters escaped by a backslash and control characters as
/// `\xHH`: a literal in a grammar (GBNF) or a regular expression, which share these escapes.
fn escaped(text: &str, syntax: &str) -> String {
    let mut literal = String::new();
    for c in text.chars() {
        if syntax.contains(c) {
            literal.push('\\');
            literal.push(c);
        } else if (c as u32) < 0x20 || c == '\u{7f}' {
            literal.push_str(&format!("\\x{:02X}", c as u32));
        } else {
            literal.push(c);
        }
    }
    literal
}

/// The start of a server's answer, for an error message.
pub(super) fn excerpt(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None if text.is_empty() => "(empty)".into(),
        None => text.to_string(),
    }
}

/// Waits between probes of a server that failed: from 250 ms, doubling, up to 8 s.
struct Backoff {
    next_try: Option<Instant>,
    delay: Duration,
}

const FIRST_RETRY: Duration = Duration::from_millis(250);
const LAST_RETRY: Duration = Duration::from_secs(8);

impl Backoff {
    fn failed(&mut self) {
        self.next_try = Some(Instant::now() + self.delay);
        self.delay = (self.delay * 2).min(LAST_RETRY);
    }
    fn succeeded(&mut self) {
        self.next_try = None;
        self.delay = FIRST_RETRY;
    }
}

/// Thread body: probe the server, then serve jobs until every sender is gone or `Stop`.
pub(super) fn run(
    config: RemoteConfig,
    engine: &EngineConfig,
    jobs: mpsc::Receiver<Message>,
    status: &watch::Sender<EngineStatus>,
    stats: &EngineStats,
    running: &Running,
) {
    if let Some(warning) = &config.warning {
        tracing::warn!("{warning}");
    }
    let http = http_to(&config);
    // Ollama's runner keeps what its slot holds and nothing more (one slot unless
    // `OLLAMA_NUM_PARALLEL` says otherwise); the others keep earlier prompts too.
    let server_prompts = match config.protocol {
        Protocol::Ollama => ServerPrompts::keeping(1),
        _ => ServerPrompts::default(),
    };
    let mut remote = Remote {
        config,
        engine,
        http,
        counts: tokens::Counts::default(),
        last_prompts: LastPrompts::default(),
        server_prompts,
        quick: Quick::default(),
        connected: None,
        last_error: String::new(),
        backoff: Backoff { next_try: None, delay: FIRST_RETRY },
        status,
        stats,
        running,
    };
    remote.connect();
    let mut stop_ack = None;
    // A job that arrived while a quick answer went out (served before the filling).
    let mut waiting = None;
    loop {
        let next_try = remote.backoff.next_try.filter(|_| remote.connected.is_none());
        let message = match (waiting.take(), next_try) {
            (Some(message), _) => message,
            (None, Some(at)) => {
                match jobs.recv_timeout(at.saturating_duration_since(Instant::now())) {
                    Ok(message) => message,
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        remote.connect();
                        continue;
                    }
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                }
            }
            (None, None) => match jobs.recv() {
                Ok(message) => message,
                Err(_) => break,
            },
        };
        match message {
            Message::Job(job) => {
                running.job_taken(job.waits);
                remote.serve(*job);
            }
            Message::Stop(ack) => {
                stop_ack = Some(ack);
                break;
            }
        }
        // After a quick answer the whole prompt is sent, unless a job already waits (any job
        // sent after the answer cancels the filling: `Engine::generate`). Jobs cancelled while
        // the answer was written (the user typed on) are answered at once and do not stop it.
        if let Some(fill) = remote.quick.fill.take() {
            loop {
                match jobs.try_recv() {
                    Ok(Message::Job(job)) if job.handle.is_cancelled() => {
                        running.job_taken(job.waits);
                        remote.serve(*job);
                    }
                    Ok(message) => {
                        waiting = Some(message);
                        break;
                    }
                    Err(_) => {
                        remote.fill_whole_prompt(fill, running);
                        break;
                    }
                }
            }
        }
    }
    if let Some(ack) = stop_ack {
        let _ = ack.send(());
    }
}

struct Remote<'a> {
    config: RemoteConfig,
    engine: &'a EngineConfig,
    http: Http,
    counts: tokens::Counts,
    /// Each document's last fresh prompt, built on as by the local engine: the server's prompt
    /// cache keeps a common front as the local KV cache does.
    last_prompts: LastPrompts,
    /// The prompts last sent to the server: what its prompt caches may hold.
    server_prompts: ServerPrompts,
    /// Quick answers: the server's prompt speed, where one was given, the filling to send.
    quick: Quick,
    connected: Option<Probe>,
    last_error: String,
    backoff: Backoff,
    status: &'a watch::Sender<EngineStatus>,
    stats: &'a EngineStats,
    /// Shared with the `Engine` handles: an answered job writing the rest after its early lines
    /// takes the filling's slot, so that any new job cancels it.
    running: &'a Running,
}

impl Remote<'_> {
    /// Probes the server: `Ready` with what it runs, or `Unreachable` and a later retry.
    fn connect(&mut self) {
        let started = Instant::now();
        match probe(&self.config, &self.http, self.engine.family.as_deref()) {
            Ok(probe) => {
                let info = ModelInfo {
                    path: PathBuf::from(&probe.model),
                    family: probe.template.name,
                    context_size: probe.context_size.unwrap_or(self.engine.context_size as usize)
                        as u32,
                    load_ms: started.elapsed().as_millis() as u64,
                    placement: self.http.name.clone(),
                    warning: self.config.warning.clone(),
                };
                let same_model = matches!(&*self.status.borrow(), EngineStatus::Ready(old) if old.path == info.path);
                if !same_model {
                    // Another model may count differently.
                    self.counts.clear();
                }
                tracing::info!(server = %self.http.name, model = %probe.model, family = info.family, "remote engine ready");
                self.connected = Some(probe);
                self.backoff.succeeded();
                self.status.send_replace(EngineStatus::Ready(Arc::new(info)));
            }
            Err(err) => self.lost(err.to_string()),
        }
    }

    /// The server failed: say so once per distinct message, and probe again later.
    fn lost(&mut self, message: String) {
        self.connected = None;
        self.backoff.failed();
        let changed =
            !matches!(&*self.status.borrow(), EngineStatus::Unreachable(old) if *old == message);
        if changed {
            tracing::warn!(%message, "remote engine unavailable; retrying");
            self.status.send_replace(EngineStatus::Unreachable(message.clone()));
        }
        self.last_error = message;
    }

    fn serve(&mut self, job: Job) {
        self.stats.job_received();
        if job.handle.is_cancelled() {
            self.stats.job_skipped();
            let _ = job.reply.send(Err(EngineError::Cancelled));
            return;
        }
        if self.connected.is_none() {
            // Within the backoff: the last error, with no request. After it: try now.
            let waiting = self.backoff.next_try.is_some_and(|at| Instant::now() < at);
            if !waiting {
                self.connect();
            }
            if self.connected.is_none() {
                self.stats.job_skipped();
                let _ = job.reply.send(Err(EngineError::Remote(self.last_error.clone())));
                return;
            }
        }
        self.stats.model_call_started(job.params.background);
        let call_started = Instant::now();
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| self.run(&job)))
            .unwrap_or_else(|panic| Err(EngineError::Panicked(panic_message(&panic))));
        let outcome = match &result {
            Ok(_) => Outcome::Completed,
            // A remote stream is closed at once, whoever waits.
            Err(EngineError::Cancelled) => Outcome::Cancelled {
                delay: job.handle.raised_at().map(|raised| raised.elapsed()).unwrap_or_default(),
                interrupted: true,
            },
            Err(err) => {
                tracing::error!(%err, "remote completion failed");
                if let EngineError::Remote(message) = err {
                    self.lost(message.clone());
                }
                Outcome::Failed
            }
        };
        self.stats.model_call_finished(outcome, call_started.elapsed());
        let _ = job.reply.send(result);
    }

    fn run(&mut self, job: &Job) -> Result<Generation, EngineError> {
        let started = Instant::now();
        let Some(probe) = &self.connected else {
            return Err(EngineError::Remote(self.last_error.clone()));
        };
        let remote = |message: String| EngineError::Remote(message);
        let template = probe.template;
        let order = job.params.order.unwrap_or(template.order);
        let mut counter = self.counts.counter(&self.http, probe.tokenize.as_ref());
        let context_size = probe.context_size.unwrap_or(self.engine.context_size as usize);
        let mut prompt = self.last_prompts.build_prompt(
            template,
            order,
            job,
            context_size,
            probe.heals,
            &mut counter,
        );
        // A typed middle is always healed (`LastPrompts::build_prompt` says why).
        let heal = probe.heals && (job.params.token_healing || prompt.typed_middle_chars > 0);
        let mut healed = match (heal, &probe.tokenize) {
            (true, Some(tokenizer)) => {
                heal::back_off(&mut prompt, |line| tokenizer.last_piece(&self.http, line))
                    .map_err(remote)?
            }
            _ => String::new(),
        };
        let mut request = Request {
            max_tokens: job.params.max_tokens,
            single_line: job.params.single_line,
            sampling: job.params.sampling,
            forced_start: healed.clone(),
        };
        let too_long = |tokens: usize| {
            tokens == 0 || tokens.saturating_add(job.params.max_tokens) > context_size
        };
        let stops: HashSet<u32> =
            template.special_texts().filter_map(|t| probe.special_ids.get(t).copied()).collect();
        let mut quick_answer = false;
        // The prompt as it is sent (llama-server: ids; the text protocols: the text's bytes,
        // `quick::text_units`) and its tokens.
        let sent_form =
            |prompt: &prompt::Prompt, counter: &mut tokens::Counter<'_>| match self.config.protocol
            {
                Protocol::LlamaServer => prompt_ids(counter, probe, prompt).map(|ids| {
                    let tokens = ids.len();
                    (ids, tokens)
                }),
                _ => Ok((text_units(&prompt.render()), counted(prompt, counter))),
            };
        let (mut units, mut prompt_tokens) = sent_form(&prompt, &mut counter).map_err(remote)?;
        // The short prompt, where a quick answer may be wanted: the cursor's surroundings,
        // without other files. (With the other files the server holds, as in-process,
        // llama-server reuses its slot's prompt in place for a short prompt that shares them, so
        // the whole prompt's filled part was lost there: lines trace p95 17 s instead of 3.4 s,
        // session 25.)
        let whole = (units.as_slice(), prompt_tokens);
        let short = if self.quick.may_want(&job.params, whole, &self.server_prompts) {
            let sticky = self.quick.last_short.sticky(&job.input.path);
            let short =
                quick_answers::short_prompt(template, order, &job.input, sticky, &mut counter);
            let (short_units, short_tokens) = sent_form(&short, &mut counter).map_err(remote)?;
            Some((short, short_units, short_tokens))
        } else {
            None
        };
        counter.finish().map_err(remote)?;
        // Prompt tokens the server evaluated in pieces before the answer's own request.
        let mut pieces_evaluated = 0;
        if !too_long(prompt_tokens) {
            let (whole, handle) = ((units.as_slice(), prompt_tokens), &job.handle);
            let left = units.len() - self.server_prompts.kept(&units);
            let piece = self.piece_units(whole);
            if job.params.background {
                // Background work goes in pieces, which a cancel stops between.
                let upto = units.len() - 1;
                pieces_evaluated = self.evaluate_in_pieces(template, whole, upto, handle)?;
            } else if short.is_some() && left > 3 * piece {
                // Before a quick answer, or while the server's speed is not known, the
                // whole prompt's first piece: it times the server and starts the whole
                // prompt, which the next request here needs. (Sent only while the speed
                // was unknown, the next requests at new places each evaluated a piece
                // more: bodies trace p95 6.8 s instead of 5.1–5.6 s.)
                let upto = units.len() - left + piece;
                pieces_evaluated = self.evaluate_in_pieces(template, whole, upto, handle)?;
            }
        }
        // The server may hold the last short prompt at this place still.
        let whole = (units.as_slice(), prompt_tokens);
        let short = short.filter(|(_, short_units, short_tokens)| {
            let short_needed = self.server_prompts.needed(short_units, *short_tokens);
            self.quick
                .wanted(&job.params, whole, &self.server_prompts)
                .is_some_and(|needed| quick_answers::short_enough(short_needed, needed))
        });
        if let Some((short, short_units, short_tokens)) = short {
            tracing::debug!(quick = short_tokens, whole = prompt_tokens, "quick answer");
            self.quick.last_short.remember(&job.input.path, &short);
            let whole_units = std::mem::replace(&mut units, short_units);
            let place = Place::of(&job.input);
            self.quick.answered(Fill { units: whole_units, tokens: prompt_tokens, place });
            prompt = short;
            prompt_tokens = short_tokens;
            request.single_line = true;
            // A short prompt is fresh: nothing of it was taken back to write again.
            healed.clear();
            request.forced_start.clear();
            quick_answer = true;
        }
        let (path, body) = match self.config.protocol {
            Protocol::LlamaServer => llama_server::request(template, &units, &request),
            _ => self.text_request(template, &prompt.render(), &request),
        };
        // What the server's prompt caches hold for this prompt, as far as we know (its
        // answer's tokens not counted).
        let shared = prompt_tokens - self.server_prompts.needed(&units, prompt_tokens);
        self.server_prompts.sent(&units);
        if too_long(prompt_tokens) {
            return Err(EngineError::PromptTooLong {
                prompt_tokens,
                max_tokens: job.params.max_tokens,
                context_size,
            });
        }
        let parse = self.parser();
        let healing = Healing::new(healed.as_bytes());
        let early_due = job.params.early_lines_due(started);
        let mut decoding = Decoding::new(job, template, &stops, self.stats, healing, early_due);
        let mut first_piece = None;
        // When the first piece of the answer's stream came (a second opinion's not counted).
        let mut first_streamed = None;
        let sent_at = Instant::now();
        // The model's first token: the token a second opinion bans.
        let mut first_token = None;
        let mut body = body;
        let mut opening_evaluated = 0;
        let mut complete = false;
        // A second opinion (llama-server only: it takes ids and bans a token by id): the best
        // first token but the banned one, asked for alone; the answer then goes on from it. A
        // healed prompt gets none (its first tokens write the typed text again).
        let banned = job.params.banned_first_token.filter(|_| healed.is_empty());
        if let (Some(banned), Protocol::LlamaServer) = (banned, self.config.protocol) {
            let (opening, evaluated) =
                self.first_token_except((path, &body), banned, parse, job)?;
            opening_evaluated = evaluated;
            first_piece = Some(Instant::now());
            match opening {
                Some(piece) => {
                    first_token = piece.ids.first().map(|&id| id as i32);
                    if let (Some(&id), Some(ids)) =
                        (piece.ids.first(), body["prompt"].as_array_mut())
                    {
                        ids.push(id.into());
                        self.server_prompts.extend_last(id);
                    }
                    let left = job.params.max_tokens.saturating_sub(1);
                    body["n_predict"] = left.into();
                    complete = decoding.push(piece) || left == 0 || first_token.is_none();
                }
                // It wrote nothing but stopped (its best other token ends the answer).
                None => complete = true,
            }
        }
        let done = if complete {
            None
        } else {
            let running = self.running;
            let is_llama_server = self.config.protocol == Protocol::LlamaServer;
            let done = self.stream_answer((path, &body), parse, &job.handle, |piece| {
                let first_at = *first_piece.get_or_insert_with(Instant::now);
                first_streamed.get_or_insert_with(Instant::now);
                if first_token.is_none() && healed.is_empty() {
                    first_token = piece.ids.first().map(|&id| id as i32);
                }
                let complete = decoding.push(piece);
                // Only while more is to come: an answer that ends here goes out whole.
                let early = if complete { None } else { decoding.early_lines() };
                if let Some((text, generated_tokens, token_logprobs)) = early {
                    // The server's figures come with its last event: until then, what its
                    // prompt caches are taken to hold.
                    job.handle.publish_early_lines(Generation {
                        text,
                        prompt: prompt.render(),
                        prompt_tokens,
                        reused_tokens: shared,
                        evaluated_tokens: prompt_tokens - shared,
                        generated_tokens,
                        prompt_ms: (first_at - started).as_secs_f64() * 1000.0,
                        generation_ms: first_at.elapsed().as_secs_f64() * 1000.0,
                        stop: StopReason::EndOfLine,
                        context_files: prompt.context_paths.clone(),
                        healed: healed.clone(),
                        token_logprobs,
                        first_token: first_token.filter(|_| is_llama_server),
                        quick_answer,
                    });
                    // Nobody waits for the rest: any new job cancels it.
                    running.filling_started(&job.handle);
                }
                complete
            });
            self.running.filling_ended(&job.handle);
            let done = done?;
            first_piece.get_or_insert_with(Instant::now);
            done
        };
        let first_piece = first_piece.unwrap_or_else(Instant::now);
        if let Some(Done { evaluated: Some(tokens), prompt_ms: Some(ms), .. }) = &done {
            self.quick.timed(*tokens, *ms);
        } else if let (Some(at), true) =
            (first_streamed, self.config.protocol != Protocol::LlamaServer)
        {
            // A server that gives no timings (vLLM): the wait for its first piece, for the
            // tokens it had to evaluate (the first token's writing and the network included).
            self.quick.timed(prompt_tokens - shared, (at - sent_at).as_secs_f64() * 1000.0);
        }
        let done_reason = done.as_ref().map(|d| d.reason);
        let (text, generated_tokens, stop, token_logprobs) = decoding.finish(done_reason);
        // The server's figures come with its last event. A job that ended before it (a warm-up
        // reads only the first piece, a cancel closes the stream) counts as much as the server
        // is taken to keep of the prompts sent before (`ServerPrompts`).
        let reused = done.as_ref().and_then(|d| d.cached).unwrap_or(shared).min(prompt_tokens);
        let evaluated = done.as_ref().and_then(|d| d.evaluated).unwrap_or(prompt_tokens - reused)
            + opening_evaluated;
        // (The pieces were counted as they went.)
        self.stats.tokens_evaluated(evaluated);
        let (reused, evaluated) =
            (reused.saturating_sub(pieces_evaluated), evaluated + pieces_evaluated);
        let rendered = prompt.render();
        // A second opinion's echo ends with its first token, which is not prompt.
        let echo = done.and_then(|d| d.prompt).filter(|_| job.params.banned_first_token.is_none());
        let prompt_text = match echo {
            Some(echoed) => {
                if echoed != rendered {
                    tracing::debug!("the server's echo of the prompt differs from infill's");
                }
                echoed
            }
            None => rendered,
        };
        Ok(Generation {
            text,
            prompt: prompt_text,
            prompt_tokens,
            reused_tokens: reused,
            evaluated_tokens: evaluated,
            generated_tokens,
            prompt_ms: (first_piece - started).as_secs_f64() * 1000.0,
            generation_ms: first_piece.elapsed().as_secs_f64() * 1000.0,
            stop,
            context_files: prompt.context_paths.clone(),
            healed,
            token_logprobs,
            // Only llama-server's ids can be banned (see above).
            first_token: first_token.filter(|_| self.config.protocol == Protocol::LlamaServer),
            quick_answer,
        })
    }
}

impl Remote<'_> {
    /// A second opinion's first token: the one llama-server writes from the prompt in `body`
    /// with `banned` ruled out (greedy, whatever the sampling settings, as in-process), and the
    /// tokens the server evaluated for it (the prompt is cached: one). `None`: it stopped.
    fn first_token_except(
        &self,
        (path, body): (&str, &serde_json::Value),
        banned: i32,
        parse: fn(&str) -> Result<Event, String>,
        job: &Job,
    ) -> Result<(Option<Piece>, usize), EngineError> {
        let ask = llama_server::first_token_except(body, banned);
        let mut opening = None;
        let done = self.stream_answer((path, &ask), parse, &job.handle, |piece| {
            opening.get_or_insert(piece);
            false
        })?;
        let evaluated = done.as_ref().and_then(|d| d.evaluated).unwrap_or(1);
        Ok((opening.filter(|piece| !piece.ids.is_empty()), evaluated))
    }

    /// Sends the whole prompt of a job answered quickly (`quick`) with one token to write, so
    /// that the server evaluates it into its cache, as background work that any new job cancels
    /// by closing its stream (`Running::job_sent`; a warm-up at its place waits for it instead,
    /// as it would send the same prompt). Counted as a background call.
    fn fill_whole_prompt(&mut self, fill: Fill, running: &Running) {
        let Some(probe) = &self.connected else { return };
        let template = probe.template;
        let handle = JobHandle::default();
        running.filling_started(&handle);
        running.evaluating(Some(fill.place.clone()), false);
        self.stats.model_call_started(true);
        let started = Instant::now();
        let whole = (fill.units.as_slice(), fill.tokens);
        let upto = fill.units.len() - 1;
        let done = self.evaluate_in_pieces(template, whole, upto, &handle).and_then(|_| {
            let held = self.server_prompts.kept(&fill.units);
            self.evaluate_start(template, whole, fill.units.len(), held, &handle)
        });
        running.evaluating(None, false);
        running.filling_ended(&handle);
        let outcome = match done {
            Ok(_) => Outcome::Completed,
            Err(EngineError::Cancelled) => {
                let delay = handle.raised_at().map(|raised| raised.elapsed()).unwrap_or_default();
                Outcome::Cancelled { delay, interrupted: true }
            }
            Err(err) => {
                tracing::error!(%err, "evaluating the whole prompt after a quick answer failed");
                if let EngineError::Remote(message) = err {
                    self.lost(message);
                }
                Outcome::Failed
            }
        };
        self.stats.model_call_finished(outcome, started.elapsed());
    }

    /// Has the server evaluate a prompt (`units` as sent, of `tokens` tokens) into its prompt
    /// cache as far as `upto`, a piece at a time (`Quick::piece_tokens`), each piece a request
    /// of its own with one token to write, and stops between pieces once `handle` is
    /// cancelled. llama-server (and Ollama's runner, llama.cpp too) looks at a closed connection
    /// only between its batches, and one prompt is one batch: sent whole, a cancelled warm-up at
    /// a place the user left kept the server busy for up to its whole prompt (10 s and more on a
    /// CPU) while the user waited at the next. Any part shorter than a piece is left for the
    /// caller's own request. Returns the tokens the server evaluated, also counted in the stats.
    fn evaluate_in_pieces(
        &mut self,
        template: &FimTemplate,
        (units, tokens): (&[u32], usize),
        upto: usize,
        handle: &JobHandle,
    ) -> Result<usize, EngineError> {
        let piece = self.piece_units((units, tokens));
        let mut done = self.server_prompts.kept(units);
        let mut evaluated = 0;
        while done + piece <= upto {
            if handle.is_cancelled() {
                return Err(EngineError::Cancelled);
            }
            let end = if upto - done < 2 * piece { upto } else { done + piece };
            let end = self.piece_end(units, done, end);
            evaluated += self.evaluate_start(template, (units, tokens), end, done, handle)?;
            done = end;
        }
        Ok(evaluated)
    }

    /// A piece of a prompt of `tokens` tokens sent as `units`, in units.
    fn piece_units(&self, (units, tokens): (&[u32], usize)) -> usize {
        let piece = self.quick.piece_tokens();
        if units.len() == tokens { piece } else { piece * units.len() / tokens.max(1) }
    }

    /// Where a piece of `units` from `start` ends, at `end` or before it: for a text protocol
    /// just after a line break (the server tokenizes each piece anew, and a token never spans
    /// one, so the next piece shares all of this one's tokens) where the piece has one.
    fn piece_end(&self, units: &[u32], start: usize, end: usize) -> usize {
        if self.config.protocol == Protocol::LlamaServer || end == units.len() {
            return end;
        }
        // In the piece's second half: pieces of a long line stay whole pieces.
        let line_end = units[start..end].iter().rposition(|&unit| unit == u32::from(b'\n'));
        line_end.filter(|&at| 2 * at >= end - start).map_or(end, |at| start + at + 1)
    }

    /// Sends `units[..end]` (of a prompt of `tokens` tokens), of which the server holds the first
    /// `held`, with one token to write, so that the server evaluates it into its cache. Returns
    /// the tokens it evaluated, counted in the stats whatever happens to the stream (the server
    /// evaluates what it has begun): its own figure, which also times it, else the part's share
    /// of the tokens (then timed by the wait for its answer).
    fn evaluate_start(
        &mut self,
        template: &FimTemplate,
        (units, tokens): (&[u32], usize),
        end: usize,
        held: usize,
        handle: &JobHandle,
    ) -> Result<usize, EngineError> {
        let part = &units[..end];
        let (path, body) = match self.config.protocol {
            Protocol::LlamaServer => llama_server::request(template, part, &EVALUATE_ONLY),
            _ => self.text_request(template, &units_text(part), &EVALUATE_ONLY),
        };
        self.server_prompts.sent(part);
        let sent_at = Instant::now();
        let answer = self.stream_answer((path, &body), self.parser(), handle, |_| false);
        let share = quick::tokens_of(end - held, (units, tokens));
        let evaluated = match &answer {
            Ok(Some(Done { evaluated: Some(tokens), prompt_ms, .. })) => {
                if let Some(ms) = prompt_ms {
                    self.quick.timed(*tokens, *ms);
                }
                *tokens
            }
            Ok(_) => {
                self.quick.timed(share, sent_at.elapsed().as_secs_f64() * 1000.0);
                share
            }
            Err(_) => share,
        };
        self.stats.tokens_evaluated(evaluated);
        answer.map(|_| evaluated)
    }

    /// The request for `text`, a whole prompt in the format of `template`, to a server of a
    /// text protocol, for the model it was found to run.
    fn text_request(
        &self,
        template: &FimTemplate,
        text: &str,
        request: &Request,
    ) -> (&'static str, serde_json::Value) {
        // Requests are made only while connected (`Remote::serve`).
        let model = self.connected.as_ref().map_or("", |probe| probe.model.as_str());
        match self.config.protocol {
            Protocol::Ollama => {
                let keep_alive = self.config.keep_alive.as_deref();
                ollama::request(template, model, text, keep_alive, request)
            }
            _ => openai::request(template, model, text, request),
        }
    }

    /// The reader of the server's streamed lines.
    fn parser(&self) -> fn(&str) -> Result<Event, String> {
        match self.config.protocol {
            Protocol::LlamaServer => llama_server::parse,
            Protocol::Openai => openai::parse,
            Protocol::Ollama => ollama::parse,
        }
    }

    /// Posts `body` to `path` and reads the streamed answer to its end, handing each piece to
    /// `take` until it says the suggestion is complete; the server's last word, `None` when
    /// `take` stopped first. The stream is dropped on return, which closes a connection still
    /// open: the server stops generating.
    fn stream_answer(
        &self,
        (path, body): (&str, &serde_json::Value),
        parse: fn(&str) -> Result<Event, String>,
        handle: &JobHandle,
        mut take: impl FnMut(Piece) -> bool,
    ) -> Result<Option<Done>, EngineError> {
        let remote = |message: String| EngineError::Remote(message);
        let name = &self.http.name;
        let mut stream = match self.http.stream(path, body, self.config.timeout, handle) {
            Ok(stream) => stream,
            Err(Next::Cancelled) => return Err(EngineError::Cancelled),
            Err(Next::Failed(message)) => return Err(remote(message)),
            Err(Next::Line(_) | Next::End) => return Err(remote(name.clone())),
        };
        loop {
            match stream.next() {
                Next::Cancelled => return Err(EngineError::Cancelled),
                Next::Failed(message) => return Err(remote(message)),
                Next::End => {
                    return Err(remote(format!(
                        "{name}: the answer ended before the server said it was complete"
                    )));
                }
                Next::Line(line) => match parse(&line) {
                    Err(problem) => {
                        return Err(remote(format!("{name}: malformed answer ({problem})")));
                    }
                    Ok(Event::Ignore) => {}
                    Ok(Event::Piece(piece)) => {
                        if take(piece) {
                            return Ok(None);
                        }
                    }
                    Ok(Event::Done(mut done)) => {
                        if let Some(piece) = done.piece.take() {
                            take(piece);
                        }
                        return Ok(Some(done));
                    }
                },
            }
        }
    }
}

/// The prompt's tokens, counted piece by piece (a special token is one).
fn counted(prompt: &prompt::Prompt, counter: &mut tokens::Counter<'_>) -> usize {
    let count = |piece: &PromptPiece| match piece {
        PromptPiece::Special(_) => 1,
        PromptPiece::Text(text) => counter.count(text),
    };
    prompt.pieces.iter().map(count).sum()
}

/// The prompt as token ids: special pieces by the server's ids, text through `/tokenize` (as
/// plain text), each piece as the local engine tokenizes it.
fn prompt_ids(
    counter: &mut tokens::Counter<'_>,
    probe: &Probe,
    prompt: &prompt::Prompt,
) -> Result<Vec<u32>, String> {
    let mut ids: Vec<u32> = probe.bos.into_iter().collect();
    for piece in &prompt.pieces {
        match piece {
            PromptPiece::Special(text) => ids.push(
                *probe.special_ids.get(text).ok_or_else(|| format!("the server lacks {text:?}"))?,
            ),
            PromptPiece::Text(text) => ids.extend(counter.ids(text)?),
        }
    }
    Ok(ids)
}
