//! The confidence gate's curve (issue 16): for each threshold on each confidence measure, the
//! share of tasks where infill would still show a suggestion, and how good the shown ones are.
//! Computed from one run with the gate off (`minConfidence: 0`), whose results carry each
//! suggestion's confidence and whether it breaks its lines' syntax. The gate as the server runs
//! it is the `mean+syntax` rows: below the threshold, or unparseable (its 0.00 row is the
//! syntax check alone).

use std::fmt::Write;

use super::quality_report::TaskResult;
use crate::completion::confidence::Confidence;

const THRESHOLDS: [f32; 12] = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9];

/// Reads one measure out of a `Confidence`.
type Measure = fn(&Confidence) -> f32;

/// Name, measure, and whether an unparseable suggestion is withheld too.
const MEASURES: [(&str, Measure, bool); 4] = [
    ("mean+syntax", |c| c.mean, true),
    ("mean", |c| c.mean, false),
    ("first", |c| c.first, false),
    ("min", |c| c.min, false),
];

/// One threshold's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub threshold: f32,
    /// Share of all tasks with a suggestion shown.
    pub shown: f64,
    /// Exact match and edit similarity among the shown suggestions.
    pub shown_exact_match: f64,
    pub shown_edit_similarity: f64,
    /// Right suggestions withheld by the gate.
    pub right_withheld: usize,
}

/// The curve of one measure over infill's results (`engine == "infill"`), with unparseable
/// suggestions withheld too when `syntax`. A non-empty answer without a confidence passes every
/// threshold.
pub fn curve(results: &[&TaskResult], measure: Measure, syntax: bool) -> Vec<Point> {
    let n = results.len().max(1) as f64;
    THRESHOLDS
        .iter()
        .map(|&threshold| {
            let passes = |r: &&&TaskResult| {
                r.confidence.is_none_or(|c| measure(&c) >= threshold)
                    && !(syntax && r.broken_syntax == Some(true))
            };
            let shown: Vec<&&TaskResult> =
                results.iter().filter(|r| !r.empty).filter(passes).collect();
            let count = shown.len().max(1) as f64;
            Point {
                threshold,
                shown: shown.len() as f64 / n,
                shown_exact_match: shown.iter().filter(|r| r.exact_match).count() as f64 / count,
                shown_edit_similarity: shown.iter().map(|r| r.edit_similarity).sum::<f64>() / count,
                right_withheld: results
                    .iter()
                    .filter(|r| r.exact_match && !r.empty && !passes(r))
                    .count(),
            }
        })
        .collect()
}

/// The curves as a table; `None` when no infill result carries a confidence.
pub fn table(results: &[TaskResult]) -> Option<String> {
    let infill: Vec<&TaskResult> = results.iter().filter(|r| r.engine == "infill").collect();
    if infill.iter().all(|r| r.confidence.is_none()) {
        return None;
    }
    let mut out = format!(
        "confidence gate over {} infill answers (shown: share of all tasks; EM/ES: of the shown)\n",
        infill.len()
    );
    let _ = writeln!(
        out,
        "{:<11} {:>9} {:>7} {:>9} {:>9} {:>14}",
        "measure", "threshold", "shown", "EM shown", "ES shown", "right withheld"
    );
    for (name, measure, syntax) in MEASURES {
        for point in curve(&infill, measure, syntax) {
            let _ = writeln!(
                out,
                "{:<11} {:>9.2} {:>7.3} {:>9.3} {:>9.3} {:>14}",
                name,
                point.threshold,
                point.shown,
                point.shown_exact_match,
                point.shown_edit_similarity,
                point.right_withheld
            );
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(exact: bool, empty: bool, mean: Option<f32>) -> TaskResult {
        TaskResult {
            id: "t".into(),
            engine: "infill".into(),
            kind: "single-line".into(),
            language: "python".into(),
            completion: if empty { String::new() } else { "x".into() },
            exact_match: exact,
            edit_similarity: if exact { 1.0 } else { 0.5 },
            passed: None,
            empty,
            latency_ms: 1.0,
            prompt_tokens: None,
            evaluated_tokens: None,
            reused_tokens: None,
            context_ms: None,
            context_files: None,
            generated_tokens: None,
            generation_ms: None,
            broken_syntax: None,
            error: None,
            confidence: mean.map(|mean| Confidence { first: mean, mean, min: mean }),
            stop: None,
        }
    }

    #[test]
    fn a_higher_threshold_shows_fewer_and_counts_what_it_withholds() {
        let results = [
            result(true, false, Some(0.95)),
            result(false, false, Some(0.15)),
            result(true, false, Some(0.45)),
            result(false, true, None),
        ];
        let refs: Vec<&TaskResult> = results.iter().collect();
        let points = curve(&refs, |c| c.mean, false);
        let at = |t: f32| points.iter().find(|p| p.threshold == t).unwrap();
        assert_eq!(at(0.0).shown, 0.75);
        assert!((at(0.0).shown_exact_match - 2.0 / 3.0).abs() < 1e-9);
        assert_eq!(
            (at(0.2).shown, at(0.2).shown_exact_match, at(0.2).right_withheld),
            (0.5, 1.0, 0)
        );
        assert_eq!((at(0.5).shown, at(0.5).right_withheld), (0.25, 1));
    }

    #[test]
    fn the_syntax_check_withholds_unparseable_suggestions_at_every_threshold() {
        let mut broken = result(false, false, Some(0.95));
        broken.broken_syntax = Some(true);
        let results = [result(true, false, Some(0.95)), broken, result(false, false, Some(0.5))];
        let refs: Vec<&TaskResult> = results.iter().collect();
        let with = curve(&refs, |c| c.mean, true);
        let without = curve(&refs, |c| c.mean, false);
        assert_eq!((with[0].shown, without[0].shown), (2.0 / 3.0, 1.0));
        assert_eq!((with[0].shown_exact_match, with[0].right_withheld), (0.5, 0));
        let at_07 = |points: &[Point]| points.iter().find(|p| p.threshold == 0.7).unwrap().shown;
        assert_eq!((at_07(&with), at_07(&without)), (1.0 / 3.0, 2.0 / 3.0));
    }

    #[test]
    fn no_table_without_confidences() {
        assert!(table(&[result(true, false, None)]).is_none());
        let table = table(&[result(true, false, Some(0.5))]).unwrap();
        assert!(table.lines().any(|l| l.starts_with("first")), "{table}");
    }
}
