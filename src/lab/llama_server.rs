//! The llama-server baseline: llama.cpp's own HTTP server, asked at `/infill` the way llama.vim
//! asks it, so `infill eval` and `infill bench` can put both side by side.
//!
//! Plain HTTP to a server the user started (normally on localhost); nothing here is contacted
//! unless a `--baseline-url` is given.

use std::time::{Duration, Instant};

use ropey::Rope;
use serde::{Deserialize, Serialize};

/// One `/infill` request. llama-server formats the FIM prompt itself from the model's tokens.
#[derive(Debug, Clone, Serialize)]
pub struct InfillRequest {
    pub input_prefix: String,
    pub input_suffix: String,
    /// Other files, as llama.vim sends its ring buffer of chunks.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub input_extra: Vec<ExtraChunk>,
    /// Text of the cursor line before the cursor (llama.vim sends it as `prompt`).
    pub prompt: String,
    pub n_predict: usize,
    /// Indentation of the cursor line (llama.vim sends it): llama-server stops at a generated
    /// line indented less, i.e. when the suggestion would leave the current block.
    pub n_indent: usize,
    pub cache_prompt: bool,
    pub temperature: f32,
    pub top_k: i32,
    pub samplers: Vec<&'static str>,
    pub stream: bool,
    /// Stop generating this long after the first token once a newline was produced (llama.vim
    /// sends 500 ms); `None` leaves it out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub t_max_predict_ms: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExtraChunk {
    pub filename: String,
    pub text: String,
}

/// llama.vim's window: 256 lines before the cursor line, 64 after.
const N_PREFIX_LINES: usize = 256;
const N_SUFFIX_LINES: usize = 64;

/// The text around the cursor, split as llama.vim splits it: lines before the cursor line
/// (`input_prefix`), the cursor line up to the cursor (`prompt`), the rest (`input_suffix`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LlamaVimContext {
    pub prefix: String,
    pub prompt: String,
    pub suffix: String,
    /// Chars after the cursor on its line.
    pub line_suffix_chars: usize,
}

impl LlamaVimContext {
    /// `cursor` is a char index of `doc`.
    pub fn at(doc: &Rope, cursor: usize) -> Self {
        let y = doc.char_to_line(cursor);
        let lines = vim_line_count(doc);
        let line = |i: usize| -> String {
            let text = doc.line(i).to_string();
            text.trim_end_matches(['\n', '\r']).to_string()
        };
        let joined = |range: std::ops::Range<usize>| -> String {
            range.map(line).collect::<Vec<_>>().join("\n")
        };
        let current = line(y);
        let x = cursor - doc.line_to_char(y);
        let (before, after) =
            current.split_at(current.char_indices().nth(x).map_or(current.len(), |(i, _)| i));
        let last_suffix_line = (y + N_SUFFIX_LINES).min(lines.saturating_sub(1));
        Self {
            prefix: joined(y.saturating_sub(N_PREFIX_LINES)..y) + "\n",
            prompt: before.to_string(),
            suffix: format!("{after}\n{}\n", joined(y + 1..last_suffix_line + 1)),
            line_suffix_chars: after.chars().count(),
        }
    }
}

/// Lines as Vim counts them: a final line break does not start another line.
fn vim_line_count(doc: &Rope) -> usize {
    let n = doc.len_lines();
    if n > 1 && doc.line(n - 1).len_chars() == 0 { n - 1 } else { n }
}

impl InfillRequest {
    /// The raw baseline: the whole file as prefix and suffix (the server keeps what its batch
    /// allows), greedy, nothing else — no indentation stop, no time limit, no other files.
    pub fn whole_file(prefix: &str, suffix: &str, n_predict: usize) -> Self {
        let context = LlamaVimContext {
            prefix: prefix.to_string(),
            prompt: String::new(),
            suffix: suffix.to_string(),
            line_suffix_chars: 0,
        };
        Self { n_indent: 0, ..Self::greedy(context, n_predict) }
    }

