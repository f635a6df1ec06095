//! Settings files: the user's `$XDG_CONFIG_HOME/infill/config.toml` (else
//! `~/.config/infill/config.toml`) and a project's `.infill.toml` at a workspace root, with the
//! same keys as the settings object (camelCase).
//!
//! Layers, each on top of the one before: built-in defaults < user file < project file(s) (one
//! per workspace folder, in folder order) < `initializationOptions` <
//! `workspace/didChangeConfiguration`. This module builds the first three; the server and
//! `infill complete` merge the rest with `Settings::merged`. Each key is merged alone, so a bad
//! key costs only that key; its warning names the file and line (and the nearest valid key, for
//! a typo). A TOML syntax error costs the file, and says where.
//!
//! A project file comes with a cloned repository: it may not choose where prompts go (`model`,
//! `engine`) unless the user file says `allowProjectModel = true`.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::config::Settings;
use crate::regular_file::{self, ReadError};

/// The project file's name, at a workspace root.
pub const PROJECT_FILE: &str = ".infill.toml";

/// A settings file is a few lines; anything bigger is not one.
const MAX_SETTINGS_FILE_BYTES: u64 = 1 << 20;

/// The user-file-only key that lets project files set `PROJECT_RESTRICTED_KEYS`.
pub const ALLOW_PROJECT_MODEL: &str = "allowProjectModel";

/// Keys that decide where prompts go: a project file sets them only with `allowProjectModel`.
/// `engine` names the server prompts are sent to (and the variable an API key is read from).
pub const PROJECT_RESTRICTED_KEYS: [&str; 2] = ["model", "engine"];

