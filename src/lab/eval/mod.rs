//! `infill eval`: completion quality on FIM tasks, through the real product path (the `infill`
//! server over stdio, one workspace per task), optionally beside a llama-server baseline.

pub mod confidence_curve;
pub mod filter_effect;
pub mod pass_at_1;
pub mod quality_report;
pub mod runner;
pub mod score;
pub mod task_workspace;
pub mod tasks;

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use crate::lab::llama_server::LlamaServer;
use quality_report::TaskResult;
use runner::{Answer, BaselineRunner, InfillRunner};
use tasks::Task;

#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// Tasks, one JSON object per line (the dev set's format: docs/measurements.md).
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
    /// Keep the results already in --out and run only the tasks missing there (per engine),
    /// appending: a long run (the whole dev set takes hours on 2 cores) can be stopped and
    /// continued later. Use the same binary, model and options as the run it continues.
    #[arg(long, requires = "out")]
    pub resume: bool,
    /// Also score a llama-server at this URL (`/infill`, greedy, cache_prompt on).
    #[arg(long)]
    pub baseline_url: Option<String>,
    /// Score only the baseline (needs --baseline-url).
    #[arg(long)]
    pub baseline_only: bool,
    /// How the baseline asks llama-server (comma-separated): `raw` (the whole file as prefix
    /// and suffix, row `raw-infill`), `llama-vim` (as llama.vim asks, row `llama-server`).
    #[arg(long, value_delimiter = ',', default_values = ["raw", "llama-vim"])]
    pub baseline: Vec<runner::BaselineStyle>,
    /// Only the tasks whose ids this file lists, one per line (e.g. assets/eval/check.ids,
    /// the check half of the dev set), before --kind and --limit.
    #[arg(long)]
    pub ids: Option<PathBuf>,
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
    /// Start no new task after this many minutes; print the table of what is done. With --out
    /// and --resume, a later run continues where this one stopped. Tasks run in an order whose
    /// every prefix is spread over the file, so a stopped run has scored a fair sample.
    #[arg(long)]
    pub minutes: Option<f64>,
    /// Ask each task as an editor that closes brackets would: the cursor after the first
    /// bracket of the answer's first line, its closer already after the cursor, the answer what
    /// goes inside (ids get `+closer`; tasks without such a bracket are left out).
    #[arg(long)]
    pub editor_closers: bool,
    /// Ask each task that starts at the beginning of a line as an editor that keeps indentation
    /// would: the cursor after the indentation of the answer's first line (ids get `+indent`;
    /// other tasks are left out).
    #[arg(long)]
    pub editor_indent: bool,
    /// Ask infill once at the end of the line this many lines above each task's cursor first
    /// (and wait for that answer), so that the task's request is a jump within the file, as
    /// when a programmer moves down from code above: what the prompt keeps from the place it
    /// came from (its front in the KV cache) must not make the answer worse.
    #[arg(long, value_name = "LINES")]
    pub arrive_from: Option<usize>,
    /// Ask infill first after the indentation of each task's cursor line (and wait for that
    /// answer), then type the rest of the line up to the cursor and ask there, as when a
    /// programmer types a line: the task's request continues the first one's prompt
    /// (`typedMiddle`). Tasks whose cursor follows only indentation ask once, as without it.
    #[arg(long)]
    pub type_line: bool,
}