    /// Greedy, prompt cache on — the settings llama.vim uses.
    pub fn greedy(context: LlamaVimContext, n_predict: usize) -> Self {
        // Bytes of leading blanks, as llama.vim measures them (`strlen(matchstr(…, '^\s*'))`).
        let n_indent = context.prompt.len() - context.prompt.trim_start_matches([' ', '\t']).len();
        Self {
            n_indent,
            input_prefix: context.prefix,
            input_suffix: context.suffix,
            input_extra: Vec::new(),
            prompt: context.prompt,
            n_predict,
            cache_prompt: true,
            temperature: 0.0,
            top_k: 1,
            samplers: vec!["top_k"],
            stream: false,
            t_max_predict_ms: None,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Timings {
    #[serde(default)]
    pub cache_n: Option<i64>,
    #[serde(default)]
    pub prompt_n: Option<i64>,
    #[serde(default)]
    pub prompt_ms: Option<f64>,
    #[serde(default)]
    pub predicted_n: Option<i64>,
    #[serde(default)]
    pub predicted_ms: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct InfillResponse {
    #[serde(default)]
    pub content: String,
    #[serde(default)]
    pub tokens_evaluated: Option<i64>,
    #[serde(default)]
    pub tokens_cached: Option<i64>,
    #[serde(default)]
    pub timings: Timings,
}

/// A baseline answer with the wall-clock time the client waited for it.
#[derive(Debug, Clone)]
pub struct BaselineAnswer {
    pub response: InfillResponse,
    pub elapsed: Duration,
}

pub struct LlamaServer {
    base_url: String,
    agent: ureq::Agent,
}

impl LlamaServer {
    pub fn new(base_url: &str) -> Self {
        let config =
            ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(600))).build();
        Self { base_url: base_url.trim_end_matches('/').to_string(), agent: config.into() }
    }

    /// Whether the server answers `/health` with 200 (model loaded).
    pub fn is_ready(&self) -> bool {
        self.agent
            .get(format!("{}/health", self.base_url))
            .call()
            .is_ok_and(|r| r.status().is_success())
    }

    /// The model file the server was started with (`/props`), if it says.
    pub fn model_path(&self) -> Option<String> {
        let mut response = self.agent.get(format!("{}/props", self.base_url)).call().ok()?;
        let props: serde_json::Value = response.body_mut().read_json().ok()?;
        props["model_path"].as_str().map(str::to_string)
    }

    /// Waits until `/health` says the model is loaded (llama-server answers 503 while loading).
    pub fn wait_ready(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            if self.is_ready() {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    pub fn infill(&self, request: &InfillRequest) -> anyhow::Result<BaselineAnswer> {
        let started = Instant::now();
        let mut response = self
            .agent
            .post(format!("{}/infill", self.base_url))
            .send_json(request)
            .map_err(|e| anyhow::anyhow!("llama-server at {}: {e}", self.base_url))?;
        let response: InfillResponse = response.body_mut().read_json()?;
        Ok(BaselineAnswer { response, elapsed: started.elapsed() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_is_split_like_llama_vim() {
        let doc = Rope::from_str("a\nbb\n    ret x\nc\n");
        let cursor = "a\nbb\n    ret".chars().count();
        let context = LlamaVimContext::at(&doc, cursor);
        assert_eq!(context.prefix, "a\nbb\n");
        assert_eq!(context.prompt, "    ret");
        assert_eq!(context.suffix, " x\nc\n");
        assert_eq!(context.line_suffix_chars, 2);
        let start = LlamaVimContext::at(&doc, 0);
        assert_eq!((start.prefix.as_str(), start.prompt.as_str()), ("\n", ""));
        assert_eq!(start.suffix, "a\nbb\n    ret x\nc\n");
        assert_eq!(InfillRequest::greedy(start, 16).n_indent, 0);
        let json = serde_json::to_value(InfillRequest::greedy(context, 16)).unwrap();
        assert_eq!(json["cache_prompt"], true);
        assert_eq!(json["prompt"], "    ret");
        assert_eq!(json["n_indent"], 4);
        assert!(json.get("input_extra").is_none());
    }

    #[test]
    fn the_raw_request_is_the_whole_file_and_nothing_else() {
        let prefix = "x = 1\n".repeat(400) + "def f():\n    ret";
        let suffix = "\n".to_string() + &"y = 2\n".repeat(100);
        let request = InfillRequest::whole_file(&prefix, &suffix, 32);
        let json = serde_json::to_value(&request).unwrap();
        assert_eq!(json["input_prefix"], prefix.as_str(), "all 401 lines, not llama.vim's 256");
        assert_eq!(json["input_suffix"], suffix.as_str());
        assert_eq!(json["prompt"], "");
        assert_eq!(json["n_indent"], 0, "no indentation stop");
        assert_eq!(json["n_predict"], 32);
        assert_eq!(json["top_k"], 1, "greedy");
        assert!(json.get("t_max_predict_ms").is_none() && json.get("input_extra").is_none());
    }

    #[test]
    fn response_fields_are_read_leniently() {
        let response: InfillResponse = serde_json::from_str(
            r#"{"content":"fib(n-1)","tokens_cached":40,"timings":{"prompt_n":3,"prompt_ms":21.5,"predicted_n":5,"predicted_ms":80.0}}"#,
        )
        .unwrap();
        assert_eq!(response.content, "fib(n-1)");
        assert_eq!(response.timings.prompt_n, Some(3));
        assert_eq!(response.tokens_evaluated, None);
    }
}
