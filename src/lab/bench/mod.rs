//! `infill bench`: the typing-trace latency benchmark. Function bodies of real source files are
//! deleted and typed back in real time (`trace`), against `infill serve` over stdio as Neovim or
//! VS Code would drive it (`replay`) and, optionally, against llama-server's `/infill` as
//! llama.vim would (`llama_vim`); `driver` is the typist and `latency_report` prints both side by
//! side. `context_timing` is `infill bench-context`: the repository-context stage alone, timed.

pub mod context_timing;
mod driver;
pub mod latency_report;
mod llama_vim;
mod load;
mod process;
mod replay;
pub mod trace;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};

use crate::config::Settings;
use crate::lab::llama_server::LlamaServer;
use driver::{Timing, play};
use latency_report::Figures;
use trace::{FileTrace, TraceKind, TraceOptions};

/// `println!` that shrugs off a closed stdout (`infill bench | head`) instead of panicking.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Source files to build the typing traces from [default: assets/bench/* for the bodies
    /// trace, assets/bench-lines/* for the lines trace].
    pub files: Vec<PathBuf>,
    /// What is re-typed: whole function bodies, or single lines at several places of a file
    /// (moving between them, as between functions).
    #[arg(long, value_enum, default_value_t = TraceArg::Bodies)]
    pub trace: TraceArg,
    /// Lines trace: how many places (function bodies) of each file.
    #[arg(long, default_value_t = 3)]
    pub places: usize,
    /// Lines trace: how many times the typist goes round the places (one line per visit).
    #[arg(long, default_value_t = 2)]
    pub rounds: usize,
    /// Also replay against this llama-server (e.g. http://127.0.0.1:8012), as llama.vim would.
    #[arg(long, value_name = "URL")]
    pub baseline_url: Option<String>,
    /// The llama-server process, for its peak RSS [default: the one process named llama-server].
    #[arg(long, value_name = "PID")]
    pub baseline_pid: Option<u32>,
    /// Fixes which function bodies are re-typed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Function bodies re-typed per file.
    #[arg(long, default_value_t = 2)]
    pub regions: usize,
    /// Longest eligible body, in lines.
    #[arg(long, default_value_t = 6)]
    pub max_region_lines: usize,
    /// Longest eligible body, in chars.
    #[arg(long, default_value_t = 160)]
    pub max_region_chars: usize,
    /// Delay between keystrokes.
    #[arg(long, default_value_t = 60, value_name = "MS")]
    pub key_delay_ms: u64,
    /// Shortest pause after a word or a line (longer while its suggestion is on its way).
    #[arg(long, default_value_t = 600, value_name = "MS")]
    pub pause_ms: u64,
    /// Longest a pause waits for its suggestion before typing on.
    #[arg(long, default_value_t = 30_000, value_name = "MS")]
    pub max_wait_ms: u64,
    /// How long the typist looks at each new place before changing it (the cursor at rest
    /// there; infill's clients then send `infill/cursorMoved`, llama.vim's sends nothing).
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub dwell_ms: u64,
    /// Replay only against the baseline.
    #[arg(long, requires = "baseline_url")]
    pub baseline_only: bool,
    /// Print each pause's outcome to stderr as it happens.
    #[arg(long, short)]
    pub verbose: bool,
    /// Print the trace and exit without replaying it.
    #[arg(long)]
    pub dry_run: bool,
    /// Extra `initializationOptions` for infill, as a JSON object (e.g. '{"debounceMs": 0}').
    #[arg(long, value_parser = crate::config::parse_json_object)]
    pub options: Option<serde_json::Map<String, serde_json::Value>>,
    /// Also write every figure as JSON to this file.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
    /// Soak: keep typing against the same infill server for this many minutes (each round
    /// re-types other bodies: seed + round), then report all rounds together.
    #[arg(long, value_name = "MINUTES")]
    pub minutes: Option<f64>,
    /// Sample the infill server's resident memory into this CSV (`seconds,rss_mib,round`).
    #[arg(long, value_name = "PATH")]
    pub rss_csv: Option<PathBuf>,
    /// Seconds between two memory samples.
    #[arg(long, default_value_t = 5.0, value_name = "SECONDS")]
    pub rss_every: f64,
    /// Keep this many threads busy beside the servers for the whole replay (a build in the
    /// next terminal), to measure latency on a loaded machine.
    #[arg(long, default_value_t = 0, value_name = "THREADS")]
    pub load: usize,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceArg {
    Bodies,
    Lines,
}

