//! LSP stage: the `LanguageServer` implementation — the wire only. Each request or notification
//! family lives in its own file; this one holds the current `Session` and the dispatch. What a
//! request gets (joining, caching, debouncing, running, prefetch) is the scheduler's decision
//! (`schedule::Scheduler::suggest`); handlers turn LSP positions into char indices, tell the
//! user about trouble, send traces and shape the answer for the client.
//!
//! Handlers never hold a lock or a dashmap guard across an `.await`, and never run model work:
//! completions go to the engine thread through `completion::Pipeline`.

mod answer_reason;
mod capabilities;
mod completion;
mod cursor_moved;
mod did_change_configuration;
mod execute_command;
mod inline_completion;
mod lifecycle;
mod notices;
mod status;
mod suggest;
mod text_sync;
pub mod transport;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use tower_lsp_server::gen_lsp_types::*;
use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::{Client, LanguageServer, LspService, Server};

use crate::context::{IndexStatus, RepoContext};
use crate::engine::EngineStatsSnapshot;
use crate::session::Session;
use notices::Notices;

pub struct Backend {
    client: Client,
    /// `--model` from the command line; outranks the editor's settings.
    command_line_model: Option<PathBuf>,
    /// Set by `initialize`; replaced as a whole by `didChangeConfiguration`. Handlers take a
    /// clone of the `Arc`, so a change never affects a request already running.
    session: RwLock<Option<Arc<Session>>>,
    /// Whether the client accepts server-created `$/progress` tokens.
    client_has_progress: OnceLock<bool>,
    /// Whether the client lets the server register file watchers.
    client_watches_files: OnceLock<bool>,
    notices: Notices,
    /// Suggestions the user accepted (the item's `command`, run by the editor); local only.
    accepted: AtomicU64,
    /// Why each completion request ended as it did, counted for `infill/stats`.
    answer_reasons: answer_reason::ReasonCounts,
}

impl Backend {
    fn new(client: Client, command_line_model: Option<PathBuf>) -> Self {
        Self {
            client,
            command_line_model,
            session: RwLock::new(None),
            client_has_progress: OnceLock::new(),
            client_watches_files: OnceLock::new(),
            notices: Notices::default(),
            accepted: AtomicU64::new(0),
            answer_reasons: Default::default(),
        }
    }

    /// The current session (`None` before `initialize`).
    fn session(&self) -> Option<Arc<Session>> {
        self.session.read().ok().and_then(|s| s.clone())
    }

    /// The workspace index (`None` before `initialize` or while `repoContext` has been off).
    fn context(&self) -> Option<Arc<RepoContext>> {
        self.session().and_then(|s| s.pipeline.context.clone())
    }

    /// `infill/stats` (custom request, no params): the engine's counters — model calls,
    /// cancellations, tokens evaluated — for `infill bench`, and `reasons`: how many requests
    /// ended for each reason (answered by the model, the cache…, or empty and why).
    async fn stats(&self) -> Result<Stats> {
        let session =
            self.session().ok_or_else(tower_lsp_server::jsonrpc::Error::invalid_request)?;
        Ok(Stats {
            engine: session.pipeline.engine.stats(),
            reasons: self.answer_reasons.snapshot(),
        })
    }

    /// `infill/indexStatus` (custom request): the workspace index's state; with
    /// `{"wait": true}` it answers once the background walk has finished (for `infill eval`,
    /// which must not ask before the project is indexed).
    async fn index_status(&self, params: IndexStatusParams) -> Result<IndexStatus> {
        self.session().ok_or_else(tower_lsp_server::jsonrpc::Error::invalid_request)?;
        let Some(context) = self.context() else { return Ok(IndexStatus::default()) };
        Ok(if params.wait { context.indexed().await } else { context.status() })
    }
}

