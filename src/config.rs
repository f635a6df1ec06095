//! User settings: `initializationOptions` from the editor, command-line flags for `infill complete`.
//!
//! A typo or a wrong type in one setting never stops the server: that setting keeps its default
//! and the user is told which key was ignored and why.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::postprocess::Filters;
use crate::prompt::{Budgets, Order, RepoHeader};

/// When a suggestion may span several lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Multiline {
    /// Several lines when the cursor is on a blank line, one line otherwise.
    #[default]
    Auto,
    Always,
    Never,
}

/// Which part of the file the FIM prompt shows first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum FimOrder {
    /// The model family's own choice (`prompt::template::TEMPLATES`).
    #[default]
    Auto,
    /// Prefix, suffix, middle.
    Psm,
    /// Suffix, prefix, middle: typing at the cursor only changes the prompt's end.
    Spm,
}

impl FimOrder {
    pub fn order(self) -> Option<Order> {
        match self {
            FimOrder::Auto => None,
            FimOrder::Psm => Some(Order::PrefixSuffixMiddle),
            FimOrder::Spm => Some(Order::SuffixPrefixMiddle),
        }
    }
}

/// Which engine runs the model: in-process, or a server the user runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum EngineKind {
    /// llama.cpp in this process, with `model`.
    #[default]
    Local,
    /// llama.cpp's own server: `/completion` with infill's prompt as tokens.
    LlamaServer,
    /// Any server with OpenAI's `/v1/completions` (vLLM, SGLang, LM Studio, llama-server).
    Openai,
    /// Ollama's `/api/generate` with `raw: true`.
    Ollama,
}

/// The `engine` setting: where prompts go. infill builds the prompt for every kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct EngineSettings {
    pub kind: EngineKind,
    /// The server's base URL (`openai`: up to and including `/v1`); absent: the kind's usual
    /// local address.
    pub url: Option<String>,
    /// The model name the server is asked for (`openai`, `ollama`).
    pub model: Option<String>,
    /// Name of the environment variable that holds the API key (sent as a bearer token).
    pub api_key_env: Option<String>,
    /// Longest wait for the server: to connect, for an answer, and between two streamed pieces.
    /// Default 120 s: a CPU llama-server takes 30-70 s for a 2-3k-token prompt on 2 cores, and a
    /// suggestion no longer wanted is cancelled at once whatever this says.
    pub timeout_ms: u64,
    /// Ollama's `keep_alive` (how long it keeps the model loaded), e.g. "30m".
    pub keep_alive: Option<String>,
    /// A PEM bundle of the CA certificates an https:// server's certificate must chain to,
    /// instead of the public roots: a team's own CA or self-signed server.
    pub ca_file: Option<PathBuf>,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            kind: EngineKind::Local,
            url: None,
            model: None,
            api_key_env: None,
            timeout_ms: 120_000,
            keep_alive: None,
            ca_file: None,
        }
    }
}

/// The `flashAttention` setting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FlashAttention {
    #[default]
    Auto,
    On,
    Off,
}

