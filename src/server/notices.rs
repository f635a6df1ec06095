//! Messages to the user (`window/showMessage`), each shown once so a failing model does not
//! flood the editor on every keystroke; and the opt-in `infill/trace` notification.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tower_lsp_server::Client;
use tower_lsp_server::gen_lsp_types::{
    LspNotificationMethod, MessageDirection, MessageType, Notification,
};

#[derive(Default)]
struct Shown {
    messages: HashSet<String>,
    /// Topics with a message on screen, shown at most once until `settled`.
    topics: HashSet<String>,
    /// Warnings found before the client could take messages.
    deferred: Vec<String>,
}

/// Cheap to clone; clones share what has been shown.
#[derive(Default, Clone)]
pub struct Notices {
    shown: Arc<Mutex<Shown>>,
}

impl Notices {
    /// Shows `message` unless an identical one was shown before.
    pub async fn show_once(&self, client: &Client, kind: MessageType, message: String) {
        // The lock is released before the await below.
        let first_time =
            self.shown.lock().map(|mut s| s.messages.insert(message.clone())).unwrap_or(true);
        if first_time {
            tracing::info!(%message, "showMessage");
            client.show_message(kind, message).await;
        }
    }

    /// Shows `message` unless one on `topic` was shown since the topic last `settled`: a
    /// document whose every change fails gets one warning, not one per keystroke.
    pub async fn show_per_topic(
        &self,
        client: &Client,
        topic: &str,
        kind: MessageType,
        message: String,
    ) {
        let first_time =
            self.shown.lock().map(|mut s| s.topics.insert(topic.to_string())).unwrap_or(true);
        if first_time {
            tracing::info!(%message, "showMessage");
            client.show_message(kind, message).await;
        }
    }

    /// The trouble on `topic` is over: the next one is shown again.
    pub fn settled(&self, topic: &str) {
        if let Ok(mut shown) = self.shown.lock() {
            shown.topics.remove(topic);
        }
    }

    pub fn defer(&self, message: String) {
        if let Ok(mut shown) = self.shown.lock() {
            shown.deferred.push(message);
        }
    }

    pub async fn flush_deferred(&self, client: &Client) {
        let deferred = self.shown.lock().map(|mut s| std::mem::take(&mut s.deferred));
        for message in deferred.unwrap_or_default() {
            self.show_once(client, MessageType::Warning, message).await;
        }
    }
}

/// `infill/trace`: what the engine saw and did for one completion (enabled by `trace: true`).
pub struct TraceNotification;

#[derive(Debug, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TraceParams {
    pub uri: String,
    pub suggestion: String,
    pub generation: serde_json::Value,
    /// Why the request ended as it did (`answer_reason::Reason`).
    #[serde(default, skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub reason: Option<super::answer_reason::Reason>,
}

impl Notification for TraceNotification {
    type Params = TraceParams;
    const METHOD: LspNotificationMethod<'static> = LspNotificationMethod::Custom("infill/trace");
    const MESSAGE_DIRECTION: MessageDirection = MessageDirection::ServerToClient;
}
