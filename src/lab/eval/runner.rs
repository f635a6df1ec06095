//! Getting a completion for a task: from `infill` over stdio exactly as an editor would (one
//! server per task, rooted at the task's workspace), or from a llama-server baseline.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::bail;
use ropey::Rope;
use serde_json::Value;

use super::task_workspace::TaskWorkspace;
use super::tasks::Task;
use crate::completion::confidence::Confidence;
use crate::documents::{PositionEncoding, char_to_position};
use crate::lab::llama_server::{InfillRequest, LlamaServer, LlamaVimContext};
use crate::lab::lsp_client::{LspClient, file_uri};

/// What an engine answered for one task.
#[derive(Debug, Clone, Default)]
pub struct Answer {
    pub text: String,
    /// The engine's text before post-processing (infill: from `infill/trace`).
    pub raw: Option<String>,
    pub latency_ms: f64,
    pub prompt_tokens: Option<u64>,
    pub evaluated_tokens: Option<u64>,
    pub reused_tokens: Option<u64>,
    /// infill: repository-context gathering time and the other files the prompt showed.
    pub context_ms: Option<f64>,
    pub context_files: Option<Vec<String>>,
    /// infill: how sure the model was of the shown text (`infill/trace`).
    pub confidence: Option<Confidence>,
    /// infill: why generation stopped (`stopToken`, `maxTokens`, `endOfLine`, `timeBudget`).
    pub stop: Option<String>,
    /// infill: tokens generated and the time it took (decoding speed).
    pub generated_tokens: Option<u64>,
    pub generation_ms: Option<f64>,
    /// infill: the shown text breaks the syntax of its lines (`infill/trace`).
    pub broken_syntax: Option<bool>,
    /// infill: the model's first answer, where a second opinion replaced it (`infill/trace`).
    pub first_opinion: Option<String>,
}

/// How long to wait for a completion's `infill/trace` after its response.
const TRACE_PATIENCE: Duration = Duration::from_secs(10);

pub struct InfillRunner {
    pub binary: PathBuf,
    pub model: Option<PathBuf>,
    /// `initializationOptions`; must ask for `trace` (token counts come from it).
    pub options: serde_json::Map<String, Value>,
    /// Ask first at the end of the line this many lines above the cursor (`--arrive-from`).
    pub arrive_from: Option<usize>,
    /// Ask first after the cursor line's indentation, then type the rest of the line up to the
    /// cursor and ask there (`--type-line`).
    pub type_line: bool,
}

impl InfillRunner {
    pub fn complete(&self, task: &Task, workspace: &TaskWorkspace) -> anyhow::Result<Answer> {
        let mut command = crate::lab::measured_server(&self.binary);
        command.env("INFILL_LOG", "warn");
        if let Some(model) = &self.model {
            command.arg("--model").arg(model);
        }
        let mut client = LspClient::spawn(command)?;
        client.initialize(&workspace.root, Value::Object(self.options.clone()), &["utf-16"])?;
        let loaded = client.wait_model_loaded()?;
        if loaded.contains("not loaded") {
            bail!("{loaded}");
        }
        // As a user would, ask once the project is indexed (answers at once without an index).
        client.request("infill/indexStatus", serde_json::json!({"wait": true}))?;
        let uri = file_uri(&workspace.file);
        // With `type_line`, what the cursor line holds after its indentation is typed later.
        let typed = match self.type_line {
            true => typed_part_of_cursor_line(&task.prefix),
            false => "",
        };
        let before_typing = &task.prefix[..task.prefix.len() - typed.len()];
        client.open(&uri, &task.language, &format!("{before_typing}{}", task.suffix))?;
        let rope = Rope::from_str(&task.prefix);
        let position = char_to_position(&rope, rope.len_chars(), PositionEncoding::Utf16)?;
        if let Some(lines) = self.arrive_from {
            // The end of that line (the line above the cursor's when the file is shorter).
            let line = (position.line as usize).saturating_sub(lines.max(1));
            let end = rope.line_to_char(line + 1).saturating_sub(1);
            let from = char_to_position(&rope, end, PositionEncoding::Utf16)?;
            ask_and_wait(&mut client, &uri, from, "the place arrived from")?;
        }
        if !typed.is_empty() {
            let typing_from = Rope::from_str(before_typing);
            let from =
                char_to_position(&typing_from, typing_from.len_chars(), PositionEncoding::Utf16)?;
            ask_and_wait(&mut client, &uri, from, "the start of the typed line")?;
            let at = serde_json::json!({"line": from.line, "character": from.character});
            client.notify(
                "textDocument/didChange",
                serde_json::json!({
                    "textDocument": {"uri": uri, "version": 2},
                    "contentChanges": [{"range": {"start": at, "end": at}, "text": typed}],
                }),
            )?;
        }

        let started = Instant::now();
        let response = client.inline_completion(&uri, position.line, position.character)?;
        let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        if let Some(error) = response.get("error") {
            bail!("inlineCompletion failed: {error}");
        }
        let text = response["result"]["items"][0]["insertText"].as_str().unwrap_or_default();
        // The trace travels beside the response, in either order.
        client.patience = TRACE_PATIENCE;
        let params = client
            .wait_notification("infill/trace", |_| true)
            .map(|n| n["params"].clone())
            .unwrap_or(Value::Null);
        // An engine that failed answers empty: the row says so instead of scoring a miss.
        if let Some(reason @ ("engineError" | "modelFailed")) = params["reason"].as_str() {
            bail!("infill answered empty ({reason}); its log says why");
        }
        let trace = &params["generation"];
        let answer = Answer {
            text: text.to_string(),
            raw: trace["text"].as_str().map(str::to_string),
            latency_ms,
            prompt_tokens: trace["promptTokens"].as_u64(),
            evaluated_tokens: trace["evaluatedTokens"].as_u64(),
            reused_tokens: trace["reusedTokens"].as_u64(),
            context_ms: trace["contextMs"].as_f64(),
            context_files: trace["contextFiles"]
                .as_array()
                .map(|files| files.iter().filter_map(|f| f.as_str().map(str::to_string)).collect()),
            confidence: serde_json::from_value(trace["confidence"].clone()).ok(),
            stop: trace["stop"].as_str().map(str::to_string),
            generated_tokens: trace["generatedTokens"].as_u64(),
            generation_ms: trace["generationMs"].as_f64(),
            broken_syntax: trace.is_object().then(|| trace["brokenSyntax"] == true),
            first_opinion: trace["firstOpinion"].as_str().map(str::to_string),
        };
        client.shutdown()?;
        Ok(answer)
    }
}

