//! Token counts for prompt budgets when the model runs elsewhere: the server's own tokenizer
//! (llama-server's or vLLM's `/tokenize`), each text asked once and remembered; or, for a server
//! with no tokenizer endpoint, an estimate of one token per 3 bytes (code averages nearer 3.5,
//! so prompts err on the short side of their budgets).

use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use serde_json::json;

use super::http::Http;
use crate::prompt::TokenCounter;

/// Bound on remembered texts; the cache starts over when it is reached.
const MAX_CACHED: usize = 200_000;

/// Counts (and token ids of whole prompt pieces) known so far, kept across jobs.
#[derive(Default)]
pub struct Counts {
    counts: HashMap<u64, usize>,
    pieces: HashMap<u64, Vec<u32>>,
}

impl Counts {
    pub fn clear(&mut self) {
        self.counts.clear();
        self.pieces.clear();
    }

    /// A counter for one prompt; `tokenize`: the server's tokenizer, if it has one.
    pub fn counter<'a>(
        &'a mut self,
        http: &'a Http,
        tokenize: Option<&'a Tokenizer>,
    ) -> Counter<'a> {
        if self.counts.len() > MAX_CACHED {
            self.counts.clear();
        }
        Counter { counts: self, http, tokenize, error: None }
    }
}

pub struct Counter<'a> {
    counts: &'a mut Counts,
    http: &'a Http,
    tokenize: Option<&'a Tokenizer>,
    /// The first failed `/tokenize`: the prompt built with estimates is not sent.
    error: Option<String>,
}

impl Counter<'_> {
    /// Whether every count was the server's.
    pub fn finish(self) -> Result<(), String> {
        self.error.map_or(Ok(()), Err)
    }

    /// The token ids of `text` (plain text: special-token spellings stay text), cached.
    pub fn ids(&mut self, text: &str) -> Result<Vec<u32>, String> {
        let key = hash(text);
        if let Some(ids) = self.counts.pieces.get(&key) {
            return Ok(ids.clone());
        }
        let tokenizer = self.tokenize.ok_or("the server has no /tokenize")?;
        let ids = tokenizer.tokenize(self.http, text, false)?;
        // Prompt pieces are large and change with each keystroke: keep only a few (the other
        // files' pieces, which stay).
        if self.counts.pieces.len() >= 64 {
            self.counts.pieces.clear();
        }
        self.counts.pieces.insert(key, ids.clone());
        self.counts.counts.insert(key, ids.len());
        Ok(ids)
    }
}

impl TokenCounter for Counter<'_> {
    fn count(&mut self, text: &str) -> usize {
        let key = hash(text);
        if let Some(&count) = self.counts.counts.get(&key) {
            return count;
        }
        let Some(tokenizer) = self.tokenize.filter(|_| self.error.is_none()) else {
            return estimate(text);
        };
        match tokenizer.tokenize(self.http, text, false) {
            Ok(ids) => {
                self.counts.counts.insert(key, ids.len());
                ids.len()
            }
            Err(err) => {
                self.error = Some(err);
                estimate(text)
            }
        }
    }
}

/// One token per 3 bytes, rounded up.
pub fn estimate(text: &str) -> usize {
    text.len().div_ceil(3)
}

fn hash(text: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    text.hash(&mut hasher);
    hasher.finish()
}

/// A server's tokenizer endpoint, and the request it takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tokenizer {
    pub path: String,
    pub shape: Shape,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// llama-server: `{"content", "parse_special"}`.
    LlamaServer,
    /// vLLM's and SGLang's `{"prompt", "add_special_tokens"}`. Their tokenizers always read a
    /// special token's spelling as that token, which shifts a count only where file text spells
    /// one (prompts to these servers go as text, never as ids).
    OpenAiServer,
}

impl Tokenizer {
    pub fn new(path: impl Into<String>, shape: Shape) -> Self {
        Self { path: path.into(), shape }
    }

    /// The token ids of `text`; `special` asks llama-server to parse special-token spellings as
    /// those tokens (the other servers always do).
    pub fn tokenize(&self, http: &Http, text: &str, special: bool) -> Result<Vec<u32>, String> {
        if text.is_empty() {
            return Ok(Vec::new());
        }
        let body = match self.shape {
            Shape::LlamaServer => json!({"content": text, "parse_special": special}),
            Shape::OpenAiServer => json!({"prompt": text, "add_special_tokens": false}),
        };
        let answer = http.post_json(&self.path, &body)?;
        answer["tokens"]
            .as_array()
            .and_then(|tokens| {
                tokens.iter().map(|t| t.as_u64().and_then(|id| u32::try_from(id).ok())).collect()
            })
            .ok_or_else(|| format!("{}: {} answered without a token list", http.name, self.path))
    }

    /// The text of the last token `text` tokenizes to, for token healing; `None` for an empty
    /// text. llama-server names each token's text (`with_pieces`; a piece that is not UTF-8
    /// comes as its bytes); vLLM turns the last id back into text (`/detokenize`).
    pub fn last_piece(&self, http: &Http, text: &str) -> Result<Option<Vec<u8>>, String> {
        if text.is_empty() {
            return Ok(None);
        }
        if self.shape == Shape::OpenAiServer {
            let Some(&last) = self.tokenize(http, text, false)?.last() else { return Ok(None) };
            let path = format!("{}detokenize", self.path.trim_end_matches("tokenize"));
            let answer = http.post_json(&path, &json!({"tokens": [last]}))?;
            let piece = answer["prompt"].as_str();
            let piece =
                piece.ok_or_else(|| format!("{}: {path} answered without text", http.name))?;
            return Ok(Some(piece.as_bytes().to_vec()));
        }
        let body = json!({"content": text, "parse_special": false, "with_pieces": true});
        let answer = http.post_json(&self.path, &body)?;
        let missing = || format!("{}: {} answered without token pieces", http.name, self.path);
        let tokens = answer["tokens"].as_array().ok_or_else(missing)?;
        let Some(last) = tokens.last() else { return Ok(None) };
        match &last["piece"] {
            serde_json::Value::String(piece) => Ok(Some(piece.as_bytes().to_vec())),
            serde_json::Value::Array(bytes) => bytes
                .iter()
                .map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
                .collect::<Option<Vec<u8>>>()
                .map(Some)
                .ok_or_else(missing),
            _ => Err(missing()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_estimate_rounds_up_and_counts_nothing_as_nothing() {
        assert_eq!(estimate(""), 0);
        assert_eq!(estimate("a"), 1);
        assert_eq!(estimate("abcdef"), 2);
        assert_eq!(estimate("abcdefg"), 3);
    }
}
