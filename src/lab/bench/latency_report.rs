//! The figures one replay produces, and the side-by-side table `infill bench` prints.

use std::fmt::Write as _;

use serde::Serialize;
use std::time::Instant;

use super::driver::{PauseOutcome, Shown};

/// One client/server pair replaying the trace.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Figures {
    pub name: String,
    /// Edits replayed: the region deletions and every keystroke.
    pub keystrokes: usize,
    pub pauses: Vec<PauseOutcome>,
    pub wall_s: f64,
    /// Completion requests the client sent (LSP requests, or HTTP requests).
    pub requests: usize,
    /// Jobs that ran the model (prompt evaluation and decoding), background ones included.
    pub model_calls: u64,
    /// Of those, the ones no request asked for (infill's prefetch and warm-up).
    pub background_calls: Option<u64>,
    /// Suggestions the client took from its own cache (llama.vim); `None`: no such cache.
    pub cache_hits: Option<usize>,
    /// Answers the server took from a job already running for an earlier keystroke (the user
    /// typed what it was writing); `None`: the engine has no such reuse.
    pub joined_answers: Option<usize>,
    /// Answered model calls that came from a quick answer's short prompt (`quickAnswerAfterMs`);
    /// `None`: the engine gives none.
    pub quick_answers: Option<usize>,
    /// Per answered model call: prompt tokens, evaluated tokens, tokens reused from cache.
    pub prompt_tokens: Vec<f64>,
    pub evaluated_tokens: Vec<f64>,
    pub reused_tokens: Vec<f64>,
    /// Prompt tokens evaluated by all model calls, cancelled ones included (server counter).
    pub evaluated_total: Option<u64>,
    /// `$/cancelRequest`s the client sent; `None`: the client never cancels.
    pub cancelled_requests: Option<usize>,
    /// Jobs dropped before touching the model / model calls stopped part-way.
    pub skipped_jobs: Option<u64>,
    pub cancelled_calls: Option<u64>,
    /// Per model call cancelled while a job waited that could not use its work: from the later
    /// of the flag being raised and that job's arrival to the engine stopping.
    pub cancel_delays_ms: Vec<f64>,
    /// Model calls cancelled while no such job waited: they finished their prompt chunk; per
    /// call, from the flag being raised to the engine stopping.
    pub cancels_finishing_chunk: Option<u64>,
    pub finishing_chunk_ms: Vec<f64>,
    pub cancelled_busy_ms: Option<f64>,
    /// Non-empty suggestions that arrived after the text had moved on.
    pub stale_suggestions: usize,
    /// Requests answered with nothing, by the reason the server's trace gave (`None`: the
    /// server gives none).
    pub empty_reasons: Option<std::collections::BTreeMap<String, usize>>,
    pub errors: usize,
    pub peak_rss_kib: Option<u64>,
    pub notes: Vec<String>,
}

impl Figures {
    /// Keeps `note` for the report, once.
    pub fn note_once(&mut self, note: String) {
        if !self.notes.contains(&note) {
            self.notes.push(note);
        }
    }

    /// A server answer (`text`, to insert at the cursor) arrived: what it shows if it is for
    /// the text on screen (`current`), else `None`, counting it as stale when it would have
    /// shown something.
    pub fn answer_arrived(&mut self, current: bool, text: &str, at: Instant) -> Option<Shown> {
        let suggested = shows_something(text);
        if current {
            Some(if suggested {
                Shown::Suggestion { at, from_cache: false, text: text.to_string() }
            } else {
                Shown::Nothing { at }
            })
        } else {
            if suggested {
                self.stale_suggestions += 1;
            }
            None
        }
    }

    pub fn latencies_ms(&self) -> Vec<f64> {
        self.suggested(true)
    }

    /// Latencies of the suggestions the server produced (client-cache hits left out).
    pub fn server_latencies_ms(&self) -> Vec<f64> {
        self.suggested(false)
    }

    fn suggested(&self, with_cache_hits: bool) -> Vec<f64> {
        self.pauses
            .iter()
            .filter_map(|p| match p {
                PauseOutcome::Suggested { latency_ms, from_cache, .. } => {
                    (with_cache_hits || !from_cache).then_some(*latency_ms)
                }
                _ => None,
            })
            .collect()
    }

