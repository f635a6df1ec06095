//! The infill side of a replay: `infill serve` over stdio, driven the way Neovim and VS Code
//! drive an inline-completion server — a `didChange` per keystroke, then
//! `textDocument/inlineCompletion`, with `$/cancelRequest` for the previous request if it is
//! still open. Per-call figures come from `infill/trace`, engine counters from `infill/stats`.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use super::driver::{Client, Keystroke, Shown};
use super::latency_report::{Figures, shows_something};
use super::process;
use super::trace::FileTrace;
use crate::engine::EngineStatsSnapshot;
use crate::lab::lsp_client::{LspClient, file_uri};

/// JSON-RPC `RequestCancelled`: the answer to a request the client cancelled.
const REQUEST_CANCELLED: i64 = -32800;

pub struct InfillClient {
    lsp: LspClient,
    uri: String,
    version: i64,
    /// Requests not yet answered: id → when their keystroke was typed.
    open: HashMap<i64, Instant>,
    latest: Option<i64>,
    shown: Option<Shown>,
    /// The text the last trace said was withheld as unsure: what the next empty answer hides.
    withheld: Option<String>,
    figures: Figures,
}

impl InfillClient {
    /// Starts `exe serve` (with `--model` if given), initializes with tracing on, and waits for
    /// the model; returns the client and the server's "model ready" message.
    pub fn start(
        exe: &Path,
        model: Option<&Path>,
        root: &Path,
        options: &serde_json::Map<String, serde_json::Value>,
    ) -> anyhow::Result<(Self, String)> {
        let mut command = crate::lab::measured_server(exe);
        if let Some(model) = model {
            command.arg("--model").arg(model);
        }
        let mut lsp = LspClient::spawn(command)?;
        // UTF-16 only, as VS Code: the positions the driver computes are in UTF-16.
        let mut options = options.clone();
        options.insert("trace".into(), true.into());
        let init = lsp.initialize(root, serde_json::Value::Object(options), &["utf-16"])?;
        let encoding = init["capabilities"]["positionEncoding"].as_str().unwrap_or("utf-16");
        if encoding != "utf-16" {
            bail!("the server chose the {encoding} position encoding; the bench speaks utf-16");
        }
        let loaded = lsp.wait_model_loaded()?;
        if loaded.starts_with("model not loaded") {
            bail!("infill: {loaded}");
        }
        let figures = Figures {
            name: "infill".into(),
            cancelled_requests: Some(0),
            joined_answers: Some(0),
            quick_answers: Some(0),
            empty_reasons: Some(Default::default()),
            ..Figures::default()
        };
        let client = Self {
            lsp,
            uri: String::new(),
            version: 0,
            open: HashMap::new(),
            latest: None,
            shown: None,
            withheld: None,
            figures,
        };
        Ok((client, loaded))
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.lsp.pid()
    }

    /// Engine counters and peak memory, then shutdown; the figures the driver does not know.
    pub fn finish(mut self) -> anyhow::Result<Figures> {
        let response = self.lsp.request("infill/stats", Value::Null)?;
        let stats: EngineStatsSnapshot = serde_json::from_value(response["result"].clone())
            .with_context(|| format!("unexpected infill/stats answer: {response}"))?;
        self.figures.model_calls = stats.model_calls;
        self.figures.background_calls = Some(stats.background_calls);
        self.figures.evaluated_total = Some(stats.evaluated_tokens);
        self.figures.skipped_jobs = Some(stats.skipped);
        self.figures.cancelled_calls = Some(stats.cancelled);
        self.figures.cancel_delays_ms = stats.cancel_delays_ms;
        self.figures.cancels_finishing_chunk = Some(stats.cancels_finishing_chunk);
        self.figures.finishing_chunk_ms = stats.finishing_chunk_ms;
        self.figures.cancelled_busy_ms = Some(stats.cancelled_busy_ms);
        self.figures.errors += stats.failed as usize;
        if stats.places_saved + stats.places_restored > 0 {
            self.figures.notes.push(format!(
                "saved places: {} saved, {} restored ({} prompt tokens not evaluated again), \
                 {:.0} ms copying",
                stats.places_saved,
                stats.places_restored,
                stats.restored_tokens,
                stats.place_copy_ms
            ));
        }
        self.figures.peak_rss_kib = process::peak_rss_kib(self.lsp.pid());
        let figures = std::mem::take(&mut self.figures);
        self.lsp.shutdown()?;
        Ok(figures)
    }

