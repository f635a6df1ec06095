//! `workspace/executeCommand`: the one command infill offers, `infill.accepted`, which every
//! suggestion carries as its item's `command`. Editors run it when the user accepts the
//! suggestion (VS Code for inline and completion items, Neovim's completion and 0.12 inline
//! completion); the server counts and logs it. Nothing leaves the machine.

use std::sync::atomic::Ordering;

use serde_json::{Value, json};
use tower_lsp_server::gen_lsp_types::*;
use tower_lsp_server::jsonrpc::{Error, Result};

use super::Backend;

pub const ACCEPTED: &str = "infill.accepted";

/// The `command` attached to a suggestion of `chars` characters for `uri`.
pub fn accepted_command(uri: &Uri, chars: usize) -> Command {
    Command {
        title: "infill: suggestion accepted".into(),
        tooltip: None,
        command: ACCEPTED.into(),
        arguments: Some(vec![json!({"uri": uri.to_string(), "chars": chars})]),
    }
}

/// Answers `{"accepted": N}`, the number accepted since the server started.
pub fn handle(backend: &Backend, params: ExecuteCommandParams) -> Result<Option<Value>> {
    if params.command != ACCEPTED {
        return Err(Error::invalid_params(format!("unknown command: {}", params.command)));
    }
    let accepted = backend.accepted.fetch_add(1, Ordering::Relaxed) + 1;
    let detail = params.arguments.and_then(|a| a.into_iter().next()).unwrap_or(Value::Null);
    tracing::info!(accepted, uri = %detail["uri"], chars = %detail["chars"], "suggestion accepted");
    Ok(Some(json!({"accepted": accepted})))
}
