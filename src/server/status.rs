//! `infill/status` (custom notification, server → client): the model's state in one word plus a
//! sentence, for a status bar (the VS Code extension, a Neovim statusline). Sent when loading
//! starts and when it ends; `$/progress` and `window/showMessage` carry the same news for
//! clients that know nothing of this notification.

use serde::{Deserialize, Serialize};
use tower_lsp_server::Client;
use tower_lsp_server::gen_lsp_types::{LspNotificationMethod, MessageDirection, Notification};

use crate::engine::EngineStatus;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Loading,
    Ready,
    Error,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatusParams {
    pub state: State,
    pub message: String,
}

pub struct StatusNotification;

impl Notification for StatusNotification {
    type Params = StatusParams;
    const METHOD: LspNotificationMethod<'static> = LspNotificationMethod::Custom("infill/status");
    const MESSAGE_DIRECTION: MessageDirection = MessageDirection::ServerToClient;
}

/// The state a client should show for `status`, with `summary` as its sentence.
pub fn state_of(status: &EngineStatus) -> State {
    match status {
        EngineStatus::Loading { .. } => State::Loading,
        EngineStatus::Ready(_) => State::Ready,
        EngineStatus::Failed(_) | EngineStatus::Unreachable(_) => State::Error,
    }
}

pub async fn send(client: &Client, state: State, message: String) {
    client.send_notification::<StatusNotification>(StatusParams { state, message }).await;
}