    fn handle(&mut self, message: &Value) {
        let arrived = Instant::now();
        if message["method"] == "infill/trace" {
            let reason = message["params"]["reason"].as_str().unwrap_or("none");
            // The trace comes just before its answer.
            self.withheld = matches!(reason, "lowConfidence" | "brokenSyntax")
                .then(|| message["params"]["generation"]["text"].as_str().map(str::to_string))
                .flatten();
            if !matches!(reason, "model" | "cache" | "joined") {
                let reasons = self.figures.empty_reasons.get_or_insert_default();
                *reasons.entry(reason.to_string()).or_default() += 1;
            }
        }
        match message["method"].as_str() {
            // Answers from a running job started for an earlier keystroke: no call of their own.
            Some("infill/trace") if message["params"]["generation"]["joined"] == true => {
                *self.figures.joined_answers.get_or_insert(0) += 1;
            }
            // Only a model call of its own carries token figures (not the cache, nor a request
            // that ended empty before one: `reason`).
            Some("infill/trace") if message["params"]["generation"]["promptTokens"].is_number() => {
                let generation = &message["params"]["generation"];
                let figure = |key: &str| generation[key].as_f64().unwrap_or(0.0);
                self.figures.prompt_tokens.push(figure("promptTokens"));
                self.figures.evaluated_tokens.push(figure("evaluatedTokens"));
                self.figures.reused_tokens.push(figure("reusedTokens"));
                if generation["quickAnswer"] == true {
                    *self.figures.quick_answers.get_or_insert(0) += 1;
                }
            }
            Some("window/showMessage") => {
                let text = message["params"]["message"].as_str().unwrap_or_default().to_string();
                self.figures.note_once(text);
            }
            Some(_) => {}
            None => {
                let Some(id) = message["id"].as_i64() else { return };
                if self.open.remove(&id).is_none() {
                    return;
                }
                let current = self.latest == Some(id);
                if let Some(error) = message.get("error") {
                    if error["code"].as_i64() != Some(REQUEST_CANCELLED) {
                        self.figures.errors += 1;
                        self.figures.note_once(format!("error answer: {error}"));
                    }
                    if current {
                        self.shown = Some(Shown::Nothing { at: arrived });
                    }
                    return;
                }
                let text = first_insert_text(&message["result"]).unwrap_or_default();
                let withheld = self.withheld.take();
                if let (true, Some(text)) = (current && !shows_something(text), withheld) {
                    self.shown = Some(Shown::Withheld { at: arrived, text });
                } else if let Some(shown) = self.figures.answer_arrived(current, text, arrived) {
                    self.shown = Some(shown);
                }
            }
        }
    }
}

/// The first item's text of an inline completion answer (a list object or a bare array).
fn first_insert_text(result: &Value) -> Option<&str> {
    let items = result.get("items").unwrap_or(result);
    let text = &items.get(0)?["insertText"];
    text.as_str().or_else(|| text["value"].as_str())
}

impl Client for InfillClient {
    fn cursor_rest(&mut self, at: super::driver::Position) -> anyhow::Result<()> {
        self.lsp.notify(
            "infill/cursorMoved",
            json!({"textDocument": {"uri": self.uri},
                   "position": {"line": at.line, "character": at.character}}),
        )
    }

    fn open(&mut self, trace: &FileTrace) -> anyhow::Result<()> {
        let path = std::path::absolute(&trace.path)?;
        self.uri = file_uri(&path);
        self.version = 1;
        self.lsp.open(&self.uri, trace.language, &trace.text)
    }

    fn keystroke(&mut self, key: &Keystroke) -> anyhow::Result<()> {
        self.version += 1;
        let range = json!({
            "start": {"line": key.start.line, "character": key.start.character},
            "end": {"line": key.end.line, "character": key.end.character},
        });
        self.lsp.notify(
            "textDocument/didChange",
            json!({
                "textDocument": {"uri": self.uri, "version": self.version},
                "contentChanges": [{"range": range, "text": key.text}],
            }),
        )?;
        if let Some(previous) = self.latest.filter(|id| self.open.contains_key(id)) {
            self.lsp.cancel(previous)?;
            if let Some(cancelled) = self.figures.cancelled_requests.as_mut() {
                *cancelled += 1;
            }
        }
        let at = key.cursor_position;
        let params = LspClient::inline_completion_params(&self.uri, at.line, at.character);
        let id = self.lsp.send_request("textDocument/inlineCompletion", params)?;
        self.open.insert(id, key.typed_at);
        self.latest = Some(id);
        self.shown = None;
        self.figures.requests += 1;
        Ok(())
    }

    fn poll(&mut self, timeout: Duration) -> anyhow::Result<()> {
        if let Some(message) = self.lsp.try_next_message(timeout)? {
            self.handle(&message);
            // Handled here; the client's own list would only grow.
            self.lsp.notifications.clear();
        }
        Ok(())
    }

    fn shown(&self) -> Option<Shown> {
        self.shown.clone()
    }

    fn close(&mut self, _trace: &FileTrace, patience: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + patience;
        while !self.open.is_empty() {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else { break };
            self.poll(left)?;
        }
        self.open.clear();
        self.latest = None;
        self.lsp.notify("textDocument/didClose", json!({"textDocument": {"uri": self.uri}}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_text_from_either_answer_shape() {
        let list = json!({"items": [{"insertText": "x + 1", "range": null}]});
        assert_eq!(first_insert_text(&list), Some("x + 1"));
        let array = json!([{"insertText": {"kind": "snippet", "value": "y"}}]);
        assert_eq!(first_insert_text(&array), Some("y"));
        assert_eq!(first_insert_text(&json!({"items": []})), None);
        assert_eq!(first_insert_text(&Value::Null), None);
    }
}