    /// Latencies of every answer at a pause, empty and withheld ones included: how long the
    /// typist's request kept the model busy, whatever it showed.
    pub fn answer_latencies_ms(&self) -> Vec<f64> {
        self.pauses
            .iter()
            .filter_map(|p| match p {
                PauseOutcome::Suggested { latency_ms, .. }
                | PauseOutcome::Empty { latency_ms }
                | PauseOutcome::Withheld { latency_ms, .. } => Some(*latency_ms),
                PauseOutcome::TimedOut => None,
            })
            .collect()
    }

    /// Latencies of the right suggestions (`PauseOutcome::Suggested::right`).
    pub fn right_latencies_ms(&self) -> Vec<f64> {
        self.pauses
            .iter()
            .filter_map(|p| match p {
                PauseOutcome::Suggested { latency_ms, right: true, .. } => Some(*latency_ms),
                _ => None,
            })
            .collect()
    }

    /// Keystrokes minus the model calls that requests made (background calls serve no keystroke).
    pub fn keystrokes_without_model_call(&self) -> usize {
        let calls = self.model_calls.saturating_sub(self.background_calls.unwrap_or(0));
        self.keystrokes.saturating_sub(usize::try_from(calls).unwrap_or(usize::MAX))
    }
}

/// Whether a suggestion's text shows anything (whitespace alone is not shown).
pub fn shows_something(text: &str) -> bool {
    !text.trim().is_empty()
}

/// Nearest-rank percentile (`p` in 0..=100) of `values`; `None` for no values.
pub fn percentile(values: &[f64], p: f64) -> Option<f64> {
    if values.is_empty() || !(0.0..=100.0).contains(&p) {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

fn ms(value: Option<f64>) -> String {
    value.map_or_else(|| "–".into(), |v| format!("{v:.0} ms"))
}

fn tokens(value: Option<f64>) -> String {
    value.map_or_else(|| "–".into(), |v| format!("{v:.0}"))
}

fn share(part: usize, whole: usize) -> String {
    if whole == 0 {
        return "–".into();
    }
    format!("{part}/{whole} ({:.0}%)", 100.0 * part as f64 / whole as f64)
}

fn opt<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "n/a".into(), |v| v.to_string())
}

