//! Prompt stage: turns the text around the cursor into the FIM prompt the model was trained on.
//!
//! `template` holds the formats as data, `budget` cuts prefix and suffix to their token budgets;
//! `build` lays the pieces out. The result is a list of pieces (special tokens and plain text),
//! not a string, so text from a file can never be read as a special token.

pub mod budget;
pub mod context;
pub mod hf_tokenizer;
pub mod template;
pub mod typed_middle;

pub use budget::{Budgets, StickyStart, TokenCounter};
pub use context::{ContextSnippet, Stability};
pub use template::{FimTemplate, Order, RepoLayout};

/// What the completion pipeline knows about the hole.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FimInput {
    /// Path of the file as the model should see it (relative to the workspace root when known).
    pub path: String,
    /// Name of the repository (workspace folder), when there is one.
    pub repo_name: Option<String>,
    /// Text before and after the cursor; already windowed, not yet cut to the token budget.
    pub prefix: String,
    pub suffix: String,
    /// Code from other files, best first (repository context); `build` keeps what fits
    /// `Budgets::repo_context_tokens`.
    pub context: Vec<ContextSnippet>,
    /// Line number in the document of the first line of `prefix`: lets the budget cut the
    /// prefix at document lines that stay put while the user types (see `budget::cut_prefix`).
    pub prefix_first_line: usize,
    /// When the repository name and the file's path head the prompt.
    pub repo_header: RepoHeader,
}

/// When a prompt in a family's repository format (`RepoLayout`) names the repository and the
/// file (setting `repoHeader`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RepoHeader {
    /// Whenever the file is in a workspace folder.
    #[default]
    Always,
    /// Only when code from other files is shown too; a lone file is a plain FIM prompt.
    WithContext,
}

/// One other file's entry in the prompt: the lines of it that were chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextFile {
    pub path: String,
    pub text: String,
}

/// One part of a prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// A special token, by its text in the vocabulary.
    Special(&'static str),
    /// Plain text, tokenized without parsing special tokens.
    Text(String),
}

/// A prompt ready to be tokenized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    pub pieces: Vec<Piece>,
    /// The prefix and suffix as they went in after budgeting (for logs and traces).
    pub prefix_chars: usize,
    pub suffix_chars: usize,
    /// Paths of the other files shown (repository context), in prompt order.
    pub context_paths: Vec<String>,
    /// Index in `pieces` of the text that ends at the cursor (the file's prefix), if any.
    pub prefix_piece: Option<usize>,
    /// Document line the prefix starts on (the next prompt's `StickyStart`).
    pub prefix_first_line: usize,
    /// Chars typed since the document's last fresh prompt, put after the middle token
    /// (`typed_middle`); 0 for a fresh prompt.
    pub typed_middle_chars: usize,
}

impl Prompt {
    /// The text that ends at the cursor, to take its last token back (`engine::heal`).
    pub fn prefix_text_mut(&mut self) -> Option<&mut String> {
        match self.pieces.get_mut(self.prefix_piece?) {
            Some(Piece::Text(text)) => Some(text),
            _ => None,
        }
    }

    /// The prompt as one string, special tokens shown by their text.
    pub fn render(&self) -> String {
        self.pieces
            .iter()
            .map(|piece| match piece {
                Piece::Special(text) => *text,
                Piece::Text(text) => text.as_str(),
            })
            .collect()
    }
}