pub fn run(args: EvalArgs, model: Option<PathBuf>) -> anyhow::Result<()> {
    let mut all = tasks::load(&args.tasks)?;
    if let Some(path) = &args.ids {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let ids: std::collections::HashSet<&str> =
            text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
        all.retain(|task| ids.contains(task.id.as_str()));
        anyhow::ensure!(
            !all.is_empty(),
            "no task of {} is listed in {}",
            args.tasks.display(),
            path.display()
        );
    }
    if !args.kind.is_empty() {
        all.retain(|task| args.kind.contains(&task.kind));
    }
    if args.editor_closers {
        all = all.iter().filter_map(tasks::with_editor_closer).collect();
    }
    if args.editor_indent {
        all = all.iter().filter_map(tasks::with_editor_indent).collect();
    }
    let tasks = tasks::run_order(tasks::spread(all, args.limit));
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
        // Scored with the confidence gate off, so that EM and ES compare with the baselines
        // (which show everything); the gate's effect is the curve printed from the confidences.
        options.entry("minConfidence").or_insert(0.into());
        // Scored on the whole prompt's answer: a quick answer (a first visit on a slow
        // machine, `quickAnswerAfterMs`) stands in for it only until the whole prompt is ready,
        // and would make the table depend on the machine's speed. `--options` can ask for it.
        options.entry("quickAnswerAfterMs").or_insert(0.into());
        // Likewise the whole suggestion, not the lines shown while the rest is written.
        options.entry("earlyLinesAfterMs").or_insert(0.into());
        if args.no_repo_context {
            options.insert("repoContext".into(), false.into());
        }
        Ok(InfillRunner {
            binary: std::env::current_exe()?,
            model: model.clone(),
            options,
            arrive_from: args.arrive_from,
            type_line: args.type_line,
        })
    });
    let infill = infill.transpose()?;
    let baselines: Vec<BaselineRunner> = match &args.baseline_url {
        Some(url) => {
            anyhow::ensure!(
                LlamaServer::new(url).wait_ready(Duration::from_secs(120)),
                "no ready llama-server at {url} after 2 minutes (GET /health)"
            );
            let mut styles = args.baseline.clone();
            styles.dedup();
            styles
                .into_iter()
                .map(|style| BaselineRunner {
                    server: LlamaServer::new(url),
                    n_predict: args.baseline_n_predict,
                    style,
                })
                .collect()
        }
        None if args.baseline_only => anyhow::bail!("--baseline-only needs --baseline-url"),
        None => Vec::new(),
    };
    let mut results = match &args.out {
        Some(path) if args.resume => earlier_results(path, &tasks)?,
        _ => Vec::new(),
    };
    let done: std::collections::HashSet<(String, String)> =
        results.iter().map(|r| (r.id.clone(), r.engine.clone())).collect();
    let mut out = match &args.out {
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .write(true)
                .append(args.resume)
                .truncate(!args.resume)
                .open(path)
                .with_context(|| format!("cannot write {}", path.display()))?;
            Some(std::io::BufWriter::new(file))
        }
        None => None,
    };

    let engines = usize::from(infill.is_some()) + baselines.len();
    let progress = ProgressBar::new((tasks.len() * engines) as u64);
    progress.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} {elapsed_precise} eta {eta} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    progress
        .set_position(results.iter().filter(|r| !r.engine.starts_with("infill ")).count() as u64);
    let limit = Duration::from_secs(args.test_timeout);
    let started = std::time::Instant::now();
    let time_is_up = |minutes: f64| started.elapsed().as_secs_f64() >= minutes * 60.0;
    let is_done = |task: &Task, engine: &str| done.contains(&(task.id.clone(), engine.to_string()));
    for task in &tasks {
        if args.minutes.is_some_and(time_is_up) {
            break;
        }
        progress.set_message(task.id.clone());
        let first_of_task = results.len();
        if let Some(infill) = infill.as_ref().filter(|_| !is_done(task, "infill")) {
            let answer =
                task_workspace::prepare(task, &repos).and_then(|ws| infill.complete(task, &ws));
            if let Ok(base) = &answer
                && let Some(raw) = &base.raw
            {
                for (name, filters) in &variants {
                    let text = filter_effect::finish(task, raw, &settings, filters);
                    // The server judged its own text's syntax, not this one's.
                    let broken_syntax = base.broken_syntax.filter(|_| text == base.text);
                    let answer = Answer { text, broken_syntax, ..base.clone() };
                    results.push(score(task, name, Ok(answer), limit));
                }
                if args.filter_effect {
                    // Where a second opinion was shown, the first answer (the trace carries it)
                    // is what the server without one would have sent. Its confidence is the
                    // second answer's (the trace has no other): only the `mean+syntax` curve,
                    // which withholds it as broken whatever its confidence, reads true for it.
                    let answer = match &base.first_opinion {
                        Some(first) => Answer {
                            text: first.clone(),
                            broken_syntax: Some(true),
                            ..base.clone()
                        },
                        None => base.clone(),
                    };
                    results.push(score(task, "infill -secondOpinion", Ok(answer), limit));
                }
            }
            results.push(score(task, "infill", answer, limit));
            progress.inc(1);
        }
        for baseline in &baselines {
            let engine = baseline.style.engine();
            if !is_done(task, engine) {
                results.push(score(task, engine, baseline.complete(task), limit));
                progress.inc(1);
            }
        }
        if let Some(out) = out.as_mut() {
            for result in &results[first_of_task..] {
                writeln!(out, "{}", serde_json::to_string(result)?)?;
            }
            out.flush()?;
        }
    }
    progress.finish_and_clear();
    // Filter-effect rows ("infill -endOfBlock", …) come with infill's own: not tasks scored.
    let scored = results.iter().filter(|r| !r.engine.starts_with("infill "));
    let finished = scored.map(|r| r.id.as_str()).collect::<std::collections::HashSet<_>>().len();
    if finished < tasks.len() {
        println!(
            "partial: {finished} of {} tasks scored (a spread sample){}",
            tasks.len(),
            if args.out.is_some() { "; run again with --resume to continue" } else { "" }
        );
    }
    println!("{}", quality_report::table(&results));
    if let Some(curve) = confidence_curve::table(&results) {
        println!("{curve}");
    }
    if let Some(median) = quality_report::median_context_ms(&results) {
        println!("median context gathering per request (infill): {median:.1} ms");
    }
    Ok(())
}