/// Rows of the side-by-side table: a label and one cell per replay.
fn rows(runs: &[Figures], pause_ms: u64) -> Vec<(String, Vec<String>)> {
    let mut rows: Vec<(String, Vec<String>)> = Vec::new();
    let mut row = |label: &str, cell: &dyn Fn(&Figures) -> String| {
        rows.push((label.to_string(), runs.iter().map(cell).collect()));
    };
    row("pause → suggestion p50", &|f| ms(percentile(&f.latencies_ms(), 50.0)));
    row("                   p95", &|f| ms(percentile(&f.latencies_ms(), 95.0)));
    row("                   max", &|f| ms(percentile(&f.latencies_ms(), 100.0)));
    row("  server answers only p50", &|f| ms(percentile(&f.server_latencies_ms(), 50.0)));
    row("                      p95", &|f| ms(percentile(&f.server_latencies_ms(), 95.0)));
    row("pause → any answer (empty too) p95", &|f| {
        ms(percentile(&f.answer_latencies_ms(), 95.0))
    });
    row("                               max", &|f| ms(percentile(&f.answer_latencies_ms(), 100.0)));
    row("pauses with a suggestion", &|f| share(f.latencies_ms().len(), f.pauses.len()));
    row("  from the client cache", &|f| {
        let all = f.latencies_ms().len();
        share(all - f.server_latencies_ms().len(), f.pauses.len())
    });
    let within = format!("  shown within the pause ({pause_ms} ms)");
    row(&within, &|f| {
        let fast = f.latencies_ms().iter().filter(|&&l| l <= pause_ms as f64).count();
        share(fast, f.pauses.len())
    });
    row("  right: its first line typed next", &|f| {
        share(f.right_latencies_ms().len(), f.pauses.len())
    });
    row("    of which within the pause", &|f| {
        let fast = f.right_latencies_ms().iter().filter(|&&l| l <= pause_ms as f64).count();
        share(fast, f.pauses.len())
    });
    row("  empty answer / timed out", &|f| {
        let empty = f
            .pauses
            .iter()
            .filter(|p| matches!(p, PauseOutcome::Empty { .. } | PauseOutcome::Withheld { .. }))
            .count();
        let timed_out = f.pauses.iter().filter(|p| **p == PauseOutcome::TimedOut).count();
        format!("{empty} / {timed_out}")
    });
    row("  of which withheld as unsure / right", &|f| {
        let withheld = |right: bool| {
            f.pauses
                .iter()
                .filter(|p| matches!(p, PauseOutcome::Withheld { right: r, .. } if *r == right))
                .count()
        };
        format!("{} / {}", withheld(false) + withheld(true), withheld(true))
    });
    row("  requests answered empty, by reason", &|f| match &f.empty_reasons {
        None => "n/a".into(),
        Some(reasons) if reasons.is_empty() => "none".into(),
        Some(reasons) => {
            reasons.iter().map(|(r, n)| format!("{r} {n}")).collect::<Vec<_>>().join(", ")
        }
    });
    row("keystrokes (edits)", &|f| f.keystrokes.to_string());
    row("completion requests sent", &|f| f.requests.to_string());
    row("model calls", &|f| f.model_calls.to_string());
    row("  of which background (prefetch, warm-up)", &|f| opt(f.background_calls));
    row("answered from a quick answer's short prompt", &|f| opt(f.quick_answers));
    row("keystrokes without a model call", &|f| {
        share(f.keystrokes_without_model_call(), f.keystrokes)
    });
    row("  of which from the client cache", &|f| opt(f.cache_hits));
    row("answers from a running job (typed what it wrote)", &|f| opt(f.joined_answers));
    row("prompt tokens per call (mean)", &|f| tokens(mean(&f.prompt_tokens)));
    row("evaluated tokens per call p50", &|f| tokens(percentile(&f.evaluated_tokens, 50.0)));
    row("                          mean", &|f| tokens(mean(&f.evaluated_tokens)));
    row("                          max", &|f| tokens(percentile(&f.evaluated_tokens, 100.0)));
    row("reused (cached) tokens per call", &|f| tokens(mean(&f.reused_tokens)));
    row("evaluated tokens, all calls", &|f| {
        let answered: f64 = f.evaluated_tokens.iter().sum();
        f.evaluated_total.map_or_else(|| format!("{answered:.0}"), |t| t.to_string())
    });
    row("cancel requests sent", &|f| opt(f.cancelled_requests));
    row("jobs dropped before the model", &|f| opt(f.skipped_jobs));
    row("model calls cancelled part-way", &|f| opt(f.cancelled_calls));
    row("  finished their chunk (none waited)", &|f| opt(f.cancels_finishing_chunk));
    row("    ran on p50", &|f| ms(percentile(&f.finishing_chunk_ms, 50.0)));
    row("          p95", &|f| ms(percentile(&f.finishing_chunk_ms, 95.0)));
    row("  ran on after cancel p50", &|f| ms(percentile(&f.cancel_delays_ms, 50.0)));
    row("                      p95", &|f| ms(percentile(&f.cancel_delays_ms, 95.0)));
    row("                      max", &|f| ms(percentile(&f.cancel_delays_ms, 100.0)));
    row("  engine time on cancelled calls", &|f| {
        f.cancelled_busy_ms.map_or_else(|| "n/a".into(), |b| format!("{:.1} s", b / 1000.0))
    });
    row("stale suggestions (text moved on)", &|f| f.stale_suggestions.to_string());
    row("errors", &|f| f.errors.to_string());
    row("peak RSS (VmHWM)", &|f| {
        f.peak_rss_kib.map_or_else(|| "n/a".into(), |k| format!("{:.0} MiB", k as f64 / 1024.0))
    });
    row("wall time", &|f| format!("{:.0} s", f.wall_s));
    rows
}