/// `$XDG_CONFIG_HOME/infill/config.toml`, else `~/.config/infill/config.toml`.
pub fn user_file() -> Option<PathBuf> {
    let config =
        std::env::var_os("XDG_CONFIG_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))?;
    Some(config.join("infill").join("config.toml"))
}

/// One file's top-level keys, with their values as JSON and their 1-based line numbers.
struct FileSettings {
    path: PathBuf,
    entries: Vec<(String, Value, usize)>,
}

/// The settings of the defaults, the user file `user` and the project file of each of `roots`.
/// Missing files are no error; everything else that is wrong is in the warnings.
pub fn layered(user: Option<&Path>, roots: &[PathBuf]) -> (Settings, Vec<String>) {
    let mut warnings = Vec::new();
    let mut settings = Settings::default();
    let mut allow_project_model = false;
    if let Some(file) = user.and_then(|path| read(path, &mut warnings)) {
        for (key, value, line) in &file.entries {
            if key == ALLOW_PROJECT_MODEL {
                match value {
                    Value::Bool(allow) => allow_project_model = *allow,
                    _ => warnings.push(format!(
                        "{}:{line}: setting `{key}` ignored: expected true or false, got {value}",
                        file.path.display()
                    )),
                }
                continue;
            }
            settings = apply(settings, &file, key, value, *line, &mut warnings);
        }
    }
    for root in roots {
        let Some(file) = read(&root.join(PROJECT_FILE), &mut warnings) else { continue };
        for (key, value, line) in &file.entries {
            let at = format!("{}:{line}", file.path.display());
            if key == ALLOW_PROJECT_MODEL {
                warnings.push(format!(
                    "{at}: setting `{key}` ignored: only your own config file ({}) can allow it",
                    user.map_or("config.toml".into(), |p| p.display().to_string())
                ));
                continue;
            }
            if PROJECT_RESTRICTED_KEYS.contains(&key.as_str()) && !allow_project_model {
                warnings.push(format!(
                    "{at}: setting `{key}` ignored: a project file may not choose the model or \
                     the engine (a cloned repository must not redirect your prompts); set `{ALLOW_PROJECT_MODEL} \
                     = true` in {} to allow it",
                    user.map_or("your config file".into(), |p| p.display().to_string())
                ));
                continue;
            }
            // A relative model path in a project file is relative to the project.
            let value = match value.as_str() {
                Some(path) if key == "model" && Path::new(path).is_relative() => {
                    Value::String(root.join(path).to_string_lossy().into_owned())
                }
                _ => value.clone(),
            };
            settings = apply(settings, &file, key, &value, *line, &mut warnings);
        }
    }
    (settings, warnings)
}

/// `settings` with one key of `file` merged on top; its warnings carry the file and line.
fn apply(
    settings: Settings,
    file: &FileSettings,
    key: &str,
    value: &Value,
    line: usize,
    warnings: &mut Vec<String>,
) -> Settings {
    let object = Value::Object(Map::from_iter([(key.to_string(), value.clone())]));
    let (merged, problems) = settings.merged(Some(&object));
    warnings.extend(problems.into_iter().map(|w| format!("{}:{line}: {w}", file.path.display())));
    merged
}

/// Reads and parses one file; `None` when it does not exist or cannot be used (then said in
/// `warnings`).
fn read(path: &Path, warnings: &mut Vec<String>) -> Option<FileSettings> {
    // A project file comes with whatever repository was cloned: read it as any workspace file
    // (regular, bounded, never a blocking open).
    let text = match regular_file::read(path, MAX_SETTINGS_FILE_BYTES).map(String::from_utf8) {
        Ok(Ok(text)) => text,
        Err(ReadError::Io(err)) if err.kind() == std::io::ErrorKind::NotFound => return None,
        Ok(Err(_)) => {
            warnings.push(format!("{}: ignored: not UTF-8 text", path.display()));
            return None;
        }
        Err(err) => {
            warnings.push(format!("{}: ignored: cannot read it: {err}", path.display()));
            return None;
        }
    };
    let syntax_error = |err: toml::de::Error| {
        let line = err.span().map_or(1, |span| line_of(&text, span.start));
        format!("{}:{line}: ignored: not valid TOML: {}", path.display(), err.message().trim())
    };
    // The document twice: once for where each key is, once for its value.
    let spans = match toml::de::DeTable::parse(&text) {
        Ok(spans) => spans,
        Err(err) => {
            warnings.push(syntax_error(err));
            return None;
        }
    };
    let values: toml::Table = match toml::from_str(&text) {
        Ok(values) => values,
        Err(err) => {
            warnings.push(syntax_error(err));
            return None;
        }
    };
    let mut entries = Vec::new();
    for key in spans.get_ref().keys() {
        let name: &str = key.get_ref().as_ref();
        let Some(value) = values.get(name) else { continue };
        let value = serde_json::to_value(value).unwrap_or(Value::Null);
        entries.push((name.to_string(), value, line_of(&text, key.span().start)));
    }
    Some(FileSettings { path: path.to_path_buf(), entries })
}

/// The 1-based line of byte offset `at` in `text`.
fn line_of(text: &str, at: usize) -> usize {
    text.as_bytes()[..at.min(text.len())].iter().filter(|&&b| b == b'\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Files {
        dir: tempfile::TempDir,
    }

    impl Files {
        fn new() -> Self {
            Self { dir: tempfile::tempdir().unwrap() }
        }
        fn user(&self, text: &str) -> PathBuf {
            let path = self.dir.path().join("config.toml");
            std::fs::write(&path, text).unwrap();
            path
        }
        fn project(&self, name: &str, text: &str) -> PathBuf {
            let root = self.dir.path().join(name);
            std::fs::create_dir_all(&root).unwrap();
            std::fs::write(root.join(PROJECT_FILE), text).unwrap();
            root
        }
    }

    #[test]
    fn layers_apply_in_order_defaults_user_project_then_the_editor() {
        let files = Files::new();
        let user = files.user("maxTokens = 10\ntopK = 5\ntemperature = 0.5\n");
        let root =
            files.project("proj", "maxTokens = 20\ntopK = 6\n[filters]\nbracketBalance = false\n");
        let (settings, warnings) = layered(Some(&user), std::slice::from_ref(&root));
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(settings.temperature, 0.5, "user file over the default");
        assert_eq!((settings.max_tokens, settings.top_k), (20, 6), "project over user");
        assert!(!settings.filters.bracket_balance, "a table is a nested settings object");
        assert_eq!(settings.seed, Settings::default().seed, "untouched keys keep the default");
        // initializationOptions, then didChangeConfiguration, on top.
        let (settings, _) = settings.merged(Some(&json!({"maxTokens": 30, "seed": 1})));
        let (settings, _) = settings.merged(Some(&json!({"maxTokens": 40})));
        assert_eq!((settings.max_tokens, settings.top_k, settings.seed), (40, 6, 1));
    }

    #[test]
    fn a_bad_key_costs_only_that_key_and_is_named_with_its_file_and_line() {
        let files = Files::new();
        let user = files.user("# mine\nmaxTokenz = 12\ntemperature = \"hot\"\ntopK = 7\n");
        let (settings, warnings) = layered(Some(&user), &[]);
        assert_eq!(settings.top_k, 7);
        assert_eq!(settings.max_tokens, Settings::default().max_tokens);
        let path = user.display();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert_eq!(
            warnings[0],
            format!(
                "{path}:2: setting `maxTokenz` ignored: no such setting; did you mean `maxTokens`?"
            )
        );
        assert!(warnings[1].starts_with(&format!("{path}:3: setting `temperature` ignored")));
    }

    #[test]
    fn nearest_keys_are_suggested_only_for_likely_typos() {
        let known = ["maxTokens", "topK", "repoContextTokens", "model"];
        assert_eq!(crate::config::nearest_key("maxtokens", known), Some("maxTokens"));
        assert_eq!(
            crate::config::nearest_key("repoContextToken", known),
            Some("repoContextTokens")
        );
        assert_eq!(crate::config::nearest_key("modle", known), Some("model"));
        assert_eq!(crate::config::nearest_key("colour", known), None);
    }

    #[test]
    fn a_syntax_error_costs_the_file_and_says_where() {
        let files = Files::new();
        let user = files.user("topK = 3\nmaxTokens = = 4\n");
        let (settings, warnings) = layered(Some(&user), &[]);
        assert_eq!(settings, Settings::default());
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].starts_with(&format!("{}:2: ignored: not valid TOML", user.display())),
            "{warnings:?}"
        );
    }

    #[test]
    fn missing_files_are_no_error() {
        let files = Files::new();
        let absent = files.dir.path().join("nope/config.toml");
        let (settings, warnings) = layered(Some(&absent), &[files.dir.path().to_path_buf()]);
        assert_eq!(settings, Settings::default());
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[cfg(unix)]
    #[test]
    fn a_project_file_that_is_a_fifo_is_refused_without_waiting() {
        let files = Files::new();
        let root = files.dir.path().join("cloned");
        std::fs::create_dir_all(&root).unwrap();
        let fifo = root.join(PROJECT_FILE);
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        // A blocking open would hang here: nothing writes to the FIFO.
        let (settings, warnings) = layered(None, &[root]);
        assert_eq!(settings, Settings::default());
        assert_eq!(
            warnings,
            [format!("{}: ignored: cannot read it: not a regular file", fifo.display())]
        );
    }

    #[test]
    fn a_project_file_chooses_the_model_only_when_the_user_file_allows_it() {
        let files = Files::new();
        let root = files.project("cloned", "model = \"evil.gguf\"\nallowProjectModel = true\n");
        let (settings, warnings) = layered(None, std::slice::from_ref(&root));
        assert_eq!(settings.model, None);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        let path = root.join(PROJECT_FILE);
        // Keys are applied in the file's key order, sorted: look the warnings up by line.
        let at = |line: usize| {
            let prefix = format!("{}:{line}: ", path.display());
            warnings.iter().find(|w| w.starts_with(&prefix)).cloned().unwrap_or_default()
        };
        assert!(at(1).starts_with(&format!("{}:1: setting `model` ignored", path.display())));
        assert!(at(1).contains("allowProjectModel = true"), "{warnings:?}");
        assert!(at(2).contains("setting `allowProjectModel` ignored"), "{warnings:?}");

        let user = files.user("allowProjectModel = true\n");
        let (settings, warnings) = layered(Some(&user), std::slice::from_ref(&root));
        assert_eq!(settings.model, Some(root.join("evil.gguf")), "relative to the project");
        assert_eq!(warnings.len(), 1, "allowProjectModel still belongs to the user: {warnings:?}");

        let user = files.user("allowProjectModel = \"yes\"\nmodel = \"/mine.gguf\"\n");
        let (settings, warnings) = layered(Some(&user), std::slice::from_ref(&root));
        assert_eq!(settings.model, Some(PathBuf::from("/mine.gguf")));
        assert!(warnings[0].contains(":1: setting `allowProjectModel` ignored"), "{warnings:?}");
    }

    #[test]
    fn a_project_file_chooses_the_engine_only_when_the_user_file_allows_it() {
        use crate::config::EngineKind;
        let files = Files::new();
        let text = "[engine]\nkind = \"openai\"\nurl = \"http://evil.example.com/v1\"\n";
        let root = files.project("cloned", text);
        let (settings, warnings) = layered(None, std::slice::from_ref(&root));
        assert_eq!(settings.engine.kind, EngineKind::Local);
        assert_eq!(settings.engine.url, None);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("setting `engine` ignored"), "{warnings:?}");
        assert!(warnings[0].contains("allowProjectModel = true"), "{warnings:?}");

        let user = files.user("allowProjectModel = true\n");
        let (settings, warnings) = layered(Some(&user), std::slice::from_ref(&root));
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(settings.engine.kind, EngineKind::Openai);
        assert_eq!(settings.engine.url.as_deref(), Some("http://evil.example.com/v1"));

        // The user's own file may always choose it.
        let user = files.user("[engine]\nkind = \"llama-server\"\ntimeoutMs = 500\n");
        let (settings, warnings) = layered(Some(&user), &[]);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(settings.engine.kind, EngineKind::LlamaServer);
        assert_eq!(settings.engine.timeout_ms, 500);
    }
}
