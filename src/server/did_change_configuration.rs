//! `workspace/didChangeConfiguration`: the editor sends its settings again (VS Code when the user
//! edits them, Helix and Neovim with the same object as `initializationOptions`).
//!
//! The object is read exactly like `initializationOptions` (either the settings themselves or
//! wrapped as `{"infill": {...}}`, the way section-based clients send them) and merged onto the
//! settings in force (keys left out keep their values); a new session built from the result on
//! the same engine replaces the running one, so every key applies from the next request on. The
//! keys the model was loaded with (`config::RESTART_KEYS`) keep their running values: left out,
//! silently (Zed sends `settings` apart from `initialization_options`); given with another
//! value, the user is told that it needs a restart of the server.

use std::sync::Arc;

use serde_json::Value;
use tower_lsp_server::gen_lsp_types::*;

use super::Backend;

pub async fn handle(backend: &Backend, params: DidChangeConfigurationParams) {
    let Some(options) = settings_object(&params.settings) else {
        tracing::debug!("didChangeConfiguration without settings: nothing to apply");
        return;
    };
    let Some(current) = backend.session() else {
        tracing::warn!("didChangeConfiguration before initialize: ignored");
        return;
    };
    let (requested, warnings) = current.pipeline.settings.merged(Some(options));
    warn(backend, warnings).await;
    let (applied, needs_restart) =
        requested.keeping_restart_keys(&current.pipeline.settings, options);
    if !needs_restart.is_empty() {
        let message = format!(
            "infill: changing {} takes effect when the server restarts; until then it keeps the running value",
            needs_restart.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
        );
        backend.notices.show_once(&backend.client, MessageType::Info, message).await;
    }
    if applied != current.pipeline.settings {
        tracing::info!(?applied, "settings changed");
        let (next, index_warnings) = current.with_settings(applied);
        if let Ok(mut slot) = backend.session.write() {
            *slot = Some(Arc::new(next));
        }
        // The old session's jobs and suggestions are not what the new settings would give.
        current.scheduler.shut_down();
        warn(backend, index_warnings).await;
    }
}

async fn warn(backend: &Backend, warnings: Vec<String>) {
    for warning in warnings {
        let message = format!("infill: {warning}");
        backend.notices.show_once(&backend.client, MessageType::Warning, message).await;
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
}
