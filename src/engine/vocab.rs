//! What the engine needs from a model's vocabulary: the prompt family, the ids of its special
//! tokens, the set of tokens that end a suggestion, and cached token counting for budgets.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};

use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;

use crate::prompt::{self, FimTemplate, Order, Piece, Prompt, TokenCounter};

#[derive(Debug, thiserror::Error)]
pub enum VocabError {
    #[error(
        "the model's vocabulary has no fill-in-the-middle tokens of a known family \
         (known: {known}); use a FIM-capable code model, or set `family` if it is one of these"
    )]
    NoFimFamily { known: String },
    #[error("family `{0}` is not known (known: {1})")]
    UnknownFamily(String, String),
    #[error("family `{family}` needs the token {token:?}, which this model's vocabulary lacks")]
    MissingToken { family: &'static str, token: &'static str },
}

/// The family of a loaded model and the token ids its prompts and stops use.
pub struct FamilyTokens {
    pub template: &'static FimTemplate,
    special_ids: HashMap<&'static str, LlamaToken>,
    stop_ids: HashSet<LlamaToken>,
    bos: Option<LlamaToken>,
}

impl FamilyTokens {
    /// Looks the template tokens up by text: llama.cpp's own FIM ids miss some (StarCoder2's
    /// `<file_sep>` and `<repo_name>`), and the text is what the template table names.
    pub fn new(model: &LlamaModel, forced_family: Option<&str>) -> Result<Self, VocabError> {
        let vocab = model.vocab();
        let wanted: HashSet<&'static str> = prompt::template::all_special_texts().collect();
        let mut found: HashMap<&'static str, LlamaToken> = HashMap::new();
        for token in vocab.tokens() {
            let Some(text) = vocab.text(token).and_then(|t| t.to_str().ok()) else { continue };
            if let Some(&name) = wanted.get(text) {
                found.entry(name).or_insert(token);
            }
        }
        let known =
            || prompt::template::TEMPLATES.iter().map(|t| t.name).collect::<Vec<_>>().join(", ");
        let template = match forced_family {
            Some(name) => prompt::template::by_name(name)
                .ok_or_else(|| VocabError::UnknownFamily(name.to_string(), known()))?,
            None => prompt::template::detect(|text| found.contains_key(text))
                .ok_or_else(|| VocabError::NoFimFamily { known: known() })?,
        };
        for token in [template.prefix, template.suffix, template.middle] {
            if !token.is_empty() && !found.contains_key(token) {
                return Err(VocabError::MissingToken { family: template.name, token });
            }
        }
        let special_ids: HashMap<_, _> = template
            .special_texts()
            .filter_map(|text| found.get(text).map(|&id| (text, id)))
            .collect();
        let stop_ids = special_ids.values().copied().collect();
        let bos = template.bos.then(|| vocab.bos());
        Ok(Self { template, special_ids, stop_ids, bos })
    }

    /// Whether `token` ends a suggestion: end of generation, any of the family's special tokens,
    /// or any other control token (none of them may ever reach the editor).
    pub fn is_stop(&self, model: &LlamaModel, token: LlamaToken) -> bool {
        let vocab = model.vocab();
        self.stop_ids.contains(&token) || vocab.is_eog(token) || vocab.is_control(token)
    }

    /// The prompt as token ids: special pieces by id, text pieces tokenized as plain text.
    /// Where the prefix text ends in the prompt `tokens` (built in `order`): typing at the
    /// cursor changes nothing before this index.
    pub fn cursor_index(&self, tokens: &[LlamaToken], order: Order) -> usize {
        let after_prefix = match order {
            Order::PrefixSuffixMiddle => self.template.suffix,
            Order::SuffixPrefixMiddle => self.template.middle,
        };
        self.special_ids
            .get(after_prefix)
            .and_then(|id| tokens.iter().rposition(|t| t == id))
            .unwrap_or(tokens.len())
    }

    pub fn tokenize(
        &self,
        model: &LlamaModel,
        prompt: &Prompt,
    ) -> Result<Vec<LlamaToken>, VocabError> {
        let vocab = model.vocab();
        let mut tokens: Vec<LlamaToken> = self.bos.into_iter().collect();
        for piece in &prompt.pieces {
            match piece {
                Piece::Special(text) => {
                    tokens.push(*self.special_ids.get(text).ok_or(VocabError::MissingToken {
                        family: self.template.name,
                        token: text,
                    })?)
                }
                Piece::Text(text) => {
                    vocab.tokenize_into(text.as_bytes(), &mut tokens, false, false)
                }
            }
        }
        Ok(tokens)
    }
}

/// Token counts per line of text, kept across requests so unchanged lines are counted once.
#[derive(Default)]
pub struct CountCache {
    counts: HashMap<u64, usize>,
}

/// Bound on remembered lines; the cache starts over when it is reached.
const MAX_CACHED_LINES: usize = 200_000;

impl CountCache {
    pub fn counter<'a>(&'a mut self, model: &'a LlamaModel) -> CachedCounter<'a> {
        if self.counts.len() > MAX_CACHED_LINES {
            self.counts.clear();
        }
        CachedCounter { cache: self, model, scratch: Vec::new() }
    }
}

pub struct CachedCounter<'a> {
    cache: &'a mut CountCache,
    model: &'a LlamaModel,
    scratch: Vec<LlamaToken>,
}

impl TokenCounter for CachedCounter<'_> {
    fn count(&mut self, text: &str) -> usize {
        let mut hasher = DefaultHasher::new();
        text.hash(&mut hasher);
        let key = hasher.finish();
        if let Some(&count) = self.cache.counts.get(&key) {
            return count;
        }
        self.scratch.clear();
        self.model.vocab().tokenize_into(text.as_bytes(), &mut self.scratch, false, false);
        let count = self.scratch.len();
        self.cache.counts.insert(key, count);
        count
    }
}
