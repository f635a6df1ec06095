//! A session: everything a completion needs, assembled in one place for the server and for
//! `infill complete` — the open documents, the pipeline (engine, settings, workspace, index) and
//! the scheduler.
//!
//! A settings change builds the next session from the running one (`with_settings`) and the
//! server swaps it in as a whole, so every key the engine was not loaded with applies at once:
//! a request already running keeps the session it started with.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::completion::Pipeline;
use crate::config::Settings;
use crate::context::RepoContext;
use crate::documents::DocumentStore;
use crate::engine::remote::RemoteConfig;
use crate::engine::{Engine, EngineConfig, model};
use crate::models::ModelRef;
use crate::schedule::Scheduler;
use crate::workspace::Workspace;

pub struct Session {
    pub documents: Arc<DocumentStore>,
    pub pipeline: Arc<Pipeline>,
    pub scheduler: Arc<Scheduler>,
}

impl Session {
    /// Starts the engine the `engine` setting names: a remote server's client, or (`local`)
    /// resolves the model (`--model`, the `model` setting, `$INFILL_MODEL`, then the fetch
    /// script's cache path; a catalogue name or `hf:` value not in the cache is downloaded on
    /// the engine thread first) and starts loading it on the engine thread; builds the workspace
    /// index, empty: the caller walks it (the server in the background once the client is
    /// ready, `infill complete` at once). Returns warnings for the user (bad `contextDeny`
    /// globs, plain http:// to another machine); a model that cannot be found makes an engine
    /// that reports why.
    pub fn start(
        settings: Settings,
        workspace: Workspace,
        command_line_model: Option<&Path>,
        documents: Arc<DocumentStore>,
    ) -> (Self, Vec<String>) {
        let mut warnings = Vec::new();
        let engine = match RemoteConfig::from_settings(&settings) {
            Some(Ok(remote)) => {
                tracing::info!(server = %remote.name(), "using a remote engine");
                warnings.extend(remote.warning.clone());
                Engine::start_remote(remote, EngineConfig::from_settings(&settings))
            }
            Some(Err(err)) => {
                tracing::error!(%err, "remote engine not usable");
                Engine::failed(err)
            }
            None => Self::start_local(&settings, command_line_model),
        };
        let context = settings
            .repo_context
            .then(|| new_index(&workspace, &settings, &documents, &mut warnings));
        let pipeline = Pipeline::new(engine, settings, workspace, context);
        (Self::assemble(pipeline, documents), warnings)
    }

    /// The in-process engine with the model found as `start` says.
    fn start_local(settings: &Settings, command_line_model: Option<&Path>) -> Engine {
        let env_model =
            std::env::var_os("INFILL_MODEL").filter(|v| !v.is_empty()).map(PathBuf::from);
        match model::resolve(
            command_line_model,
            settings.model.as_deref(),
            env_model.as_deref(),
            model::default_cache_path().as_deref(),
        ) {
            // The header check is a few bytes: a wrong path fails here, before anything waits
            // for the model or walks the workspace.
            Ok((value, origin)) => match crate::models::local_model(&value) {
                // A hub model not in the cache yet: the engine thread downloads it first.
                Err(_)
                    if let Ok(hub @ (ModelRef::File(_) | ModelRef::Repo { .. })) =
                        ModelRef::parse(&value) =>
                {
                    Engine::start_download(hub, value, None, EngineConfig::from_settings(settings))
                }
                Err(message) => {
                    tracing::error!(%message, "model not loaded");
                    Engine::failed(message)
                }
                Ok(path) => match model::check_gguf(&path, origin) {
                    Ok(()) => {
                        tracing::info!(path = %path.display(), %origin, "loading model");
                        Engine::start(path, origin, EngineConfig::from_settings(settings))
                    }
                    Err(err) => {
                        tracing::error!(%err, "model not loaded");
                        Engine::failed(err.to_string())
                    }
                },
            },
            // Nothing configured anywhere: the catalogue's default, from the cache or the hub.
            Err(err @ model::ModelError::NotFound { .. }) => {
                let (value, context) = crate::models::zero_config_default(&err);
                match crate::models::local_model(&value) {
                    Ok(path) => Engine::start(
                        path,
                        model::ModelOrigin::DefaultCache,
                        EngineConfig::from_settings(settings),
                    ),
                    Err(_) => {
                        let hub = ModelRef::parse(&value).expect("a catalogue name");
                        let config = EngineConfig::from_settings(settings);
                        Engine::start_download(hub, value, Some(context), config)
                    }
                }
            }
            Err(err) => {
                tracing::error!(%err, "model not loaded");
                Engine::failed(err.to_string())
            }
        }
    }

    /// The session for `settings` on the same engine, documents and workspace. The index is
    /// kept unless `contextDeny` changed (it may hold files now denied) or there is none and
    /// `repoContext` is on: then a new one is built and walked in the background.
    /// The caller swaps it in and shuts this one's scheduler down.
    pub fn with_settings(&self, settings: Settings) -> (Self, Vec<String>) {
        let running = &self.pipeline;
        let mut warnings = Vec::new();
        // Invariant: an index was built with its pipeline's `contextDeny`.
        let context = match &running.context {
            Some(context) if settings.context_deny == running.settings.context_deny => {
                Some(Arc::clone(context))
            }
            old => {
                if let Some(old) = old {
                    old.stop();
                }
                settings.repo_context.then(|| {
                    let context =
                        new_index(&running.workspace, &settings, &self.documents, &mut warnings);
                    context.start_indexing();
                    context
                })
            }
        };
        let pipeline =
            Pipeline::new(running.engine.clone(), settings, running.workspace.clone(), context);
        (Self::assemble(pipeline, Arc::clone(&self.documents)), warnings)
    }

    fn assemble(pipeline: Pipeline, documents: Arc<DocumentStore>) -> Self {
        let pipeline = Arc::new(pipeline);
        let scheduler = Arc::new(Scheduler::new(Arc::clone(&pipeline), Arc::clone(&documents)));
        Self { documents, pipeline, scheduler }
    }

    /// Stops what runs in the background (jobs, prefetch, warm-up, the index walk) and frees the
    /// model: the process must not exit while llama.cpp works on the engine thread.
    pub async fn shut_down(&self) {
        self.scheduler.shut_down();
        if let Some(context) = &self.pipeline.context {
            context.stop();
        }
        self.pipeline.engine.stop().await;
    }
}

/// An empty index of `workspace` filtered with the settings' `contextDeny`; bad globs go to
/// `warnings`.
fn new_index(
    workspace: &Workspace,
    settings: &Settings,
    documents: &Arc<DocumentStore>,
    warnings: &mut Vec<String>,
) -> Arc<RepoContext> {
    let (context, bad_globs) =
        RepoContext::new(workspace, &settings.context_deny, Arc::clone(documents));
    warnings.extend(bad_globs);
    context
}
