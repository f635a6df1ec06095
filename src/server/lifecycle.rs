//! `initialize` and `initialized`: settings, position encoding, workspace roots, and the session
//! (`Session::start`), whose model starts loading at once on the engine thread while
//! `initialize` answers immediately.

use std::sync::Arc;

use tower_lsp_server::gen_lsp_types::*;
use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::{Bounded, NotCancellable, OngoingProgress, Unbounded};

use super::Backend;
use super::capabilities::server_capabilities;
use super::status;
use crate::config_file;
use crate::documents::{DocumentStore, PositionEncoding};
use crate::engine::EngineStatus;
use crate::session::Session;
use crate::workspace::Workspace;

pub fn initialize(backend: &Backend, params: InitializeParams) -> Result<InitializeResult> {
    let workspace = workspace_from(&params);
    // Defaults < user config file < each workspace folder's `.infill.toml` < the editor's.
    let (from_files, mut warnings) =
        config_file::layered(config_file::user_file().as_deref(), workspace.roots());
    let (settings, editor_warnings) = from_files.merged(params.initialization_options.as_ref());
    warnings.extend(editor_warnings);
    for warning in warnings {
        // Shown after `initialized`: the client may not take messages before that.
        backend.notices.defer(format!("infill: {warning}"));
    }

    let offered =
        params.capabilities.general.as_ref().and_then(|g| g.position_encodings.as_deref());
    let encoding = PositionEncoding::negotiate(offered);
    let progress = params.capabilities.window.as_ref().and_then(|w| w.work_done_progress);
    let _ = backend.client_has_progress.set(progress == Some(true));
    let _ = backend.client_watches_files.set(watches_files(&params));

    let documents = Arc::new(DocumentStore::with_encoding(encoding));
    let (session, warnings) =
        Session::start(settings, workspace, backend.command_line_model.as_deref(), documents);
    for warning in warnings {
        backend.notices.defer(format!("infill: {warning}"));
    }
    {
        let mut slot = backend
            .session
            .write()
            .map_err(|_| tower_lsp_server::jsonrpc::Error::internal_error())?;
        if slot.is_some() {
            return Err(tower_lsp_server::jsonrpc::Error::invalid_request());
        }
        *slot = Some(Arc::new(session));
    }
    Ok(InitializeResult {
        capabilities: server_capabilities(encoding),
        server_info: Some(ServerInfo {
            name: "infill".into(),
            version: Some(env!("CARGO_PKG_VERSION").into()),
        }),
    })
}

/// Whether the client lets the server register file watchers (`didChangeWatchedFiles`).
fn watches_files(params: &InitializeParams) -> bool {
    let workspace = params.capabilities.workspace.as_ref();
    workspace
        .and_then(|w| w.did_change_watched_files.as_ref())
        .and_then(|d| d.dynamic_registration)
        .unwrap_or(false)
}

#[allow(deprecated)] // rootUri: older clients send only that.
fn workspace_from(params: &InitializeParams) -> Workspace {
    let folders = match &params.workspace_folders_initialize_params.workspace_folders {
        Some(WorkspaceFolders::WorkspaceFolderList(list)) => {
            list.iter().map(|f| f.uri.as_ref()).collect::<Vec<&str>>()
        }
        _ => Vec::new(),
    };
    if !folders.is_empty() {
        return Workspace::from_uris(folders);
    }
    Workspace::from_uris(params.root_uri.iter().map(|u| -> &str { u.as_ref() }))
}

