//! `workspace/didChangeConfiguration`: the editor sends its settings again (VS Code when the user
//! edits them, Helix and Neovim with the same object as `initializationOptions`).
//!
//! The object is read exactly like `initializationOptions` (either the settings themselves or
//! wrapped as `{"infill": {...}}`, the way section-based clients send them). Everything that
//! shapes a request (token budgets, `maxTokens`, sampling, `multiline`, `trace`) applies from the
//! next request on; those keys left out go back to their defaults. What the loaded model depends
//! on (`model`, `family`, `threads`, `contextSize`), and `debounceMs` (the scheduler is built
//! once), keep their running values: left out, silently
//! (Zed sends `settings` apart from `initialization_options`); given with another value, the
//! user is told that it needs a restart of the server.

use std::sync::Arc;

use serde_json::Value;
use tower_lsp_server::gen_lsp_types::*;

use super::Backend;
use crate::completion::Pipeline;
use crate::config::Settings;

pub async fn handle(backend: &Backend, params: DidChangeConfigurationParams) {
    let Some(options) = settings_object(&params.settings) else {
        tracing::debug!("didChangeConfiguration without settings: nothing to apply");
        return;
    };
    let Some(current) = backend.pipeline() else {
        tracing::warn!("didChangeConfiguration before initialize: ignored");
        return;
    };
    let (requested, warnings) = Settings::from_json(Some(options));
    for warning in warnings {
        backend
            .notices
            .show_once(&backend.client, MessageType::Warning, format!("infill: {warning}"))
            .await;
    }
    let (applied, mut needs_restart) = merge(&current.settings, requested, options);
    if applied.repo_context && current.context.is_none() {
        // Started without an index: there is nothing to gather from until a restart.
        needs_restart.push("repoContext");
    }
    if !needs_restart.is_empty() {
        let message = format!(
            "infill: changing {} takes effect when the server restarts; until then it keeps the running value",
            needs_restart.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
        );
        backend.notices.show_once(&backend.client, MessageType::Info, message).await;
    }
    if applied == current.settings {
        return;
    }
    tracing::info!(?applied, "settings changed");
    let next = Pipeline {
        engine: current.engine.clone(),
        settings: applied,
        workspace: current.workspace.clone(),
        context: current.context.clone(),
    };
    // Suggestions made under the old settings are not what the new ones would give.
    if let Some(scheduler) = backend.scheduler.get() {
        scheduler.cache.clear();
    }
    if let Ok(mut slot) = backend.pipeline.write() {
        *slot = Some(Arc::new(next));
    }
}

/// The settings in `settings`: the object itself, or its `infill` member when it has one.
/// `None` for `null` and non-objects (some clients send `{"settings": null}` as a bare ping).
fn settings_object(settings: &Value) -> Option<&Value> {
    let object = settings.as_object()?;
    match object.get("infill") {
        Some(inner) if inner.is_object() => Some(inner),
        _ => Some(settings),
    }
}

/// `requested` with the keys that need a restart kept at their running values, and the names of
/// those that `object` sets to another value.
fn merge(running: &Settings, requested: Settings, object: &Value) -> (Settings, Vec<&'static str>) {
    let given = |key: &str| object.get(key).is_some_and(|v| !v.is_null());
    let mut changed = Vec::new();
    if given("model") && requested.model != running.model {
        changed.push("model");
    }
    if given("family") && requested.family != running.family {
        changed.push("family");
    }
    if given("threads") && requested.threads != running.threads {
        changed.push("threads");
    }
    if given("contextSize") && requested.context_size != running.context_size {
        changed.push("contextSize");
    }
    // The debounce lives in the scheduler, built once at `initialize`.
    if given("debounceMs") && requested.debounce_ms != running.debounce_ms {
        changed.push("debounceMs");
    }
    // The workspace index and its file filter are built once too; switching `repoContext` off
    // applies at once (nothing is gathered), switching it back on uses the index if there is one.
    if given("contextDeny") && requested.context_deny != running.context_deny {
        changed.push("contextDeny");
    }
    let applied = Settings {
        model: running.model.clone(),
        family: running.family.clone(),
        threads: running.threads,
        context_size: running.context_size,
        debounce_ms: running.debounce_ms,
        context_deny: running.context_deny.clone(),
        ..requested
    };
    (applied, changed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn settings_may_be_wrapped_in_an_infill_section() {
        let wrapped = json!({"infill": {"maxTokens": 3}});
        assert_eq!(settings_object(&wrapped), Some(&json!({"maxTokens": 3})));
        let flat = json!({"maxTokens": 3});
        assert_eq!(settings_object(&flat), Some(&flat));
        assert_eq!(settings_object(&Value::Null), None);
    }

    #[test]
    fn restart_keys_keep_their_running_values() {
        let running = Settings { threads: Some(1), ..Settings::default() };
        let object =
            json!({"model": "/m/other.gguf", "threads": 1, "maxTokens": 9, "contextSize": 2048});
        let (requested, _) = Settings::from_json(Some(&object));
        let (applied, changed) = merge(&running, requested, &object);
        assert_eq!(changed, vec!["model", "contextSize"]);
        assert_eq!(applied.model, None);
        assert_eq!(applied.context_size, 4096);
        assert_eq!(applied.max_tokens, 9);
        assert_eq!(applied.threads, Some(1));
    }

    #[test]
    fn debounce_needs_a_restart() {
        let running = Settings::default();
        let object = json!({"debounceMs": 500});
        let (requested, _) = Settings::from_json(Some(&object));
        let (applied, changed) = merge(&running, requested, &object);
        assert_eq!(changed, vec!["debounceMs"]);
        assert_eq!(applied.debounce_ms, running.debounce_ms);
    }

    #[test]
    fn restart_keys_left_out_are_not_changes() {
        let running =
            Settings { model: Some("/m/a.gguf".into()), threads: Some(2), ..Settings::default() };
        let object = json!({"maxTokens": 5});
        let (requested, _) = Settings::from_json(Some(&object));
        let (applied, changed) = merge(&running, requested, &object);
        assert!(changed.is_empty(), "{changed:?}");
        assert_eq!(applied.model, running.model);
        assert_eq!(applied.threads, Some(2));
        assert_eq!(applied.max_tokens, 5);
    }
}