/// The table, one column per replay, then what the less obvious rows mean.
pub fn render(runs: &[Figures], pause_ms: u64) -> String {
    let rows = rows(runs, pause_ms);
    let label_width = rows.iter().map(|(l, _)| l.chars().count()).max().unwrap_or(0);
    let widths: Vec<usize> = (0..runs.len())
        .map(|i| {
            rows.iter()
                .map(|(_, cells)| cells[i].chars().count())
                .chain([runs[i].name.chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    let _ = write!(out, "{:label_width$}", "");
    for (run, width) in runs.iter().zip(&widths) {
        let _ = write!(out, "  {:>width$}", run.name);
    }
    out.push('\n');
    for (label, cells) in &rows {
        let _ = write!(out, "{label:label_width$}");
        for (cell, width) in cells.iter().zip(&widths) {
            let _ = write!(out, "  {cell:>width$}");
        }
        out.push('\n');
    }
    for run in runs {
        for note in &run.notes {
            let _ = writeln!(out, "note ({}): {note}", run.name);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_shows_only_for_the_current_text_and_stale_ones_are_counted() {
        let mut figures = Figures::default();
        let now = Instant::now();
        assert!(matches!(
            figures.answer_arrived(true, "x + 1", now),
            Some(Shown::Suggestion { from_cache: false, .. })
        ));
        assert!(matches!(figures.answer_arrived(true, " \n", now), Some(Shown::Nothing { .. })));
        assert!(figures.answer_arrived(false, "", now).is_none());
        assert_eq!(figures.stale_suggestions, 0);
        assert!(figures.answer_arrived(false, "x", now).is_none());
        assert_eq!(figures.stale_suggestions, 1);
        figures.note_once("x".into());
        figures.note_once("x".into());
        assert_eq!(figures.notes, ["x"]);
    }

    #[test]
    fn nearest_rank_percentiles() {
        let values = [15.0, 20.0, 35.0, 40.0, 50.0];
        assert_eq!(percentile(&values, 0.0), Some(15.0));
        assert_eq!(percentile(&values, 30.0), Some(20.0));
        assert_eq!(percentile(&values, 40.0), Some(20.0));
        assert_eq!(percentile(&values, 50.0), Some(35.0));
        assert_eq!(percentile(&values, 95.0), Some(50.0));
        assert_eq!(percentile(&values, 100.0), Some(50.0));
        // Order of the input does not matter.
        assert_eq!(percentile(&[50.0, 15.0, 40.0, 20.0, 35.0], 50.0), Some(35.0));
        assert_eq!(percentile(&[7.0], 95.0), Some(7.0));
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(percentile(&values, 101.0), None);
        assert_eq!(percentile(&values, f64::NAN), None);
    }

    #[test]
    fn table_puts_runs_side_by_side() {
        let infill = Figures {
            name: "infill".into(),
            keystrokes: 10,
            model_calls: 4,
            pauses: vec![
                PauseOutcome::Suggested { latency_ms: 400.0, from_cache: false, right: true },
                PauseOutcome::Suggested { latency_ms: 900.0, from_cache: false, right: true },
                PauseOutcome::Withheld { latency_ms: 1500.0, right: true },
            ],
            peak_rss_kib: Some(2048),
            ..Figures::default()
        };
        let baseline = Figures {
            name: "llama-server".into(),
            keystrokes: 10,
            model_calls: 2,
            cache_hits: Some(3),
            pauses: vec![
                PauseOutcome::TimedOut,
                PauseOutcome::Suggested { latency_ms: 0.0, from_cache: true, right: false },
                PauseOutcome::Suggested { latency_ms: 3000.0, from_cache: false, right: true },
            ],
            ..Figures::default()
        };
        let table = render(&[infill, baseline], 600);
        let line = |label: &str| -> String {
            table.lines().find(|l| l.starts_with(label)).unwrap_or_default().to_string()
        };
        assert!(table.lines().next().unwrap().trim_end().ends_with("infill  llama-server"));
        assert!(line("pause → suggestion p50").contains("400 ms"));
        assert!(line("                   max").contains("900 ms"));
        assert!(line("pause → any answer (empty too) p95").contains("1500 ms"), "withheld counted");
        assert!(line("pauses with a suggestion").contains("2/3 (67%)"));
        assert!(line("  shown within the pause (600 ms)").contains("1/3 (33%)"));
        assert!(line("  right: its first line typed next").contains("2/3 (67%)"));
        assert!(line("  right: its first line typed next").ends_with("1/3 (33%)"));
        assert!(line("    of which within the pause").contains("1/3 (33%)"));
        assert!(line("    of which within the pause").ends_with("0/3 (0%)"));
        assert!(line("  empty answer / timed out").contains("1 / 0"));
        assert!(line("  of which withheld as unsure / right").contains("1 / 1"));
        assert!(line("  of which withheld as unsure / right").ends_with("0 / 0"));
        assert!(line("  empty answer / timed out").ends_with("0 / 1"));
        assert!(line("pause → suggestion p50").ends_with(" 0 ms"));
        assert!(line("  server answers only p50").ends_with("3000 ms"));
        assert!(line("  from the client cache").ends_with("1/3 (33%)"));
        assert!(line("keystrokes without a model call").contains("6/10 (60%)"));
        assert!(line("keystrokes without a model call").ends_with("8/10 (80%)"));
        assert!(line("  of which from the client cache").ends_with("3"));
        assert!(line("peak RSS").contains("2 MiB"));
        assert!(line("peak RSS").ends_with("n/a"));
    }
}
