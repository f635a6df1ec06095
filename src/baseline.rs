//! The llama-server baseline: llama.cpp's own HTTP server, asked at `/infill` the way llama.vim
//! asks it, so `infill eval` and `infill bench` can put both side by side.
//!
//! Plain HTTP to a server the user started (normally on localhost); nothing here is contacted
//! unless a `--baseline-url` is given.

use std::time::{Duration, Instant};

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

impl InfillRequest {
    /// Greedy, prompt cache on — the settings llama.vim uses.
    pub fn greedy(prefix: &str, suffix: &str, n_predict: usize) -> Self {
        // llama.vim splits the cursor line off the prefix and sends it as `prompt`.
        let line_start = prefix.rfind('\n').map_or(0, |i| i + 1);
        Self {
            input_prefix: prefix[..line_start].to_string(),
            input_suffix: suffix.to_string(),
            input_extra: Vec::new(),
            prompt: prefix[line_start..].to_string(),
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
    fn cursor_line_goes_in_prompt_like_llama_vim() {
        let request = InfillRequest::greedy("def f():\n    return ", "\n", 16);
        assert_eq!(request.input_prefix, "def f():\n");
        assert_eq!(request.prompt, "    return ");
        let json = serde_json::to_value(&request).unwrap();
        assert_eq!(json["cache_prompt"], true);
        assert!(json.get("input_extra").is_none());
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
