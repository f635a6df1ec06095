//! `infill doctor [FILE]`: each part of the path to a suggestion, checked and printed as OK or
//! a problem with its fix. It runs what `infill complete` runs (settings layering,
//! `Session::start`, the index walk, one completion) and reports instead of stopping.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use infill::config::Settings;
use infill::config_file;
use infill::engine::remote::{self, FamilyError, ProbeError, RemoteConfig};
use infill::engine::{EngineStatus, JobHandle, model};
use infill::models::ModelRef;
use infill::session::Session;
use infill::workspace::Workspace;

#[derive(Args)]
pub struct DoctorArgs {
    /// A file to complete once, at its end (default: a built-in Python example).
    file: Option<PathBuf>,
    /// Any settings, as a JSON object with the server's keys (e.g. '{"temperature": 0.2}'), on
    /// top of the settings files, as `infill complete --options` takes them; `--model` outranks
    /// it.
    #[arg(long, value_name = "JSON", value_parser = infill::config::parse_json_object)]
    options: Option<serde_json::Map<String, serde_json::Value>>,
}

const EXAMPLE: &str = "def fibonacci(n):\n    if n < 2:\n        return n\n    return ";

struct Report {
    problems: usize,
}

impl Report {
    fn ok(&self, what: &str, detail: impl std::fmt::Display) {
        println!("OK       {what}: {detail}");
    }
    fn problem(&mut self, what: &str, detail: impl std::fmt::Display, fix: &str) {
        self.problems += 1;
        println!("PROBLEM  {what}: {detail}\n         fix: {fix}");
    }
}

pub async fn run(args: DoctorArgs, command_line_model: Option<PathBuf>) -> anyhow::Result<()> {
    let mut report = Report { problems: 0 };
    report.ok("infill", infill::version::long_version().replace('\n', "; "));

    // The file to complete, or the example in a temporary project.
    let example = tempfile::tempdir()?;
    let file = match &args.file {
        Some(file) => std::fs::canonicalize(file)?,
        None => {
            let file = example.path().join("example.py");
            std::fs::write(&file, EXAMPLE)?;
            file
        }
    };
    let root = crate::cli_document::project_root(&file);
    let settings = settings(&mut report, &root, args.options);

    // The engine the settings name: a local model file, or a server.
    let remote = RemoteConfig::from_settings(&settings);
    let usable = match &remote {
        None => model_file(&mut report, command_line_model.as_deref(), &settings),
        Some(Err(err)) => {
            report.problem("remote engine", err, "correct the `engine` setting");
            false
        }
        Some(Ok(config)) => remote_engine(&mut report, config, settings.family.clone()).await?,
    };
    if !usable {
        return finish(report);
    }
    let is_remote = remote.is_some();
    let remote_warning = remote.and_then(Result::ok).and_then(|config| config.warning);

    let text = std::fs::read_to_string(&file)?;
    let (documents, document) = crate::cli_document::open(&file, &text)?;
    let (session, warnings) = Session::start(
        settings,
        Workspace::new(vec![root.clone()]),
        command_line_model.as_deref(),
        documents,
    );
    // The remote engine's plain-http warning was reported with the server.
    for warning in warnings.into_iter().filter(|w| Some(w) != remote_warning.as_ref()) {
        report.problem("settings", warning, "correct the glob in contextDeny");
    }
    let pipeline = &session.pipeline;
    if let Some(context) = &pipeline.context {
        let walk = context.index_now();
        report.ok(
            "workspace index",
            format!(
                "{}: {} files indexed, {} skipped (filtered, secrets, too big){} in {:.0} ms",
                root.display(),
                walk.files,
                walk.skipped,
                if walk.full { ", stopped at the memory bound" } else { "" },
                walk.ms
            ),
        );
    } else {
        report.ok("workspace index", "off (repoContext: false)");
    }
    let info = match pipeline.engine.wait_loaded().await {
        EngineStatus::Ready(info) => info,
        EngineStatus::Failed(message) => {
            let fix = if message.contains("fill-in-the-middle")
                || message.contains("vocabulary lacks")
            {
                "this model has no fill-in-the-middle tokens (a chat/instruct-only model?): use \
                 a base code model, e.g. `infill models pull starcoder2-3b`"
            } else {
                "download the model again (infill models rm NAME; infill models pull NAME)"
            };
            report.problem("model load", message, fix);
            session.shut_down().await;
            return finish(report);
        }
        EngineStatus::Unreachable(message) => {
            let fix = "start the server, or check the `engine` setting's url and kind";
            report.problem("remote engine", message, fix);
            session.shut_down().await;
            return finish(report);
        }
        EngineStatus::Loading { .. } => anyhow::bail!("the engine stopped while loading"),
    };
    // A remote engine's model, family and warning were reported with its server.
    if !is_remote {
        report.ok(
            "model load",
            format!(
                "{} format (FIM tokens found), {}, {} ms",
                info.family, info.placement, info.load_ms
            ),
        );
        if let Some(warning) = &info.warning {
            report.problem("model placement", warning, "see README, GPU");
        }
    }

    let started = Instant::now();
    let cursor = text.chars().count();
    match pipeline.complete(&document, cursor, JobHandle::default(), false, None).await {
        Ok(Some(suggestion)) => report.ok(
            "completion",
            format!(
                "{:?} in {:.0} ms on {}",
                suggestion.text,
                started.elapsed().as_secs_f64() * 1000.0,
                file.display()
            ),
        ),
        Ok(None) => report.problem(
            "completion",
            format!("{} holds secrets: never completed", file.display()),
            "try another file",
        ),
        Err(err) => report.problem("completion", err, "see the log (INFILL_LOG=debug)"),
    }
    session.shut_down().await;
    finish(report)
}