/// The `kvCacheType` setting: the KV cache types llama.cpp's CPU and GPU backends all have
/// attention kernels for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum KvCacheType {
    #[default]
    #[serde(rename = "f16")]
    F16,
    #[serde(rename = "q8_0")]
    Q8_0,
    #[serde(rename = "q4_0")]
    Q4_0,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Settings {
    /// Which engine runs the model (`local`, the default, or a remote server).
    pub engine: EngineSettings,
    /// The GGUF model: a path, a catalogue name or `hf:OWNER/REPO[:QUANT]` / `hf:…/FILE.gguf`
    /// (`models`).
    pub model: Option<PathBuf>,
    /// Force a prompt family by name (see `prompt::template::TEMPLATES`) instead of detecting it.
    pub family: Option<String>,
    /// CPU threads for llama.cpp; default: all available cores.
    pub threads: Option<usize>,
    /// KV cache size in tokens (capped by the model's training context).
    pub context_size: u32,
    /// Model layers offloaded to a GPU (absent: all of them when the binary has a GPU backend
    /// and it finds a GPU, else none).
    pub gpu_layers: Option<u32>,
    /// Which GPU holds the model when there are several (llama.cpp's device order).
    pub main_gpu: u32,
    /// llama.cpp's fused attention kernels: `auto` (default) where the device supports them.
    pub flash_attention: FlashAttention,
    /// The KV cache's element type: `f16` (default), or `q8_0` / `q4_0` for about a half / a
    /// quarter of its memory (a longer context, more saved places) at a small cost in accuracy.
    /// The quantized types need flash attention (not `off`).
    pub kv_cache_type: KvCacheType,
    pub prefix_tokens: usize,
    pub suffix_tokens: usize,
    pub max_tokens: usize,
    /// 0 means greedy decoding; above 0, top-k/top-p sampling at that temperature.
    pub temperature: f32,
    pub top_k: i32,
    pub top_p: f32,
    pub seed: u32,
    pub multiline: Multiline,
    pub fim_order: FimOrder,
    /// Milliseconds of generation after which a multi-line suggestion stops at its next line
    /// break (0, the default: no limit besides `maxTokens`, so that what is suggested does not
    /// depend on how fast the machine is; on a slow CPU a time limit cut every multi-line
    /// suggestion to its first line).
    pub generation_budget_ms: u64,
    /// Wait before a model call, so that a burst of keystrokes starts one call; `null`/absent:
    /// adaptive (from the typing gaps and model-call times seen), 0: never wait.
    pub debounce_ms: Option<u64>,
    /// After a suggestion, prepare the one that follows its acceptance in the background.
    pub prefetch: bool,
    /// When an edit moved a block of the cached prompt (the suffix, after typing at the cursor),
    /// shift its KV cells instead of evaluating it again. Off by default: the shifted cells keep
    /// what they computed beside the old text, and in VS Code this turned a correct
    /// `fib(n-1) + fib(n-2)` into `n = fib(n - 1) + fib(n - 2)`, for ~10-20 % fewer evaluated
    /// tokens on the bench trace and no measurable latency gain.
    pub kv_shift: bool,
    /// Memory (MiB) for the KV cache of places the cursor left: going back to one restores it
    /// (a copy, milliseconds) instead of evaluating its ~2,000 prompt tokens again (seconds on a
    /// CPU). 0 switches this off. Taken from the computer's memory, beside the model.
    #[serde(rename = "savedPlacesMiB")]
    pub saved_places_mib: usize,
    /// On a jump to another place of the same file, keep the prompt's front (the file's last
    /// context choice, when it holds every snippet the new place clearly needs, and the last
    /// prefix start, while the prefix stays between 2/3 of its budget and 1.5 times it), so that
    /// the KV cache keeps it and only what is new is evaluated.
    pub keep_prompt_front: bool,
    /// While the user types at the cursor of the document's last prompt, the typed text opens
    /// that prompt's middle instead of ending a fresh prompt's prefix: the same document for
    /// the model, but the KV cache keeps the suffix, which a prefix–suffix–middle prompt would
    /// evaluate again on every keystroke (up to 512 tokens, seconds on a CPU).
    pub typed_middle: bool,
    /// When the model's answer breaks the syntax of its lines (`completion::syntax`), ask it
    /// once more with its first token banned and show the second answer if it parses (the
    /// in-process and llama-server engines; other servers name no token ids to ban).
    pub second_opinion: bool,
    /// When evaluating a request's whole prompt would take longer than this (at the prompt
    /// speed the in-process engine measured last), answer first from a short prompt (the
    /// cursor's 256 tokens before and 64 after, no other files), then evaluate the whole one
    /// behind it, so that the next request there finds it ready. A first visit to a place on a
    /// CPU (~2,000 tokens, 10–20 s on 2 cores) then shows a suggestion in seconds. 0: never.
    pub quick_answer_after_ms: u64,
    /// When a multi-line suggestion is still being written this long after its model call
    /// started, show its whole lines so far at once and write the rest into the suggestion
    /// cache, where typing through (or accepting) the shown lines finds it. On a 2-core CPU a
    /// 64-token block takes ~5 s to write, its first line under one. 0: always wait for the
    /// whole suggestion.
    pub early_lines_after_ms: u64,
    /// Speculative decoding from the prompt (greedy decoding only): up to this many tokens that
    /// followed the last occurrence of what was just written are checked in the same decode
    /// call, and kept while they equal the model's own choice. 0 (the default) switches it off:
    /// on a 2-core CPU the batch costs more than the tokens it saves (21.8 vs 27.9 tokens/s on
    /// 26 multi-line dev tasks with 8, the same text); a GPU verifies a batch for about the price
    /// of one token.
    pub draft_tokens: usize,
    /// Token healing: take the prompt's last token (`x = ` ends in a lone space, `self.ma` in
    /// `ma`) back out of the prefix and let the model write it again, choosing only among the
    /// tokens that agree with what was typed. Local engine only. Off by default: on 40 tune
    /// tasks with the cursor after a space or a dot, Qwen2.5-Coder-0.5B did worse with it (EM
    /// 0.250 vs 0.325): FIM training splits text anywhere, so a split token is nothing new to
    /// the model, and taking a space back made it start a new statement (`impl` → `fn …`).
    pub token_healing: bool,
    /// After an edit and a short idle time, evaluate the prompt at the edit point, so that the
    /// first request there (e.g. from a client that asks only on demand) finds it ready.
    pub warm_up: bool,
    /// Send an `infill/trace` notification per completion (prompt, token counts, timings).
    pub trace: bool,
    /// Post-processing filters to run, e.g. `{"bracketBalance": false}` switches one off.
    pub filters: Filters,
    /// Show the model code from other files of the workspace (definitions the cursor's code
    /// uses, imported files, similar code, recent edits).
    pub repo_context: bool,
    /// Token budget for that code, counted with the model's tokenizer (was `contextTokens`).
    pub repo_context_tokens: usize,
    /// When the prompt names the repository and the file (`always`, or `withContext`: only when
    /// code from other files is shown too), for families trained with a repository format.
    /// Default `withContext`: on the tune half, a lone file's header made the 0.5B model
    /// misplace indentation and repeat the suffix (single-line EM 0.308 → 0.385 without it).
    pub repo_header: RepoHeader,
    /// Show nothing when the model's confidence in a suggestion (the geometric mean of its
    /// shown tokens' probabilities, 0..1) is below this; 0 switches the gate off. The default
    /// 0.7 was chosen on the tune half of the dev set (docs/measurements.md): it withheld 17 of
    /// 56 suggestions, 2 of them right. With the gate on, a suggestion that breaks the syntax of
    /// its lines is withheld too (`completion::syntax`).
    pub min_confidence: f32,
    /// Extra glob patterns (gitignore syntax, relative to a workspace root) of files whose text
    /// must never reach a prompt, on top of the built-in secrets list (`.env*`, keys, …).
    pub context_deny: Vec<String>,
    /// Language ids (as the editor names them: `markdown`, `plaintext`…) never completed.
    /// Default: prose and commit messages, as other completion tools do.
    pub disabled_languages: Vec<String>,
    /// Globs (gitignore syntax, relative to a workspace root) of files never completed.
    #[serde(deserialize_with = "crate::completion::switches::deserialize_globs")]
    pub disabled_files: Vec<String>,
}

