//! Per-task results and the summary table (overall, by kind, by language; one row per engine).

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskResult {
    pub id: String,
    pub engine: String,
    pub kind: String,
    pub language: String,
    pub completion: String,
    pub exact_match: bool,
    pub edit_similarity: f64,
    /// `None` when the task has no test.
    pub passed: Option<bool>,
    pub empty: bool,
    pub latency_ms: f64,
    pub prompt_tokens: Option<u64>,
    pub evaluated_tokens: Option<u64>,
    pub reused_tokens: Option<u64>,
    /// infill: time spent choosing repository context, and the files shown.
    pub context_ms: Option<f64>,
    pub context_files: Option<Vec<String>>,
    pub error: Option<String>,
    /// infill: how sure the model was of what it showed (absent in results of older runs).
    #[serde(default)]
    pub confidence: Option<crate::completion::confidence::Confidence>,
    /// infill: why generation stopped.
    #[serde(default)]
    pub stop: Option<String>,
    /// infill: tokens generated, and the time generating them took.
    #[serde(default)]
    pub generated_tokens: Option<u64>,
    #[serde(default)]
    pub generation_ms: Option<f64>,
    /// infill: the shown text breaks the syntax of its lines (what the gate withholds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broken_syntax: Option<bool>,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Summary {
    pub tasks: usize,
    pub exact_match: f64,
    pub edit_similarity: f64,
    pub pass_at_1: Option<f64>,
    pub tested: usize,
    pub empty_rate: f64,
    pub errors: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub mean_evaluated: Option<f64>,
    pub mean_reused: Option<f64>,
}

/// Nearest-rank percentile (shared with `infill bench`); 0 for no values.
fn percentile(values: &[f64], p: f64) -> f64 {
    crate::lab::bench::latency_report::percentile(values, p).unwrap_or(0.0)
}

fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    (n > 0).then(|| sum / n as f64)
}

pub fn summarize(results: &[&TaskResult]) -> Summary {
    let n = results.len();
    if n == 0 {
        return Summary::default();
    }
    let share = |count: usize| count as f64 / n as f64;
    let tested: Vec<bool> = results.iter().filter_map(|r| r.passed).collect();
    let latencies: Vec<f64> = results.iter().map(|r| r.latency_ms).collect();
    Summary {
        tasks: n,
        exact_match: share(results.iter().filter(|r| r.exact_match).count()),
        edit_similarity: results.iter().map(|r| r.edit_similarity).sum::<f64>() / n as f64,
        pass_at_1: (!tested.is_empty())
            .then(|| tested.iter().filter(|p| **p).count() as f64 / tested.len() as f64),
        tested: tested.len(),
        empty_rate: share(results.iter().filter(|r| r.empty).count()),
        errors: results.iter().filter(|r| r.error.is_some()).count(),
        p50_ms: percentile(&latencies, 50.0),
        p95_ms: percentile(&latencies, 95.0),
        mean_evaluated: mean(results.iter().filter_map(|r| r.evaluated_tokens.map(|t| t as f64))),
        mean_reused: mean(results.iter().filter_map(|r| r.reused_tokens.map(|t| t as f64))),
    }
}

/// Median (nearest-rank p50, as everywhere) repository-context gathering time over infill's
/// answers that report one.
pub fn median_context_ms(results: &[TaskResult]) -> Option<f64> {
    let times: Vec<f64> =
        results.iter().filter(|r| r.engine == "infill").filter_map(|r| r.context_ms).collect();
    crate::lab::bench::latency_report::percentile(&times, 50.0)
}

/// The table: for each group (all, each kind, each language) one row per engine.
pub fn table(results: &[TaskResult]) -> String {
    let mut groups: BTreeMap<(u8, String), Vec<&TaskResult>> = BTreeMap::new();
    for result in results {
        groups.entry((0, "all".into())).or_default().push(result);
        groups.entry((1, format!("kind={}", result.kind))).or_default().push(result);
        groups.entry((2, format!("lang={}", result.language))).or_default().push(result);
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<20} {:<13} {:>5} {:>6} {:>6} {:>12} {:>6} {:>4} {:>8} {:>8} {:>9} {:>7}",
        "group",
        "engine",
        "n",
        "EM",
        "ES",
        "pass@1 (n)",
        "empty",
        "err",
        "p50 ms",
        "p95 ms",
        "eval tok",
        "reused"
    );
    for ((_, group), members) in &groups {
        let mut by_engine: BTreeMap<&str, Vec<&TaskResult>> = BTreeMap::new();
        for result in members {
            by_engine.entry(result.engine.as_str()).or_default().push(result);
        }
        for (engine, rows) in by_engine {
            let s = summarize(&rows);
            let pass = s.pass_at_1.map_or("-".to_string(), |p| format!("{:.3} ({})", p, s.tested));
            let tokens = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.0}"));
            let _ = writeln!(
                out,
                "{:<20} {:<13} {:>5} {:>6.3} {:>6.3} {:>12} {:>6.3} {:>4} {:>8.0} {:>8.0} {:>9} {:>7}",
                group,
                engine,
                s.tasks,
                s.exact_match,
                s.edit_similarity,
                pass,
                s.empty_rate,
                s.errors,
                s.p50_ms,
                s.p95_ms,
                tokens(s.mean_evaluated),
                tokens(s.mean_reused)
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(engine: &str, em: bool, passed: Option<bool>, latency: f64) -> TaskResult {
        TaskResult {
            id: "t".into(),
            engine: engine.into(),
            kind: "single-line".into(),
            language: "python".into(),
            completion: String::new(),
            exact_match: em,
            edit_similarity: if em { 1.0 } else { 0.5 },
            passed,
            empty: !em,
            latency_ms: latency,
            prompt_tokens: Some(10),
            evaluated_tokens: Some(10),
            reused_tokens: Some(0),
            context_ms: None,
            context_files: None,
            generated_tokens: None,
            generation_ms: None,
            broken_syntax: None,
            error: None,
            confidence: None,
            stop: None,
        }
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        let values = [5.0, 1.0, 3.0, 2.0, 4.0];
        assert_eq!(percentile(&values, 50.0), 3.0);
        assert_eq!(percentile(&values, 95.0), 5.0);
        assert_eq!(percentile(&[], 50.0), 0.0);
    }

    #[test]
    fn summary_counts_only_tested_tasks_for_pass_at_1() {
        let rows = [
            result("infill", true, Some(true), 10.0),
            result("infill", false, Some(false), 30.0),
            result("infill", false, None, 20.0),
            result("infill", true, None, 40.0),
        ];
        let refs: Vec<&TaskResult> = rows.iter().collect();
        let s = summarize(&refs);
        assert_eq!(s.tasks, 4);
        assert_eq!(s.exact_match, 0.5);
        assert_eq!(s.edit_similarity, 0.75);
        assert_eq!(s.pass_at_1, Some(0.5));
        assert_eq!(s.tested, 2);
        assert_eq!(s.empty_rate, 0.5);
        assert_eq!(s.p50_ms, 20.0);
    }

    #[test]
    fn table_has_a_row_per_group_and_engine() {
        let rows =
            vec![result("infill", true, None, 1.0), result("llama-server", false, None, 2.0)];
        let table = table(&rows);
        assert_eq!(table.lines().count(), 1 + 3 * 2, "{table}");
        assert!(table.lines().any(|l| l.starts_with("all") && l.contains("llama-server")));
    }
}