pub fn run(args: BenchArgs, model: Option<PathBuf>) -> anyhow::Result<()> {
    let (kind, folder) = match args.trace {
        TraceArg::Bodies => (TraceKind::Bodies, "assets/bench"),
        TraceArg::Lines => {
            (TraceKind::Lines { places: args.places, rounds: args.rounds }, "assets/bench-lines")
        }
    };
    let files = if args.files.is_empty() { default_files(folder)? } else { args.files.clone() };
    let options = TraceOptions {
        seed: args.seed,
        kind,
        regions: args.regions,
        max_lines: args.max_region_lines,
        max_chars: args.max_region_chars,
    };
    let mut texts = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        texts.push(text);
    }
    let traces: Vec<FileTrace> =
        files.iter().zip(&texts).map(|(path, text)| trace::build(path, text, &options)).collect();
    print_trace(&traces, &args);
    if traces.iter().all(|t| t.edits.is_empty()) {
        bail!(
            "nothing in these files fits the trace's limits (--max-region-lines/-chars, --rounds)"
        );
    }
    if args.dry_run {
        return Ok(());
    }
    let timing = Timing {
        key_delay: Duration::from_millis(args.key_delay_ms),
        pause: Duration::from_millis(args.pause_ms),
        max_wait: Duration::from_millis(args.max_wait_ms.max(args.pause_ms)),
        dwell: Duration::from_millis(args.dwell_ms),
        verbose: args.verbose,
        until: None,
    };
    // Check the baseline first: a missing server should fail before a long replay, not after.
    let baseline = match &args.baseline_url {
        Some(url) => {
            let server = LlamaServer::new(url);
            if !server.is_ready() {
                bail!("llama-server at {url} is not ready (GET /health); start it first");
            }
            if let Some(model) = server.model_path() {
                say!("baseline: llama-server at {url}, model {model}");
            }
            Some((url.clone(), server))
        }
        None => None,
    };

    if args.load > 0 {
        say!("load: {} busy threads beside the servers for the whole replay", args.load);
    }
    let _load = load::BusyLoad::start(args.load);
    let total: u64 = traces.iter().map(|t| t.edits.len() as u64).sum();
    let mut runs = Vec::new();
    if !args.baseline_only {
        let exe = std::env::current_exe().context("cannot find the infill executable")?;
        let root = std::env::current_dir()?;
        let (mut client, loaded) = replay::InfillClient::start(
            &exe,
            model.as_deref(),
            &root,
            &args.options.clone().unwrap_or_default(),
        )?;
        say!("infill: {loaded}");
        let sampler = match &args.rss_csv {
            Some(path) => Some(process::RssSampler::start(client.pid(), path, args.rss_every)?),
            None => None,
        };
        let deadline = args
            .minutes
            .map(|minutes| std::time::Instant::now() + Duration::from_secs_f64(minutes * 60.0));
        let timing = Timing { until: deadline, ..timing };
        let progress = progress_bar("infill", total);
        let mut played = play(&mut client, &traces, &timing, &progress)?;
        if let Some(deadline) = deadline {
            let mut round = 1;
            while std::time::Instant::now() < deadline {
                let options = TraceOptions { seed: args.seed + round, ..options };
                let traces: Vec<FileTrace> = files
                    .iter()
                    .zip(&texts)
                    .map(|(path, text)| trace::build(path, text, &options))
                    .collect();
                if let Some(sampler) = &sampler {
                    sampler.set_round(round);
                }
                progress.set_length(traces.iter().map(|t| t.edits.len() as u64).sum());
                progress.set_position(0);
                progress.set_prefix(format!("round {round}"));
                let more = play(&mut client, &traces, &timing, &progress)?;
                played.keystrokes += more.keystrokes;
                played.pauses.extend(more.pauses);
                played.wall += more.wall;
                round += 1;
            }
            say!("soak: {round} rounds in {:.1} min", played.wall.as_secs_f64() / 60.0);
        }
        progress.finish_and_clear();
        if let Some(sampler) = sampler {
            let samples = sampler.stop();
            say!("{}", process::rss_summary(&samples));
        }
        runs.push(combine(client.finish()?, played));
    }
    if let Some((url, server)) = baseline {
        let note = llama_vim::erase_slots(&url);
        let pid = args.baseline_pid.or_else(|| process::only_process_named("llama-server"));
        let n_predict = Settings::default().max_tokens;
        let mut client = llama_vim::LlamaVimClient::new(server, pid, n_predict);
        let progress = progress_bar("llama-server", total);
        let played = play(&mut client, &traces, &timing, &progress)?;
        progress.finish_and_clear();
        let mut figures = combine(client.finish(), played);
        figures.notes.extend(note);
        if pid.is_none() {
            figures.notes.push("peak RSS: pass --baseline-pid to measure llama-server".into());
        }
        runs.push(figures);
    }

    say!("\n{}", latency_report::render(&runs, args.pause_ms));
    say!("{DEFINITIONS}");
    if let Some(path) = &args.json {
        let json = serde_json::json!({
            "seed": args.seed,
            "trace": format!("{:?}", args.trace).to_lowercase(),
            "keyDelayMs": args.key_delay_ms,
            "pauseMs": args.pause_ms,
            "maxWaitMs": args.max_wait_ms,
            "dwellMs": args.dwell_ms,
            "loadThreads": args.load,
            "traces": traces,
            "runs": runs,
        });
        std::fs::write(path, serde_json::to_string_pretty(&json)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

const DEFINITIONS: &str = "\
pause → suggestion: from the last keystroke before a pause to a non-empty suggestion for that text.
  A pause lasts at least --pause-ms and, while the suggestion is on its way, up to --max-wait-ms.
keystrokes without a model call: keystrokes − model calls made for requests (background calls
  excluded). infill: requests answered from the suggestion cache (typing-through, recent
  contexts) or dropped before the engine ran them (replaced during the debounce wait or cancelled
  by the next keystroke); llama-server: keystrokes on which llama.vim sent nothing (a request was
  in flight, or its client cache answered).
evaluated tokens per call: prompt tokens the model evaluated for an answered call (the rest came
  from the KV/prompt cache); 'all calls' adds cancelled ones (infill counts them server-side).
requests answered empty, by reason: every request whose answer showed nothing, by the `reason`
  of its infill/trace (lowConfidence: withheld by minConfidence; filteredToNothing: post-processing
  removed it; superseded/cancelled: a newer keystroke took over).
finished their chunk: cancelled model calls that no job waited on which could not use their
  work (a request elsewhere): they finish the prompt chunk they evaluate, kept for the next
  prompt at their place, and stop after it; ran on: from the cancel flag to the stop.
ran on after cancel: for the others, from the cancel flag being raised (or the waiting job's
  arrival, if later) to the engine stopping that job.";

/// The driver's figures (keystrokes, pauses, wall time) into the client's.
fn combine(mut figures: Figures, played: driver::Played) -> Figures {
    figures.keystrokes = played.keystrokes;
    figures.pauses = played.pauses;
    figures.wall_s = played.wall.as_secs_f64();
    figures
}

/// `folder`'s files under the working directory, else under the source tree this was built from.
fn default_files(folder: &str) -> anyhow::Result<Vec<PathBuf>> {
    let local = Path::new(folder);
    let folder = if local.is_dir() {
        local.to_path_buf()
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(folder)
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
        .with_context(|| format!("no files given and cannot read {}", folder.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.is_file() && trace::language_of(path) != "plaintext")
        .collect();
    files.sort();
    Ok(files)
}

fn print_trace(traces: &[FileTrace], args: &BenchArgs) {
    let edits: usize = traces.iter().map(|t| t.edits.len()).sum();
    let pauses: usize = traces.iter().map(FileTrace::pauses).sum();
    let regions: usize = traces.iter().map(|t| t.regions.len()).sum();
    say!(
        "trace: {} files, {regions} regions, {edits} keystrokes, {pauses} pauses \
         (seed {}, key delay {} ms, pause {} ms)",
        traces.len(),
        args.seed,
        args.key_delay_ms,
        args.pause_ms
    );
    for trace in traces {
        let lines: Vec<String> = trace
            .regions
            .iter()
            .map(|r| format!("{}-{}", r.first_line + 1, r.last_line + 1))
            .collect();
        say!("  {}: lines {}", trace.path.display(), lines.join(", "));
    }
}

fn progress_bar(name: &str, total: u64) -> ProgressBar {
    let progress = ProgressBar::new(total);
    if let Ok(style) =
        ProgressStyle::with_template("{prefix:>12} [{bar:30}] {pos}/{len} keystrokes  {msg}")
    {
        progress.set_style(style.progress_chars("=> "));
    }
    progress.set_prefix(name.to_string());
    progress
}