/// The results an earlier run left in `path` for tasks of this run (`--resume`). A last line
/// cut short by a stopped run is dropped; an earlier bad line is an error.
fn earlier_results(path: &std::path::Path, tasks: &[Task]) -> anyhow::Result<Vec<TaskResult>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(err).with_context(|| format!("cannot read {}", path.display())),
    };
    let ids: std::collections::HashSet<&str> = tasks.iter().map(|t| t.id.as_str()).collect();
    // Numbered as in the file, blank lines skipped.
    let lines: Vec<(usize, &str)> =
        text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()).collect();
    let last = lines.last().map(|(n, _)| *n);
    let mut results = Vec::new();
    let mut kept = String::new();
    for &(n, line) in &lines {
        match serde_json::from_str::<TaskResult>(line) {
            Ok(result) if ids.contains(result.id.as_str()) => results.push(result),
            Ok(_) => {}
            Err(_) if Some(n) == last && !text.ends_with('\n') => continue,
            Err(err) => anyhow::bail!("{}:{}: not a result line: {err}", path.display(), n + 1),
        }
        kept.push_str(line);
        kept.push('\n');
    }
    // The file is appended to: it must end with a whole line.
    if !text.is_empty() && !text.ends_with('\n') {
        std::fs::write(path, kept).with_context(|| format!("cannot write {}", path.display()))?;
    }
    eprintln!("resuming: {} results from {}", results.len(), path.display());
    Ok(results)
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
        confidence: answer.confidence,
        stop: answer.stop,
        generated_tokens: answer.generated_tokens,
        generation_ms: answer.generation_ms,
        broken_syntax: answer.broken_syntax,
        error,
        completion: answer.text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result_line(id: &str, engine: &str) -> String {
        serde_json::json!({
            "id": id, "engine": engine, "kind": "single-line", "language": "python",
            "completion": "x", "exactMatch": true, "editSimilarity": 1.0, "passed": null,
            "empty": false, "latencyMs": 1.0, "promptTokens": null, "evaluatedTokens": null,
            "reusedTokens": null, "contextMs": null, "contextFiles": null, "error": null
        })
        .to_string()
    }

    fn task(id: &str) -> Task {
        serde_json::from_value(serde_json::json!({
            "id": id, "language": "python", "path": "a.py", "prefix": "", "middle": "",
            "suffix": "", "kind": "single-line"
        }))
        .unwrap()
    }

    #[test]
    fn resume_keeps_whole_results_of_this_run_and_drops_a_cut_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        let (a, b, other) =
            (result_line("a", "infill"), result_line("b", "infill"), result_line("z", "infill"));
        std::fs::write(&path, format!("{a}\n{other}\n{b}\n{{\"id\": \"c\", \"eng")).unwrap();
        let kept = earlier_results(&path, &[task("a"), task("b"), task("c")]).unwrap();
        let ids: Vec<&str> = kept.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["a", "b"]);
        // Appending goes on after a whole line; nothing earlier was lost.
        assert_eq!(std::fs::read_to_string(&path).unwrap(), format!("{a}\n{other}\n{b}\n"));

        // A bad line before the end is not a stopped run: an error, the file untouched.
        std::fs::write(&path, format!("{a}\noops\n{b}\n")).unwrap();
        let err = earlier_results(&path, &[task("a")]).unwrap_err().to_string();
        assert!(err.contains(":2:"), "{err}");
        assert!(earlier_results(&dir.path().join("none.jsonl"), &[task("a")]).unwrap().is_empty());
    }
}