impl Default for Settings {
    fn default() -> Self {
        let budgets = Budgets::default();
        Self {
            engine: EngineSettings::default(),
            model: None,
            family: None,
            threads: None,
            context_size: 4096,
            gpu_layers: None,
            main_gpu: 0,
            flash_attention: FlashAttention::default(),
            kv_cache_type: KvCacheType::default(),
            prefix_tokens: budgets.prefix_tokens,
            suffix_tokens: budgets.suffix_tokens,
            max_tokens: 64,
            temperature: 0.0,
            top_k: 40,
            top_p: 0.95,
            seed: 0,
            multiline: Multiline::Auto,
            fim_order: FimOrder::Auto,
            generation_budget_ms: 0,
            debounce_ms: None,
            prefetch: true,
            warm_up: true,
            kv_shift: false,
            saved_places_mib: 256,
            keep_prompt_front: true,
            typed_middle: true,
            second_opinion: true,
            quick_answer_after_ms: 3000,
            early_lines_after_ms: 500,
            draft_tokens: 0,
            token_healing: false,
            trace: false,
            filters: Filters::default(),
            repo_context: true,
            repo_context_tokens: budgets.repo_context_tokens,
            repo_header: RepoHeader::WithContext,
            min_confidence: 0.7,
            context_deny: Vec::new(),
            disabled_languages: ["plaintext", "markdown", "scminput", "git-commit"]
                .map(String::from)
                .to_vec(),
            disabled_files: Vec::new(),
        }
    }
}

