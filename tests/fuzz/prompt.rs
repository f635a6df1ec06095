//! The prompt builder (`prompt::build`) and its budget cuts (`budget::cut_prefix`,
//! `cut_suffix`, `context::fit`) on random file text, including text that spells every special
//! token of every template, in every template and both orders.
//!
//! Invariants: no panic; the special pieces of a prompt are the template's own, the same ones
//! whatever the file text says (text that spells a special token stays text); the kept prefix
//! ends the given prefix and the kept suffix starts the given suffix; each fits its budget;
//! the other files shown fit theirs, come only with a repository, and hold only lines of the
//! snippets given for them.

use infill::prompt::budget::{cut_prefix_sticky, cut_suffix};
use infill::prompt::context::fit;
use infill::prompt::template::TEMPLATES;
use infill::prompt::{
    Budgets, ContextSnippet, FimInput, Order, Piece, RepoHeader, Stability, StickyStart,
    TokenCounter, build,
};
use proptest::prelude::*;

use crate::harness::{ensure, fuzz, json_corpus};

/// Counts like a tokenizer would, roughly: one token per ASCII word character run of up to four,
/// one per other character; additive over concatenation at line breaks, so the sum of the
/// budget's per-line counts is the count of what it kept.
struct Counter;

impl TokenCounter for Counter {
    fn count(&mut self, text: &str) -> usize {
        text.split_inclusive('\n').map(line_count).sum()
    }
}

fn line_count(line: &str) -> usize {
    let mut tokens = 0;
    let mut run = 0;
    for c in line.chars() {
        if c.is_ascii_alphanumeric() {
            if run == 0 {
                tokens += 1;
            }
            run = (run + 1) % 4;
        } else {
            run = 0;
            tokens += 1;
        }
    }
    tokens
}

/// Every special-token text of every template, for file text to spell.
fn special_texts() -> Vec<&'static str> {
    let mut texts = Vec::new();
    for t in TEMPLATES {
        texts.extend([t.prefix, t.suffix, t.middle].into_iter().filter(|s| !s.is_empty()));
        texts.extend(t.repo_name);
        texts.extend(t.file_sep);
        texts.extend(t.extra_stops);
    }
    texts
}

fn text_strategy(max: usize) -> impl Strategy<Value = String> {
    let mut pieces = vec![
        "a",
        "word",
        "x = 1",
        " ",
        "    ",
        "\n",
        "\r\n",
        "é",
        "漢字",
        "😀",
        "(",
        ")",
        "#",
        "\t",
        "abcdefghij",
    ];
    pieces.extend(special_texts());
    prop::collection::vec(prop::sample::select(pieces), 0..max).prop_map(|p| p.concat())
}

fn snippet_strategy() -> impl Strategy<Value = ContextSnippet> {
    (
        prop::sample::select(vec!["util.py", "a/b.rs", "<fim_middle>.py", "x.ts"]),
        prop::collection::btree_map(0usize..40, text_strategy(4), 1..4),
        prop::sample::select(vec![
            Stability::Workspace,
            Stability::OpenDocument,
            Stability::Recent,
        ]),
    )
        .prop_map(|(path, lines, stability)| ContextSnippet {
            path: path.to_string(),
            lines: lines.into_iter().map(|(n, t)| (n, t.replace(['\n', '\r'], " "))).collect(),
            stability,
        })
}

#[derive(Debug, Clone)]
struct Case {
    template: usize,
    order: Order,
    input: FimInput,
    budgets: Budgets,
    /// An earlier prompt's prefix start for the same document.
    sticky: Option<StickyStart>,
}

