//! `infill eval`: completion quality on FIM tasks, through the real product path (the `infill`
//! server over stdio, one workspace per task), optionally beside a llama-server baseline.

pub mod filter_effect;
pub mod pass_at_1;
pub mod report;
pub mod runner;
pub mod score;
pub mod tasks;
pub mod workspace;

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use crate::baseline::LlamaServer;
use report::TaskResult;
use runner::{Answer, BaselineRunner, InfillRunner};
use tasks::Task;

#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// Tasks in the JSONL format of shared/eval/README.md.
    pub tasks: PathBuf,
    /// Folder holding the tasks' projects (default: `repos/` beside the tasks file).
    #[arg(long)]
    pub repos: Option<PathBuf>,
    /// Run this many tasks, spread evenly over the file.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Write one JSON line per task and engine here.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also score a llama-server at this URL (`/infill`, greedy, cache_prompt on).
    #[arg(long)]
    pub baseline_url: Option<String>,
    /// Score only the baseline (needs --baseline-url).
    #[arg(long)]
    pub baseline_only: bool,
    /// Tokens the baseline may generate (infill uses its own `maxTokens`, 64 by default).
    #[arg(long, default_value_t = 64)]
    pub baseline_n_predict: usize,
    /// Extra `initializationOptions` for the servers, as a JSON object (e.g. '{"maxTokens": 32}').
    #[arg(long, value_parser = crate::config::parse_json_object)]
    pub options: Option<serde_json::Map<String, serde_json::Value>>,
    /// Also score infill's raw generations with each post-processing filter switched off, and
    /// with none, as extra rows ("infill -endOfBlock", …): the effect of each filter.
    #[arg(long)]
    pub filter_effect: bool,
    /// Seconds a pass@1 test may run.
    #[arg(long, default_value_t = 10)]
    pub test_timeout: u64,
    /// Run infill without repository context (`repoContext: false`): the control for what
    /// code from other files adds.
    #[arg(long)]
    pub no_repo_context: bool,
    /// Only tasks of these kinds (comma-separated: single-line, multi-line, cross-file,
    /// line-rest), before --limit spreads the rest.
    #[arg(long, value_delimiter = ',')]
    pub kind: Vec<String>,
}

pub fn run(args: EvalArgs, model: Option<PathBuf>) -> anyhow::Result<()> {
    let mut all = tasks::load(&args.tasks)?;
    if !args.kind.is_empty() {
        all.retain(|task| args.kind.contains(&task.kind));
    }
    let tasks = tasks::spread(all, args.limit);
    let repos = args.repos.clone().unwrap_or_else(|| {
        args.tasks.parent().map(|p| p.join("repos")).unwrap_or_else(|| PathBuf::from("repos"))
    });
    // The settings infill runs with, to finish raw generations as it does (--filter-effect).
    let (settings, _) = crate::config::Settings::from_json(
        args.options.clone().map(serde_json::Value::Object).as_ref(),
    );
    let variants =
        if args.filter_effect { filter_effect::variants(settings.filters) } else { Vec::new() };
    let infill = (!args.baseline_only).then(|| -> anyhow::Result<InfillRunner> {
        let mut options = args.options.clone().unwrap_or_default();
        options.insert("trace".into(), true.into());
        if args.no_repo_context {
            options.insert("repoContext".into(), false.into());
        }
        Ok(InfillRunner { binary: std::env::current_exe()?, model: model.clone(), options })
    });
    let infill = infill.transpose()?;
    let baseline = match &args.baseline_url {
        Some(url) => {
            let server = LlamaServer::new(url);
            anyhow::ensure!(
                server.wait_ready(Duration::from_secs(120)),
                "no ready llama-server at {url} after 2 minutes (GET /health)"
            );
            Some(BaselineRunner { server, n_predict: args.baseline_n_predict })
        }
        None if args.baseline_only => anyhow::bail!("--baseline-only needs --baseline-url"),
        None => None,
    };
    let mut out = match &args.out {
        Some(path) => Some(std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot write {}", path.display()))?,
        )),
        None => None,
    };

    let engines = usize::from(infill.is_some()) + usize::from(baseline.is_some());
    let progress = ProgressBar::new((tasks.len() * engines) as u64);
    progress.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} {elapsed_precise} eta {eta} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let limit = Duration::from_secs(args.test_timeout);
    let mut results = Vec::new();
    for task in &tasks {
        progress.set_message(task.id.clone());
        let first_of_task = results.len();
        if let Some(infill) = &infill {
            let answer = workspace::prepare(task, &repos).and_then(|ws| infill.complete(task, &ws));
            if let Ok(base) = &answer
                && let Some(raw) = &base.raw
            {
                for (name, filters) in &variants {
                    let text = filter_effect::finish(task, raw, &settings, filters);
                    results.push(score(task, name, Ok(Answer { text, ..base.clone() }), limit));
                }
            }
            results.push(score(task, "infill", answer, limit));
            progress.inc(1);
        }
        if let Some(baseline) = &baseline {
            results.push(score(task, "llama-server", baseline.complete(task), limit));
            progress.inc(1);
        }
        if let Some(out) = out.as_mut() {
            for result in &results[first_of_task..] {
                writeln!(out, "{}", serde_json::to_string(result)?)?;
            }
            out.flush()?;
        }
    }
    progress.finish_and_clear();
    println!("{}", report::table(&results));
    if let Some(median) = report::median_context_ms(&results) {
        println!("median context gathering per request (infill): {median:.1} ms");
    }
    Ok(())
}

/// Scores one engine's answer (or failure) on `task`.
fn score(task: &Task, engine: &str, answer: anyhow::Result<Answer>, limit: Duration) -> TaskResult {
    let (answer, error) = match answer {
        Ok(answer) => (answer, None),
        Err(err) => (Answer::default(), Some(format!("{err:#}"))),
    };
    let single = task.is_single_line();
    let passed = task.test.as_ref().filter(|_| task.language == "python").map(|test| {
        let program = format!("{}{}{}\n{}", task.prefix, answer.text, task.suffix, test);
        pass_at_1::run_python(&program, limit).is_ok_and(|outcome| outcome.passed())
    });
    TaskResult {
        id: task.id.clone(),
        engine: engine.to_string(),
        kind: task.kind.clone(),
        language: task.language.clone(),
        exact_match: score::exact_match(&answer.text, &task.middle, single),
        edit_similarity: score::edit_similarity(&answer.text, &task.middle, single),
        passed,
        empty: answer.text.trim().is_empty(),
        latency_ms: answer.latency_ms,
        prompt_tokens: answer.prompt_tokens,
        evaluated_tokens: answer.evaluated_tokens,
        reused_tokens: answer.reused_tokens,
        context_ms: answer.context_ms,
        context_files: answer.context_files,
        error,
        completion: answer.text,
    }
}
