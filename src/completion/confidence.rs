//! How sure the model was of the suggestion it is about to show, from its own token
//! probabilities (`engine::probability`), and the gate that shows nothing rather than a guess.
//!
//! Only the tokens that made it into the shown text count: a model that was sure of the line it
//! wrote and unsure of the line post-processing cut is sure of the suggestion.

use crate::engine::TokenLogprob;

/// Summaries of the shown tokens' probabilities, each in 0..=1.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Confidence {
    /// Probability of the first token: how sure the model was that anything like this follows.
    pub first: f32,
    /// Geometric mean of the tokens' probabilities (the exponent of the mean log-probability).
    pub mean: f32,
    /// The least likely token's probability.
    pub min: f32,
}

impl Confidence {
    /// The measure `minConfidence` is compared with.
    pub fn gated_value(&self) -> f32 {
        self.mean
    }
}

/// The confidence of `shown`, the text post-processing made of the generation `raw` whose
/// tokens are `tokens`. `None` when nothing generated is shown.
///
/// A token counts when it starts inside the stretch `shown` keeps of `raw` (their common start,
/// line breaks compared as `\n`): the filters cut the generation, they do not rewrite it.
pub fn of_shown(raw: &str, tokens: &[TokenLogprob], shown: &str) -> Option<Confidence> {
    let kept = match common_start(raw, shown) {
        // A filter rewrote the start (`typed_indentation` drops repeated indentation): judge
        // the whole generation.
        0 if !shown.is_empty() => raw.len(),
        kept => kept,
    };
    let mut start = 0;
    let mut logprobs = Vec::new();
    for token in tokens {
        if start >= kept {
            break;
        }
        // A token with no text of its own (part of a character) still counts where it starts.
        logprobs.push(token.logprob);
        start = token.end;
    }
    let first = *logprobs.first()?;
    let mean = logprobs.iter().map(|&l| f64::from(l)).sum::<f64>() / logprobs.len() as f64;
    let min = logprobs.iter().copied().fold(f32::INFINITY, f32::min);
    Some(Confidence { first: first.exp(), mean: (mean as f32).exp(), min: min.exp() })
}

/// Bytes of `raw` that `shown` starts with, where `shown`'s `\r\n` matches `raw`'s `\n`.
fn common_start(raw: &str, shown: &str) -> usize {
    let (raw, mut shown) = (raw.as_bytes(), shown.as_bytes());
    let mut kept = 0;
    while kept < raw.len() {
        if shown.starts_with(b"\r\n") && raw[kept] == b'\n' {
            shown = &shown[2..];
        } else if shown.first() == Some(&raw[kept]) {
            shown = &shown[1..];
        } else {
            break;
        }
        kept += 1;
    }
    kept
}

/// Whether a suggestion of this confidence is withheld under `min_confidence` (0: never).
pub fn withheld(confidence: Option<Confidence>, min_confidence: f32) -> bool {
    min_confidence > 0.0 && confidence.is_some_and(|c| c.gated_value() < min_confidence)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tokens of `pieces` with the given probabilities.
    fn tokens(pieces: &[(&str, f32)]) -> (String, Vec<TokenLogprob>) {
        let mut text = String::new();
        let tokens = pieces
            .iter()
            .map(|(piece, p)| {
                text.push_str(piece);
                TokenLogprob { end: text.len(), logprob: p.ln() }
            })
            .collect();
        (text, tokens)
    }

    fn close(a: f32, b: f32) -> bool {
        (a - b).abs() < 1e-5
    }

    #[test]
    fn only_the_shown_tokens_count() {
        let (raw, toks) = tokens(&[("return", 0.9), (" x", 0.4), ("\n", 0.5), ("print", 0.01)]);
        let c = of_shown(&raw, &toks, "return x").unwrap();
        assert!(close(c.first, 0.9));
        assert!(close(c.min, 0.4));
        assert!(close(c.mean, (0.9f32 * 0.4).sqrt()));
        // The whole generation shown: the unlikely last token drags every measure but `first`.
        let all = of_shown(&raw, &toks, &raw).unwrap();
        assert!(close(all.min, 0.01) && all.mean < c.mean);
    }

    #[test]
    fn a_partly_kept_token_counts_and_crlf_matches_newlines() {
        let (raw, toks) = tokens(&[("a =", 0.8), (" 1\nb", 0.5), (" = 2", 0.2)]);
        // "a = 1" keeps part of the second token: it counts, the third does not.
        let c = of_shown(&raw, &toks, "a = 1").unwrap();
        assert!(close(c.min, 0.5));
        let crlf = of_shown(&raw, &toks, "a = 1\r\nb = 2").unwrap();
        assert!(close(crlf.min, 0.2), "{crlf:?}");
    }

    #[test]
    fn nothing_shown_has_no_confidence_and_is_not_gated() {
        let (raw, toks) = tokens(&[("x", 0.1)]);
        assert_eq!(of_shown(&raw, &toks, ""), None);
        assert_eq!(of_shown(&raw, &[], "x"), None);
        // Shown text that does not start like the generation: the whole generation counts.
        assert!(close(of_shown(&raw, &toks, "y").unwrap().first, 0.1));
        assert!(!withheld(None, 0.9));
    }

    #[test]
    fn the_gate_compares_the_mean_and_zero_switches_it_off() {
        let (raw, toks) = tokens(&[("x", 0.5), ("y", 0.5)]);
        let c = of_shown(&raw, &toks, &raw);
        assert!(withheld(c, 0.6));
        assert!(!withheld(c, 0.4));
        assert!(!withheld(c, 0.0));
    }
}