fn case_strategy() -> impl Strategy<Value = Case> {
    (
        0..TEMPLATES.len(),
        (
            prop::sample::select(vec![Order::PrefixSuffixMiddle, Order::SuffixPrefixMiddle]),
            prop::sample::select(vec![RepoHeader::Always, RepoHeader::WithContext]),
        ),
        (
            text_strategy(3),
            prop::option::of(text_strategy(2)),
            text_strategy(40),
            text_strategy(30),
            prop::collection::vec(snippet_strategy(), 0..5),
            0usize..100,
        ),
        (0usize..60, 0usize..40, 0usize..80),
        prop::option::of((0usize..140, 0usize..120)),
    )
        .prop_map(
            |(
                template,
                (order, repo_header),
                (path, repo_name, prefix, suffix, context, first),
                budgets,
                sticky,
            )| Case {
                template,
                order,
                input: FimInput {
                    path,
                    repo_name,
                    prefix,
                    suffix,
                    context,
                    prefix_first_line: first,
                    repo_header,
                },
                budgets: Budgets {
                    prefix_tokens: budgets.0,
                    suffix_tokens: budgets.1,
                    repo_context_tokens: budgets.2,
                },
                sticky: sticky.map(|(line, max_tokens)| StickyStart { line, max_tokens }),
            },
        )
}

/// `text` with every special-token spelling replaced by plain text.
fn defused(text: &str) -> String {
    special_texts().iter().fold(text.to_string(), |t, s| t.replace(s, "T"))
}

fn specials(pieces: &[Piece]) -> Vec<&'static str> {
    pieces
        .iter()
        .filter_map(|p| match p {
            Piece::Special(s) => Some(*s),
            Piece::Text(_) => None,
        })
        .collect()
}

fn check(case: &Case) -> Result<(), TestCaseError> {
    let template = &TEMPLATES[case.template];
    let input = &case.input;
    let prompt = build(template, case.order, input, case.budgets, case.sticky, &mut Counter);

    // Special pieces: only the template's own, and the same as for the text made harmless.
    let own: Vec<&str> = [template.prefix, template.suffix, template.middle]
        .into_iter()
        .chain(template.repo_name)
        .chain(template.file_sep)
        .collect();
    let got = specials(&prompt.pieces);
    ensure(got.iter().all(|s| own.contains(s)), || format!("foreign special piece in {got:?}"))?;
    let mut harmless = input.clone();
    harmless.path = defused(&harmless.path);
    harmless.repo_name = harmless.repo_name.as_deref().map(defused);
    harmless.prefix = defused(&harmless.prefix);
    harmless.suffix = defused(&harmless.suffix);
    for snippet in &mut harmless.context {
        snippet.path = defused(&snippet.path);
        for (_, line) in &mut snippet.lines {
            *line = defused(line);
        }
    }
    // Defusing may change counts, and so what fits; compare with nothing cut instead.
    let unlimited =
        Budgets { prefix_tokens: 1 << 20, suffix_tokens: 1 << 20, repo_context_tokens: 1 << 20 };
    let a = build(template, case.order, input, unlimited, None, &mut Counter);
    let b = build(template, case.order, &harmless, unlimited, None, &mut Counter);
    ensure(specials(&a.pieces) == specials(&b.pieces), || {
        format!(
            "file text changed the special pieces: {:?} vs {:?}",
            specials(&a.pieces),
            specials(&b.pieces)
        )
    })?;
    ensure(prompt.pieces.iter().all(|p| !matches!(p, Piece::Text(t) if t.is_empty())), || {
        "an empty text piece".into()
    })?;

    // Budgets: the prefix's, or up to the sticky start's maximum when it starts there.
    let cut = cut_prefix_sticky(
        &input.prefix,
        input.prefix_first_line,
        case.budgets.prefix_tokens,
        case.sticky,
        &mut Counter,
    );
    let prefix = cut.text;
    ensure(input.prefix.ends_with(prefix), || "the kept prefix is not the prefix's end".into())?;
    let dropped = &input.prefix[..input.prefix.len() - prefix.len()];
    ensure(cut.first_line == input.prefix_first_line + dropped.matches('\n').count(), || {
        format!("first line {} for {} lines dropped", cut.first_line, dropped.matches('\n').count())
    })?;
    ensure(prompt.prefix_first_line == cut.first_line, || "prefix_first_line".into())?;
    let limit = match case.sticky {
        Some(sticky) if sticky.line == cut.first_line => {
            sticky.max_tokens.max(case.budgets.prefix_tokens)
        }
        _ => case.budgets.prefix_tokens,
    };
    ensure(Counter.count(prefix) <= limit, || {
        format!("prefix {prefix:?} is {} tokens, over {limit}", Counter.count(prefix))
    })?;
    let suffix = cut_suffix(&input.suffix, case.budgets.suffix_tokens, &mut Counter);
    ensure(input.suffix.starts_with(suffix), || {
        "the kept suffix is not the suffix's start".into()
    })?;
    ensure(Counter.count(suffix) <= case.budgets.suffix_tokens, || {
        format!(
            "suffix {suffix:?} is {} tokens, over {}",
            Counter.count(suffix),
            case.budgets.suffix_tokens
        )
    })?;
    ensure(prompt.prefix_chars == prefix.chars().count(), || "prefix_chars".into())?;
    ensure(prompt.suffix_chars == suffix.chars().count(), || "suffix_chars".into())?;

    // Other files: only with a repository, within the budget, each line from its own snippets.
    if input.repo_name.is_none() {
        ensure(prompt.context_paths.is_empty(), || "context without a repository".into())?;
    }
    let files = fit(&input.context, case.budgets.repo_context_tokens, &mut Counter);
    let used: usize =
        files.iter().map(|f| Counter.count(&f.path) + 2 + Counter.count(&f.text)).sum();
    ensure(used <= case.budgets.repo_context_tokens, || {
        format!("context uses {used} tokens, over {}", case.budgets.repo_context_tokens)
    })?;
    for file in &files {
        for line in file.text.lines() {
            let known = input
                .context
                .iter()
                .filter(|s| s.path == file.path)
                .any(|s| s.lines.iter().any(|(_, l)| l == line));
            ensure(known, || format!("{}: line {line:?} comes from no snippet", file.path))?;
        }
    }
    Ok(())
}