/// The `infill/stats` answer: the engine's counters, flattened, and the answer reasons.
#[derive(Debug, serde::Serialize)]
struct Stats {
    #[serde(flatten)]
    engine: EngineStatsSnapshot,
    reasons: std::collections::BTreeMap<String, u64>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct IndexStatusParams {
    wait: bool,
}

/// The environment variable that turns on the test-only requests (`infill/debug/*`).
pub const TEST_HOOKS_ENV: &str = "INFILL_TEST_HOOKS";

#[derive(Debug, serde::Deserialize)]
struct DocumentTextParams {
    uri: Uri,
}

#[derive(Debug, serde::Serialize)]
struct DocumentText {
    version: i32,
    text: String,
}

impl Backend {
    /// `infill/debug/documentText` (test-only: MethodNotFound unless the server was started with
    /// `INFILL_TEST_HOOKS=1`): the server's copy of an open document (`null` when it is not
    /// open), the one every completion reads, so that a test can compare it with the client's.
    async fn document_text(&self, params: DocumentTextParams) -> Result<Option<DocumentText>> {
        if std::env::var_os(TEST_HOOKS_ENV).is_none_or(|v| v != "1") {
            return Err(tower_lsp_server::jsonrpc::Error::method_not_found());
        }
        let session =
            self.session().ok_or_else(tower_lsp_server::jsonrpc::Error::invalid_request)?;
        Ok(session
            .documents
            .snapshot(&params.uri)
            .map(|doc| DocumentText { version: doc.version, text: doc.rope.to_string() }))
    }
}

/// Serves LSP on stdin/stdout until the client exits. Returns whether the session ended as the
/// protocol asks (`shutdown`, then `exit`): the process then exits with 0, else with 1.
pub async fn serve_stdio(command_line_model: Option<PathBuf>) -> bool {
    let (service, socket) =
        LspService::build(|client| Backend::new(client, command_line_model.clone()))
            .custom_method("infill/stats", Backend::stats)
            .custom_method("infill/indexStatus", Backend::index_status)
            .custom_method("infill/cursorMoved", Backend::cursor_moved)
            .custom_method("infill/debug/documentText", Backend::document_text)
            .finish();
    // The editor's bytes reach the crate through our framing (`transport`), and the crate's
    // output reaches stdout through it too, so our own answers never split one of its frames.
    let (to_server, server_input) = tokio::io::duplex(1 << 20);
    let (server_output, from_server) = tokio::io::duplex(1 << 20);
    let (answers, answers_to_write) = tokio::sync::mpsc::unbounded_channel();
    let shutdown_seen = Arc::new(AtomicBool::new(false));
    let reader = tokio::spawn(transport::read_client(
        tokio::io::stdin(),
        to_server,
        answers,
        Arc::clone(&shutdown_seen),
    ));
    let writer =
        tokio::spawn(transport::write_client(from_server, answers_to_write, tokio::io::stdout()));
    Server::new(server_input, server_output, socket).serve(service).await;
    // `serve` returned (exit, or the input ended) and dropped its output: the writer finishes
    // what is queued. The reader may still wait on stdin; it has nothing more to do.
    let _ = writer.await;
    reader.abort();
    shutdown_seen.load(Ordering::Acquire)
}

impl LanguageServer for Backend {
    async fn initialize(&self, params: InitializeParams) -> Result<InitializeResult> {
        lifecycle::initialize(self, params)
    }

    async fn initialized(&self, _: InitializedParams) {
        lifecycle::initialized(self).await;
    }

    async fn shutdown(&self) -> Result<()> {
        // No new background work, cancel what runs, and let the engine free the model before
        // `exit`: the process must not end while llama.cpp works on the engine thread.
        if let Some(session) = self.session() {
            session.shut_down().await;
        }
        Ok(())
    }

    async fn did_open(&self, params: DidOpenTextDocumentParams) {
        text_sync::did_open(self, params);
    }

    async fn did_change(&self, params: DidChangeTextDocumentParams) {
        text_sync::did_change(self, params).await;
    }

    async fn did_save(&self, params: DidSaveTextDocumentParams) {
        text_sync::did_save(self, params);
    }

    async fn did_close(&self, params: DidCloseTextDocumentParams) {
        text_sync::did_close(self, params).await;
    }

    async fn did_change_watched_files(&self, params: DidChangeWatchedFilesParams) {
        if let Some(context) = self.context() {
            // Reading files is blocking work.
            let _ =
                tokio::task::spawn_blocking(move || context.files_changed(&params.changes)).await;
        }
    }

    async fn inline_completion(
        &self,
        params: InlineCompletionParams,
    ) -> Result<Option<InlineCompletionResponse>> {
        inline_completion::handle(self, params).await
    }

    async fn completion(&self, params: CompletionParams) -> Result<Option<CompletionResponse>> {
        completion::handle(self, params).await
    }

    async fn did_change_configuration(&self, params: DidChangeConfigurationParams) {
        did_change_configuration::handle(self, params).await;
    }

    async fn execute_command(&self, params: ExecuteCommandParams) -> Result<Option<LspAny>> {
        execute_command::handle(self, params)
    }
}