/// Asks for a completion at `at` and waits for its answer and its trace, so that the next
/// request's trace is the next one.
fn ask_and_wait(
    client: &mut LspClient,
    uri: &str,
    at: tower_lsp_server::gen_lsp_types::Position,
    place: &str,
) -> anyhow::Result<()> {
    let response = client.inline_completion(uri, at.line, at.character)?;
    if let Some(error) = response.get("error") {
        bail!("inlineCompletion at {place} failed: {error}");
    }
    let patience = std::mem::replace(&mut client.patience, TRACE_PATIENCE);
    let _ = client.wait_notification("infill/trace", |_| true);
    client.patience = patience;
    Ok(())
}

/// What the cursor line of `prefix` holds after its indentation: the text a programmer types
/// there after Enter.
fn typed_part_of_cursor_line(prefix: &str) -> &str {
    let line = &prefix[prefix.rfind('\n').map_or(0, |i| i + 1)..];
    line.trim_start_matches([' ', '\t'])
}

/// How a baseline asks llama-server's `/infill`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BaselineStyle {
    /// The whole file as prefix and suffix, greedy: the strongest fair baseline.
    Raw,
    /// As llama.vim asks: 256 lines before, 64 after, the cursor line's indentation as a stop.
    LlamaVim,
}

impl BaselineStyle {
    /// The engine's name in results and tables.
    pub fn engine(self) -> &'static str {
        match self {
            // The name the llama.vim-style rows had before there was a second baseline, so
            // stored results (assets/eval/dev-full.jsonl) still read right.
            BaselineStyle::LlamaVim => "llama-server",
            BaselineStyle::Raw => "raw-infill",
        }
    }
}

pub struct BaselineRunner {
    pub server: LlamaServer,
    pub n_predict: usize,
    pub style: BaselineStyle,
}

impl BaselineRunner {
    pub fn complete(&self, task: &Task) -> anyhow::Result<Answer> {
        let request = match self.style {
            BaselineStyle::Raw => {
                InfillRequest::whole_file(&task.prefix, &task.suffix, self.n_predict)
            }
            BaselineStyle::LlamaVim => {
                let doc = Rope::from_str(&format!("{}{}", task.prefix, task.suffix));
                let context = LlamaVimContext::at(&doc, task.prefix.chars().count());
                InfillRequest::greedy(context, self.n_predict)
            }
        };
        let answer = self.server.infill(&request)?;
        let timings = &answer.response.timings;
        let evaluated = timings.prompt_n.map(|n| n.max(0) as u64);
        let reused = timings.cache_n.or(answer.response.tokens_cached).map(|n| n.max(0) as u64);
        Ok(Answer {
            raw: None,
            context_ms: None,
            context_files: None,
            confidence: None,
            stop: None,
            text: answer.response.content,
            latency_ms: answer.elapsed.as_secs_f64() * 1000.0,
            prompt_tokens: evaluated.zip(reused).map(|(e, r)| e + r),
            evaluated_tokens: evaluated,
            reused_tokens: reused,
            generated_tokens: None,
            generation_ms: None,
            broken_syntax: None,
            first_opinion: None,
        })
    }
}
