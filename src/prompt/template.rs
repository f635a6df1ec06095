//! FIM prompt formats as data: one row per model family, in the layout the family was trained on.
//!
//! The family of a loaded model is chosen by which of these token texts its vocabulary contains
//! (`detect`); a user can force a row by name through the `family` setting.

/// How the pieces of a fill-in-the-middle prompt are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// prefix token, prefix, suffix token, suffix, middle token (StarCoder, Qwen, DeepSeek, CodeLlama).
    PrefixSuffixMiddle,
    /// suffix token, suffix, prefix token, prefix — the middle follows the prefix directly (Codestral).
    SuffixPrefixMiddle,
}

/// Everything that distinguishes one family's FIM format from another's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FimTemplate {
    /// Name used in settings (`family`) and logs.
    pub name: &'static str,
    /// Special-token texts; `middle` may be empty for families whose middle follows the prefix.
    pub prefix: &'static str,
    pub suffix: &'static str,
    pub middle: &'static str,
    /// Literal text placed right after the prefix / suffix / middle tokens (CodeLlama wants spaces).
    pub after_prefix_token: &'static str,
    pub after_suffix_token: &'static str,
    pub after_middle_token: &'static str,
    pub order: Order,
    /// Repository-context tokens, when the family was trained with them.
    pub repo_name: Option<&'static str>,
    pub file_sep: Option<&'static str>,
    pub repo_layout: RepoLayout,
    /// Whether the model wants its BOS token first.
    pub bos: bool,
    /// Further special-token texts that end a suggestion (besides every token above and EOG).
    pub extra_stops: &'static [&'static str],
}

/// Where the file path and separators go when repository context is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepoLayout {
    /// No repository format: the file's path is not given to the model.
    None,
    /// StarCoder2: `<repo_name>R<file_sep>P\nCODE…<file_sep><fim_prefix>PATH\nPREFIX…`
    /// (the path of the current file starts the FIM prefix).
    StarCoder2,
    /// Qwen2.5-Coder: `<|repo_name|>R\n<|file_sep|>P\nCODE\n…<|file_sep|>PATH\n<|fim_prefix|>PREFIX…`.
    Qwen,
}

const NO_STOPS: &[&str] = &[];

/// The table. Order matters only for detection: the first row whose three FIM tokens are all in
/// the vocabulary wins.
pub const TEMPLATES: &[FimTemplate] = &[
    FimTemplate {
        name: "starcoder2",
        prefix: "<fim_prefix>",
        suffix: "<fim_suffix>",
        middle: "<fim_middle>",
        after_prefix_token: "",
        after_suffix_token: "",
        after_middle_token: "",
        order: Order::PrefixSuffixMiddle,
        repo_name: Some("<repo_name>"),
        file_sep: Some("<file_sep>"),
        repo_layout: RepoLayout::StarCoder2,
        bos: false,
        extra_stops: &["<fim_pad>", "<|endoftext|>"],
    },
    FimTemplate {
        name: "qwen2.5-coder",
        prefix: "<|fim_prefix|>",
        suffix: "<|fim_suffix|>",
        middle: "<|fim_middle|>",
        after_prefix_token: "",
        after_suffix_token: "",
        after_middle_token: "",
        order: Order::PrefixSuffixMiddle,
        repo_name: Some("<|repo_name|>"),
        file_sep: Some("<|file_sep|>"),
        repo_layout: RepoLayout::Qwen,
        bos: false,
        extra_stops: &["<|fim_pad|>", "<|endoftext|>", "<|im_end|>", "<|im_start|>"],
    },
    FimTemplate {
        name: "deepseek-coder",
        prefix: "<｜fim▁begin｜>",
        suffix: "<｜fim▁hole｜>",
        middle: "<｜fim▁end｜>",
        after_prefix_token: "",
        after_suffix_token: "",
        after_middle_token: "",
        order: Order::PrefixSuffixMiddle,
        repo_name: None,
        file_sep: None,
        repo_layout: RepoLayout::None,
        bos: true,
        extra_stops: &["<｜end▁of▁sentence｜>", "<|EOT|>"],
    },
    FimTemplate {
        // CodeLlama's sentencepiece vocabulary stores these with the word-boundary mark.
        name: "codellama",
        prefix: "▁<PRE>",
        suffix: "▁<SUF>",
        middle: "▁<MID>",
        after_prefix_token: " ",
        after_suffix_token: "",
        after_middle_token: "",
        order: Order::PrefixSuffixMiddle,
        repo_name: None,
        file_sep: None,
        repo_layout: RepoLayout::None,
        bos: true,
        extra_stops: &["▁<EOT>"],
    },
    FimTemplate {
        name: "codestral",
        prefix: "[PREFIX]",
        suffix: "[SUFFIX]",
        middle: "",
        after_prefix_token: "",
        after_suffix_token: "",
        after_middle_token: "",
        order: Order::SuffixPrefixMiddle,
        repo_name: None,
        file_sep: None,
        repo_layout: RepoLayout::None,
        bos: true,
        extra_stops: NO_STOPS,
    },
];

impl FimTemplate {
    /// Every special-token text this row uses, which are also the texts that end a suggestion.
    pub fn special_texts(&self) -> impl Iterator<Item = &'static str> {
        [self.prefix, self.suffix, self.middle]
            .into_iter()
            .chain(self.repo_name)
            .chain(self.file_sep)
            .chain(self.extra_stops.iter().copied())
            .filter(|text| !text.is_empty())
    }
}

/// Looks a row up by its settings name.
pub fn by_name(name: &str) -> Option<&'static FimTemplate> {
    TEMPLATES.iter().find(|t| t.name.eq_ignore_ascii_case(name))
}

/// Chooses the family from a vocabulary: the first row whose FIM tokens all exist in it.
pub fn detect(has_token: impl Fn(&str) -> bool) -> Option<&'static FimTemplate> {
    TEMPLATES.iter().find(|t| {
        [t.prefix, t.suffix, t.middle].into_iter().filter(|text| !text.is_empty()).all(&has_token)
    })
}

/// All special texts of all rows: what the engine looks up once in a freshly loaded vocabulary.
pub fn all_special_texts() -> impl Iterator<Item = &'static str> {
    TEMPLATES.iter().flat_map(FimTemplate::special_texts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_each_family_from_its_own_tokens_only() {
        for row in TEMPLATES {
            let vocab: Vec<&str> = row.special_texts().collect();
            let found = detect(|t| vocab.contains(&t)).expect("row detected");
            assert_eq!(found.name, row.name);
        }
    }

    #[test]
    fn unknown_vocabulary_has_no_family() {
        assert!(detect(|t| t == "<fim_prefix>").is_none());
    }

    #[test]
    fn starcoder2_ids_order_is_the_trained_one() {
        let sc2 = by_name("StarCoder2").expect("row");
        assert_eq!(sc2.repo_layout, RepoLayout::StarCoder2);
        assert_eq!(sc2.file_sep, Some("<file_sep>"));
        assert!(sc2.special_texts().any(|t| t == "<|endoftext|>"));
    }
}