/// Keys the engine loads the model with: a new value takes effect when the server restarts.
/// Every other key applies from the next request on. The VS Code extension keeps the same list
/// (`editors/vscode/src/settings.ts`; a test holds them equal).
pub const RESTART_KEYS: [&str; 9] = [
    "engine",
    "model",
    "family",
    "threads",
    "contextSize",
    "gpuLayers",
    "mainGpu",
    "flashAttention",
    "kvCacheType",
];

/// Keys that were renamed: (old name, new name). The old name is still read, with a warning.
const RENAMED_KEYS: [(&str, &str); 1] = [("contextTokens", "repoContextTokens")];

impl Settings {
    /// `self` (settings just read from `object`) for an engine already running with `running`:
    /// the `RESTART_KEYS` keep their running values. Also returns those of them that `object`
    /// sets to another value, for the user to be told they need a restart.
    pub fn keeping_restart_keys(
        self,
        running: &Settings,
        object: &Value,
    ) -> (Settings, Vec<&'static str>) {
        let (Ok(Value::Object(mut requested)), Ok(Value::Object(current))) =
            (serde_json::to_value(&self), serde_json::to_value(running))
        else {
            return (self, Vec::new());
        };
        let mut changed = Vec::new();
        for key in RESTART_KEYS {
            let given = object.get(key).is_some_and(|v| !v.is_null());
            if given && requested.get(key) != current.get(key) {
                changed.push(key);
            }
            if let Some(value) = current.get(key) {
                requested.insert(key.to_string(), value.clone());
            }
        }
        // Both maps come from `Settings` values, so this cannot fail; keep `self` if it did.
        match serde_json::from_value(Value::Object(requested)) {
            Ok(applied) => (applied, changed),
            Err(_) => (self, changed),
        }
    }

    /// Reads settings from `initializationOptions`, keeping every valid key and reporting the rest.
    pub fn from_json(options: Option<&Value>) -> (Self, Vec<String>) {
        Self::default().merged(options)
    }

    /// These settings with the keys of `options` applied on top (a `didChangeConfiguration`
    /// object changes what it names and nothing else). Each key is read alone, so one bad key
    /// cannot discard the good ones; a bad key is reported and keeps its value.
    pub fn merged(&self, options: Option<&Value>) -> (Self, Vec<String>) {
        let mut warnings = Vec::new();
        let Some(options) = options.filter(|v| !v.is_null()) else {
            return (self.clone(), warnings);
        };
        let Some(object) = options.as_object() else {
            warnings.push(format!("settings must be a JSON object, got {options}"));
            return (self.clone(), warnings);
        };
        let Ok(Value::Object(mut merged)) = serde_json::to_value(self) else {
            return (self.clone(), warnings);
        };
        let known = known_keys();
        for (key, value) in object {
            if !known.contains(key) && !RENAMED_KEYS.iter().any(|(old, _)| old == key) {
                let hint = nearest_key(key, known.iter().map(String::as_str))
                    .map(|near| format!("; did you mean `{near}`?"))
                    .unwrap_or_default();
                warnings.push(format!("setting `{key}` ignored: no such setting{hint}"));
                continue;
            }
            let key = match RENAMED_KEYS.iter().find(|(old, _)| old == key) {
                Some(&(old, new)) => {
                    warnings.push(format!("setting `{old}` is deprecated: it is now `{new}`"));
                    // The new name wins when both are given.
                    if object.contains_key(new) {
                        continue;
                    }
                    new.to_string()
                }
                None => key.clone(),
            };
            let single = Value::Object(Map::from_iter([(key.clone(), value.clone())]));
            match serde_json::from_value::<Settings>(single) {
                // A value the settings cannot hold as given (a float beyond f32 becomes
                // infinite, which JSON cannot write back) would fail every later merge.
                Ok(read) if !survives_json(&read) => {
                    warnings.push(format!("setting `{key}` ignored: {value} is out of range"));
                }
                Ok(_) => {
                    merged.insert(key, value.clone());
                }
                Err(err) => warnings.push(format!("setting `{key}` ignored: {err}")),
            }
        }
        let settings = serde_json::from_value(Value::Object(merged)).unwrap_or_else(|err| {
            warnings.push(format!("settings ignored: {err}"));
            self.clone()
        });
        (settings, warnings)
    }

    pub fn budgets(&self) -> Budgets {
        Budgets {
            prefix_tokens: self.prefix_tokens,
            suffix_tokens: self.suffix_tokens,
            repo_context_tokens: if self.repo_context { self.repo_context_tokens } else { 0 },
        }
    }