/// The local engine's model file: found, and a GGUF file. False when there is none to load.
fn model_file(report: &mut Report, command_line_model: Option<&Path>, settings: &Settings) -> bool {
    let env_model = std::env::var_os("INFILL_MODEL").filter(|v| !v.is_empty()).map(PathBuf::from);
    match model::resolve(
        command_line_model,
        settings.model.as_deref(),
        env_model.as_deref(),
        model::default_cache_path().as_deref(),
    ) {
        Ok((value, origin)) => match infill::models::local_model(&value) {
            Ok(path) => match model::check_gguf(&path, origin) {
                Ok(()) => {
                    report.ok("model file", format!("{} (from {origin})", path.display()));
                    true
                }
                Err(err) => {
                    report.problem("model file", err, "give a GGUF model: --model PATH or NAME");
                    false
                }
            },
            Err(message) => {
                let fix = match ModelRef::parse(&value) {
                    Ok(ModelRef::Path(_)) | Err(_) => "give a model that exists".to_string(),
                    Ok(_) => format!("infill models pull {}", value.display()),
                };
                report.problem("model file", message, &fix);
                false
            }
        },
        Err(err) => {
            report.problem(
                "model file",
                err,
                "infill models pull starcoder2-3b, or --model PATH (a FIM-capable GGUF)",
            );
            false
        }
    }
}

/// A remote engine's server: it answers, and infill can tell (and use) its model's FIM format.
/// False when it cannot be used.
async fn remote_engine(
    report: &mut Report,
    config: &RemoteConfig,
    family: Option<String>,
) -> anyhow::Result<bool> {
    if let Some(warning) = &config.warning {
        let fix = "use a server on this machine, or reach it through a tunnel (ssh -L) at \
                   http://127.0.0.1";
        report.problem("remote engine", warning, fix);
    }
    let probe = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || remote::check(&config, family.as_deref())).await?
    };
    let error = match probe {
        Ok(server) => {
            report
                .ok("remote engine", format!("{} answers, model {}", server.server, server.model));
            report.ok("model family", format!("{} ({})", server.family, server.family_from));
            return Ok(true);
        }
        Err(ProbeError::Server(message)) => {
            let fix = "start the server, or check the `engine` setting's url and kind";
            report.problem("remote engine", message, fix);
            return Ok(false);
        }
        Err(ProbeError::Family { server, error }) => {
            report.ok("remote engine", format!("{server} answers"));
            error
        }
    };
    let fix = match &error {
        FamilyError::NoFimTokens { .. } => {
            "the server runs a chat/instruct-only model: run a base code model with \
             fill-in-the-middle tokens there (e.g. StarCoder2 or Qwen2.5-Coder); setting \
             `family` cannot add the tokens"
        }
        FamilyError::Undetected { .. } | FamilyError::UnknownSetting { .. } => {
            "set `family` to the model's prompt format (e.g. --options '{\"family\": \
             \"qwen2.5-coder\"}', or `family = \"qwen2.5-coder\"` in the settings file)"
        }
    };
    report.problem("model family", error, fix);
    Ok(false)
}

/// The settings as `infill complete` layers them (defaults < user file < project file <
/// `--options`), each key that differs from the defaults with the layer it came from.
fn settings(
    report: &mut Report,
    root: &Path,
    options: Option<serde_json::Map<String, serde_json::Value>>,
) -> infill::config::Settings {
    let user = config_file::user_file();
    let (user_only, _) = config_file::layered(user.as_deref(), &[]);
    let (from_files, warnings) = config_file::layered(user.as_deref(), &[root.to_path_buf()]);
    for warning in &warnings {
        report.problem("settings", warning, "edit the file named");
    }
    let (all, warnings) = from_files.merged(options.map(serde_json::Value::Object).as_ref());
    for warning in &warnings {
        report.problem("settings", warning, "correct that key in --options");
    }
    let value = |s: &infill::config::Settings| serde_json::to_value(s).unwrap_or_default();
    let defaults = value(&infill::config::Settings::default());
    let layers = [
        ("user file", value(&user_only)),
        ("project file", value(&from_files)),
        ("--options", value(&all)),
    ];
    let mut changed = Vec::new();
    for (key, v) in layers[2].1.as_object().into_iter().flatten() {
        if defaults.get(key) == Some(v) {
            continue;
        }
        // From the last layer that changed it.
        let mut from = "";
        let mut below = &defaults;
        for (name, layer) in &layers {
            if layer.get(key) != below.get(key) {
                from = name;
            }
            below = layer;
        }
        changed.push(format!("{key} = {v} ({from})"));
    }
    let files = format!(
        "user file {}, project file {}",
        user.as_ref().map_or("none".into(), |p| p.display().to_string()),
        root.join(config_file::PROJECT_FILE).display()
    );
    if changed.is_empty() {
        report.ok("settings", format!("defaults ({files})"));
    } else {
        report.ok("settings", format!("{}; {files}", changed.join(", ")));
    }
    all
}

fn finish(report: Report) -> anyhow::Result<()> {
    match report.problems {
        0 => Ok(()),
        n => anyhow::bail!("{n} problem(s) found"),
    }
}