/// Lays out `input` in `template`'s format and `order`, with prefix and suffix cut to `budgets`
/// (the prefix from `sticky`'s line while that still serves: `budget::cut_prefix_sticky`).
pub fn build(
    template: &FimTemplate,
    order: Order,
    input: &FimInput,
    budgets: Budgets,
    sticky: Option<StickyStart>,
    counter: &mut impl TokenCounter,
) -> Prompt {
    let cut = budget::cut_prefix_sticky(
        &input.prefix,
        input.prefix_first_line,
        budgets.prefix_tokens,
        sticky,
        counter,
    );
    let prefix = cut.text;
    let suffix = budget::cut_suffix(&input.suffix, budgets.suffix_tokens, counter);
    // Without a repository name there is no workspace, so no other file may be shown.
    let context_files = match &input.repo_name {
        Some(_) => context::fit(&input.context, budgets.repo_context_tokens, counter),
        None => Vec::new(),
    };
    let repo_name = match input.repo_header {
        RepoHeader::WithContext if context_files.is_empty() => &None,
        _ => &input.repo_name,
    };
    let mut pieces = Vec::new();
    let push_text = |pieces: &mut Vec<Piece>, text: String| {
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
    };

    // Repository header and the other files come first: they change least between keystrokes.
    let repo_tokens = template.repo_name.zip(template.file_sep);
    let mut prefix_text = prefix.to_string();
    match (template.repo_layout, repo_tokens, repo_name) {
        (RepoLayout::StarCoder2, Some((repo_token, sep)), Some(repo)) => {
            pieces.push(Piece::Special(repo_token));
            push_text(&mut pieces, repo.clone());
            for file in &context_files {
                pieces.push(Piece::Special(sep));
                push_text(&mut pieces, format!("{}\n{}", file.path, file.text));
            }
            pieces.push(Piece::Special(sep));
            prefix_text = format!("{}\n{prefix}", input.path);
        }
        (RepoLayout::StarCoder2, _, None) => {
            // Without a repository the path still opens the FIM prefix, as in training.
            prefix_text = format!("{}\n{prefix}", input.path);
        }
        (RepoLayout::Qwen, Some((repo_token, sep)), Some(repo)) => {
            pieces.push(Piece::Special(repo_token));
            push_text(&mut pieces, format!("{repo}\n"));
            for file in &context_files {
                pieces.push(Piece::Special(sep));
                push_text(&mut pieces, format!("{}\n{}\n", file.path, file.text));
            }
            pieces.push(Piece::Special(sep));
            push_text(&mut pieces, format!("{}\n", input.path));
        }
        _ => {
            // No repository format: other files become commented path headers with their code,
            // in front of the current file's own path header.
            if !context_files.is_empty() {
                let mut header = String::new();
                for file in &context_files {
                    let marker = context::comment_marker(&file.path);
                    header.push_str(&format!("{marker} Path: {}\n{}\n", file.path, file.text));
                }
                let marker = context::comment_marker(&input.path);
                prefix_text = format!("{header}{marker} Path: {}\n{prefix}", input.path);
            }
        }
    }

    let mut prefix_piece = None;
    let mut prefix_part = |pieces: &mut Vec<Piece>| {
        pieces.push(Piece::Special(template.prefix));
        push_text(pieces, format!("{}{prefix_text}", template.after_prefix_token));
        prefix_piece = matches!(pieces.last(), Some(Piece::Text(_))).then(|| pieces.len() - 1);
    };
    let suffix_part = |pieces: &mut Vec<Piece>| {
        pieces.push(Piece::Special(template.suffix));
        push_text(pieces, format!("{}{suffix}", template.after_suffix_token));
    };
    match order {
        Order::PrefixSuffixMiddle => {
            prefix_part(&mut pieces);
            suffix_part(&mut pieces);
        }
        Order::SuffixPrefixMiddle => {
            suffix_part(&mut pieces);
            prefix_part(&mut pieces);
        }
    }
    if !template.middle.is_empty() {
        pieces.push(Piece::Special(template.middle));
        push_text(&mut pieces, template.after_middle_token.to_string());
    }
    Prompt {
        pieces,
        prefix_chars: prefix.chars().count(),
        suffix_chars: suffix.chars().count(),
        context_paths: context_files.into_iter().map(|f| f.path).collect(),
        prefix_piece,
        prefix_first_line: cut.first_line,
        typed_middle_chars: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::budget::tests::WordCounter;
    use super::*;

    fn input(repo: Option<&str>) -> FimInput {
        FimInput {
            path: "src/fib.py".into(),
            repo_name: repo.map(str::to_string),
            prefix: "def fib(n):\n    return ".into(),
            suffix: "\n\nprint(fib(3))\n".into(),
            context: vec![ContextSnippet {
                path: "util.py".into(),
                lines: vec![(0, "X = 1".into())],
                stability: Stability::Workspace,
            }],
            prefix_first_line: 0,
            repo_header: Default::default(),
        }
    }

    fn render(name: &str, repo: Option<&str>) -> String {
        let template = template::by_name(name).expect("row");
        let budgets = Budgets::default();
        build(template, template.order, &input(repo), budgets, None, &mut WordCounter { calls: 0 })
            .render()
    }

    #[test]
    fn starcoder2_repository_format() {
        assert_eq!(
            render("starcoder2", Some("proj")),
            "<repo_name>proj<file_sep>util.py\nX = 1\n<file_sep><fim_prefix>src/fib.py\n\
             def fib(n):\n    return <fim_suffix>\n\nprint(fib(3))\n<fim_middle>"
        );
        assert_eq!(
            render("starcoder2", None),
            "<fim_prefix>src/fib.py\ndef fib(n):\n    return <fim_suffix>\n\nprint(fib(3))\n<fim_middle>"
        );
    }

    #[test]
    fn qwen_repository_format() {
        assert_eq!(
            render("qwen2.5-coder", Some("proj")),
            "<|repo_name|>proj\n<|file_sep|>util.py\nX = 1\n\n<|file_sep|>src/fib.py\n\
             <|fim_prefix|>def fib(n):\n    return <|fim_suffix|>\n\nprint(fib(3))\n<|fim_middle|>"
        );
        assert_eq!(
            render("qwen2.5-coder", None),
            "<|fim_prefix|>def fib(n):\n    return <|fim_suffix|>\n\nprint(fib(3))\n<|fim_middle|>"
        );
    }

    #[test]
    fn a_lone_file_can_go_without_the_repository_header() {
        let template = template::by_name("qwen2.5-coder").expect("row");
        let mut lone = input(Some("proj"));
        lone.repo_header = RepoHeader::WithContext;
        let budgets = Budgets::default();
        let with_context =
            build(template, template.order, &lone, budgets, None, &mut WordCounter { calls: 0 });
        assert!(with_context.render().starts_with("<|repo_name|>proj\n<|file_sep|>util.py"));
        lone.context.clear();
        let alone =
            build(template, template.order, &lone, budgets, None, &mut WordCounter { calls: 0 });
        assert_eq!(
            alone.render(),
            "<|fim_prefix|>def fib(n):\n    return <|fim_suffix|>\n\nprint(fib(3))\n<|fim_middle|>"
        );
    }

    #[test]
    fn codestral_puts_the_suffix_first_and_codellama_spaces_its_tokens() {
        assert_eq!(
            render("codestral", Some("proj")),
            "[SUFFIX]\n\nprint(fib(3))\n[PREFIX]# Path: util.py\nX = 1\n\n# Path: src/fib.py\n\
             def fib(n):\n    return "
        );
        assert_eq!(
            render("codellama", None),
            "▁<PRE> def fib(n):\n    return ▁<SUF>\n\nprint(fib(3))\n▁<MID>"
        );
    }

    #[test]
    fn file_text_stays_text_even_when_it_spells_a_special_token() {
        let template = template::by_name("starcoder2").expect("row");
        let mut hostile = input(None);
        hostile.prefix = "x = '<fim_middle>'\n".into();
        let prompt = build(
            template,
            template.order,
            &hostile,
            Budgets::default(),
            None,
            &mut WordCounter { calls: 0 },
        );
        let specials: Vec<_> =
            prompt.pieces.iter().filter(|p| matches!(p, Piece::Special(_))).collect();
        assert_eq!(specials.len(), 3, "only the template's own tokens are special: {specials:?}");
    }

    #[test]
    fn budgets_apply_to_prefix_and_suffix() {
        let template = template::by_name("qwen2.5-coder").expect("row");
        let mut long = input(None);
        long.prefix = "a\nb\nc\nd\ncursor ".into();
        long.suffix = "end\ne\nf\n".into();
        let budgets = Budgets { prefix_tokens: 5, suffix_tokens: 4, repo_context_tokens: 0 };
        let prompt =
            build(template, template.order, &long, budgets, None, &mut WordCounter { calls: 0 });
        assert_eq!(
            prompt.render(),
            "<|fim_prefix|>c\nd\ncursor <|fim_suffix|>end\ne\n<|fim_middle|>"
        );
    }

    #[test]
    fn suffix_first_order_keeps_the_repository_header_in_front() {
        let template = template::by_name("qwen2.5-coder").expect("row");
        let budgets = Budgets::default();
        let spm = build(
            template,
            Order::SuffixPrefixMiddle,
            &input(Some("proj")),
            budgets,
            None,
            &mut WordCounter { calls: 0 },
        );
        assert_eq!(
            spm.render(),
            "<|repo_name|>proj\n<|file_sep|>util.py\nX = 1\n\n<|file_sep|>src/fib.py\n\
             <|fim_suffix|>\n\nprint(fib(3))\n<|fim_prefix|>def fib(n):\n    return <|fim_middle|>"
        );
    }

    #[test]
    fn the_prefix_piece_is_the_text_that_ends_at_the_cursor_in_either_order() {
        let budgets = Budgets::default();
        for name in ["starcoder2", "qwen2.5-coder", "codestral", "codellama"] {
            let template = template::by_name(name).expect("row");
            for order in [Order::PrefixSuffixMiddle, Order::SuffixPrefixMiddle] {
                let mut prompt = build(
                    template,
                    order,
                    &input(Some("p")),
                    budgets,
                    None,
                    &mut WordCounter { calls: 0 },
                );
                let text = prompt.prefix_text_mut().expect("a prefix piece");
                assert!(text.ends_with("    return "), "{name} {order:?}: {text:?}");
            }
        }
    }
}
