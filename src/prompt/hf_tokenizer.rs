//! Token counting with a Hugging Face `tokenizer.json`, for when no GGUF vocabulary is loaded in
//! this process (remote engines) and to cross-check GGUF tokenization in tests.

use std::path::Path;

use super::TokenCounter;

pub struct HfTokenCounter {
    tokenizer: tokenizers::Tokenizer,
}

impl HfTokenCounter {
    pub fn from_file(path: &Path) -> Result<Self, String> {
        tokenizers::Tokenizer::from_file(path)
            .map(|tokenizer| Self { tokenizer })
            .map_err(|e| format!("cannot load tokenizer {}: {e}", path.display()))
    }

    /// Token ids of `text` without added BOS/EOS.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        self.tokenizer.encode(text, false).map(|e| e.get_ids().to_vec()).unwrap_or_default()
    }
}

impl TokenCounter for HfTokenCounter {
    fn count(&mut self, text: &str) -> usize {
        self.encode(text).len()
    }
}
