//! Why each completion request ended as it did (issue 19): answered by the model, the cache or a
//! running job, or empty — and then why. Carried in `infill/trace` (`reason`) and counted in
//! `infill/stats` (`reasons`), so "nothing shows" always has an answer.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::completion::Withheld;
use crate::schedule::{Answer, NoAnswer, Source};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Reason {
    /// A model call of its own gave text.
    Model,
    /// The suggestion cache (typing through a suggestion, or a context seen lately).
    Cache,
    /// The document's running job, whose text the user was typing.
    Joined,
    /// The model is still loading.
    Loading,
    /// The model failed to load.
    ModelFailed,
    /// The document is a secrets file (`.env`, keys…): never completed.
    SecretFile,
    /// The user switched completion off for the document's language or path.
    SwitchedOff,
    /// A newer request for the document took over before a model call started.
    Superseded,
    /// The model call was cancelled (a newer request, or the client gave up).
    Cancelled,
    /// The model was less sure than `minConfidence`.
    LowConfidence,
    /// The model's text breaks the syntax of the lines it writes (gate on).
    BrokenSyntax,
    /// The model wrote text that post-processing removed (it repeated the suffix, …).
    FilteredToNothing,
    /// The model wrote nothing (its first token ended the suggestion).
    ModelWroteNothing,
    /// The engine failed on this request.
    EngineError,
}

const ALL: [Reason; 14] = [
    Reason::Model,
    Reason::Cache,
    Reason::Joined,
    Reason::Loading,
    Reason::ModelFailed,
    Reason::SecretFile,
    Reason::SwitchedOff,
    Reason::Superseded,
    Reason::Cancelled,
    Reason::LowConfidence,
    Reason::BrokenSyntax,
    Reason::FilteredToNothing,
    Reason::ModelWroteNothing,
    Reason::EngineError,
];

impl Reason {
    pub fn of(answer: &Answer) -> Self {
        match answer {
            Answer::Suggested { source: Source::Cached { .. }, .. } => Reason::Cache,
            Answer::Suggested { source: Source::Joined { .. }, .. } => Reason::Joined,
            Answer::Suggested { text, source: Source::Model(suggestion) } => {
                if !text.is_empty() {
                    Reason::Model
                } else if let Some(withheld) = suggestion.withheld {
                    match withheld {
                        Withheld::LowConfidence => Reason::LowConfidence,
                        Withheld::BrokenSyntax => Reason::BrokenSyntax,
                    }
                } else if suggestion.generation.text.is_empty() {
                    Reason::ModelWroteNothing
                } else {
                    Reason::FilteredToNothing
                }
            }
            Answer::Nothing(NoAnswer::SecretFile) => Reason::SecretFile,
            Answer::Nothing(NoAnswer::SwitchedOff) => Reason::SwitchedOff,
            Answer::Nothing(NoAnswer::Superseded) => Reason::Superseded,
            Answer::Nothing(NoAnswer::Cancelled) => Reason::Cancelled,
            Answer::Failed(_) => Reason::EngineError,
        }
    }

    fn name(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }
}

/// How many requests ended for each reason, since the server started.
#[derive(Debug, Default)]
pub struct ReasonCounts([AtomicU64; ALL.len()]);

impl ReasonCounts {
    pub fn count(&self, reason: Reason) {
        if let Some(index) = ALL.iter().position(|&r| r == reason) {
            self.0[index].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Every reason by name, zeros included (a client can tell "never" from "unknown").
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        ALL.iter().zip(&self.0).map(|(r, n)| (r.name(), n.load(Ordering::Relaxed))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_kept_per_reason_by_name() {
        let counts = ReasonCounts::default();
        counts.count(Reason::Cache);
        counts.count(Reason::Cache);
        counts.count(Reason::LowConfidence);
        let snapshot = counts.snapshot();
        assert_eq!(snapshot["cache"], 2);
        assert_eq!(snapshot["lowConfidence"], 1);
        assert_eq!(snapshot["model"], 0);
        assert_eq!(snapshot.len(), ALL.len());
    }
}