fn case_from_json(value: &serde_json::Value) -> Case {
    let text = |key: &str| value[key].as_str().unwrap_or_default().to_string();
    let number = |key: &str| value[key].as_u64().unwrap_or(0) as usize;
    let context = value["context"]
        .as_array()
        .map(|snippets| {
            snippets
                .iter()
                .map(|s| ContextSnippet {
                    path: s["path"].as_str().unwrap_or_default().to_string(),
                    lines: s["lines"]
                        .as_array()
                        .map(|lines| {
                            lines
                                .iter()
                                .enumerate()
                                .map(|(i, l)| (i, l.as_str().unwrap_or_default().to_string()))
                                .collect()
                        })
                        .unwrap_or_default(),
                    stability: Stability::Workspace,
                })
                .collect()
        })
        .unwrap_or_default();
    Case {
        template: TEMPLATES.iter().position(|t| t.name == value["template"]).unwrap_or(0),
        order: if value["order"] == "spm" {
            Order::SuffixPrefixMiddle
        } else {
            Order::PrefixSuffixMiddle
        },
        input: FimInput {
            path: text("path"),
            repo_name: value["repo"].as_str().map(str::to_string),
            prefix: text("prefix"),
            suffix: text("suffix"),
            context,
            prefix_first_line: number("firstLine"),
            repo_header: RepoHeader::default(),
        },
        sticky: None,
        budgets: Budgets {
            prefix_tokens: number("prefixTokens"),
            suffix_tokens: number("suffixTokens"),
            repo_context_tokens: number("contextTokens"),
        },
    }
}

#[test]
fn prompt_build() {
    for (path, value) in json_corpus("prompt") {
        check(&case_from_json(&value)).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    }
    fuzz("prompt_build", 50_000, case_strategy(), |case| check(&case));
}