/// Reports model loading through `$/progress` (when the client supports it) and a failed load
/// through `window/showMessage`.
pub async fn initialized(backend: &Backend) {
    backend.notices.flush_deferred(&backend.client).await;
    let Some(session) = backend.session() else { return };
    if let Some(context) = &session.pipeline.context {
        context.start_indexing();
    }
    // Registered even while `repoContext` is off: switching it on later builds an index that
    // must follow the files too.
    if backend.client_watches_files.get().copied().unwrap_or(false) {
        watch_workspace_files(&backend.client).await;
    }
    let pipeline = Arc::clone(&session.pipeline);
    let client = backend.client.clone();
    let with_progress = backend.client_has_progress.get().copied().unwrap_or(false);
    let notices = backend.notices.clone();
    tokio::spawn(async move {
        let engine = &pipeline.engine;
        // Reported even when loading already finished (a small model can be ready before
        // `initialized` arrives): a client waiting for the end of loading must always see it.
        let download = engine.download_progress();
        let progress = if with_progress {
            let token = ProgressToken::String("infill/loading".into());
            match client.create_work_done_progress(token.clone()).await {
                Ok(()) => {
                    let progress = client.progress(token, "infill");
                    // A download has a percentage; loading alone has none.
                    Some(match download {
                        Some(_) => Progress::Bounded(
                            progress
                                .with_message("downloading the model")
                                .with_percentage(0)
                                .begin()
                                .await,
                        ),
                        None => Progress::Unbounded(
                            progress.with_message("loading the model").begin().await,
                        ),
                    })
                }
                Err(_) => None,
            }
        } else {
            None
        };
        if let Some((what, mut download)) = download {
            let into = crate::models::hub::cache_dir();
            let message = format!("downloading {what} into {}", into.display());
            status::send(&client, status::State::Loading, message).await;
            // Ends when the engine thread drops the sender: the download finished or failed.
            while download.changed().await.is_ok() {
                let Some((done, total)) = *download.borrow_and_update() else { continue };
                let percent = (done * 100).checked_div(total).unwrap_or(0).min(100) as u32;
                let message = format!(
                    "downloading {what}: {percent}% of {}",
                    crate::models::catalogue::human_size(total)
                );
                if let Some(Progress::Bounded(progress)) = &progress {
                    progress.report_with_message(message.clone(), percent).await;
                }
                status::send(&client, status::State::Loading, message).await;
            }
        }
        status::send(&client, status::State::Loading, "loading the model".into()).await;
        let mut changes = engine.watch_status();
        let status = engine.wait_loaded().await;
        let mut shown = (status::state_of(&status), summary_of(&status));
        if let Some(progress) = progress {
            progress.finish_with_message(shown.1.clone()).await;
        }
        status::send(&client, shown.0, shown.1.clone()).await;
        report(&client, &notices, &status).await;
        // A remote engine's state changes later (its server goes away, comes back): the
        // status bar follows it.
        while changes.changed().await.is_ok() {
            let status = changes.borrow_and_update().clone();
            let now = (status::state_of(&status), summary_of(&status));
            if now != shown {
                status::send(&client, now.0, now.1.clone()).await;
                // One message per outage: a server still down with other words is news for
                // the status bar only.
                if now.0 != shown.0 {
                    report(&client, &notices, &status).await;
                }
                shown = now;
            }
        }
    });
}

/// The status bar's sentence for `status`.
fn summary_of(status: &EngineStatus) -> String {
    match status {
        EngineStatus::Ready(info) => format!(
            "{} ready ({} format, {}, {} ms)",
            display_name(&info.path),
            info.family,
            info.placement,
            info.load_ms
        ),
        EngineStatus::Failed(message) => format!("model not loaded: {message}"),
        EngineStatus::Unreachable(message) => format!("{message}; retrying"),
        EngineStatus::Loading { .. } => "still loading".into(),
    }
}

/// The one message a new status gets, when it is news the user must see.
async fn report(
    client: &tower_lsp_server::Client,
    notices: &super::notices::Notices,
    status: &EngineStatus,
) {
    match status {
        EngineStatus::Failed(message) | EngineStatus::Unreachable(message) => {
            notices.show_once(client, MessageType::Error, failure_message(message)).await;
        }
        EngineStatus::Ready(info) => {
            if let Some(warning) = &info.warning {
                notices.show_once(client, MessageType::Warning, warning.clone()).await;
            }
        }
        EngineStatus::Loading { .. } => {}
    }
}

/// The `$/progress` of loading: with a percentage while a download runs.
enum Progress {
    Bounded(OngoingProgress<Bounded, NotCancellable>),
    Unbounded(OngoingProgress<Unbounded, NotCancellable>),
}

impl Progress {
    async fn finish_with_message(self, message: String) {
        match self {
            Self::Bounded(progress) => progress.finish_with_message(message).await,
            Self::Unbounded(progress) => progress.finish_with_message(message).await,
        }
    }
}

/// Asks the client to report files created, changed or deleted outside the editor (a branch
/// switch, a code generator), so the index follows them.
async fn watch_workspace_files(client: &tower_lsp_server::Client) {
    let options = DidChangeWatchedFilesRegistrationOptions {
        watchers: vec![FileSystemWatcher {
            glob_pattern: GlobPattern::Pattern("**/*".into()),
            kind: None,
        }],
    };
    let registration = Registration {
        id: "infill/watched-files".into(),
        method: "workspace/didChangeWatchedFiles".into(),
        register_options: serde_json::to_value(options).ok(),
    };
    if let Err(err) = client.register_capability(vec![registration]).await {
        tracing::info!(%err, "file watching not registered; the index follows open documents only");
    }
}

/// The one message a failed load produces, whether reported at load time or on a request.
pub fn failure_message(reason: &str) -> String {
    format!("infill: {reason}")
}

fn display_name(path: &std::path::Path) -> String {
    path.file_name()
        .map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
}