    pub fn threads(&self) -> usize {
        self.threads
            .filter(|&n| n > 0)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
    }
}

/// Every setting's key, as written in a settings object.
pub fn known_keys() -> &'static [String] {
    static KEYS: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| {
        // Every field serializes (none is skipped), so the default settings name them all.
        match serde_json::to_value(Settings::default()) {
            Ok(Value::Object(map)) => map.keys().cloned().collect(),
            _ => Vec::new(),
        }
    });
    &KEYS
}

/// The valid key `key` was most likely meant to be: the closest by edit distance (ignoring case),
/// if it is close enough to be a typo (at most a third of the key's length, and at least 2).
pub fn nearest_key<'a>(key: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = key.to_lowercase();
    let limit = (key.chars().count() / 3).max(2);
    known
        .into_iter()
        .map(|k| (strsim::levenshtein(&lower, &k.to_lowercase()), k))
        .filter(|&(distance, _)| distance <= limit)
        .min()
        .map(|(_, k)| k)
}

/// Whether `settings` read back from their own JSON are the same: merges start from that JSON.
fn survives_json(settings: &Settings) -> bool {
    serde_json::to_value(settings)
        .and_then(serde_json::from_value::<Settings>)
        .is_ok_and(|read| read == *settings)
}

/// Command-line `--options '{...}'`: extra settings as a JSON object.
pub fn parse_json_object(text: &str) -> Result<Map<String, Value>, String> {
    match serde_json::from_str(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err("must be a JSON object".into()),
        Err(err) => Err(err.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn missing_options_give_defaults() {
        let (settings, warnings) = Settings::from_json(None);
        assert_eq!(settings, Settings::default());
        assert!(warnings.is_empty());
    }

    #[test]
    fn good_keys_survive_a_typo_and_a_wrong_type() {
        let options =
            json!({"maxTokens": 12, "modle": "x.gguf", "temperature": "hot", "multiline": "never"});
        let (settings, warnings) = Settings::from_json(Some(&options));
        assert_eq!(settings.max_tokens, 12);
        assert_eq!(settings.multiline, Multiline::Never);
        assert_eq!(settings.temperature, 0.0);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(
            warnings.iter().any(|w| w.contains("`modle`") && w.contains("did you mean `model`?"))
        );
        assert!(warnings.iter().any(|w| w.contains("`temperature`")));
    }

    #[test]
    fn the_old_name_of_a_renamed_key_is_read_with_a_warning() {
        let (settings, warnings) = Settings::from_json(Some(&json!({"contextTokens": 300})));
        assert_eq!(settings.repo_context_tokens, 300);
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].contains("`contextTokens`") && warnings[0].contains("`repoContextTokens`")
        );
        let both = json!({"contextTokens": 300, "repoContextTokens": 500});
        assert_eq!(Settings::from_json(Some(&both)).0.repo_context_tokens, 500);
    }

    #[test]
    fn restart_keys_keep_their_running_values() {
        let running = Settings { threads: Some(1), ..Settings::default() };
        let object = json!({"model": "/m/other.gguf", "threads": 1, "maxTokens": 9,
                            "contextSize": 2048, "debounceMs": 500});
        let (requested, _) = Settings::from_json(Some(&object));
        let (applied, changed) = requested.keeping_restart_keys(&running, &object);
        assert_eq!(changed, vec!["model", "contextSize"]);
        assert_eq!(applied.model, None);
        assert_eq!(applied.context_size, 4096);
        assert_eq!(applied.threads, Some(1));
        assert_eq!(applied.max_tokens, 9);
        assert_eq!(applied.debounce_ms, Some(500), "applies live");
    }

    #[test]
    fn restart_keys_left_out_are_not_changes() {
        let running =
            Settings { model: Some("/m/a.gguf".into()), threads: Some(2), ..Settings::default() };
        let object = json!({"maxTokens": 5});
        let (requested, _) = Settings::from_json(Some(&object));
        let (applied, changed) = requested.keeping_restart_keys(&running, &object);
        assert!(changed.is_empty(), "{changed:?}");
        assert_eq!(applied.model, running.model);
        assert_eq!(applied.threads, Some(2));
        assert_eq!(applied.max_tokens, 5);
    }

    #[test]
    fn a_change_merges_onto_the_settings_in_force() {
        let running = Settings { trace: true, max_tokens: 9, ..Settings::default() };
        let (same, warnings) = running.merged(Some(&json!({})));
        assert_eq!(same, running);
        assert!(warnings.is_empty());
        let (changed, warnings) =
            running.merged(Some(&json!({"maxTokens": 3, "debounceMs": null, "trace": "yes"})));
        assert_eq!(changed.max_tokens, 3);
        assert_eq!(changed.debounce_ms, None);
        assert!(changed.trace, "a bad value keeps the value in force");
        assert_eq!(warnings.len(), 1, "{warnings:?}");
    }

    /// Found by `tests/fuzz` (settings_merge): `1e39` reads as an infinite f32, which JSON
    /// writes as `null`; with it in force, every later change was refused whole.
    #[test]
    fn a_float_beyond_f32_is_refused_and_later_changes_still_apply() {
        for key in ["temperature", "topP"] {
            let (settings, warnings) =
                Settings::from_json(Some(&json!({key: 1e39, "trace": true})));
            assert!(settings.trace);
            assert_eq!(settings.temperature, Settings::default().temperature);
            assert_eq!(settings.top_p, Settings::default().top_p);
            assert_eq!(warnings.len(), 1, "{warnings:?}");
            assert!(warnings[0].contains(key) && warnings[0].contains("out of range"));
            let (later, warnings) = settings.merged(Some(&json!({"maxTokens": 5})));
            assert_eq!(later.max_tokens, 5);
            assert!(warnings.is_empty(), "{warnings:?}");
        }
    }

    #[test]
    fn attention_settings_are_read_and_a_value_llama_cpp_lacks_keeps_the_default() {
        let options = json!({"flashAttention": "on", "kvCacheType": "q8_0"});
        let (settings, warnings) = Settings::from_json(Some(&options));
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(settings.flash_attention, FlashAttention::On);
        assert_eq!(settings.kv_cache_type, KvCacheType::Q8_0);
        let (settings, warnings) = Settings::from_json(Some(&json!({"kvCacheType": "q5_1"})));
        assert_eq!(settings.kv_cache_type, KvCacheType::F16);
        assert!(warnings.iter().any(|w| w.contains("kvCacheType")), "{warnings:?}");
    }

    #[test]
    fn every_restart_key_is_a_setting() {
        let settings = serde_json::to_value(Settings::default()).unwrap();
        for key in RESTART_KEYS {
            assert!(settings.get(key).is_some(), "{key} is not a settings key");
        }
    }

    /// The VS Code extension restarts the server for its own list of keys; it must be this one.
    #[test]
    fn the_vscode_extension_restarts_for_the_same_keys() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/editors/vscode/src/settings.ts");
        let source = std::fs::read_to_string(path).unwrap();
        let start = source.find("export const RESTART_KEYS").expect("RESTART_KEYS in settings.ts");
        let list = &source[start..];
        let list = &list[list.find("= [").unwrap() + 3..list.find("];").unwrap()];
        let mut keys: Vec<&str> = list
            .split(',')
            .map(|k| k.trim().trim_matches('\''))
            .filter(|k| !k.is_empty())
            .collect();
        keys.sort();
        let mut expected = RESTART_KEYS.to_vec();
        expected.sort();
        assert_eq!(keys, expected);
    }

    #[test]
    fn the_engine_is_one_object_read_whole() {
        let options = json!({"engine": {"kind": "llama-server", "url": "http://127.0.0.1:9"}});
        let (settings, warnings) = Settings::from_json(Some(&options));
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(settings.engine.kind, EngineKind::LlamaServer);
        assert_eq!(settings.engine.url.as_deref(), Some("http://127.0.0.1:9"));
        assert_eq!(settings.engine.timeout_ms, EngineSettings::default().timeout_ms);
        // A typo inside it is reported and the engine in force stays.
        let (kept, warnings) = settings.merged(Some(&json!({"engine": {"kind": "olama"}})));
        assert_eq!(kept.engine, settings.engine);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("`engine`"), "{warnings:?}");
    }

    #[test]
    fn non_object_options_are_reported() {
        let (settings, warnings) = Settings::from_json(Some(&json!(["model"])));
        assert_eq!(settings, Settings::default());
        assert_eq!(warnings.len(), 1);
    }
}
